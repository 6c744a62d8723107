"""Models open folded by name scope (app/engine/model_fold.py): checked against Keras and TensorFlow themselves, the
flat import, and hand-written expectations of what a person sees at the top of the page."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from enuflow.app.document.formats import load
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.flatten import flatten
from enuflow.app.engine.import_model import import_model
from enuflow.app.engine.model_fold import fold
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf

tf = load_tf()


def frozen(model: object, shape: list[int]) -> object:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, *shape], tf.float32, name="x"))
    return convert_variables_to_constants_v2(fn).graph.as_graph_def()


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small Keras model with nested scopes (a Sequential inside the model), a Concatenate taking the model's
    input and a layer's output, frozen; its input and Keras' answer."""
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(7)
    inp = tf.keras.Input((4,), name="x")
    block = tf.keras.Sequential([layers.Dense(5, activation="relu", name="d1"),
                                 layers.Dense(5, activation="tanh", name="d2")], name="block")
    head = layers.Dense(3, name="head")(block(inp))
    out = layers.Dense(2, activation="softmax", name="out")(layers.Concatenate(name="cat")([head, inp]))
    model = tf.keras.Model(inp, out, name="net")
    folder = tmp_path_factory.mktemp("nested")
    gd = frozen(model, [4])
    (folder / "net.pb").write_bytes(gd.SerializeToString())
    x = np.random.RandomState(1).rand(3, 4).astype(np.float32)
    np.save(folder / "x.npy", x)
    return {"folder": folder, "graph_def": gd, "x": x, "keras": model(x).numpy()}


def run(page_path: Path, x_file: Path) -> object:
    page = load(page_path)
    assert not apply_feeds(page, [f"x={x_file}"])
    report = run_page(page)
    assert report.ok, report.errors
    return page, report


def test_a_nested_keras_model_opens_folded_and_runs_as_keras_and_the_flat_page(nested: dict, tmp_path: Path) -> None:
    folder = nested["folder"]
    import_model(folder / "net.pb", tmp_path / "folded.json")
    import_model(folder / "net.pb", tmp_path / "flat.json", fold=False)
    page, report = run(tmp_path / "folded.json", folder / "x.npy")
    # the model's outer scope (net_1) opened; each layer one block, the concatenation beside the input it takes
    assert [(b.id, b.type) for b in page] == [
        ("x", "Placeholder"), ("block_1", "block_1"), ("head_1", "head_1"), ("cat_1.concat.axis", "Const"),
        ("out_1", "out_1"), ("cat_1.concat", "ConcatV2"), ("NoOp", "NoOp"), ("Identity", "Identity"),
        ("session", "ClientSession")]
    inner = page.composites["block_1"]
    assert [b.id for b in inner.blocks] == ["d1_1", "d2_1"]  # the Sequential's layers, each a composite
    assert {b.type for b in page.composites["block_1.d1_1"].blocks} == {"Const", "Identity", "MatMul", "BiasAdd",
                                                                        "Relu"}
    np.testing.assert_allclose(report.results.get("Identity", "output"), nested["keras"], atol=1e-5)
    # every op gives what the flat page's op of the same name gives; inner results are keyed by path
    flat_page, flat_report = run(tmp_path / "flat.json", folder / "x.npy")
    names = flatten(page).op_names
    assert names["block_1/d1_1/MatMul"] == "net_1/block_1/d1_1/MatMul"
    compared = 0
    for (bid, port), value in report.results.values.items():
        name = names.get(bid, bid)
        if name in flat_page and flat_report.results.get(name, port) is not None:
            np.testing.assert_array_equal(value, flat_report.results.get(name, port))
            compared += 1
    assert compared >= len(nested["graph_def"].node) - 3  # all but the NoOp, and the outputs only named twice
    relu = report.results.get("block_1/d1_1/Relu", "activations")
    np.testing.assert_allclose(relu, np.maximum(0, nested["x"] @ _kernel(nested, "d1") + _bias(nested, "d1")),
                               atol=1e-5)


