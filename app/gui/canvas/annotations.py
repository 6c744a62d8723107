"""Frames and notes on the canvas: a titled coloured box behind blocks, and a Markdown note.

The items draw what the page holds (``Page.frames``, ``Page.notes``) and never change it: a drag moves the items
(a frame's title moves the frame with every block and note inside it; its corner resizes it) and, on release,
``AnnotationLayer`` says what the person did through its signals, which the window turns into undo commands.
The layer follows the page's ``annotation_*`` events. A frame's title is drawn in its header band while that is
large enough on screen, and zoomed out as a label of fixed screen size on the frame's top edge (like a far-out
block's name), so it reads at every zoom.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFontInfo,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QFont,
    QPalette,
    QPen,
    QTextDocument,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsSceneMouseEvent, QStyleOptionGraphicsItem, \
    QWidget

from enuflow.app.document.annotations import DEFAULT_COLOUR, FRAME_COLOURS, Frame, Note
from enuflow.app.gui.canvas.items import MIN_TEXT_PX, BlockItem, px_font
from enuflow.app.gui.style import contrast, font, theme

HEADER = 30.0            # a frame's title band, page units
PAD = 20.0               # room kept around the blocks a new frame holds
TITLE_PT = 11
LABEL_PX = 15            # the title label's size on screen when the band is too small for the title
BAND_MIN_PX = 9.0        # the band shows the title while it is at least this large on screen
MIN_FRAME = (100.0, HEADER + 30.0)
HANDLE_PX = 14.0         # the resize corner, on screen
NOTE_WIDTH = 260.0
NOTE_PAD = 8.0
NOTE_PT = 10
NOTE_PAPER = QColor("#fff6c2")
NOTE_INK = QColor("#2b2a22")
NOTE_EDGE = QColor("#d8c56a")
NOTE_DARK = (QColor("#3b3826"), QColor("#f2edd2"))  # paper and ink of a dark canvas
_WHITE, _INK = QColor("#ffffff"), QColor("#16181a")


def frame_colour(name: str) -> QColor:
    """The colour of a frame: one of ``FRAME_COLOURS`` by name, any colour Qt reads ("#336699"), else the
    default."""
    c = QColor(FRAME_COLOURS.get(name, name))
    return c if c.isValid() else QColor(FRAME_COLOURS[DEFAULT_COLOUR])


@lru_cache(maxsize=64)
def _ink_on(rgb: int) -> QColor:
    bg = QColor.fromRgb(rgb)
    return _WHITE if contrast(_WHITE, bg) > contrast(_INK, bg) else _INK


def _zoom(item: QGraphicsItem) -> float:
    """The zoom of the first view showing ``item`` (1 when none does)."""
    scene = item.scene()
    views = scene.views() if scene is not None else []
    return views[0].transform().m11() if views else 1.0


def _title_band_px() -> int:
    return QFontInfo(font(TITLE_PT, True)).pixelSize()


def title_in_band(zoom: float) -> bool:
    """Whether a frame draws its title in its header band at ``zoom`` (else its label does)."""
    return _title_band_px() * zoom >= BAND_MIN_PX


def _snapped(scene: Any, d: QPointF) -> QPointF:
    snap = getattr(scene, "snap_step", None)
    return QPointF(round(d.x() / snap) * snap, round(d.y() / snap) * snap) if snap else d


class _Drag:
    """A frame or note being dragged: where it started and what moves with it."""

    def __init__(self, press: QPointF, resize: bool, starts: dict[QGraphicsItem, QPointF]) -> None:
        self.press = press
        self.resize = resize
        self.starts = starts
        self.delta = QPointF(0, 0)


class FrameItem(QGraphicsItem):
    """A frame: a translucent box in its colour with a title band; drawn behind wires and blocks."""

    def __init__(self, frame: Frame, layer: AnnotationLayer) -> None:
        super().__init__()
        self.frame_id = frame.id
        self.layer = layer
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-20)
        self.label = FrameLabel(self)
        self._drag: _Drag | None = None
        self.set_frame(frame)

    def set_frame(self, frame: Frame) -> None:
        self.prepareGeometryChange()
        x, y, self.w, self.h = frame.rect
        self.title = frame.title
        self.colour = frame_colour(frame.color)
        self.move_to(x, y)
        self.label.refresh()
        self.update()

    def move_to(self, x: float, y: float) -> None:
        self.setPos(x, y)
        self.label.setPos(x, y)

    def rect(self) -> tuple[float, float, float, float]:
        return (self.pos().x(), self.pos().y(), self.w, self.h)

    # -- geometry ----------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(-1, -1, self.w + 2, self.h + 2)

    def _handle(self) -> QRectF:
        side = min(HANDLE_PX / max(_zoom(self), 1e-6), self.w / 2, self.h / 2)
        return QRectF(self.w - side, self.h - side, side, side)

    def shape(self) -> QPainterPath:
        """The title band and the resize corner: a press elsewhere in the frame goes to the canvas (rubber band
        selection, the canvas menu)."""
        p = QPainterPath()
        p.addRect(QRectF(0, 0, self.w, min(HEADER, self.h)))
        p.addRect(self._handle())
        return p

    # -- painting ------------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        t = theme()
        fill = QColor(self.colour)
        fill.setAlpha(70 if t.dark else 45)
        edge = QPen(t.selected if self.isSelected() else self.colour.darker(115), 2.5 if self.isSelected() else 1.5)
        edge.setCosmetic(True)
        painter.setPen(edge)
        painter.setBrush(fill)
        painter.drawRect(QRectF(0, 0, self.w, self.h))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        in_band = title_in_band(lod) or not self.title
        if in_band:  # zoomed out the title is a tab on the top edge instead (``FrameLabel``)
            painter.drawRect(QRectF(0, 0, self.w, min(HEADER, self.h)))
        if in_band and self.title:
            f = font(TITLE_PT, True)
            painter.setFont(f)
            painter.setPen(_ink_on(self.colour.rgb()))
            room = QRectF(10, 0, self.w - 20, min(HEADER, self.h))
            shown = QFontMetricsF(f).elidedText(self.title, Qt.TextElideMode.ElideRight, room.width())
            painter.drawText(room, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        h = self._handle()  # the resize corner: three short diagonal strokes
        pen = QPen(self.colour.darker(140), 1.2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        for k in (0.25, 0.5, 0.75):
            painter.drawLine(QPointF(h.right() - h.width() * k, h.bottom() - 1), QPointF(h.right() - 1,
                                                                                        h.bottom() - h.height() * k))

    # -- mouse ------------------------------------------------------------------------------------------
    def hoverMoveEvent(self, event: Any) -> None:
        corner = self._handle().contains(event.pos())
        self.setCursor(Qt.CursorShape.SizeFDiagCursor if corner else Qt.CursorShape.OpenHandCursor)
        super().hoverMoveEvent(event)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        scene = self.scene()
        scene.clearSelection()  # the frame alone is selected: the blocks it moves are not dragged twice
        self.setSelected(True)
        resize = self._handle().contains(self.mapFromScene(event.scenePos()))
        starts: dict[QGraphicsItem, QPointF] = {self: self.pos()}
        if not resize:
            blocks, notes = self.layer.contents(self.frame_id)
            starts.update({scene.blocks[b]: scene.blocks[b].pos() for b in blocks})
            starts.update({self.layer.notes[n]: self.layer.notes[n].pos() for n in notes})
        self._drag = _Drag(event.scenePos(), resize, starts)
        self._size = (self.w, self.h)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag = self._drag
        if drag is None:
            return
        drag.delta = _snapped(self.scene(), event.scenePos() - drag.press)
        if drag.resize:
            self.prepareGeometryChange()
            self.w = max(self._size[0] + drag.delta.x(), MIN_FRAME[0])
            self.h = max(self._size[1] + drag.delta.y(), MIN_FRAME[1])
            self.update()
            self.layer.changed.emit()
            return
        for it, start in drag.starts.items():
            p = start + drag.delta
            if it is self:
                self.move_to(p.x(), p.y())
            else:
                it.setPos(p)
        self.layer.changed.emit()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        start = drag.starts[self]
        old = (start.x(), start.y(), *self._size)
        if drag.resize:
            if (self.w, self.h) != self._size:
                self.layer.frame_resized.emit(self.frame_id, old, self.rect())
            return
        if drag.delta.x() or drag.delta.y():
            blocks = [it.block_id for it in drag.starts if isinstance(it, BlockItem)]
            notes = [it.note_id for it in drag.starts if isinstance(it, NoteItem)]
            self.layer.frame_moved.emit(self.frame_id, drag.delta.x(), drag.delta.y(), blocks, notes)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.layer.edit_requested.emit(self.frame_id)
            event.accept()


class FrameLabel(QGraphicsItem):
    """A frame's title zoomed out: a tab of fixed screen size (``LABEL_PX``, smaller down to ``MIN_TEXT_PX`` or cut
    with "..." where the frame is narrow on screen, never wider than the frame) on the frame's top edge, above the
    blocks; a press on it takes the frame (drag, double-click). Close up the band shows the title and this is
    empty."""

    def __init__(self, frame: FrameItem) -> None:
        super().__init__()
        self.frame = frame
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(5)
        self._size = QSizeF(0, 0)

    def refresh(self) -> None:
        self.prepareGeometryChange()
        fm = QFontMetricsF(px_font(LABEL_PX, True))
        self._size = QSizeF(fm.horizontalAdvance(self.frame.title or " ") + 16, fm.height() + 6)
        self.update()

    def fitted(self) -> tuple[Any, str, float] | None:
        """(font, text, tab width in pixels) of the title at this zoom: the largest size at which it fits the
        frame's width on screen, else cut at the smallest; None in the band's zoom, or with no room."""
        zoom = _zoom(self)
        title = self.frame.title
        if not title or title_in_band(zoom):
            return None
        room = min(self.frame.w * zoom, self._size.width()) - 16
        best = None
        for px in (LABEL_PX, 13, 11, int(MIN_TEXT_PX) + 1):
            f = px_font(px, True)
            fm = QFontMetricsF(f)
            shown = fm.elidedText(title, Qt.TextElideMode.ElideRight, room)
            if len(shown) > 1:
                best = (f, shown, fm.horizontalAdvance(shown) + 16)
            if shown == title:
                break
        return best

    def boundingRect(self) -> QRectF:
        return QRectF(0, -self._size.height(), self._size.width(), self._size.height())

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        fit = self.fitted()
        if fit is not None:
            p.addRect(QRectF(0, -self._size.height(), fit[2], self._size.height()))
        return p

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        fit = self.fitted()
        if fit is None:
            return
        f, shown, width = fit
        r = QRectF(0, -self._size.height(), width, self._size.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.frame.colour)
        painter.drawRoundedRect(r, 4, 4)
        painter.setFont(f)
        painter.setPen(_ink_on(self.frame.colour.rgb()))
        painter.drawText(r.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.frame.mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.frame.mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.frame.mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.frame.mouseDoubleClickEvent(event)


def note_document(text: str) -> QTextDocument:
    """The note's text laid out as Markdown at the note's width."""
    doc = QTextDocument()
    doc.setDefaultFont(font(NOTE_PT))
    doc.setDocumentMargin(0)
    doc.setMarkdown(text or "*(empty note: double-click to write)*")
    doc.setTextWidth(NOTE_WIDTH - 2 * NOTE_PAD)
    return doc


def far_lines(text: str, f: QFont, width: float, height: float) -> list[str]:
    """``text`` (plain: a note's Markdown as rendered) wrapped at ``width`` in the font ``f``: the lines that fit
    ``height``, the last cut with "\u2026" where the text goes on; none where not even one line fits."""
    fm = QFontMetricsF(f)
    room = int(height // fm.lineSpacing())
    words = text.split()
    if not words or room < 1:
        return []
    if fm.horizontalAdvance(words[0]) > width:  # so far out that words would break up: one line, cut
        shown = fm.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width)
        return [shown] if len(shown) > 2 else []
    out: list[str] = []
    for para in (p.strip() for p in text.split("\n")):
        if para and len(out) <= room:
            out += _wrapped(para, f, width, room + 1 - len(out))
    if len(out) > room:
        rest = out[room - 1] + " " + out[room]
        shown = fm.elidedText(rest, Qt.TextElideMode.ElideRight, width)[:-1]
        if " " in shown and not rest[len(shown)].isspace():  # cut after the last whole word
            shown = shown[:shown.rindex(" ")]
        out = out[:room - 1] + [shown.rstrip() + "\u2026"]
    return out[:room]


def _wrapped(para: str, f: QFont, width: float, most: int) -> list[str]:
    """The first ``most`` lines of ``para`` wrapped at ``width`` (Qt's line breaking)."""
    layout = QTextLayout(para, f)
    layout.setTextOption(QTextOption(Qt.AlignmentFlag.AlignLeft))
    opt = layout.textOption()
    opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)  # a long path is cut, not drawn past the edge
    layout.setTextOption(opt)
    layout.beginLayout()
    lines: list[str] = []
    while len(lines) < most:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        lines.append(para[line.textStart():line.textStart() + line.textLength()].strip())
    layout.endLayout()
    return lines


class NoteItem(QGraphicsItem):
    """A note: its Markdown text on paper-coloured card, above wires, below blocks."""

    def __init__(self, note: Note, layer: AnnotationLayer) -> None:
        super().__init__()
        self.note_id = note.id
        self.layer = layer
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setZValue(-0.5)
        self._drag: _Drag | None = None
        self.set_note(note)

    def set_note(self, note: Note) -> None:
        self.prepareGeometryChange()
        self.text = note.text
        self.doc = note_document(note.text)
        self.plain = self.doc.toPlainText()  # the Markdown as read: no **, # or backticks
        self.h = max(self.doc.size().height() + 2 * NOTE_PAD, 36.0)
        self.setPos(note.pos[0], note.pos[1])
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, NOTE_WIDTH, self.h)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        paper, ink = NOTE_DARK if theme().dark else (NOTE_PAPER, NOTE_INK)
        edge = QPen(theme().selected if self.isSelected() else NOTE_EDGE, 2.0 if self.isSelected() else 1.0)
        edge.setCosmetic(True)
        painter.setPen(edge)
        painter.setBrush(paper)
        painter.drawRoundedRect(self.boundingRect(), 4, 4)
        if QFontInfo(font(NOTE_PT)).pixelSize() * lod >= MIN_TEXT_PX:
            ctx = QAbstractTextDocumentLayout.PaintContext()
            ctx.palette.setColor(QPalette.ColorRole.Text, ink)  # the note's own ink, whatever the system's
            painter.save()
            painter.translate(NOTE_PAD, NOTE_PAD)
            self.doc.documentLayout().draw(painter, ctx)
            painter.restore()
            return
        f = px_font(int(MIN_TEXT_PX / lod + 0.999))
        room = self.boundingRect().adjusted(NOTE_PAD / 2, NOTE_PAD / 2, -NOTE_PAD / 2, -NOTE_PAD / 2)
        lines = far_lines(self.plain, f, room.width(), room.height())
        if lines:  # far out: the text as read, larger, as much as fits, cut cleanly
            painter.setFont(f)
            painter.setPen(ink)
            step = QFontMetricsF(f).lineSpacing()
            for i, line in enumerate(lines):
                painter.drawText(QRectF(room.left(), room.top() + i * step, room.width(), step),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, line)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self.scene().clearSelection()
        self.setSelected(True)
        self._drag = _Drag(event.scenePos(), False, {self: self.pos()})
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None:
            self._drag.delta = _snapped(self.scene(), event.scenePos() - self._drag.press)
            self.setPos(self._drag.starts[self] + self._drag.delta)
            self.layer.changed.emit()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag is not None and (drag.delta.x() or drag.delta.y()):
            start = drag.starts[self]
            self.layer.note_moved.emit(self.note_id, (start.x(), start.y()), (self.pos().x(), self.pos().y()))

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.layer.edit_requested.emit(self.note_id)
            event.accept()


