"""The Training dock's widgets: what a training run (a page run in epochs, ``app.engine.epochs``) shows.

Train and test curves per epoch for every loss and metric block (one plot for losses, one for metrics, each
with a legend; train solid, test dashed with dots), the progress (epoch i of N, batch j of M, seconds per
epoch), Stop (the run's cancel: the Variables keep their values), the confusion matrix of a classifier's last
test pass (counts, rows true, columns predicted), "Keep best" and "Restore best", and the last epoch's figures.

``TrainingPanel`` knows nothing of the worker: it draws the worker's "epoch" and "batch" events
(``app.worker.client.WorkerEvent``) and the "done" event's ``epochs`` list; ``app.gui.training`` runs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from enuflow.app.gui.choices import refill

#: a colour per figure (the same figure has the same colour in train and test)
COLOURS = ("#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#3949ab")
SPLITS = ("train", "test")
MAX_DOTS = 40
#: the types whose results the epoch runner reports, by the prefix of their type name
LOSS_PREFIX, METRIC_PREFIX = "losses.", "metrics."
NO_RUN = "No training run yet: press Run on a page with a data.Dataset"


def figure_kind(name: str, type_of: dict[str, str]) -> str:
    """"loss" or "metric" for a reported figure ``"<block>.<port>"``, from its block's type in ``type_of``
    (block id or path -> type name); a block not found there is a loss when its port is ``loss``."""
    block, _, port = name.rpartition(".")
    t = type_of.get(block, "")
    if t.startswith(LOSS_PREFIX):
        return "loss"
    if t.startswith(METRIC_PREFIX):
        return "metric"
    return "loss" if port == "loss" else "metric"


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


class EpochPlot(QWidget):
    """Figures per epoch: a curve for each (figure, split), with a legend naming both."""

    def __init__(self, title: str, parent: QWidget | None = None, legend_at_top: bool = True) -> None:
        super().__init__(parent)
        self._title = title
        self._legend_at_top = legend_at_top
        self._canvas: pg.PlotWidget | None = None  # made when first shown or drawn on (``canvas``)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self.setMinimumSize(220, 150)

    @property
    def canvas(self) -> pg.PlotWidget:
        """The plot, made the first time it is needed (a window that never shows its Training dock makes no
        pyqtgraph plot: the two took about 0.03 s of every window opened)."""
        if self._canvas is None:
            self._canvas = pg.PlotWidget()
            self._canvas.setTitle(self._title, size="9pt")
            self._canvas.showGrid(x=True, y=True, alpha=0.25)
            self._canvas.getAxis("bottom").setLabel("epoch")
            # where falling losses and rising metrics leave room: top right for losses, bottom right for metrics
            self._legend = self._canvas.addLegend(offset=(-4, 4) if self._legend_at_top else (-4, -4),
                                                  labelTextSize="8pt")
            self._lay.addWidget(self._canvas)
        return self._canvas

    @property
    def legend(self) -> Any:
        """The plot's legend (naming each figure and split)."""
        self.canvas  # noqa: B018 - made with the plot
        return self._legend

    def showEvent(self, event: Any) -> None:
        self.canvas  # noqa: B018 - made before it is first drawn
        super().showEvent(event)

    def set_points(self, name: str, split: str, colour: str, epochs: list[int], values: list[float]) -> None:
        """Draw ``values`` of ``name`` in ``split`` against their epoch numbers (a new curve the first time)."""
        curve = self.curves.get((name, split))
        if curve is None:
            style = Qt.PenStyle.SolidLine if split == "train" else Qt.PenStyle.DashLine
            curve = self.canvas.plot([], [], pen=pg.mkPen(colour, width=2, style=style), name=f"{name} {split}",
                                     symbol="o" if split == "test" else None, symbolSize=5,
                                     symbolBrush=colour, symbolPen=colour)
            self.curves[(name, split)] = curve
        # a dot per test epoch while there are few enough to tell apart; then only the dashed line
        curve.setSymbol("o" if split == "test" and len(epochs) <= MAX_DOTS else None)
        curve.setData(np.asarray(epochs, dtype=np.float64), np.asarray(values, dtype=np.float64))

    def clear(self) -> None:
        if self._canvas is None:  # nothing drawn yet
            return
        for curve in self.curves.values():
            self.canvas.removeItem(curve)
        self.legend.clear()
        self.curves = {}
        self.canvas.enableAutoRange()


