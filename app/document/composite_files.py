"""Composites saved on their own, the library folders, and placing a composite on a page (ARCHITECTURE.md 4a).

A composite file is ``{"format": "enuflow.composite", "version": 1, "name": ..., ...the fields of a definition}``
(``load_composite``, ``save_composite``: atomic). The library is the standard one that ships in the package
(``enuflow.assets/composites``, dotted names such as ``layers.Dense``) and the user's own folder
(``$ENUFLOW_COMPOSITES_DIR``, else ``~/.local/share/enuflow/composites``); ``library()`` reads both, the user's
composites after the standard ones. ``place(page, composite, ...)`` copies a definition (and the composites it
uses) into a page and adds an instance of it, so a page file is always self-contained; ``plan_place`` says what it
copies, and names a clash with a different definition on the page (or, asked to keep both, renames the copy).
``plan_library_save`` says what saving a page's composite to the user's folder writes (the composites it uses, its
data-file values written in) and what it replaces; ``io_blocks`` lists the inner blocks that need ``--allow-io``.
Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.app.document.composites import (Composite, check_structure, composite_from_doc, composite_to_doc,
                                             needed)
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.page import BlockInstance, Page

FORMAT = "enuflow.composite"
VERSION = 1


class PlaceError(ValueError):
    """A composite that cannot be placed on a page: ``names`` lists the composites of which the page holds a
    different definition (empty when the trouble is another, such as a composite it uses found nowhere)."""

    def __init__(self, message: str, names: list[str] | None = None) -> None:
        super().__init__(message)
        self.names = list(names or [])


class LibrarySaveError(ValueError):
    """A composite that cannot be saved to the library as asked: an unfit name (it names its file, and must not be
    taken for a block type), or a value kept in the page's data file that a composite file cannot hold."""


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


def io_blocks(comp: Composite, known: dict[str, Composite] | None = None, _trail: tuple[str, ...] = ()) -> list[str]:
    """The paths (``r``, ``inner/r``) of the inner blocks of ``comp``, nested composites' included (looked up in
    ``known``), that run only when allowed: those the allowlist (``blocks.op_classes``) classes file or host, or
    does not know; a hand-declared block by its own ``io`` mark. Reads no TensorFlow."""
    from enuflow.blocks import REGISTRY, op_classes

    out: list[str] = []
    for b in comp.blocks:
        inner = (known or {}).get(b.type)
        if inner is not None and inner.name not in _trail + (comp.name,):
            out += [f"{b.id}/{p}" for p in io_blocks(inner, known, _trail + (comp.name,))]
            continue
        hand = REGISTRY.hand.get(b.type)
        if (hand.io if hand is not None else op_classes.needs_io(b.type)):
            out.append(b.id)
    return out


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


#: characters a composite's name cannot hold, since it names its file in the library folder
_NOT_IN_FILE_NAMES = set('/\\:*?"<>|')