def _const(nested: dict, part: str) -> np.ndarray:
    node = next(n for n in nested["graph_def"].node if part in n.name and n.op == "Const")
    return tf.make_ndarray(node.attr["value"].tensor)


def _kernel(nested: dict, layer: str) -> np.ndarray:
    return _const(nested, f"/{layer}_1/Cast/ReadVariableOp/resource")


def _bias(nested: dict, layer: str) -> np.ndarray:
    return _const(nested, f"/{layer}_1/BiasAdd/ReadVariableOp/resource")


def test_a_folded_page_exports_with_the_models_names_and_serves_what_keras_computes(nested: dict,
                                                                                     tmp_path: Path) -> None:
    from enuflow.app.cli import main

    import_model(nested["folder"] / "net.pb", tmp_path / "m.json")
    assert main(["export", str(tmp_path / "m.json"), "--graphdef", str(tmp_path / "out.pb")]) == 0
    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString((tmp_path / "out.pb").read_bytes())
    made = {n.name: n.op for n in gd.node}
    for n in nested["graph_def"].node:
        if n.op in ("MatMul", "BiasAdd", "Relu", "Tanh", "Softmax", "ConcatV2"):
            assert made.get(n.name) == n.op, n.name
    assert main(["export", str(tmp_path / "m.json"), "--savedmodel", str(tmp_path / "served")]) == 0
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    (got,) = served(x=tf.constant(nested["x"])).values()
    np.testing.assert_allclose(got.numpy(), nested["keras"], atol=1e-5)


def test_import_flat_gives_one_block_per_node(nested: dict, tmp_path: Path) -> None:
    page = import_model(nested["folder"] / "net.pb", tmp_path / "f.json", fold=False)
    assert not page.composites
    assert len(page) == len(nested["graph_def"].node) + 1  # a ClientSession added


def test_mobilenet_v2_opens_folded_at_most_60_blocks_alike_blocks_finite(tmp_path: Path) -> None:
    model = tf.keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)
    gd = frozen(model, [96, 96, 3])
    assert len(gd.node) == 1053
    (tmp_path / "m.pb").write_bytes(gd.SerializeToString())
    page = import_model(tmp_path / "m.pb", tmp_path / "m.json")
    ids = [b.id for b in page]
    assert len(page) <= 60
    assert ["block_%d" % i for i in range(1, 17)] == [i for i in ids if i.startswith("block_")]
    assert {"x", "Identity", "session"} <= set(ids)
    # every block of every level at a finite place
    for b in list(page) + [b for c in page.composites.values() for b in c.blocks]:
        assert all(math.isfinite(v) for v in b.pos), b.id
    # repeated structures look alike: the blocks with a residual Add (2, 4, 5, 7-9, 11, 12, 14, 15) have the same
    # members at the same places; so have those that shrink the image (1, 3, 6, 13) but for their padding
    def inside(n: int) -> list[tuple[str, tuple[float, float]]]:
        return [(b.id, b.pos) for b in page.composites[f"block_{n}"].blocks]

    for n in (4, 5, 7, 8, 9, 11, 12, 14, 15):
        assert inside(n) == inside(2), n
    for n in (3, 6, 13):
        assert inside(n) == inside(1), n
    assert len(flatten(page).page) == 1053 + 1  # every node, and the ClientSession


def page_of(blocks: list[tuple[str, str]], links: list[tuple[str, str, str, str]]) -> Page:
    p = Page("m")
    p.fill([BlockInstance(i, t) for i, t in blocks], [Link(*ln) for ln in links])
    return p