class ConfusionTable(QWidget):
    """The counts of a classifier's last test pass: a row per true class, a column per predicted class, cells
    shaded by their share of the row (the diagonal: correct)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Confusion matrix: after the first test pass")
        self.title.setWordWrap(True)
        self.choice = QComboBox()  # which metrics.Accuracy block, when a page has several
        self.choice.hide()
        self.choice.currentTextChanged.connect(self._show_chosen)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        small = self.table.font()
        small.setPointSizeF(max(small.pointSizeF() - 1, 7))
        self.table.setFont(small)  # ten classes fit a dock's height
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setFont(small)
            header.setMinimumSectionSize(18)
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(QFontMetrics(small).height() + 3)
        self.table.setCornerButtonEnabled(False)
        self.axis = QLabel("predicted class \u2192")
        self.axis.setAlignment(Qt.AlignmentFlag.AlignLeft)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.choice)
        lay.addWidget(self.axis)
        lay.addWidget(self.table, 1)
        self.matrices: dict[str, np.ndarray] = {}
        self.epoch = 0

    def set_matrices(self, matrices: dict[str, Any], epoch: int) -> None:
        """Keep each block's matrix of counts (rows true, columns predicted) and show the chosen block's."""
        self.matrices = {}
        for block, m in matrices.items():
            a = np.asarray(m, dtype=np.int64)
            if a.ndim == 2 and a.shape[0] == a.shape[1]:
                self.matrices[str(block)] = a
        self.epoch = epoch
        names = sorted(self.matrices)
        if names != [self.choice.itemText(i) for i in range(self.choice.count())]:
            refill(self.choice, names)
        self.choice.setVisible(len(names) > 1)
        self._show_chosen(self.choice.currentText())

    def clear(self) -> None:
        self.set_matrices({}, 0)
        self.title.setText("Confusion matrix: after the first test pass")

    def shown(self) -> np.ndarray:
        """The counts in the table now, read cell by cell."""
        t = self.table
        return np.array([[int(t.item(r, c).text()) for c in range(t.columnCount())] for r in range(t.rowCount())],
                        dtype=np.int64).reshape(t.rowCount(), t.columnCount())

    def _show_chosen(self, block: str) -> None:
        m = self.matrices.get(block)
        t = self.table
        if m is None:
            t.setRowCount(0)
            t.setColumnCount(0)
            return
        n = m.shape[0]
        right = int(np.trace(m))
        total = int(m.sum())
        share = f"{right} of {total} right" if total else "no test examples"
        self.title.setText(f"<b>Confusion of {block}</b>, epoch {self.epoch}: {share}")
        t.setRowCount(n)
        t.setColumnCount(n)
        t.setHorizontalHeaderLabels([str(c) for c in range(n)])
        t.setVerticalHeaderLabels([f"true {r}" for r in range(n)])
        self.axis.setIndent(t.verticalHeader().sizeHint().width())  # over the class numbers
        rows = np.maximum(m.sum(axis=1, keepdims=True), 1)
        for r in range(n):
            for c in range(n):
                t.setItem(r, c, self._cell(int(m[r, c]), float(m[r, c] / rows[r, 0]), r == c))

    @staticmethod
    def _cell(count: int, share: float, diagonal: bool) -> QTableWidgetItem:
        it = QTableWidgetItem(str(count))
        it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if count:
            base = QColor(67, 160, 71) if diagonal else QColor(229, 57, 53)
            tint = QColor(255 - int((255 - base.red()) * share), 255 - int((255 - base.green()) * share),
                          255 - int((255 - base.blue()) * share))
            it.setBackground(QBrush(tint))
            it.setForeground(QBrush(QColor("#000000") if share < 0.6 else QColor("#ffffff")))
        return it


class TrainingPanel(QWidget):
    """The Training dock's widget. ``stop_requested`` and ``restore_requested`` are its buttons; ``keep_best``
    is the checkbox the next run reads."""

    stop_requested = Signal()
    restore_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.type_of: dict[str, str] = {}  # block id or path -> type (what is a loss and what a metric)
        self.rows: list[dict[str, Any]] = []  # one per epoch: {"epoch", "train", "test", "seconds", "best"}
        self.total = 0  # epochs asked for
        self.colours: dict[str, str] = {}
        self.running = False
        self.best_path: str | None = None  # the checkpoint the run in progress (or the last) writes the best epoch to
        self.best_epoch = 0  # the last run's best epoch (the worker keeps its Variables): 0 when none
        self.checkpoint: str | None = None  # a best epoch's checkpoint beside the page, from this run or one before
        self._controls()
        self.losses = EpochPlot("losses")
        self.metrics = EpochPlot("metrics", legend_at_top=False)
        self.confusion = ConfusionTable()
        self.figures = QLabel(NO_RUN)
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)
        self.figures.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.figures.setMinimumWidth(150)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.losses, self.metrics, self.figures, self.confusion):
            self.split.addWidget(w)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([360, 360, 190, 330])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(self._top)
        lay.addWidget(self.split, 1)
        self._set_buttons()

    def _controls(self) -> None:
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress_text = QLabel("")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End training after this batch; the Variables keep their values")
        self.stop_button.clicked.connect(self.stop_requested)
        self.keep_best = QCheckBox("Keep best")
        self.keep_best.setToolTip("The next run keeps the Variables of its best test epoch (the first metric, else "
                                  "the lowest first loss) in a checkpoint beside the page (<page>.best)")
        self.restore_button = QPushButton("Restore best")
        self.restore_button.setToolTip("Put the best epoch's Variables back into the session (Step goes on from "
                                       "them): those the last run kept, else the checkpoint Keep best wrote")
        self.restore_button.clicked.connect(self.restore_requested)
        self._top = QHBoxLayout()
        self._top.addWidget(self.progress, 1)
        self._top.addWidget(self.progress_text, 2)
        for w in (self.stop_button, self.keep_best, self.restore_button):
            self._top.addWidget(w)

    # -- a run ---------------------------------------------------------------------------------------
    def start(self, epochs: int, type_of: dict[str, str], best_path: str | None) -> None:
        """A training run of ``epochs`` epochs starts: the last run's curves go."""
        self.type_of = dict(type_of)
        self.total = max(int(epochs), 0)
        self.rows = []
        self.colours = {}
        self.losses.clear()
        self.metrics.clear()
        self.confusion.clear()
        self._fit_panes(self.type_of)
        self.best_path = best_path
        self.best_epoch = 0
        self.running = True
        self.progress.setValue(0)
        self.progress.setFormat(f"epoch 0 of {self.total}" if self.total else "training...")
        self.progress_text.setText("starting (the page is built, the data read)...")
        self.figures.setText("")
        self._set_buttons()

    def _fit_panes(self, type_of: dict[str, str]) -> None:
        """The metrics plot only for a page with a metric block, the confusion matrix only for one with a
        ``metrics.Accuracy`` (a regression has neither: no empty pane); all of them while no page is known."""
        types = set(type_of.values())
        self.metrics.setVisible(not types or any(t.startswith(METRIC_PREFIX) for t in types))
        self.confusion.setVisible(not types or "metrics.Accuracy" in types)

    def on_batch(self, ev: Any) -> None:
        """A "batch" event: where the epoch is."""
        epoch, total = int(getattr(ev, "epoch", 0) or 0), event_total(ev) or self.total
        batch, batches = int(getattr(ev, "batch", 0) or 0), int(getattr(ev, "batches", 0) or 0)
        phase = str(getattr(ev, "phase", "") or "train")
        self.total = total or self.total
        done = (epoch - 1 + (batch / batches if batches and phase == "train" else 1.0 if phase == "test" else 0.0))
        self._set_progress(max(done, 0.0), epoch)
        per = self._seconds_text()
        of = f" of {batches}" if batches else ""
        self.progress_text.setText(f"epoch {epoch} of {self.total}: {phase} batch {batch}{of}{per}")

    def on_epoch(self, ev: Any) -> None:
        """An "epoch" event: its figures join the curves; its confusion matrices are shown."""
        row = {"epoch": int(getattr(ev, "epoch", len(self.rows) + 1) or len(self.rows) + 1),
               "train": dict(getattr(ev, "train", {}) or {}), "test": dict(getattr(ev, "test", {}) or {}),
               "seconds": _number(getattr(ev, "seconds", None)), "best": bool(getattr(ev, "best", False))}
        self.total = event_total(ev) or self.total
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        if row["best"]:
            self.best_epoch = row["epoch"]
        confusion = getattr(ev, "confusion", None) or {}
        if confusion:
            self.confusion.set_matrices(confusion, row["epoch"])
        self._set_progress(float(row["epoch"]), row["epoch"])
        self.progress_text.setText(f"epoch {row['epoch']} of {self.total} done{self._seconds_text()}")
        self._redraw()

    def finish(self, epochs: list[dict[str, Any]] | None, stopped: bool, failed: str = "") -> None:
        """The run ended; ``epochs`` (the "done" event's list) fills in any epoch whose event was not seen;
        ``failed``: why it ended early (an error, a crash), else ""."""
        for e in epochs or []:
            if isinstance(e, dict) and int(e.get("epoch") or 0) not in {r["epoch"] for r in self.rows}:
                self.rows.append({"epoch": int(e.get("epoch") or 0), "train": dict(e.get("train") or {}),
                                  "test": dict(e.get("test") or {}), "seconds": _number(e.get("seconds")),
                                  "best": bool(e.get("best"))})
        self.rows.sort(key=lambda r: r["epoch"])
        self.running = False
        last = self.rows[-1]["epoch"] if self.rows else 0
        word = "failed" if failed else "stopped" if stopped else "done"
        self.progress.setFormat(f"{word}: {last} of {self.total} epochs")
        if word == "done" and self.total:
            self.progress.setValue(1000)
        self.progress_text.setText(f"training {word} after {last} epoch{'s' if last != 1 else ''}"
                                   + (f": {failed}" if failed else self._seconds_text()))
        self.progress_text.setToolTip(failed)
        self._redraw()
        self._set_buttons()

    def reset(self) -> None:
        """Nothing of a run shown (another page is open)."""
        self.start(0, {}, None)
        self.running = False
        self.progress.setFormat("")
        self.progress_text.setText("")
        self.figures.setText(NO_RUN)
        self._set_buttons()

    def set_running(self, running: bool) -> None:
        self.running = running
        self._set_buttons()

    # -- what is shown --------------------------------------------------------------------------------
    def series(self, name: str, split: str) -> tuple[list[int], list[float]]:
        """The epochs and values of figure ``name`` in ``split`` so far (epochs without it left out)."""
        xs, ys = [], []
        for r in self.rows:
            v = _number(r[split].get(name))
            if v is not None:
                xs.append(r["epoch"])
                ys.append(v)
        return xs, ys

    def names(self) -> list[str]:
        """Every figure reported so far, in the order first seen."""
        out: list[str] = []
        for r in self.rows:
            for split in SPLITS:
                out += [k for k in r[split] if k not in out]
        return out

    def curve(self, name: str, split: str) -> pg.PlotDataItem | None:
        """The plot item drawing ``name`` in ``split`` (in the losses or the metrics plot)."""
        return self.losses.curves.get((name, split)) or self.metrics.curves.get((name, split))

    def last_figures(self) -> dict[str, dict[str, float]]:
        """The last epoch's figures as the dock shows them: {"train": {name: value}, "test": {...}}."""
        if not self.rows:
            return {"train": {}, "test": {}}
        r = self.rows[-1]
        return {s: {k: v for k, v in ((k, _number(x)) for k, x in r[s].items()) if v is not None} for s in SPLITS}

    def _redraw(self) -> None:
        for name in self.names():
            colour = self.colours.setdefault(name, COLOURS[len(self.colours) % len(COLOURS)])
            plot = self.losses if figure_kind(name, self.type_of) == "loss" else self.metrics
            for split in SPLITS:
                xs, ys = self.series(name, split)
                if xs:
                    plot.set_points(name, split, colour, xs, ys)
        self.figures.setText(self._figures_html())

    def _figures_html(self) -> str:
        if not self.rows:
            return ""
        r = self.rows[-1]
        best = [x["epoch"] for x in self.rows if x["best"]]
        head = f"<b>Epoch {r['epoch']} of {self.total}</b>"
        if best:
            head += f" (best: epoch {best[-1]}{', kept' if self.best_path else ''})"
        cells = "".join(f"<tr><td>{name}</td><td align='right'>{_fmt(_number(r['train'].get(name)))}</td>"
                        f"<td align='right'>{_fmt(_number(r['test'].get(name)))}</td></tr>" for name in self.names())
        return (f"{head}<table cellspacing='0' cellpadding='2'><tr><th align='left'>figure</th>"
                f"<th align='right'>train</th><th align='right'>test</th></tr>{cells}</table>")

    def _set_progress(self, done_epochs: float, epoch: int) -> None:
        if self.total:
            self.progress.setValue(int(round(1000 * min(done_epochs / self.total, 1.0))))
        self.progress.setFormat(f"epoch {epoch} of {self.total}" if self.total else f"epoch {epoch}")

    def _seconds_text(self) -> str:
        secs = [r["seconds"] for r in self.rows if r["seconds"] is not None]
        return f"; {sum(secs) / len(secs):.2f} s per epoch" if secs else ""

    def _set_buttons(self) -> None:
        self.stop_button.setEnabled(self.running)
        self.keep_best.setEnabled(not self.running)
        self.restore_button.setEnabled(not self.running and bool(self.best_epoch or self.checkpoint))


def event_total(ev: Any) -> int:
    """The epochs a run was asked for, from its "epoch" or "batch" event (``WorkerEvent.epochs_total``; the
    message's ``epochs``)."""
    for name in ("epochs_total", "epochs"):
        v = getattr(ev, name, None)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return int(v)
    return 0
