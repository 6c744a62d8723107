"""enuSpace's value texts, parsed exactly as the enuSpace-Tensorflow plugin parsed them.

The grammars of the formats document, section d: flat lists (d.1: Const ``val``, Variable
``initvalues`` without ``dtype``), brace literals with dtype inference (d.2: inline constants on
unwired Input pins, Variable ``initvalues`` with ``dtype``), shapes (d.3), ``DT_*`` names (d.4) and the
``<page>.dat`` binary arrays (d.7). Each returns a numpy array (or raises ``ValueError`` with a message
that reads well after "block 'x' pin 'y': "); nothing is ever evaluated. Sizes are checked before any
allocation. Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import math
import re

import numpy as np

from enuflow.app.document.values import MAX_ELEMENTS

#: page ``var-type`` / JSON ``pin-type`` -> dtype
VAR_TYPES = {"double": "float64", "float": "float32", "int": "int32", "bool": "bool", "string": "string"}
_DT = {
    "FLOAT": "float32", "DOUBLE": "float64", "INT32": "int32", "UINT8": "uint8", "INT16": "int16",
    "INT8": "int8", "STRING": "string", "COMPLEX64": "complex64", "INT64": "int64", "BOOL": "bool",
    "QINT8": "qint8", "QUINT8": "quint8", "QINT32": "qint32", "BFLOAT16": "bfloat16", "QINT16": "qint16",
    "QUINT16": "quint16", "UINT16": "uint16", "COMPLEX128": "complex128", "HALF": "float16",
    "RESOURCE": "resource",
}
_NP = {"float64": "<f8", "float32": "<f4", "int32": "<i4", "int64": "<i8", "bool": "?", "int16": "<i2",
       "int8": "i1", "uint8": "u1", "uint16": "<u2", "float16": "<f2"}
_BINARY = {"double": ("<f8", "float64"), "float": ("<f4", "float32"), "int": ("<i4", "int32"), "bool": ("?", "bool")}
_CFLOAT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_CINT = re.compile(r"\s*([+-]?\d+)")


def enu_dtype(text: str | None) -> str | None:
    """Our dtype name for a ``DT_*`` name (``_REF`` allowed, blanks trimmed); None when invalid (d.4)."""
    t = (text or "").strip()
    if not t.startswith("DT_"):
        return None
    core = t[3:].removesuffix("_REF")
    return _DT.get(core)


def parse_dims(text: str | None) -> tuple[int, ...]:
    """Dims of ``[2][3]``, ``{2,3}``, ``2;3`` or empty/``{}`` (a scalar); -1 stays -1 (unknown) (d.3)."""
    t = (text or "").strip()
    if t in ("", "{}", "[]"):
        return ()
    body = re.sub(r"[\[\]{}\s]", ",", t)
    items = [x for x in re.split(r"[,;]", body) if x != ""]
    dims = []
    for x in items:
        if not re.fullmatch(r"-?\d+", x) or int(x) < -1:
            raise ValueError(f"{text!r} is not a shape such as [2][3]")
        dims.append(int(x))
    return tuple(dims)


def dims_text(dims: tuple[int, ...]) -> str:
    return "".join(f"[{d}]" for d in dims)


def _count(dims: tuple[int, ...]) -> int:
    if any(d < 0 for d in dims):
        raise ValueError(f"shape {dims_text(dims)} has an unknown dimension; a value needs a known shape")
    n = math.prod(dims)
    if n > MAX_ELEMENTS:
        raise ValueError(f"shape {dims_text(dims)} has {n:,} elements, more than the {MAX_ELEMENTS:,} a pin "
                         "value may hold")
    return n


def _c_number(tok: str, dtype: str) -> int | float | bool:
    """A C prefix parse of ``tok`` (leading blanks skipped, trailing junk ignored)."""
    if dtype == "bool":
        return tok in ("1", "true", "TRUE", "True")
    m = (_CINT if dtype.startswith(("int", "uint")) else _CFLOAT).match(tok)
    if not m:
        raise ValueError(f"{tok!r} is not a number")
    return int(m.group(1)) if dtype.startswith(("int", "uint")) else float(m.group(1))


def _array(values: list, dtype: str, dims: tuple[int, ...]) -> np.ndarray:
    if dtype == "string":
        arr = np.empty(len(values), dtype=object)
        arr[:] = [v.encode() if isinstance(v, str) else v for v in values]
        return arr.reshape(dims)
    if dtype not in _NP:
        raise ValueError(f"values of type {dtype} cannot be written as text")
    try:
        return np.array(values, dtype=_NP[dtype]).reshape(dims)
    except OverflowError:
        raise ValueError(f"a value does not fit in {dtype}") from None


def flat_list(text: str, dtype: str, dims: tuple[int, ...]) -> np.ndarray:
    """d.1: braces dropped, split on ``,``/``;`` (strings on ``;`` only), filled row-major into ``dims``."""
    need = _count(dims)
    if dtype == "string":
        tokens = text.split(";")
    else:
        tokens = re.split(r"[,;]", text.replace("{", "").replace("}", ""))
    if len(tokens) > 1 and tokens[-1] == "":
        tokens = tokens[:-1]  # a trailing separator is allowed
    if dtype != "string" and any(t.strip() == "" for t in tokens):
        raise ValueError(f"empty item in the list {text!r}")
    values = tokens if dtype == "string" else [_c_number(t, dtype) for t in tokens]
    if len(values) == 1 and need != 1:
        values = values * need
    if len(values) != need:
        raise ValueError(f"{len(values)} values do not fill shape {dims_text(dims) or '[]'} ({need} needed)")
    return _array(values, dtype, dims)


def infer_dtype(text: str) -> str:
    """d.2's dtype inference from the text of a literal."""
    if '"' in text:
        return "string"
    if "j" in text or "J" in text:
        return "complex128"
    if "f" in text:
        return "float32"
    if "." in text or "e" in text or "E" in text:
        return "float64"
    return "int32"


