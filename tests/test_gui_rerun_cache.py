"""The editor's cached re-runs, driven as a person does: a page run with F5, a value edited in the inspector, F5
again: the status bar says how many blocks ran and how many came from cache, the blocks whose results came from
the run before are tagged (and their ports' tips say so), and the results are numpy's."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt

from tests.test_gui_run_to import open_page, shared_worker, wait_run, window  # noqa: F401 - fixtures

RNG = np.random.default_rng(3)
A = RNG.standard_normal((5, 5)).astype(np.float32)
W = (RNG.standard_normal((5, 5)) / 3).astype(np.float32)


def f5(qtbot, w):
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key.Key_F5)
    assert w.run_id, w.status_label.text()
    ev = wait_run(qtbot, w)
    assert ev.kind == "done" and not ev.errors, ev.errors
    return ev


def type_value(w, block: str, text: str) -> None:
    w.select([block])
    assert w.inspector.block_id == block
    field = w.inspector.fields["val"]
    field.setText(text)
    field.editingFinished.emit()


def test_an_edit_then_f5_runs_only_what_it_reaches(qtbot, window, tmp_path):
    w = window
    open_page(w, tmp_path, [
        ("a", "Const", {"val": A.tolist(), "dtype": "float32"}, (0, 0)),
        ("w", "Const", {"val": W.tolist(), "dtype": "float32"}, (0, 200)),
        ("m1", "MatMul", {}, (250, 0)), ("m2", "MatMul", {}, (500, 0)),
        ("c", "Const", {"val": 1.0, "dtype": "float32"}, (500, 250)), ("out", "Add", {}, (750, 0))],
        [("a", "output", "m1", "a"), ("w", "output", "m1", "b"), ("m1", "product", "m2", "a"),
         ("w", "output", "m2", "b"), ("m2", "product", "out", "x"), ("c", "output", "out", "y")])
    f5(qtbot, w)
    assert "from cache" not in w.status_label.text()
    chain = A.astype(np.float64) @ W @ W
    type_value(w, "c", "5")
    ev = f5(qtbot, w)
    status = w.status_label.text()
    assert "2 blocks ran, 4 from cache" in status, status
    assert set(ev.cached) == {"a", "w", "m1", "m2"} and set(ev.ran) == {"c", "out"}
    np.testing.assert_allclose(w.values[("out", "z")], chain + 5.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.values[("m2", "product")], chain, rtol=1e-5, atol=1e-5)
    assert w.block_item("m2").cached and not w.block_item("out").cached
    assert "(from cache)" in w.block_item("m2").port_tip("product", True)
    assert "(from cache)" not in w.block_item("out").port_tip("z", True)
    # an edit upstream: everything it reaches runs again
    a2 = np.round(A * 2, 2).astype(np.float32)
    type_value(w, "a", str(a2.tolist()))
    ev = f5(qtbot, w)
    # (only the Consts w and c kept their values: nothing computed comes from the cache, the page runs as a whole)
    assert not ev.cached and {"a", "m1", "m2", "out"} <= set(ev.ran)
    assert not w.block_item("m2").cached and "from cache" not in w.status_label.text()
    np.testing.assert_allclose(w.values[("out", "z")], a2.astype(np.float64) @ W @ W + 5.0, rtol=1e-5, atol=1e-5)
