"""The minimap: an overview of the whole page in a corner of the canvas, with the part the view shows as
a rectangle; a click or a drag on it moves the view there. It can be hidden (View > Minimap).

It draws frames as outlined boxes in their colour and notes as small cards, under each block as a small rectangle
in its category colour, read from the scene's block items when the scene says something changed (at most a few
times a second), so a page of thousands of blocks costs one pass of
rectangles per repaint.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from enuflow.app.gui.style import theme

SIZE = (220, 150)
MARGIN = 10


class Minimap(QWidget):
    """An overview of the page in the bottom-right corner of the canvas view ``view``."""

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self.view = view
        self.resize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole page: click or drag to move the view")
        self._blocks: list[tuple[QColor, QPainterPath]] = []  # the blocks' bodies, a path of rectangles per colour
        self._annotations: list[tuple[QRectF, QColor, bool]] = []  # frames and notes (rect, colour, is a frame)
        self._page = QRectF()
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(150)
        self._refresh.timeout.connect(self.update)
        self._dirty = True
        # told by the scene's overview (blocks and wires) and its frames and notes: the scene's ``changed`` signal
        # took Qt off its direct path for item updates and handed Python a list of every changed rectangle (on a
        # 10,000-block page, a tenth of a second after each bulk edit)
        view.scene().overview.on_change = self._changed
        view.scene().annotations.changed.connect(self._changed)
        view.view_changed.connect(self.update)
        self.place()

    def place(self) -> None:
        """Keep to the bottom-right corner of the view's viewport."""
        vp = self.view.viewport()
        self.move(vp.x() + vp.width() - self.width() - MARGIN, vp.y() + vp.height() - self.height() - MARGIN)
        self.raise_()

    def _changed(self, _rects: Any = None) -> None:
        self._dirty = True
        if not self._refresh.isActive():
            self._refresh.start()

    def reread(self) -> None:
        """Read the blocks' rectangles and colours from the scene again (its overview's cached geometry), and its
        frames and notes."""
        scene = self.view.scene()
        overview = scene.overview
        self._blocks = overview.boxes()
        layer = getattr(scene, "annotations", None)
        self._annotations = layer.overview() if layer is not None else []
        page = overview.blocks_rect()
        for r, _c, _f in self._annotations:
            page = page.united(r)
        self._page = page
        self._dirty = False

    # -- the mapping between the page and the minimap -----------------------------------------------------
    def _shown(self) -> QRectF:
        """The page area the minimap draws: the page with a margin (the view's rectangle when it is empty), so
        that the mapping stays put while a drag moves the view."""
        if self._dirty:
            self.reread()
        area = self._page if not self._page.isEmpty() else self.view.visible_rect()
        return area.adjusted(-area.width() * 0.03 - 10, -area.height() * 0.03 - 10,
                             area.width() * 0.03 + 10, area.height() * 0.03 + 10)

    def _scale(self, area: QRectF) -> tuple[float, float, float]:
        k = min((self.width() - 4) / max(area.width(), 1e-9), (self.height() - 4) / max(area.height(), 1e-9))
        ox = (self.width() - area.width() * k) / 2 - area.left() * k
        oy = (self.height() - area.height() * k) / 2 - area.top() * k
        return k, ox, oy

    def to_map(self, p: QPointF) -> QPointF:
        k, ox, oy = self._scale(self._shown())
        return QPointF(p.x() * k + ox, p.y() * k + oy)

    def to_page(self, p: QPointF) -> QPointF:
        """The page point under minimap point ``p``."""
        k, ox, oy = self._scale(self._shown())
        return QPointF((p.x() - ox) / k, (p.y() - oy) / k)

    # -- drawing and mouse ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        t = theme()
        p = QPainter(self)
        bg = QColor(t.body)
        bg.setAlpha(225)
        p.setPen(QPen(t.border, 1))
        p.setBrush(bg)
        p.drawRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1))
        k, ox, oy = self._scale(self._shown())
        self._paint_annotations(p, k, ox, oy)
        p.save()
        p.translate(ox, oy)
        p.scale(k, k)
        for colour, boxes in self._blocks:  # a block at least a pixel across: a hairline outline (the fast one)
            pen = QPen(colour, 1.0)
            pen.setCosmetic(True)
            p.setPen(pen)
            p.setBrush(colour)
            p.drawPath(boxes)
        p.restore()
        v = self.view.visible_rect()
        p.setPen(QPen(t.selected, 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setClipRect(QRectF(1, 1, self.width() - 2, self.height() - 2))
        p.drawRect(QRectF(v.left() * k + ox, v.top() * k + oy, v.width() * k, v.height() * k))
        p.end()

    def _paint_annotations(self, p: QPainter, k: float, ox: float, oy: float) -> None:
        """Frames as translucent boxes outlined in their colour, notes as pale cards."""
        for r, colour, is_frame in self._annotations:
            fill = QColor(colour)
            fill.setAlpha(60 if is_frame else 200)
            p.setPen(QPen(colour, 1.0) if is_frame else Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRect(QRectF(r.left() * k + ox, r.top() * k + oy, max(r.width() * k, 2.0), max(r.height() * k, 2.0)))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._go(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position())
        event.accept()

    def _go(self, at: QPointF) -> None:
        self.view.untouched = False
        self.view.centerOn(self.to_page(at))
        self.view.view_changed.emit()
