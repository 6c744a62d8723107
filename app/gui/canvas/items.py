"""The drawn things on the canvas: a block with its ports, and a wire between two ports.

Items only draw what the scene tells them; they never change the page. A block paints its own
ports (no child item per port, so 2,000 blocks stay cheap) and answers which port lies under a
point. A block is sized to its name and port labels; its result previews have a fixed place (one line per
output, at most ``PREVIEW_ROWS``, cut to the block's width: the full value is in the Results panel), so a
run never grows a block into its neighbours. A collapsed block is its title bar. Text is drawn by level
of detail, never under ``MIN_TEXT_PX`` pixels on screen: zoomed out, labels are drawn in a larger font
(cut to their room) or left out, and far out a block is a flat box with its short name large. Colours come from the theme (``style.theme()``), which follows the
system palette; title text has WCAG AA contrast on the category colour.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontInfo,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QStaticText,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from enuflow.app.gui import blocktypes
from enuflow.app.gui.style import font, header_colours, theme
from enuflow.app.gui.target import device_colour
from enuflow.app.document.page import BlockInstance, Link
from enuflow.app.document.tensors import cell_text, dtype_name

_OK_BRUSH = QBrush(QColor("#00c853"))
_NO_BRUSH = QBrush(QColor("#e53935"))
_WIRE_BOUNDS = QPen(QColor("#000000"), 4.0)

# sizes at 100 % (scene units = pixels); fonts in points (9 pt is the smallest anything is drawn)
MIN_WIDTH = 140.0
PREVIEW_ROWS = 1      # result lines kept on a block (more outputs: "+n more", and the Results panel)
MIN_TEXT_PX = 8.0     # no text is drawn smaller than this on screen
PORT_R = 6.0          # a 12-px dot at 100 %
PORT_HIT = 13.0       # how far from a port's centre a press still takes it
TITLE_PT, SUB_PT, PORT_PT, PREVIEW_PT = 10, 9, 9, 9
# levels of detail by zoom: every label at its own size above LOD_FULL (where 9 pt is 8 px or more); below, labels
# grow to stay MIN_TEXT_PX and are left out where they no longer fit their row; a flat box with the short name
# once the title no longer fits the header
LOD_FULL = 0.67
LONG_WIRE = 1500.0  # page units: a wire longer than this is not cached as a picture


@lru_cache(maxsize=8)
def _metrics(size: int, bold: bool) -> QFontMetricsF:
    return QFontMetricsF(font(size, bold))


@lru_cache(maxsize=4096)
def _static(text: str, size: int, bold: bool = False) -> tuple[QStaticText, float, float]:
    """A label laid out once and shared by every block that shows it (port names repeat across a page),
    with its width and height."""
    st = QStaticText(text)
    st.setTextFormat(Qt.TextFormat.PlainText)
    st.prepare(font=font(size, bold))
    sz = st.size()
    return st, sz.width(), sz.height()


def _line(size: int, bold: bool = False) -> float:
    return float(int(_metrics(size, bold).height() + 0.999))


@lru_cache(maxsize=128)
def px_font(px: int, bold: bool = False) -> QFont:
    f = QFont(font(9, bold))
    f.setPixelSize(px)
    return f


@lru_cache(maxsize=16)
def _font_px(size: int, bold: bool) -> int:
    return QFontInfo(font(size, bold)).pixelSize()


def lod_font(size: int, bold: bool, lod: float, room: float) -> QFont | None:
    """The font to draw a ``size``-point label in at zoom ``lod``: its own, or one large enough to be
    ``MIN_TEXT_PX`` on screen; None when that no longer fits ``room`` page units of height."""
    px = _font_px(size, bold)
    if px * lod >= MIN_TEXT_PX:
        return font(size, bold)
    need = int(MIN_TEXT_PX / lod + 0.999)
    return px_font(need, bold) if need <= room else None


def short_name(text: str) -> str:
    """The last part of a scoped name ("model/block_1/Conv2D" -> "Conv2D")."""
    return text.rstrip("/").rsplit("/", 1)[-1] or text


def preview_text(arr: Any) -> str:
    """A compact one-line view of a result: the value, or dtype, shape and a few values."""
    a = np.asarray(arr)
    if a.ndim == 0:
        return cell_text(a[()])[:40]
    items = [cell_text(v)[:10] for v in a.reshape(-1)[:4]]
    more = ", ..." if a.size > 4 else ""
    return f"{dtype_name(a)}{list(a.shape)} [{', '.join(items)}{more}]"


class BlockItem(QGraphicsItem):
    """One block: a header with its name (and type, when the name is not the type), inputs on the left,
    outputs on the right, and the latest result of each output below them (greyed and tagged when an
    edit made them stale). Hovering a port names its dtype, doc and value."""

    def __init__(self, block: BlockInstance, wired_out: set[str] | None = None) -> None:
        super().__init__()
        self.block_id = block.id
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges)
        self.setAcceptHoverEvents(True)
        # panning blits the block's picture instead of painting it again (the cache is redrawn on a zoom
        # or an update())
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.wires: set[WireItem] = set()
        self.errors: list[str] = []
        self.previews: dict[str, str] = {}
        self._preview_lines: list[str] = []
        self.highlight: tuple[str, bool, bool] | None = None  # (port, is_output, allowed)
        self.hot_ports: set[tuple[str, bool]] = set()  # ends of a hovered wire
        self.hovered = False
        self.wired_out: set[str] = set(wired_out or ())  # wired elements of list outputs
        self.stale = False  # the previews are from before the last edit
        self.cached = False  # the last run took its results from the run before (a cached re-run)
        self.refresh(block)
        self.setPos(block.pos[0], block.pos[1])

    # -- content ------------------------------------------------------------------------------
    def refresh(self, block: BlockInstance) -> None:
        """Re-read name, ports, category and collapsed flag from the page's block (after a pin or label change)."""
        self.prepareGeometryChange()
        decl = blocktypes.lookup(block.type)
        self.type_name = block.type
        self.known = decl is not None
        self.title = block.label or block.id
        self.short = short_name(self.title)
        self.subtitle = block.type if self.title != block.type else ""
        self.collapsed = bool(block.collapsed)
        self.inputs = [p.name for p in decl.inputs] if decl else []
        self.outputs = blocktypes.output_ports(decl, block.pins, self.wired_out)
        self.category = decl.category if decl else "unknown"
        self.colour, self.title_colour = header_colours(self.category)
        self.stripe = device_colour(block.device)  # the colour of the cluster task it runs on, if any
        self._measure()

    def _measure(self) -> None:
        """Size the block to its content: title, type, port labels side by side (never to its results)."""
        fm_port = _metrics(PORT_PT, False)
        w_in = max((fm_port.horizontalAdvance(n) for n in self.inputs), default=0.0)
        w_out = max((fm_port.horizontalAdvance(n) for n in self.outputs), default=0.0)
        w_title = _metrics(TITLE_PT, True).horizontalAdvance(self.title) + 28
        w_sub = _metrics(SUB_PT, False).horizontalAdvance(self.subtitle) + 28 if self.subtitle else 0.0
        w_ports = w_in + w_out + 2 * (PORT_R + 10) + 24
        w_note = 0.0 if self.known else _metrics(PORT_PT, False).horizontalAdvance(_UNKNOWN_NOTE) + 20
        w = max(MIN_WIDTH, w_title, w_sub, w_ports, w_note)
        self.width = float(-(-int(w) // 10) * 10)  # whole tens line up with the grid
        self.title_h = _line(TITLE_PT, True) + 8
        self.header = self.title_h + (_line(SUB_PT) if self.subtitle else 0.0) + 2
        self.row = max(20.0, _line(PORT_PT) + 5)
        self.preview_row = _line(PREVIEW_PT) + 2
        self.preview_rows = min(len(self.outputs), PREVIEW_ROWS)
        self._preview_lines = self._preview_text()
        self._layout()

    def _preview_text(self) -> list[str]:
        """The preview lines: one per output in port order, the last saying how many more there are."""
        order = {n: i for i, n in enumerate(self.outputs)}
        keys = sorted(self.previews, key=lambda k: (order.get(k, len(order)), k))
        lines = [f"{k}: {self.previews[k]}" for k in keys]
        if len(lines) > self.preview_rows and self.preview_rows:
            more = len(lines) - self.preview_rows
            lines = lines[:self.preview_rows]
            lines[-1] = f"(+{more} more) " + lines[-1]
        return lines[:self.preview_rows]

    def _layout(self) -> None:
        if self.collapsed:  # the title bar only
            self.body_h = self.height = self.title_h + 2
        else:
            rows = max(len(self.inputs), len(self.outputs), 1)
            self.body_h = self.header + rows * self.row + 6
            self.height = self.body_h + (self.preview_rows * self.preview_row + 8 if self.preview_rows else 0)
        self._rect = QRectF(0, 0, self.width, self.height)
        self._bounds = self._rect.adjusted(-PORT_R - 3, -12, PORT_R + 3, 3)
        head = self.height if self.collapsed else self.header
        hdr = QPainterPath()  # rounded on top, square where it meets the body
        hdr.setFillRule(Qt.FillRule.WindingFill)  # the two shapes' overlap is filled, not a hole
        hdr.addRoundedRect(QRectF(0.5, 0.5, self.width - 1, head - 1 if self.collapsed else head), 5, 5)
        if not self.collapsed:
            hdr.addRect(QRectF(0.5, self.header - 5, self.width - 1, 5.5))
        self._header_path = hdr.simplified()

    def set_previews(self, previews: dict[str, str]) -> None:
        """Show these results (port -> text) in the block's fixed preview lines: the block keeps its size."""
        if previews == self.previews:
            return
        self.previews = dict(previews)
        self._preview_lines = self._preview_text()
        self.update()

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self.update()

    def set_cached(self, cached: bool) -> None:
        if cached != self.cached:
            self.cached = cached
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

    def body_rect(self) -> QRectF:
        """The block's body in item coordinates (what must not overlap another block)."""
        return QRectF(self._rect)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addRect(self._bounds)
        return p

    def _port_y(self, i: int) -> float:
        if self.collapsed:  # every wire meets the middle of the title bar
            return self.height / 2
        return self.header + i * self.row + self.row / 2 + 3

    def port_local(self, name: str, is_output: bool) -> QPointF | None:
        names = self.outputs if is_output else self.inputs
        if name not in names:
            return None
        return QPointF(self.width if is_output else 0.0, self._port_y(names.index(name)))

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF:
        local = self.port_local(name, is_output)
        if local is None:  # a port the declaration does not know (yet): the middle of the side
            local = QPointF(self.width if is_output else 0.0, min(self.header, self.height) / 2)
        return self.mapToScene(local)

    def port_at(self, local: QPointF) -> tuple[str, bool] | None:
        """The (port, is_output) under a point in item coordinates, or None (a collapsed block has none)."""
        x, y = local.x(), local.y()
        if self.collapsed or y < self.header or y > self.body_h:
            return None
        i = int((y - self.header - 3) // self.row)
        if abs(x) <= PORT_HIT and 0 <= i < len(self.inputs):
            return self.inputs[i], False
        if abs(x - self.width) <= PORT_HIT and 0 <= i < len(self.outputs):
            return self.outputs[i], True
        return None

    # -- events ---------------------------------------------------------------------------------
    def hoverEnterEvent(self, event: Any) -> None:
        self.hovered = True
        for w in self.wires:
            w.set_hot(True, ends=False)
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self.hovered = False
        for w in self.wires:
            w.set_hot(False, ends=False)
        self.update()
        super().hoverLeaveEvent(event)

    def hoverMoveEvent(self, event: Any) -> None:
        """The tooltip names the port under the cursor (dtype, doc, value), else the block's problems."""
        hit = self.port_at(event.pos())
        tip = "\n".join(self.errors)
        if hit is not None:
            tip = self.port_tip(*hit)
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
        value = f"\n= {self.previews[name]}" + (" (stale)" if self.stale else " (from cache)" if self.cached else "") \
            if is_output and name in self.previews else ""
        return f"{kind} {name}: {dtype}{lst}" + (f"\n{port.doc}" if port.doc else "") + value

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            scene = self.scene()
            snap = getattr(scene, "snap_step", None)
            if snap and getattr(scene, "dragging", False):
                return QPointF(round(value.x() / snap) * snap, round(value.y() / snap) * snap)
        if change == QGraphicsItem.GraphicsItemChange.ItemScenePositionHasChanged:
            for w in self.wires:
                w.adjust()
        return super().itemChange(change, value)

    # -- painting -------------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        t = theme()
        selected = self.isSelected()
        header_colour = self.colour if self.known else t.unknown
        sub_room = self.header - self.title_h + 2
        sub_font = lod_font(SUB_PT, False, lod, sub_room) if self.subtitle and not self.collapsed else None
        # zoomed out, a title whose type line is left out may take the whole header
        title_room = self.title_h if sub_font is not None or self.collapsed else self.header
        title_font = lod_font(TITLE_PT, True, lod, title_room - 2)
        if title_font is None:  # the title no longer fits the header: a flat box with the short name
            self._paint_box(painter, lod, header_colour, selected)
            return
        r = self._rect
        border = QPen(t.selected if selected else (t.hot if self.hovered else t.border), 2.0 if selected else 1.0)
        border.setCosmetic(True)
        painter.setPen(border)
        painter.setBrush(t.body)
        painter.drawRoundedRect(r, 5, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(header_colour)
        painter.drawPath(self._header_path)
        if self.stripe is not None and not self.collapsed:
            painter.setBrush(self.stripe)
            painter.drawRect(QRectF(0.5, self.header, 4, self.body_h - self.header))
        painter.setPen(self.title_colour)
        self._paint_text(painter, title_font, TITLE_PT, True, self.title if title_font is font(TITLE_PT, True)
                         else self.short, QRectF(12, 0, self.width - 20, title_room), Qt.AlignmentFlag.AlignLeft)
        if sub_font is not None:
            self._paint_text(painter, sub_font, SUB_PT, False, self.subtitle,
                             QRectF(12, self.title_h - 4, self.width - 20, sub_room), Qt.AlignmentFlag.AlignLeft)
        if not self.collapsed:
            self._paint_ports(painter, t)
            self._paint_labels(painter, t, lod)
        self._paint_badge(painter, lod)

    @staticmethod
    def _paint_text(painter: QPainter, f: QFont, size: int, bold: bool, text: str, room: QRectF,
                    align: Qt.AlignmentFlag) -> None:
        """One line of text in ``room`` (vertically centred): laid out once at its own size, else in the larger
        font ``f`` of a zoomed-out view, cut with an ellipsis where it no longer fits."""
        painter.setFont(f)
        if f is font(size, bold):
            st, w, h = _static(text, size, bold)
            x = room.left() if align == Qt.AlignmentFlag.AlignLeft else room.right() - w
            painter.drawStaticText(QPointF(x, room.top() + (room.height() - h) / 2), st)
            return
        shown = QFontMetricsF(f).elidedText(text, Qt.TextElideMode.ElideRight, room.width())
        if shown:
            painter.drawText(room, align | Qt.AlignmentFlag.AlignVCenter, shown)

    def _paint_box(self, painter: QPainter, lod: float, colour: QColor, selected: bool) -> None:
        """Far out: a flat box in the category colour with the short name large (12 px on screen, or at least
        ``MIN_TEXT_PX`` where that does not fit; none when even that does not)."""
        pen = QPen(theme().selected, 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen if selected else Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRect(self._rect)
        if self.errors:
            painter.setBrush(_NO_BRUSH)
            side = min(40.0, self.height, self.width)
            painter.drawRect(QRectF(self.width - side, 0, side, side))
        room = self._rect.adjusted(6, 2, -6, -2)
        best = None
        for on_screen in (14.0, 12.0, 10.0, MIN_TEXT_PX):
            px = int(on_screen / lod + 0.999)
            if px > room.height():
                continue
            f = px_font(px, True)
            shown = QFontMetricsF(f).elidedText(self.short, Qt.TextElideMode.ElideRight, room.width())
            best = (f, shown)
            if shown == self.short:  # the largest size at which the whole short name fits
                break
        if best is not None and len(best[1]) > 1:
            painter.setFont(best[0])
            painter.setPen(self.title_colour)
            painter.drawText(room, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, best[1])

    def _paint_labels(self, painter: QPainter, t: Any, lod: float) -> None:
        """Port names, the unknown-type note and the result previews, each where its font fits at this zoom."""
        pad = PORT_R + 6
        f = lod_font(PORT_PT, False, lod, self.row - 2)
        if f is not None:
            painter.setPen(t.text)
            half = (self.width - 2 * pad) / (2 if self.inputs and self.outputs else 1) - 4
            for i, name in enumerate(self.inputs):
                self._paint_text(painter, f, PORT_PT, False, name,
                                 QRectF(pad, self._port_y(i) - self.row / 2, half, self.row), Qt.AlignmentFlag.AlignLeft)
            for i, name in enumerate(self.outputs):
                self._paint_text(painter, f, PORT_PT, False, name,
                                 QRectF(self.width - pad - half, self._port_y(i) - self.row / 2, half, self.row),
                                 Qt.AlignmentFlag.AlignRight)
            if not self.known:
                painter.setPen(t.muted)
                self._paint_text(painter, f, PORT_PT, False, _UNKNOWN_NOTE,
                                 QRectF(10, self.header, self.width - 20, self.row), Qt.AlignmentFlag.AlignLeft)
        if self.preview_rows:
            self._paint_previews(painter, t, lod)

    def _paint_previews(self, painter: QPainter, t: Any, lod: float) -> None:
        """The results' fixed lines below the ports (greyed and tagged "stale" after an edit)."""
        y = self.body_h
        line = QPen(t.border, 1.0)
        line.setCosmetic(True)
        painter.setPen(line)
        painter.drawLine(QPointF(6, y), QPointF(self.width - 6, y))
        if not self._preview_lines:
            return
        f = lod_font(PREVIEW_PT, False, lod, self.preview_row + 4)  # the line and its margins
        if f is None:
            return
        if self.stale or self.cached:  # results from before an edit: grey, tagged, until the next run; or taken
            fb = lod_font(PREVIEW_PT, self.stale, lod, self.preview_row)  # from the run before: a quiet tag
            if fb is not None:
                painter.setFont(fb)
                painter.setPen(t.stale if self.stale else t.muted)
                painter.drawText(QRectF(8, y - self.preview_row + 2, self.width - 16, self.preview_row),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                                 "stale" if self.stale else "cached")
        painter.setFont(f)
        painter.setPen(t.muted if self.stale else t.preview)
        fm = QFontMetricsF(f)
        y += 4
        for text in self._preview_lines:
            painter.drawText(QRectF(8, y, self.width - 16, self.preview_row), Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(text, Qt.TextElideMode.ElideRight, self.width - 16))
            y += self.preview_row

    def _paint_ports(self, painter: QPainter, t: Any) -> None:
        ring = QPen(t.body, 1.5)
        for is_output, names, colour in ((False, self.inputs, t.port_in), (True, self.outputs, t.port_out)):
            for i, name in enumerate(names):
                c = QPointF(self.width if is_output else 0.0, self._port_y(i))
                if self.highlight and self.highlight[0] == name and self.highlight[1] == is_output:
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(_OK_BRUSH if self.highlight[2] else _NO_BRUSH)
                    painter.drawEllipse(c, PORT_R + 3, PORT_R + 3)
                    continue
                hot = (name, is_output) in self.hot_ports
                painter.setPen(QPen(t.hot, 2.5) if hot else ring)
                painter.setBrush(t.hot if hot else colour)
                painter.drawEllipse(c, PORT_R, PORT_R)

    def _paint_badge(self, painter: QPainter, lod: float) -> None:
        if not self.errors:
            return
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(_NO_BRUSH)
        c = QPointF(self.width - 4, -2)
        painter.drawEllipse(c, 9, 9)
        f = lod_font(9, True, lod, 18)
        if f is not None:
            painter.setFont(f)
            painter.drawText(QRectF(c.x() - 9, c.y() - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "!")


_UNKNOWN_NOTE = "ports known when TensorFlow is ready"


class WireItem(QGraphicsPathItem):
    """A curved wire from an output port to an input port, beneath the blocks; it follows its blocks as
    they move, and is highlighted with its two ports while the cursor is on it (or on one of its blocks).

    The second and later copies of a link (the same output wired again into a list port) bend further out, so
    that each copy can be seen and selected.
    """

    def __init__(self, link: Link, src: BlockItem | None, dst: BlockItem | None) -> None:
        super().__init__()
        self.link = link
        self.src = src
        self.dst = dst
        self.ordinal = 0
        self.hot = False
        #: the static type of what the wire carries (``f32[?,784]``), from the worker's check, or ""
        self.type_text = ""
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)
        self.setPen(_WIRE_BOUNDS)  # never drawn: it makes the bounding rect hold the widest pen painted
        self.setToolTip(self._tip())
        for b in (src, dst):
            if b is not None:
                b.wires.add(self)
        self.adjust()

    def detach(self) -> None:
        for b in (self.src, self.dst):
            if b is not None:
                b.wires.discard(self)
        self.set_hot(False)

    def set_ordinal(self, ordinal: int) -> None:
        """Which copy of its link this wire draws (0 for the first); later copies bend further out."""
        if ordinal != self.ordinal:
            self.ordinal = ordinal
            self.setToolTip(self._tip())
            self.adjust()

    def set_type_text(self, text: str) -> None:
        """Show the static type of what the wire carries in its tooltip ("" when not known)."""
        if text != self.type_text:
            self.type_text = text
            self.setToolTip(self._tip())

    def _tip(self) -> str:
        ln = self.link
        tip = f"{ln.src}.{ln.src_port} \u2192 {ln.dst}.{ln.dst_port}"
        if self.ordinal:
            tip += f" (copy {self.ordinal + 1})"
        return tip + (f"\n{self.type_text}" if self.type_text else "")

    def adjust(self) -> None:
        if self.src is None or self.dst is None:
            return
        a = self.src.port_scene_pos(self.link.src_port, True)
        b = self.dst.port_scene_pos(self.link.dst_port, False)
        path = curve(a, b, bend=18.0 * self.ordinal)
        self.setPath(path)
        # a wire about as long as a screen is drawn afresh: Qt would cache only its visible part and build
        # that picture again at every step of a pan, which costs more than drawing the thin line
        r = path.controlPointRect()
        long = max(r.width(), r.height()) > LONG_WIRE
        mode = QGraphicsItem.CacheMode.NoCache if long else QGraphicsItem.CacheMode.DeviceCoordinateCache
        if self.cacheMode() != mode:
            self.setCacheMode(mode)

    def set_hot(self, hot: bool, ends: bool = True) -> None:
        """Highlight the wire (and, with ``ends``, the two ports it joins)."""
        if hot == self.hot and not ends:
            return
        self.hot = hot
        if ends:
            for b, port, out in ((self.src, self.link.src_port, True), (self.dst, self.link.dst_port, False)):
                if b is not None:
                    (b.hot_ports.add if hot else b.hot_ports.discard)((port, out))
                    b.update()
        self.update()

    def hoverEnterEvent(self, event: Any) -> None:
        self.set_hot(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self.set_hot(False)
        super().hoverLeaveEvent(event)

    def shape(self) -> QPainterPath:
        s = QPainterPathStroker()
        s.setWidth(14)
        return s.createStroke(self.path())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        t = theme()
        if self.isSelected():
            pen = QPen(t.selected, 3.0)
        elif self.hot:
            pen = QPen(t.hot, 3.0)
        else:
            pen = _wire_pen(t.wire, option.levelOfDetailFromTransform(painter.worldTransform()))
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())


def _wire_pen(colour: QColor, lod: float) -> QPen:
    """A plain wire's pen: 2 units wide while that is wider than a pixel, else one cosmetic pixel. A pen
    at most one pixel wide is drawn by Qt's fast line stroker; wider ones are outlined and filled, which
    costs a few times more for each of the thousands of wires a big page shows when zoomed out."""
    if lod * 2.0 > 1.0:
        return QPen(colour, 2.0)
    pen = QPen(colour, 1.0)
    pen.setCosmetic(True)
    return pen


def curve(a: QPointF, b: QPointF, bend: float = 0.0) -> QPainterPath:
    """A horizontal S-curve from output ``a`` to input ``b``; a wire going backwards loops out of the
    output and into the input instead of cutting through both blocks; ``bend`` pushes its middle that far
    down (or up if negative)."""
    p = QPainterPath(a)
    dx = b.x() - a.x()
    if dx >= 20:
        k = min(max(dx * 0.5, 30.0), 160.0)
    else:  # backwards: leave to the right, come in from the left
        k = 80.0 + min(-dx, 600.0) / 4
    dy = bend * 4.0 / 3.0  # control points this far off put the curve's middle ``bend`` away
    p.cubicTo(QPointF(a.x() + k, a.y() + dy), QPointF(b.x() - k, b.y() + dy), b)
    return p
