"""Reading a frozen TensorFlow GraphDef without TensorFlow, so the editor opens a model in its own process.

TensorFlow takes seconds to load; a GraphDef is only a protobuf message. This module declares the part of
TensorFlow's protos a page needs (``GraphDef``, ``NodeDef``, ``AttrValue``, ``TensorProto``,
``TensorShapeProto``, ``VersionDef``: the same field names and numbers, checked against TensorFlow's own in
``tests/test_graphdef_reader.py``) with protobuf's runtime, and decodes constant tensors with numpy the way
``tf.make_ndarray`` does. Of the function library it reads each function's name, nodes and gradients (what
``blocks.op_classes`` checks); fields it does not declare (debug info, function signatures' ports) are skipped.

``parse(raw, text)`` gives the GraphDef message; ``dtype_name`` and ``tensor_array`` read its types and
tensors (they read TensorFlow's own messages too: the field names are the same). What a page cannot be
made of here (a node that calls functions, a dtype numpy lacks) raises ``NeedsTensorFlow``; the caller then
imports the model with TensorFlow (``enuflow import``). Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from enuflow.app.document.formats.errors import PageFileError


class NeedsTensorFlow(Exception):
    """The model holds something only TensorFlow can turn into a page (the message says what)."""


#: DataType enum value -> TensorFlow's dtype name (``tf.as_dtype(v).name``); ``_ref`` types are these + 100
DTYPE_NAMES: dict[int, str] = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string", 8: "complex64",
    9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32", 14: "bfloat16", 15: "qint16", 16: "quint16",
    17: "uint16", 18: "complex128", 19: "float16", 20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
    24: "float8_e5m2", 25: "float8_e4m3fn", 26: "float8_e4m3fnuz", 27: "float8_e4m3b11fnuz", 28: "float8_e5m2fnuz",
    29: "int4", 30: "uint4", 31: "int2", 32: "uint2", 33: "float4_e2m1fn",
}
#: the DataType enum's names (in the text form of a GraphDef), by value; ``_REF`` names are these + 100
ENUM_NAMES: dict[int, str] = {
    1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8", 7: "DT_STRING",
    8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 11: "DT_QINT8", 12: "DT_QUINT8", 13: "DT_QINT32",
    14: "DT_BFLOAT16", 15: "DT_QINT16", 16: "DT_QUINT16", 17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF",
    20: "DT_RESOURCE", 21: "DT_VARIANT", 22: "DT_UINT32", 23: "DT_UINT64", 24: "DT_FLOAT8_E5M2",
    25: "DT_FLOAT8_E4M3FN", 26: "DT_FLOAT8_E4M3FNUZ", 27: "DT_FLOAT8_E4M3B11FNUZ", 28: "DT_FLOAT8_E5M2FNUZ",
    29: "DT_INT4", 30: "DT_UINT4", 31: "DT_INT2", 32: "DT_UINT2", 33: "DT_FLOAT4_E2M1FN",
}
#: numpy dtypes of the DataTypes whose tensors decode here (quantized ints as their storage type)
_NUMPY = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 8: np.complex64,
          9: np.int64, 10: np.bool_, 11: np.int8, 12: np.uint8, 13: np.int32, 15: np.int16, 16: np.uint16,
          17: np.uint16, 18: np.complex128, 19: np.float16, 22: np.uint32, 23: np.uint64}
#: which repeated field of a TensorProto holds the values of each DataType (tensor_content aside)
_VALUES = {1: "float_val", 2: "double_val", 3: "int_val", 4: "int_val", 5: "int_val", 6: "int_val", 8: "scomplex_val",
           9: "int64_val", 10: "bool_val", 11: "int_val", 12: "int_val", 13: "int_val", 15: "int_val", 16: "int_val",
           17: "int_val", 18: "dcomplex_val", 19: "half_val", 22: "uint32_val", 23: "uint64_val"}


def dtype_name(value: int) -> str:
    """TensorFlow's name of a DataType enum value (``float32``, ``int64_ref``); raises NeedsTensorFlow."""
    ref = value > 100
    name = DTYPE_NAMES.get(value - 100 if ref else value)
    if name is None:
        raise NeedsTensorFlow(f"DataType {value} is not known here")
    return name + "_ref" if ref else name


