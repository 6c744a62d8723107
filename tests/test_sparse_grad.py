"""SparseFillEmptyRowsGrad through pages: against a numpy reference and TensorFlow's own gradient."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.engine.runner import Runner
from enuflow.blocks.tf import load


def reference(rim: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_values = grad[rim]
    visited = np.zeros(len(grad), dtype=bool)
    visited[rim] = True
    return d_values, grad[~visited].sum(dtype=grad.dtype)


def grad_page(rim: np.ndarray, grad: np.ndarray):
    return make_page([("rim", "Const", {"val": rim.tolist(), "shape": list(rim.shape), "dtype": "int64"}),
                      ("grad", "Const", {"val": grad.tolist(), "shape": list(grad.shape), "dtype": str(grad.dtype)}),
                      ("g", "SparseFillEmptyRowsGrad", {})],
                     [("rim", "output", "g", "reverse_index_map"), ("grad", "output", "g", "grad_values")])


CASES = [(0, 0), (0, 5), (5, 5), (3, 8), (50, 200), (1000, 1000), (700, 4000)]


@pytest.fixture(scope="module")
def runner():
    r = Runner()
    yield r
    r.close()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
@pytest.mark.parametrize("n,n_full", CASES)
def test_against_numpy(runner: Runner, dtype: str, n: int, n_full: int) -> None:
    rng = np.random.default_rng(n * 7919 + n_full)
    rim = np.sort(rng.choice(n_full, size=n, replace=False)).astype(np.int64) if n else np.zeros(0, np.int64)
    if dtype == "int32":
        grad = rng.integers(-100, 100, size=n_full).astype(np.int32)
    else:
        grad = rng.standard_normal(n_full).astype(dtype)
    rep = runner.run(grad_page(rim, grad))
    assert rep.errors == []
    dv, dd = reference(rim, grad)
    got_v = rep.results.get("g", "d_values")
    got_d = rep.results.get("g", "d_default_value")
    assert got_v.dtype == np.dtype(dtype) and got_v.shape == (n,)
    assert got_d.shape == ()
    np.testing.assert_array_equal(got_v, dv)
    np.testing.assert_allclose(got_d, dd, rtol=1e-5, atol=1e-4)


def test_duplicate_indices_counted_once(runner: Runner) -> None:
    rim = np.array([1, 1, 3], np.int64)
    grad = np.arange(5, dtype=np.float32)
    rep = runner.run(grad_page(rim, grad))
    assert rep.results.get("g", "d_values").tolist() == [1, 1, 3]
    assert rep.results.get("g", "d_default_value").item() == 0 + 2 + 4


def test_index_out_of_range_reported_on_block(runner: Runner) -> None:
    rep = runner.run(grad_page(np.array([2, 4], np.int64), np.arange(4, dtype=np.float32)))
    (e,) = rep.errors
    assert e.block == "g" and "must be in [0, 4)" in e.message
    assert rep.results.get("grad", "output").tolist() == [0, 1, 2, 3]


def test_matches_tensorflow_gradient_of_fill_empty_rows() -> None:
    """The page's result equals GradientTape's gradient of SparseFillEmptyRows."""
    tf = load()
    indices = np.array([[0, 0], [1, 0], [1, 3], [3, 2], [6, 1]], np.int64)
    values = np.array([10, 20, 30, 40, 50], np.float32)
    dense_shape = np.array([8, 4], np.int64)
    upstream = np.arange(1, 10, dtype=np.float32) * 0.5  # 5 values + 4 empty rows (2, 4, 5, 7)
    v = tf.constant(values)
    dflt = tf.constant(-1.0)
    with tf.GradientTape() as tape:
        tape.watch([v, dflt])
        out = tf.raw_ops.SparseFillEmptyRows(indices=indices, values=v, dense_shape=dense_shape, default_value=dflt)
        loss = tf.reduce_sum(out.output_values * upstream)
    want_v, want_d = tape.gradient(loss, [v, dflt])

    page = make_page([
        ("indices", "Const", {"val": indices.tolist(), "dtype": "int64"}),
        ("values", "Const", {"val": values.tolist(), "dtype": "float32"}),
        ("dense_shape", "Const", {"val": dense_shape.tolist(), "dtype": "int64"}),
        ("default_value", "Const", {"val": -1.0, "dtype": "float32"}),
        ("fill", "SparseFillEmptyRows", {}),
        ("up", "Const", {"val": upstream.tolist(), "dtype": "float32"}),
        ("g", "SparseFillEmptyRowsGrad", {}),
    ], [("indices", "output", "fill", "indices"), ("values", "output", "fill", "values"),
        ("dense_shape", "output", "fill", "dense_shape"), ("default_value", "output", "fill", "default_value"),
        ("fill", "reverse_index_map", "g", "reverse_index_map"), ("up", "output", "g", "grad_values")])
    r = Runner()
    try:
        rep = r.run(page)
    finally:
        r.close()
    assert rep.errors == []
    np.testing.assert_allclose(rep.results.get("g", "d_values"), want_v.numpy())
    np.testing.assert_allclose(rep.results.get("g", "d_default_value"), want_d.numpy())
    assert rep.results.get("fill", "empty_row_indicator").tolist() == [False, False, True, False, True, True,
                                                                      False, True]


def test_roundtrip_scene(root) -> None:
    from enuflow.app.document.formats import load as load_page
    from enuflow.app.engine.runner import run_page

    rep = run_page(load_page(root / "scenes" / "sparse_fill_empty_rows_roundtrip.json"))
    assert rep.errors == []
    assert rep.results.get("fill", "reverse_index_map").tolist() == [0, 1, 2, 4]
    assert rep.results.get("g", "d_values").tolist() == [1, 2, 3, 5]
    assert rep.results.get("g", "d_default_value").item() == 4 + 6
