"""Reading and writing page files.

``load(path)`` opens any page file enuflow understands (format v1, enuSpace JSON task exports and SVG
pages) and returns a ``Page``; ``save(page, path)`` writes format v1 atomically. Problems raise
``PageFileError``, whose message names the file and, where it can, the line or block.
"""

from __future__ import annotations

import os
from pathlib import Path

from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.gcpause import paused_gc
from enuflow.app.document.page import Page

__all__ = ["PageFileError", "load", "load_page", "read_text", "save"]


def read_text(path: str | Path) -> tuple[str, bytes]:
    """The file's text (UTF-8, or UTF-16 with a BOM) and its raw bytes; raises PageFileError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise PageFileError(str(path), "no such file") from None
    except IsADirectoryError:
        raise PageFileError(str(path), "is a folder, not a page file") from None
    except OSError as e:
        raise PageFileError(str(path), f"cannot be read: {e.strerror or e}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), raw
        except UnicodeDecodeError as e:
            raise PageFileError(str(path), f"is not valid UTF-16 text (byte {e.start})") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw_text = raw[3:]
    else:
        raw_text = raw
    try:
        return raw_text.decode("utf-8"), raw
    except UnicodeDecodeError as e:
        raise PageFileError(str(path), f"is not UTF-8 or UTF-16 text (bad byte at offset {e.start})") from None


def load(path: str | Path, data_dir: str | Path | None = None) -> Page:
    """Open a page file of any supported format; raises PageFileError."""
    return load_page(path, data_dir)[0]


@paused_gc
def load_page(path: str | Path, data_dir: str | Path | None = None) -> tuple[Page, bool]:
    """``load``, and whether the file is an enuflow page (a format-v1 document listing its blocks: Save may write
    over it) rather than an imported enuSpace page; raises PageFileError."""
    text, _raw = read_text(path)
    stripped = text.lstrip()
    suffix = Path(path).suffix.lower()
    if suffix == ".svg" or stripped.startswith("<"):
        from enuflow.app.document.formats import enuspace

        return enuspace.load_svg(path, text, data_dir=data_dir), False
    from enuflow.app.document.formats import native

    doc = native.parse_json(path, text)
    if isinstance(doc, dict) and "object" in doc and "blocks" not in doc:
        from enuflow.app.document.formats import enuspace

        return enuspace.load_json_doc(path, doc, data_dir=data_dir), False
    page = native.page_from_doc(path, doc, text)
    page.folder = os.path.dirname(os.path.abspath(path))
    return page, "blocks" in doc and doc.get("format", native.FORMAT) == native.FORMAT


def save(page: Page, path: str | Path) -> None:
    """Write ``page`` in format v1, atomically; raises PageFileError."""
    from enuflow.app.document.formats import native

    native.save(page, path)
    page.folder = os.path.dirname(os.path.abspath(path))  # a dataset's relative file is read beside the page now
