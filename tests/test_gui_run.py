"""The editor running pages through its warm worker process: results in the results dock and on the
blocks, a failing block's badge while the others keep their results, Stop and Kill of a looped run,
an Abort page that kills the worker but not the editor, and unsaved work restored after the editor
itself is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMessageBox

from enuflow.app.document.formats import load
from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.gui.main import make_window
from enuflow.app.gui.window import MainWindow
from tests.test_gui import build_grad_page

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenes" / "sparse_fill_empty_rows_grad.json"
RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def env(gui_env):
    return gui_env


@pytest.fixture
def window(qtbot, env):
    w = MainWindow(start_worker=True)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warn = lambda title, text: None
    w.show()
    yield w
    if w.worker is not None:
        w.worker.close()
        w.worker = None


def run_and_wait(qtbot, w: MainWindow, kinds=("done", "crashed")) -> object:
    rid = w.run_page()
    assert rid is not None
    # (after a crash the page runs again without the crashing blocks: w.run_id is then that run's)
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in kinds
                    and w.last_event.run_id in (w.run_id, 0) and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
    return w.last_event


def results_dock_values(w: MainWindow, block: str) -> dict[str, list]:
    """What the results dock shows for ``block``: every result pin's table, read cell by cell."""
    w.select([block])
    out = {}
    for i in range(w.results.pin.count()):
        w.results.pin.setCurrentIndex(i)
        m = w.results.table_model
        cells = [float(m.data(m.index(r, c))) for r in range(m.rowCount()) for c in range(m.columnCount())]
        out[w.results.pin.currentText()] = cells
    return out


def page_file(tmp: Path, name: str, blocks: list[dict], links: list[dict]) -> str:
    p = tmp / f"{name}.json"
    p.write_text(json.dumps({"format": "enuflow.page", "version": 1, "name": name, "blocks": blocks,
                             "links": links}), encoding="utf-8")
    return str(p)


def test_draw_then_run_and_read_results_dock(qtbot, window):
    w = window
    build_grad_page(w)
    ev = run_and_wait(qtbot, w)
    assert ev.kind == "done" and not ev.errors, ev.errors
    shown = results_dock_values(w, "SparseFillEmptyRowsGrad")
    assert shown == {"d_values": [2.0, 1.0], "d_default_value": [3.0]}
    # the block shows a compact preview of its results
    assert w.block_item("SparseFillEmptyRowsGrad").previews["d_default_value"] == "3"
    assert not w.block_item("SparseFillEmptyRowsGrad").errors
    # a value edit and a second run on the warm worker: the graph is not rebuilt
    w.select(["Const_2"])
    w.inspector.fields["val"].setText("10,1,2,3")
    w.inspector.fields["val"].editingFinished.emit()
    ev = run_and_wait(qtbot, w)
    assert ev.kind == "done" and not ev.rebuilt
    assert results_dock_values(w, "SparseFillEmptyRowsGrad") == {"d_values": [2.0, 1.0], "d_default_value": [13.0]}


def test_failing_block_badge_while_others_keep_results(qtbot, window, env):
    w = window
    path = page_file(env, "bad", [
        {"id": "rim", "type": "Const", "pos": [0, 0], "pins": {"val": [7, 1], "dtype": "int64"}},
        {"id": "grad", "type": "Const", "pos": [0, 150], "pins": {"val": "0,1,2,3", "dtype": "float32"}},
        {"id": "g", "type": "SparseFillEmptyRowsGrad", "pos": [250, 60], "pins": {}}],
        [{"from": ["rim", "output"], "to": ["g", "reverse_index_map"]},
         {"from": ["grad", "output"], "to": ["g", "grad_values"]}])
    assert w.open_path(path, ask=False)
    ev = run_and_wait(qtbot, w)
    assert ev.kind == "done"
    badge = w.block_item("g").errors
    assert badge and "reverse index" in badge[0]
    assert w.block_item("g").toolTip() == "\n".join(badge)
    assert not w.block_item("rim").errors and not w.block_item("grad").errors
    assert np.array_equal(w.values[("rim", "output")], [7, 1])
    assert results_dock_values(w, "grad") == {"output": [0.0, 1.0, 2.0, 3.0]}
    # the problems list names the block; clicking it selects the block
    items = [w.problems.item(i) for i in range(w.problems.count())]
    hit = [it for it in items if "reverse index" in it.text()]
    assert hit
    w.scene.clearSelection()
    w._problem_clicked(hit[0])
    assert w.scene.selected_block_ids() == ["g"]


