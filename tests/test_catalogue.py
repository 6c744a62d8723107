"""The generated catalogue: declarations against their OpDefs, one page per kind of op against the
direct ``tf.raw_ops`` result, and the marks (unavailable, io, dangerous) with what they refuse."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.document.tensors import handle_kind
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.runner import run_page
from enuflow.blocks import REGISTRY, catalogue
from enuflow.blocks.tf import load

tf = load()
from tensorflow.python.framework import op_def_registry

# ops of every kind: single/multiple outputs, list inputs of both kinds, list outputs, renamed inputs,
# attrs with allowed values and minimums, ref / resource / variant ports, ops without outputs
SAMPLE = ("MatMul", "Unique", "AddN", "ConcatV2", "IdentityN", "Split", "SplitV", "Unpack", "ShapeN", "Mean",
          "Select", "ArgMax", "Conv2D", "Cast", "Assign", "ScatterAdd", "ReadVariableOp", "AssignVariableOp",
          "TensorListLength", "TensorArrayV3", "NoOp", "Pack", "SparseFillEmptyRows", "StringJoin")


def _python_names(name: str) -> list[str]:
    return [p for p in inspect.signature(getattr(tf.raw_ops, name)).parameters if p != "name"]


@pytest.mark.parametrize("name", SAMPLE)
def test_declaration_matches_opdef(name: str) -> None:
    b = REGISTRY.generated()[name]
    od = op_def_registry.get(name)
    assert b.origin == "opdef" and b.op_name == name
    # inputs in OpDef order, named as tf.raw_ops names them (by position)
    assert [p.name for p in b.inputs] == _python_names(name)[: len(od.input_arg)]
    for p, arg in zip(b.inputs, od.input_arg):
        assert p.number_attr == (arg.number_attr or None)
        assert p.type_list_attr == (arg.type_list_attr or None)
        assert p.is_list == bool(arg.number_attr or arg.type_list_attr)
        kind = "ref" if arg.is_ref else {20: "resource", 21: "variant"}.get(arg.type, "tensor")
        assert p.kind == kind
        if arg.type_attr:
            assert p.dtype == arg.type_attr
    if od.output_arg:
        assert [p.name for p in b.outputs] == [a.name for a in od.output_arg]
        for p, arg in zip(b.outputs, od.output_arg):
            assert p.is_list == bool(arg.number_attr or arg.type_list_attr)
    else:
        assert [(p.name, p.kind) for p in b.outputs] == [("operation", "operation")]
    assert [a.name for a in b.attrs] == [a.name for a in od.attr]
    wired = {x for arg in od.input_arg for x in (arg.type_attr, arg.number_attr, arg.type_list_attr) if x}
    for a, ad in zip(b.attrs, od.attr):
        assert a.type == ad.type
        assert a.has_default == ad.HasField("default_value")
        assert a.minimum == (ad.minimum if ad.has_minimum else None)
        assert a.inferred == (ad.name in wired)
        assert a.required == (not a.has_default and not a.inferred)
        if ad.allowed_values.list.s:
            assert a.allowed == tuple(s.decode() for s in ad.allowed_values.list.s)
    assert b.summary and b.summary == b.doc.strip().splitlines()[0].strip()


def test_specific_declarations() -> None:
    g = REGISTRY.generated()
    assert [p.name for p in g["Mean"].inputs] == ["input", "axis"]  # OpDef: reduction_indices
    assert [p.name for p in g["Select"].inputs] == ["condition", "x", "y"]  # OpDef: t, e
    assert [p.name for p in g["Split"].inputs] == ["axis", "value"]  # OpDef: split_dim
    conv = g["Conv2D"]
    assert conv.attr("padding").allowed == ("SAME", "VALID", "EXPLICIT") and conv.attr("padding").required
    assert conv.attr("data_format").default == "NHWC" and conv.attr("data_format").allowed == ("NHWC", "NCHW")
    assert g["AddN"].attr("N").minimum == 1 and g["AddN"].attr("N").inferred
    assert "float32" in g["AddN"].attr("T").allowed
    assert g["Split"].output_names({"num_split": 3}) == ["output[0]", "output[1]", "output[2]"]
    assert g["IdentityN"].output_names({"T": ["float32", "int32"]}) == ["output[0]", "output[1]"]
    assert g["Assign"].inputs[0].kind == "ref" and g["Assign"].outputs[0].kind == "ref"
    assert g["ReadVariableOp"].inputs[0].kind == "resource"
    assert g["TensorListLength"].inputs[0].kind == "variant"
    assert g["Cast"].attr("DstT").required and g["Cast"].attr("SrcT").inferred


def test_categories_follow_origin() -> None:
    g = REGISTRY.generated()
    expect = {"MatMul": "math", "Conv2D": "nn", "SparseReorder": "sparse_ops", "Assign": "state",
              "ApplyGradientDescent": "training", "ResizeBilinear": "image_ops", "ReadFile": "io_ops",
              "RandomUniform": "random", "StringJoin": "string", "Switch": "control_flow_ops",
              "QueueDequeueV2": "data_flow_ops", "ConcatV2": "array_ops", "Print": "logging_ops",
              "Qr": "linalg_ops", "ParseExample": "parsing_ops"}
    assert {k: g[k].category for k in expect} == expect
    assert catalogue.category_of("tensorflow.python.ops.gen_new_thing_ops") == "new_thing"
    assert sum(1 for b in g.values() if b.category == "other") == 0


# -- pages per kind against tf.raw_ops ------------------------------------------------------------

def run_ok(page, **kw):
    report = run_page(page, **kw)
    assert report.errors == [], [str(e) for e in report.errors]
    return report.results


def test_single_output_with_attr_pins() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    page = make_page([("a", "Const", {"val": a.tolist(), "dtype": "float32"}),
                      ("b", "Const", {"val": b.tolist(), "dtype": "float32"}),
                      ("m", "MatMul", {"transpose_b": True})],
                     [("a", "output", "m", "a"), ("b", "output", "m", "b")])
    res = run_ok(page)
    want = tf.raw_ops.MatMul(a=a, b=b, transpose_b=True).numpy()
    np.testing.assert_array_equal(res.get("m", "product"), want)


def test_multiple_outputs() -> None:
    x = np.array([4, 1, 4, 2, 1], np.int64)
    page = make_page([("x", "Const", {"val": x.tolist(), "dtype": "int64"}), ("u", "Unique", {"out_idx": "int64"})],
                     [("x", "output", "u", "x")])
    res = run_ok(page)
    want = tf.raw_ops.Unique(x=x, out_idx=tf.int64)
    np.testing.assert_array_equal(res.get("u", "y"), want.y.numpy())
    np.testing.assert_array_equal(res.get("u", "idx"), want.idx.numpy())
    assert res.get("u", "idx").dtype == np.int64


def test_number_list_input_takes_links_in_link_order() -> None:
    vals = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]
    blocks = [(f"c{i}", "Const", {"val": v, "dtype": "float32"}) for i, v in enumerate(vals)]
    order = ["c2", "c0", "c1"]
    page = make_page(blocks + [("cat", "ConcatV2", {"axis": 0}), ("sum", "AddN", {})],
                     [(c, "output", "cat", "values") for c in order] + [(c, "output", "sum", "inputs") for c in order])
    res = run_ok(page)
    want = tf.raw_ops.ConcatV2(values=[np.float32(vals[int(c[1])]) for c in order], axis=0).numpy()
    np.testing.assert_array_equal(res.get("cat", "output"), want)
    np.testing.assert_array_equal(res.get("sum", "sum"), tf.raw_ops.AddN(inputs=[np.float32(v) for v in vals]).numpy())


def test_type_list_input_and_list_output() -> None:
    page = make_page([("f", "Const", {"val": [1.5, 2.5], "dtype": "float32"}),
                      ("i", "Const", {"val": 7, "dtype": "int64"}),
                      ("s", "Const", {"val": "hi", "dtype": "string"}),
                      ("n", "IdentityN", {})],
                     [("f", "output", "n", "input"), ("i", "output", "n", "input"), ("s", "output", "n", "input")])
    res = run_ok(page)
    want = tf.raw_ops.IdentityN(input=[np.float32([1.5, 2.5]), np.int64(7), b"hi"])
    np.testing.assert_array_equal(res.get("n", "output[0]"), want[0].numpy())
    assert res.get("n", "output[1]") == 7 and res.get("n", "output[1]").dtype == np.int64
    assert res.get("n", "output[2]") == b"hi"


def test_list_outputs_numbered_from_attrs() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    page = make_page([("x", "Const", {"val": x.tolist(), "dtype": "float32"}),
                      ("sp", "Split", {"axis": 1, "num_split": 2}),
                      ("un", "Unpack", {"num": 3}),
                      ("neg", "Neg", {})],
                     [("x", "output", "sp", "value"), ("x", "output", "un", "value"),
                      ("un", "output[2]", "neg", "x")])
    res = run_ok(page)
    want = tf.raw_ops.Split(axis=1, value=x, num_split=2)
    for i in range(2):
        np.testing.assert_array_equal(res.get("sp", f"output[{i}]"), want[i].numpy())
    np.testing.assert_array_equal(res.get("neg", "y"), -x[2])
    assert analyse(make_page([("x", "Const", {"val": [1, 2]}), ("sp", "Split", {"num_split": 2, "axis": 0}),
                              ("n", "Neg", {})], [("sp", "output[2]", "n", "x")])).errors[0].port == "output[2]"


def test_type_inference_and_clash() -> None:
    page = make_page([("a", "Const", {"val": [1, 2], "dtype": "int64"}), ("add", "AddV2", {"y": [10, 20]})],
                     [("a", "output", "add", "x")])
    res = run_ok(page)
    assert res.get("add", "z").dtype == np.int64 and res.get("add", "z").tolist() == [11, 22]
    bad = make_page([("a", "Const", {"val": [1, 2], "dtype": "int64"}),
                     ("b", "Const", {"val": [1.0, 2.0], "dtype": "float32"}), ("add", "AddV2", {})],
                    [("a", "output", "add", "x"), ("b", "output", "add", "y")])
    report = run_page(bad)
    [err] = report.errors
    assert err.block == "add" and err.port == "y" and "float32" in err.message and "int64" in err.message


def test_renamed_inputs_map_by_position() -> None:
    x = np.array([[1.0, 2.0], [3.0, 5.0]], np.float32)
    cond = np.array([True, False])
    page = make_page([("x", "Const", {"val": x.tolist(), "dtype": "float32"}),
                      ("mean", "Mean", {"axis": 1, "keep_dims": True}),
                      ("c", "Const", {"val": cond.tolist(), "dtype": "bool"}),
                      ("sel", "Select", {"x": [1.0, 2.0], "y": [-1.0, -2.0]})],
                     [("x", "output", "mean", "input"), ("c", "output", "sel", "condition")])
    res = run_ok(page)
    np.testing.assert_array_equal(res.get("mean", "output"),
                                  tf.raw_ops.Mean(input=x, axis=1, keep_dims=True).numpy())
    np.testing.assert_array_equal(res.get("sel", "output"),
                                  tf.raw_ops.Select(condition=cond, x=np.float32([1, 2]), y=np.float32([-1, -2])))


def test_allowed_values_attr() -> None:
    img = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    flt = np.ones((2, 2, 1, 1), np.float32)

    def page(padding: str):
        return make_page([("i", "Const", {"val": img.tolist(), "dtype": "float32"}),
                          ("f", "Const", {"val": flt.tolist(), "dtype": "float32"}),
                          ("conv", "Conv2D", {"strides": [1, 1, 1, 1], "padding": padding})],
                         [("i", "output", "conv", "input"), ("f", "output", "conv", "filter")])

    res = run_ok(page("VALID"))
    want = tf.raw_ops.Conv2D(input=img, filter=flt, strides=[1, 1, 1, 1], padding="VALID").numpy()
    np.testing.assert_array_equal(res.get("conv", "output"), want)
    [err] = run_page(page("BOGUS")).errors
    assert err.block == "conv" and err.port == "padding" and "SAME, VALID, EXPLICIT" in err.message


def test_resource_ports() -> None:
    page = make_page([("ta", "TensorArrayV3", {"size": 2, "dtype": "float32"}),
                      ("i", "Const", {"val": 1}), ("x", "Const", {"val": [1.5, 2.5], "dtype": "float32"}),
                      ("w", "TensorArrayWriteV3", {}), ("r", "TensorArrayReadV3", {"dtype": "float32"})],
                     [("ta", "handle", "w", "handle"), ("i", "output", "w", "index"), ("x", "output", "w", "value"),
                      ("ta", "flow", "w", "flow_in"), ("ta", "handle", "r", "handle"), ("i", "output", "r", "index"),
                      ("w", "flow_out", "r", "flow_in")])
    res = run_ok(page)
    np.testing.assert_array_equal(res.get("r", "value"), np.float32([1.5, 2.5]))
    # a resource is wired, never fetched: the results say it is a handle, with no value
    assert handle_kind(res.get("ta", "handle")) == "resource"
    # a resource input cannot be typed in
    err = analyse(make_page([("r", "ReadVariableOp", {"resource": 1, "dtype": "float32"})], [])).errors
    assert {e.port for e in err} == {"resource"} and "takes a resource and must be wired" in err[0].message


def test_ref_ports() -> None:
    # a variable made and assigned inside the page: Assign takes the variable's ref and gives a ref
    page = make_page([("v", "TemporaryVariable", {"shape": [2], "dtype": "float32"}),
                      ("c", "Const", {"val": [1.5, 2.5], "dtype": "float32"}),
                      ("a", "Assign", {}), ("sq", "Square", {})],
                     [("v", "ref", "a", "ref"), ("c", "output", "a", "value"), ("a", "output_ref", "sq", "x")])
    an = analyse(page)
    assert an.errors == []
    from enuflow.app.engine.builder import build

    built = build(page, an)
    assert built.errors == []
    assign = built.tensors[("a", "output_ref")]
    assert assign.dtype.name == "float32_ref" and assign.op.inputs[0].op.type == "TemporaryVariable"
    with tf.compat.v1.Session(graph=built.graph) as sess:
        got = sess.run(built.tensors[("sq", "y")], dict(zip((s.placeholder for s in built.slots),
                                                            built.feed_values())))
    np.testing.assert_array_equal(got, np.float32([1.5, 2.5]) ** 2)


def test_ref_input_from_variable_block_matches_raw_ops() -> None:
    # a training op: the generated ApplyGradientDescent updates the hand-declared Variable through its ref
    page = make_page([("v", "Variable", {"initvalues": [1.0, 2.0], "dtype": "float32"}),
                      ("d", "Const", {"val": [1.0, -1.0], "dtype": "float32"}),
                      ("gd", "ApplyGradientDescent", {"alpha": 0.25})],
                     [("v", "ref", "gd", "var"), ("d", "output", "gd", "delta")])
    res = run_ok(page)
    g = tf.Graph()
    with g.as_default():
        var = tf.raw_ops.VariableV2(shape=[2], dtype=tf.float32)
        init = tf.raw_ops.Assign(ref=var, value=tf.constant([1.0, 2.0]))
        out = tf.raw_ops.ApplyGradientDescent(var=var, alpha=tf.constant(0.25), delta=tf.constant([1.0, -1.0]))
        with tf.compat.v1.Session(graph=g) as sess:
            sess.run(init)
            want = sess.run(out)
    np.testing.assert_array_equal(res.get("gd", "out"), want)
    np.testing.assert_array_equal(want, np.float32([0.75, 2.25]))


def test_no_output_op_runs_as_target() -> None:
    page = make_page([("n", "NoOp", {})], [])
    report = run_page(page)
    assert report.errors == [] and report.steps_done == 1


# -- marks ------------------------------------------------------------------------------------------

def test_unavailable_marks() -> None:
    g = REGISTRY.generated()
    assert "GraphDef version 7" in g["TopK"].unavailable and "TopKV2" in g["TopK"].unavailable
    assert "no CPU kernel" in g["NcclAllReduce"].unavailable and "NCCL" in g["NcclAllReduce"].unavailable
    assert "TPU" in g["TPUReplicatedInput"].unavailable
    assert g["TopKV2"].unavailable == "" and g["AccumulateNV2"].unavailable == ""
    gdv = tf.version.GRAPH_DEF_VERSION
    for name, b in g.items():
        od = op_def_registry.get(name)
        if od.HasField("deprecation") and od.deprecation.version <= gdv:
            assert b.unavailable, name
    page = make_page([("k", "TopK", {"input": [1.0, 3.0, 2.0], "k": 2})], [])
    [err] = analyse(page).errors
    assert err.block == "k" and "cannot run here" in err.message


def test_io_and_dangerous_marks() -> None:
    g = REGISTRY.generated()
    assert catalogue.DANGEROUS_OPS <= set(g), sorted(catalogue.DANGEROUS_OPS - set(g))
    for name in ("ReadFile", "WriteFile", "SaveV2", "RestoreV2", "MatchingFiles", "Abort", "TFRecordDataset",
                 "WriteScalarSummary", "PrintV2", "WholeFileReaderV2", "ReaderReadV2", "CollectiveReduceV2",
                 "DebugIdentityV2", "SnapshotDatasetV2", "LoadDataset", "RemoteCall"):
        assert g[name].io, name
    assert not g["Print"].io and not g["MatMul"].io
    for name in ("Abort", "ParseExampleV2", "Unbatch", "BoostedTreesAggregateStats", "MapPeek", "Unstage",
                 "OrderedMapUnstageNoKey", "QueueDequeueV2", "AvgPoolGrad"):
        assert g[name].dangerous, name
    assert not g["AddN"].dangerous
    assert g["ReadFile"].describe()["io"] is True


def test_io_blocks_refused_without_permission(tmp_path) -> None:
    target = tmp_path / "out.txt"
    page = make_page([("w", "WriteFile", {"filename": str(target), "contents": "hello"}),
                      ("r", "ReadFile", {"filename": str(target)})], [])
    report = run_page(page)
    assert {e.block for e in report.errors} == {"w", "r"}
    assert all("--allow-io" in e.message for e in report.errors)
    assert not target.exists()
    # allowed: the file is written, then read back by a second run
    assert run_page(make_page([("w", "WriteFile", {"filename": str(target), "contents": "hello"})], []),
                    allow_io=True).errors == []
    assert target.read_text() == "hello"
    res = run_ok(make_page([("r", "ReadFile", {"filename": str(target)})], []), allow_io=True)
    assert res.get("r", "contents") == tf.raw_ops.ReadFile(filename=str(target)).numpy() == b"hello"
