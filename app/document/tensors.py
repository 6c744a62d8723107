"""Result tensors as JSON and as text: the one encoding `enuflow run --json`, `--save-results`, the worker and
the editor share.

Every dtype TensorFlow hands back has a JSON form (``tensor_json``) and reads back (``tensor_from_json``):

- numbers: JSON numbers; NaN and infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
  float16, bfloat16 and float8 values as JSON numbers (their exact value, widened to float64).
- bool: ``true``/``false``; every integer type (also uint64 and TensorFlow's quantized ones): JSON integers.
- complex: ``[re, im]`` pairs (``dtype`` says it is complex).
- string: JSON strings decoded as UTF-8. A tensor holding any element that is not valid UTF-8 gives every
  element escaped as Python writes a bytes literal (``\\xff``, ``\\n``, ``\\\\``) and says ``"escaped": true``.
- resource and variant handles (which have no value to show): ``"value": null, "handle": true``.
- empty tensors: ``"value": []`` (nested to their shape's leading axes), with their ``shape``.

Large results (``result_json``): one of more than ``SUMMARY_LIMIT`` elements that the ClientSession does not fetch is
``{"dtype", "shape", "summary"}`` (``tensor_summary``: min, max, mean, NaN and infinity counts, by numpy reductions);
one of more than ``JSON_FULL_LIMIT`` elements that it fetches gives its first values in ``"head"`` with
``"truncated": true`` (and its ``"summary"``); ``whole=True`` writes every value in full.

No TensorFlow, no Qt: this module is numpy only.
"""

from __future__ import annotations

import codecs
import functools
import math
from typing import Any

import numpy as np

#: tensors with more elements than this are summarised ("head" and "truncated") in JSON
JSON_FULL_LIMIT = 100_000
#: results with more elements than this that the ClientSession does not fetch are written as a "summary" in JSON
SUMMARY_LIMIT = 1_000


class Handle:
    """A resource or variant tensor in the results: it ran, but a handle has no value to show."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def __str__(self) -> str:
        return f"<{self.dtype} handle>"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("Handle", self.dtype))


def handle_array(dtype: str, shape: tuple[int, ...] = ()) -> np.ndarray:
    """An object array of ``Handle(dtype)`` of ``shape``."""
    arr = np.empty(shape, dtype=object)
    arr.fill(Handle(dtype))
    return arr


def handle_kind(arr: np.ndarray) -> str | None:
    """"resource" or "variant" when ``arr`` holds handles, else None."""
    if arr.dtype.kind == "O" and arr.size:
        first = arr.reshape(-1)[0]
        if isinstance(first, Handle):
            return first.dtype
    return None


def dtype_name(arr: np.ndarray) -> str:
    """The dtype to show: TensorFlow's names ("string", "bfloat16", "resource"), numpy's otherwise."""
    h = handle_kind(arr)
    if h:
        return h
    return "string" if arr.dtype.kind in "OSU" else _numpy_name(arr.dtype)


@functools.lru_cache(maxsize=256)
def _numpy_name(dt: np.dtype) -> str:
    return str(dt)  # numpy builds this text anew each time: a tenth of a millisecond, thousands of results a run


def bytes_text(b: Any) -> str:
    """A string element as text: UTF-8 decoded, or escaped like a bytes literal when it is not UTF-8."""
    if isinstance(b, str):
        return b
    if isinstance(b, (bytes, np.bytes_)):
        try:
            return bytes(b).decode("utf-8")
        except UnicodeDecodeError:
            return escape_bytes(bytes(b))
    return str(b)


def escape_bytes(b: bytes) -> str:
    """``b`` as ASCII text with backslash escapes (reversible with ``unescape_bytes``)."""
    return codecs.escape_encode(b)[0].decode("ascii")  # type: ignore[attr-defined]


def unescape_bytes(s: str) -> bytes:
    return codecs.escape_decode(s.encode("ascii", "backslashreplace"))[0]  # type: ignore[attr-defined]


# -- JSON -------------------------------------------------------------------------------------------

def _float(f: float) -> Any:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return f


def _number(v: Any) -> Any:
    if v == "NaN":
        return float("nan")
    if v == "Infinity":
        return float("inf")
    if v == "-Infinity":
        return float("-inf")
    return v


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    out = np.empty(len(flat), dtype=object)
    out[:] = flat if flat else []
    return out.reshape(shape).tolist() if len(shape) else flat[0]


def _strings(arr: np.ndarray) -> tuple[Any, bool]:
    """(JSON value, escaped) for a string tensor."""
    flat = arr.reshape(-1).tolist()
    raw = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in flat]
    try:
        texts = [x.decode("utf-8") for x in raw]
        escaped = False
    except UnicodeDecodeError:
        texts = [escape_bytes(x) for x in raw]
        escaped = True
    return _nest(texts, arr.shape), escaped


def _json_value(arr: np.ndarray) -> Any:
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.tolist()
    finite = kind in "fc" and bool(np.isfinite(arr).all())  # the usual case: numpy's tolist, no loop in Python
    if kind == "f":
        return arr.tolist() if finite else _nest([_float(x) for x in arr.reshape(-1).tolist()], arr.shape)
    if kind == "c":
        if finite:
            return np.stack([arr.real, arr.imag], axis=-1).tolist()
        return _nest([[_float(x.real), _float(x.imag)] for x in arr.reshape(-1).tolist()], arr.shape)
    if kind == "V":  # bfloat16, float8 (ml_dtypes), or a structured dtype: as float64 where numpy can
        try:
            wide = arr.astype(np.float64)
        except (TypeError, ValueError):
            return _nest([str(x) for x in arr.reshape(-1).tolist()], arr.shape)
        return _json_value(wide)
    return _nest([bytes_text(x) for x in arr.reshape(-1).tolist()], arr.shape)


def tensor_json(arr: Any, limit: int | None = JSON_FULL_LIMIT, summary: bool = False) -> dict[str, Any]:
    """{"dtype", "shape", "value"} for one result; over ``limit`` elements (None: no limit) "head" + "truncated"
    (and "summary" when ``summary``); see the module doc."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    d: dict[str, Any] = {"dtype": dtype_name(a), "shape": list(a.shape)}
    if handle_kind(a):
        d["value"] = None
        d["handle"] = True
        return d
    part = a
    if limit is not None and a.size > limit:
        d["value"] = None
        d["truncated"] = True
        if summary:
            d["summary"] = tensor_summary(a)
        part = a.reshape(-1)[:100]
    if a.dtype.kind in "OSU":
        value, escaped = _strings(part)
        if escaped:
            d["escaped"] = True
    else:
        value = _json_value(part)
    d["head" if part is not a else "value"] = value
    return d