def tensor_array(tp: Any) -> np.ndarray:
    """The numpy array a TensorProto holds, as ``tf.make_ndarray`` gives it (strings as an object array of
    bytes; fewer values than the shape asks for repeat the last one); raises NeedsTensorFlow for a dtype
    numpy cannot hold (bfloat16, float8, 4-bit ints, resources, variants)."""
    shape = [int(d.size) for d in tp.tensor_shape.dim]
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    dt = int(tp.dtype)
    if dt == 7:  # strings
        vals = list(tp.string_val)
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
        return _filled(arr, n, shape, object)
    np_type = _NUMPY.get(dt)
    if np_type is None:
        raise NeedsTensorFlow(f"a constant of dtype {DTYPE_NAMES.get(dt, dt)} needs TensorFlow to be read")
    if tp.tensor_content:
        return np.frombuffer(tp.tensor_content, dtype=np_type).copy().reshape(shape)
    field = _VALUES[dt]
    raw = getattr(tp, field)
    if dt == 19:  # float16 values are kept as their bits in int32s
        arr = np.asarray(raw, dtype=np.uint16).view(np.float16)
    elif dt in (8, 18):  # complex values are kept as (real, imaginary) pairs
        parts = np.asarray(raw, dtype=np.float32 if dt == 8 else np.float64)
        arr = (parts[0::2] + 1j * parts[1::2]).astype(np_type)
    else:
        arr = np.asarray(raw, dtype=np_type)
    return _filled(arr, n, shape, np_type)


def _filled(arr: np.ndarray, n: int, shape: list[int], np_type: Any) -> np.ndarray:
    if arr.size == n:
        return arr.reshape(shape)
    if arr.size == 0:
        return np.zeros(shape, dtype=np_type) if np_type is not object else np.full(shape, b"", dtype=object)
    if arr.size > n:
        raise PageFileError("", f"a constant holds {arr.size} values for the shape {shape}")
    return np.concatenate([arr, np.repeat(arr[-1:], n - arr.size)]).reshape(shape)


# -- the protos -------------------------------------------------------------------------------------

_FIELDS: dict[str, list[tuple[str, int, str, Any]]] = {
    # message -> (field, number, kind, message type or None); kinds: string, bytes, int32, int64, uint32,
    # uint64, float, double, bool, enum (DataType), message, and "repeated " or "oneof " of any of them; "map" for
    # map<string, AttrValue>
    "GraphDef": [("node", 1, "repeated message", "NodeDef"), ("version", 3, "int32", None),
                 ("versions", 4, "message", "VersionDef"), ("library", 2, "message", "FunctionDefLibrary")],
    "FunctionDefLibrary": [("function", 1, "repeated message", "FunctionDef"),
                           ("gradient", 2, "repeated message", "GradientDef")],
    "FunctionDef": [("signature", 1, "message", "OpDef"), ("node_def", 3, "repeated message", "NodeDef")],
    "OpDef": [("name", 1, "string", None)],
    "GradientDef": [("function_name", 1, "string", None), ("gradient_func", 2, "string", None)],
    "VersionDef": [("producer", 1, "int32", None), ("min_consumer", 2, "int32", None),
                   ("bad_consumers", 3, "repeated int32", None)],
    "NodeDef": [("name", 1, "string", None), ("op", 2, "string", None), ("input", 3, "repeated string", None),
                ("device", 4, "string", None), ("attr", 5, "map", "AttrValue")],
    "AttrValue": [("list", 1, "oneof message", "ListValue"), ("s", 2, "oneof bytes", None),
                  ("i", 3, "oneof int64", None), ("f", 4, "oneof float", None), ("b", 5, "oneof bool", None),
                  ("type", 6, "oneof enum", None), ("shape", 7, "oneof message", "TensorShapeProto"),
                  ("tensor", 8, "oneof message", "TensorProto"), ("placeholder", 9, "oneof string", None),
                  ("func", 10, "oneof message", "NameAttrList")],
    "ListValue": [("s", 2, "repeated bytes", None), ("i", 3, "repeated int64", None),
                  ("f", 4, "repeated float", None), ("b", 5, "repeated bool", None),
                  ("type", 6, "repeated enum", None), ("shape", 7, "repeated message", "TensorShapeProto"),
                  ("tensor", 8, "repeated message", "TensorProto"), ("func", 9, "repeated message", "NameAttrList")],
    "NameAttrList": [("name", 1, "string", None), ("attr", 2, "map", "AttrValue")],
    "TensorShapeProto": [("dim", 2, "repeated message", "Dim"), ("unknown_rank", 3, "bool", None)],
    "Dim": [("size", 1, "int64", None), ("name", 2, "string", None)],
    "TensorProto": [("dtype", 1, "enum", None), ("tensor_shape", 2, "message", "TensorShapeProto"),
                    ("version_number", 3, "int32", None), ("tensor_content", 4, "bytes", None),
                    ("float_val", 5, "repeated float", None), ("double_val", 6, "repeated double", None),
                    ("int_val", 7, "repeated int32", None), ("string_val", 8, "repeated bytes", None),
                    ("scomplex_val", 9, "repeated float", None), ("int64_val", 10, "repeated int64", None),
                    ("bool_val", 11, "repeated bool", None), ("dcomplex_val", 12, "repeated double", None),
                    ("half_val", 13, "repeated int32", None), ("uint32_val", 16, "repeated uint32", None),
                    ("uint64_val", 17, "repeated uint64", None)],
}
_PACKAGE = "enuflow.graphdef"


