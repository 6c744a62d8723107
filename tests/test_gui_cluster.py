"""The editor on a TensorFlow cluster: the Run Target dialog, the devices the target lists in the inspector,
a block placed on a task (its stripe and the status bar legend), a run on the cluster, a task that is down,
and the lost connection to the target reported like a crashed worker. Real `enuflow worker` tasks on
127.0.0.1 (``cluster_servers``), killed in the fixture's teardown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cluster_servers import LocalCluster, two_workers_up
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QMessageBox

from enuflow.app.document.formats import load
from enuflow.app.gui.window import MainWindow

RUN_TIMEOUT_MS = 240_000
TASK0, TASK1 = "/job:worker/task:0", "/job:worker/task:1"


@pytest.fixture
def env(gui_env):
    return gui_env


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory):
    with two_workers_up(tmp_path_factory.mktemp("gui-cluster"), 2) as c:
        yield c


def _page_file(tmp: Path) -> str:
    p = tmp / "add.json"
    p.write_text(json.dumps({"format": "enuflow.page", "version": 1, "name": "add", "blocks": [
        {"id": "a", "type": "Const", "pos": [0, 0], "pins": {"val": [1.0, 2.0], "dtype": "float32"}},
        {"id": "b", "type": "Const", "pos": [0, 150], "pins": {"val": [3.0, 4.0], "dtype": "float32"}},
        {"id": "s", "type": "Add", "pos": [250, 60], "pins": {}}],
        "links": [{"from": ["a", "output"], "to": ["s", "x"]}, {"from": ["b", "output"], "to": ["s", "y"]}]}))
    return str(p)


def _window(qtbot, path: str | None, start_worker: bool) -> MainWindow:
    w = MainWindow(page=load(path) if path else None, path=path, start_worker=start_worker)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warnings_shown = []
    w.warn = lambda title, text: w.warnings_shown.append(text)
    w.show()
    return w


def _fill_target_dialog(qtbot, w: MainWindow, path: str, then_cancel: bool = False) -> None:
    """Once the Run Target dialog is open: pick "A cluster file", type the path, press OK (or Cancel)."""
    def act() -> None:
        d = w.target_dialog
        if d is None:
            QTimer.singleShot(20, act)
            return
        qtbot.mouseClick(d.cluster, Qt.MouseButton.LeftButton)
        d.path.clear()
        qtbot.keyClicks(d.path, path)
        qtbot.mouseClick(d.buttons.button(d.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
        if then_cancel:
            w.seen_problem = d.problem.text()
            qtbot.mouseClick(d.buttons.button(d.buttons.StandardButton.Cancel), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, act)


def _run_and_wait(qtbot, w: MainWindow):
    rid = w.run_page()
    assert rid is not None
    qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                    and w.last_event.run_id in (rid, 0) and not w.worker.busy, timeout=RUN_TIMEOUT_MS)
    return w.last_event


def _stripe_pixel(w: MainWindow, block: str) -> QColor:
    """The colour drawn at the left edge of the block's body, rendered at 1:1."""
    item = w.block_item(block)
    rect = item.sceneBoundingRect()
    img = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    w.scene.render(p, img.rect().toRectF(), rect)
    p.end()
    local = item.mapToScene(QPointF(2.5, item.body_h - 6)) - rect.topLeft()
    return img.pixelColor(int(local.x()), int(local.y()))


def test_bad_cluster_file_is_refused_in_the_dialog(qtbot, env, tmp_path) -> None:
    w = _window(qtbot, None, start_worker=False)
    bad = tmp_path / "c.json"
    bad.write_text('{"ps": ["127.0.0.1:1"]}')
    _fill_target_dialog(qtbot, w, str(bad), then_cancel=True)
    assert w.choose_target() is False
    assert str(bad) in w.seen_problem and "no 'worker' or 'chief' task" in w.seen_problem
    assert w.run_target is None and w.target_label.text() == "Target: this machine"


def test_editor_runs_a_page_on_a_cluster(qtbot, env, cluster: LocalCluster) -> None:
    w = _window(qtbot, _page_file(env), start_worker=True)
    try:
        _fill_target_dialog(qtbot, w, str(cluster.path))
        assert w.choose_target() is True
        assert w.run_target == {"kind": "cluster", "path": str(cluster.path)}
        assert str(cluster.path) in w.target_label.text()
        # the inspector's device field offers what the cluster's tasks list
        qtbot.waitUntil(lambda: TASK1 in w.target_devices, timeout=RUN_TIMEOUT_MS)
        w.select(["s"])
        combo = w.inspector.fields["@device"]
        offered = [combo.itemText(i) for i in range(combo.count())]
        assert TASK0 in offered and TASK1 in offered
        assert "/job:worker/replica:0/task:1/device:CPU:0" in offered
        combo.setFocus()
        combo.lineEdit().selectAll()
        qtbot.keyClicks(combo.lineEdit(), TASK1)
        qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
        assert w.page.block("s").device == TASK1
        # the block shows its task's colour, and the status bar the legend
        from enuflow.app.gui.target import task_colour

        assert _stripe_pixel(w, "s") == task_colour(TASK1)
        assert _stripe_pixel(w, "a") != task_colour(TASK1)
        qtbot.waitUntil(lambda: w.device_legend.isVisible() and TASK1 in w.device_legend.text(), timeout=5000)
        assert task_colour(TASK1).name() in w.device_legend.text()
        # the run goes to the cluster
        ev = _run_and_wait(qtbot, w)
        assert ev.kind == "done" and ev.errors == [], ev.errors
        np.testing.assert_array_equal(w.values[("s", "z")], np.float32([4, 6]))
        # task 1 down: s is named with its task, the Consts (on the target task) still give results
        cluster.kill(TASK1)
        ev = _run_and_wait(qtbot, w)
        assert ev.kind == "done"
        assert any(e["block"] == "s" and TASK1 in e["message"] for e in ev.errors)
        np.testing.assert_array_equal(w.values[("a", "output")], np.float32([1, 2]))
        assert w.block_item("s").errors
        # the target task itself gone: reported like a crashed worker, the page kept
        cluster.kill(TASK0)
        ev = _run_and_wait(qtbot, w)
        assert ev.kind == "crashed"
        assert "connection to the run target" in ev.message and TASK0 in ev.message
        assert w.status_label.text().startswith("The connection to the run target")
        assert len(w.page) == 3
        # back to this machine: the same page runs locally
        assert w.set_run_target({"kind": "local"}) is True
        w.select(["s"])
        combo = w.inspector.fields["@device"]
        combo.lineEdit().selectAll()
        qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Delete)
        qtbot.keyClick(combo.lineEdit(), Qt.Key.Key_Return)
        assert w.page.block("s").device is None
        qtbot.waitUntil(lambda: not w.device_legend.isVisible(), timeout=5000)
        ev = _run_and_wait(qtbot, w)
        assert ev.kind == "done" and ev.errors == [], ev.errors
        np.testing.assert_array_equal(w.values[("s", "z")], np.float32([4, 6]))
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
