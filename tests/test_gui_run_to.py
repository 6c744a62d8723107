"""The editor's Run to Here and its run again after a worker crash, driven as a person does: blocks clicked on the
canvas, a right click on a block, "Run to Here" chosen in its menu by its key; an op that aborts the worker
process. One worker serves the module (a crash ends its child; the next run starts a fresh one)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu

from tests.test_gui_interop import click_block

RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def shared_worker():
    from enuflow.app.worker.client import WorkerClient

    class SharedWorker(WorkerClient):
        """The module's worker: a window that closes (at the end of its test) leaves it running."""

        def close(self, timeout: float = 3.0) -> None:
            pass

        def end(self) -> None:
            super().close()

    client = SharedWorker(lambda ev: None)
    client.start()
    yield client
    client.end()


@pytest.fixture
def window(new_window, shared_worker, gui_catalogue):
    w = new_window(start_worker=False, size=(1400, 900), load=True)
    shared_worker.on_event = w.bridge.event.emit  # the module's worker reports to this window
    w.worker = shared_worker
    return w


def open_page(w, tmp_path, blocks: list[tuple], links: list[tuple]) -> None:
    doc = {"format": "enuflow.page", "version": 1, "name": "t",
           "blocks": [{"id": i, "type": t, "pos": [x, y], "pins": p} for i, t, p, (x, y) in blocks],
           "links": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in links]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert w.open_path(str(path), ask=False)


def wait_run(qtbot, w) -> object:
    """Wait until the run in progress (and its runs again after a crash) has ended; its last event."""
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                    and w.last_event.run_id == w.run_id and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
    return w.last_event


def right_click_choose(qtbot, w, block_id: str, key: Qt.Key) -> list[str]:
    """Right-click ``block_id`` on the canvas and press ``key`` in the menu that opens (its accelerator); returns the
    menu's entries."""
    item = w.block_item(block_id)
    w.view.centerOn(item)
    point = w.view.mapFromScene(item.mapToScene(QPointF(item.boundingRect().center().x(), 8.0)))
    seen: list[str] = []

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu)
        seen.extend(a.text().replace("&", "") for a in menu.actions() if not a.isSeparator())
        qtbot.keyClick(menu, key)

    QTimer.singleShot(50, choose)
    vp = w.view.viewport()
    QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, vp.mapToGlobal(point)))
    return seen


def test_run_to_here_runs_only_what_the_blocks_need_and_keeps_the_other_results(qtbot, window, tmp_path):
    w = window
    # c feeds sq (asked for) and neg (not); a counter n += 1 (inc) sits on another branch, read reads n
    open_page(w, tmp_path, [
        ("c", "Const", {"val": 3.0}, (0, 0)), ("sq", "Square", {}, (300, 0)), ("neg", "Neg", {}, (300, 200)),
        ("n", "Variable", {"initvalues": 0, "dtype": "int64", "shape": "[]"}, (0, 400)),
        ("one", "Const", {"val": 1, "dtype": "int64"}, (0, 600)), ("inc", "AssignAdd", {}, (300, 500)),
        ("read", "Identity", {}, (300, 700))],
        [("c", "output", "sq", "x"), ("c", "output", "neg", "x"), ("n", "ref", "inc", "ref"),
         ("one", "output", "inc", "value"), ("n", "ref", "read", "input")])
    assert w.run_page() is not None
    ev = wait_run(qtbot, w)
    assert ev.kind == "done" and not ev.errors, ev.errors
    assert w.values[("neg", "y")] == -3.0 and w.values[("inc", "output_ref")] == 1
    # an edit of c, then Run to Here on sq and read (selected by clicks; the menu of sq)
    w.select(["c"])
    w.inspector.fields["val"].setText("4")
    w.inspector.fields["val"].editingFinished.emit()
    click_block(qtbot, w, "sq")
    click_block(qtbot, w, "read", add=True)
    assert set(w.scene.selected_block_ids()) == {"sq", "read"}
    entries = right_click_choose(qtbot, w, "sq", Qt.Key.Key_R)
    assert "Run to Here" in entries
    ev = wait_run(qtbot, w)
    assert ev.kind == "done" and not ev.errors, ev.errors
    # only sq, read and their inputs ran: TensorFlow's numbers for them, 4 * 4 and the counter never incremented
    assert set(b for b, _p in ev.results) == {"c", "sq", "n", "read"}
    assert w.values[("sq", "y")] == 16.0 and w.values[("c", "output")] == 4.0 and w.values[("read", "output")] == 0
    assert w.block_item("sq").previews["y"] == "16"
    # the other blocks keep the results of the run before (neg's is out of date: c changed since)
    assert w.values[("neg", "y")] == -3.0 and w.values[("inc", "output_ref")] == 1
    assert w.block_item("neg").previews["y"] == "-3"
    assert "neg" in w.scene.stale and "sq" not in w.scene.stale
    status = w.status_label.text()
    assert "4 block(s) ran" in status and "the other blocks keep their results" in status, status


def test_after_a_worker_crash_the_other_blocks_show_their_results(qtbot, window, tmp_path):
    w = window
    # MaxPoolGradWithArgmax given an argmax past its output fails a CHECK in TensorFlow: the process aborts
    open_page(w, tmp_path, [
        ("input", "Const", {"val": 1.0, "shape": "[1][2][2][1]", "dtype": "float32"}, (0, 0)),
        ("grad", "Const", {"val": 1.0, "shape": "[1][1][1][1]", "dtype": "float32"}, (0, 150)),
        ("argmax", "Const", {"val": 1000000000, "shape": "[1][1][1][1]", "dtype": "int64"}, (0, 300)),
        ("pool", "MaxPoolGradWithArgmax", {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"},
         (300, 150)),
        ("ok", "Const", {"val": [1.5, 2.5]}, (0, 500)), ("neg", "Neg", {}, (300, 500))],
        [("input", "output", "pool", "input"), ("grad", "output", "pool", "grad"),
         ("argmax", "output", "pool", "argmax"), ("ok", "output", "neg", "x")])
    assert w.run_page() is not None
    ev = wait_run(qtbot, w)
    # the page ran again without pool: the blocks that do not depend on it show their values
    assert ev.kind == "done"
    np.testing.assert_array_equal(w.values[("neg", "y")], [-1.5, -2.5])
    np.testing.assert_array_equal(w.values[("ok", "output")], [1.5, 2.5])
    assert not any(b == "pool" for b, _p in w.values)
    # the crashing block shows the crash
    errors = w.block_item("pool").errors
    assert errors and "crashed the run" in errors[0] and "SIG" in errors[0], errors
    assert not w.block_item("neg").errors and not w.block_item("ok").errors
    assert "run again without pool" in w.status_label.text()
    assert w.run_action.isEnabled()
