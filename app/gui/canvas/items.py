"""The drawn things on the canvas: a block with its ports, and a wire between two ports.

Items only draw what the scene tells them; they never change the page. A block paints its own
ports (no child item per port, so 2,000 blocks stay cheap) and answers which port lies under a
point. Zoomed out, a block is painted as a plain coloured box (level of detail).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from enuflow.app.gui import blocktypes
from enuflow.app.gui.style import category_colour, font
from enuflow.app.document.page import BlockInstance, Link

WIDTH = 180.0
HEADER = 22.0
ROW = 17.0
PREVIEW_ROW = 14.0
PORT_R = 4.5
LOD_SIMPLE = 0.45
LOD_NAMES = 0.2

_PEN_BORDER = QPen(QColor("#333333"), 1.0)
_PEN_SELECTED = QPen(QColor("#ff9800"), 2.5)
_BODY = QBrush(QColor("#f7f7f5"))
_IN_BRUSH = QBrush(QColor("#4f7cac"))
_OUT_BRUSH = QBrush(QColor("#5a9e5a"))
_OK_BRUSH = QBrush(QColor("#00c853"))
_NO_BRUSH = QBrush(QColor("#e53935"))
_BLACK = QBrush(QColor("#111111"))
_TEXT = QColor("#222222")
_PREVIEW = QColor("#0d47a1")


@lru_cache(maxsize=8)
def _metrics(size: int, bold: bool) -> QFontMetricsF:
    return QFontMetricsF(font(size, bold))


def preview_text(arr: Any) -> str:
    """A compact one-line view of a result: the value, or dtype, shape and a few numbers."""
    a = np.asarray(arr)
    dt = "string" if a.dtype.kind in "OSU" else str(a.dtype)
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, float):
            return f"{v:.6g}"
        return str(v)[:40]
    flat = a.reshape(-1)[:4]
    items = []
    for v in flat.tolist():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        items.append(f"{v:.4g}" if isinstance(v, float) else str(v)[:10])
    more = ", ..." if a.size > 4 else ""
    return f"{dt}{list(a.shape)} [{', '.join(items)}{more}]"


class BlockItem(QGraphicsItem):
    """One block: header with its name, inputs on the left, outputs on the right, the black ``scope``
    pin at the top left (not wirable), result pins along the bottom with a preview of each result."""

    def __init__(self, block: BlockInstance, wired_out: set[str] | None = None) -> None:
        super().__init__()
        self.block_id = block.id
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges)
        self.setAcceptHoverEvents(True)
        self.wires: set[WireItem] = set()
        self.errors: list[str] = []
        self.previews: dict[str, str] = {}
        self._preview_lines: list[str] = []
        self.highlight: tuple[str, bool, bool] | None = None  # (port, is_output, allowed)
        self.wired_out: set[str] = set(wired_out or ())  # wired elements of list outputs
        self.stale = False  # the previews are from before the last edit
        self.refresh(block)
        self.setPos(block.pos[0], block.pos[1])

    # -- content ------------------------------------------------------------------------------
    def refresh(self, block: BlockInstance) -> None:
        """Re-read name, ports and category from the page's block (after a pin or label change)."""
        self.prepareGeometryChange()
        decl = blocktypes.lookup(block.type)
        self.type_name = block.type
        self.known = decl is not None
        title = block.label or block.id
        subtitle = block.type if title != block.type else ""
        self.inputs = [p.name for p in decl.inputs] if decl else []
        self.outputs = blocktypes.output_ports(decl, block.pins, self.wired_out)
        # wide enough that the longest input and output labels never overlap
        fm_port = _metrics(7, False)
        w_in = max((fm_port.horizontalAdvance(n) for n in self.inputs), default=0.0)
        w_out = max((fm_port.horizontalAdvance(n) for n in self.outputs), default=0.0)
        self.width = max(WIDTH, float(int(w_in + w_out + 40)))
        fm_title, fm_sub = _metrics(9, True), _metrics(7, False)
        room = self.width - 24
        sub_w = min(fm_sub.horizontalAdvance(subtitle), room * 0.45) if subtitle else 0.0
        self.subtitle = fm_sub.elidedText(subtitle, Qt.TextElideMode.ElideRight, sub_w + 1) if subtitle else ""
        self.title = fm_title.elidedText(title, Qt.TextElideMode.ElideRight, room - sub_w - 6)
        self.colour = category_colour(decl.category if decl else "unknown")
        self._layout()

    def _layout(self) -> None:
        rows = max(len(self.inputs), len(self.outputs), 1)
        self.body_h = HEADER + rows * ROW + 4
        n_prev = len(self.previews)
        self.height = self.body_h + (n_prev * PREVIEW_ROW + 2 if n_prev else 0) + 8
        self._rect = QRectF(0, 0, self.width, self.height)
        self._bounds = self._rect.adjusted(-PORT_R - 4, -8, PORT_R + 4, 10)

    def set_previews(self, previews: dict[str, str]) -> None:
        if previews == self.previews:
            return
        self.prepareGeometryChange()
        self.previews = dict(previews)
        fm = _metrics(7, False)
        self._preview_lines = [fm.elidedText(f"{k}: {v}", Qt.TextElideMode.ElideRight, self.width - 12)
                               for k, v in self.previews.items()]
        self._layout()
        self.update()
        for w in self.wires:
            w.adjust()

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self.update()

    def set_errors(self, errors: list[str]) -> None:
        if errors == self.errors:
            return
        self.errors = list(errors)
        self.setToolTip("\n".join(self.errors))
        self.update()

    # -- geometry -----------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRect(self._bounds)
        return p

    def port_local(self, name: str, is_output: bool) -> QPointF | None:
        names = self.outputs if is_output else self.inputs
        if name not in names:
            return None
        i = names.index(name)
        return QPointF(self.width if is_output else 0.0, HEADER + i * ROW + ROW / 2 + 2)

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF:
        local = self.port_local(name, is_output)
        if local is None:  # a port the declaration does not know (yet): the middle of the side
            local = QPointF(self.width if is_output else 0.0, HEADER / 2)
        return self.mapToScene(local)

    def port_at(self, local: QPointF) -> tuple[str, bool] | None:
        """The (port, is_output) under a point in item coordinates, or None."""
        x, y = local.x(), local.y()
        if y < HEADER - 2 or y > self.body_h:
            return None
        i = int((y - HEADER - 2) // ROW)
        if abs(x) <= 10 and 0 <= i < len(self.inputs):
            return self.inputs[i], False
        if abs(x - self.width) <= 10 and 0 <= i < len(self.outputs):
            return self.outputs[i], True
        return None

    # -- events ---------------------------------------------------------------------------------
    def hoverMoveEvent(self, event: Any) -> None:
        """The tooltip names the port under the cursor (dtype, doc), else the block's problems."""
        hit = self.port_at(event.pos())
        tip = "\n".join(self.errors)
        if hit is not None:
            tip = self.port_tip(*hit)
        elif not tip and -6 <= event.pos().x() <= 6 and event.pos().y() <= 12:
            tip = "scope: the page's graph, name scope and device (automatic, never wired)"
        if self.toolTip() != tip:
            self.setToolTip(tip)
        super().hoverMoveEvent(event)

    def port_tip(self, name: str, is_output: bool) -> str:
        decl = blocktypes.lookup(self.type_name)
        port = (blocktypes.output_port(decl, name) if is_output else decl.input(name)) if decl else None
        if port is None:
            return name
        kind = "output" if is_output else "input"
        dtype = port.dtype or "any dtype"
        lst = " (list)" if port.is_list else ""
        return f"{kind} {name}: {dtype}{lst}" + (f"\n{port.doc}" if port.doc else "")

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemScenePositionHasChanged:
            for w in self.wires:
                w.adjust()
        return super().itemChange(change, value)

    # -- painting -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = self.isSelected()
        if lod < LOD_SIMPLE:
            painter.setPen(_PEN_SELECTED if selected else Qt.PenStyle.NoPen)
            painter.setBrush(self.colour)
            painter.drawRect(self._rect)
            if self.errors:
                painter.setBrush(_NO_BRUSH)
                painter.drawRect(QRectF(self.width - 40, 0, 40, 40))
            if lod >= LOD_NAMES:
                # mid zoom: the name, in a font that stays readable on screen
                size = min(int(8 / lod), 40)
                painter.setPen(QColor("white"))
                painter.setFont(font(size, True))
                painter.drawText(self._rect.adjusted(6, 2, -6, -2), Qt.AlignmentFlag.AlignLeft
                                 | Qt.AlignmentFlag.AlignTop, self.title)
            return
        r = self._rect
        painter.setPen(_PEN_SELECTED if selected else _PEN_BORDER)
        painter.setBrush(_BODY)
        painter.drawRoundedRect(r, 4, 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour if self.known else QColor("#9e9e9e"))
        painter.drawRoundedRect(QRectF(0.5, 0.5, self.width - 1, HEADER), 4, 4)
        painter.setPen(QColor("white"))
        painter.setFont(font(9, True))
        painter.drawText(QRectF(12, 0, self.width - 18, HEADER), Qt.AlignmentFlag.AlignVCenter, self.title)
        # the automatic scope pin: black, top left, never wired
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_BLACK)
        painter.drawRect(QRectF(-3, 3, 7, 7))
        if lod < 0.55:
            self._paint_ports_only(painter)
            self._paint_badge(painter)
            return
        painter.setFont(font(7))
        if self.subtitle:
            painter.setPen(QColor("#dddddd"))
            painter.drawText(QRectF(12, 0, self.width - 18, HEADER), Qt.AlignmentFlag.AlignVCenter
                             | Qt.AlignmentFlag.AlignRight, self.subtitle)
        if not self.known:
            painter.setPen(QColor("#7a7a7a"))
            painter.drawText(QRectF(8, HEADER, self.width - 16, ROW), Qt.AlignmentFlag.AlignVCenter,
                             "ports known when TensorFlow is ready")
        self._paint_ports_only(painter)
        painter.setPen(_TEXT)
        for i, name in enumerate(self.inputs):
            painter.drawText(QRectF(8, HEADER + i * ROW + 2, self.width - 16, ROW), Qt.AlignmentFlag.AlignVCenter, name)
        for i, name in enumerate(self.outputs):
            painter.drawText(QRectF(8, HEADER + i * ROW + 2, self.width - 16, ROW),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, name)
        # result pins along the bottom, with their previews above
        if self.previews:
            y = self.body_h + 1
            painter.setPen(QPen(QColor("#cccccc"), 0.5))
            painter.drawLine(QPointF(4, y - 1), QPointF(self.width - 4, y - 1))
            if self.stale:  # results from before an edit: grey, tagged, until the next run
                painter.setFont(font(7, True))
                painter.setPen(QColor("#8d6e00"))
                painter.drawText(QRectF(6, y - 10, self.width - 12, 10), Qt.AlignmentFlag.AlignRight, "stale")
                painter.setFont(font(7))
            painter.setPen(QColor("#9e9e9e") if self.stale else _PREVIEW)
            for text in self._preview_lines:
                painter.drawText(QRectF(6, y, self.width - 12, PREVIEW_ROW), Qt.AlignmentFlag.AlignVCenter, text)
                y += PREVIEW_ROW
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_BLACK)
        n = len(self.outputs)
        for i in range(n):
            x = self.width * (i + 1) / (n + 1)
            painter.drawRect(QRectF(x - 3, self.height - 3, 6, 6))
        self._paint_badge(painter)

    def _paint_ports_only(self, painter: QPainter) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for is_output, names, brush in ((False, self.inputs, _IN_BRUSH), (True, self.outputs, _OUT_BRUSH)):
            for i, name in enumerate(names):
                c = QPointF(self.width if is_output else 0.0, HEADER + i * ROW + ROW / 2 + 2)
                b = brush
                if self.highlight and self.highlight[0] == name and self.highlight[1] == is_output:
                    b = _OK_BRUSH if self.highlight[2] else _NO_BRUSH
                    painter.setBrush(b)
                    painter.drawEllipse(c, PORT_R + 2.5, PORT_R + 2.5)
                    continue
                painter.setBrush(b)
                painter.drawEllipse(c, PORT_R, PORT_R)

    def _paint_badge(self, painter: QPainter) -> None:
        if not self.errors:
            return
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(_NO_BRUSH)
        c = QPointF(self.width - 2, 0)
        painter.drawEllipse(c, 8, 8)
        painter.setFont(font(8, True))
        painter.drawText(QRectF(c.x() - 8, c.y() - 8, 16, 16), Qt.AlignmentFlag.AlignCenter, "!")


