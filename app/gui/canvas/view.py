"""The canvas view: zoom around the cursor, pan (middle button or Space held), fit, rubber-band
selection, a minimap in the bottom-right corner, context menus, and the drop target for blocks dragged
from the palette.

A drop (or the quick search opened by a double-click or Tab on the background) comes out as the
``block_requested(type_name, scene_pos)`` signal; the window turns it into an undo command.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmapCache,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QMenu, QWidget

from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.gui.canvas.minimap import Minimap
from enuflow.app.gui.canvas.overview import OVERVIEW_LOD
from enuflow.app.gui.canvas.scene import CANVAS_AREA
from enuflow.app.gui.style import theme, theme_changed

MIME_BLOCK = "application/x-enuflow-block"
GRID = 20
MIN_ZOOM, MAX_ZOOM = 0.002, 6.0  # far enough out for a 100,000-unit page; blocks draw their names by level of detail
FIT_MAX = 1.5


class CanvasView(QGraphicsView):
    block_requested = Signal(str, QPointF)      # type name, scene position
    quick_search_requested = Signal(QPointF)    # scene position
    view_changed = Signal()                     # zoomed, panned or resized (the minimap follows)

    def __init__(self, scene: object, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setAcceptDrops(True)
        self.setSceneRect(CANVAS_AREA)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        # blocks and wires keep their painted pictures (DeviceCoordinateCache): room for a screenful or two
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 96 * 1024))
        self._pan_from: QPoint | None = None
        self._fit_pending = False
        self.untouched = False
        self._space = False
        self.last_scene_pos = QPointF(0, 0)
        #: builds the context menu for a scene position (set by the window); None: no menu
        self.menu_builder: Callable[[QPointF], QMenu | None] | None = None
        self.horizontalScrollBar().valueChanged.connect(self.view_changed)
        self.verticalScrollBar().valueChanged.connect(self.view_changed)
        self.minimap = Minimap(self)

    # -- background: a subtle two-level grid -------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """The canvas colour, minor grid lines every ``GRID`` units (hidden when zoomed out) and major
        lines every ``GRID * 5``, one cosmetic pixel wide, drawn in one batch each."""
        t = theme()
        painter.fillRect(rect, t.canvas)
        z = self.zoom()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for step, colour, min_zoom in ((GRID, t.grid_minor, 0.6), (GRID * 5, t.grid_major, 0.15)):
            if z < min_zoom:
                continue
            left = int(rect.left()) - int(rect.left()) % step
            top = int(rect.top()) - int(rect.top()) % step
            lines = [QLineF(x, rect.top(), x, rect.bottom()) for x in range(left, int(rect.right()) + 1, step)]
            lines += [QLineF(rect.left(), y, rect.right(), y) for y in range(top, int(rect.bottom()) + 1, step)]
            pen = QPen(colour, 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(lines)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Far out (``OVERVIEW_LOD``), the whole page in a few batched calls (``canvas.overview``)."""
        scene = self.scene()
        if getattr(scene, "overview_on", False):
            scene.overview.draw(painter, self.zoom(), scene.selectedItems())

    def paintEvent(self, event: QPaintEvent) -> None:
        self._follow_zoom()
        super().paintEvent(event)

    def _follow_zoom(self) -> None:
        """Items paint themselves, or far out the view draws the overview (decided before each frame)."""
        scene = self.scene()
        if hasattr(scene, "set_overview"):
            scene.set_overview(self.zoom() < OVERVIEW_LOD)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            theme_changed()  # the system switched between light and dark: follow it
            self.resetCachedContent()
            self.viewport().update()
        super().changeEvent(event)

    # -- zoom and pan -----------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps:
            return
        factor = 1.15 ** steps
        z = self.zoom() * factor
        if MIN_ZOOM <= z <= MAX_ZOOM:
            self.zoom_at(factor, event.position().toPoint())

    def zoom_at(self, factor: float, at: QPoint) -> None:
        """Zoom by ``factor`` keeping the page point under ``at`` (viewport pixels) where it is."""
        self.untouched = False
        before = self.mapToScene(at)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        moved = self.mapFromScene(before) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.view_changed.emit()

    def zoom_by(self, factor: float) -> None:
        """Zoom in or out around the middle of the view (within ``MIN_ZOOM`` and ``MAX_ZOOM``)."""
        self.untouched = False
        z = self.zoom()
        factor = min(max(z * factor, MIN_ZOOM), MAX_ZOOM) / z
        self.scale(factor, factor)
        self.view_changed.emit()

    def fit(self) -> None:
        """Show the whole page, at most ``FIT_MAX`` (a small page is not blown up); far out, blocks draw their
        names large (level of detail). A window not shown yet has no size: the fit happens when it is first
        shown."""
        if not self.isVisible() or self.viewport().width() < 50:
            self._fit_pending = True
            return
        self._fit_pending = False
        self.untouched = True  # until the person zooms or pans: then a later refit would be unwelcome
        rect = self.page_rect()
        if rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            self.view_changed.emit()
            return
        room = rect.adjusted(-rect.width() - 5000, -rect.height() - 5000, rect.width() + 5000, rect.height() + 5000)
        if not self.sceneRect().contains(room):  # a page larger than the canvas's area (a big model): grow it
            self.setSceneRect(self.sceneRect().united(room))
            self.scene().setSceneRect(self.sceneRect())
        margin = 30.0  # page units, and as many pixels: a frame's title tab (fixed size on screen) stays in view
        vw, vh = max(self.viewport().width() - 4, 1), max(self.viewport().height() - 4, 1)
        z = min(vw / (rect.width() + 2 * margin), vh / (rect.height() + 2 * margin), FIT_MAX)
        if vw > 4 * margin and vh > 4 * margin:
            z = min(z, (vw - 2 * margin) / max(rect.width(), 1e-9), (vh - 2 * margin) / max(rect.height(), 1e-9))
        z = max(z, MIN_ZOOM)
        self.setTransform(QTransform.fromScale(z, z))  # (the same zoom and centre as before: nothing redrawn)
        self.centerOn(rect.center())
        self._follow_zoom()
        self.view_changed.emit()

    def page_rect(self) -> QRectF:
        """The rectangle of every block (and wire) on the page, in page units."""
        scene = self.scene()
        return scene.page_rect() if hasattr(scene, "page_rect") else scene.itemsBoundingRect()

    def visible_rect(self) -> QRectF:
        """The part of the page the view shows now."""
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_pending:
            QTimer.singleShot(0, self.fit)  # after the window has laid out its docks

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.minimap.place()
        if self._fit_pending or self.untouched:  # a page shown fitted, not zoomed or panned since, stays fitted
            self.fit()                           # as the docks settle or the window is resized
        self.view_changed.emit()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """A right click: the menu for what is under the cursor (a block, a wire or the canvas)."""
        if self.menu_builder is None:
            super().contextMenuEvent(event)
            return
        menu = self.menu_builder(self.mapToScene(event.pos()))
        if menu is not None:
            menu.exec(event.globalPos())
            menu.deleteLater()
        event.accept()

    def _start_pan(self, pos: QPoint) -> None:
        self.untouched = False
        self._pan_from = pos
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (self._space and event.button() == Qt.MouseButton.LeftButton):
            self._start_pan(event.position().toPoint())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.last_scene_pos = self.mapToScene(event.position().toPoint())
        if self._pan_from is not None:
            d = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        if not isinstance(self.scene().itemAt(pos, self.transform()), BlockItem) and \
                self.scene().itemAt(pos, self.transform()) is None:
            self.quick_search_requested.emit(pos)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Tab:
            self.quick_search_requested.emit(self.last_scene_pos)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False

    # -- drop from the palette ------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(MIME_BLOCK):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(MIME_BLOCK):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if event.mimeData().hasFormat(MIME_BLOCK):
            name = bytes(event.mimeData().data(MIME_BLOCK).data()).decode("utf-8")
            self.drop_block(name, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
            return
        super().dropEvent(event)

    def drop_block(self, type_name: str, scene_pos: QPointF) -> None:
        """What a drop does: ask for a block of ``type_name`` at ``scene_pos``."""
        self.block_requested.emit(type_name, scene_pos)
