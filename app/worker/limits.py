"""The limits a run works within: the size of a page's literal values, and run time-outs.

``literal_sizes(page)`` estimates, without allocating anything, how many bytes the tensors typed into a
page's pins will take once parsed (a Const whose single value fills the shape [11585][11585] as float64
is 1 GiB, though its pin is one number). ``check_literals`` turns a total over the limit into errors
before anything is built: parsing such a page would take minutes and end in a MemoryError.
The limit is ``DEFAULT_LITERAL_LIMIT_MB``, or ``$ENUFLOW_MAX_LITERAL_MB``, or ``enuflow run --max-literal-mb``.
The worker's memory is capped by ``$ENUFLOW_WORKER_MAX_MEMORY_MB`` (``enuflow run --max-memory-mb``);
``memory_words`` says in words that it ran out.

Imports neither TensorFlow nor Qt (the command line checks a page before its worker has TensorFlow loaded).
"""

from __future__ import annotations

import os
from typing import Any

from enuflow.app.document.values import ValueParseError, element_count, numpy_dtype, parse_dtype, parse_shape

#: the page's literal values may take this many MiB in all, unless raised
DEFAULT_LITERAL_LIMIT_MB = 2048
LITERAL_LIMIT_ENV = "ENUFLOW_MAX_LITERAL_MB"
#: a run on a remote target (--target) that has not connected after this many seconds gives up
CONNECT_TIMEOUT_S = 30.0
#: a run with a timeout ends on its own (after a full last step, or a step TensorFlow aborts at the timeout);
#: the caller kills a worker that has not ended after twice the timeout and this many seconds more
KILL_GRACE_S = 5.0
#: caps the worker's address space at this many MiB beyond what it holds once TensorFlow is loaded
MEMORY_LIMIT_ENV = "ENUFLOW_WORKER_MAX_MEMORY_MB"
_MIB = 1 << 20


def literal_limit_bytes(mb: float | None = None) -> int:
    """The limit in bytes: ``mb`` when given, else ``$ENUFLOW_MAX_LITERAL_MB``, else the default.

    Raises ValueError for a limit that is not a positive number.
    """
    if mb is None:
        text = os.environ.get(LITERAL_LIMIT_ENV, "").strip()
        if not text:
            return DEFAULT_LITERAL_LIMIT_MB * _MIB
        try:
            mb = float(text)
        except ValueError:
            raise ValueError(f"${LITERAL_LIMIT_ENV} must be a number of MiB, got {text!r}") from None
    if not mb > 0:
        raise ValueError(f"the literal limit must be a positive number of MiB, got {mb}")
    return int(mb * _MIB)


def _itemsize(dtype: Any, sample: Any) -> int:
    if dtype not in (None, ""):
        try:
            name = parse_dtype(dtype)
            if name == "string":
                return 0  # counted by text length instead
            import numpy as np

            return int(np.dtype(numpy_dtype(name)).itemsize)
        except (ValueParseError, TypeError):
            pass
    if isinstance(sample, complex):
        return 16
    return 8  # unknown: the widest common element, so the estimate is never low for numbers


def _count(value: Any) -> tuple[int, int]:
    """(elements, bytes of text) of a raw pin value, by walking it; nothing is parsed or allocated."""
    if isinstance(value, dict) and "value" in value:
        inner, text = _count(value["value"])
        try:
            shape = parse_shape(value.get("shape"))
        except ValueParseError:
            shape = None
        if shape is not None and all(d is not None for d in shape):
            return max(inner, element_count(shape)), text
        return inner, text
    if isinstance(value, (list, tuple)):
        n = t = 0
        stack = [value]
        while stack:
            items = stack.pop()
            for x in items:
                if isinstance(x, (list, tuple)):
                    stack.append(x)
                else:
                    n += 1
                    if isinstance(x, str):
                        t += len(x)
        return n, t
    if isinstance(value, str):
        return value.count(",") + value.count(";") + 1, len(value)
    return 1, 0


def literal_sizes(page: Any) -> list[tuple[str, str, int]]:
    """``(block, pin, bytes)`` for each pin of ``page`` that holds a tensor value, estimated from its
    dtype, shape and text without parsing it."""
    from enuflow.blocks.base import REGISTRY  # hand-declared blocks only: no TensorFlow

    out = []
    for b in page:
        decl = REGISTRY.hand.get(b.type)
        values = {a.name: a for a in decl.attrs if a.type == "value"} if decl is not None else {}
        skip = {n for a in values.values() for n in (a.dtype_pin, a.shape_pin) if n}
        for name, raw in b.pins.items():
            if name.startswith("result_") or name in skip or raw is None or isinstance(raw, bool):
                continue
            if decl is not None and name not in values:
                continue  # an attr or a declared input of a hand-made block: small by construction
            n, text = _count(raw)
            a = values.get(name)
            dtype = b.pins.get(a.dtype_pin) if a is not None and a.dtype_pin else b.pins.get("dtype")
            if a is not None and a.shape_pin and decl.name != "Placeholder" and n == 1:
                try:
                    shape = parse_shape(b.pins.get(a.shape_pin)) if b.pins.get(a.shape_pin) not in (None, "") \
                        else None
                except ValueParseError:
                    shape = None
                if shape is not None and all(d is not None for d in shape):
                    n = element_count(shape)  # one value fills the shape
                    text *= n
            size = _itemsize(dtype, raw) * n + text
            if size >= _MIB:
                out.append((b.id, name, size))
    return out


def check_literals(page: Any, limit: int) -> list[dict[str, Any]]:
    """Errors (``{"block", "port", "message"}``) when the page's literal values exceed ``limit`` bytes,
    one per large pin, largest first; [] when they fit."""
    sizes = literal_sizes(page)
    total = sum(s for _, _, s in sizes)
    if total <= limit:
        return []
    sizes.sort(key=lambda r: -r[2])
    how = (f"the page's literal values take about {_mib(total)} in all, more than the limit of {_mib(limit)}; "
           f"raise it with --max-literal-mb or ${LITERAL_LIMIT_ENV}, or make large tensors with ops (Fill, Zeros)")
    return [{"block": bid, "port": pin, "message": f"pin '{pin}' holds about {_mib(size)}: {how}"}
            for bid, pin, size in sizes]


def _mib(n: int) -> str:
    return f"{n / _MIB:,.0f} MiB" if n < 10 * (1 << 30) else f"{n / (1 << 30):,.1f} GiB"


def memory_limit_mb(env: dict[str, str] | None = None) -> float | None:
    """The worker's memory limit in MiB (``$ENUFLOW_WORKER_MAX_MEMORY_MB`` in ``env``, else in this process's
    environment), or None for no limit."""
    text = (env or {}).get(MEMORY_LIMIT_ENV) or os.environ.get(MEMORY_LIMIT_ENV, "")
    try:
        mb = float(str(text).strip())
    except ValueError:
        return None
    return mb if mb > 0 else None


def memory_words(limit_mb: float | None) -> str:
    """"the worker ran out of memory (limit N MiB)", or "(the machine's memory)" without a limit."""
    return "the worker ran out of memory " + (f"(limit {limit_mb:g} MiB)" if limit_mb else "(the machine's memory)")
