"""Inside a composite: the ports its exposed inputs feed and its exposed outputs give are tagged with the exposed
names (``a ▸`` left of an input, ``▸ y`` right of an output), small, beside the port and scaled with the page, in the
room the layout leaves between two columns (a name much longer than that room is cut with "…"; the whole name is
in the tooltip)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF
from PySide6.QtWidgets import QGraphicsSimpleTextItem

from enuflow.app.gui.canvas.items import BlockItem
from enuflow.app.document.layout import H_GAP
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
    f = font(7, True)
    shown = QFontMetricsF(f).elidedText(text, Qt.TextElideMode.ElideRight, H_GAP * 1.5)
    tag = ExposedTag(shown, item)
    tag.setFont(f)
    tag.setBrush(QBrush(TAG_COLOUR))
    kind = "output" if is_output else "input"
    name = text.replace("\u25b8", "").strip()
    tag.setToolTip(f"the composite's exposed {kind} '{name}'")
    tag.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    r = tag.boundingRect()
    tag.setPos(at.x() + (6 if is_output else -r.width() - 6), at.y() - r.height() / 2)
