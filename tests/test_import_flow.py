"""Model import coverage (issue 22): leftover and unfeedable Placeholders, control dependencies kept through import,
folding and export, a model's real outputs only, lowered control flow; TensorFlow itself the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enuflow.app.document.formats import PageFileError, load
from enuflow.app.engine.builder import build
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.flatten import flatten
from enuflow.app.engine.import_model import import_model
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf
from tests.test_import_model import tf_run  # the GraphDef run by TensorFlow itself (the independent reference)

tf = load_tf()


def write(tmp_path: Path, g: object, name: str = "g") -> Path:
    path = tmp_path / f"{name}.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


def run_fed(page: object, tmp_path: Path, **feeds: np.ndarray) -> object:
    for k, v in feeds.items():
        np.save(tmp_path / f"{k}.npy", v)
    assert not apply_feeds(page, [f"{k}={tmp_path / f'{k}.npy'}" for k in feeds])
    report = run_page(page)
    assert report.ok, report.errors
    return report


def variant_graph(used: bool) -> object:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        v = tf.compat.v1.placeholder(tf.variant, [], name="unused_control_flow_input_3")
        tf.compat.v1.placeholder(tf.resource, [], name="handle")
        tf.compat.v1.placeholder(tf.bool, [], name="unused_control_flow_input_4")
        y = tf.multiply(x, 3.0, name="y")
        if used:
            tf.identity(v, name="passed")
        tf.identity(y, name="out")
    return g


def test_unused_variant_and_resource_placeholders_are_left_out(tmp_path: Path) -> None:
    page = import_model(write(tmp_path, variant_graph(False)), tmp_path / "g.json")
    ids = {b.id for b in flatten(page).page}
    assert "x" in ids and not ids & {"unused_control_flow_input_3", "handle", "unused_control_flow_input_4"}
    report = run_fed(load(tmp_path / "g.json"), tmp_path, x=np.array([1.0, 2.0], np.float32))
    np.testing.assert_allclose(report.results.get("out", "output"), [3.0, 6.0])


def test_a_used_variant_placeholder_is_an_error_naming_node_and_op(tmp_path: Path) -> None:
    with pytest.raises(PageFileError) as e:
        import_model(write(tmp_path, variant_graph(True)), tmp_path / "g.json")
    assert "unused_control_flow_input_3" in str(e.value) and "Placeholder" in str(e.value)
    assert "variant" in str(e.value)
    assert not (tmp_path / "g.json").exists()


def test_an_odd_node_is_an_error_naming_node_and_op(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.placeholder(tf.float32, [2], name="x")
    gd = g.as_graph_def()
    odd = gd.node.add()
    odd.name, odd.op = "odd", "Placeholder"
    odd.attr["dtype"].type = 99  # no DataType has this value
    (tmp_path / "g.pb").write_bytes(gd.SerializeToString())
    with pytest.raises(PageFileError) as e:
        import_model(tmp_path / "g.pb", tmp_path / "g.json")
    assert "'odd'" in str(e.value) and "Placeholder" in str(e.value)


def test_a_node_named_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        tf.identity(tf.compat.v1.placeholder(tf.float32, [2], name="x"), name="y")
    gd = g.as_graph_def()
    gd.node.add().CopyFrom(gd.node[1])
    (tmp_path / "g.pb").write_bytes(gd.SerializeToString())
    with pytest.raises(PageFileError) as e:
        import_model(tmp_path / "g.pb", tmp_path / "g.json")
    assert "'y'" in str(e.value) and "Identity" in str(e.value)


def scoped_graph_with_control_dependency() -> object:
    """Two name scopes of three ops each; ``second/Square`` runs after ``first/out`` (a ``^first/out`` input)."""
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        with tf.name_scope("first"):
            a = tf.identity(x * 2.0 + 1.0, name="out")
        with tf.name_scope("second"):
            with tf.control_dependencies([a.op]):
                b = tf.square(x, name="Square")
            b = tf.identity(b - 1.0, name="out")
        tf.add(a, b, name="total")
    return g


def test_control_dependencies_kept_through_import_folding_and_export(tmp_path: Path) -> None:
    g = scoped_graph_with_control_dependency()
    assert any("^first/out" in n.input for n in g.as_graph_def().node)
    page = import_model(write(tmp_path, g), tmp_path / "g.json")
    assert page.composites, "the model should open folded"
    assert not any("control dependencies" in w for w in page.extra.get("import_warnings", []))
    flat = flatten(load(tmp_path / "g.json"))
    controls = [(ln.src, ln.dst) for ln in flat.page.links if ln.src_port == "^"]
    names = flat.op_names
    assert [(names.get(s, s), names.get(d, d)) for s, d in controls] == [("first/out", "second/Square")]
    built = build(load(tmp_path / "g.json"))
    assert not built.errors
    exported = {n.name: list(n.input) for n in built.graph.as_graph_def().node}
    assert "^first/out" in exported["second/Square"]
    from tensorflow.core.protobuf import saved_model_pb2

    from enuflow.app.engine.export_savedmodel import export_savedmodel

    assert not export_savedmodel(load(tmp_path / "g.json"), tmp_path / "served")[2]
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((tmp_path / "served" / "saved_model.pb").read_bytes())
    served = {n.name: list(n.input) for n in sm.meta_graphs[0].graph_def.node}
    assert "^first/out" in served["second/Square"]
    x = np.array([1.0, -3.0], np.float32)
    report = run_fed(load(tmp_path / "g.json"), tmp_path, x=x)
    np.testing.assert_allclose(report.results.get("total", "z"), tf_run(g.as_graph_def(), {"x": x}, "total:0"))


def test_control_dependencies_kept_flat(tmp_path: Path) -> None:
    g = scoped_graph_with_control_dependency()
    page = import_model(write(tmp_path, g), tmp_path / "g.json", fold=False)
    assert [(ln.src, ln.dst) for ln in page.links if ln.src_port == "^"] == [("first/out", "second/Square")]


def test_a_keras_models_page_fetches_its_output_only_and_serves_exactly_it(tmp_path: Path) -> None:
    """A swish Dense layer leaves an ``IdentityN`` (its custom gradient) with unread outputs in the frozen graph."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from enuflow.app.engine.export_savedmodel import export_savedmodel

    tf.keras.utils.set_random_seed(5)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3, activation="swish"),
                                 tf.keras.layers.Dense(2)])
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([None, 4], tf.float32, name="x"))
    gd = convert_variables_to_constants_v2(fn).graph.as_graph_def()
    assert any(n.op == "IdentityN" for n in gd.node)
    (tmp_path / "m.pb").write_bytes(gd.SerializeToString())
    page = import_model(tmp_path / "m.pb", tmp_path / "m.json")
    fetched = [(ln.src, ln.src_port) for ln in page.links if ln.dst_port == "fetch_outputs"]
    assert fetched == [("Identity", "output")]
    x = np.random.RandomState(2).rand(3, 4).astype(np.float32)
    page = load(tmp_path / "m.json")
    run_fed(page, tmp_path, x=x)
    _, outputs, problems = export_savedmodel(page, tmp_path / "served")
    assert not problems and outputs == ["Identity.output"]
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    got = served(x=tf.constant(x))
    assert len(got) == 1
    np.testing.assert_allclose(next(iter(got.values())).numpy(), model(x).numpy(), atol=1e-5)


