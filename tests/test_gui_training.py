"""The Training dock fed with the worker's epoch and batch events (its messages, read by the worker client): a curve
point per epoch holding the event's numbers, losses and metrics apart, the confusion matrix's counts, the progress,
Stop, Keep best and Restore best as a person uses them, and which runs train (the ClientSession's epochs pin, or
the Epochs box on a page with a data.Dataset)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt

from enuflow.app.document.page import BlockInstance
from enuflow.app.worker.client import WorkerEvent
from enuflow.app.worker.client import epoch_event as message_event

#: three epochs of a classifier with a loss ("loss") and an accuracy ("acc") block, as the worker reports them
EPOCHS = [
    {"epoch": 1, "train": {"loss.loss": 2.25, "acc.accuracy": 0.31}, "test": {"loss.loss": 1.9, "acc.accuracy": 0.4},
     "seconds": 0.5, "best": True, "confusion": {"acc": [[3, 2, 0], [1, 1, 3], [0, 1, 4]]}},
    {"epoch": 2, "train": {"loss.loss": 1.2, "acc.accuracy": 0.62}, "test": {"loss.loss": 1.1, "acc.accuracy": 0.6},
     "seconds": 0.25, "best": True, "confusion": {"acc": [[4, 1, 0], [1, 3, 1], [0, 1, 4]]}},
    {"epoch": 3, "train": {"loss.loss": 0.7, "acc.accuracy": 0.85}, "test": {"loss.loss": 0.8, "acc.accuracy": 0.55},
     "seconds": 0.25, "best": False, "confusion": {"acc": [[5, 0, 0], [2, 2, 1], [0, 2, 3]]}},
]
TYPES = {"loss": "losses.SoftmaxCrossEntropy", "acc": "metrics.Accuracy", "data": "data.Dataset"}


def epoch_event(row: dict[str, Any], run_id: int = 1, epochs: int = 3) -> WorkerEvent:
    """The event of the worker's "epoch" message (TRAIN_DESIGN.md section 3) for ``row``."""
    return message_event("epoch", run_id, {"kind": "epoch", "run_id": run_id, "epochs": epochs,
                                           "classes": {b: len(m) for b, m in row["confusion"].items()}, **row})


def batch_event(epoch: int, batch: int, batches: int, phase: str = "train", run_id: int = 1) -> WorkerEvent:
    return message_event("batch", run_id, {"kind": "batch", "run_id": run_id, "epoch": epoch, "epochs": 3,
                                           "phase": phase, "batch": batch, "batches": batches})


def done_event(run_id: int, epochs: list[dict[str, Any]], stopped: bool = False,
               errors: list[dict[str, Any]] | None = None) -> WorkerEvent:
    return WorkerEvent("done", run_id=run_id, epochs=[{k: r[k] for k in ("epoch", "train", "test", "seconds")}
                                                      for r in epochs],
                       steps_done=len(epochs), stopped=stopped, initialised=True, errors=list(errors or []))


@pytest.fixture
def panel(qtbot):
    from enuflow.app.gui.training_dock import TrainingPanel

    p = TrainingPanel()
    qtbot.addWidget(p)
    p.resize(1200, 320)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_curves_hold_each_epochs_numbers(panel):
    panel.start(3, TYPES, None)
    for row in EPOCHS:
        panel.on_epoch(epoch_event(row))
    for name, plot in (("loss.loss", panel.losses), ("acc.accuracy", panel.metrics)):
        for split in ("train", "test"):
            x, y = plot.curves[(name, split)].getData()
            np.testing.assert_array_equal(x, [1, 2, 3])
            np.testing.assert_array_equal(y, [r[split][name] for r in EPOCHS])
    assert ("acc.accuracy", "train") not in panel.losses.curves  # a metric is not drawn among the losses
    assert ("loss.loss", "test") not in panel.metrics.curves
    legend = sorted(label.text for _sample, label in panel.metrics.legend.items)
    assert legend == ["acc.accuracy test", "acc.accuracy train"]
    assert panel.last_figures()["test"]["acc.accuracy"] == 0.55
    assert "0.55" in panel.figures.text() and "best: epoch 2" in panel.figures.text()
    assert "0.33 s per epoch" in panel.progress_text.text()  # (0.5 + 0.25 + 0.25) / 3


