"""Every dtype TensorFlow returns reaches `run --json`, the table, `--save-results`, shared memory and the editor.

Expected values come from hand-written TensorFlow running the same ops; the JSON forms are written out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.document.formats import load
from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.document.tensors import Handle, format_tensor, results_from_json, tensor_from_json, tensor_json
from enuflow.app.engine.runner import run_page
from enuflow.app.worker import shm

CASTS = ["bool", "complex64", "complex128", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
         "float16", "bfloat16", "float64"]


def dtype_page():
    blocks = [("x", "Const", {"val": [1.5, -2.0, 0.0]}),
              ("word", "Const", {"val": "abc", "dtype": "string"}),
              ("yes", "Const", {"val": True}),
              ("sw", "Switch", {}),
              ("words", "Const", {"val": ["ab", "\u00fc"], "dtype": "string"}),
              ("b64", "Const", {"val": "_w", "dtype": "string"}),
              ("raw", "DecodeBase64", {}),
              ("dims", "Const", {"val": [0, 3], "dtype": "int32"}),
              ("one", "Const", {"val": 1.0}),
              ("empty", "Fill", {}),
              ("re", "Const", {"val": 1.0}), ("im", "Const", {"val": -2.0}), ("c", "Complex", {}),
              ("h", "VarHandleOp", {"dtype": "float32", "shape": [], "shared_name": "h"})]
    blocks += [(f"to_{d}", "Cast", {"DstT": d}) for d in CASTS]
    links = [("word", "output", "sw", "data"), ("yes", "output", "sw", "pred"),
             ("b64", "output", "raw", "input"), ("dims", "output", "empty", "dims"),
             ("one", "output", "empty", "value"),
             ("re", "output", "c", "real"), ("im", "output", "c", "imag")]
    links += [("x", "output", f"to_{d}", "x") for d in CASTS]
    return make_page(blocks, links)


def by_hand() -> dict[tuple[str, str], np.ndarray]:
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.constant([1.5, -2.0, 0.0])
        want = {(f"to_{d}", "y"): tf.cast(x, tf.as_dtype(d)) for d in CASTS}
        want[("sw", "output_true")] = tf.raw_ops.Switch(data=tf.constant(b"abc"), pred=True).output_true
        want[("raw", "output")] = tf.io.decode_base64(tf.constant("_w"))
        want[("words", "output")] = tf.constant(["ab", "\u00fc"])
        want[("empty", "output")] = tf.fill([0, 3], 1.0)
        want[("c", "out")] = tf.complex(1.0, -2.0)
    with tf.compat.v1.Session(graph=g) as s:
        got = s.run(want)
    return {k: np.asarray(v) if not isinstance(v, bytes) else np.array(v, dtype=object) for k, v in got.items()}


def same(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    if b.dtype.kind in "OS":
        assert [bytes(x) for x in a.reshape(-1)] == [bytes(x) for x in b.reshape(-1)]
    else:
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def expected():
    return by_hand()


def test_runner_gives_every_dtype(expected) -> None:
    rep = run_page(dtype_page())  # a scalar string out of a Switch crashed the runner ('bytes' has no 'ndim')
    assert rep.errors == []
    for k, v in expected.items():
        same(rep.results.get(*k), v)
    assert rep.results.get("h", "resource").item() == Handle("resource")


def test_cli_json_table_and_saved_results(tmp_path: Path, expected) -> None:
    from test_cli import enuflow

    p = tmp_path / "dtypes.json"
    p.write_text(json.dumps(page_to_doc(dtype_page())))
    saved = tmp_path / "saved.json"
    r = enuflow("run", str(p), "--json", "--save-results", str(saved))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    res = doc["results"]
    assert res["sw"]["output_true"] == {"dtype": "string", "shape": [], "value": "abc"}
    assert res["words"]["output"] == {"dtype": "string", "shape": [2], "value": ["ab", "\u00fc"]}
    assert res["raw"]["output"] == {"dtype": "string", "shape": [], "value": "\\xff", "escaped": True}
    assert res["to_complex64"]["y"]["value"] == [[1.5, 0.0], [-2.0, 0.0], [0.0, 0.0]]
    assert res["c"]["out"] == {"dtype": "complex64", "shape": [], "value": [1.0, -2.0]}
    assert res["to_bool"]["y"] == {"dtype": "bool", "shape": [3], "value": [True, True, False]}
    assert res["to_bfloat16"]["y"] == {"dtype": "bfloat16", "shape": [3], "value": [1.5, -2.0, 0.0]}
    assert res["empty"]["output"] == {"dtype": "float32", "shape": [0, 3], "value": []}
    assert res["h"]["resource"] == {"dtype": "resource", "shape": [], "value": None, "handle": True}
    stored = results_from_json(load(str(saved)).results)
    for (b, port), want in expected.items():
        same(tensor_from_json(res[b][port]), want)  # what --json says reads back exactly
        same(stored[(b, port)], want)               # and so does what --save-results wrote
    assert stored[("h", "resource")].item() == Handle("resource")

    table = enuflow("run", str(p))
    assert table.returncode == 0, table.stderr
    line = {ln.split()[0]: ln for ln in table.stdout.splitlines() if ln.startswith("  ")}
    assert line["output_true"].endswith("abc") and line["out"].endswith("(1-2j)")
    assert "\\xff" in table.stdout and "<resource handle>" in table.stdout and "bfloat16 [3]" in table.stdout


def test_shared_memory_keeps_every_dtype(tmp_path: Path, expected) -> None:
    values = dict(expected)
    values[("h", "resource")] = np.array(Handle("resource"), dtype=object)
    values[("nul", "output")] = np.array(b"a\x00", dtype=object)  # trailing NUL bytes kept
    name = f"{shm.owner_prefix()}dtypes-test"
    desc = shm.write_results(values, name)
    back, seg = shm.read_results(json.loads(json.dumps(desc)))
    try:
        for k, v in values.items():
            if k == ("h", "resource"):
                assert back[k].item() == Handle("resource")
            else:
                same(back[k], v)
    finally:
        back.clear()
        if seg is not None:
            seg.release()


def test_json_of_odd_values() -> None:
    assert tensor_json(np.array([np.nan, np.inf, -np.inf], dtype=np.float16))["value"] == ["NaN", "Infinity",
                                                                                          "-Infinity"]
    assert tensor_json(np.array(2**64 - 1, dtype=np.uint64))["value"] == 2**64 - 1
    mixed = np.array([b"ok", b"\\", b"\x00\xfe"], dtype=object)  # one bad element: every element escaped
    d = tensor_json(mixed)
    assert d["escaped"] and d["value"] == ["ok", "\\\\", "\\x00\\xfe"]
    same(tensor_from_json(json.loads(json.dumps(d))), mixed)
    assert tensor_json(np.empty((2, 0), dtype=object))["value"] == [[], []]
    assert format_tensor(np.array([b"a", b"\xff"], dtype=object)) == "['a' '\\xff']"