def test_without_function_outputs_the_sinks_are_the_outputs(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        pair = tf.raw_ops.IdentityN(input=[x * 2.0, x + 1.0], name="pair")
        tf.negative(pair[0], name="neg")
        tf.abs(x, name="plain")
    page = import_model(write(tmp_path, g), tmp_path / "g.json", fold=False)
    fetched = sorted((ln.src, ln.src_port) for ln in page.links if ln.dst_port == "fetch_outputs")
    assert fetched == [("neg", "y"), ("plain", "y")]


@pytest.fixture(scope="module")
def lowered_loop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A two-iteration ``tf.while_loop`` with a ``tf.cond`` in its body, frozen with lowering (Enter, Merge, Switch,
    NextIteration, LoopCond, Exit), and TensorFlow's answer."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    @tf.function(input_signature=[tf.TensorSpec([3], tf.float32, name="x")])
    def loop(x: object) -> object:
        def body(i: object, v: object) -> tuple:
            return i + 1, tf.cond(tf.reduce_sum(v) > 5.0, lambda: v * 0.5, lambda: v * 2.0 + 1.0)

        return tf.while_loop(lambda i, v: i < 2, body, [tf.constant(0), x])[1]

    frozen = convert_variables_to_constants_v2(loop.get_concrete_function())
    gd = frozen.graph.as_graph_def()
    assert {"Enter", "Merge", "Switch", "NextIteration", "LoopCond", "Exit"} <= {n.op for n in gd.node}
    folder = tmp_path_factory.mktemp("loop")
    (folder / "loop.pb").write_bytes(gd.SerializeToString())
    out = frozen.outputs[0].name
    xs = [np.array([0.5, 1.0, 0.25], np.float32), np.array([3.0, 2.0, 1.0], np.float32)]
    return {"pb": folder / "loop.pb", "out": out.split(":")[0], "xs": xs,
            "expected": [tf_run(gd, {"x": x}, out) for x in xs]}


@pytest.mark.parametrize("fold", [True, False])
def test_a_lowered_while_loop_with_a_cond_runs_as_tensorflow_runs_it(lowered_loop: dict, tmp_path: Path,
                                                                      fold: bool) -> None:
    page = import_model(lowered_loop["pb"], tmp_path / "loop.json", fold=fold)
    flat = flatten(page).page
    assert any(b.type == "NextIteration" for b in flat) and any(ln.src_port == "^" for ln in flat.links)
    for x, expected in zip(lowered_loop["xs"], lowered_loop["expected"]):
        report = run_fed(load(tmp_path / "loop.json"), tmp_path, x=x)
        np.testing.assert_allclose(report.results.get(lowered_loop["out"], "output"), expected, atol=1e-6)
    if not fold:  # the page exported as Python runs as TensorFlow does (its Merges given their back edges)
        import json
        import subprocess
        import sys

        from enuflow.app.engine.export_python import page_to_python

        x, expected = lowered_loop["xs"][1], lowered_loop["expected"][1]
        page = load(tmp_path / "loop.json")
        assert not apply_feeds(page, [f"x={tmp_path / 'x.npy'}"])  # the last fed x, saved by run_fed
        script = tmp_path / "loop.py"
        script.write_text(page_to_python(page) + "\nimport json as _j\nprint('JSON', _j.dumps({k: np.asarray(v)"
                                                 ".tolist() for k, v in main().items()}))\n")
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, r.stderr[-2000:]
        got = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("JSON ")][-1][5:])
        np.testing.assert_allclose(got[f"{lowered_loop['out']}.output"], expected, atol=1e-6)
        assert "_update_input" in script.read_text()
    if fold:  # the page exported as a SavedModel serves TensorFlow's numbers
        from enuflow.app.engine.export_savedmodel import export_savedmodel

        _, outputs, problems = export_savedmodel(load(tmp_path / "loop.json"), tmp_path / "served")
        assert not problems and len(outputs) == 1
        served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
        for x, expected in zip(lowered_loop["xs"], lowered_loop["expected"]):
            (got,) = served(x=tf.constant(x)).values()
            np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_a_value_a_control_link_orders_is_a_const_and_a_new_value_rebuilds(tmp_path: Path) -> None:
    from conftest import make_page

    from enuflow.app.engine.runner import Runner

    page = make_page([("a", "Const", {"dtype": "float32", "shape": [2], "val": [1.0, 2.0]}),
                      ("b", "Const", {"dtype": "float32", "shape": [2], "val": [10.0, 20.0]}),
                      ("s", "AddV2", {}), ("session", "ClientSession", {"steps": 1})],
                     [("a", "^", "b", "^"), ("a", "output", "s", "x"), ("b", "output", "s", "y"),
                      ("s", "z", "session", "fetch_outputs")])
    built = build(page)
    assert not built.errors
    ops = {op.name: op for op in built.graph.get_operations()}
    b_ops = [op for op in ops.values() if op.name.startswith("b")]
    assert any(op.type == "Const" and [c.name for c in op.control_inputs] for op in b_ops)
    runner = Runner()
    try:
        first = runner.run(page)
        assert first.ok, first.errors
        np.testing.assert_allclose(first.results.get("s", "z"), [11.0, 22.0])
        page.block("b").pins["val"] = [100.0, 200.0]
        second = runner.run(page)
        assert second.ok, second.errors
        np.testing.assert_allclose(second.results.get("s", "z"), [101.0, 202.0])
    finally:
        runner.close()


