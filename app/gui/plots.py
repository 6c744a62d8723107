"""The plots of the results dock, drawn with pyqtgraph: a trend of a scalar over steps (log scale,
zoom and pan), a heat map of a 2-D result with its colour bar, and tensors as images (a last axis of
k*k elements is a k x k tile: an MNIST weight row [784] is one 28 x 28 tile, [10, 784] ten tiles).

Every plot samples what it draws (at most ``LIMIT`` cells a side, ``MAX_TILES`` tiles), so a tensor of
millions of elements never stalls the window; pyqtgraph does its own zoom, pan and axes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

LIMIT = 512
MAX_TILES = 256
pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
_CMAP = "viridis"


def _numeric(a: np.ndarray) -> bool:
    return a.size > 0 and a.dtype.kind in "biuf"


def heat_data(arr: Any, limit: int = LIMIT) -> np.ndarray | None:
    """A 2-D float view of a 1-D or 2-D numeric result, sampled to at most ``limit`` cells a side."""
    a = np.asarray(arr)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or not _numeric(a):
        return None
    sr = max(1, -(-a.shape[0] // limit))
    sc = max(1, -(-a.shape[1] // limit))
    return np.asarray(a[::sr, ::sc], dtype=np.float64)


def tile_side(arr: Any) -> int | None:
    """k when the last axis holds k*k elements (k >= 2) of a numeric tensor, else None."""
    a = np.asarray(arr)
    if a.ndim == 0 or not _numeric(a):
        return None
    n = a.shape[-1]
    k = math.isqrt(n)
    return k if k >= 2 and k * k == n else None


def tile_mosaic(arr: Any, max_tiles: int = MAX_TILES, gap: int = 1) -> tuple[np.ndarray, int, int] | None:
    """The tensor's k x k tiles laid out in a grid with ``gap`` NaN cells between them.

    Returns (mosaic, tiles shown, tiles in all), or None when the last axis is not a square number."""
    k = tile_side(arr)
    if k is None:
        return None
    a = np.asarray(arr)
    flat = a.reshape(-1, k * k)
    total = flat.shape[0]
    n = min(total, max_tiles)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / cols)
    out = np.full((rows * (k + gap) - gap, cols * (k + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (k + gap):r * (k + gap) + k, c * (k + gap):c * (k + gap) + k] = flat[i].reshape(k, k)
    return out, n, total


def _levels(data: np.ndarray) -> tuple[float, float] | None:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


class ImagePlot(QWidget):
    """An image of numbers with axes (column, row), zoom and pan, and a colour bar giving the scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget()
        self.plot = self.canvas.addPlot()
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.getAxis("bottom").setLabel("column")
        self.plot.getAxis("left").setLabel("row")
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(colorMap=pg.colormap.get(_CMAP), interactive=False, width=14)
        self.colour_bar.setImageItem(self.image, insert_in=self.plot)
        self.note = QLabel()
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.note)
        self.data: np.ndarray | None = None

    def show_data(self, data: np.ndarray | None, note: str = "") -> bool:
        """Show ``data`` (2-D floats, NaN left blank) fitted into the view; False (and a note) if None."""
        self.data = data
        levels = _levels(data) if data is not None else None
        if data is None or levels is None:
            self.image.clear()
            self.note.setText(note)
            return False
        self.image.setImage(data, autoLevels=False, levels=levels)
        self.colour_bar.setLevels(levels)
        self.plot.autoRange(padding=0.02)
        self.note.setText(note)
        return True

    def reset(self) -> None:
        """Nothing shown, and the axes back to where a new plot starts."""
        self.show_data(None)
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.plot.enableAutoRange()

    def levels(self) -> tuple[float, float]:
        return tuple(float(x) for x in self.colour_bar.levels())


class HeatMap(ImagePlot):
    """A 1-D or 2-D result as a heat map (sampled to ``LIMIT`` cells a side); cells stretch to the panel,
    so a [40, 300] matrix is readable in a narrow dock."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot.setAspectLocked(False)

    def set_array(self, arr: Any) -> bool:
        a = np.asarray(arr) if arr is not None else None
        data = heat_data(a) if a is not None else None
        if data is None:
            return self.show_data(None, "Heat map: 1-D or 2-D numbers only.")
        sampled = a.shape if a.ndim == 2 else (1, a.shape[0])
        note = "" if data.shape == tuple(sampled) else f"sampled: {data.shape[0]} x {data.shape[1]} of {sampled}"
        return self.show_data(data, note)


class TileView(ImagePlot):
    """A tensor whose last axis is a square number as a grid of square image tiles."""

    def set_array(self, arr: Any) -> bool:
        m = tile_mosaic(arr) if arr is not None else None
        if m is None:
            return self.show_data(None, "Images: a tensor whose last axis is a square number (784 -> 28 x 28).")
        mosaic, n, total = m
        k = tile_side(arr)
        more = f" (first {n})" if n < total else ""
        self.tiles = n
        return self.show_data(mosaic, f"{total} tile(s) of {k} x {k}{more}")


class TrendPlot(QWidget):
    """A scalar's value per step, with a log scale for a cost that falls over decades."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[float] = []
        self.steps: list[int] | None = None
        self.title = ""
        self.canvas = pg.PlotWidget()
        self.canvas.showGrid(x=True, y=True, alpha=0.25)
        self.canvas.getAxis("bottom").setLabel("step")
        self.curve = self.canvas.plot([], [], pen=pg.mkPen("#1e88e5", width=2))
        self.log = QCheckBox("log scale")
        self.log.toggled.connect(self._apply_log)
        self.label = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.log)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.canvas, 1)
        self.setMinimumHeight(140)

    def set_values(self, title: str, values: list[float], steps: list[int] | None = None) -> None:
        """Plot ``values`` against their step numbers ``steps`` (None: 1, 2, ...)."""
        self.title = title
        self.values = [float(v) for v in values]
        self.steps = list(steps) if steps is not None and len(steps) == len(self.values) else None
        self.label.setText(title if self.values else "No trend: run a looped page, or pick a scalar")
        self._draw()

    def reset(self) -> None:
        """No trend, and the axes back to where a new plot starts."""
        self.set_values("", [])
        self.canvas.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.canvas.enableAutoRange()

    def _draw(self) -> None:
        y = np.asarray(self.values, dtype=np.float64)
        x = (np.asarray(self.steps, dtype=np.float64) if self.steps is not None
             else np.arange(1, len(y) + 1, dtype=np.float64))
        ok = np.isfinite(y)
        if self.log.isChecked():
            ok &= y > 0  # a log axis cannot show zero or negative values
        self.curve.setData(x[ok], y[ok])
        self.canvas.enableAutoRange()

    def _apply_log(self, on: bool) -> None:
        self.canvas.setLogMode(x=False, y=on)
        self._draw()

    def shown(self) -> tuple[np.ndarray, np.ndarray]:
        """The points drawn now (x, y)."""
        x, y = self.curve.getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))
