"""Pin values: text and JSON -> numpy arrays, dtypes, shapes and attr values.

Accepts our JSON forms (numbers, bools, nested lists) and enuSpace's text forms: flat lists
``"1,2,3,4"`` with a shape ``"[2][2]"``, brace literals ``"{{1.5,3.5},{0.5,1}}"``, C-style numbers
``"0.5f"``, dtype names ``"DT_FLOAT"``, booleans ``"TRUE"``/``"FALSE"`` and attr strings
``"transpose_a_ = false;transpose_b_ = true;"``. Nothing here evaluates text as code; every parser is a
small hand-written grammar. Imports neither TensorFlow nor Qt. Problems raise ``ValueParseError``
with a message that reads well after "block 'x' pin 'y': ".
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

#: a tensor literal larger than this (elements) is refused rather than allocated
MAX_ELEMENTS = 1 << 27


class ValueParseError(ValueError):
    """A pin value that does not parse; the message says what was expected."""


# -- dtypes -----------------------------------------------------------------------------------

DTYPES = (
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "string", "complex64", "complex128",
    "qint8", "quint8", "qint16", "quint16", "qint32", "resource", "variant",
)

_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64",
    "boolean": "bool", "str": "string", "complex": "complex128", "short": "int16",
}
_ENU = {
    "FLOAT": "float32", "DOUBLE": "float64", "INT32": "int32", "UINT8": "uint8", "INT16": "int16",
    "INT8": "int8", "STRING": "string", "COMPLEX64": "complex64", "INT64": "int64", "BOOL": "bool",
    "QINT8": "qint8", "QUINT8": "quint8", "QINT32": "qint32", "BFLOAT16": "bfloat16", "QINT16": "qint16",
    "QUINT16": "quint16", "UINT16": "uint16", "COMPLEX128": "complex128", "HALF": "float16",
    "RESOURCE": "resource", "VARIANT": "variant", "UINT32": "uint32", "UINT64": "uint64",
}

NUMPY_DTYPES = {
    "float16": np.float16, "float32": np.float32, "float64": np.float64, "int8": np.int8,
    "int16": np.int16, "int32": np.int32, "int64": np.int64, "uint8": np.uint8, "uint16": np.uint16,
    "uint32": np.uint32, "uint64": np.uint64, "bool": np.bool_, "complex64": np.complex64,
    "complex128": np.complex128, "string": object,
}


def parse_dtype(value: Any) -> str:
    """Canonical dtype name from ``"float32"``, ``"float"``, ``"DT_FLOAT"``, ``"tf.float32"``, ...

    Raises ValueParseError for anything else.
    """
    if not isinstance(value, str):
        raise ValueParseError(f"expected a dtype name such as float32, got {value!r}")
    text = value.strip()
    text = text.removeprefix("tf.")
    if text.upper().startswith("DT_"):
        core = text[3:].upper()
        core = core.removesuffix("_REF")
        if core in _ENU:
            return _ENU[core]
    low = text.lower()
    if low in DTYPES:
        return low
    if low in _ALIASES:
        return _ALIASES[low]
    raise ValueParseError(f"unknown dtype {value!r} (expected one of {', '.join(DTYPES[:8])}, ...)")


_NP_NAMES: dict[Any, str] = {}


def np_name(dt: np.dtype) -> str:
    """``str(dt)``, memoised: numpy computes a dtype's name in Python on every call."""
    name = _NP_NAMES.get(dt)
    if name is None:
        name = _NP_NAMES[dt] = str(dt)
    return name


def numpy_dtype(name: str) -> Any:
    try:
        return NUMPY_DTYPES[name]
    except KeyError:
        if name == "bfloat16":
            import ml_dtypes

            return ml_dtypes.bfloat16
        raise ValueParseError(f"dtype {name} cannot hold a literal value") from None


# -- shapes -----------------------------------------------------------------------------------

_SHAPE_TOKEN = re.compile(r"-?\d+|\?")