def library_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a composite of the library (it names its file, ``NAME.json``, and must not be taken
    for a block type), or None when it can."""
    from enuflow.blocks import REGISTRY, op_classes

    if not name.strip() or name != name.strip():
        return "a composite's name cannot be empty, nor begin or end with a space"
    if name.startswith("."):
        return f"{name!r} begins with a dot, which would hide its file"
    if any(c in _NOT_IN_FILE_NAMES or ord(c) < 32 for c in name):
        return f"{name!r} holds a character a file name cannot hold (one of / \\ : * ? \" < > |)"
    if name in REGISTRY.hand or name in op_classes.table():
        return f"{name!r} is the name of a block type; give the composite another name"
    return None


@dataclass
class LibrarySave:
    """What saving a page's composite to the library writes: the composite (under the name it is saved as) and the
    composites it uses that the library lacks or holds differently, those used first; ``replaces`` names the
    library composites they would replace (name -> "user" or "standard")."""

    write: list[Composite] = field(default_factory=list)
    replaces: dict[str, str] = field(default_factory=dict)


def plan_library_save(composites: dict[str, Composite], name: str, as_name: str | None = None,
                      lib: Library | None = None, data_path: str | None = None) -> LibrarySave:
    """What saving composite ``name`` of a page (``composites``: the page's definitions; ``data_path``: its data
    file) as ``as_name`` writes to the user's folder, against ``lib`` (default: ``library()``). Values kept in the
    data file are written into the definitions (``_inline_data``), since a composite file has no data file. Raises
    LibrarySaveError when a name is unfit for the library (``library_name_problem``), ``as_name`` is that of a
    composite it uses, or a value cannot be written in. Writes nothing."""
    lib = lib if lib is not None else library()
    as_name = as_name or name
    names = needed(composites, name)
    if as_name != name and as_name in names:
        raise LibrarySaveError(f"{name!r} uses a composite named {as_name!r}; save it under another name")
    plan = LibrarySave()
    for n in reversed(names):
        definition = composites[n].copy()
        definition.name = as_name if n == name else n
        problem = library_name_problem(definition.name)
        if problem:
            raise LibrarySaveError(problem)
        _inline_data(definition, data_path)
        held = lib.composites.get(definition.name)
        if held is not None and _same(held, definition):
            continue
        if held is not None:
            plan.replaces[definition.name] = lib.origin.get(definition.name, "user")
        plan.write.append(definition)
    return plan


def _inline_data(comp: Composite, data_path: str | None) -> None:
    """Replace, in ``comp``'s inner pins, each value kept in the page's data file (``datafile.is_ref``) by the typed
    value itself (``{"dtype", "shape", "value"}``); raises LibrarySaveError naming the block and pin of one that
    cannot be read or written as JSON numbers."""
    from enuflow.app.document import datafile
    from enuflow.app.document.values import ValueParseError

    for b in comp.blocks:
        for pin, value in b.pins.items():
            if not datafile.is_ref(value):
                continue
            where = f"{comp.name!r}, block {b.id!r}, pin {pin!r}"
            try:
                arr = datafile.resolve(data_path, value)
            except ValueParseError as e:
                raise LibrarySaveError(f"{where}: its value cannot be read ({e})") from None
            if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and not bool(np.isfinite(arr).all())):
                raise LibrarySaveError(f"{where}: its value ({arr.dtype}) cannot be written into a composite file "
                                       "(only finite numbers and booleans can)")
            b.pins[pin] = {"dtype": str(arr.dtype), "shape": list(arr.shape), "value": arr.tolist()}


def _same(a: Composite, b: Composite) -> bool:
    return composite_to_doc(a) == composite_to_doc(b)


@dataclass
class Placement:
    """What placing a composite adds to a page: the definitions to copy in (by the names they get there) and the
    type of the new instance (the composite's name, or the fresh name it got beside a different definition)."""

    type_name: str
    add: dict[str, Composite] = field(default_factory=dict)


def _pool(page: Page, comp: Composite, known: dict[str, Composite] | None) -> dict[str, Composite]:
    """Where the composites ``comp`` uses are looked up: ``known`` (the library) first, then the page; the
    page's own definition of a library name never silently stands in for the library's."""
    pool = dict(page.composites)
    pool.update(known or {})
    pool[comp.name] = comp
    return pool


def _retyped(comp: Composite, names: dict[str, str]) -> Composite:
    """A copy of ``comp`` whose inner instances of the renamed composites (``names``: old -> new) use the new
    names."""
    out = comp.copy()
    for b in out.blocks:
        b.type = names.get(b.type, b.type)
    return out


def _fresh_name(page: Page, name: str, comp: Composite, planned: dict[str, Composite]) -> str:
    """``name_2``, ``name_3``, ...: the first one the page (and ``planned``) lacks, or holds with ``comp``'s very
    definition (placing the same library composite twice beside a clash reuses its first copy)."""
    k = 2
    while True:
        candidate = f"{name}_{k}"
        held = planned.get(candidate) or page.composites.get(candidate)
        if held is None or _same(held, comp):
            return candidate
        k += 1


def plan_place(page: Page, comp: Composite, known: dict[str, Composite] | None = None,
               keep_both: bool = False) -> Placement:
    """What placing ``comp`` on ``page`` adds: ``comp`` and the composites it uses (looked up in ``known``, then in
    the page) that the page lacks. Where the page holds a different definition of one of those names, ``keep_both``
    gives the placed one a fresh name (``layers.Dense_2``; its users follow); without it, raises PlaceError whose
    ``names`` lists the clashing names. Raises PlaceError (no ``names``) when a composite it uses is found nowhere.
    Changes nothing."""
    pool = _pool(page, comp, known)
    names = needed(pool, comp.name)
    for name in names:
        for used in pool[name].uses():
            if "." in used and used not in pool:  # library names are dotted; block type names are not
                raise PlaceError(f"composite {name!r} uses {used!r}, which is neither on the page nor in the library")
    renamed: dict[str, str] = {}
    plan = Placement(comp.name)
    clashes = []
    for name in reversed(names):  # the composites used first, so that their users see their new names
        definition = _retyped(pool[name], renamed)
        held = page.composites.get(name)
        if held is not None and _same(held, definition):
            continue
        if held is not None:
            clashes.append(name)
            renamed[name] = _fresh_name(page, name, definition, plan.add)
            definition.name = renamed[name]
        if definition.name not in page.composites:
            plan.add[definition.name] = definition
    if clashes and not keep_both:
        listed = ", ".join(repr(n) for n in reversed(clashes))
        raise PlaceError(f"the page already has a different composite named {listed}; rename one of them",
                         names=list(reversed(clashes)))
    plan.type_name = renamed.get(comp.name, comp.name)
    return plan


def place(page: Page, comp: Composite, pos: tuple[float, float] = (0.0, 0.0), block_id: str | None = None,
          known: dict[str, Composite] | None = None, keep_both: bool = False) -> BlockInstance:
    """Copy ``comp`` (and the composites it uses, looked up in ``known``, then in the page) into ``page`` and add
    an instance of it at ``pos``; returns the instance. ``plan_place`` says what is copied and raises PlaceError
    (nothing is changed then)."""
    plan = plan_place(page, comp, known, keep_both)
    for name, definition in plan.add.items():
        page.set_composite(name, definition)
    return page.add_block(instance_of(page, plan.type_name, pos, block_id))


def instance_of(page: Page, type_name: str, pos: tuple[float, float], block_id: str | None = None) -> BlockInstance:
    """A new instance of composite ``type_name`` for ``page`` (its id from the name's last part: ``Dense``)."""
    return BlockInstance(block_id or page.new_id(type_name.rsplit(".", 1)[-1]), type_name,
                         (float(pos[0]), float(pos[1])))
