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
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from enuflow.app.gui import blocktypes
from enuflow.app.gui.style import dtype_colour, font, header_colours, theme
from enuflow.app.gui.target import device_colour
from enuflow.app.document.page import BlockInstance, Link
from enuflow.app.document.tensors import cell_text, dtype_name

_OK_BRUSH = QBrush(QColor("#00c853"))
_NO_BRUSH = QBrush(QColor("#e53935"))
_NO_PEN = QPen(Qt.PenStyle.NoPen)
# Qt's enums looked up once: each lookup through the class is a Python call (tens of thousands per page)
_FLAG = QGraphicsItem.GraphicsItemFlag
_BLOCK_FLAGS = _FLAG.ItemIsSelectable | _FLAG.ItemIsMovable
_WIRE_FLAGS = _FLAG.ItemIsSelectable
_NO_CONTENTS = _FLAG.ItemHasNoContents
_BLOCK_HIDDEN = _BLOCK_FLAGS | _NO_CONTENTS
_WIRE_HIDDEN = _WIRE_FLAGS | _NO_CONTENTS
_CACHED = QGraphicsItem.CacheMode.DeviceCoordinateCache
_UNCACHED = QGraphicsItem.CacheMode.NoCache
WIRE_HIT = 14.0  # how wide a band around a wire a press or hover takes

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
TYPE_PT = 7           # a wire's static type (f32[?,784]), written at its middle where it can be read
LONG_WIRE = 1500.0  # page units: a wire longer than this is not cached as a picture
#: how far a block's painted area reaches beyond its body (left, top, right, bottom): ports, the error badge
PAINT_MARGIN = (PORT_R + 3, 12.0, PORT_R + 3, 3.0)


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


@lru_cache(maxsize=8)
def _widest(size: int, bold: bool) -> float:
    """The widest advance of any letter of the font (a title of n letters is at most n times this wide)."""
    return _metrics(size, bold).maxWidth()


@lru_cache(maxsize=16)
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


@lru_cache(maxsize=512)
def _colours(category: str) -> tuple[QColor, QColor]:
    return header_colours(category)


@lru_cache(maxsize=256)
def _stripe(device: str) -> QColor | None:
    return device_colour(device)


@lru_cache(maxsize=4096)
def _label_width(names: tuple[str, ...]) -> float:
    """The widest of these port labels (blocks of one type share their labels)."""
    fm = _metrics(PORT_PT, False)
    return max((fm.horizontalAdvance(n) for n in names), default=0.0)


@lru_cache(maxsize=1024)
def _header_path(width: float, header: float, height: float, collapsed: bool) -> QPainterPath:
    """The header's outline: rounded on top, square where it meets the body (shared by blocks of a size)."""
    head = height if collapsed else header
    hdr = QPainterPath()
    hdr.setFillRule(Qt.FillRule.WindingFill)  # the two shapes' overlap is filled, not a hole
    hdr.addRoundedRect(QRectF(0.5, 0.5, width - 1, head - 1 if collapsed else head), 5, 5)
    if not collapsed:
        hdr.addRect(QRectF(0.5, header - 5, width - 1, 5.5))
    return hdr.simplified()


@lru_cache(maxsize=4096)
def _sub_width(text: str) -> float:
    return _metrics(SUB_PT, False).horizontalAdvance(text)


#: the output names of declarations without list outputs (the same for every instance), by id
_fixed_outputs: dict[int, tuple[Any, tuple[str, ...]]] = {}


def _output_names(decl: Any, pins: dict[str, Any], wired: set[str]) -> list[str]:
    if decl is None:
        return []
    hit = _fixed_outputs.get(id(decl))
    if hit is not None and hit[0] is decl:
        return list(hit[1])
    names = blocktypes.output_ports(decl, pins, wired)
    if not any(p.is_list for p in decl.outputs):
        if len(_fixed_outputs) > 4096:
            _fixed_outputs.clear()
        _fixed_outputs[id(decl)] = (decl, tuple(names))
    return names


