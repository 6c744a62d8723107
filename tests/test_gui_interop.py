"""TensorFlow interop from the editor: opening a frozen model (1,000 nodes, laid out), Save As keeping its
data file, File > Export SavedModel served by TensorFlow, and Run > TensorBoard Log Folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QFileDialog, QMessageBox

from enuflow.app.document.formats import load
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.runner import run_page
from enuflow.app.gui.main import make_window
from enuflow.app.gui.window import MainWindow
from enuflow.blocks.tf import load as load_tf

tf = load_tf()
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 300_000


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ENUFLOW_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("ENUFLOW_CONFIG_DIR", str(tmp_path / "config"))
    from enuflow.app.gui import interop

    monkeypatch.setattr(interop, "import_folder", lambda source: tmp_path / "imports" / Path(source).stem)
    return tmp_path


def frozen_dense_stack(layers: int) -> tuple[object, str]:
    """A Keras stack of Dense layers frozen to a GraphDef (7 nodes per layer), and its output node."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tf.keras.utils.set_random_seed(5)
    model = tf.keras.Sequential([tf.keras.Input((6,))] + [tf.keras.layers.Dense(6, activation="relu")
                                                          for _ in range(layers)])
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 6], tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(fn)
    return frozen.graph.as_graph_def(), frozen.outputs[0].name.split(":")[0]


def test_open_a_thousand_node_model_laid_out_then_save_as(qtbot, env, tmp_path):
    gd, out = frozen_dense_stack(143)
    assert len(gd.node) >= 1000
    (tmp_path / "big.pb").write_bytes(gd.SerializeToString())
    w = make_window(str(tmp_path / "big.pb"), start_worker=False, offer_restore=False)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warn = lambda title, text: pytest.fail(text)
    w.show()
    assert len(w.page) >= 1000 and w.path is None  # an import: Save asks where to keep it
    assert w.page.block("x").type == "Placeholder"
    # laid out left to right by dependency, no two blocks on one spot, and every block drawn
    for ln in w.page.links:
        assert w.page.block(ln.src).pos[0] < w.page.block(ln.dst).pos[0], ln
    assert len({b.pos for b in w.page}) == len(w.page)
    assert len(w.scene.blocks) == len(w.page) and len(w.scene.wires) == len(w.page.links)
    # a weight held in the data file shows in the inspector as its reference, with no complaint
    kernel = next(b for b in w.page if b.type == "Const" and isinstance(b.pins["val"], dict))
    w.select([kernel.id])
    assert '"data"' in w.inspector.fields["val"].text()
    assert w.inspector.errors["val"].text() == ""

    target = tmp_path / "kept" / "big.json"
    target.parent.mkdir()
    assert w.save_to(str(target))
    assert (tmp_path / "kept" / "big.npz").is_file()
    page = load(target)
    np.save(tmp_path / "x.npy", np.ones((2, 6), np.float32))
    assert not apply_feeds(page, [f"x={tmp_path / 'x.npy'}"])
    report = run_page(page)
    assert report.ok, report.errors
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        want = s.run(out + ":0", {"x:0": np.ones((2, 6), np.float32)})
    np.testing.assert_allclose(report.results.get(out, "output"), want, atol=1e-5)


def test_file_menu_exports_a_savedmodel_tensorflow_serves(qtbot, env, tmp_path, monkeypatch):
    page_path = tmp_path / "p.json"
    page_path.write_text(json.dumps({"format": "enuflow.page", "version": 1, "name": "p", "blocks": [
        {"id": "x", "type": "Placeholder", "pos": [0, 0], "pins": {"dtype": "float32", "shape": [-1],
                                                                    "value": [1.0, 2.0]}},
        {"id": "k", "type": "Const", "pos": [0, 100], "pins": {"val": 3.0, "dtype": "float32"}},
        {"id": "m", "type": "Mul", "pos": [200, 0], "pins": {}}],
        "links": [{"from": ["x", "output"], "to": ["m", "x"]}, {"from": ["k", "output"], "to": ["m", "y"]}]}))
    w = MainWindow(load(page_path), str(page_path), start_worker=False)
    qtbot.addWidget(w)
    w.warn = lambda title, text: pytest.fail(text)
    w.show()
    target = tmp_path / "served"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    w.export_savedmodel_action.trigger()
    qtbot.waitUntil(lambda: w.export_result is not None, timeout=TIMEOUT_MS)
    assert w.export_result[0] == 0, w.export_result
    assert "Exported" in w.status_label.text() or "wrote" in w.status_label.text()
    fn = tf.saved_model.load(str(target)).signatures["serving_default"]
    got = fn(x=tf.constant([1.0, -2.0, 0.5]))["m.z"].numpy()
    np.testing.assert_allclose(got, [3.0, -6.0, 1.5])


def test_run_menu_tensorboard_log_folder(qtbot, env, tmp_path, monkeypatch):
    w = MainWindow(load(ROOT / "scenes" / "linear_regression.json"), None, start_worker=True)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warn = lambda title, text: None
    w.show()
    try:
        logs = tmp_path / "tb"
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(logs))
        w.logdir_action.trigger()
        assert w.logdir_action.isChecked() and w.logdir == str(logs)
        rid = w.run_page(steps=12)
        assert rid is not None
        qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                        and w.last_event.run_id == rid, timeout=TIMEOUT_MS)
        assert w.last_event.kind == "done" and not w.last_event.errors
        steps: dict[str, list[int]] = {}
        graphs = 0
        for f in logs.glob("events.out.tfevents.*"):
            for ev in tf.compat.v1.train.summary_iterator(str(f)):
                graphs += ev.HasField("graph_def")
                for v in ev.summary.value:
                    steps.setdefault(v.tag, []).append(ev.step)
        assert graphs == 1
        assert "cost.output" in steps
        assert all(sorted(s) == list(range(1, 13)) for s in steps.values())
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
        w.logdir_action.trigger()  # cancelled: logging is off
        assert w.logdir is None and not w.logdir_action.isChecked()
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