def test_confusion_matrix_counts_rows_true_columns_predicted(panel):
    panel.start(3, TYPES, None)
    panel.on_epoch(epoch_event(EPOCHS[0]))
    np.testing.assert_array_equal(panel.confusion.shown(), EPOCHS[0]["confusion"]["acc"])
    panel.on_epoch(epoch_event(EPOCHS[2]))
    t = panel.confusion.table
    np.testing.assert_array_equal(panel.confusion.shown(), EPOCHS[2]["confusion"]["acc"])
    assert t.verticalHeaderItem(1).text() == "true 1" and t.horizontalHeaderItem(2).text() == "2"
    assert panel.confusion.axis.text().startswith("predicted")
    assert "10 of 15 right" in panel.confusion.title.text() and "epoch 3" in panel.confusion.title.text()


def test_a_regression_shows_no_empty_metrics_plot_nor_confusion_matrix(panel):
    panel.start(2, {"mse": "losses.MeanSquaredError", "data": "data.Dataset"}, None)
    panel.on_epoch(epoch_event({"epoch": 1, "train": {"mse.loss": 0.3}, "test": {"mse.loss": 0.2}, "seconds": 0.1,
                                "best": True, "confusion": {}}, epochs=2))
    assert panel.losses.isVisible() and panel.curve("mse.loss", "test") is not None
    assert not panel.metrics.isVisible() and not panel.confusion.isVisible()
    panel.start(3, TYPES, None)  # a classifier's page: both come back
    assert panel.metrics.isVisible() and panel.confusion.isVisible()


def test_two_classifiers_choose_which_confusion(panel):
    panel.start(1, TYPES, None)
    row = dict(EPOCHS[0], confusion={"acc": [[1, 0], [0, 1]], "acc_2": [[0, 2], [2, 0]]})
    panel.on_epoch(epoch_event(row, epochs=1))
    assert panel.confusion.choice.isVisible()
    panel.confusion.choice.setCurrentText("acc_2")
    np.testing.assert_array_equal(panel.confusion.shown(), [[0, 2], [2, 0]])


def test_progress_follows_batches_and_stop_is_asked(panel, qtbot):
    panel.start(3, TYPES, None)
    panel.on_batch(batch_event(2, 5, 10))
    assert panel.progress.value() == 500  # 1.5 of 3 epochs: half way
    assert panel.progress.text() == "epoch 2 of 3"
    assert panel.progress_text.text() == "epoch 2 of 3: train batch 5 of 10"
    assert panel.stop_button.isEnabled() and not panel.keep_best.isEnabled()
    with qtbot.waitSignal(panel.stop_requested, timeout=1000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)


def test_done_list_fills_missed_epochs_and_a_stop_says_so(panel):
    panel.start(3, TYPES, None)
    panel.on_epoch(epoch_event(EPOCHS[0]))
    panel.finish(done_event(1, EPOCHS[:2]).epochs, stopped=True)
    x, y = panel.curve("loss.loss", "train").getData()
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_array_equal(y, [2.25, 1.2])
    assert panel.progress.text() == "stopped: 2 of 3 epochs"
    assert not panel.stop_button.isEnabled() and panel.keep_best.isEnabled()


# -- in the window --------------------------------------------------------------------------------------
class FakeWorker:
    """Stands for the worker process: records what the window asks for."""

    busy = False
    ready = True
    log_path = ""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.restored: list[str] = []
        self.stopped = 0

    def run(self, doc: dict, **kw: Any) -> int:
        self.runs.append(kw)
        return len(self.runs)

    def stop(self) -> None:
        self.stopped += 1

    def restore_best(self, path: str | None = None) -> int:
        self.restored.append(path)
        return 100 + len(self.restored)

    def close(self) -> None:
        pass


def classifier_page(w: Any, session_epochs: int | None = None) -> None:
    for bid, t in TYPES.items():
        w.page.add_block(BlockInstance(bid, t, (0.0, 0.0), {}))
    if session_epochs is not None:
        w.page.add_block(BlockInstance("sess", "ClientSession", (0.0, 200.0), {"epochs": session_epochs}))
    w.revalidate()