class AnnotationLayer(QObject):
    """The frames and notes of a scene: follows the page, says what a person did to them."""

    frame_moved = Signal(str, float, float, list, list)  # frame id, dx, dy, ids of the blocks and notes inside
    frame_resized = Signal(str, object, object)          # frame id, old rect, new rect
    note_moved = Signal(str, object, object)             # note id, old pos, new pos
    edit_requested = Signal(str)                         # a double-click on a frame's title or on a note
    changed = Signal()                                   # a frame or note came, went, moved or changed (the minimap)

    def __init__(self, scene: QGraphicsScene) -> None:
        super().__init__(scene)
        self.scene = scene
        self.frames: dict[str, FrameItem] = {}
        self.notes: dict[str, NoteItem] = {}

    def rebuild(self) -> None:
        for fid in list(self.frames):
            self._remove(fid)
        for nid in list(self.notes):
            self._remove(nid)
        for f in self.scene.page.frames.values():
            self._add(f)
        for n in self.scene.page.notes.values():
            self._add(n)
        self.changed.emit()

    def _add(self, item: Frame | Note) -> None:
        if isinstance(item, Frame):
            it = self.frames[item.id] = FrameItem(item, self)
            self.scene.addItem(it.label)
        else:
            it = self.notes[item.id] = NoteItem(item, self)
        self.scene.addItem(it)

    def _remove(self, item_id: str) -> None:
        it = self.frames.pop(item_id, None) or self.notes.pop(item_id, None)
        if isinstance(it, FrameItem):
            self.scene.removeItem(it.label)
        if it is not None:
            self.scene.removeItem(it)

    def on_page(self, event: str, d: dict[str, Any]) -> None:
        item = d["item"]
        if event == "annotation_added":
            self._add(item)
        elif event == "annotation_removed":
            self._remove(item.id)
        elif isinstance(item, Frame) and item.id in self.frames:
            self.frames[item.id].set_frame(item)
        elif isinstance(item, Note) and item.id in self.notes:
            self.notes[item.id].set_note(item)
        self.changed.emit()

    # -- queries -----------------------------------------------------------------------------------------
    def contents(self, frame_id: str) -> tuple[list[str], list[str]]:
        """The blocks and notes whose middles lie in the frame (what moves with it)."""
        r = self.frames[frame_id].sceneBoundingRect().adjusted(1, 1, -1, -1)
        near = self.scene.items(r)  # the scene's index: a frame on a page of thousands of blocks asks only its own
        blocks = [it.block_id for it in near if isinstance(it, BlockItem)
                  and r.contains(it.mapRectToScene(it.body_rect()).center())]
        notes = [it.note_id for it in near if isinstance(it, NoteItem) and r.contains(it.sceneBoundingRect().center())]
        return blocks, notes

    def note_rects(self) -> list[tuple[float, float, float, float]]:
        return [(it.x(), it.y(), NOTE_WIDTH, it.h) for it in self.notes.values()]

    def selected_ids(self) -> list[str]:
        return [i for i, it in [*self.frames.items(), *self.notes.items()] if it.isSelected()]

    def at(self, item: QGraphicsItem | None) -> str | None:
        """The frame or note that ``item`` (the item under a click) draws, if any."""
        if isinstance(item, FrameLabel):
            return item.frame.frame_id
        if isinstance(item, FrameItem):
            return item.frame_id
        return item.note_id if isinstance(item, NoteItem) else None

    def frames_around(self, pos: QPointF) -> list[str]:
        """The frames whose box holds page point ``pos``, innermost (smallest) first."""
        inside = [(it.w * it.h, fid) for fid, it in self.frames.items() if it.sceneBoundingRect().contains(pos)]
        return [fid for _a, fid in sorted(inside)]

    def overview(self) -> list[tuple[QRectF, QColor, bool]]:
        """(page rectangle, colour, is a frame) of every frame and note, for the minimap."""
        out = [(QRectF(*it.rect()), it.colour, True) for it in self.frames.values()]
        out += [(it.sceneBoundingRect(), NOTE_EDGE, False) for it in self.notes.values()]
        return out
