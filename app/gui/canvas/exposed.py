"""Inside a composite: the ports its exposed inputs feed and its exposed outputs give are tagged with the exposed
names (``a ▸`` left of an input, ``▸ y`` right of an output), beside the port, in the room the layout leaves between
two columns (a name longer than that room is cut with "…"; the whole name is in the tooltip).

A tag keeps a level of detail like a block's title: at its own size close up, and zoomed out in a larger font that
stays ``TAG_MIN_PX`` on screen, as long as that font fits the room up to the next tag on the same side of the block
(then it is left out, as a port's name is)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontInfo, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from enuflow.app.gui.canvas.items import BlockItem, px_font
from enuflow.app.document.layout import H_GAP
from enuflow.app.gui.style import font

TAG_COLOUR = QColor("#6a1b9a")
TAG_PT = 7
TAG_MIN_PX = 9.0          # a tag is never drawn smaller than this on screen
ROOM = H_GAP * 1.5        # page units beside the port
MAX_H = 60.0              # the tallest a zoomed-out tag's font grows (page units)
GAP = 6.0                 # between the port's centre and the tag


class ExposedTag(QGraphicsItem):
    """The name of a composite's exposed input or output, beside the inner port it stands for (a child of the
    block's item, its origin at the port)."""

    def __init__(self, text: str, is_output: bool, room_h: float, parent: BlockItem) -> None:
        super().__init__(parent)
        self._text = text
        self.is_output = is_output
        self.room_h = min(room_h, MAX_H)  # the height its font may take (up to the next tag on this side)
        kind = "output" if is_output else "input"
        self.setToolTip(f"the composite's exposed {kind} '{text.replace(chr(0x25b8), '').strip()}'")
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def text(self) -> str:
        return self._text

    def boundingRect(self) -> QRectF:
        x = GAP if self.is_output else -GAP - ROOM
        return QRectF(x, -self.room_h / 2, ROOM, self.room_h)

    def fitted(self, lod: float) -> tuple[QFont, str] | None:
        """The font and the text (cut to the room) at zoom ``lod``; None when the font no longer fits."""
        own = font(TAG_PT, True)
        f = own
        if QFontInfo(own).pixelSize() * lod < TAG_MIN_PX:
            need = int(TAG_MIN_PX / lod + 0.999)
            if need > self.room_h:
                return None
            f = px_font(need, True)
        shown = QFontMetricsF(f).elidedText(self._text, Qt.TextElideMode.ElideRight, ROOM)
        return (f, shown) if len(shown) > 1 else None

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        fit = self.fitted(option.levelOfDetailFromTransform(painter.worldTransform()))
        if fit is None:
            return
        f, shown = fit
        painter.setFont(f)
        painter.setPen(TAG_COLOUR)
        align = Qt.AlignmentFlag.AlignLeft if self.is_output else Qt.AlignmentFlag.AlignRight
        painter.drawText(self.boundingRect(), align | Qt.AlignmentFlag.AlignVCenter, shown)


def tag_exposed_ports(item: BlockItem, page: Any) -> None:
    """Tag ``item``'s ports that ``page`` (a composite's definition shown on the canvas) exposes; nothing on a page
    (whose items are made afresh when the canvas shows it: no tags to remove)."""
    inputs, outputs = getattr(page, "inputs", None), getattr(page, "outputs", None)
    if inputs is None or outputs is None:
        return
    for child in item.childItems():
        if isinstance(child, ExposedTag):
            child.setParentItem(None)
            if child.scene() is not None:
                child.scene().removeItem(child)
    tags = [(port, False, f"{p.name} \u25b8") for p in inputs for bid, port in p.to if bid == item.block_id]
    tags += [(p.src[1], True, f"\u25b8 {p.name}") for p in outputs if p.src[0] == item.block_id]
    placed = [(item.port_local(port, out), out, text) for port, out, text in tags]
    placed = [(at, out, text) for at, out, text in placed if at is not None]
    for at, out, text in placed:
        others = [abs(o.y() - at.y()) for o, side, _t in placed if side == out and o is not at]
        tag = ExposedTag(text, out, min(others, default=MAX_H), item)
        tag.setPos(QPointF(at.x(), at.y()))