class WireItem(QGraphicsPathItem):
    """A curved wire from an output port to an input port; it follows its blocks as they move.

    The second and later copies of a link (the same output wired again into a list port) bend further out, so
    that each copy can be seen and selected.
    """

    _pen = QPen(QColor("#546e7a"), 2.0)
    _pen_sel = QPen(QColor("#ff9800"), 3.0)

    def __init__(self, link: Link, src: BlockItem | None, dst: BlockItem | None) -> None:
        super().__init__()
        self.link = link
        self.src = src
        self.dst = dst
        self.ordinal = 0
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self.setPen(self._pen)
        self.setToolTip(str(link))
        for b in (src, dst):
            if b is not None:
                b.wires.add(self)
        self.adjust()

    def detach(self) -> None:
        for b in (self.src, self.dst):
            if b is not None:
                b.wires.discard(self)

    def set_ordinal(self, ordinal: int) -> None:
        """Which copy of its link this wire draws (0 for the first); later copies bend further out."""
        if ordinal != self.ordinal:
            self.ordinal = ordinal
            self.setToolTip(str(self.link) + (f" (copy {ordinal + 1})" if ordinal else ""))
            self.adjust()

    def adjust(self) -> None:
        if self.src is None or self.dst is None:
            return
        a = self.src.port_scene_pos(self.link.src_port, True)
        b = self.dst.port_scene_pos(self.link.dst_port, False)
        self.setPath(curve(a, b, bend=18.0 * self.ordinal))

    def shape(self) -> QPainterPath:
        s = QPainterPathStroker()
        s.setWidth(8)
        return s.createStroke(self.path())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setPen(self._pen_sel if self.isSelected() else self._pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())


def curve(a: QPointF, b: QPointF, bend: float = 0.0) -> QPainterPath:
    """A horizontal S-curve from ``a`` to ``b``; ``bend`` pushes its middle that far down (or up if negative)."""
    p = QPainterPath(a)
    dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
    dy = bend * 4.0 / 3.0  # control points this far off put the curve's middle ``bend`` away
    p.cubicTo(QPointF(a.x() + dx, a.y() + dy), QPointF(b.x() - dx, b.y() + dy), b)
    return p