class _Form:
    """What the blocks of one type (with the same output ports, type line and collapsed state) share: their
    ports, colours and every size but the width, which each block's title sets (``BlockItem.refresh``)."""

    __slots__ = ("decl", "attrs", "min_width")

    def __init__(self, type_name: str, decl: Any, outputs: list[str], subtitle: str, collapsed: bool) -> None:
        self.decl = decl
        inputs = [p.name for p in decl.inputs] if decl else []
        category = decl.category if decl else "unknown"
        colour, title_colour = _colours(category)
        title_h = _line(TITLE_PT, True) + 8
        header = title_h + (_line(SUB_PT) if subtitle else 0.0) + 2
        row = max(20.0, _line(PORT_PT) + 5)
        preview_row = _line(PREVIEW_PT) + 2
        preview_rows = min(len(outputs), PREVIEW_ROWS)
        if collapsed:  # the title bar only
            body_h = height = title_h + 2
        else:
            body_h = header + max(len(inputs), len(outputs), 1) * row + 6
            height = body_h + (preview_rows * preview_row + 8 if preview_rows else 0)
        def port_ys(names: list[str]) -> dict[str, float]:  # (``BlockItem._port_y``; the first of a name)
            ys: dict[str, float] = {}
            for i, n in enumerate(names):
                ys.setdefault(n, height / 2 if collapsed else header + i * row + row / 2 + 3)
            return ys

        self.attrs = {"type_name": type_name, "known": decl is not None, "subtitle": subtitle,
                      "collapsed": collapsed, "inputs": inputs, "outputs": outputs, "category": category,
                      "colour": colour, "title_colour": title_colour, "title_h": title_h, "header": header,
                      "row": row, "preview_row": preview_row, "preview_rows": preview_rows, "body_h": body_h,
                      "height": height, "in_ys": port_ys(inputs), "out_ys": port_ys(outputs)}
        w_sub = _sub_width(subtitle) + 28 if subtitle else 0.0
        w_ports = _label_width(tuple(inputs)) + _label_width(tuple(outputs)) + 2 * (PORT_R + 10) + 24
        w_note = 0.0 if decl is not None else _label_width((_UNKNOWN_NOTE,)) + 20
        self.min_width = max(MIN_WIDTH, w_sub, w_ports, w_note)


_forms: dict[tuple[Any, ...], _Form] = {}


def _form(type_name: str, pins: dict[str, Any], wired_out: set[str], subtitle: str, collapsed: bool) -> _Form:
    """The shared form of a block (made once per type, ports, type line and collapsed state)."""
    decl = blocktypes.lookup(type_name)
    outputs = _output_names(decl, pins, wired_out)
    key = (type_name, id(decl), tuple(outputs), subtitle, collapsed)
    f = _forms.get(key)
    if f is None or f.decl is not decl:
        if len(_forms) > 4096:
            _forms.clear()
        f = _forms[key] = _Form(type_name, decl, outputs, subtitle, collapsed)
    return f


@lru_cache(maxsize=1024)
def _rects(width: float, height: float) -> tuple[QRectF, QRectF]:
    """A block's body and painted area (shared, never changed in place)."""
    body = QRectF(0, 0, width, height)
    ml, mt, mr, mb = PAINT_MARGIN
    return body, body.adjusted(-ml, -mt, mr, mb)


