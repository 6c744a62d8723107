"""Filling a page's Placeholders from ``.npy`` files (``enuflow run PAGE --feed x=input.npy``).

``apply_feeds(page, specs)`` reads each file with ``numpy.load(..., allow_pickle=False)`` (plain arrays
only, never code) and puts the array into the Placeholder's ``value`` pin of the in-memory page (the
page file is not changed). Each problem comes back as a ``BuildError`` naming the block and the file.
"""

from __future__ import annotations

import zipfile
from typing import Any

import numpy as np

from enuflow.app.document.page import Page
from enuflow.app.document.values import ValueParseError, parse_dtype, parse_shape
from enuflow.app.engine.analysis import BuildError


def parse_spec(spec: str) -> tuple[str, str]:
    """``BLOCK=FILE.npy`` as (block, file); raises ValueError."""
    block, sep, path = spec.partition("=")
    if not sep or not block or not path:
        raise ValueError(f"--feed {spec!r}: expected BLOCK=FILE.npy")
    return block, path


def read_npy(path: str) -> np.ndarray:
    """The array in a .npy file (no pickled objects); raises ValueError with a readable reason."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot be read ({e})") from None
    except ValueError as e:
        raise ValueError(f"is not a plain .npy array ({e})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise ValueError("is an .npz archive; give one array as a .npy file")
    return arr


def apply_feeds(page: Page, specs: list[str]) -> list[BuildError]:
    """Put each fed array into its Placeholder's ``value`` pin; returns the problems (none: all fed)."""
    errors: list[BuildError] = []
    for spec in specs:
        try:
            block, path = parse_spec(spec)
        except ValueError as e:
            errors.append(BuildError(None, None, str(e)))
            continue
        b = page.get(block)
        if b is None:
            errors.append(BuildError(block, None, f"--feed {path}: there is no block '{block}' on the page"))
            continue
        if b.type != "Placeholder":
            errors.append(BuildError(block, "value", f"--feed {path}: '{block}' is a {b.type}, not a Placeholder"))
            continue
        try:
            arr = read_npy(path)
        except ValueError as e:
            errors.append(BuildError(block, "value", f"--feed {path}: {e}"))
            continue
        problem = _fits(b.pins, arr)
        if problem:
            errors.append(BuildError(block, "value", f"--feed {path}: {problem}"))
            continue
        if arr.dtype.kind in "US":  # text: the strings themselves, as a page holds them
            value: Any = {"dtype": "string", "shape": list(arr.shape), "value": _texts(arr)}
        else:
            value = {"dtype": _dtype_name(arr, b.pins), "shape": list(arr.shape), "value": arr}
        page.set_pin(block, "value", value)
    return errors


def _dtype_name(arr: np.ndarray, pins: dict[str, Any]) -> str:
    try:
        return parse_dtype(pins.get("dtype"))
    except ValueParseError:
        return str(arr.dtype)


def _texts(arr: np.ndarray) -> Any:
    """A text array (numpy's ``str`` or ``bytes``, from ``np.save``) as nested lists of str."""
    flat = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in arr.reshape(-1).tolist()]
    return flat[0] if arr.ndim == 0 else np.array(flat, dtype=object).reshape(arr.shape).tolist()


def _fits(pins: dict[str, Any], arr: np.ndarray) -> str | None:
    """Why ``arr`` cannot fill a Placeholder with these pins, or None."""
    if arr.dtype.kind not in "biufcUS":
        return f"holds {arr.dtype} values; a fed array must be numbers, booleans or text"
    try:
        want = parse_dtype(pins.get("dtype")) if pins.get("dtype") not in (None, "") else None
        shape = parse_shape(pins.get("shape")) if pins.get("shape") not in (None, "") else None
    except ValueParseError:
        return None  # the page's own pins are at fault; the analysis reports them
    if arr.dtype.kind in "US":
        if want not in (None, "string"):
            return f"holds text, which does not fit the Placeholder's dtype {want}"
    elif want == "string":
        return f"holds {arr.dtype} values; the Placeholder's dtype is string (give text: numpy's str or bytes)"
    elif want is not None and want != str(arr.dtype):
        from enuflow.app.document.values import numpy_dtype

        target = np.dtype(numpy_dtype(want))
        lossless = np.can_cast(arr.dtype, target, casting="safe") or (arr.dtype.kind == "f" and target.kind == "f")
        if not lossless and not np.array_equal(arr.astype(target).astype(arr.dtype), arr):
            return f"holds {arr.dtype} values, which do not fit the Placeholder's dtype {want}"
    if shape is not None and (len(shape) != arr.ndim or any(d is not None and d != s for d, s in zip(shape, arr.shape))):
        dims = "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
        return f"has shape {list(arr.shape)}, which does not fit the Placeholder's shape {dims}"
    return None