@functools.cache
def _classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    scalar = {"string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "int32": F.TYPE_INT32, "int64": F.TYPE_INT64,
              "uint32": F.TYPE_UINT32, "uint64": F.TYPE_UINT64, "float": F.TYPE_FLOAT, "double": F.TYPE_DOUBLE,
              "bool": F.TYPE_BOOL}
    fdp = descriptor_pb2.FileDescriptorProto(name="enuflow_graphdef.proto", package=_PACKAGE, syntax="proto3")

    def add_fields(msg: Any, name: str) -> None:
        for field, number, kind, ref in _FIELDS[name]:
            words = kind.split()
            f = msg.field.add(name=field, number=number)
            f.label = F.LABEL_REPEATED if words[0] in ("repeated", "map") else F.LABEL_OPTIONAL
            if words[-1] == "map":
                entry = msg.nested_type.add(name=field.capitalize() + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
                entry.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                                type_name=f".{_PACKAGE}.{ref}")
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{_PACKAGE}.{name}.{entry.name}"
            elif words[-1] == "message":
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{_PACKAGE}.{ref}"
            elif words[-1] == "enum":
                f.type = F.TYPE_ENUM
                f.type_name = f".{_PACKAGE}.DataType"
            else:
                f.type = scalar[words[-1]]
            if words[0] == "oneof":
                if not msg.oneof_decl:
                    msg.oneof_decl.add(name="value")
                f.oneof_index = 0

    enum = fdp.enum_type.add(name="DataType")
    enum.value.add(name="DT_INVALID", number=0)
    for ref in (0, 100):
        for number, name in ENUM_NAMES.items():
            enum.value.add(name=name + ("_REF" if ref else ""), number=number + ref)
    for name in _FIELDS:
        add_fields(fdp.message_type.add(name=name), name)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in _FIELDS}


def parse(raw: bytes, text: bool = False, source: str = "") -> Any:
    """The GraphDef message in ``raw`` (binary protobuf, or its text form); raises PageFileError naming
    ``source`` when it is not one."""
    gd = _classes()["GraphDef"]()
    if text:
        from google.protobuf import text_format

        try:
            text_format.Parse(raw.decode("utf-8"), gd, allow_unknown_field=True)
        except (UnicodeDecodeError, text_format.ParseError) as e:
            raise PageFileError(source, f"is not a GraphDef in text form ({e})") from None
    else:
        try:
            gd.ParseFromString(raw)
        except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise PageFileError(source, f"is not a binary GraphDef ({e})") from None
        if not gd.node and raw:
            raise PageFileError(source, "is not a binary GraphDef (no nodes found)")
    return gd


__all__ = ["DTYPE_NAMES", "NeedsTensorFlow", "dtype_name", "parse", "tensor_array"]
