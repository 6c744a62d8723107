"""Reading a frozen GraphDef without TensorFlow (``app.document.formats.graphdef``): checked against
TensorFlow's own protos, ``tf.as_dtype``, ``tf.make_ndarray`` and TensorFlow running the model."""

from __future__ import annotations

import numpy as np
import pytest

from enuflow.app.document import datafile
from enuflow.app.document.formats import graphdef, load
from enuflow.app.document.formats.model_page import ModelGraph, compact_json, page_from_model
from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.engine.runner import run_page
from enuflow.blocks import REGISTRY
from enuflow.blocks.tf import load as load_tf

tf = load_tf()


def test_declared_fields_are_tensorflows() -> None:
    from tensorflow.core.framework import (attr_value_pb2, function_pb2, graph_pb2, node_def_pb2, op_def_pb2,
                                           tensor_pb2, tensor_shape_pb2, versions_pb2)

    theirs = {"GraphDef": graph_pb2.GraphDef, "VersionDef": versions_pb2.VersionDef, "NodeDef": node_def_pb2.NodeDef,
              "AttrValue": attr_value_pb2.AttrValue, "ListValue": attr_value_pb2.AttrValue.ListValue,
              "NameAttrList": attr_value_pb2.NameAttrList, "TensorShapeProto": tensor_shape_pb2.TensorShapeProto,
              "Dim": tensor_shape_pb2.TensorShapeProto.Dim, "TensorProto": tensor_pb2.TensorProto,
              "FunctionDefLibrary": function_pb2.FunctionDefLibrary, "FunctionDef": function_pb2.FunctionDef,
              "OpDef": op_def_pb2.OpDef, "GradientDef": function_pb2.GradientDef}
    ours = graphdef._classes()
    for name, cls in theirs.items():
        mine = {f.name: f for f in ours[name].DESCRIPTOR.fields}
        full = {f.name: f for f in cls.DESCRIPTOR.fields}
        assert mine, name
        for fname, f in mine.items():
            t = full[fname]
            assert f.number == t.number, (name, fname)
            assert f.type == t.type, (name, fname, f.type, t.type)
            assert f.is_repeated == t.is_repeated, (name, fname)
            assert (f.containing_oneof is None) == (t.containing_oneof is None), (name, fname)


def test_dtype_names_are_tensorflows() -> None:
    from tensorflow.core.framework import types_pb2

    mine = {v.name: v.number for v in graphdef._classes()["TensorProto"].DESCRIPTOR.fields_by_name["dtype"]
            .enum_type.values}
    assert mine == {v.name: v.number for v in types_pb2.DataType.DESCRIPTOR.values}
    for v in range(1, 34):
        try:
            want = tf.as_dtype(v).name
        except TypeError:
            continue
        assert graphdef.dtype_name(v) == want
        assert graphdef.dtype_name(v + 100) == tf.as_dtype(v + 100).name


@pytest.mark.parametrize("value, dtype, shape", [
    (np.arange(12, dtype=np.float32).reshape(3, 4), None, None),
    (1.5, tf.float32, [3]),  # one value fills the shape
    ([1, 2], tf.int64, [4]),  # the last value repeats
    (np.array([[True, False]]), None, None),
    ([b"ab", b"c\x00d"], None, None),
    (np.array([1.5, -2.25], np.float16), None, None),
    (np.array([1 + 2j, 3 - 4j], np.complex64), None, None),
    (np.array([1 + 2j], np.complex128), None, None),
    (np.array([3, 4000000000], np.uint32), None, None),
    (np.array([7, -3], np.int8), None, None),
    (np.zeros((0, 3), np.float64), None, None),
    (2.5, tf.float64, []),
])
def test_tensors_decode_as_make_ndarray_decodes_them(value: object, dtype: object, shape: object) -> None:
    for proto in (tf.make_tensor_proto(value, dtype=dtype, shape=shape),
                  tf.make_tensor_proto(value, dtype=dtype, shape=shape, allow_broadcast=shape is None)):
        want = tf.make_ndarray(proto)
        got = graphdef.tensor_array(proto)  # TensorFlow's own message
        mine = graphdef._classes()["TensorProto"].FromString(proto.SerializeToString())
        got2 = graphdef.tensor_array(mine)  # ours, read from the same bytes
        for g in (got, got2):
            assert g.shape == want.shape and g.dtype == want.dtype
            np.testing.assert_array_equal(g, want)