def parse_shape(value: Any) -> tuple[int | None, ...] | None:
    """A shape from ``[2, 3]``, ``"[2][3]"``, ``"{2,3}"``, ``"2;3"``, ``"[2,3]"``; -1 or ``?`` = unknown.

    ``None`` or ``"unknown"`` gives None (unknown rank); ``""``, ``"[]"``, ``"{}"`` give () (a scalar).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueParseError(f"expected a shape such as [2][3], got {value!r}")
    if isinstance(value, int):
        value = [value]
    if isinstance(value, (list, tuple)):
        dims: list[int | None] = []
        for d in value:
            if d is None:
                dims.append(None)
            elif isinstance(d, bool) or not isinstance(d, (int, float)) or int(d) != d:
                raise ValueParseError(f"shape dimensions must be whole numbers, got {d!r}")
            elif d < -1:
                raise ValueParseError(f"shape dimension {int(d)} is negative")
            else:
                dims.append(None if d == -1 else int(d))
        return tuple(dims)
    if not isinstance(value, str):
        raise ValueParseError(f"expected a shape such as [2][3], got {value!r}")
    text = value.strip()
    if text.lower() in ("unknown", "none", "?"):
        return None
    stripped = re.sub(r"[\s\[\]{}(),;]", "", text)
    tokens = _SHAPE_TOKEN.findall(text)
    if "".join(tokens).replace("-", "") != stripped.replace("-", ""):
        raise ValueParseError(f"expected a shape such as [2][3], got {value!r}")
    dims2: list[int | None] = []
    for t in tokens:
        if t == "?" or t == "-1":
            dims2.append(None)
        elif int(t) < 0:
            raise ValueParseError(f"shape dimension {t} is negative")
        else:
            dims2.append(int(t))
    return tuple(dims2)


def shape_text(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def element_count(shape: tuple[int | None, ...]) -> int:
    return math.prod(d if d is not None else 0 for d in shape)


# -- scalars and tokens -----------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?((\d+\.?\d*)|(\.\d+))([eE][+-]?\d+)?[fFlL]?$")
_INT = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "TRUE", "True"}
_FALSE = {"false", "FALSE", "False"}


def parse_bool(value: Any) -> bool:
    """A boolean from a JSON bool, 0/1, or ``"TRUE"``/``"true"``/``"FALSE"``/``"false"``/``"1"``/``"0"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        t = value.strip()
        if t in _TRUE or t == "1":
            return True
        if t in _FALSE or t == "0" or t == "":
            return False
    raise ValueParseError(f"expected TRUE or FALSE, got {value!r}")


def _token_number(tok: str) -> int | float | complex | bool:
    t = tok.strip()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    if _INT.match(t):
        return int(t)
    if _NUMBER.match(t):
        return float(t.rstrip("fFlL"))
    if t.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(t)
    if t.endswith(("j", "J")):
        try:
            return complex(t.replace(" ", ""))
        except ValueError:
            pass
    raise ValueParseError(f"{tok!r} is not a number")


def _split_flat(text: str) -> list[str]:
    parts = re.split(r"[,;]", text)
    if parts and parts[-1].strip() == "":
        parts = parts[:-1]  # a trailing separator is allowed
    if any(p.strip() == "" for p in parts):
        raise ValueParseError(f"empty item in list {text!r}")
    return parts


def _parse_braces(text: str) -> list[Any]:
    """``"{{1,2},{3,4}}"`` -> [["1","2"],["3","4"]] (tokens kept as text)."""
    pos = 0
    n = len(text)

    def skip() -> None:
        nonlocal pos
        while pos < n and text[pos] in " \t\r\n":
            pos += 1

    def parse_list() -> list[Any]:
        nonlocal pos
        assert text[pos] == "{"
        pos += 1
        items: list[Any] = []
        skip()
        if pos < n and text[pos] == "}":
            pos += 1
            return items
        while True:
            skip()
            if pos >= n:
                raise ValueParseError(f"unclosed '{{' in {text!r}")
            if text[pos] == "{":
                items.append(parse_list())
            else:
                start = pos
                while pos < n and text[pos] not in ",;{}":
                    pos += 1
                tok = text[start:pos].strip()
                if tok == "":
                    raise ValueParseError(f"empty item in {text!r}")
                items.append(tok)
            skip()
            if pos >= n:
                raise ValueParseError(f"unclosed '{{' in {text!r}")
            if text[pos] in ",;":
                pos += 1
                continue
            if text[pos] == "}":
                pos += 1
                return items
            raise ValueParseError(f"unexpected {text[pos]!r} in {text!r}")

    skip()
    result = parse_list()
    skip()
    if pos != n:
        raise ValueParseError(f"unexpected text after the closing brace in {text!r}")
    return result


def _nested_shape(items: Any) -> tuple[int, ...]:
    if not isinstance(items, list):
        return ()
    if not items:
        return (0,)
    inner = [_nested_shape(x) for x in items]
    if any(s != inner[0] for s in inner):
        raise ValueParseError("rows of different lengths (the value is not rectangular)")
    return (len(items),) + inner[0]


def _flatten(items: Any) -> list[Any]:
    if not isinstance(items, list):
        return [items]
    out: list[Any] = []
    for x in items:
        out.extend(_flatten(x))
    return out


