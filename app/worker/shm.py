"""Result tensors passed from the run worker to the editor through shared memory, copied once.

The worker child writes every numeric result array of a run into one *segment*: a file in ``/dev/shm``
(a temporary folder on disk where there is none, or when it is full) holding the arrays one after
another, each 64-byte aligned. It describes the segment in plain JSON (path, size, and per array its
offset, dtype and shape). The editor maps the file read-only, unlinks it at once (the memory lives
on while mapped and is freed when the last view goes away, so nothing is left behind even if the
editor is killed) and builds numpy views over the mapping without copying. Text (object) arrays,
which have no fixed-size layout, travel inside the JSON, base64-encoded, element by element (bytes kept
exactly); resource and variant handles travel as their kind (``app.document.tensors.Handle``).

Segment names start with ``enuflow-<editor pid>-``: ``sweep`` removes those of a given owner, or of
owners no longer alive. No pickle: descriptors are JSON, dtypes are rebuilt from names.
This module imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import base64
import errno
import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document.tensors import handle_array, handle_kind

PREFIX = "enuflow-"
ALIGN = 64


def segment_dirs() -> list[Path]:
    """Folders a segment may live in, best first: ``/dev/shm`` (memory) then the temp folder (disk)."""
    dirs = []
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        dirs.append(shm)
    dirs.append(Path(tempfile.gettempdir()))
    return dirs


def owner_prefix(pid: int | None = None) -> str:
    """The name prefix of the segments owned by the editor process ``pid`` (this one by default)."""
    return f"{PREFIX}{os.getpid() if pid is None else pid}-"


# -- dtypes as JSON ---------------------------------------------------------------------------

def dtype_to_json(dt: np.dtype) -> Any:
    """A JSON form of a fixed-size numpy dtype (plain, structured like TF's qint8, or ml_dtypes')."""
    if dt.fields is not None:
        return {"descr": [[name, fmt] for name, fmt in dt.descr]}
    if np.dtype(dt.str) == dt:
        return dt.str
    return {"name": dt.name, "itemsize": dt.itemsize}  # bfloat16, float8_*: registered by ml_dtypes


def dtype_from_json(d: Any) -> np.dtype:
    """The numpy dtype for ``dtype_to_json``'s form; unknown extension types come back as raw bytes."""
    if isinstance(d, str):
        return np.dtype(d)
    if isinstance(d, dict) and "descr" in d:
        return np.dtype([(str(n), str(f)) for n, f in d["descr"]])
    if isinstance(d, dict) and "name" in d:
        try:
            import ml_dtypes  # only for TensorFlow's extension dtypes, without TensorFlow

            return np.dtype(getattr(ml_dtypes, str(d["name"])))
        except (ImportError, AttributeError, TypeError):
            return np.dtype(f"V{int(d.get('itemsize', 1))}")
    raise ValueError(f"not a dtype description: {d!r}")


def _packable(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "biufcV" or arr.dtype.fields is not None or (
        arr.dtype.kind not in "OUS" and not arr.dtype.hasobject)


def _texts_to_json(arr: np.ndarray) -> list[str]:
    out = []
    for x in arr.reshape(-1):
        if isinstance(x, bytes):
            b = x
        elif isinstance(x, str):
            b = x.encode("utf-8")
        else:
            b = str(x).encode("utf-8")
        out.append(base64.b64encode(b).decode("ascii"))
    return out


def _texts_from_json(items: list[str], shape: list[int]) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    for i, s in enumerate(items):
        arr[i] = base64.b64decode(s)
    return arr.reshape(shape)


# -- writing (worker child) -------------------------------------------------------------------

def _create(name: str, size: int) -> tuple[int, Path]:
    """Create ``name`` with ``size`` bytes reserved, in the first folder that has room."""
    last: OSError | None = None
    for folder in segment_dirs():
        path = folder / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            last = e
            continue
        try:
            # reserve the memory now: a full /dev/shm would otherwise kill the writer with SIGBUS
            os.posix_fallocate(fd, 0, size)
            return fd, path
        except OSError as e:
            os.close(fd)
            _unlink(path)
            last = e
            if e.errno not in (errno.ENOSPC, errno.EFBIG, errno.EOPNOTSUPP, errno.EINVAL):
                raise
    raise last if last is not None else OSError(errno.ENOSPC, "no folder for shared memory")


def write_results(values: dict[tuple[str, str], np.ndarray], name: str,
                  created: list[Path] | None = None) -> dict[str, Any]:
    """Copy ``values`` once into a new segment called ``name``; returns its JSON descriptor.

    The descriptor is ``{"path", "size", "arrays": [{"block", "port", "shape", "offset", "dtype"} or
    {"block", "port", "shape", "text": [base64...]} or {"block", "port", "shape", "handle": kind}]}``;
    ``path`` is None when no array needed the segment.
    ``created`` receives the segment's path as soon as it exists (so a dying writer can remove it).
    """
    arrays: list[dict[str, Any]] = []
    packed: list[tuple[np.ndarray, int]] = []
    size = 0
    for (block, port), value in values.items():
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        entry: dict[str, Any] = {"block": block, "port": port, "shape": list(arr.shape)}
        kind = handle_kind(arr)
        if kind:
            entry["handle"] = kind
        elif _packable(arr):
            size = (size + ALIGN - 1) // ALIGN * ALIGN
            entry["offset"] = size
            entry["dtype"] = dtype_to_json(arr.dtype)
            packed.append((arr, size))
            size += arr.nbytes
        else:
            entry["text"] = _texts_to_json(arr)
        arrays.append(entry)
    desc: dict[str, Any] = {"path": None, "size": 0, "arrays": arrays}
    if size == 0:
        return desc
    fd, path = _create(name, size)
    if created is not None:
        created.append(path)
    try:
        # pwrite copies straight into the segment's pages: no page faults on a fresh mapping
        for arr, offset in packed:
            if arr.nbytes:
                raw = memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))
                done = 0
                while done < len(raw):
                    done += os.pwrite(fd, raw[done:], offset + done)
    finally:
        os.close(fd)
    desc["path"] = str(path)
    desc["size"] = size
    return desc


