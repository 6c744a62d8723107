"""The editor shows string, complex, bool and empty results and handles in its Results table and on the blocks
(they travel from the worker through shared memory), and lists a device pin this machine lacks in Problems."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.test_gui_run import env, page_file, run_and_wait, window  # noqa: F401 - pytest fixtures


def cells(w, block: str) -> dict[str, list[str]]:
    """Every result pin of ``block`` as the Results table shows it, read cell by cell."""
    w.select([block])
    out = {}
    for i in range(w.results.pin.count()):
        w.results.pin.setCurrentIndex(i)
        m = w.results.table_model
        out[w.results.pin.currentText()] = [m.data(m.index(r, c)) for r in range(m.rowCount())
                                            for c in range(m.columnCount())]
    return out


def test_results_table_shows_every_dtype(qtbot, window, env):  # noqa: F811
    w = window
    c = {"id": "c", "type": "Complex", "pos": [200, 300], "pins": {}}
    path = page_file(env, "dtypes", [
        {"id": "word", "type": "Const", "pos": [0, 0], "pins": {"val": "abc", "dtype": "string"}},
        {"id": "yes", "type": "Const", "pos": [0, 100], "pins": {"val": True}},
        {"id": "sw", "type": "Switch", "pos": [200, 0], "pins": {}},
        {"id": "b64", "type": "Const", "pos": [0, 200], "pins": {"val": ["_w", "aGk"], "dtype": "string"}},
        {"id": "raw", "type": "DecodeBase64", "pos": [200, 200], "pins": {}},
        {"id": "re", "type": "Const", "pos": [0, 300], "pins": {"val": [1.0, 0.5]}},
        {"id": "im", "type": "Const", "pos": [0, 400], "pins": {"val": [-2.0, 0.0]}},
        c,
        {"id": "none", "type": "Const", "pos": [0, 500], "pins": {"val": [], "dtype": "float32"}},
        {"id": "h", "type": "VarHandleOp", "pos": [0, 600], "pins": {"dtype": "float32", "shape": [],
                                                                      "shared_name": "h"}},
        {"id": "far", "type": "Neg", "pos": [200, 500], "pins": {}, "device": "/device:GPU:9"}],
        [{"from": ["word", "output"], "to": ["sw", "data"]}, {"from": ["yes", "output"], "to": ["sw", "pred"]},
         {"from": ["b64", "output"], "to": ["raw", "input"]}, {"from": ["re", "output"], "to": ["c", "real"]},
         {"from": ["im", "output"], "to": ["c", "imag"]}, {"from": ["re", "output"], "to": ["far", "x"]}])
    assert w.open_path(path, ask=False)
    ev = run_and_wait(qtbot, w)
    assert ev.kind == "done" and ev.errors == []
    assert cells(w, "sw")["output_true"] == ["abc"]  # a scalar string crashed the run before
    assert cells(w, "raw")["output"] == ["\\xff", "hi"]
    assert cells(w, "c")["out"] == ["1-2j", "0.5+0j"]
    assert cells(w, "yes")["output"] == ["True"]
    assert cells(w, "none")["output"] == []
    assert cells(w, "h")["resource"] == ["<resource handle>"]
    w.select(["sw"])
    assert w.block_item("sw").previews.get("output_true") == "abc"
    problems = [w.problems.item(i).text() for i in range(w.problems.count())]
    assert any(t.startswith("warning: block 'far'") and "/device:GPU:9" in t for t in problems)
