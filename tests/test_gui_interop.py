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
from enuflow.app.engine.flatten import flatten
from enuflow.app.engine.runner import run_page
from enuflow.app.gui.main import make_window
from enuflow.app.gui.window import MainWindow
from enuflow.blocks.tf import load as load_tf

tf = load_tf()
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 300_000


@pytest.fixture
def env(gui_env, tmp_path, monkeypatch):
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
    assert w.path is None  # an import: Save asks where to keep it
    assert w.page.block("x").type == "Placeholder"
    # folded by name scope: the 143 Dense layers in runs at the top, every op inside
    assert w.page.composites and 3 <= len(w.page) <= 60
    assert len(flatten(w.page).page) >= 1000
    # laid out left to right by dependency, the long chain wrapped into bands one below the other (as lines of
    # text: a reader is right of its input, or in a band below), no two blocks on one spot, and every block drawn
    for ln in w.page.links:
        (sx, sy), (dx, dy) = w.page.block(ln.src).pos, w.page.block(ln.dst).pos
        assert sx < dx or dy > sy, ln
    xs, ys = [b.pos[0] for b in w.page], [b.pos[1] for b in w.page]
    assert max(xs) - min(xs) < 4 * (max(ys) - min(ys) + 200), (max(xs) - min(xs), max(ys) - min(ys))
    assert len({b.pos for b in w.page}) == len(w.page)
    assert len(w.scene.blocks) == len(w.page) and len(w.scene.wires) == len(w.page.links)

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


def test_a_weight_in_the_data_file_shows_in_the_inspector_as_its_reference(qtbot, env, tmp_path):
    from enuflow.app.engine.import_model import import_model

    gd, _out = frozen_dense_stack(3)
    (tmp_path / "small.pb").write_bytes(gd.SerializeToString())
    import_model(tmp_path / "small.pb", tmp_path / "small.json", fold=False)  # its weights on the page itself
    w = make_window(str(tmp_path / "small.json"), start_worker=False, offer_restore=False)
    qtbot.addWidget(w)
    w.warn = lambda title, text: pytest.fail(text)
    w.show()
    kernel = next(b for b in w.page if b.type == "Const" and isinstance(b.pins["val"], dict))
    w.select([kernel.id])
    assert '"data"' in w.inspector.fields["val"].text()
    assert w.inspector.errors["val"].text() == ""


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


def dense_model(seed: int) -> object:
    """A frozen two-layer Dense model (6 -> 6 -> 3) whose kernels are too large to sit in a page's JSON."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([tf.keras.Input((6,)), tf.keras.layers.Dense(6, activation="relu"),
                                 tf.keras.layers.Dense(3)])
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 6], tf.float32, name="x"))
    return convert_variables_to_constants_v2(fn).graph.as_graph_def()


def click_block(qtbot, w: MainWindow, block_id: str, add: bool = False) -> None:
    """Click a block's title on the canvas (Ctrl+click adds it to the selection), as a person does."""
    from PySide6.QtCore import QPointF, Qt

    item = w.block_item(block_id)
    w.view.centerOn(item)
    point = w.view.mapFromScene(item.mapToScene(QPointF(item.boundingRect().center().x(), 8.0)))
    mods = Qt.KeyboardModifier.ControlModifier if add else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, mods, point)


