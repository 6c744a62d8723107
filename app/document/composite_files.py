"""Composites saved on their own, the library folders, and placing a composite on a page (ARCHITECTURE.md 4a).

A composite file is ``{"format": "enuflow.composite", "version": 1, "name": ..., ...the fields of a definition}``
(``load_composite``, ``save_composite``: atomic). The library is the standard one that ships in the package
(``enuflow.assets/composites``, dotted names such as ``layers.Dense``) and the user's own folder
(``$ENUFLOW_COMPOSITES_DIR``, else ``~/.local/share/enuflow/composites``); ``library()`` reads both, the user's
composites after the standard ones. ``place(page, composite, ...)`` copies a definition (and the composites it
uses) into a page and adds an instance of it, so a page file is always self-contained.
Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enuflow.app.document.composites import (Composite, check_structure, composite_from_doc, composite_to_doc,
                                             needed)
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import BlockInstance, Page

FORMAT = "enuflow.composite"
VERSION = 1


class PlaceError(ValueError):
    """A composite that cannot be placed on a page (a different definition of that name is already there)."""


def composite_from_file_doc(path: str | Path, doc: Any) -> Composite:
    """A composite from the parsed document of its file; raises PageFileError naming the file."""
    p = str(path)
    if not isinstance(doc, dict):
        raise PageFileError(p, "is not an enuflow composite (expected a JSON object at the top)")
    if doc.get("format") != FORMAT:
        raise PageFileError(p, f"has format {doc.get('format')!r}, not {FORMAT!r}")
    version = doc.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise PageFileError(p, f"has composite format version {version!r}; this enuflow reads up to {VERSION}")
    comp = composite_from_doc(p, doc.get("name"), doc)
    check_structure(p, {comp.name: comp})
    return comp


def load_composite(path: str | Path) -> Composite:
    """Read a composite file; raises PageFileError naming the file (and the composite)."""
    from enuflow.app.document.formats import read_text
    from enuflow.app.document.formats.native import parse_json

    text, _ = read_text(path)
    return composite_from_file_doc(path, parse_json(path, text))


def composite_file_doc(comp: Composite) -> dict[str, Any]:
    """The document of a composite file."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": comp.name}
    doc.update(composite_to_doc(comp))
    return doc


def save_composite(comp: Composite, path: str | Path) -> None:
    """Write ``comp`` to ``path`` atomically (temporary file and rename); raises PageFileError."""
    from enuflow.app.document.formats.native import write_atomic

    write_atomic(path, json.dumps(composite_file_doc(comp), indent=1, ensure_ascii=False) + "\n")


def user_folder() -> Path:
    """The user's composite folder: ``$ENUFLOW_COMPOSITES_DIR``, else ``~/.local/share/enuflow/composites``."""
    env = os.environ.get("ENUFLOW_COMPOSITES_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "enuflow" / "composites"


def standard_folder() -> Path | None:
    """The folder of the standard library that ships in the package (None when it cannot be found)."""
    from enuflow.app.bundled import asset_path

    try:
        folder = asset_path("composites")
    except (OSError, LookupError):
        return None
    return folder if folder.is_dir() else None


@dataclass
class Library:
    """The composites of the library folders, by name, with where each came from."""

    composites: dict[str, Composite] = field(default_factory=dict)
    #: name -> "standard" or "user"
    origin: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    #: files that could not be read (each message names its file); they are left out
    problems: list[str] = field(default_factory=list)


def library(user: Path | None = None) -> Library:
    """The standard library and the user's folder (``user``, else ``user_folder()``); a user's composite of a
    standard name replaces the standard one. Unreadable files are listed in ``Library.problems``."""
    lib = Library()
    for origin, folder in (("standard", standard_folder()), ("user", user or user_folder())):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                comp = load_composite(path)
            except PageFileError as e:
                lib.problems.append(str(e))
                continue
            lib.composites[comp.name] = comp
            lib.origin[comp.name] = origin
            lib.paths[comp.name] = path
    return lib


def save_to_library(comp: Composite, user: Path | None = None) -> Path:
    """Save ``comp`` into the user's folder as ``NAME.json`` (the folder is made when missing); returns the path.
    Raises PageFileError."""
    folder = user or user_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PageFileError(str(folder), f"cannot be made: {e.strerror or e}") from None
    path = folder / f"{comp.name}.json"
    save_composite(comp, path)
    return path


def _same(a: Composite, b: Composite) -> bool:
    return composite_to_doc(a) == composite_to_doc(b)


def place(page: Page, comp: Composite, pos: tuple[float, float] = (0.0, 0.0), block_id: str | None = None,
          known: dict[str, Composite] | None = None) -> BlockInstance:
    """Copy ``comp`` (and the composites it uses, looked up in the page, then in ``known``) into ``page`` and add
    an instance of it at ``pos``; returns the instance. Raises PlaceError when the page holds a different
    definition of one of those names, or a composite it uses is found nowhere (nothing is changed then)."""
    pool = dict(known or {})
    pool.update(page.composites)
    pool[comp.name] = comp
    names = needed(pool, comp.name)
    for name in names:
        held = page.composites.get(name)
        if held is not None and not _same(held, pool[name]):
            raise PlaceError(f"the page already has a different composite named {name!r}; rename one of them")
    for name in names:
        for used in pool[name].uses():
            if "." in used and used not in pool:  # library names are dotted; block type names are not
                raise PlaceError(f"composite {name!r} uses {used!r}, which is neither on the page nor in the library")
    for name in names:
        if name not in page.composites:
            page.set_composite(name, pool[name].copy())
    block = BlockInstance(block_id or page.new_id(comp.name.rsplit(".", 1)[-1]), comp.name,
                          (float(pos[0]), float(pos[1])))
    return page.add_block(block)