def test_abort_page_leaves_editor_alive_with_page_and_undo(qtbot, window, env):
    w = window
    path = page_file(env, "abort", [
        {"id": "c", "type": "Const", "pos": [0, 0], "pins": {"val": 1}},
        {"id": "abort", "type": "Abort", "pos": [250, 0], "pins": {"error_msg": "boom"}}], [])
    assert w.open_path(path, ask=False)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Yes  # allow the io block
    w.add_block_at("Const", QPointF(0, 200))
    before = page_to_doc(w.page)
    undo_count = w.undo.count()
    ev = run_and_wait(qtbot, w)
    # the worker crashed in abort; the page ran again without it (as enuflow run does): c has its value
    assert ev.kind == "done" and w.crash_retry.removed == ["abort"]
    assert w.crash_retry.crash["signal"] == "SIGABRT" and w.crash_retry.crash["blocks"] == ["abort"]
    assert np.array_equal(w.values[("c", "output")], 1)
    assert w.isVisible() and page_to_doc(w.page) == before and w.undo.count() == undo_count
    assert any("crash" in m for m in w.block_item("abort").errors)
    assert w.run_action.isEnabled()
    # the next run starts a fresh worker (without the Abort block it completes)
    w.undo.push(__import__("enuflow.app.gui.commands", fromlist=["RemoveCommand"]).RemoveCommand(w.page, ["abort"]))
    ev = run_and_wait(qtbot, w)
    assert ev.kind == "done" and np.array_equal(w.values[("c", "output")], 1)
    w.undo.undo()
    assert "abort" in w.page


def test_looped_run_progress_stop_and_kill(qtbot, window, env):
    w = window
    path = page_file(env, "loop", [
        {"id": "x", "type": "Const", "pos": [0, 0], "pins": {"val": 2.0}},
        {"id": "session", "type": "ClientSession", "pos": [250, 0], "pins": {"INFINITE_LOOP": True}}],
        [{"from": ["x", "output"], "to": ["session", "fetch_outputs"]}])
    assert w.open_path(path, ask=False)
    rid = w.run_page()
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind == "step" and w.last_event.step >= 3,
                    timeout=RUN_TIMEOUT_MS)
    assert w.progress.isVisible() and w.stop_action.isEnabled()
    w.stop_run()
    qtbot.waitUntil(lambda: w.last_event.kind == "done" and w.last_event.run_id == rid, timeout=RUN_TIMEOUT_MS)
    assert w.last_event.stopped and w.last_event.steps_done >= 3
    assert not w.progress.isVisible()
    w.results.show_block("x")
    assert len(w.results.history.get(("x", "output"), [])) >= 3
    assert w.results.trend.values[:3] == [2.0, 2.0, 2.0]
    # a run that will not stop by itself is killed; the editor stays, the next run restarts the worker
    rid = w.run_page()
    qtbot.waitUntil(lambda: w.last_event.kind == "step" and w.last_event.run_id == rid, timeout=RUN_TIMEOUT_MS)
    w.kill_run()
    qtbot.waitUntil(lambda: w.last_event.kind == "crashed", timeout=RUN_TIMEOUT_MS)
    assert w.isVisible() and len(w.page) == 2


def test_console_shows_what_the_page_printed(qtbot, window, env):
    w = window
    path = page_file(env, "print", [
        {"id": "c", "type": "Const", "pos": [0, 0], "pins": {"val": 42}},
        {"id": "p", "type": "Print", "pos": [250, 0], "pins": {"message": "the answer is "}}],
        [{"from": ["c", "output"], "to": ["p", "input"]}, {"from": ["c", "output"], "to": ["p", "data"]}])
    assert w.open_path(path, ask=False)
    def in_front(name: str) -> bool:  # a dock behind another's tab is shown nowhere
        return not w._docks[name].visibleRegion().isEmpty()

    assert w.console.text() == "" and in_front("Problems") and not in_front("Console")
    w.run_action.trigger()  # Run, as a person presses it
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind == "done", timeout=RUN_TIMEOUT_MS)
    # Print writes to the worker's stderr (TensorFlow's C++ side); the Console shows it, and nothing of
    # TensorFlow's start-up notices
    assert w.console.text() == "the answer is [42]"
    assert in_front("Console") and not in_front("Problems")  # its tab came to the front, beside Problems
    assert w._docks["Console"].toggleViewAction().text() == "Console"
    w.console.clear_button.click()
    assert w.console.text() == ""
    # a second run shows its own output only
    w.select(["c"])
    w.inspector.fields["val"].setText("7")
    w.inspector.fields["val"].editingFinished.emit()
    w.console.append("left from before")
    w.run_action.trigger()
    rid = w.run_id
    qtbot.waitUntil(lambda: w.last_event.kind == "done" and w.last_event.run_id == rid, timeout=RUN_TIMEOUT_MS)
    assert w.console.text() == "the answer is [7]"