def test_blocks_copied_from_a_model_page_run_when_pasted_into_another_page(qtbot, env, tmp_path, monkeypatch):
    """Blocks whose weights live in their page's data file, copied (Ctrl+C), pasted (Ctrl+V) into another model's
    page (File > Open), bring their weights along: Run gives TensorFlow's numbers, and the page's own blocks
    keep theirs (both pages name their blocks and weights alike), also after Save."""
    from PySide6.QtCore import Qt

    from enuflow.app.engine.import_model import import_model

    gd_a = dense_model(1)
    gd_b = tf.compat.v1.GraphDef()  # the same model with other weights: its blocks and data entries named alike
    gd_b.CopyFrom(gd_a)
    for node in gd_b.node:
        if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum:
            value = tf.make_ndarray(node.attr["value"].tensor)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value * -2.0 + 0.5))
    for name, gd in (("a", gd_a), ("b", gd_b)):
        (tmp_path / name).mkdir()
        (tmp_path / f"{name}.pb").write_bytes(gd.SerializeToString())
        import_model(tmp_path / f"{name}.pb", tmp_path / name / f"{name}.json", fold=False)
    a = load(tmp_path / "a" / "a.json")
    first = next(b for b in a if b.type == "MatMul" and any(ln.src == "x" for ln in a.links_into(b.id)))
    read = next(ln.src for ln in a.links_into(first.id) if ln.dst_port == "b")  # an Identity of the kernel
    (kernel,) = [ln.src for ln in a.links_into(read)]
    assert isinstance(a.block(kernel).pins["val"], dict)  # the kernel is a reference into a.npz

    w = make_window(str(tmp_path / "a" / "a.json"), start_worker=True, offer_restore=False)
    qtbot.addWidget(w)
    w.prompt = lambda title, text, buttons: QMessageBox.StandardButton.Discard
    w.warn = lambda title, text: pytest.fail(text)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    from PySide6.QtWidgets import QApplication

    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    qtbot.waitUntil(lambda: w._catalogue_loaded, timeout=TIMEOUT_MS)  # every op block's ports known
    try:
        click_block(qtbot, w, "x")
        for bid in (first.id, read, kernel):
            click_block(qtbot, w, bid, add=True)
        assert set(w.scene.selected_block_ids()) == {"x", first.id, read, kernel}
        w.view.setFocus()
        qtbot.keyClick(w.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)

        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "b" / "b.json"), ""))
        assert '"format": "enuflow.clip"' in QApplication.clipboard().text()
        qtbot.keyClick(w.view, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
        assert w.path == str(tmp_path / "b" / "b.json")
        before = {b.id for b in w.page}
        w.view.setFocus()
        qtbot.keyClick(w.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        pasted = [b.id for b in w.page if b.id not in before]
        assert len(pasted) == 4
        new_x = next(b for b in pasted if w.page.block(b).type == "Placeholder")
        new_mm = next(b for b in pasted if w.page.block(b).type == "MatMul")
        x = np.array([[1.0, -2.0, 0.5, 3.0, -1.5, 2.5]], np.float32)
        w.select([new_x])
        field = w.inspector.fields["value"]
        field.setText(json.dumps(x.tolist()))
        field.editingFinished.emit()
        w.select(["x"])  # b's own input: ones
        field = w.inspector.fields["value"]
        field.setText("[[1, 1, 1, 1, 1, 1]]")
        field.editingFinished.emit()

        from PySide6.QtCore import QPointF
        from test_gui import mouse_drag, wire

        # the pasted blocks (still selected) are dragged below the page's own, then wired into its session
        w.select(pasted)
        item = w.block_item(new_mm)
        grip = item.mapToScene(QPointF(item.boundingRect().center().x(), 8.0))
        below = max(it.sceneBoundingRect().bottom() for it in w.scene.blocks.values()) + 200
        session = next(b.id for b in w.page if b.type == "ClientSession")
        target = w.block_item(session).sceneBoundingRect().left() - 250
        w.view.fit()
        mouse_drag(w, grip, QPointF(target, below))
        assert w.block_item(new_mm).sceneBoundingRect().top() > below - 100
        w.view.resetTransform()
        w.view.scale(0.7, 0.7)  # both ends of the wire in sight
        w.view.centerOn(w.block_item(new_mm).sceneBoundingRect().united(
            w.block_item(session).sceneBoundingRect()).center())
        w.scene.clearSelection()
        wire(w, new_mm, "product", session, "fetch_outputs")  # drag a wire: the session fetches the pasted product
        assert any(ln.src == new_mm and ln.dst == session for ln in w.page.links)
        ids = {b.id for b in w.page}
        w.view.setFocus()
        qtbot.keyClick(w.view, Qt.Key.Key_F5)
        qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                        and not w.worker.busy, timeout=TIMEOUT_MS)
        assert w.last_event.kind == "done" and not w.last_event.errors, w.last_event.errors
        assert {b.id for b in w.page} == ids

        def tf_output(pb: Path, node: str, feed: np.ndarray) -> np.ndarray:
            gd = tf.compat.v1.GraphDef()
            gd.ParseFromString(pb.read_bytes())
            g = tf.Graph()
            with g.as_default():
                tf.compat.v1.import_graph_def(gd, name="")
            with tf.compat.v1.Session(graph=g) as s:
                return s.run(node + ":0", {"x:0": feed})

        # the pasted blocks compute model a's first MatMul; b's own blocks still compute model b's
        np.testing.assert_allclose(w.values[(new_mm, "product")], tf_output(tmp_path / "a.pb", first.id, x),
                                   atol=1e-5)
        ones = np.ones((1, 6), np.float32)
        np.testing.assert_allclose(w.values[(first.id, "product")], tf_output(tmp_path / "b.pb", first.id, ones),
                                   atol=1e-5)

        # saved and reopened, both keep their weights (the page's data file now holds both)
        assert w.save_to(str(tmp_path / "b" / "b.json"))
        page = load(tmp_path / "b" / "b.json")
        report = run_page(page)
        assert report.ok, report.errors
        np.testing.assert_allclose(report.results.get(new_mm, "product"),
                                   tf_output(tmp_path / "a.pb", first.id, x), atol=1e-5)
        np.testing.assert_allclose(report.results.get(first.id, "product"),
                                   tf_output(tmp_path / "b.pb", first.id, ones), atol=1e-5)
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
