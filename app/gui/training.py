"""Training from the editor: which runs train, what they ask the worker for, and the Training dock
(``app.gui.training_dock``) with its buttons. ``TrainingCommands`` is a part of ``MainWindow`` (a mixin).

Run trains when the page's ClientSession has ``epochs`` > 0 (that many epochs), or, on a page with a
``data.Dataset`` and no such pin, for the number in the Run toolbar's "Epochs" box (0 there: plain steps); Step
and Run to Here never train. Keep best writes the best test epoch's Variables as the checkpoint
``<page folder>/<page stem>.best/best`` (a temp folder for an untitled page); Restore best asks the worker to
assign the best epoch it kept (else that checkpoint) into the live session.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSpinBox

from enuflow.app.gui.training_dock import TrainingPanel, _fmt, event_total

DATASET_TYPE = "data.Dataset"


def session_epochs(page: Any) -> int:
    """The ``epochs`` pin of the page's ClientSession (0 when there is none, or it is not a number > 0)."""
    for b in page:
        if b.type == "ClientSession":
            try:
                return max(int(float(str(b.pins.get("epochs", 0) or 0))), 0)
            except ValueError:
                return 0
    return 0


def block_types(page: Any, analysis: Any) -> dict[str, str]:
    """Block id (and, from the last check, every inner block's path) -> type name."""
    out = {b.id: b.type for b in page}
    inner = getattr(analysis, "page", None)
    if inner is not None:
        for b in inner:
            out.setdefault(b.id, b.type)
    return out


def best_checkpoint(page_path: str | None, page_name: str) -> str:
    """Where Keep best writes: the checkpoint ``best`` in ``<page folder>/<page stem>.best/`` for a saved page, else
    in a new temp folder (a checkpoint is a prefix: ``best.index`` and its data file)."""
    if page_path:
        p = Path(page_path)
        return str(p.with_name(p.stem + ".best") / "best")
    return str(Path(tempfile.mkdtemp(prefix=f"enuflow-{Path(page_name).stem or 'page'}-best-")) / "best")


def checkpoint_exists(prefix: str) -> bool:
    return Path(prefix + ".index").is_file()


def has_dataset(page: Any, analysis: Any) -> bool:
    """Whether the page (or, from its last check, a composite inside it) has a ``data.Dataset`` (asked after every
    check: looks, without making ``block_types``' dict of the whole page)."""
    inner = getattr(analysis, "page", None)
    return any(b.type == DATASET_TYPE for b in page) or (inner is not None and
                                                          any(b.type == DATASET_TYPE for b in inner))