def _infer_dtype(values: list[Any]) -> str:
    if not values:
        return "float32"
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if any(isinstance(v, str) for v in values):
        return "string"
    if any(isinstance(v, complex) for v in values):
        return "complex64"
    if any(isinstance(v, float) for v in values):
        return "float32"
    return "int32"


# -- tensors ----------------------------------------------------------------------------------

_PLAIN_NUMBER = (int, float)  # exactly these (a bool is not a number here)
_FLOATS = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def parse_tensor(value: Any, dtype: str | None = None, shape: Any = None) -> np.ndarray:
    """A numpy array from a pin value.

    ``value``: number, bool, nested list, or text (``"1,2,3,4"``, ``"{{1,2},{3,4}}"``, ``"0.5f"``).
    ``dtype``: a dtype name (any form ``parse_dtype`` takes) or None to infer (ints -> int32,
    reals -> float32, as TensorFlow does). ``shape``: any form ``parse_shape`` takes, or None to take
    the value's own shape. A single value fills a given shape. Raises ValueParseError.
    A typed value ``{"dtype": ..., "shape": ..., "value": ...}`` (the form ``enuflow run --json`` writes
    results in) carries its own dtype and shape, which take precedence over the arguments.
    """
    if type(value) in _PLAIN_NUMBER and shape is None and dtype in _FLOATS:
        return np.array(value, dtype=_FLOATS[dtype])  # a number typed into a float pin (most Consts)
    if isinstance(value, dict):
        if "value" not in value:
            raise ValueParseError("a typed value needs a 'value' entry")
        dtype = value.get("dtype") or dtype
        shape = value.get("shape", shape)
        value = value["value"]
        if isinstance(value, dict):
            raise ValueParseError("a typed value cannot hold another typed value")
    dt = parse_dtype(dtype) if dtype not in (None, "") else None
    want = parse_shape(shape) if shape not in (None, "") else None
    if want is not None and any(d is None for d in want):
        raise ValueParseError(f"a value's shape must be fully known, got {shape_text(want)}")

    if isinstance(value, np.ndarray):
        arr_shape = tuple(value.shape)
        flat = value.reshape(-1).tolist()
    else:
        items: Any
        if isinstance(value, str):
            text = value.strip()
            if dt == "string" and not text.startswith("{"):
                items = [p for p in text.split(";")] if ";" in text else text
                if isinstance(items, list) and items and items[-1] == "":
                    items = items[:-1]
            elif text.startswith("{"):
                items = _parse_braces(text)
            elif "," in text or ";" in text:
                items = _split_flat(text)
            elif text == "":
                raise ValueParseError("empty value")
            else:
                items = text
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, (bool, int, float)):
            items = value
        elif value is None:
            raise ValueParseError("no value given")
        else:
            raise ValueParseError(f"unsupported value {value!r}")
        fast = _real_array(items, dt)
        if fast is not None:
            return _shaped(fast, want)
        arr_shape = _nested_shape(items) if isinstance(items, list) else ()
        raw = _flatten(items)
        flat = []
        for v in raw:
            if isinstance(v, str):
                if dt == "string":
                    flat.append(v)
                else:
                    flat.append(_token_number(v))
            elif isinstance(v, list):
                raise ValueParseError("nested lists of different depths")
            elif v is None or not isinstance(v, (bool, int, float, complex)):
                raise ValueParseError(f"unsupported item {v!r}")
            else:
                flat.append(v)

    if dt is None:
        dt = _infer_dtype(flat)
    if want is not None:
        need = _fill_count(len(flat), want)
        if len(flat) != need:
            flat = flat * need
        arr_shape = want
    return _to_array(flat, dt, arr_shape)


def _real_array(items: Any, dt: str | None) -> np.ndarray | None:
    """A large nested list of plain numbers made into a real (float) array by numpy in one go, or None to take
    the item-by-item way (which gives the precise messages): only when the value is rectangular, every item
    is an int, float or bool, there is a float among them or the dtype asked for is a real one, and nothing
    needs checking (no whole-number or range check, as integer dtypes have)."""
    if not isinstance(items, list) or len(items) < 64 and not (items and isinstance(items[0], list)):
        return None
    target = numpy_dtype(dt) if dt is not None else None
    if target is not None and np.dtype(target).kind != "f":
        return None
    try:
        arr = np.asarray(items)
    except (ValueError, TypeError, OverflowError):
        return None  # ragged, or a number numpy cannot hold: the slow way says what is wrong
    if arr.dtype.kind != "f" and not (target is not None and arr.dtype.kind in "iub"):
        return None
    if arr.size == 0:
        return None
    return arr.astype(target if target is not None else np.float32)


