"""Loading TensorFlow quietly, once, and the small conversions every block needs.

TensorFlow prints start-up lines (oneDNN, CUDA stubs) on the C++ side before its log level is read;
``load()`` silences file descriptor 2 while importing so that a normal run prints nothing of TensorFlow's.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any

_lock = threading.Lock()
_tf: Any = None


def load() -> Any:
    """Import TensorFlow (once) with its start-up log noise suppressed; returns the module."""
    global _tf
    if _tf is not None:
        return _tf
    with _lock:
        if _tf is not None:
            return _tf
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        saved = None
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            saved = None
        try:
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
        _tf = tf
        # TensorFlow's modules live as long as the process: the cyclic collector need not walk them again
        gc.freeze()
        return tf


def upstream_ops(fetches: Any) -> set[str]:
    """The names of the ops that running ``fetches`` (tensors and ops) may run: theirs, and those of their data and
    control inputs, at any depth."""
    seen: set[str] = set()
    stack = [getattr(f, "op", f) for f in fetches]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def as_dtype(name: str) -> Any:
    """A ``tf.DType`` from a canonical dtype name (``"float32"``)."""
    return load().as_dtype(name)


def const_attrs(value: Any, dtype: str) -> dict[str, Any]:
    """The attrs of a Const op holding ``value`` (an array, a list, a number) as ``dtype`` (a canonical name)."""
    from tensorflow.core.framework import attr_value_pb2

    tf = load()
    proto = tf.make_tensor_proto(value, dtype=tf.as_dtype(dtype))
    return {"value": attr_value_pb2.AttrValue(tensor=proto), "dtype": attr_value(dtype, "type")}


def const_tensor(scope: Any, value: Any, dtype: str, suffix: str) -> Any:
    """The tensor of a Const holding ``value`` as ``dtype``, made by a block's scope (``scope.create_op``: named
    ``<block>/<suffix>``)."""
    return scope.create_op("Const", [], const_attrs(value, dtype), suffix=suffix).outputs[0]


_memo: dict[tuple[str, Any], Any] = {}


def _key(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_key(v) for v in value)
    if isinstance(value, tuple):
        return ("t",) + tuple(_key(v) for v in value)
    return (type(value).__name__, value)


def attr_value(value: Any, attr_type: str) -> Any:
    """Convert a parsed attr value (``blocks``/``app.document.values`` forms) to an ``AttrValue`` proto.

    Protos of hashable values are memoised: graph building copies them into each NodeDef, never
    changes them, and the same dtype or shape attrs recur on most ops of a page.
    """
    if attr_type in ("tensor", "list(tensor)"):
        return _attr_value(value, attr_type)
    try:
        key = (attr_type, _key(value))
        hit = _memo.get(key)
    except TypeError:
        return _attr_value(value, attr_type)
    if hit is None:
        hit = _attr_value(value, attr_type)
        if len(_memo) < 4096:
            _memo[key] = hit
    return hit


def _attr_value(value: Any, attr_type: str) -> Any:
    tf = load()
    from tensorflow.core.framework import attr_value_pb2, tensor_shape_pb2

    av = attr_value_pb2.AttrValue()

    def shape_proto(s: Any) -> Any:
        if s is None:
            return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
        return tf.TensorShape([None if d is None or d < 0 else d for d in s]).as_proto()

    if attr_type.startswith("list("):
        inner = attr_type[5:-1]
        items = list(value)
        lst = av.list
        if inner == "int":
            lst.i.extend(int(v) for v in items)
        elif inner == "float":
            lst.f.extend(float(v) for v in items)
        elif inner == "bool":
            lst.b.extend(bool(v) for v in items)
        elif inner == "string":
            lst.s.extend(v.encode() if isinstance(v, str) else bytes(v) for v in items)
        elif inner == "type":
            lst.type.extend(as_dtype(v).as_datatype_enum for v in items)
        elif inner == "shape":
            lst.shape.extend(shape_proto(v) for v in items)
        elif inner == "tensor":
            lst.tensor.extend(tf.make_tensor_proto(v) for v in items)
        elif inner == "func":
            for v in items:
                lst.func.add(name=str(v))
        else:
            raise ValueError(f"unsupported attr type {attr_type}")
        if not items:
            # an empty list still has to be marked as a list
            av.list.SetInParent()
        return av
    if attr_type == "int":
        av.i = int(value)
    elif attr_type == "float":
        av.f = float(value)
    elif attr_type == "bool":
        av.b = bool(value)
    elif attr_type == "string":
        av.s = value.encode() if isinstance(value, str) else bytes(value)
    elif attr_type == "type":
        av.type = as_dtype(value).as_datatype_enum
    elif attr_type == "shape":
        av.shape.CopyFrom(shape_proto(value))
    elif attr_type == "tensor":
        av.tensor.CopyFrom(tf.make_tensor_proto(value))
    elif attr_type == "func":
        av.func.name = str(value)
    else:
        raise ValueError(f"unsupported attr type {attr_type}")
    return av
