"""A page's data file: large tensors (an imported model's weights) kept beside the page in an ``.npz``.

Page format v1 is extended by adding two optional things:

- the top-level field ``"data"``: the data file's name, relative to the page's folder (an absolute path
  is accepted too; the worker and the recovery file get one, since they do not live beside the page);
- a pin value ``{"dtype": ..., "shape": [...], "data": KEY}``: the tensor stored under ``KEY`` in it.

The file is read with ``numpy.load(..., allow_pickle=False)``, so it can hold only plain arrays, never
code. A file's arrays are read together when the first is asked for, once per file version. Saving a page elsewhere (Save As to another folder,
``--save-results``) copies the data file beside the new page (see ``native.save``). Blocks pasted from
another page bring their values along (``carry``): small ones inline, the others into a new data file
for the page that holds its own entries and theirs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document.values import ValueParseError

#: the page field naming the data file
FIELD = "data"
#: tensors of at most this many plain numbers are written into the page itself, not into its data file
INLINE_LIMIT = 16

_lock = threading.Lock()
#: data file -> (its (mtime, size), its arrays, entries that cannot be read -> why)
_open: dict[str, tuple[tuple[int, int], dict[str, np.ndarray], dict[str, str]]] = {}


def is_ref(value: Any) -> bool:
    """True for a pin value that names an entry of the page's data file."""
    return isinstance(value, dict) and isinstance(value.get(FIELD), str)


def data_name(page_path: str | Path) -> str:
    """The data file name that goes beside ``page_path`` (``model.json`` -> ``model.npz``)."""
    return Path(page_path).stem + ".npz"


def read_array(data_path: str | None, key: str) -> np.ndarray:
    """The array stored under ``key`` in the data file ``data_path``; raises ValueParseError naming the file."""
    if not data_path:
        raise ValueParseError(f"names data entry '{key}', but the page has no data file (field 'data')")
    p = os.path.abspath(data_path)
    try:
        st = os.stat(p)
    except OSError:
        raise ValueParseError(f"names data entry '{key}' in {p}, which does not exist") from None
    stamp = (st.st_mtime_ns, st.st_size)
    with _lock:
        entry = _open.get(p)
        if entry is None or entry[0] != stamp:
            try:
                entry = (stamp, *_read_all(p))
            except (OSError, ValueError, zipfile.BadZipFile) as e:
                raise ValueParseError(f"data file {p} cannot be read as an .npz ({e})") from None
            _open[p] = entry
        _, arrays, problems = entry
        arr = arrays.get(key)
        if arr is None:
            if key in problems:
                raise ValueParseError(f"data entry '{key}' in {p} cannot be read ({problems[key]})")
            raise ValueParseError(f"data entry '{key}' is not in {p}")
    return arr


_NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (False|True), 'shape': \(([\d, ]*)\), \}")


