"""Page edits computed without Qt: copying blocks with their internal links and pasting them under new
ids. The left-to-right layered auto-layout lives in ``app.document.layout`` (``auto_layout`` is re-exported here).

These functions only read the page and return what an undo command should apply.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from enuflow.app.document.formats.native import block_extra, block_to_doc
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.document.layout import auto_layout, crossings  # noqa: F401 - the editor's edits in one place

CLIP_FORMAT = "enuflow.clip"
MIME_CLIP = "application/x-enuflow-blocks"


def copy_blocks(page: Page, ids: list[str]) -> dict[str, Any]:
    """A clip of blocks and the links between them (links leaving the selection are not copied)."""
    chosen = set(ids)
    blocks = [copy.deepcopy(block_to_doc(b)) for b in page if b.id in chosen]
    links = [[ln.src, ln.src_port, ln.dst, ln.dst_port] for ln in page.links
             if ln.src in chosen and ln.dst in chosen]
    clip: dict[str, Any] = {"format": CLIP_FORMAT, "blocks": blocks, "links": links}
    if page.data_path:  # where the blocks' data references point (pasting into another page reads them there)
        clip["data"] = os.path.abspath(page.data_path)
    return clip


def clip_text(clip: dict[str, Any]) -> str:
    return json.dumps(clip)


def parse_clip(text: str) -> dict[str, Any] | None:
    """A clip from the clipboard's text, or None if it is not one (never evaluates anything)."""
    try:
        clip = json.loads(text)
    except ValueError:
        return None
    if not isinstance(clip, dict) or clip.get("format") != CLIP_FORMAT:
        return None
    if not isinstance(clip.get("blocks"), list) or not isinstance(clip.get("links"), list):
        return None
    return clip


def paste_blocks(page: Page, clip: dict[str, Any], offset: tuple[float, float] = (30.0, 30.0),
                 at: tuple[float, float] | None = None) -> tuple[list[BlockInstance], list[Link]]:
    """New blocks (fresh ids) and links for a clip; ``at`` puts the clip's top-left corner there."""
    raw = [b for b in clip.get("blocks", []) if isinstance(b, dict) and isinstance(b.get("id"), str)
           and isinstance(b.get("type"), str)]
    if not raw:
        return [], []
    xs = [float(b.get("pos", [0, 0])[0]) for b in raw]
    ys = [float(b.get("pos", [0, 0])[1]) for b in raw]
    if at is not None:
        dx, dy = at[0] - min(xs), at[1] - min(ys)
    else:
        dx, dy = offset
    taken = {b.id for b in page}
    mapping: dict[str, str] = {}
    blocks = []
    for b in raw:
        new = _fresh_id(b["id"], taken)
        taken.add(new)
        mapping[b["id"]] = new
        pos = b.get("pos", [0, 0])
        blocks.append(BlockInstance(new, b["type"], (float(pos[0]) + dx, float(pos[1]) + dy),
                                    copy.deepcopy(b.get("pins", {})), b.get("label"), b.get("collapsed"),
                                    b.get("device"), copy.deepcopy(block_extra(b))))
    links = []
    for ln in clip.get("links", []):
        if isinstance(ln, list) and len(ln) == 4 and ln[0] in mapping and ln[2] in mapping:
            links.append(Link(mapping[ln[0]], str(ln[1]), mapping[ln[2]], str(ln[3])))
    return blocks, links


Rect = tuple[float, float, float, float]  # x, y, width, height in page units
GAP = 20.0  # the least room kept between a placed block and its neighbours
DEFAULT_SIZE = (180.0, 90.0)  # a block whose drawn size is not known (pasted from another page)