def brace_literal(text: str, dtype: str | None = None, dims: tuple[int, ...] | None = None) -> np.ndarray:
    """d.2: a ``{{1,2},{3,4}}`` literal (or one bare value); rank and dims from the brace levels."""
    dt = dtype or infer_dtype(text)
    if dt.startswith("complex"):
        raise ValueError("complex literals are not supported")
    src = text
    if dt != "string":
        for word, digit in (("true", "1"), ("TRUE", "1"), ("false", "0"), ("FALSE", "0")):
            src = src.replace(word, digit)
    if "{" not in src:
        items = [x for x in re.split(r"[,;]", src) if x.strip() != ""] if dt != "string" else [src]
        if len(items) != 1:
            raise ValueError(f"{text!r} holds {len(items)} values without braces; write {{...}}")
        keep = items[0] if dt == "string" else re.sub(r"[^0-9.+\-eE]", "", items[0])
        values, shape = [keep], ()
    else:
        level = deepest = 0
        counts: dict[int, int] = {}
        found: list[tuple[int, str]] = []
        cur: list[str] = []
        for ch in src:
            if ch == "{":
                level += 1
                deepest = max(deepest, level)
            elif ch in ",}":
                if level == 0:
                    raise ValueError(f"unbalanced braces in {text!r}")
                counts[level] = counts.get(level, 0) + 1
                found.append((level, "".join(cur)))
                cur = []
                if ch == "}":
                    level -= 1
            elif ch not in "\r\n" and (dt == "string" or ch.isdigit() or ch in ".-+eE"):
                cur.append(ch)
        if level != 0:
            raise ValueError(f"unbalanced braces in {text!r}")
        values = [s for lv, s in found if lv == deepest]
        stray = [s for lv, s in found if lv != deepest and s.strip()]
        dims_l: list[int] = []
        for k in range(1, deepest + 1):
            done = math.prod(dims_l)
            if done == 0 or counts.get(k, 0) % done:
                raise ValueError(f"{text!r} is not rectangular")
            dims_l.append(counts.get(k, 0) // done)
        shape = tuple(dims_l)
        if stray or math.prod(shape) != len(values):
            raise ValueError(f"{text!r} is not rectangular")
    if dims is not None and dims != shape:
        raise ValueError(f"{text!r} has shape {dims_text(shape) or '[]'}, but the pin's shape is "
                         f"{dims_text(dims) or '[]'}")
    if dt == "string":
        return _array(values, dt, shape)
    if dt == "bool":
        nums = [_c_number(v, "float64") != 0 for v in values]
    else:
        nums = [_c_number(v, dt if dt.startswith(("int", "uint")) else "float64") for v in values]
    return _array(nums, dt, shape)


def read_binary(data: bytes, pos: int, var_type: str, dims: tuple[int, ...]) -> np.ndarray:
    """d.7: ``prod(dims)`` little-endian elements of ``var_type`` at byte ``pos`` of a ``.dat`` file."""
    if var_type not in _BINARY:
        raise ValueError(f"binary values of type {var_type!r} are not supported (double, float, int, bool)")
    code, dtype = _BINARY[var_type]
    n = _count(dims)
    size = np.dtype(code).itemsize
    if pos < 0 or pos + n * size > len(data):
        raise ValueError(f"needs {n * size} bytes at offset {pos}, but the data file has {len(data)} bytes")
    return np.frombuffer(data, dtype=code, count=n, offset=pos).astype(dtype).reshape(dims)
