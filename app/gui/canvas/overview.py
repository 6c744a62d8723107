"""The canvas far out: every block as a flat box in its category colour and every wire as a straight line,
drawn by the view in a few batched calls instead of one paint call per item.

Zoomed out so far that a block is a few pixels tall (``OVERVIEW_LOD``), a block only paints a flat box (the
level of detail in ``items``) and a wire a hairline: there a page of 10,000 blocks spent most of a frame in
the calls themselves. So the scene turns its items' painting off (``ItemHasNoContents``: they are still
selected, hovered and hit as before) and the view draws this overview of the same picture: the boxes grouped
by colour, the wires as lines, the selection, the error marks and the names of blocks tall enough to show one.
The geometry is read from the items once after each change and kept until the scene says it changed
(``Overview.invalidate``); it also gives the page's rectangle for Fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from enuflow.app.gcpause import paused_gc
from enuflow.app.gui.canvas.items import MIN_TEXT_PX, PAINT_MARGIN, BlockItem, WireItem
from enuflow.app.gui.style import theme

#: below this zoom the view draws the overview (a 90-unit block is then under 5 pixels tall)
OVERVIEW_LOD = 0.05
_ERROR = QColor("#e53935")


class Overview:
    """The batched picture of a scene's blocks and wires, read from ``blocks`` and ``wires()`` when stale: one
    painter path per category colour (the boxes), one of the wires (straight lines), one of the error marks."""

    def __init__(self, blocks: dict[str, BlockItem], wires: Callable[[], Iterable[WireItem]]) -> None:
        self._blocks = blocks
        self._wires = wires
        self._boxes: list[tuple[QColor, QPainterPath]] | None = None
        self._lines = QPainterPath()
        self._tall: list[BlockItem] = []  # blocks in decreasing height (those that may show a name far out)
        self._extent = QRectF()
        self._bodies = QRectF()
        self._marks: QPainterPath | None = None  # the error marks
        #: told when something moved, came or went (once until the geometry is read again): the minimap
        self.on_change: Callable[[], Any] | None = None
        self._told = False

    def invalidate(self) -> None:
        """Something moved, came or went: read the geometry again before the next use."""
        self._boxes = self._marks = None
        if not self._told and self.on_change is not None:
            self._told = True
            self.on_change()

    def invalidate_marks(self) -> None:
        """Some block's errors changed."""
        self._marks = None

    @paused_gc
    def _read(self) -> list[tuple[QColor, QPainterPath]]:
        if self._boxes is not None:
            return self._boxes
        by_colour: dict[int, tuple[QColor, QPainterPath]] = {}
        unknown = theme().unknown
        for it in self._blocks.values():
            c = it.colour if it.known else unknown
            entry = by_colour.get(id(c))  # (a category's colour is one object: ``items._colours``)
            if entry is None:
                entry = by_colour[id(c)] = (c, QPainterPath())
            entry[1].addRect(it.px, it.py, it.width, it.height)
        self._tall = sorted(self._blocks.values(), key=_height, reverse=True)
        bodies = QRectF()
        for _c, path in by_colour.values():  # (the rectangle of the rectangles added, measured by Qt)
            bodies = bodies.united(path.boundingRect())
        self._bodies = bodies
        ml, mt, mr, mb = PAINT_MARGIN
        if by_colour:
            left, top = bodies.left() - ml, bodies.top() - mt
            right, bottom = bodies.right() + mr, bodies.bottom() + mb
        else:
            left = top = float("inf")
            right = bottom = float("-inf")
        lines = QPainterPath()
        boxes = []
        for wire in self._wires():
            if wire.src is None or wire.dst is None:
                continue
            ax, ay, bx, by = wire.ends
            lines.moveTo(ax, ay)
            lines.lineTo(bx, by)
            boxes.append(wire.box)
        if boxes:
            x0, y0, x1, y1 = zip(*boxes)
            left, top, right, bottom = min(left, *x0), min(top, *y0), max(right, *x1), max(bottom, *y1)
        self._lines = lines
        self._extent = QRectF(left, top, right - left, bottom - top) if right >= left else QRectF()
        self._boxes = list(by_colour.values())
        self._told = False
        return self._boxes

    def boxes(self) -> list[tuple[QColor, QPainterPath]]:
        """The blocks' bodies in page units: a path of rectangles per colour."""
        return self._read()

    def blocks_rect(self) -> QRectF:
        """The rectangle of every block's body (empty without blocks)."""
        self._read()
        return QRectF(self._bodies)

    def items_rect(self) -> QRectF:
        """The rectangle of every block and wire as painted (empty without either)."""
        self._read()
        return QRectF(self._extent)

    def draw(self, painter: QPainter, lod: float, selected: list[Any]) -> None:
        """Draw the page at zoom ``lod`` (painter in page units): wires, boxes, selection, errors, names."""
        t = theme()
        boxes = self._read()
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        wire_pen = QPen(t.wire, 1.0)
        wire_pen.setCosmetic(True)
        painter.strokePath(self._lines, wire_pen)
        for colour, path in boxes:
            painter.fillPath(path, colour)
        self._draw_marks(painter, selected)
        painter.restore()
        self._draw_names(painter, lod)

    def _draw_marks(self, painter: QPainter, selected: list[Any]) -> None:
        if self._marks is None:
            self._marks = QPainterPath()
            for it in self._blocks.values():
                if it.errors:
                    side = min(40.0, it.height, it.width)
                    self._marks.addRect(it.px + it.width - side, it.py, side, side)
        painter.fillPath(self._marks, _ERROR)
        if not selected:
            return
        pen = QPen(theme().selected, 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRects([it.mapRectToScene(it.body_rect()) for it in selected if isinstance(it, BlockItem)])
        painter.drawLines([QLineF(*w.ends) for w in selected if isinstance(w, WireItem)])

    def _draw_names(self, painter: QPainter, lod: float) -> None:
        """Blocks tall enough to show their short name at this zoom paint their far-out box themselves."""
        need = MIN_TEXT_PX / lod + 4
        for it in self._tall:
            if it.height < need:
                break
            painter.save()
            painter.translate(it.scenePos())
            it.paint_box(painter, lod, it.colour if it.known else theme().unknown, it.isSelected())
            painter.restore()


def _height(it: BlockItem) -> float:
    return it.height