def test_a_lookup_table_in_a_graphdef_is_filled_once_and_looked_up_with_fed_text(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.string, [None], name="x")
        init = tf.lookup.KeyValueTensorInitializer(tf.constant(["a", "b", "c"]), tf.constant([1, 2, 3], tf.int64))
        table = tf.lookup.StaticHashTable(init, default_value=-1)
        tf.identity(table.lookup(x), name="ids")
    gd = g.as_graph_def()
    assert {"HashTableV2", "LookupTableImportV2", "LookupTableFindV2"} <= {n.op for n in gd.node}
    words = np.array(["c", "zz", "a"])
    with tf.compat.v1.Session(graph=g) as s:
        s.run(g.get_collection("table_initializer"))
        expected = s.run("ids:0", {"x:0": words.astype(bytes)})
    path = write(tmp_path, g)
    page = import_model(path, tmp_path / "t.json", fold=False)
    assert any(b.type == "Initializer" for b in page)
    report = run_fed(load(tmp_path / "t.json"), tmp_path, x=words)
    np.testing.assert_array_equal(report.results.get("ids", "output"), expected)
    np.testing.assert_array_equal(expected, [3, -1, 1])


def test_feeding_numbers_to_a_string_placeholder_names_block_and_file(tmp_path: Path) -> None:
    from conftest import make_page

    page = make_page([("x", "Placeholder", {"dtype": "string", "shape": [2]})], [])
    np.save(tmp_path / "n.npy", np.array([1.0, 2.0]))
    (problem,) = apply_feeds(page, [f"x={tmp_path / 'n.npy'}"])
    assert problem.block == "x" and "n.npy" in problem.message and "string" in problem.message


def test_a_saved_mutable_tables_contents_are_read_and_looked_up(tmp_path: Path) -> None:
    class Counts(tf.Module):
        def __init__(self) -> None:
            self.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)
            self.table.insert(tf.constant(["a", "b"]), tf.constant([1, 2], tf.int64))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="x")])
        def __call__(self, x: object) -> dict:
            return {"out": self.table.lookup(x)}

    m = Counts()
    tf.saved_model.save(m, str(tmp_path / "sm"), signatures={"serving_default": m.__call__})
    words = np.array(["b", "q", "a"])
    expected = m(tf.constant(words))["out"].numpy()
    np.testing.assert_array_equal(expected, [2, -1, 1])
    page = import_model(tmp_path / "sm", tmp_path / "p.json")
    report = run_fed(load(tmp_path / "p.json"), tmp_path, x=words)
    fetched = [(ln.src, ln.src_port) for ln in page.links if ln.dst_port == "fetch_outputs"]
    assert len(fetched) == 1
    np.testing.assert_array_equal(report.results.get(*fetched[0]), expected)