def result_json(arr: Any, fetched: bool, whole: bool = False) -> dict[str, Any]:
    """One result as ``enuflow run --json`` writes it: ``{"dtype", "shape", "summary"}`` when it has more than
    ``SUMMARY_LIMIT`` elements and the ClientSession does not fetch it (``fetched``), else ``tensor_json``'s form
    ("head" and "truncated" over ``JSON_FULL_LIMIT``); ``whole``: every value, whatever the size."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    if whole:
        return tensor_json(a, limit=None)
    if not fetched and a.size > SUMMARY_LIMIT and not handle_kind(a):
        return {"dtype": dtype_name(a), "shape": list(a.shape), "summary": tensor_summary(a)}
    return tensor_json(a, summary=True)


def results_json(values: dict[tuple[str, str], Any], limit: int | None = JSON_FULL_LIMIT,
                 fetched: Any = None, whole: bool = False) -> dict[str, Any]:
    """{block: {port: tensor_json}} for a run's results. With ``fetched`` (the set of (block, port) the
    ClientSession fetches; empty for a page without one) or ``whole``, each is ``result_json``'s form instead."""
    out: dict[str, dict[str, Any]] = {}
    for (block, port), arr in values.items():
        if fetched is None and not whole:
            out.setdefault(block, {})[port] = tensor_json(arr, limit)
        else:
            out.setdefault(block, {})[port] = result_json(arr, (block, port) in (fetched or ()), whole)
    return out


# -- summaries of large results ---------------------------------------------------------------------

def _reducible(a: np.ndarray) -> np.ndarray | None:
    """``a`` as an array numpy's reductions take (bfloat16, float8 widened; a quantized type's integers), or None
    (strings, handles, structures of several fields)."""
    kind = a.dtype.kind
    if kind in "biufc":
        return a
    if kind == "V":
        if a.dtype.fields is not None:
            names = a.dtype.names or ()
            return _reducible(a[names[0]]) if len(names) == 1 else None
        try:
            return a.astype(np.float64)
        except (TypeError, ValueError):
            return None
    return None


