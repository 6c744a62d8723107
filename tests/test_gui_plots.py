"""The results dock's plots (pyqtgraph): the heat map fits the panel with a colour scale, trends have a
log scale and zoom with the wheel, and tensors whose last axis is a square number show as image tiles."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from enuflow.app.gui.plots import tile_mosaic
from enuflow.app.gui.results import ResultsDock


@pytest.fixture
def dock(qtbot):
    d = ResultsDock()
    qtbot.addWidget(d)
    d.resize(320, 420)  # the default width of the dock in the window
    d.show()
    qtbot.waitExposed(d)
    return d


def test_heat_map_fits_the_panel_and_has_a_colour_scale(dock, qtbot):
    rng = np.random.default_rng(1)
    m = rng.normal(size=(40, 300)).astype(np.float32)
    dock.set_results({("b", "out"): m}, {})
    dock.show_block("b")
    dock.tabs.setCurrentWidget(dock.heat)
    qtbot.wait(20)
    (x0, x1), (y0, y1) = dock.heat.plot.viewRange()
    assert x0 <= 0 and x1 >= 300 and y0 <= 0 and y1 >= 40  # nothing cropped
    assert x1 - x0 < 300 * 1.2  # and it fills the panel's width
    lo, hi = dock.heat.levels()
    assert lo == pytest.approx(float(m.min())) and hi == pytest.approx(float(m.max()))
    assert dock.heat.colour_bar.isVisible()
    np.testing.assert_array_equal(dock.heat.image.image, m.astype(np.float64))


def test_trend_log_scale_and_wheel_zoom(dock, qtbot):
    cost = [10.0 ** -k for k in range(6)]
    dock.history = {("loss", "output"): cost}
    dock.show_block("loss")
    dock.tabs.setCurrentIndex(dock.tabs.count() - 1)
    dock.trend_choice.setCurrentText("loss.output")
    t = dock.trend
    assert t.values == cost
    t.log.click()  # the person ticks "log scale"
    qtbot.wait(20)
    _, (y0, y1) = t.canvas.getViewBox().viewRange()
    assert y0 <= -5 + 0.3 and y1 >= -0.3  # five decades, in log10 units
    x, y = t.shown()
    np.testing.assert_allclose(y, np.log10(cost))  # drawn on a log axis
    before = t.canvas.getViewBox().viewRange()[0]
    vp = t.canvas.viewport()
    centre = QPointF(vp.width() / 2, vp.height() / 2)
    ev = QWheelEvent(centre, QPointF(vp.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)
    after = t.canvas.getViewBox().viewRange()[0]
    assert after[1] - after[0] < before[1] - before[0]  # zoomed in


def test_mnist_weights_show_as_image_tiles(dock, qtbot):
    rng = np.random.default_rng(2)
    w = rng.random((10, 784), dtype=np.float32)
    row = rng.random(784, dtype=np.float32)
    dock.set_results({("W", "value"): w, ("r", "value"): row, ("n", "value"): np.arange(10.0)}, {})
    dock.show_block("W")
    assert dock.tabs.currentWidget() is dock.images
    assert dock.images.tiles == 10 and "28 x 28" in dock.images.note.text()
    mosaic = dock.images.data
    cols = 4  # ten tiles: 4 a row, 3 rows
    for i in range(10):
        r, c = divmod(i, cols)
        np.testing.assert_array_equal(mosaic[r * 29:r * 29 + 28, c * 29:c * 29 + 28], w[i].reshape(28, 28))
    dock.show_block("r")
    assert dock.images.tiles == 1
    np.testing.assert_array_equal(dock.images.data, row.reshape(28, 28))
    dock.show_block("n")  # 10 is not a square number: no tiles
    assert dock.images.data is None and "square" in dock.images.note.text()
    assert tile_mosaic(np.zeros((3, 5, 16)))[1] == 15
