"""enuflow's own page format, version 1 (UTF-8 JSON), as set out in ARCHITECTURE.md section 4.

Reading first checks the document's shape and turns it into a ``Page``; block types are not resolved
here (the builder does that and reports unknown ones). Fields this version does not know are kept
and written back unchanged. Saving writes a temporary file beside the target and renames it over.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from enuflow.app.document import datafile
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.gcpause import paused_gc
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.blocks.atomic import replace as replace_atomically

FORMAT = "enuflow.page"
VERSION = 1
_BLOCK_KEYS = {"id", "type", "pos", "pins", "label", "collapsed", "device"}
_TOP_KEYS = {"format", "version", "name", "blocks", "links", "view", "results", "composites", "frames", "notes",
             datafile.FIELD, "page_folder"}


#: the keys that make a JSON object without "format" an enuflow page (written by hand, or by older tools)
_PAGE_KEYS = {"blocks", "links"}


def _kind(value: Any) -> str:
    """A JSON value's kind in words: 'a list of 3 items', 'a number', ..."""
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "null"


def _looks_like(doc: dict[str, Any]) -> str:
    """What a JSON object that is not a page seems to be, for the message that refuses it."""
    keys = set(doc)
    if not keys:
        return "an empty JSON object ({})"
    if {"ok", "results", "errors"} <= keys:
        return "the output of 'enuflow run --json', not the page it ran"
    if {"cells", "nbformat"} <= keys:
        return "a Jupyter notebook"
    if "cluster" in keys or (keys and all(isinstance(v, list) and v and all(isinstance(x, str) and ":" in x
                                                                              for x in v) for v in doc.values())):
        return "a TensorFlow cluster spec"
    if "node" in keys and isinstance(doc.get("node"), list):
        return "a TensorFlow GraphDef in JSON (import it with 'enuflow import MODEL.pbtxt')"
    shown = sorted(keys, key=str)
    names = ", ".join(f"'{k}' ({_kind(doc[k])})" for k in shown[:6]) + (", ..." if len(shown) > 6 else "")
    return f"a JSON object with the key{'s' if len(shown) != 1 else ''} {names}"