def _scalar(x: Any) -> Any:
    """A reduction's result as a JSON value (NaN and infinities as strings; complex as [re, im])."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (complex, np.complexfloating)):
        return [_float(float(x.real)), _float(float(x.imag))]
    f = float(x)
    return None if math.isnan(f) else _float(f)


def tensor_summary(arr: Any) -> dict[str, Any]:
    """{"min", "max", "mean", "nan", "inf"} of a result, by numpy reductions (no loop over elements in Python).

    ``min`` and ``max`` leave NaN out (an infinity is one: "Infinity"/"-Infinity"); ``mean`` is that of the
    finite elements, in float64; ``nan`` and ``inf`` count elements. null where there is nothing to reduce
    (every element NaN). bool: min/max as true/false, mean the fraction true. complex: ``mean`` as [re, im],
    min and max null (no order). Strings: min, max, mean null, and ``"empty"``: how many are ""."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    out: dict[str, Any] = {"min": None, "max": None, "mean": None, "nan": 0, "inf": 0}
    num = _reducible(a)
    if num is None:
        if a.dtype.kind in "OSU" and not handle_kind(a):
            out["empty"] = int(np.count_nonzero((a == b"") | (a == ""))) if a.dtype.kind == "O" else \
                int(np.count_nonzero(a == a.dtype.type()))
        return out
    if num.size == 0:
        return out
    finite = num
    if num.dtype.kind in "fc":
        nan_at = np.isnan(num)
        out["nan"] = int(np.count_nonzero(nan_at))
        out["inf"] = int(np.count_nonzero(np.isinf(num)))
        if out["nan"] or out["inf"]:
            finite = num[~nan_at & ~np.isinf(num)]
    if num.dtype.kind != "c":
        lo, hi = (num.min(), num.max()) if finite is num else (np.fmin.reduce(num, axis=None),
                                                                 np.fmax.reduce(num, axis=None))
        out["min"], out["max"] = _scalar(lo), _scalar(hi)
    if finite.size:
        out["mean"] = _scalar(finite.mean(dtype=np.complex128 if num.dtype.kind == "c" else np.float64))
    return out


def tensor_from_json(d: Any) -> np.ndarray | None:
    """One stored tensor {"dtype", "shape", "value" | "head"} as an array (None if unusable)."""
    from enuflow.app.document.values import numpy_dtype

    if not isinstance(d, dict):
        return None
    dtype = d.get("dtype")
    shape = d.get("shape")
    if d.get("handle"):
        ok = isinstance(shape, list) and all(isinstance(x, int) and x >= 0 for x in shape)
        return handle_array(str(dtype), tuple(shape) if ok else ())
    value = d.get("value")
    if value is None and isinstance(d.get("head"), list):
        value = d["head"]  # a truncated tensor: show its first values
    if value is None:
        return None
    try:
        if dtype == "string":
            arr = np.array(value, dtype=object)
            if d.get("escaped"):
                flat = [unescape_bytes(x) if isinstance(x, str) else x for x in arr.reshape(-1).tolist()]
                arr = _nest_array(flat, arr.shape)
            else:
                flat = [x.encode("utf-8") if isinstance(x, str) else x for x in arr.reshape(-1).tolist()]
                arr = _nest_array(flat, arr.shape)
        else:
            conv = np.vectorize(_number, otypes=[object])(np.array(value, dtype=object)) \
                if np.ndim(value) and np.size(value) else np.array(value if np.ndim(value) else _number(value),
                                                                   dtype=object)
            try:
                dt = np.dtype(numpy_dtype(dtype)) if isinstance(dtype, str) else None
            except Exception:  # noqa: BLE001 - unknown dtype names fall back to numpy's guess
                dt = _extension_dtype(dtype)
            if dt is not None and dt.kind == "c" and conv.ndim >= 1 and conv.shape[-1:] == (2,):
                conv = conv[..., 0].astype(float) + 1j * conv[..., 1].astype(float)
            if dt is not None and dt.kind != "O":
                arr = np.asarray(conv.tolist() if conv.ndim else conv.item(), dtype=dt)
            else:
                arr = np.asarray(conv.tolist() if conv.ndim else conv.item())
        if isinstance(shape, list) and not d.get("truncated") and int(np.prod(shape)) == arr.size:
            arr = arr.reshape(shape)
        return arr
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return None


def _nest_array(flat: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(len(flat), dtype=object)
    out[:] = flat if flat else []
    return out.reshape(shape)


def _extension_dtype(name: Any) -> np.dtype | None:
    """bfloat16, float8_* and other ml_dtypes types by name (ml_dtypes comes with TensorFlow)."""
    if not isinstance(name, str):
        return None
    try:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))
    except (ImportError, AttributeError, TypeError):
        return None


def results_from_json(results: Any) -> dict[tuple[str, str], np.ndarray]:
    """{(block, port): array} from a page's stored ``results`` {block: {port: tensor}}."""
    out: dict[tuple[str, str], np.ndarray] = {}
    if not isinstance(results, dict):
        return out
    for bid, ports in results.items():
        if not isinstance(ports, dict):
            continue
        for port, d in ports.items():
            arr = tensor_from_json(d)
            if arr is not None:
                out[(str(bid), str(port))] = arr
    return out


