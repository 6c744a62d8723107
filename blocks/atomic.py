"""Writing a file atomically: a temporary file in the target's folder, flushed to disk, then renamed over the
target, so a reader sees the old file or the new one, never a part. The one mechanism for every save: pages and
their data files (``app.document``), the catalogue cache and the op class table."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask alone would change it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _file_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def replace(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Have ``write`` fill a temporary file in ``target``'s folder, then ``os.replace`` it onto ``target``.

    The file gets the mode an ordinary write would give it (the existing file's, else 0666 less the umask);
    the temporary is removed on any failure. Raises OSError.
    """
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            # mkstemp makes the file 0600
            os.chmod(f.fileno(), _file_mode(target))
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (``replace``); raises OSError."""
    data = text.encode("utf-8")
    replace(path, lambda f: f.write(data))
