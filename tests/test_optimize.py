"""The ClientSession's ``optimize`` pin: TensorFlow's graph optimizer on, off or chosen by the page (auto)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.runner import Runner
from enuflow.app.engine.session_options import LARGE_OPS, SMALL_OPS, should_optimize
from enuflow.blocks.tf import load

X = [[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]]
W = [[2.0, 0.0], [-1.0, 1.0], [0.25, 3.0]]


def compute_page(optimize: str | None):
    """relu(-(-(x @ w)) + x @ w) * 2, fetched by a ClientSession (``optimize`` unset when None)."""
    pins = {"steps": 1}
    if optimize is not None:
        pins["optimize"] = optimize
    return make_page(
        [("x", "Const", {"val": X, "dtype": "float32"}),
         ("w", "Const", {"val": W, "dtype": "float32"}),
         ("two", "Const", {"val": 2.0, "dtype": "float32"}),
         ("mm", "MatMul", {}),
         ("n1", "Neg", {}), ("n2", "Neg", {}),
         ("sum", "AddV2", {}), ("relu", "Relu", {}), ("out", "Mul", {}),
         ("session", "ClientSession", pins)],
        [("x", "output", "mm", "a"), ("w", "output", "mm", "b"),
         ("mm", "product", "n1", "x"), ("n1", "y", "n2", "x"),
         ("n2", "y", "sum", "x"), ("mm", "product", "sum", "y"),
         ("sum", "z", "relu", "features"), ("relu", "activations", "out", "x"), ("two", "output", "out", "y"),
         ("out", "z", "session", "fetch_outputs")])


def expected() -> np.ndarray:
    mm = np.array(X, np.float32) @ np.array(W, np.float32)
    return np.maximum(mm + mm, 0) * 2


def executed_op_types(runner: Runner, fetch: str) -> list[str]:
    """The op types TensorFlow actually executed to compute ``fetch`` in the runner's session."""
    tf = load()
    prepared = runner._prepared
    built = prepared.built
    feeds = dict(zip((s.placeholder for s in built.slots), built.feed_values()))
    meta = tf.compat.v1.RunMetadata()
    prepared.session.run(built.tensors[(fetch, "z")], feed_dict=feeds,
                         options=tf.compat.v1.RunOptions(output_partition_graphs=True), run_metadata=meta)
    return [n.op for g in meta.partition_graphs for n in g.node]


@pytest.mark.parametrize("optimize", ["on", "off", "auto", None])
def test_same_results_whatever_the_optimizer(optimize: str | None) -> None:
    runner = Runner()
    try:
        report = runner.run(compute_page(optimize))
        assert report.ok, report.errors
        np.testing.assert_allclose(report.results.get("out", "z"), expected(), rtol=1e-6)
        np.testing.assert_allclose(report.results.get("n2", "y"), np.array(X, np.float32) @ np.array(W, np.float32),
                                   rtol=1e-6)
    finally:
        runner.close()


def test_on_and_off_reach_tensorflow() -> None:
    """TensorFlow's own record of a step: the optimizer removes -(-x) when on, keeps it when off."""
    seen = {}
    for setting in ("on", "off"):
        runner = Runner()
        try:
            assert runner.run(compute_page(setting)).ok
            rewrite = runner._prepared.config.graph_options.rewrite_options
            assert rewrite.disable_meta_optimizer is (setting == "off")
            seen[setting] = executed_op_types(runner, "out")
        finally:
            runner.close()
    assert seen["off"].count("Neg") == 2
    assert seen["on"].count("Neg") == 0
    assert any("MatMul" in t for t in seen["on"])  # the work itself still runs (possibly as a fused kernel)


def test_missing_pin_and_missing_session_mean_auto() -> None:
    page = compute_page(None)
    assert analyse(page).plan.optimize == "auto"
    bare = make_page([("x", "Const", {"val": 1.5, "dtype": "float32"}), ("n", "Neg", {})],
                     [("x", "output", "n", "x")])
    assert analyse(bare).plan.optimize == "auto"
    runner = Runner()
    try:
        report = runner.run(bare)
        assert report.ok and report.results.get("n", "y") == np.float32(-1.5)
        # a small page: auto keeps the optimizer
        assert runner._prepared.config.graph_options.rewrite_options.disable_meta_optimizer is False
    finally:
        runner.close()


def test_auto_skips_the_optimizer_on_a_long_chain_of_small_tensors() -> None:
    n = SMALL_OPS + 50
    blocks = [("c", "Const", {"val": 1.5, "dtype": "float32"})] + [(f"n{i}", "Neg", {}) for i in range(n)]
    links = [("c", "output", "n0", "x")] + [(f"n{i - 1}", "y", f"n{i}", "x") for i in range(1, n)]
    runner = Runner()
    try:
        report = runner.run(make_page(blocks, links))
        assert report.ok, report.errors[:3]
        assert report.results.get(f"n{n - 1}", "y") == np.float32(1.5 * (-1) ** n)
        assert runner._prepared.config.graph_options.rewrite_options.disable_meta_optimizer is True
    finally:
        runner.close()


def test_auto_keeps_the_optimizer_for_compute_heavy_graphs() -> None:
    """Between SMALL_OPS and LARGE_OPS, auto reads the tensor sizes: big tensors keep the optimizer."""
    tf = load()

    def chain(shape: list[int]):
        g = tf.Graph()
        with g.as_default():
            t = tf.compat.v1.placeholder(tf.float32, shape)
            for _ in range(SMALL_OPS + 10):
                t = tf.raw_ops.Neg(x=t)
        return g

    assert should_optimize("auto", chain([400, 400])) is True
    assert should_optimize("auto", chain([4])) is False
    assert should_optimize("on", chain([4])) is True
    assert should_optimize("off", chain([400, 400])) is False
    assert LARGE_OPS > SMALL_OPS


def test_bad_optimize_value_names_block_and_pin() -> None:
    errors = [(e.block, e.port, e.message) for e in analyse(compute_page("fast")).errors]
    assert len(errors) == 1
    block, port, message = errors[0]
    assert (block, port) == ("session", "optimize") and "auto, on or off" in message