def parse_json(path: str | Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise PageFileError(str(path), f"is not valid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
    except RecursionError:
        raise PageFileError(str(path), "is nested too deeply to be a page") from None


def _locate(text_lines: list[str] | None, needle: str) -> int | None:
    if not text_lines:
        return None
    for i, line in enumerate(text_lines, 1):
        if needle in line:
            return i
    return None


class _Where:
    """Where a block is in the file, found only when an error needs it (keeps loading linear)."""

    def __init__(self, block: str, lines: list[str] | None) -> None:
        self.block = block
        self.lines = lines

    def kw(self) -> dict[str, Any]:
        return {"block": self.block, "line": _locate(self.lines, json.dumps(self.block))}


_NUMBER = (int, float)  # the types json gives numbers; other number types take the slower, general check
_ORIGIN = [0, 0]
_NO_PINS: dict[str, Any] = {}
_PLAIN_BLOCK_KEYS = {"id", "type", "pos", "pins"}


def _check_block(p: str, i: int, b: dict[str, Any], bid: Any, btype: Any, pos: Any, pins: Any,
                 found: dict[str, BlockInstance], lines: list[str] | None) -> None:
    """Raise the PageFileError for a block that the quick checks of ``page_from_doc`` did not pass."""
    if not isinstance(bid, str) or not bid:
        raise PageFileError(p, f"blocks[{i}] has no id (a non-empty text)")
    where = _Where(bid, lines)
    if not isinstance(btype, str) or not btype:
        raise PageFileError(p, "has no type", **where.kw())
    if bid in found:
        raise PageFileError(p, "appears twice (block ids must be unique)", **where.kw())
    if (not isinstance(pos, (list, tuple)) or len(pos) != 2
            or not (type(pos[0]) in _NUMBER and type(pos[1]) in _NUMBER
                    or all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos))):
        raise PageFileError(p, f"has a pos that is not two numbers: {pos!r}", **where.kw())
    if not isinstance(pins, dict):
        raise PageFileError(p, "has 'pins' that is not an object", **where.kw())


def _check_link(p: str, i: int, ln: dict[str, Any], found: dict[str, BlockInstance],
                lines: list[str] | None) -> tuple[tuple[str, str], tuple[str, str]]:
    """The ends of a link that the quick checks of ``page_from_doc`` did not pass; raises PageFileError
    when they are not [block id, port name] of blocks on the page."""
    ends = []
    for key in ("from", "to"):
        end = ln.get(key)
        if (not isinstance(end, (list, tuple)) or len(end) != 2
                or not all(isinstance(x, str) and x for x in end)):
            raise PageFileError(p, f"links[{i}].{key} must be [block id, port name], got {end!r}")
        if end[0] not in found:
            raise PageFileError(p, f"links[{i}].{key} names block {end[0]!r}, which is not on the page",
                                line=_locate(lines, json.dumps(end[0])))
        ends.append((end[0], end[1]))
    return ends[0], ends[1]


@paused_gc
def page_from_doc(path: str | Path, doc: Any, text: str | None = None) -> Page:
    """A Page from a parsed format-v1 document; raises PageFileError naming the block at fault."""
    p = str(path)
    if not isinstance(doc, dict):
        raise PageFileError(p, f"is not an enuflow page (expected a JSON object at the top, found {_kind(doc)})")
    if "format" not in doc and not _PAGE_KEYS & doc.keys():
        raise PageFileError(p, f"is not a page: it is {_looks_like(doc)}. An enuflow page has \"format\": "
                               f"\"{FORMAT}\" or a \"blocks\" list; an enuSpace page has "
                               "\"object\"")
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise PageFileError(p, f"has format {fmt!r}, not {FORMAT!r}")
    version = doc.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise PageFileError(p, f"has a version that is not a number: {version!r}")
    if version > VERSION:
        raise PageFileError(p, f"was written by a newer enuflow (page format version {version}; "
                               f"this one reads up to {VERSION})")
    blocks = doc.get("blocks", [])
    links = doc.get("links", [])
    if not isinstance(blocks, list):
        raise PageFileError(p, "'blocks' must be a list")
    if not isinstance(links, list):
        raise PageFileError(p, "'links' must be a list")
    name = doc.get("name", Path(p).stem)
    page = Page(str(name) if name is not None else Path(p).stem)
    lines = text.splitlines() if text else None

    found: dict[str, BlockInstance] = {}
    for i, b in enumerate(blocks):
        if not isinstance(b, dict):
            raise PageFileError(p, f"blocks[{i}] is not an object")
        bid = b.get("id")
        btype = b.get("type")
        pos = b.get("pos", _ORIGIN)
        pins = b.get("pins", _NO_PINS)
        if (type(bid) is not str or not bid or type(btype) is not str or not btype or bid in found
                or type(pos) is not list or len(pos) != 2 or type(pos[0]) not in _NUMBER
                or type(pos[1]) not in _NUMBER or type(pins) is not dict):
            _check_block(p, i, b, bid, btype, pos, pins, found, lines)  # raises, naming what is wrong
        if b.keys() <= _PLAIN_BLOCK_KEYS:  # most blocks: no label, device, collapsed flag or unknown field
            found[bid] = BlockInstance(bid, btype, (float(pos[0]), float(pos[1])), dict(pins))
            continue
        label = b.get("label")
        collapsed = b.get("collapsed")
        device = b.get("device")
        if label is not None and not isinstance(label, str):
            raise PageFileError(p, "has a label that is not text", **_Where(bid, lines).kw())
        if device is not None and not isinstance(device, str):
            raise PageFileError(p, "has a device that is not text", **_Where(bid, lines).kw())
        found[bid] = BlockInstance(bid, btype, (float(pos[0]), float(pos[1])), dict(pins), label,
                                   collapsed if isinstance(collapsed, bool) else None, device, block_extra(b))

    made: list[Link] = []
    link_extra: dict[Link, dict[str, Any]] = {}
    for i, ln in enumerate(links):
        if not isinstance(ln, dict):
            raise PageFileError(p, f"links[{i}] is not an object")
        src = ln.get("from")
        dst = ln.get("to")
        if (type(src) is not list or type(dst) is not list or len(src) != 2 or len(dst) != 2
                or type(src[0]) is not str or type(src[1]) is not str or type(dst[0]) is not str
                or type(dst[1]) is not str or not src[1] or not dst[1]
                or src[0] not in found or dst[0] not in found):
            src, dst = _check_link(p, i, ln, found, lines)  # raises, naming what is wrong (or gives tuples)
        link = Link(src[0], src[1], dst[0], dst[1])
        # a repeated link is kept, in its place: a list port takes it twice (AddN(a, b, a)); a single input
        # that gets two links is the page checks' to report, naming the block and port
        made.append(link)
        if len(ln) > 2:
            extra = {k: v for k, v in ln.items() if k not in ("from", "to")}
            if extra:
                link_extra[link] = extra
    _read_annotations(p, doc, lines, page)
    page.fill(found.values(), made)
    page.link_extra.update(link_extra)

    view = doc.get("view")
    page.view = view if isinstance(view, dict) else None
    if view is not None and not isinstance(view, dict):
        page.extra["view"] = view
    results = doc.get("results")
    page.results = results if isinstance(results, dict) else None
    page.extra.update({k: v for k, v in doc.items() if k not in _TOP_KEYS})
    if "composites" in doc:
        from enuflow.app.document import composites

        page.composites = composites.composites_from_doc(p, doc["composites"])
        composites.check_instances(p, page)
    data = doc.get(datafile.FIELD)
    if data is not None:
        if not isinstance(data, str) or not data:
            raise PageFileError(p, f"has a '{datafile.FIELD}' field that is not a file name: {data!r}")
        page.data_path = os.path.abspath(data if os.path.isabs(data) else Path(p).parent / data)
    folder = doc.get("page_folder")
    if isinstance(folder, str) and folder:  # a run document's (``run_doc``); never in a saved file
        page.folder = folder
    return page


def _read_annotations(p: str, doc: dict[str, Any], lines: list[str] | None, page: Page) -> None:
    """The page's frames and notes (editor only, never built); raises PageFileError naming the entry."""
    if "frames" not in doc and "notes" not in doc:
        return
    from enuflow.app.document import annotations

    taken: set[str] = set()
    if "frames" in doc:
        page.frames = {f.id: f for f in annotations.frames_from_doc(p, doc["frames"], lines, taken)}
    if "notes" in doc:
        page.notes = {n.id: n for n in annotations.notes_from_doc(p, doc["notes"], lines, taken)}


def load(path: str | Path) -> Page:
    """Read a format-v1 page file; raises PageFileError."""
    from enuflow.app.document.formats import read_text

    text, _ = read_text(path)
    return page_from_doc(path, parse_json(path, text), text)


def block_to_doc(b: BlockInstance) -> dict[str, Any]:
    """One block as format v1 writes it (its ``pins`` and unknown fields shared, not copied)."""
    d: dict[str, Any] = {"id": b.id, "type": b.type, "pos": [_num(b.pos[0]), _num(b.pos[1])], "pins": b.pins}
    if b.label is not None:
        d["label"] = b.label
    if b.collapsed is not None:
        d["collapsed"] = b.collapsed
    if b.device is not None:
        d["device"] = b.device
    d.update(b.extra)
    return d


def block_extra(d: dict[str, Any]) -> dict[str, Any]:
    """The fields of a block object that format v1 does not know (kept as they are)."""
    return {k: v for k, v in d.items() if k not in _BLOCK_KEYS}


def run_doc(page: Page) -> dict[str, Any]:
    """The page as the worker runs it: ``page_to_doc`` with the folder of the page's file (``page_folder``), where
    the worker reads the files a dataset names by relative paths."""
    doc = page_to_doc(page)
    if page.folder:
        doc["page_folder"] = page.folder
    return doc


def page_to_doc(page: Page, data: str | None = None) -> dict[str, Any]:
    """The page as a format-v1 document; its data file is named by ``data``, else by its absolute path."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": page.name}
    if page.data_path:
        doc[datafile.FIELD] = data or page.data_path
    if page.composites:
        from enuflow.app.document.composites import composite_to_doc

        doc["composites"] = {name: composite_to_doc(c) for name, c in page.composites.items()}
    doc["blocks"] = [block_to_doc(b) for b in page]
    links = []
    for ln in page.links:
        d = {"from": [ln.src, ln.src_port], "to": [ln.dst, ln.dst_port]}
        d.update(page.link_extra.get(ln, {}))
        links.append(d)
    doc["links"] = links
    if page.view is not None:
        doc["view"] = page.view
    if page.results is not None:
        doc["results"] = page.results
    if page.frames or page.notes:
        from enuflow.app.document.annotations import frame_to_doc, note_to_doc

        doc["frames"] = [frame_to_doc(f) for f in page.frames.values()]
        doc["notes"] = [note_to_doc(n) for n in page.notes.values()]
    doc.update(page.extra)
    return doc


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 3)


def dumps(page: Page, data: str | None = None) -> str:
    return json.dumps(page_to_doc(page, data), indent=1, ensure_ascii=False) + "\n"


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8, LF line ends) or ``bytes`` to ``path`` through a temporary file in the same
    folder and ``os.replace``; raises PageFileError naming the file."""
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    try:
        replace_atomically(Path(path), lambda f: f.write(data))
    except OSError as e:
        raise PageFileError(str(path), f"cannot be written: {e.strerror or e}") from None


def save(page: Page, path: str | Path) -> None:
    """Save ``page`` as format v1, atomically. ``page.results`` (stored results) is written when set.

    A page with a data file keeps it beside itself: saved to another place, the data file is copied
    there first (``NAME.npz`` beside ``NAME.json``) and the page names it relatively, then follows it.
    """
    data = None
    if page.data_path:
        target = Path(os.path.abspath(path)).with_name(datafile.data_name(path))
        src = Path(page.data_path)
        if src != target:
            if not src.is_file():
                raise PageFileError(str(path), f"cannot be saved with its data: the data file {src} is missing")
            try:
                datafile.copy_file(src, target)
            except OSError as e:
                raise PageFileError(str(target), f"cannot be written: {e.strerror or e}") from None
        data = target.name
        write_atomic(path, dumps(page, data))
        page.data_path = str(target)
        return
    write_atomic(path, dumps(page))