class RectIndex:
    """Block rectangles in a coarse grid, to ask quickly whether a rectangle (grown by ``gap``) is free."""

    CELL = 200.0

    def __init__(self, rects: list[Rect], gap: float = GAP) -> None:
        self.gap = gap
        self.cells: dict[tuple[int, int], list[Rect]] = {}
        for r in rects:
            self.add(r)

    def _span(self, r: Rect) -> tuple[range, range]:
        c = self.CELL
        return (range(int((r[0] - self.gap) // c), int((r[0] + r[2] + self.gap) // c) + 1),
                range(int((r[1] - self.gap) // c), int((r[1] + r[3] + self.gap) // c) + 1))

    def add(self, r: Rect) -> None:
        xs, ys = self._span(r)
        for i in xs:
            for j in ys:
                self.cells.setdefault((i, j), []).append(r)

    def free(self, r: Rect) -> bool:
        g = self.gap
        xs, ys = self._span(r)
        for i in xs:
            for j in ys:
                for x, y, w, h in self.cells.get((i, j), ()):
                    if r[0] - g < x + w and x < r[0] + r[2] + g and r[1] - g < y + h and y < r[1] + r[3] + g:
                        return False
        return True


def page_rects(page: Page, sizes: dict[str, tuple[float, float]]) -> list[Rect]:
    return [(float(b.pos[0]), float(b.pos[1]), *sizes.get(b.id, DEFAULT_SIZE)) for b in page]


def free_offset(page: Page, clip: dict[str, Any], sizes: dict[str, tuple[float, float]],
                step: float = 40.0) -> tuple[float, float]:
    """The first offset (step, step), (2 step, 2 step), ... at which no pasted block's rectangle (its drawn size
    in ``sizes``, by the id it was copied from) comes within ``GAP`` of a block on the page, so that a paste or a
    duplicate never covers a block (the original included)."""
    raw = [b for b in clip.get("blocks", []) if isinstance(b, dict)]
    rects = []
    for b in raw:
        p = b.get("pos", [0, 0])
        if isinstance(p, (list, tuple)) and len(p) == 2:
            rects.append((float(p[0]), float(p[1]), *sizes.get(str(b.get("id")), DEFAULT_SIZE)))
    index = RectIndex(page_rects(page, sizes))
    for k in range(1, 100_000):
        d = k * step
        if all(index.free((x + d, y + d, w, h)) for x, y, w, h in rects):
            return d, d
    return step, step


def free_spot(page: Page, sizes: dict[str, tuple[float, float]], at: tuple[float, float],
              size: tuple[float, float], step: float = 20.0, others: list[Rect] | None = None) -> tuple[float, float]:
    """The free place nearest ``at`` (on a ``step`` grid, rings around it) for a block of ``size``: where a
    dropped or added block goes when ``at`` is taken. ``others`` are more rectangles to keep clear of (notes)."""
    index = RectIndex(page_rects(page, sizes) + list(others or ()))
    x0, y0 = at
    for ring in range(0, 300):
        spots = [(i, j) for i in range(-ring, ring + 1) for j in range(-ring, ring + 1)
                 if max(abs(i), abs(j)) == ring]
        spots.sort(key=lambda ij: (ij[0] ** 2 + ij[1] ** 2, ij[1], ij[0]))
        for i, j in spots:
            if index.free((x0 + i * step, y0 + j * step, *size)):
                return x0 + i * step, y0 + j * step
    return at


def make_room(rects: dict[str, Rect], grown: str, gap: float = GAP) -> dict[str, tuple[float, float]]:
    """New positions for the blocks a grown block (``grown``, at its new size) now covers: each is pushed down
    below what covers it, and so on down the page; the others stay. Returns only the blocks that move."""
    now = dict(rects)
    moved: dict[str, tuple[float, float]] = {}
    todo = [grown]
    while todo:
        a = todo.pop(0)
        ax, ay, aw, ah = now[a]
        for b, (bx, by, bw, bh) in sorted(now.items(), key=lambda kv: kv[1][1]):
            if b == a or b == grown:
                continue
            if bx < ax + aw and ax < bx + bw and by < ay + ah and ay < by + bh:
                now[b] = (bx, ay + ah + gap, bw, bh)
                moved[b] = (bx, ay + ah + gap)
                todo.append(b)
    return moved


def _fresh_id(base: str, taken: set[str]) -> str:
    stem = base
    # "Add_3" pasted becomes "Add_4", not "Add_3_2"
    head, _, tail = base.rpartition("_")
    if head and tail.isdigit():
        stem = head
    if stem not in taken:
        return stem
    i = 2
    while f"{stem}_{i}" in taken:
        i += 1
    return f"{stem}_{i}"
