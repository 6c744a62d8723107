"""Frames and notes: what a person draws on a page to explain it (ARCHITECTURE.md section 4), never built.

A ``Frame`` is a titled, coloured box (``{"id", "title", "rect": [x, y, w, h], "color"}``); a ``Note`` is a
Markdown text at a point (``{"id", "pos", "text"}``). The builder and the runner never look at them; the editor
draws them and the page keeps them (``Page.frames``, ``Page.notes``). Reading checks each entry and raises a
``PageFileError`` naming the file, the line and the entry (``frames[1] 'f2'``); fields this version does not know
are kept and written back.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any

from enuflow.app.document.formats.errors import PageFileError

#: the colours a frame can be given from the editor (any other name or "#rrggbb" in a file is kept as it is)
FRAME_COLOURS: dict[str, str] = {
    "blue": "#64b5f6", "green": "#81c784", "yellow": "#ffd54f", "orange": "#ffb74d",
    "red": "#e57373", "purple": "#ba68c8", "grey": "#90a4ae",
}
DEFAULT_COLOUR = "blue"
_FRAME_KEYS = {"id", "title", "rect", "color"}
_NOTE_KEYS = {"id", "pos", "text"}


@dataclass
class Frame:
    """A titled coloured box around blocks; ``rect`` is (x, y, width, height) in page units."""

    id: str
    title: str
    rect: tuple[float, float, float, float]
    color: str = DEFAULT_COLOUR
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Frame:
        return Frame(self.id, self.title, tuple(self.rect), self.color, copy.deepcopy(self.extra))

    def contains(self, x: float, y: float) -> bool:
        rx, ry, rw, rh = self.rect
        return rx <= x <= rx + rw and ry <= y <= ry + rh


@dataclass
class Note:
    """A Markdown text whose top-left corner is at ``pos`` (page units)."""

    id: str
    pos: tuple[float, float]
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> Note:
        return Note(self.id, tuple(self.pos), self.text, copy.deepcopy(self.extra))


Annotation = Frame | Note


def _numbers(value: Any, n: int) -> bool:
    return (isinstance(value, list) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))


def _line_of(lines: list[str] | None, key: str, entry_id: Any) -> int | None:
    """The line of entry ``entry_id`` in the ``key`` list of the file's text (the first line after ``"key"`` that
    names it), or of the list itself."""
    if not lines:
        return None
    start = next((i for i, ln in enumerate(lines) if f'"{key}"' in ln), None)
    if start is None:
        return None
    if isinstance(entry_id, str):
        needle = json.dumps(entry_id, ensure_ascii=False)
        for i in range(start, len(lines)):
            if needle in lines[i]:
                return i + 1
    return start + 1


class _Reader:
    """Reads the ``frames`` or ``notes`` list of one page file, raising the error that names the entry."""

    def __init__(self, path: str, key: str, lines: list[str] | None, taken: set[str]) -> None:
        self.path, self.key, self.lines, self.taken = path, key, lines, taken

    def fail(self, i: int, entry_id: Any, message: str) -> PageFileError:
        named = f" {entry_id!r}" if isinstance(entry_id, str) and entry_id else ""
        return PageFileError(self.path, f"{self.key}[{i}]{named} {message}",
                             line=_line_of(self.lines, self.key, entry_id))

    def entries(self, value: Any) -> list[tuple[int, dict[str, Any], str]]:
        """(index, object, id) of each entry; raises for a list that is not one, an entry that is not an object
        or has no id, and an id used twice (by a frame or a note)."""
        if not isinstance(value, list):
            raise PageFileError(self.path, f"'{self.key}' must be a list, got {type(value).__name__}",
                                line=_line_of(self.lines, self.key, None))
        out = []
        for i, d in enumerate(value):
            if not isinstance(d, dict):
                raise self.fail(i, None, "is not an object")
            eid = d.get("id")
            if not isinstance(eid, str) or not eid:
                raise self.fail(i, None, "has no id (a non-empty text)")
            if eid in self.taken:
                raise self.fail(i, eid, "appears twice (frame and note ids must be unique)")
            self.taken.add(eid)
            out.append((i, d, eid))
        return out

    def text(self, i: int, d: dict[str, Any], eid: str, name: str, default: str) -> str:
        value = d.get(name, default)
        if not isinstance(value, str):
            raise self.fail(i, eid, f"has a '{name}' that is not text: {value!r}")
        return value


def frames_from_doc(path: str, value: Any, lines: list[str] | None = None,
                    taken: set[str] | None = None) -> list[Frame]:
    """The frames of a page file's ``frames`` list; raises PageFileError naming the file, line and entry."""
    r = _Reader(path, "frames", lines, taken if taken is not None else set())
    out = []
    for i, d, fid in r.entries(value):
        rect = d.get("rect")
        if not _numbers(rect, 4) or rect[2] <= 0 or rect[3] <= 0:
            raise r.fail(i, fid, f"has a 'rect' that is not [x, y, width, height] (four numbers, width and "
                                 f"height above 0): {rect!r}")
        out.append(Frame(fid, r.text(i, d, fid, "title", ""), tuple(float(v) for v in rect),
                         r.text(i, d, fid, "color", DEFAULT_COLOUR),
                         {k: v for k, v in d.items() if k not in _FRAME_KEYS}))
    return out


def notes_from_doc(path: str, value: Any, lines: list[str] | None = None,
                   taken: set[str] | None = None) -> list[Note]:
    """The notes of a page file's ``notes`` list; raises PageFileError naming the file, line and entry."""
    r = _Reader(path, "notes", lines, taken if taken is not None else set())
    out = []
    for i, d, nid in r.entries(value):
        pos = d.get("pos")
        if not _numbers(pos, 2):
            raise r.fail(i, nid, f"has a 'pos' that is not two numbers: {pos!r}")
        out.append(Note(nid, (float(pos[0]), float(pos[1])), r.text(i, d, nid, "text", ""),
                        {k: v for k, v in d.items() if k not in _NOTE_KEYS}))
    return out


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 3)


def frame_to_doc(f: Frame) -> dict[str, Any]:
    d: dict[str, Any] = {"id": f.id, "title": f.title, "rect": [_num(v) for v in f.rect], "color": f.color}
    d.update(f.extra)
    return d


def note_to_doc(n: Note) -> dict[str, Any]:
    d: dict[str, Any] = {"id": n.id, "pos": [_num(n.pos[0]), _num(n.pos[1])], "text": n.text}
    d.update(n.extra)
    return d
