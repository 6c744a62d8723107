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


def free_offset(page: Page, clip: dict[str, Any], step: float = 40.0) -> tuple[float, float]:
    """The first offset (step, step), (2 step, 2 step), ... at which no pasted block would sit on (within
    half a step of) a block already on the page, so that pasting the same clip twice never stacks blocks."""
    raw = [b.get("pos", [0, 0]) for b in clip.get("blocks", []) if isinstance(b, dict)]
    pts = [(float(p[0]), float(p[1])) for p in raw if isinstance(p, (list, tuple)) and len(p) == 2]
    half = step / 2
    grid: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for b in page:
        x, y = float(b.pos[0]), float(b.pos[1])
        grid.setdefault((int(x // half), int(y // half)), []).append((x, y))

    def near(x: float, y: float) -> bool:
        cx, cy = int(x // half), int(y // half)
        return any(abs(x - tx) < half and abs(y - ty) < half
                   for i in (-1, 0, 1) for j in (-1, 0, 1) for tx, ty in grid.get((cx + i, cy + j), ()))

    for k in range(1, 200):
        d = k * step
        if not any(near(x + d, y + d) for x, y in pts):
            return d, d
    return step, step


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