def _read_all(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every array of an .npz, read in one pass (an imported model's data file holds hundreds of small
    weights: opening each entry through ``numpy.load`` cost about a millisecond apiece); entries that cannot
    be read as plain arrays are listed with the reason. Raises OSError or zipfile.BadZipFile for the file."""
    with open(path, "rb") as f:
        data = f.read()
    arrays: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            key = info.filename.removesuffix(".npy")
            try:
                arr = _stored_npy(data, info) if info.compress_type == zipfile.ZIP_STORED else None
                if arr is None:
                    with z.open(info) as member:
                        arr = np.lib.format.read_array(member, allow_pickle=False)
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
                problems[key] = str(e)
                continue
            arrays[key] = arr
    return arrays, problems


def _stored_npy(data: bytes, info: zipfile.ZipInfo) -> np.ndarray | None:
    """The array of an uncompressed .npy entry, read straight from the file's bytes when its header is in
    numpy's usual form (None otherwise: numpy's own reader takes it)."""
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    if data[start:start + 6] != b"\x93NUMPY":
        return None
    major = data[start + 6]
    if major == 1:
        (hlen,), hstart = struct.unpack_from("<H", data, start + 8), start + 10
    elif major in (2, 3):
        (hlen,), hstart = struct.unpack_from("<I", data, start + 8), start + 12
    else:
        return None
    m = _NPY_HEADER.match(data[hstart:hstart + hlen].decode("latin1"))
    if m is None:
        return None
    dtype = np.dtype(m.group(1))
    if dtype.hasobject:
        raise ValueError("holds Python objects, which are never read (allow_pickle=False)")
    shape = tuple(int(d) for d in m.group(3).replace(" ", "").split(",") if d)
    count = int(np.prod(shape, dtype=np.int64))
    body = hstart + hlen
    if body + count * dtype.itemsize > start + info.file_size:
        raise ValueError("is shorter than its header says")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=body)
    return arr.reshape(shape, order="F" if m.group(2) == "True" else "C").copy()


def resolve(data_path: str | None, value: dict[str, Any]) -> np.ndarray:
    """The array a data reference names, checked against its own dtype and shape; raises ValueParseError."""
    arr = read_array(data_path, value[FIELD])
    want = value.get("shape")
    if isinstance(want, list) and list(arr.shape) != [int(d) for d in want if isinstance(d, (int, float))]:
        raise ValueParseError(f"data entry '{value[FIELD]}' has shape {list(arr.shape)}, but the pin says {want}")
    dt = value.get("dtype")
    if isinstance(dt, str) and dt and str(arr.dtype) != dt:
        from enuflow.app.document.values import numpy_dtype, parse_dtype

        arr = arr.astype(numpy_dtype(parse_dtype(dt)))
    return arr


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed .npz, atomically (temporary file + os.replace)."""
    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            for key, arr in arrays.items():
                with z.open(key + ".npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, np.asanyarray(arr), allow_pickle=False)

    _atomic(Path(path), write)


def copy_file(src: str | Path, dst: str | Path) -> None:
    """Copy a data file to ``dst`` atomically; raises OSError."""
    def write(f: Any) -> None:
        with open(src, "rb") as s:
            shutil.copyfileobj(s, f, 1 << 20)

    _atomic(Path(dst), write)


def _atomic(target: Path, write: Any) -> None:
    # the one atomic-write mechanism of the document layer (imported here: formats.native imports this module)
    from enuflow.app.document.formats.native import replace_atomically

    replace_atomically(target, write)


def inline_value(arr: np.ndarray) -> Any:
    """A typed pin value ``{"dtype", "shape", "value"}`` holding ``arr`` in the page itself, or None when ``arr``
    belongs in a data file (more than INLINE_LIMIT values, not plain numbers, or not finite)."""
    if not (0 < arr.size <= INLINE_LIMIT) or arr.dtype.kind not in "biuf" or \
            (arr.dtype.kind == "f" and not bool(np.isfinite(arr).all())):
        return None
    return {"dtype": str(arr.dtype), "shape": list(arr.shape), "value": arr.tolist()}


def carry(pins: list[dict[str, Any]], source: str | None, target: str | None,
          scratch: str | Path) -> tuple[str | None, list[str]]:
    """Make data references in ``pins`` (the pins of blocks pasted into a page whose data file is ``target``)
    name values that page can read; the references named entries of ``source`` (the copied page's file).

    Small values become inline typed values; the others go, with every entry of ``target``, into a new data
    file in the folder ``scratch`` (``target`` itself is never changed: the page it belongs to is saved as it
    was until the person saves), under their own key or, when ``target`` already uses it, a fresh one.
    ``pins`` are changed in place. Returns (the page's new data file, or None when it keeps ``target``; a
    message for each value that could not be carried: its reference stays, and the run names it).
    """
    refs = [(p, name) for p in pins for name, value in p.items() if is_ref(value)]
    if not refs:
        return None, []
    if source and target and os.path.abspath(source) == os.path.abspath(target):
        return None, []
    problems: list[str] = []
    taken: set[str] = set()
    if target:
        try:
            with zipfile.ZipFile(target) as z:
                taken = {n.removesuffix(".npy") for n in z.namelist()}
        except (OSError, zipfile.BadZipFile) as e:
            return None, [f"the page's data file {target} cannot be read ({e})"]
    added: dict[str, np.ndarray] = {}
    for p, name in refs:
        ref = p[name]
        try:
            arr = resolve(source, ref)
        except ValueParseError as e:
            problems.append(f"pin '{name}': {e}")
            continue
        small = inline_value(arr)
        if small is not None:
            p[name] = small
            continue
        key = str(ref[FIELD])
        if key in taken or key in added:
            base, i = key, 2
            while f"{base}~{i}" in taken or f"{base}~{i}" in added:
                i += 1
            key = f"{base}~{i}"
        added[key] = arr
        p[name] = {**ref, FIELD: key}
    if not added:
        return None, problems
    merged: dict[str, np.ndarray] = {k: read_array(target, k) for k in sorted(taken)} if target else {}
    merged.update(added)
    folder = Path(scratch)
    stem = Path(target).stem if target else "pasted"
    out = folder / f"{stem}-{uuid.uuid4().hex[:12]}.npz"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_npz(out, merged)
    except OSError as e:
        return None, problems + [f"the pasted values cannot be written to {out} ({e.strerror or e})"]
    return str(out), problems
