"""A run's results as ``.npy`` files, one per output: what ``enuflow run --save-results DIR`` writes.

Each result ``(block, port)`` becomes ``DIR/BLOCK.PORT.npy`` (``np.save``, ``allow_pickle=False``; read it back
with ``np.load(path, allow_pickle=False)``). Block ids may hold characters a file name cannot (``/`` in composite
paths, ``.``, ``:``, spaces, non-ASCII), so both names are escaped, reversibly: every character other than ASCII
letters, digits, ``_``, ``-`` and ``~`` becomes ``%XX`` for each byte of its UTF-8 form (``d1/mm`` ->
``d1%2Fmm``, ``a.b`` -> ``a%2Eb``). The one ``.`` left between the two names is therefore the separator, and
``urllib.parse.unquote`` (``result_key``) gives the names back.

Values as TensorFlow returns them, except where ``.npy`` has no type for them: bfloat16 and float8 are written
as float32 (exactly), strings as fixed-width bytes (``S``; numpy drops trailing NUL bytes of each element), and
resource and variant handles, which have no value, are not written. Each file is written to a temporary name
in DIR, then renamed (``os.replace``), so a file is never seen half-written.

Numpy only: no TensorFlow, no Qt.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from enuflow.app.document.tensors import handle_kind
from enuflow.blocks import atomic


def escape_name(name: str) -> str:
    """``name`` with every character but ASCII letters, digits, ``_``, ``-`` and ``~`` as ``%XX`` (UTF-8 bytes)."""
    return quote(name, safe="").replace(".", "%2E")


def result_file_name(block: str, port: str) -> str:
    """``BLOCK.PORT.npy`` with both names escaped (``escape_name``)."""
    return f"{escape_name(block)}.{escape_name(port)}.npy"


def result_key(file_name: str) -> tuple[str, str]:
    """(block, port) of a file name made by ``result_file_name``; raises ValueError for any other name."""
    stem = file_name[:-4] if file_name.endswith(".npy") else ""
    parts = stem.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"not a result file name (BLOCK.PORT.npy): {file_name!r}")
    return unquote(parts[0], errors="strict"), unquote(parts[1], errors="strict")


def npy_array(arr: Any) -> np.ndarray | None:
    """``arr`` as ``np.save`` can write it without pickle (see the module doc), or None for handles."""
    a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
    if handle_kind(a):
        return None
    if a.dtype.kind == "O":
        flat = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in a.reshape(-1).tolist()]
        return np.array(flat, dtype=np.bytes_).reshape(a.shape) if flat else np.empty(a.shape, dtype="S1")
    if a.dtype.kind == "V" and a.dtype.fields is None:  # ml_dtypes' bfloat16, float8: .npy cannot name them
        try:
            return a.astype(np.float32)
        except (TypeError, ValueError):
            return a
    return a


def prepare_dir(folder: str | Path) -> str | None:
    """Make ``folder`` (and its parents) if missing; None when results can be written there, else the problem."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"cannot write results to {folder}: {e.strerror or e}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"cannot write results to {folder}: permission denied"
    return None


def write_result(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` to ``path`` atomically (``blocks.atomic.replace``: a temporary file beside it, then
    ``os.replace``); raises OSError."""
    atomic.replace(path, lambda f: np.save(f, arr, allow_pickle=False))


def save_results(values: dict[tuple[str, str], Any], folder: str | Path) -> list[dict[str, Any]]:
    """Write every result in ``values`` as ``folder/BLOCK.PORT.npy``; returns the errors (``{"block", "port",
    "message"}``, each naming the file), empty when all were written. The folder is made if missing."""
    problem = prepare_dir(folder)
    if problem:
        return [{"block": None, "port": None, "message": problem}]
    errors = []
    for (block, port), arr in values.items():
        out = npy_array(arr)
        if out is None:
            continue
        path = Path(folder) / result_file_name(block, port)
        try:
            write_result(path, out)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            errors.append({"block": block, "port": port, "message": f"cannot write {path}: {why}"})
    return errors
