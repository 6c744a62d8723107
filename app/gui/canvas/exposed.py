"""Inside a composite: the ports its exposed inputs feed and its exposed outputs give are tagged with the exposed
names (``a ▸`` left of an input, ``▸ y`` right of an output), drawn at a fixed screen size beside the port."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsSimpleTextItem

from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.gui.style import font

TAG_COLOUR = QColor("#6a1b9a")


class ExposedTag(QGraphicsSimpleTextItem):
    """The name of a composite's exposed input or output, beside the inner port it stands for."""


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
    for p in inputs:
        for bid, port in p.to:
            if bid == item.block_id:
                _tag(item, port, False, f"{p.name} \u25b8")
    for p in outputs:
        if p.src[0] == item.block_id:
            _tag(item, p.src[1], True, f"\u25b8 {p.name}")


def _tag(item: BlockItem, port: str, is_output: bool, text: str) -> None:
    at = item.port_local(port, is_output)
    if at is None:
        return
    tag = ExposedTag(text, item)
    tag.setFont(font(9, True))
    tag.setBrush(QBrush(TAG_COLOUR))
    tag.setToolTip("an exposed " + ("output" if is_output else "input") + " of the composite")
    # the same size on screen at any zoom; beside the port, outside the block
    tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    tag.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    r = tag.boundingRect()
    tag.setPos(at)
    tag.setTransform(QTransform.fromTranslate(8 if is_output else -r.width() - 8, -r.height() / 2))
