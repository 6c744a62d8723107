"""Results stored in a page file (``page.results``, as written by ``enuflow run --save-results``)
turned back into numpy arrays for display. Only JSON is read; nothing is evaluated."""

from __future__ import annotations

from typing import Any

import numpy as np

from enuflow.app.document.values import numpy_dtype


def _number(v: Any) -> Any:
    if v == "NaN":
        return float("nan")
    if v == "Infinity":
        return float("inf")
    if v == "-Infinity":
        return float("-inf")
    return v


def tensor_from_json(d: Any) -> np.ndarray | None:
    """One stored tensor {"dtype", "shape", "value" | "head"} as an array (None if unusable)."""
    if not isinstance(d, dict):
        return None
    value = d.get("value")
    if value is None and isinstance(d.get("head"), list):
        value = d["head"]  # a truncated tensor: show its first values
    if value is None:
        return None
    dtype = d.get("dtype")
    try:
        if dtype == "string":
            arr = np.array(value, dtype=object)
        else:
            conv = np.vectorize(_number, otypes=[object])(np.array(value, dtype=object)) \
                if np.ndim(value) else np.array(_number(value), dtype=object)
            try:
                dt = numpy_dtype(dtype) if isinstance(dtype, str) else None
            except Exception:  # noqa: BLE001 - unknown dtype names fall back to numpy's guess
                dt = None
            if isinstance(dt, type) and dt is not object:
                if np.issubdtype(dt, np.complexfloating) and conv.ndim >= 1 and conv.shape[-1:] == (2,):
                    conv = conv[..., 0].astype(float) + 1j * conv[..., 1].astype(float)
                arr = np.asarray(conv.tolist() if conv.ndim else conv.item(), dtype=dt)
            else:
                arr = np.asarray(conv.tolist() if conv.ndim else conv.item())
        shape = d.get("shape")
        if isinstance(shape, list) and not d.get("truncated") and int(np.prod(shape)) == arr.size:
            arr = arr.reshape(shape)
        return arr
    except (TypeError, ValueError, OverflowError):
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
