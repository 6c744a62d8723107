"""The results dock: the selected block's result pins as a table, a heat map and a trend plot.

The table is a ``QAbstractTableModel`` that reads the numpy array cell by cell as the view scrolls,
so a tensor of millions of elements is never copied into widgets. The heat map, the image tiles and
the trend plot (a scalar's value per step of looped runs, and ``page.extra["trends"]`` when a page
carries stored trends) are pyqtgraph plots from ``app.gui.plots``, each made when its tab is first shown or a result
needs it (``_Later``: making the three took a tenth of a second of every window's start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTableView, QTabWidget, QVBoxLayout, QWidget

from enuflow.app.document.tensors import cell_text, dtype_name
from enuflow.app.gui.choices import refill
from enuflow.app.gui.plots import HeatMap, TileView, TrendPlot


#: the trend plot's own minimum height (``TrendPlot``), kept by its tab before the plot is made
TREND_MIN_HEIGHT = 140


class ArrayTableModel(QAbstractTableModel):
    """A numpy array as rows and columns (0-D: one cell; 1-D: one column; N-D: last axis as columns)."""

    def __init__(self, arr: np.ndarray | None = None) -> None:
        super().__init__()
        self.stale = False
        self.set_array(arr)

    def set_stale(self, stale: bool) -> None:
        """Grey the values (they are from before an edit) until the next run."""
        if stale != self.stale:
            self.stale = stale
            if self.rowCount() and self.columnCount():
                self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def set_array(self, arr: np.ndarray | None) -> None:
        self.beginResetModel()
        if arr is None:
            self.arr = np.zeros((0, 0))
        else:
            a = np.asarray(arr)
            if a.ndim == 0:
                a = a.reshape(1, 1)
            elif a.ndim == 1:
                a = a.reshape(-1, 1)
            elif a.ndim > 2:
                a = a.reshape(-1, a.shape[-1])  # a view for contiguous arrays, never a per-cell copy
            self.arr = a
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else int(self.arr.shape[0])

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else int(self.arr.shape[1]) if self.arr.ndim == 2 else 0

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and index.isValid():
            return cell_text(self.arr[index.row(), index.column()])  # strings, bool, complex, handles: as --json
        if role == Qt.ItemDataRole.ForegroundRole and self.stale:
            return QColor("#9e9e9e")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        return None


class _Later(QWidget):
    """Stands in for a plot until the plot is first needed: ``shown`` is called when it is first shown (its tab
    chosen); the trend plot is made inside it (``get``), the heat map and the images take its place in the tabs."""

    def __init__(self, make: Callable[[], QWidget], min_height: int = 0) -> None:
        super().__init__()
        self.make = make
        self.widget: Any = None
        self.shown: Callable[[], Any] | None = None
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(min_height)

    def get(self) -> Any:
        """The plot, made now (inside the stand-in) if it was not yet."""
        if self.widget is None:
            self.widget = self.make()
            self._lay.addWidget(self.widget)
        return self.widget

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.shown is not None:
            QTimer.singleShot(0, self.shown)


class ResultsDock(QWidget):
    """The selected block's results: a pin chooser, then table / heat map / trend tabs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[tuple[str, str], Any] = {}
        self.history: dict[tuple[str, str], list[float]] = {}
        self.page_trends: dict[str, list[float]] = {}
        self.page_trend_defs: dict[str, list[tuple[str, str]]] = {}
        self.block_id: str | None = None
        self.stale: set[str] = set()
        # the step number of each history entry: live steps as they come, else counted back from ``last_step``
        # (the history keeps the latest steps only, so it may not start at step 1)
        self.steps: dict[tuple[str, str], list[int]] = {}
        self.last_step: int | None = None
        self.pin = QComboBox()
        self.info = QLabel()
        self.table_model = ArrayTableModel()
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.verticalHeader().setDefaultSectionSize(18)
        # the plots (pyqtgraph: a tenth of a second to make all three) are made when first shown or needed
        self._plots: dict[str, Any] = {}
        self._stand_ins = {"heat": _Later(HeatMap), "images": _Later(TileView)}
        for name, stand_in in self._stand_ins.items():
            stand_in.shown = lambda name=name: self._plot(name)
        self._trend_now: tuple[str, list[float], list[int] | None] = ("", [], None)  # what the trend shows
        self._trend = _Later(self._new_trend, TREND_MIN_HEIGHT)
        self._trend.shown = self._trend.get
        self.trend_choice = QComboBox()
        trend_host = QWidget()
        tl = QVBoxLayout(trend_host)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.trend_choice)
        tl.addWidget(self._trend)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Table")
        self.tabs.addTab(self._stand_ins["heat"], "Heat map")
        self.tabs.addTab(self._stand_ins["images"], "Images")
        self.tabs.addTab(trend_host, "Trend")
        top = QHBoxLayout()
        top.addWidget(QLabel("Result"))
        top.addWidget(self.pin, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(self.tabs)
        self.pin.currentTextChanged.connect(self._show_pin)
        self.trend_choice.currentTextChanged.connect(self._show_trend)

    @property
    def heat(self) -> HeatMap:
        return self._plot("heat")

    @property
    def images(self) -> TileView:
        return self._plot("images")

    def _plot(self, name: str) -> Any:
        """The heat map or the images, made now if they were not yet (taking their stand-in's tab)."""
        plot = self._plots.get(name)
        if plot is None:
            stand_in = self._stand_ins[name]
            plot = self._plots[name] = stand_in.make()
            i = self.tabs.indexOf(stand_in)
            visible, current = self.tabs.isTabVisible(i), self.tabs.currentIndex() == i
            self.tabs.insertTab(i, plot, self.tabs.tabText(i))
            self.tabs.removeTab(i + 1)
            self.tabs.setTabVisible(i, visible)
            if current:
                self.tabs.setCurrentIndex(i)
            stand_in.shown = None
            stand_in.deleteLater()
        return plot

    def _tab_of(self, name: str) -> int:
        """The index of the heat map's or the images' tab (their stand-in's while not made)."""
        return self.tabs.indexOf(self._plots.get(name) or self._stand_ins[name])

    @property
    def trend(self) -> TrendPlot:
        return self._trend.get()

    def _new_trend(self) -> TrendPlot:
        t = TrendPlot()
        t.set_values(*self._trend_now)
        return t

    def set_results(self, values: dict[tuple[str, str], Any], history: dict[tuple[str, str], list[float]],
                    last_step: int | None = None) -> None:
        """The results of a run and the history of its scalars, whose last entries are of step ``last_step``
        (None: the history starts at step 1)."""
        self.values = values
        self.history = history
        self.last_step = last_step
        self.steps = {}
        self.show_block(self.block_id)

    def reset(self) -> None:
        """Forget everything shown (another page was opened): no block, results, trends, nor plot axes."""
        self.values, self.history, self.steps, self.last_step = {}, {}, {}, None
        self.page_trends, self.page_trend_defs = {}, {}
        self.stale = set()
        self.block_id = None
        for plot in [*self._plots.values(), self._trend.widget]:
            if plot is not None:
                plot.reset()
        self._trend_now = ("", [], None)
        self.show_block(None)

    def start_live(self, base: int) -> None:
        """A run begins after step ``base``: the live steps of each history are numbered from there."""
        self.last_step = base
        self.steps = {k: self.step_numbers(k) for k in self.history}

    def step_numbers(self, key: tuple[str, str]) -> list[int]:
        """The step number of each entry of ``key``'s history."""
        n = len(self.history.get(key, ()))
        live = self.steps.get(key)
        if live is not None and len(live) == n:
            return list(live)
        end = self.last_step if self.last_step is not None and self.last_step >= n else n
        return list(range(end - n + 1, end + 1))

    def set_stale(self, ids: set[str]) -> None:
        """The blocks whose results an edit has made out of date (shown greyed and tagged "stale")."""
        if set(ids) != self.stale:
            self.stale = set(ids)
            self._show_pin(self.pin.currentText())

    def set_page_trends(self, trends: Any) -> None:
        """Trends stored with a page: stored values ({name: [numbers]} or [{"name", "values"}]), or trend
        definitions as imported pages and scenes carry them ([{"title", "series": [{"block", "pin"}]}]),
        which plot the run's history of that result."""
        out: dict[str, list[float]] = {}
        defs: dict[str, list[tuple[str, str]]] = {}
        if isinstance(trends, dict):
            items = list(trends.items())
        elif isinstance(trends, list):
            items = []
            for i, t in enumerate(trends):
                if not isinstance(t, dict):
                    continue
                name = str(t.get("title") or t.get("name") or t.get("id") or f"trend {i}")
                series = t.get("series")
                if isinstance(series, list):
                    keys = [(str(x.get("block")), str(x.get("pin"))) for x in series
                            if isinstance(x, dict) and x.get("block") and x.get("pin")]
                    if keys:
                        defs[f"{name} (page trend)"] = keys
                    continue
                items.append((name, t.get("values", [])))
        else:
            items = []
        for k, v in items:
            if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
                out[str(k)] = [float(x) for x in v]
        self.page_trends = out
        self.page_trend_defs = defs
        self._fill_trends()

    def show_block(self, block_id: str | None) -> None:
        self.block_id = block_id
        ports = [p for (b, p) in self.values if b == block_id]
        refill(self.pin, ports)
        self._show_pin(self.pin.currentText())
        self._fill_trends()

    def _show_pin(self, port: str) -> None:
        arr = self.values.get((self.block_id, port)) if self.block_id and port else None
        self.table_model.set_array(arr)
        if arr is None:
            self.info.setText("No results for this block yet: press Run (F5)." if self.block_id else
                              "Select a block to see its results.")
            for name in ("heat", "images"):
                if name in self._plots:
                    self._plots[name].set_array(None)
                self.tabs.setTabVisible(self._tab_of(name), False)
            return
        a = np.asarray(arr)
        dt = dtype_name(a)
        stale = self.block_id in self.stale
        self.table_model.set_stale(stale)
        self.info.setText(f"{self.block_id}.{port}: {dt} shape {list(a.shape)}"
                          + ("  [stale: edited since the last run]" if stale else ""))
        self.info.setStyleSheet("color: #8d6e00;" if stale else "")
        heat = self.heat.set_array(a)
        self.tabs.setTabVisible(self._tab_of("heat"), heat)  # a scalar or text: no empty plot
        tiles = self.images.set_array(a)
        self.tabs.setTabVisible(self._tab_of("images"), tiles)
        if tiles and self.tabs.currentWidget() is self.table and a.ndim <= 2 and a.size >= 64:
            self.tabs.setCurrentWidget(self.images)  # weights of an image model: pictures first

    def _fill_trends(self) -> None:
        names = list(self.page_trend_defs)
        names += [f"{b}.{p}" for (b, p), h in self.history.items() if (b == self.block_id or not self.block_id) and h]
        names += list(self.page_trends)
        refill(self.trend_choice, names)
        self._show_trend(self.trend_choice.currentText())

    def _show_trend(self, name: str) -> None:
        if name in self.page_trend_defs:
            keys = self.page_trend_defs[name]
            key = next((k for k in keys if self.history.get(k)), keys[0])
            self._set_trend(f"{key[0]}.{key[1]}", self.history.get(key, []), self.step_numbers(key))
            return
        if name in self.page_trends:
            self._set_trend(name, self.page_trends[name])
            return
        b, _, p = name.partition(".")
        self._set_trend(name, self.history.get((b, p), []), self.step_numbers((b, p)))

    def _set_trend(self, title: str, values: list[float], steps: list[int] | None = None) -> None:
        """Plot this trend (kept for the plot until its tab is first shown)."""
        self._trend_now = (title, values, steps)
        if self._trend.widget is not None:
            self._trend.widget.set_values(title, values, steps)

    def add_step(self, scalars: dict[tuple[str, str], float], step: int | None = None) -> None:
        """A step of a running loop (step number ``step``; the steps between reports are not sent): extend the
        live trend."""
        for k, v in scalars.items():
            numbers = self.step_numbers(k)
            self.history.setdefault(k, []).append(float(v))
            numbers.append(step if step is not None else (numbers[-1] + 1 if numbers else 1))
            self.steps[k] = numbers
        name = self.trend_choice.currentText()
        if not name:
            self._fill_trends()
        else:
            self._show_trend(name)