def test_dtypes_numpy_lacks_need_tensorflow() -> None:
    with pytest.raises(graphdef.NeedsTensorFlow):
        graphdef.tensor_array(tf.make_tensor_proto(np.ones(3), dtype=tf.bfloat16))


def frozen(fn: object) -> object:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(fn)


@pytest.mark.parametrize("text", [False, True])
def test_model_read_without_tensorflow_runs_as_tensorflow_runs_it(tmp_path, text: bool) -> None:
    tf.keras.utils.set_random_seed(11)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), tf.keras.layers.Conv2D(3, 3, activation="relu"),
                                 tf.keras.layers.Flatten(), tf.keras.layers.Dense(4, activation="softmax")])
    f = frozen(tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 6, 6, 1], tf.float32,
                                                                                   name="x")))
    gd = f.graph.as_graph_def()
    raw = str(gd).encode() if text else gd.SerializeToString()
    mine = graphdef.parse(raw, text=text, source="m")
    assert [n.name for n in mine.node] == [n.name for n in gd.node]
    page, arrays = page_from_model(ModelGraph(mine, "m"), REGISTRY, strict=True)
    assert arrays and not any(w for w in page.extra.get("import_warnings", []) if "not a block type" in w)
    datafile.write_npz(tmp_path / "m.npz", arrays)
    page.data_path = str(tmp_path / "m.npz")
    (tmp_path / "m.json").write_text(compact_json(page_to_doc(page, "m.npz")))
    p = load(tmp_path / "m.json")
    x = np.random.RandomState(2).rand(2, 6, 6, 1).astype(np.float32)
    p.block("x").pins.update(value=x.tolist(), shape=[2, 6, 6, 1])
    report = run_page(p)
    assert report.ok, report.errors
    out = f.outputs[0].name.split(":")[0]
    np.testing.assert_allclose(report.results.get(out, "output"), model(x).numpy(), atol=1e-5)


def test_function_ops_and_unknown_ops_need_tensorflow() -> None:
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n")])
    def loop(n: object) -> object:
        return tf.while_loop(lambda i: i < n, lambda i: i + 1, [0])[0]

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    gd = convert_variables_to_constants_v2(loop.get_concrete_function(), lower_control_flow=False).graph.as_graph_def()
    mine = graphdef.parse(gd.SerializeToString())
    with pytest.raises(graphdef.NeedsTensorFlow, match="calls functions"):
        page_from_model(ModelGraph(mine, "loop"), REGISTRY, strict=True)

    class Nothing:
        def get(self, name: str) -> None:
            return None

    g = tf.Graph()
    with g.as_default():
        tf.raw_ops.Neg(x=tf.compat.v1.placeholder(tf.float32, [2], name="x"), name="neg")
    with pytest.raises(graphdef.NeedsTensorFlow, match="op Neg is not known"):
        page_from_model(ModelGraph(graphdef.parse(g.as_graph_def().SerializeToString()), "g"), Nothing(), strict=True)


def test_not_a_graphdef_names_the_file() -> None:
    from enuflow.app.document.formats import PageFileError

    with pytest.raises(PageFileError, match="bad.pb.*not a binary GraphDef"):
        graphdef.parse(b"\xff\xfe not a protobuf", source="bad.pb")
    with pytest.raises(PageFileError, match="bad.pbtxt.*text form"):
        graphdef.parse(b"node { name: ", text=True, source="bad.pbtxt")