# -- reading (editor) -------------------------------------------------------------------------

class Segment:
    """A read-only mapping of one segment, and the views over it; ``release()`` lets it go."""

    def __init__(self, path: str, size: int) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            self.map: mmap.mmap | None = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
            _unlink(Path(path))  # the mapping keeps the memory; the name is no longer needed
        self.path = path
        self.size = size
        # views go through one memoryview so the mapping cannot be closed under a live array
        self._view: memoryview | None = memoryview(self.map)

    def array(self, offset: int, dtype: np.dtype, shape: list[int]) -> np.ndarray:
        """A read-only numpy view of the array at ``offset`` (no copy)."""
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count == 0 or self._view is None:
            return np.empty(shape, dtype=dtype)
        return np.frombuffer(self._view, dtype=dtype, count=count, offset=offset).reshape(shape)

    def release(self) -> None:
        """Drop this object's hold on the mapping; it is unmapped once no view of it is left."""
        view, mm = self._view, self.map
        self._view = None
        self.map = None
        if view is not None:
            try:
                view.release()
            except BufferError:
                pass  # arrays still look at it: the memory goes when they do
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass


def read_results(desc: dict[str, Any]) -> tuple[dict[tuple[str, str], np.ndarray], Segment | None]:
    """The arrays a ``write_results`` descriptor names, as views over the mapped segment."""
    seg = Segment(desc["path"], int(desc["size"])) if desc.get("path") else None
    out: dict[tuple[str, str], np.ndarray] = {}
    for e in desc.get("arrays", []):
        key = (str(e["block"]), str(e["port"]))
        shape = [int(x) for x in e.get("shape", [])]
        if "handle" in e:
            out[key] = handle_array(str(e["handle"]), tuple(shape))
        elif "text" in e:
            out[key] = _texts_from_json(e["text"], shape)
        elif seg is not None:
            out[key] = seg.array(int(e["offset"]), dtype_from_json(e["dtype"]), shape)
        else:  # only empty arrays: no segment was needed
            out[key] = np.empty(shape, dtype=dtype_from_json(e["dtype"]))
    return out, seg


# -- clean-up ---------------------------------------------------------------------------------

def _unlink(path: Path) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie, killed but not reaped, has ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def remove(name: str) -> bool:
    """Remove the segment called ``name`` wherever it is; True if one was there."""
    return any([_unlink(folder / name) for folder in segment_dirs()])  # noqa: C419 - try every folder


def sweep(pid: int | None = None, dead_owners: bool = False, token: str | None = None) -> int:
    """Remove segments of editor process ``pid`` (only its client ``token``'s when given) or, with
    ``dead_owners``, of processes that have ended; returns how many were removed."""
    removed = 0
    for folder in segment_dirs():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for n in names:
            if not n.startswith(PREFIX):
                continue
            owner, _, rest = n[len(PREFIX):].partition("-")
            if not owner.isdigit():
                continue
            mine = pid is not None and int(owner) == pid and (token is None or rest.startswith(token + "-"))
            if mine or (dead_owners and not alive(int(owner))):
                removed += _unlink(folder / n)
    return removed