def test_run_trains_for_the_epochs_box_and_the_dock_opens(new_window, qtbot, tmp_path):
    w = new_window()
    w.worker = fake = FakeWorker()
    assert not w.epochs_spin.isEnabled()  # no dataset: Run runs steps
    classifier_page(w)
    assert w.epochs_spin.isEnabled()
    w.epochs_spin.setValue(3)
    w.training.keep_best.click()
    w.path = str(tmp_path / "digits.json")
    w.run_action.trigger()
    assert fake.runs[-1]["epochs"] == 3 and fake.runs[-1]["keep_best"] == str(tmp_path / "digits.best" / "best")
    dock = w._docks["Training"]
    assert dock.isVisible() and not dock.visibleRegion().isEmpty()
    for row in EPOCHS:
        w.bridge.event.emit(epoch_event(row, run_id=w.run_id))
    x, y = w.training.curve("acc.accuracy", "test").getData()
    np.testing.assert_array_equal(y, [0.4, 0.6, 0.55])
    assert w.progress.value() == 3
    qtbot.mouseClick(w.training.stop_button, Qt.MouseButton.LeftButton)
    assert fake.stopped == 1 and w.status_label.text().startswith("Stopping after this batch")
    w.bridge.event.emit(done_event(w.run_id, EPOCHS))
    assert w.status_label.text() == ("Training done: 3 epochs, 0 error(s); test loss.loss 0.8, acc.accuracy 0.55")
    assert w.training.restore_button.isEnabled()
    qtbot.mouseClick(w.training.restore_button, Qt.MouseButton.LeftButton)
    assert fake.restored == [None]  # the best epoch the worker kept in this session
    w.bridge.event.emit(message_event("restored", 101, {"kind": "restored", "run_id": 101, "epoch": 2,
                                                        "errors": []}))
    assert "epoch 2" in w.status_label.text()
    w.new_page()  # another page: nothing of this one's training stays
    assert not w.training.losses.curves and not w.training.restore_button.isEnabled()
    assert w.training.confusion.table.rowCount() == 0 and w.training.figures.text().startswith("No training run")
    w.worker = None


def test_restore_best_reads_the_checkpoint_beside_the_page(new_window, qtbot, tmp_path):
    w = new_window()
    w.worker = fake = FakeWorker()
    assert not w.training.restore_button.isEnabled()
    (tmp_path / "digits.best").mkdir()
    (tmp_path / "digits.best" / "best.index").write_bytes(b"")  # as Keep best left it after an earlier run
    w.path = str(tmp_path / "digits.json")
    classifier_page(w)
    assert w.training.restore_button.isEnabled()
    qtbot.mouseClick(w.training.restore_button, Qt.MouseButton.LeftButton)
    assert fake.restored == [str(tmp_path / "digits.best" / "best")]
    w.bridge.event.emit(message_event("restored", 101, {"kind": "restored", "run_id": 101, "epoch": 0, "errors": [
        {"block": None, "port": None, "message": "not a checkpoint"}]}))
    assert w.status_label.text() == "Restore best: not a checkpoint"
    w.worker = None


def test_a_session_epochs_pin_decides_and_step_does_not_train(new_window):
    w = new_window()
    w.worker = fake = FakeWorker()
    classifier_page(w, session_epochs=7)
    assert not w.epochs_spin.isEnabled() and "7" in w.epochs_spin.toolTip() and w.epochs_spin.value() == 7
    w.run_action.trigger()
    assert fake.runs[-1]["epochs"] == 7 and "keep_best" not in fake.runs[-1]
    w.bridge.event.emit(done_event(w.run_id, [], stopped=True))
    w.step_action.trigger()
    assert "epochs" not in fake.runs[-1]
    w.page.remove_block("sess")  # without the pin, the box's own number again
    w.revalidate()
    assert w.epochs_spin.isEnabled() and w.epochs_spin.value() == 10
    w.worker = None


def test_a_training_run_that_fails_says_why_in_the_dock(new_window):
    w = new_window()
    w.worker = FakeWorker()
    classifier_page(w)
    w.run_action.trigger()
    w.bridge.event.emit(done_event(w.run_id, [], errors=[{"block": "data", "port": "file",
                                                          "message": "data.file: no such file: blobs.npz"}]))
    assert w.training.progress.text() == "failed: 0 of 10 epochs"
    assert w.training.progress_text.text() == "training failed after 0 epochs: data.file: no such file: blobs.npz"
    assert not w.training.stop_button.isEnabled() and not w.training.restore_button.isEnabled()
    w.worker = None


def test_epochs_box_zero_runs_plain_steps(new_window):
    w = new_window()
    w.worker = fake = FakeWorker()
    classifier_page(w)
    w.epochs_spin.setValue(0)
    assert w.epochs_spin.text() == "steps"
    w.run_action.trigger()
    assert "epochs" not in fake.runs[-1]
    assert not w._docks["Training"].isVisible()
    w.worker = None