def _fill_count(n: int, want: tuple[int, ...]) -> int:
    """How many elements shape ``want`` holds, when ``n`` values can make it: all of them, or one filling it."""
    need = element_count(want)
    if need > MAX_ELEMENTS:
        raise ValueParseError(f"shape {shape_text(want)} has {need:,} elements, more than the "
                              f"{MAX_ELEMENTS:,} a pin value may hold; make large tensors with ops")
    if n != need and n != 1:
        raise ValueParseError(f"{n} values do not fill shape {shape_text(want)} ({need} needed)")
    return need


def _shaped(arr: np.ndarray, want: tuple[int, ...] | None) -> np.ndarray:
    """``arr`` in the shape a pin asked for (as the item-by-item way does: all of it, or one value filling it)."""
    if want is None:
        return arr
    if arr.size != _fill_count(arr.size, want):
        return np.full(want, arr.reshape(-1)[0], dtype=arr.dtype)
    return arr.reshape(want)


def _to_array(flat: list[Any], dt: str, shape: tuple[int, ...]) -> np.ndarray:
    if dt == "string":
        arr = np.empty(len(flat), dtype=object)
        for i, v in enumerate(flat):
            arr[i] = v.encode() if isinstance(v, str) else str(v).encode()
        return arr.reshape(shape)
    npdt = numpy_dtype(dt)
    kind = np.dtype(npdt).kind
    if kind in "iu":
        conv = []
        for v in flat:
            if isinstance(v, complex) or (isinstance(v, float) and not float(v).is_integer()):
                raise ValueParseError(f"{v!r} is not a whole number, as {dt} needs")
            conv.append(int(v))
        info = np.iinfo(npdt)
        for v in conv:
            if v < info.min or v > info.max:
                raise ValueParseError(f"{v} does not fit in {dt}")
        flat = conv
    elif kind == "b":
        flat = [bool(v) for v in flat]
    elif kind == "f" and any(isinstance(v, complex) for v in flat):
        raise ValueParseError(f"complex values do not fit in {dt}")
    try:
        arr = np.array(flat, dtype=npdt)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueParseError(f"cannot make {dt} values: {e}") from None
    return arr.reshape(shape)


# -- attrs ------------------------------------------------------------------------------------

def _shape_list(value: Any) -> list[tuple[int | None, ...] | None]:
    if isinstance(value, (list, tuple)):
        return [parse_shape(v) for v in value]
    text = str(value).strip()
    if text in ("", "{}", "[]"):
        return []
    if text.startswith("{"):
        return [parse_shape(m) for m in re.findall(r"\{[^{}]*\}", text)]
    return [parse_shape(p) for p in re.split(r"[;,]", text) if p.strip()]


def parse_attr(value: Any, attr_type: str) -> Any:
    """A Python value for an OpDef attr of type ``attr_type`` from a pin value (JSON or text).

    Returns: int, float, bool, str, dtype name, shape tuple (None = unknown rank), list of those, or a
    numpy array for ``tensor``. Raises ValueParseError.
    """
    if attr_type.startswith("list("):
        inner = attr_type[5:-1]
        if inner == "shape":
            return _shape_list(value)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and text.endswith("]") and inner != "type":
                text = "{" + text[1:-1] + "}"
            text = text.strip("{}")
            if text.strip() == "":
                return []
            items: list[Any] = [t for t in re.split(r"[,;]", text) if t.strip() != ""]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        return [parse_attr(v, inner) for v in items]
    if attr_type == "int":
        if isinstance(value, bool):
            raise ValueParseError(f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            v = _token_number(value)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
            if isinstance(v, float) and v.is_integer():
                return int(v)
        raise ValueParseError(f"expected a whole number, got {value!r}")
    if attr_type == "float":
        if isinstance(value, bool):
            raise ValueParseError(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            v = _token_number(value)
            if not isinstance(v, (bool, complex)):
                return float(v)
        raise ValueParseError(f"expected a number, got {value!r}")
    if attr_type == "bool":
        return parse_bool(value)
    if attr_type == "string":
        if isinstance(value, str):
            return value
        raise ValueParseError(f"expected text, got {value!r}")
    if attr_type == "type":
        return parse_dtype(value)
    if attr_type == "shape":
        return parse_shape(value)
    if attr_type == "tensor":
        return parse_tensor(value)
    if attr_type == "func":
        if isinstance(value, str) and value:
            return value
        raise ValueParseError(f"expected a function name, got {value!r}")
    raise ValueParseError(f"attrs of type {attr_type} cannot be set from a pin")
