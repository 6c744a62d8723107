"""Page edits computed without Qt: copying blocks with their internal links, pasting them under new
ids, and the left-to-right layered auto-layout by dependency (networkx topological generations, ordered
by barycentres to keep crossings low).

These functions only read the page and return what an undo command should apply.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import networkx as nx

from enuflow.app.document.formats.native import block_extra, block_to_doc
from enuflow.app.document.page import BlockInstance, Link, Page

CLIP_FORMAT = "enuflow.clip"
MIME_CLIP = "application/x-enuflow-blocks"
H_GAP = 90.0   # between columns: room for the wires
V_GAP = 30.0   # between blocks of a column
SWAP_LIMIT = 120  # pages up to this many blocks try several orders and neighbour swaps against crossings


def copy_blocks(page: Page, ids: list[str]) -> dict[str, Any]:
    """A clip of blocks and the links between them (links leaving the selection are not copied)."""
    chosen = set(ids)
    blocks = [copy.deepcopy(block_to_doc(b)) for b in page if b.id in chosen]
    links = [[ln.src, ln.src_port, ln.dst, ln.dst_port] for ln in page.links
             if ln.src in chosen and ln.dst in chosen]
    return {"format": CLIP_FORMAT, "blocks": blocks, "links": links}


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


def auto_layout(page: Page, sizes: dict[str, tuple[float, float]] | None = None) -> dict[str, tuple[float, float]]:
    """New positions by a layered (Sugiyama-style) layout, left to right by dependency.

    Layers are networkx's topological generations, with a block that only feeds others pulled next to
    its first consumer; blocks in a layer are ordered by the barycentre of their neighbours (sweeps
    down and up) to keep wires from crossing; each column is as wide as its widest block plus ``H_GAP``
    for the wires, and blocks sit near their inputs' height without overlapping (``V_GAP`` apart).
    ``sizes`` gives each block's (width, height) as drawn. Blocks on a cycle (an invalid page) go into a
    last column.
    """
    sizes = sizes or {}
    g = nx.DiGraph()
    g.add_nodes_from(b.id for b in page)
    g.add_edges_from((ln.src, ln.dst) for ln in page.links if ln.src in page and ln.dst in page)
    order = {b.id: i for i, b in enumerate(page)}
    cyclic: set[str] = set()
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1:
            cyclic |= comp
    dag = g.subgraph(n for n in g if n not in cyclic)
    generations = list(nx.topological_generations(dag))
    x0 = min((b.pos[0] for b in page), default=0.0)
    y0 = min((b.pos[1] for b in page), default=0.0)
    if len(g) > SWAP_LIMIT:  # a large page: the barycentre order alone (counting crossings is quadratic)
        columns = _columns(dag, generations, cyclic, order, True)
        _order_by_barycentre(g, columns)
        return _place(g, columns, sizes, x0, y0)
    best: tuple[int, list[list[str]], bool] | None = None
    # candidates: sources in the first column or pulled next to their first reader; the page's order or
    # the barycentre order; blocks near their inputs' height or stacked from the top. The fewest crossings
    # wins; small pages then try swapping neighbours in a column.
    for pull in (True, False):
        columns = _columns(dag, generations, cyclic, order, pull)
        for bary in (False, True):
            if bary:
                _order_by_barycentre(g, columns)
            for align in (True, False):
                n = crossings(page, _place(g, columns, sizes, x0, y0, align), sizes)
                if best is None or n < best[0]:
                    best = (n, [list(c) for c in columns], align)
    assert best is not None
    best_n, cols, align = best
    if len(g) <= SWAP_LIMIT:
        improved = True
        while improved and best_n:
            improved = False
            for col in cols:
                for i in range(len(col) - 1):
                    col[i], col[i + 1] = col[i + 1], col[i]
                    n = crossings(page, _place(g, cols, sizes, x0, y0, align), sizes)
                    if n < best_n:
                        best_n, improved = n, True
                    else:
                        col[i], col[i + 1] = col[i + 1], col[i]
    return _place(g, cols, sizes, x0, y0, align)


def _columns(dag: nx.DiGraph, generations: list[list[str]], cyclic: set[str], order: dict[str, int],
             pull: bool) -> list[list[str]]:
    layer: dict[str, int] = {n: i for i, gen in enumerate(generations) for n in gen}
    if pull:  # a source (a Const, a Variable) sits just before the first block that reads it
        for n in dag:
            succ = [layer[m] for m in dag.successors(n)]
            if dag.in_degree(n) == 0 and succ:
                layer[n] = max(min(succ) - 1, 0)
    top = max(layer.values(), default=-1)
    for n in cyclic:
        layer[n] = top + 1
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for n in sorted(layer, key=order.__getitem__):
        columns[layer[n]].append(n)
    return [c for c in columns if c]


def _place(g: nx.DiGraph, columns: list[list[str]], sizes: dict[str, tuple[float, float]], x0: float,
           y0: float, align: bool = True) -> dict[str, tuple[float, float]]:
    """Positions for ordered columns: each block near the height of its inputs (``align``) or stacked
    from the top, never overlapping."""
    out: dict[str, tuple[float, float]] = {}
    centre: dict[str, float] = {}
    x = x0
    for col in columns:
        width = max((sizes.get(n, (180.0, 80.0))[0] for n in col), default=0.0)
        y_next = y0
        for n in col:
            h = sizes.get(n, (180.0, 80.0))[1]
            ins = [centre[m] for m in g.predecessors(n) if m in centre]
            want = (sum(ins) / len(ins) - h / 2) if ins and align else y_next
            y = max(want, y_next)
            out[n] = (round(x), round(y))
            centre[n] = y + h / 2
            y_next = y + h + V_GAP
        x += width + H_GAP
    return out


def _order_by_barycentre(g: nx.DiGraph, columns: list[list[str]], sweeps: int = 4) -> None:
    """Reorder each column by the mean rank of its neighbours in the columns already placed (down, then
    up), the barycentre heuristic for fewer crossings; a block without such neighbours keeps its rank."""
    rank: dict[str, float] = {}
    for col in columns:
        for i, n in enumerate(col):
            rank[n] = i / max(len(col), 1)
    index = {n: c for c, col in enumerate(columns) for n in col}
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        seq = range(1, len(columns)) if down else range(len(columns) - 2, -1, -1)
        for c in seq:
            col = columns[c]
            key = {}
            for n in col:
                near = [m for m in (g.predecessors(n) if down else g.successors(n))
                        if index.get(m) is not None and (index[m] < c if down else index[m] > c)]
                key[n] = sum(rank[m] for m in near) / len(near) if near else rank[n]
            col.sort(key=lambda n: key[n])
            for i, n in enumerate(col):
                rank[n] = i / max(len(col), 1)


def crossings(page: Page, pos: dict[str, tuple[float, float]], sizes: dict[str, tuple[float, float]]) -> int:
    """How many pairs of links cross, each drawn as a straight segment between its blocks' sides
    (a measure for comparing layouts)."""
    segs = []
    for ln in page.links:
        if ln.src in pos and ln.dst in pos:
            (ax, ay), (bx, by) = pos[ln.src], pos[ln.dst]
            aw, ah = sizes.get(ln.src, (180.0, 80.0))
            segs.append(((ax + aw, ay + ah / 2), (bx, by + sizes.get(ln.dst, (180.0, 80.0))[1] / 2), ln))

    def ccw(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    n = 0
    for i in range(len(segs)):
        p1, p2, l1 = segs[i]
        for j in range(i + 1, len(segs)):
            q1, q2, l2 = segs[j]
            if {l1.src, l1.dst} & {l2.src, l2.dst}:
                continue  # wires that share a block meet there; that is no crossing
            if ccw(p1, p2, q1) * ccw(p1, p2, q2) < 0 and ccw(q1, q2, p1) * ccw(q1, q2, p2) < 0:
                n += 1
    return n