class TrainingCommands:
    """The Training dock, the Run toolbar's Epochs box, and what a training run asks of the worker (part of
    MainWindow)."""

    training: TrainingPanel
    #: epochs the run in progress trains (0: not a training run)
    training_run = 0
    _best_temp: str | None = None
    _restore_id = 0
    _own_epochs: int | None = None  # the Epochs box's number while a ClientSession's pin shows instead

    def _make_training_dock(self) -> None:
        """The Training dock (tabbed with Problems and Console; hidden until a training run starts)."""
        self.training = TrainingPanel()
        self._dock("Training", self.training, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self._docks["Console"], self._docks["Training"])
        self._docks["Training"].hide()
        self.training.stop_requested.connect(self.stop_run)
        self.training.restore_requested.connect(self.restore_best)

    def _epochs_box(self, toolbar: Any) -> None:
        """The Run toolbar's "Epochs" box: how many epochs Run trains a page with a data.Dataset for."""
        self.epochs_label = QLabel(" Epochs ")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(0, 1_000_000)
        self.epochs_spin.setValue(10)
        self.epochs_spin.setSpecialValueText("steps")
        self.epochs_spin.setToolTip("Run trains a page with a data.Dataset for this many epochs, each followed by "
                                    "a test pass (0: the page's plain steps). A ClientSession's epochs pin, when "
                                    "set, decides instead.")
        toolbar.addWidget(self.epochs_label)
        toolbar.addWidget(self.epochs_spin)

    def update_epochs_box(self) -> None:
        """The Epochs box is for pages with a data.Dataset whose ClientSession does not set ``epochs``."""
        if not hasattr(self, "epochs_spin"):
            return
        pinned = session_epochs(self.page)
        usable = not pinned and has_dataset(self.page, self.analysis)
        if pinned and self._own_epochs is None:  # the box shows the pin's number; the person's comes back after
            self._own_epochs = self.epochs_spin.value()
        if pinned:
            self.epochs_spin.setValue(pinned)
        elif self._own_epochs is not None:
            self.epochs_spin.setValue(self._own_epochs)
            self._own_epochs = None
        self.epochs_spin.setEnabled(usable)
        self.epochs_label.setEnabled(usable)
        self._note_checkpoint()  # (the page may be another one now, or saved elsewhere)
        self.epochs_spin.setToolTip(f"Epochs: set to {pinned} by the page's ClientSession" if pinned else
                                    "Run trains a page with a data.Dataset for this many epochs, each followed by a "
                                    "test pass (0: the page's plain steps)" if usable else
                                    "Epochs: for a page with a data.Dataset")

    def training_epochs(self) -> int:
        """How many epochs Run trains the page for (0: a plain run): the ClientSession's ``epochs`` pin, else the
        Epochs box's number on a page with a data.Dataset."""
        pinned = session_epochs(self.page)
        if pinned:
            return pinned
        if has_dataset(self.page, self.analysis):
            return int(self.epochs_spin.value())
        return 0

    def keep_best_path(self) -> str:
        """The checkpoint a run with Keep best writes: beside the page, or (untitled) in a temp folder."""
        if self.path:
            return best_checkpoint(self.path, self.page.name)
        if self._best_temp is None:
            self._best_temp = best_checkpoint(None, self.page.name)
        return self._best_temp

    def training_args(self, epochs: int) -> dict[str, Any]:
        """What a run that trains ``epochs`` epochs asks the worker for, besides a plain run's arguments."""
        args: dict[str, Any] = {"epochs": epochs}
        if self.training.keep_best.isChecked():
            args["keep_best"] = self.keep_best_path()
        return args

    def start_training_view(self, epochs: int) -> None:
        """A training run starts: the Training dock opens with empty curves."""
        self.training_run = epochs
        best = self.keep_best_path() if self.training.keep_best.isChecked() else None
        self.training.start(epochs, block_types(self.page, self.analysis), best)
        dock = self._docks["Training"]
        dock.show()
        dock.raise_()
        self.resizeDocks([dock], [max(dock.height(), 330)], Qt.Orientation.Vertical)
        self.progress.setRange(0, epochs)
        self.progress.setValue(0)
        self.progress.setFormat("epoch %v / %m")

    def on_training_event(self, ev: Any) -> None:
        """An "epoch" or "batch" event of the run in progress."""
        if not self.training_run and not self.training.running:  # a page whose own pin made it train
            self.start_training_view(event_total(ev))
        if ev.kind == "epoch":
            self.training.on_epoch(ev)
            self.progress.setValue(min(int(getattr(ev, "epoch", 0) or 0), self.progress.maximum()))
        else:
            self.training.on_batch(ev)

    def training_done(self, ev: Any) -> None:
        """The run ended: the dock shows its last figures (the "done" event's ``epochs`` list fills gaps)."""
        epochs = getattr(ev, "epochs", None)
        listed = epochs if isinstance(epochs, list) else []
        if self.training_run or listed:
            errors = list(getattr(ev, "errors", None) or [])
            failed = "the worker crashed (see Problems)" if ev.kind == "crashed" else \
                str(errors[0].get("message", "")).splitlines()[0] if errors and len(listed) < self.training.total \
                else ""
            self.training.finish(listed, bool(getattr(ev, "stopped", False)), failed)
        self.training_run = 0
        self.training.set_running(False)
        self._note_checkpoint()

    def forget_training(self) -> None:
        """Another page is open: nothing of the last one's training stays (its kept epoch is not this page's)."""
        self.training.reset()
        self.training_run = 0
        self._best_temp = None
        self._note_checkpoint()

    def training_words(self, ev: Any, errors: int) -> str:
        """The status bar's words for a training run that ended: its epochs and the last test figures."""
        n = len(ev.epochs)
        text = (f"Training {'stopped' if ev.stopped else 'done'}: {n} epoch{'s' if n != 1 else ''}"
                f"{f' of {self.training.total}' if self.training.total > n else ''}, {errors} error(s)")
        test = self.training.last_figures()["test"]
        if test:
            text += "; test " + ", ".join(f"{k} {_fmt(v)}" for k, v in test.items())
        return text

    def restore_best(self) -> int | None:
        """Ask the worker to put the best epoch's Variables into the live session: those it kept in the last run,
        else the checkpoint Keep best wrote beside the page; returns the request's id ("restored" answers)."""
        if self.worker is None or self.worker.busy:
            self.status_label.setText("Restore best: wait for the run to end" if self.worker is not None else
                                      "Restore best: run the page first")
            return None
        path = None if self.training.best_epoch else self.training.checkpoint
        if not self.training.best_epoch and path is None:
            self.status_label.setText("Restore best: no best epoch was kept (Run the page in epochs first)")
            return None
        self._restore_id = self.worker.restore_best(path)
        self.status_label.setText(f"Restoring the Variables of epoch {self.training.best_epoch}..." if path is None
                                  else f"Restoring the Variables from {path}...")
        return self._restore_id

    def on_restored(self, ev: Any) -> None:
        """The worker's answer to Restore best."""
        if ev.errors:
            self.status_label.setText("Restore best: " + "; ".join(str(e.get("message")) for e in ev.errors))
            return
        what = f"epoch {ev.epoch}" if ev.epoch else "the checkpoint"
        self.status_label.setText(f"Restored the Variables of {what}: Step goes on from them")

    def _note_checkpoint(self) -> None:
        """Restore best can read a best epoch's checkpoint beside the page, from a run before."""
        prefix = self.keep_best_path() if self.path or self._best_temp else None
        self.training.checkpoint = prefix if prefix and checkpoint_exists(prefix) else None
        self.training.set_running(self.training.running)