RECOVERY_CHILD = r"""
import os, sys, time
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QPointF
app = QApplication([])
from enuflow.app.gui.main import make_window
w = make_window(sys.argv[1], start_worker=False, offer_restore=False)
w.show()
w.add_block_at("Const", QPointF(100, 400))
w.undo.push(__import__("enuflow.app.gui.commands", fromlist=["SetPinCommand"]).SetPinCommand(w.page, "Const", "val", [5, 6]))
w.page.block("rim")  # still there
w.add_link("Const", "output", "session", "fetch_outputs")
deadline = time.time() + 20
while time.time() < deadline and not w.recovery.path.exists():
    app.processEvents(); time.sleep(0.02)
w.recovery.flush()
print("edited", flush=True)
while True:
    app.processEvents(); time.sleep(0.05)
"""


def test_sigkilled_editor_is_restored_on_next_start(qtbot, env, monkeypatch, tmp_path):
    page = tmp_path / "work.json"
    page.write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", RECOVERY_CHILD, str(page)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "edited"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    asked = []

    def yes(parent, title, text, buttons):
        asked.append(title)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    w = make_window(None, start_worker=False, offer_restore=True)
    qtbot.addWidget(w)
    assert asked == ["Restore unsaved work?"]
    assert w.page.block("Const").pins == {"val": [5, 6]}
    assert any(ln.src == "Const" and ln.dst == "session" for ln in w.page.links)
    assert w.path == str(page) and w.dirty
    assert load(page).get("Const") is None  # the file itself was never saved
    w.prompt = lambda *a: QMessageBox.StandardButton.Discard
    w.close()
    # restored once: the next start does not ask again
    asked.clear()
    w2 = make_window(None, start_worker=False, offer_restore=True)
    qtbot.addWidget(w2)
    assert asked == []
    w2.close()


def test_recovery_written_after_each_edit(qtbot, env):
    w = MainWindow(start_worker=False)
    qtbot.addWidget(w)
    w.add_block_at("Const", QPointF(0, 0))
    qtbot.waitUntil(lambda: w.recovery.path.exists(), timeout=5000)
    w.recovery.flush()
    data = json.loads(w.recovery.path.read_text(encoding="utf-8"))
    assert [b["id"] for b in data["page"]["blocks"]] == ["Const"]
    w.add_block_at("Const", QPointF(0, 200))
    w.recovery.flush()
    qtbot.waitUntil(lambda: len(json.loads(w.recovery.path.read_text(encoding="utf-8"))["page"]["blocks"]) == 2,
                    timeout=5000)
    w.prompt = lambda *a: QMessageBox.StandardButton.Discard
    w.close()
    assert not w.recovery.path.exists()
    time.sleep(0.01)


def test_step_continues_training_and_the_trend_goes_on(qtbot, env):
    w = make_window(str(ROOT / "scenes" / "linear_regression.json"), start_worker=True, offer_restore=False)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warn = lambda title, text: None
    try:
        costs = []
        for _ in range(3):  # Step (F10): one step each, Variables carried on
            rid = w.step_page()
            assert rid is not None
            qtbot.waitUntil(lambda rid=rid: w.last_event is not None and w.last_event.kind == "done"
                            and w.last_event.run_id == rid and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
            costs.append(float(np.asarray(w.values[("cost", "output")])))
        assert costs[0] > costs[1] > costs[2]
        assert w.history[("cost", "output")] == pytest.approx(costs)  # the trend spans the steps
        ev = run_and_wait(qtbot, w)  # Run starts afresh: Variables re-initialised, the full loop runs
        assert ev.kind == "done" and ev.initialised and ev.steps_done == 300
        assert w.history[("cost", "output")][:3] == pytest.approx(costs)
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