class BlockItem(QGraphicsRectItem):
    """One block: a header with its name (and type, when the name is not the type), inputs on the left,
    outputs on the right, and the latest result of each output below them (greyed and tagged when an
    edit made them stale). Hovering a port names its dtype, doc and value.

    Its rectangle (``rect()``, Qt's own bounding rectangle and shape) is the area it paints: the body and the
    ports that stick out. It does not follow its own moves: whoever moves it (the scene, with ``place``) moves
    its wires, so that moving thousands of blocks costs no Python call per move inside Qt. ``px`` and ``py``
    hold its position as plain numbers for the wires (``setPos`` from Python keeps them; a drag by the mouse,
    which Qt does itself, is followed by the scene).
    """

    # defaults shared until a block sets its own (a page of 10,000 blocks is made in a fraction of a second)
    errors: list[str] = []
    previews: dict[str, str] = {}
    _preview_lines: list[str] = []
    highlight: tuple[str, bool, bool] | None = None  # (port, is_output, allowed)
    hot_ports: frozenset[tuple[str, bool]] | set[tuple[str, bool]] = frozenset()  # ends of a hovered wire
    hovered = False
    quiet = False  # paints nothing: the canvas's overview draws it (``set_quiet``)
    stale = False  # the previews are from before the last edit
    cached = False  # the last run took its results from the run before (a cached re-run)
    #: (port, is_output) -> the dtype the worker's static check found there (ports are coloured by it)
    port_dtypes: dict[tuple[str, bool], str] = {}

    def __init__(self, block: BlockInstance, wired_out: set[str] | None = None, hidden: bool = False) -> None:
        """``hidden``: paints nothing (``ItemHasNoContents``: the canvas's overview draws it far out)."""
        super().__init__()
        self.block_id = block.id
        self.setFlags(_BLOCK_HIDDEN if hidden else _BLOCK_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setPen(_NO_PEN)
        if hidden:
            self.quiet = True
        else:
            # panning blits the block's picture instead of painting it again (the cache is redrawn on a zoom
            # or an update()); a quiet block gets its cache when it paints again (``set_quiet``)
            self.setCacheMode(_CACHED)
        self.wires: set[WireItem] = set()
        self.wired_out: set[str] = set(wired_out) if wired_out else set()  # wired elements of list outputs
        self.refresh(block)
        self.place(block.pos[0], block.pos[1])

    def set_quiet(self, quiet: bool) -> None:
        """Paint nothing (``quiet``: the canvas's overview draws the block) or paint again, from a cached picture."""
        if quiet != self.quiet:
            self.quiet = quiet
            self.setFlag(_NO_CONTENTS, quiet)
            if not quiet:
                self.setCacheMode(_CACHED)

    def place(self, x: float, y: float) -> None:
        """Move to (x, y) (the caller moves the wires: ``WireItem.follow``)."""
        self.px, self.py = x, y
        QGraphicsRectItem.setPos(self, x, y)

    def setPos(self, *pos: Any) -> None:  # noqa: N802 - Qt's name
        QGraphicsRectItem.setPos(self, *pos)
        p = self.pos()
        self.px, self.py = p.x(), p.y()

    # -- content ------------------------------------------------------------------------------
    def refresh(self, block: BlockInstance) -> None:
        """Re-read name, ports, category and collapsed flag from the page's block (after a pin or label change)
        and size the block to its content: title, type, port labels side by side (never to its results)."""
        title = block.label or block.id
        subtitle = block.type if title != block.type else ""
        form = _form(block.type, block.pins, self.wired_out, subtitle, bool(block.collapsed))
        self.__dict__.update(form.attrs)  # what blocks of its type share, in one step
        self.title = title
        self.short = short_name(title)
        self.stripe = _stripe(block.device) if block.device else None  # its cluster task's colour, if any
        w = form.min_width
        # (a short title in the font's own letters fits whatever they are: not measured)
        if len(title) * _widest(TITLE_PT, True) + 28 > w or not title.isascii():
            w = max(w, _metrics(TITLE_PT, True).horizontalAdvance(title) + 28)
        self.width = float(-(-int(w) // 10) * 10)  # whole tens line up with the grid
        self._preview_lines = self._preview_text() if self.previews else []
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
        self._rect, self._bounds = _rects(self.width, self.height)
        self.setRect(self._bounds)  # Qt's bounding rectangle and shape
        self._header_path = _header_path(self.width, self.header, self.height, self.collapsed)

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

    def port_colour(self, name: str, is_output: bool) -> QColor | None:
        """The colour of the dtype port ``name`` carries (None: not known; drawn in the theme's port colour)."""
        return dtype_colour(self.port_dtypes.get((name, is_output)))

    def set_port_dtypes(self, dtypes: dict[tuple[str, bool], str]) -> None:
        if dtypes != self.port_dtypes:
            self.port_dtypes = dtypes
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
    def body_rect(self) -> QRectF:
        """The block's body in item coordinates (what must not overlap another block)."""
        return QRectF(self._rect)

    def _port_y(self, i: int) -> float:
        if self.collapsed:  # every wire meets the middle of the title bar
            return self.height / 2
        return self.header + i * self.row + self.row / 2 + 3

    def port_y(self, name: str, is_output: bool) -> float:
        """How far below the block's top port ``name`` is drawn (a port the declaration does not know (yet):
        the middle of the header)."""
        y = (self.out_ys if is_output else self.in_ys).get(name)
        return min(self.header, self.height) / 2 if y is None else y

    def port_local(self, name: str, is_output: bool) -> QPointF | None:
        names = self.outputs if is_output else self.inputs
        if name not in names:
            return None
        return QPointF(self.width if is_output else 0.0, self._port_y(names.index(name)))

    def port_scene_pos(self, name: str, is_output: bool) -> QPointF:
        p = self.scenePos()
        return QPointF(p.x() + (self.width if is_output else 0.0), p.y() + self.port_y(name, is_output))

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
            self.paint_box(painter, lod, header_colour, selected)
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

    def paint_box(self, painter: QPainter, lod: float, colour: QColor, selected: bool) -> None:
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
                painter.setBrush(t.hot if hot else self.port_colour(name, is_output) or colour)
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


class WireItem(QGraphicsRectItem):
    """A curved wire from an output port to an input port, beneath the blocks; it follows its blocks as
    they move (``adjust``, called by the scene), and is highlighted with its two ports while the cursor is on
    it (or on one of its blocks).

    The second and later copies of a link (the same output wired again into a list port) bend further out, so
    that each copy can be seen and selected. Its rectangle (``rect()``: Qt's bounding rectangle, so that Qt
    asks Python nothing to index or cull it) is worked out from the curve's points; the curve itself is made
    when first drawn or asked for (``path``), its outline when a press or hover asks for its ``shape``, and
    its tooltip when the cursor comes onto it: so a page of 10,000 wires is made, and moved by an Auto
    Layout, in a fraction of a second.
    """

    # defaults shared until a wire sets its own (a page of 13,000 wires is made in a fraction of a second)
    ordinal = 0
    hot = False
    quiet = False  # paints nothing: the canvas's overview draws it (``set_quiet``)
    loose = False  # not an item of the scene (yet): the overview draws it (``settle_in``)
    #: not cached as a picture (``LONG_WIRE``); None until first placed (``follow`` sets the cache mode then)
    _long: bool | None = None
    _path: QPainterPath | None = None
    _shape: QPainterPath | None = None
    #: the static type of what the wire carries (``f32[?,784]``), from the worker's check, or ""
    type_text = ""
    ends = (0.0, 0.0, 0.0, 0.0)  # (x, y) of its output port, then of its input port, in page units
    box = (0.0, 0.0, 0.0, 0.0)  # its bounding rectangle's left, top, right and bottom in page units
    _dy = (0.0, 0.0)  # its ports' heights below their blocks' tops

    def __init__(self, link: Link, src: BlockItem | None, dst: BlockItem | None, hidden: bool = False,
                 loose: bool = False) -> None:
        """``hidden``: paints nothing (``ItemHasNoContents``: the canvas's overview draws it far out). ``loose``: made
        for the overview only, kept out of the scene until the scene's items paint again (``settle_in``)."""
        super().__init__()
        self.link = link
        self.src = src
        self.dst = dst
        if loose:
            self.loose = self.quiet = True
        else:
            self._scene_flags(hidden)
        # (Qt's own pen is never drawn: ``paint`` draws the curve; it only widens the bounds by half a unit)
        for b in (src, dst):
            if b is not None:
                b.wires.add(self)
        self.adjust()  # sets the cache mode (one call a wire: a picture unless it is long; none while quiet)
        if self._long is None and not hidden:  # (an end missing: not placed)
            self._long = False
            self.setCacheMode(_CACHED)

    def _scene_flags(self, quiet: bool) -> None:
        self.setFlags(_WIRE_HIDDEN if quiet else _WIRE_FLAGS)
        if quiet:
            self.quiet = True
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)

    def settle_in(self, scene: Any) -> None:
        """Go into ``scene`` as one of its items, painting itself (a loose wire, when the overview gives way)."""
        self._scene_flags(False)
        self.loose = self.quiet = False
        self._cache_again()
        scene.addItem(self)

    def set_quiet(self, quiet: bool) -> None:
        """Paint nothing (``quiet``: the canvas's overview draws the wire) or paint again (cached unless long)."""
        if quiet != self.quiet and not self.loose:
            self.quiet = quiet
            self.setFlag(_NO_CONTENTS, quiet)
            if not quiet:
                self._cache_again()

    def _cache_again(self) -> None:
        """Painting again: a picture cache, unless the wire is long (a wire with an end missing: cached)."""
        if self.src is not None and self.dst is not None:
            self._cache_by_length()
        else:
            self.setCacheMode(_CACHED)

    def tip(self) -> str:
        ln = self.link
        if ln.src_port == "^":
            return f"control: {ln.dst} runs after {ln.src}"
        tip = f"{ln.src}.{ln.src_port} \u2192 {ln.dst}.{ln.dst_port}"
        if self.ordinal:
            tip += f" (copy {self.ordinal + 1})"
        return tip + (f"\n{self.type_text}" if self.type_text else "")

    def detach(self) -> None:
        for b in (self.src, self.dst):
            if b is not None:
                b.wires.discard(self)
        self.set_hot(False)

    def set_ordinal(self, ordinal: int) -> None:
        """Which copy of its link this wire draws (0 for the first); later copies bend further out."""
        if ordinal != self.ordinal:
            self.ordinal = ordinal
            if self.toolTip():
                self.setToolTip(self.tip())
            self.adjust()

    def set_type_text(self, text: str) -> None:
        """Show the static type of what the wire carries in its tooltip, and written at its middle where the zoom
        lets it be read ("" when not known)."""
        if text != self.type_text:
            self.type_text = text
            self.setToolTip(self.tip())
            self.follow()

    def label_rect(self) -> QRectF | None:
        """Where the static type is written: just above the middle of the wire (None without one)."""
        if not self.type_text:
            return None
        ax, ay, bx, by = self.ends
        w, h = _metrics(TYPE_PT, False).horizontalAdvance(self.type_text) + 4, _metrics(TYPE_PT, False).height()
        return QRectF((ax + bx) / 2 - w / 2, (ay + by) / 2 - h - 3, w, h)

    def path(self) -> QPainterPath:
        """The curve as drawn, in page units."""
        if self._path is None:
            ax, ay, bx, by = self.ends
            self._path = curve_xy(ax, ay, bx, by, 18.0 * self.ordinal)
        return self._path

    def shape(self) -> QPainterPath:
        """A band ``WIRE_HIT`` wide along the curve (made when first asked for after a change)."""
        if self._shape is None:
            s = QPainterPathStroker()
            s.setWidth(WIRE_HIT)
            self._shape = s.createStroke(self.path())
        return self._shape

    def adjust(self) -> None:
        """Follow the ports' places (after either block changed its ports or moved)."""
        src, dst = self.src, self.dst
        if src is None or dst is None:
            return
        self._dy = (src.port_y(self.link.src_port, True), dst.port_y(self.link.dst_port, False))
        self.follow()

    def follow(self) -> None:
        """Follow the blocks' places (after either block moved; its ports are where they were)."""
        src, dst = self.src, self.dst
        if src is None or dst is None:
            return
        dy = self._dy
        ax, ay = src.px + src.width, src.py + dy[0]
        bx, by = dst.px, dst.py + dy[1]
        self.ends = (ax, ay, bx, by)
        if self._path is not None:  # (the outline is made from the curve: none without it)
            self._path = self._shape = None
        # the box of the curve's control points (``curve_box`` written out: this runs for every wire at every move),
        # widened by the hit band and the widest pen painted (3 units)
        dx = bx - ax
        if dx >= 20:
            k = dx * 0.5
            k = 30.0 if k < 30.0 else 160.0 if k > 160.0 else k
        else:
            k = 80.0 + (600.0 if dx < -600.0 else -dx) / 4
        c1x, c2x = ax + k, bx - k
        h = WIRE_HIT / 2
        lo, hi = (ay, by) if ay <= by else (by, ay)
        if self.ordinal:
            hi += 24.0 * self.ordinal  # a later copy bends further down: its control points 4/3 of the bend
        box = ((c2x if c2x < ax else ax) - h, lo - h, (c1x if c1x > bx else bx) + h, hi + h)
        if self.type_text:  # the static type written at the middle of the wire
            label = self.label_rect()
            box = (min(box[0], label.left()), min(box[1], label.top()), max(box[2], label.right()),
                   max(box[3], label.bottom()))
        if not self.quiet:
            self._cache_by_length()
        if box == self.box:
            self.update()  # the same rectangle, but the curve may have changed within it
        else:
            self.box = box
            self.setRect(box[0], box[1], box[2] - box[0], box[3] - box[1])  # Qt updates the old and new area

    def _cache_by_length(self) -> None:
        """A wire about as long as a screen is drawn afresh: Qt would cache only its visible part and build that
        picture again at every step of a pan, which costs more than drawing the thin line."""
        x0, y0, x1, y1 = curve_box(*self.ends, 18.0 * self.ordinal)
        long = x1 - x0 > LONG_WIRE or y1 - y0 > LONG_WIRE
        if long != self._long:
            self._long = long
            self.setCacheMode(_UNCACHED if long else _CACHED)

    def set_hot(self, hot: bool, ends: bool = True) -> None:
        """Highlight the wire (and, with ``ends``, the two ports it joins)."""
        if hot == self.hot and not ends:
            return
        self.hot = hot
        if ends:
            for b, port, out in ((self.src, self.link.src_port, True), (self.dst, self.link.dst_port, False)):
                if b is not None:
                    b.hot_ports = (b.hot_ports | {(port, out)}) if hot else (b.hot_ports - {(port, out)})
                    b.update()
        self.update()

    def hoverEnterEvent(self, event: Any) -> None:
        if not self.toolTip():
            self.setToolTip(self.tip())
        self.set_hot(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: Any) -> None:
        self.set_hot(False)
        super().hoverLeaveEvent(event)

    def pen(self, lod: float) -> QPen:
        """The pen at zoom ``lod``: selected, hot or plain; dashed for a control link (``^``: the reader runs after
        the block it comes from, TensorFlow's control input)."""
        t = theme()
        if self.isSelected():
            pen = QPen(t.selected, 3.0)
        elif self.hot:
            pen = QPen(t.hot, 3.0)
        else:
            pen = _wire_pen(t.wire, lod)
        if self.link.src_port == "^":
            pen.setStyle(Qt.PenStyle.DashLine)
        return pen

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        label = self.label_rect()
        if label is not None and _metrics(TYPE_PT, False).height() * lod >= MIN_TEXT_PX:
            painter.setFont(font(TYPE_PT))
            painter.setPen(theme().muted)
            painter.drawText(label, Qt.AlignmentFlag.AlignCenter, self.type_text)
        painter.setPen(self.pen(lod))
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
    return curve_xy(a.x(), a.y(), b.x(), b.y(), bend)


def _reach(ax: float, bx: float, bend: float) -> tuple[float, float]:
    """How far a curve's control points stand right of ``ax`` and left of ``bx`` (the same), and below."""
    dx = bx - ax
    if dx >= 20:
        k = min(max(dx * 0.5, 30.0), 160.0)
    else:  # backwards: leave to the right, come in from the left
        k = 80.0 + min(-dx, 600.0) / 4
    return k, bend * 4.0 / 3.0  # control points this far off put the curve's middle ``bend`` away


def curve_xy(ax: float, ay: float, bx: float, by: float, bend: float = 0.0) -> QPainterPath:
    """``curve`` from (ax, ay) to (bx, by)."""
    k, dy = _reach(ax, bx, bend)
    p = QPainterPath()
    p.moveTo(ax, ay)
    p.cubicTo(ax + k, ay + dy, bx - k, by + dy, bx, by)
    return p


def curve_box(ax: float, ay: float, bx: float, by: float, bend: float = 0.0) -> tuple[float, float, float, float]:
    """The rectangle of the control points (left, top, right, bottom) of ``curve`` from (ax, ay) to (bx, by),
    which holds the curve."""
    # (``_reach`` written out, and comparisons for min and max: this runs for every wire at every move)
    dx = bx - ax
    if dx >= 20:
        k = dx * 0.5
        k = 30.0 if k < 30.0 else 160.0 if k > 160.0 else k
    else:
        k = 80.0 + (600.0 if -dx > 600.0 else -dx) / 4
    dy = bend * 4.0 / 3.0
    c1x, c2x = ax + k, bx - k
    lo, hi = (ay, by) if ay <= by else (by, ay)
    return (c2x if c2x < ax else ax, lo + dy if dy < 0 else lo, c1x if c1x > bx else bx, hi + dy if dy > 0 else hi)
