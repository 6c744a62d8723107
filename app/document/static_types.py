"""The short text of a tensor's static type, as wires and ``enuflow check`` show it: ``f32[?,784]``.

A static type is a dtype name (``"float32"``) and a shape: a list of dimensions, ``None`` for one TensorFlow cannot
infer, or ``None`` for the whole shape when not even the rank is known. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

from collections.abc import Sequence

_SHORT = {
    "float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "complex64": "c64", "complex128": "c128", "string": "str",
}


def short_dtype(dtype: str) -> str:
    """``float32`` -> ``f32``; names without a short form (bool, resource, variant) as they are."""
    return _SHORT.get(dtype, dtype)


def shape_text(shape: Sequence[int | None] | None) -> str:
    """``[None, 784]`` -> ``[?,784]``; a scalar ``[]``; an unknown rank ``[...]``."""
    if shape is None:
        return "[...]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def type_text(dtype: str, shape: Sequence[int | None] | None) -> str:
    """The short form of a static type: ``f32[?,784]``."""
    return short_dtype(dtype) + shape_text(shape)


__all__ = ["shape_text", "short_dtype", "type_text"]