# -- a page drawn from the palette, trained by the worker -------------------------------------------------
def blobs(path: Any, n: int = 150, seed: int = 0) -> None:
    """Three well separated clusters of points in 4-D, labelled 0, 1, 2, as a .npz with arrays x and y."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    x = centres[y] + rng.normal(scale=0.5, size=(n, 4)).astype(np.float32)
    np.savez(path, x=x.astype(np.float32), y=y.astype(np.int64))


def draw_classifier(w: Any) -> dict[str, str]:
    """Drag Dataset, two Dense, the loss, Minimize and Accuracy out of the palette and wire them as a person does."""
    from PySide6.QtCore import QPointF

    from tests.test_gui import drop_from_palette, wire

    at = {"data": (40, 200), "d1": (330, 120), "d2": (620, 120), "loss": (910, 60), "acc": (910, 330),
          "min": (1200, 60)}
    types = {"data": "data.Dataset", "d1": "layers.Dense", "d2": "layers.Dense",
             "loss": "losses.SoftmaxCrossEntropy", "acc": "metrics.Accuracy", "min": "train.Minimize"}
    ids = {k: drop_from_palette(w, types[k], QPointF(*at[k])) for k in at}
    for src, sp, dst, dp in [("data", "x", "d1", "x"), ("d1", "y", "d2", "x"), ("d2", "y", "loss", "logits"),
                             ("data", "y", "loss", "labels"), ("loss", "loss", "min", "loss"),
                             ("d2", "y", "acc", "logits"), ("data", "y", "acc", "labels")]:
        wire(w, ids[src], sp, ids[dst], dp)
    assert len(w.page.links) == 7
    return ids


def test_a_page_drawn_from_the_palette_trains(new_window, gui_catalogue, qtbot, tmp_path):
    from tests.test_gui import set_field

    w = new_window(start_worker=True, load=True)
    try:
        blobs(tmp_path / "blobs.npz")
        assert w.save_to(str(tmp_path / "blobs.json"))  # the data file lies beside the page
        ids = draw_classifier(w)
        set_field(w, ids["data"], "file", "blobs.npz")
        set_field(w, ids["data"], "batch_size", "16")
        set_field(w, ids["d1"], "units", "8")
        set_field(w, ids["d1"], "activation", "relu")
        set_field(w, ids["d2"], "units", "3")
        set_field(w, ids["min"], "optimizer", "adam")
        set_field(w, ids["min"], "learning_rate", "0.05")
        qtbot.waitUntil(w.epochs_spin.isEnabled, timeout=2000)  # once the page's check ran (after each edit)
        w.epochs_spin.setValue(4)
        w.training.keep_best.click()
        w.run_action.trigger()
        dock = w._docks["Training"]
        assert dock.isVisible()
        qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                        and w.last_event.run_id == w.run_id, timeout=180_000)
        ev = w.last_event
        assert ev.kind == "done" and not ev.errors, ev.errors
        assert [e["epoch"] for e in ev.epochs] == [1, 2, 3, 4]
        loss, acc = f"{ids['loss']}.loss", f"{ids['acc']}.accuracy"
        for name in (loss, acc):
            for split in ("train", "test"):
                x, y = w.training.curve(name, split).getData()
                np.testing.assert_array_equal(x, [1, 2, 3, 4])
                np.testing.assert_allclose(y, [e[split][name] for e in ev.epochs])
        last = ev.epochs[-1]["test"][acc]
        assert last > 0.9  # three clusters three standard deviations apart
        assert w.training.last_figures()["test"][acc] == last
        assert f"{last:.4g}" in w.training.figures.text()
        np.testing.assert_allclose(float(w.values[(ids["acc"], "accuracy")]), last, rtol=1e-6)
        counts = w.training.confusion.shown()
        assert counts.shape == (3, 3) and np.trace(counts) / counts.sum() == pytest.approx(last)
        assert (tmp_path / "blobs.best" / "best.index").is_file()  # Keep best wrote the best epoch
        rid = w.restore_best()
        qtbot.waitUntil(lambda: w.last_event.kind == "restored" and w.last_event.run_id == rid, timeout=60_000)
        assert not w.last_event.errors and w.last_event.epoch >= 1
        assert "Restored the Variables of epoch" in w.status_label.text()
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