# -- text -------------------------------------------------------------------------------------------

def cell_text(v: Any) -> str:
    """One element as the editor's table and the command line show it."""
    if isinstance(v, (bytes, np.bytes_, str)):
        return bytes_text(v)
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{complex(v):.6g}"
    if isinstance(v, (float, np.floating)) or type(v).__module__ == "ml_dtypes":
        try:
            return f"{float(v):.6g}"
        except (TypeError, ValueError):
            return str(v)
    return str(v)


#: the table shows at most this many characters of one string element, and this many lines of one result
CELL_CHARS = 200
TABLE_LINES = 40


def _clip(text: str) -> str:
    return text if len(text) <= CELL_CHARS else f"{text[:CELL_CHARS]}... ({len(text):,} characters)"


def format_tensor(arr: Any) -> str:
    """A readable one- or few-line rendering of a result (large tensors summarised, long strings clipped)."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    if a.dtype.kind in "OSU" or a.dtype.kind == "V":
        if a.ndim == 0:
            return _clip(cell_text(a.item() if a.dtype.kind != "V" else a[()]))
        if a.dtype.kind == "V":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError):
                a = np.vectorize(str, otypes=[object])(a) if a.size else a.astype(object)
        elif a.dtype.kind in "SU":
            a = a.astype(object)
    # strings are quoted as they are, not as Python's repr (which would double every backslash of an escape);
    # numpy calls the formatter only for the elements it shows
    fmt = {"object": lambda x: f"'{_clip(cell_text(x))}'"} if a.dtype.kind == "O" else None
    with np.printoptions(threshold=24, edgeitems=3, linewidth=100, precision=6, suppress=True):
        return np.array2string(a, separator=" ", formatter=fmt) if a.ndim else str(a.item())


def summary_text(arr: Any) -> str:
    """``tensor_summary`` in one line: "min -1.5 max 2 mean 0.25" (and "(3 NaN, 1 inf)" when there are some)."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    s = tensor_summary(a)
    if "empty" in s:
        return f"{a.size:,} strings, {s['empty']:,} empty"
    words = []
    for key in ("min", "max", "mean"):
        v = s[key]
        if v is not None:
            words.append(f"{key} {_summary_number(v)}")
    odd = [f"{s[k]:,} {'NaN' if k == 'nan' else 'inf'}" for k in ("nan", "inf") if s[k]]
    if odd:
        words.append(f"({', '.join(odd)})")
    return " ".join(words) if words else "(no value)"


def _summary_number(v: Any) -> str:
    if isinstance(v, list):  # complex [re, im]
        return cell_text(complex(_number(v[0]), _number(v[1])))
    return cell_text(_number(v))


def format_results(page: Any, values: dict[tuple[str, str], Any], fetched: Any = None) -> str:
    """Readable tables: one section per block (in page order), one row per output. With ``fetched`` (the
    (block, port) the ClientSession fetches; empty for a page without one), any other result of more than
    ``SUMMARY_LIMIT`` elements is one line of ``summary_text``; no result takes more than ``TABLE_LINES`` lines."""
    lines = []
    by_block: dict[str, list[tuple[str, Any]]] = {}
    for (b, p), v in values.items():
        by_block.setdefault(b, []).append((p, v))
    if not by_block:
        return "(no results)"
    for b in page:
        rows = by_block.get(b.id)
        if not rows:
            continue
        title = b.id if not b.label or b.label == b.id else f"{b.id} ({b.label})"
        lines.append(f"{title}  [{b.type}]")
        width = max(len(p) for p, _ in rows)
        for p, v in rows:
            a = v if isinstance(v, np.ndarray) else np.asarray(v)
            head = f"  {p.ljust(width)}  {dtype_name(a)} {list(a.shape)}"
            brief = fetched is not None and (b.id, p) not in fetched and a.size > SUMMARY_LIMIT \
                and not handle_kind(a)
            body = summary_text(a) if brief else format_tensor(a)
            if "\n" in body:
                lines.append(head)
                body_lines = body.splitlines()
                lines.extend("      " + ln for ln in body_lines[:TABLE_LINES])
                if len(body_lines) > TABLE_LINES:
                    lines.append(f"      ... ({len(body_lines) - TABLE_LINES:,} more lines)")
            else:
                lines.append(f"{head}  {body}")
        lines.append("")
    return "\n".join(lines).rstrip()
