"""The Training dock's plots (pyqtgraph) are made when the dock is first shown or drawn on, not with every
window: a window that never trains makes none; shown, the dock has both plots, visible, with their titles."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsView


def test_training_plots_are_made_when_the_dock_is_shown(new_window, qtbot):
    w = new_window()
    panel = w.training
    assert not panel.findChildren(QGraphicsView)  # (a pyqtgraph plot is a QGraphicsView)
    dock = w._docks["Training"]
    dock.show()
    dock.raise_()
    qtbot.waitUntil(lambda: len(panel.findChildren(QGraphicsView)) == 2
                    and all(p.isVisible() for p in panel.findChildren(QGraphicsView)))
    plots = panel.findChildren(QGraphicsView)
    assert all(isinstance(p, pg.PlotWidget) for p in plots)
    assert {p.getPlotItem().titleLabel.text for p in plots} == {"losses", "metrics"}


def test_curves_drawn_before_the_dock_is_shown_are_kept(new_window):
    w = new_window()
    plot = w.training.losses
    plot.set_points("loss.loss", "train", "#1f77b4", [1, 2], [0.5, 0.25])
    x, y = plot.curves[("loss.loss", "train")].getData()
    assert list(x) == [1.0, 2.0] and list(y) == [0.5, 0.25]
    assert [label.text for _sample, label in plot.legend.items] == ["loss.loss train"]
    plot.clear()
    assert not plot.curves and not plot.legend.items