def test_a_list_input_fed_from_outside_its_scope_keeps_its_order() -> None:
    """``ConcatV2.values`` takes the Placeholder, then an op of its own scope, then one of another scope: folded and
    flattened again, the order is the model's (a composite's inner wires would come before its exposed inputs')."""
    flat = page_of([("x", "Placeholder"), ("a/n1", "Neg"), ("a/n2", "Neg"), ("a/n3", "Neg"), ("b/m1", "Neg"),
                    ("b/m2", "Neg"), ("b/m3", "Neg"), ("a/cat", "ConcatV2"), ("a/axis", "Const"), ("out", "Neg")],
                   [("x", "output", "a/n1", "x"), ("a/n1", "y", "a/n2", "x"), ("a/n2", "y", "a/n3", "x"),
                    ("x", "output", "b/m1", "x"), ("b/m1", "y", "b/m2", "x"), ("b/m2", "y", "b/m3", "x"),
                    ("x", "output", "a/cat", "values"), ("a/n3", "y", "a/cat", "values"),
                    ("b/m3", "y", "a/cat", "values"), ("a/axis", "output", "a/cat", "axis"),
                    ("a/cat", "output", "out", "x")])
    folded = fold(flat, lambda p: None)
    assert set(folded.composites) == {"a", "b"}
    got = flatten(folded)
    name = {b.id: got.op_names.get(b.id, b.id) for b in got.page}
    order = [name[ln.src] for ln in got.page.links if name[ln.dst] == "a/cat" and ln.dst_port == "values"]
    assert order == ["x", "a/n3", "b/m3"]
    assert "cat" not in [b.id for b in folded.composites["a"].blocks]  # it stands where all three come from


def test_small_scopes_are_no_composites_and_an_op_keeps_its_name_over_a_scope() -> None:
    flat = page_of([("x", "Placeholder"), ("s/conv/kernel", "Const"), ("s/conv", "Conv2D"), ("s/relu/Relu", "Relu"),
                    ("s/big/a", "Neg"), ("s/big/b", "Neg"), ("s/big/c", "Neg"), ("t/one", "Neg")],
                   [("x", "output", "s/conv", "input"), ("s/conv/kernel", "output", "s/conv", "filter"),
                    ("s/conv", "output", "s/relu/Relu", "features"), ("s/relu/Relu", "activations", "s/big/a", "x"),
                    ("s/big/a", "y", "s/big/b", "x"), ("s/big/b", "y", "s/big/c", "x"),
                    ("s/big/c", "y", "t/one", "x")])
    folded = fold(flat, lambda p: None)
    assert [b.id for b in folded] == ["x", "s", "t"]  # t/one: a scope of one op, named after the scope
    assert folded.block("t").type == "Neg" and folded.block("t").extra["op_name"] == "t/one"
    inner = {b.id: b.type for b in folded.composites["s"].blocks}
    assert inner == {"conv.kernel": "Const", "conv": "Conv2D", "relu": "Relu", "big": "s.big"}


def test_the_models_outer_scope_opens_and_the_pages_own_blocks_keep_their_ids() -> None:
    flat = page_of([("x", "Placeholder"), ("m/x", "Neg"), ("m/a/p", "Neg"), ("m/a/q", "Neg"), ("m/a/r", "Neg"),
                    ("m/b/p", "Neg"), ("m/b/q", "Neg"), ("m/b/r", "Neg"), ("out", "Neg")],
                   [("x", "output", "m/x", "x"), ("m/x", "y", "m/a/p", "x"), ("m/a/p", "y", "m/a/q", "x"),
                    ("m/a/q", "y", "m/a/r", "x"), ("m/a/r", "y", "m/b/p", "x"), ("m/b/p", "y", "m/b/q", "x"),
                    ("m/b/q", "y", "m/b/r", "x"), ("m/b/r", "y", "out", "x")])
    folded = fold(flat, lambda p: None)
    assert [(b.id, b.type, b.extra.get("op_name")) for b in folded] == [
        ("x", "Placeholder", None), ("x_2", "Neg", "m/x"), ("a", "a", "m/a"), ("b", "b", "m/b"), ("out", "Neg", None)]
