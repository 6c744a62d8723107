"""The layered auto-layout of a page (the editor's Auto Layout, Ctrl+L, and imported models' positions): blocks in
columns left to right by dependency, placed by their real sizes so that no two block rectangles overlap.

The layered (Sugiyama) layout itself is igraph's ``Graph.layout_sugiyama`` (its C core orders each layer for few
crossings and routes long edges through every layer they pass). Around it, this module:

1. turns the page into a graph of blocks, one edge per pair of wired blocks, and turns back the edges of an
   approximately minimal feedback arc set (igraph's Eades-Lin-Smyth heuristic; a ``NextIteration`` block's wire
   back to its ``Merge`` is the first choice), so that loops get a left-to-right layout too;
2. gives the layers: longest path, then every block that reads nothing (a Const, a Variable) and every block fed
   only by such blocks (a Const cast to another dtype) moves right to stand just before its first reader;
3. keeps port order: blocks (and passing wires) that feed only one block stand in the order of the ports they feed;
4. turns igraph's unit-spaced coordinates into real ones: a column as wide as its widest block, and within a column
   the heights nearest to where igraph and the wires want each block (ports level with the ports they are wired
   to, a passing wire on its straight line), keeping the order and the gaps (pool-adjacent-violators, exact), so
   blocks never overlap; last, blocks hold their places while each passing wire takes the side of a block where
   its line passes. Every coordinate is finite and bounded by the sizes of the page's blocks (checked: a page
   whose heights came out otherwise would be stacked column by column).

No Qt here (``app.document`` imports no Qt): the caller passes the sizes of the blocks as drawn and the heights of
their ports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import islice
from operator import le, sub
from dataclasses import dataclass, field

import igraph

from enuflow.app.document.page import Page
from enuflow.app.gcpause import paused_gc

H_GAP = 60.0        # between columns: room for the wires
V_GAP = 30.0        # between two blocks of a column
DUMMY_H = 24.0      # the room a wire passing through a column takes
DUMMY_GAP = 10.0    # between a passing wire and its neighbours
DUMMY_MAX = 400.0   # a steep passing wire takes at most this much more room
DEFAULT_SIZE = (180.0, 80.0)
MAX_ITER = 100      # igraph's crossing-reduction sweeps on a small page
#: a big page gets fewer (blocks and wires times sweeps at most this, but at least ``MIN_ITER``): measured on
#: pages of 1,000 to 10,000 blocks, sweeps after the first 15 to 30 change the crossings by a few per cent either
#: way and took most of the time (a MobileNetV2 page: 0.56 s with 100, 0.18 s with 30, crossings 177 and 172)
ITER_BUDGET = 60_000
MIN_ITER = 15
#: a layout wider than this (page units) may be wrapped into bands (``auto_layout(wrap=...)``), this far apart
WRAP_WIDTH, WRAP_GAP = 2400.0, 160.0
LIMIT = 1e7         # no coordinate of a laid-out page goes further than this from its start
#: node-sweeps of the alignment (a small page gets up to ``MAX_SWEEPS`` sweeps, a huge one ``MIN_SWEEPS``)
SWEEP_BUDGET = 25000
MIN_SWEEPS, MAX_SWEEPS = 1, 12
SETTLE_SWEEPS = 4   # then blocks hold their places and make way for the passing wires
BLOCK_HOLD, WIRE_HOLD = 5.0, 100.0  # how hard, while settling


@dataclass
class _Graph:
    """A page as a directed acyclic graph of block indices (back edges turned around)."""

    ids: list[str]
    w: list[float]
    h: list[float]
    #: (source, target, anchor on the source's right side, anchor on the target's left side)
    edges: list[tuple[int, int, float, float]] = field(default_factory=list)
    succ: list[list[int]] = field(default_factory=list)
    pred: list[list[int]] = field(default_factory=list)
    #: (source, target) -> index in ``edges``
    edge_of: dict[tuple[int, int], int] = field(default_factory=dict)
    _dag: igraph.Graph | None = None

    def dag(self) -> igraph.Graph:
        """The graph for igraph (made once)."""
        if self._dag is None:
            self._dag = igraph.Graph(n=len(self.ids), edges=[(u, v) for u, v, _a, _b in self.edges], directed=True)
        return self._dag


@paused_gc
def auto_layout(page: Page, sizes: dict[str, tuple[float, float]] | None = None,
                anchors: dict[tuple[str, str, bool], float] | None = None,
                wrap: float | None = None) -> dict[str, tuple[float, float]]:
    """New top-left positions for every block of ``page``.

    ``sizes`` gives each block's (width, height) as drawn; ``anchors`` the height of a port below its block's top,
    keyed (block, port, is_output); without one a wire meets the middle of the block's side. The layout starts
    where the page's top-left block is (at the origin when that is not a sensible place). With ``wrap`` (a
    screen's width : height), a layout much wider than that (a model's long chain) is cut into bands of columns
    placed one below the other, read as lines of text (``_wrapped``).
    """
    if not len(page.blocks):
        return {}
    g = _graph(page, sizes or {}, anchors or {})
    layer = _layers(g)
    cols, ix, routes = _sugiyama(g, layer)
    _port_order(g, cols, routes)
    xs, col_w = _columns(g, cols)
    y = _heights(g, cols, ix, routes, layer, xs, col_w)
    pos = _positions(page, g, layer, xs, col_w, y)
    return _wrapped(pos, g, layer, xs, wrap) if wrap else pos


def _wrapped(pos: dict[str, tuple[float, float]], g: _Graph, layer: list[int], xs: list[float],
             ratio: float) -> dict[str, tuple[float, float]]:
    """``pos`` cut into bands of whole columns, each band below the one before and starting at the left, when the
    layout is wider than ``WRAP_WIDTH`` and far wider than ``ratio`` times its height: as many bands as bring it
    nearest that shape, so that Fit shows it at a zoom where names can be read."""
    left = min(x for x, _y in pos.values())
    top = min(y for _x, y in pos.values())
    width = max(pos[b][0] + g.w[v] for v, b in enumerate(g.ids)) - left
    height = max(pos[b][1] + g.h[v] for v, b in enumerate(g.ids)) - top
    bands = min(len(xs), int(round(math.sqrt(width / max(height * ratio, 1.0)))))
    if width <= WRAP_WIDTH or bands < 2:
        return pos
    share = (xs[-1] + 1.0) / bands
    band = [min(bands - 1, int(x // share)) for x in xs]
    start = {}
    for c, b in enumerate(band):
        start.setdefault(b, xs[c])
    out = {}
    for v, bid in enumerate(g.ids):
        b = band[layer[v]]
        x, y = pos[bid]
        out[bid] = (x - start[b], y + b * (height + WRAP_GAP))
    return out


def _graph(page: Page, sizes: dict[str, tuple[float, float]],
           anchors: dict[tuple[str, str, bool], float]) -> _Graph:
    ids = [b.id for b in page]
    index = {bid: i for i, bid in enumerate(ids)}
    size = [_finite_size(sizes.get(bid)) for bid in ids]
    g = _Graph(ids, [s[0] for s in size], [s[1] for s in size])
    pairs: dict[tuple[int, int], list[float]] = {}
    h = g.h
    for ln in page.links:
        u, v = index.get(ln.src), index.get(ln.dst)
        if u is None or v is None or u == v:
            continue
        so = anchors.get((ln.src, ln.src_port, True))
        do = anchors.get((ln.dst, ln.dst_port, False))
        if so is None or not 0.0 <= so <= h[u]:  # (also NaN)
            so = h[u] / 2
        if do is None or not 0.0 <= do <= h[v]:
            do = h[v] / 2
        acc = pairs.get((u, v))
        if acc is None:
            pairs[(u, v)] = [so, do, 1]
        else:
            acc[0] += so
            acc[1] += do
            acc[2] += 1
    keys = list(pairs)
    loops = {b.id for b in page if b.type == "NextIteration"}
    weights = [0.01 if ids[u] in loops else 1.0 for u, _v in keys]
    first = igraph.Graph(n=len(ids), edges=keys, directed=True)
    back = set(first.feedback_arc_set(weights=weights))
    if not back:
        g._dag = first  # the same edges in the same order
    for k, (u, v) in enumerate(keys):
        so, do, n = pairs[(u, v)]
        so, do = so / n, do / n
        if k in back:  # drawn backwards: laid out as if it went forwards
            u, v, so, do = v, u, do, so
        if (u, v) not in g.edge_of:
            g.edge_of[(u, v)] = len(g.edges)
            g.edges.append((u, v, so, do))
    g.succ = [[] for _ in ids]
    g.pred = [[] for _ in ids]
    for u, v, _so, _do in g.edges:
        g.succ[u].append(v)
        g.pred[v].append(u)
    return g


def _finite_size(s: Sequence[float] | None) -> tuple[float, float]:
    if s is None:
        return DEFAULT_SIZE
    w, h = float(s[0]), float(s[1])
    ok = math.isfinite(w) and math.isfinite(h) and 0 <= w <= LIMIT / 10 and 0 <= h <= LIMIT / 10
    return (w, h) if ok else DEFAULT_SIZE


def _layers(g: _Graph) -> list[int]:
    """Longest-path layers; then each block fed only by blocks that moved (a source first) moves right, in reverse
    topological order, to the column just before its first reader. Empty columns are dropped."""
    n = len(g.ids)
    topo = g.dag().topological_sorting()
    layer = [0] * n
    for v in topo:
        p = g.pred[v]
        if p:
            layer[v] = max(layer[u] for u in p) + 1
    floating = [False] * n
    for v in topo:
        floating[v] = all(floating[u] for u in g.pred[v])
    for v in reversed(topo):
        if floating[v] and g.succ[v]:
            layer[v] = min(layer[s] for s in g.succ[v]) - 1
    used = sorted(set(layer))
    rank = {v: i for i, v in enumerate(used)}
    return [rank[v] for v in layer]


# a node of a column: a block index, or a passing wire (edge index, k-th column it passes)
Node = int | tuple[int, int]


def _sugiyama(g: _Graph, layer: list[int]) -> tuple[list[list[Node]], dict[Node, float], list[list[float]]]:
    """igraph's layered layout: each column's nodes in order, each node's coordinate along its column (unit
    spaced), and for each edge the coordinates of the columns it passes."""
    along, routes = _igraph_sugiyama(g.dag(), g.edges, layer, crossing_sweeps(len(g.ids), len(g.edges)))
    pos: dict[Node, float] = dict(enumerate(along))
    cols: list[list[Node]] = [[] for _ in range(max(layer) + 1)]
    for v, c in enumerate(layer):
        cols[c].append(v)
    for e, xs in enumerate(routes):
        if xs:
            first = layer[g.edges[e][0]] + 1
            for k, x in enumerate(xs):
                pos[(e, k)] = x
                cols[first + k].append((e, k))
    for c in cols:
        c.sort(key=pos.__getitem__)
    return cols, pos, routes


def _igraph_sugiyama(dag: igraph.Graph, edges: Sequence[tuple[int, int, float, float]], layer: list[int],
                     sweeps: int) -> tuple[list[float], list[list[float]]]:
    """igraph's layout_sugiyama: each node's coordinate along its column, and each edge's coordinates at the
    columns it passes. igraph 1.0 files the routes of a graph in several pieces under the wrong edges (a route on
    an edge between neighbouring columns, none on the long one), so a result whose routes do not fit the edges'
    spans is made again piece by piece (each weakly connected piece laid out alone, the pieces side by side)."""
    lay = dag.layout_sugiyama(layers=layer, maxiter=sweeps)
    along = [c[0] for c in lay.coords]
    routes = [[p[0] for p in pts] if pts else [] for pts in lay.edge_routing]
    if _routes_fit(edges, layer, routes):
        return along, routes
    along, routes = [0.0] * len(layer), [[] for _ in edges]
    edges_of: dict[int, list[int]] = {}
    for e, (u, _v, _a, _b) in enumerate(edges):
        edges_of.setdefault(u, []).append(e)
    offset = 0.0
    for members in dag.connected_components(mode="weak"):
        index = {v: i for i, v in enumerate(members)}
        mine = [e for v in members for e in edges_of.get(v, ())]
        part = igraph.Graph(n=len(members), edges=[(index[edges[e][0]], index[edges[e][1]]) for e in mine],
                            directed=True)
        sub = part.layout_sugiyama(layers=[layer[v] for v in members], maxiter=sweeps) if mine else None
        xs = [c[0] for c in sub.coords] if sub is not None else [0.0] * len(members)
        low = min(xs)
        for v, x in zip(members, xs):
            along[v] = x - low + offset
        if sub is not None:
            for e, pts in zip(mine, sub.edge_routing):
                routes[e] = [p[0] - low + offset for p in pts] if pts else []
        offset += max(xs) - low + 1.0
    return along, routes


def _routes_fit(edges: Sequence[tuple[int, int, float, float]], layer: list[int], routes: list[list[float]]) -> bool:
    """Whether each edge has one route point for each column it passes (and the numbers are finite)."""
    if len(routes) != len(edges):
        return False
    isfinite = math.isfinite
    for (u, v, _a, _b), r in zip(edges, routes):
        if len(r) != layer[v] - layer[u] - 1 or (r and not all(map(isfinite, r))):
            return False
    return True


def crossing_sweeps(blocks: int, wires: int) -> int:
    """How many crossing-reduction sweeps igraph makes for a page of ``blocks`` blocks and ``wires`` wired pairs
    of blocks (``MAX_ITER`` on a small page, fewer on a big one)."""
    return max(MIN_ITER, min(MAX_ITER, ITER_BUDGET // max(blocks + wires, 1)))


def _target(g: _Graph, routes: list[list[float]], n: Node) -> tuple[int, float] | None:
    """The one block that node ``n`` feeds in the next column and the height of the port it feeds, or None when
    ``n`` feeds several or none."""
    if isinstance(n, tuple):
        e, k = n
        if k + 1 < len(routes[e]):
            return None
        _u, v, _so, do = g.edges[e]
        return v, do
    succ = g.succ[n]
    if len(succ) != 1:
        return None
    v = succ[0]
    return None if len(g.pred[v]) < 2 else (v, g.edges[g.edge_of[(n, v)]][3])


def _port_order(g: _Graph, cols: list[list[Node]], routes: list[list[float]]) -> None:
    """In each column, the nodes that feed only one and the same block of the next column take the places they hold
    among themselves in the order of the ports they feed (top port first); crossings to the right do not change."""
    for col in cols[:-1]:
        groups: dict[int, list[tuple[int, float]]] = {}
        for k, n in enumerate(col):
            t = _target(g, routes, n)
            if t is not None:
                groups.setdefault(t[0], []).append((k, t[1]))
        for members in groups.values():
            if len(members) < 2:
                continue
            slots = [k for k, _a in members]
            nodes = [col[k] for k in slots]
            ranked = sorted(range(len(members)), key=lambda i: (members[i][1], i))
            for slot, i in zip(slots, ranked):
                col[slot] = nodes[i]


def _columns(g: _Graph, cols: list[list[Node]]) -> tuple[list[float], list[float]]:
    """The left edge and the width of every column."""
    xs: list[float] = []
    widths: list[float] = []
    x = 0.0
    for col in cols:
        xs.append(x)
        widths.append(max((g.w[n] for n in col if isinstance(n, int)), default=0.0))
        x += widths[-1] + H_GAP
    return xs, widths


def _node_h(g: _Graph, n: Node) -> float:
    return g.h[n] if isinstance(n, int) else DUMMY_H


@dataclass
class _Column:
    """One column while heights are worked out: its nodes in order, their heights and the room above each."""

    nodes: list[Node]
    heights: list[float]
    x_mid: float
    span: float  # how far a passing wire runs across the column (with a margin)
    wires: bool = False  # whether a wire passes through it

    def offsets(self) -> list[float]:
        out, t = [0.0], 0.0
        nodes, heights = self.nodes, self.heights
        for k in range(1, len(nodes)):
            a, b = nodes[k - 1], nodes[k]
            t += heights[k - 1] + (V_GAP if type(a) is int and type(b) is int else DUMMY_GAP)
            out.append(t)
        return out


def _heights(g: _Graph, cols: list[list[Node]], ix: dict[Node, float], routes: list[list[float]],
             layer: list[int], xs: list[float], col_w: list[float]) -> dict[Node, float]:
    """The top of every node. Starts from igraph's coordinates; then sweeps left to right and back in which a block
    wants its ports level with the ports it is wired to and a passing wire wants its straight line, each column
    placed nearest to those wishes in its order and with its gaps."""
    columns = [_Column(c, [_node_h(g, n) for n in c], xs[i] + col_w[i] / 2, col_w[i] + 2 * H_GAP / 3,
                       any(isinstance(n, tuple) for n in c)) for i, c in enumerate(cols)]
    unit = sum(g.h) / len(g.h) + V_GAP
    y: dict[Node, float] = {n: x * unit for n, x in ix.items()}  # overlapping still: the first sweep places them
    ins: list[list[int]] = [[] for _ in g.ids]
    outs: list[list[int]] = [[] for _ in g.ids]
    for e, (u, v, _so, _do) in enumerate(g.edges):
        outs[u].append(e)
        ins[v].append(e)
    right = [xs[layer[n]] + col_w[layer[n]] for n in range(len(g.ids))]  # a source's port side, at the latest
    n_nodes = sum(len(c) for c in cols)
    wire_h: dict[Node, float] = {n: DUMMY_H for c in cols for n in c if isinstance(n, tuple)}  # wires' heights
    sweeps = max(MIN_SWEEPS, min(MAX_SWEEPS, SWEEP_BUDGET // max(n_nodes, 1)))
    settling = max(1, min(SETTLE_SWEEPS, sweeps // 2))
    wired = [c for c in columns if c.wires]
    for s in range(sweeps + settling):
        forward = s % 2 == 0
        settle = s >= sweeps
        sides = (ins if forward or s == sweeps - 1 else (), outs if not forward or s == sweeps - 1 else ())
        for col in ((wired if settle else columns) if forward else reversed(wired if settle else columns)):
            want, weight = [], []
            for k, n in enumerate(col.nodes):
                if isinstance(n, tuple):
                    w, h = _wire_wish(g, routes, n, col, y, right, xs, layer)
                    col.heights[k] = wire_h[n] = h
                    w = (w[0], WIRE_HOLD if settle else w[1])
                elif settle:
                    w = (y[n], BLOCK_HOLD)
                else:
                    w = _block_wish(g, routes, n, y, wire_h, *sides)
                want.append(y[n] if w is None else w[0])
                weight.append(0.01 if w is None else w[1])
            if settle:  # a passing wire goes to the side of a block where its line passes
                _sort_by_wish(col, want, weight)
            y.update(zip(col.nodes, _place(col, want, weight)))
    return y


def _sort_by_wish(col: _Column, want: list[float], weight: list[float]) -> None:
    """Reorder a column (and its wishes) by the wished centres."""
    order = sorted(range(len(col.nodes)), key=lambda k: want[k] + col.heights[k] / 2)
    col.nodes[:] = [col.nodes[k] for k in order]
    col.heights[:] = [col.heights[k] for k in order]
    want[:] = [want[k] for k in order]
    weight[:] = [weight[k] for k in order]


def _block_wish(g: _Graph, routes: list[list[float]], n: int, y: dict[Node, float], wire_h: dict[Node, float],
                ins: Sequence[list[int]], outs: Sequence[list[int]]) -> tuple[float, float] | None:
    """Where block ``n``'s top would have its ports level with the near ends of its wires (those from the left,
    ``ins``, and those to the right, ``outs``), and how many wires want it; None when none does."""
    total, count = 0.0, 0
    for e in (ins[n] if ins else ()):
        u, _v, so, do = g.edges[e]
        k = len(routes[e])
        far = (e, k - 1) if k else u
        total += (y[far] + wire_h[far] / 2 if k else y[u] + so) - do
        count += 1
    for e in (outs[n] if outs else ()):
        _u, v, so, do = g.edges[e]
        far = (e, 0) if routes[e] else v
        total += (y[far] + wire_h[far] / 2 if routes[e] else y[v] + do) - so
        count += 1
    return (total / count, float(count)) if count else None


def _wire_wish(g: _Graph, routes: list[list[float]], n: tuple[int, int], col: _Column, y: dict[Node, float],
               right: list[float], xs: list[float], layer: list[int]) -> tuple[tuple[float, float], float]:
    """A passing wire wants the stretch of its straight line that crosses the column (a steep wire takes more
    room, up to ``DUMMY_MAX``); it is held hard there, so that blocks make way. Gives ((top, weight), height)."""
    e, _k = n
    u, v, so, do = g.edges[e]
    xa, ya = right[u], y[u] + so
    xb, yb = xs[layer[v]], y[v] + do
    slope = (yb - ya) / max(xb - xa, 1.0)
    mid = ya + (col.x_mid - xa) * slope
    h = DUMMY_H + min(abs(slope) * col.span, DUMMY_MAX)
    return (mid - h / 2, 4.0), h


def _place(col: _Column, want: list[float], weight: list[float]) -> list[float]:
    """Tops for the nodes of a column, in order and never closer than their gaps, as near (least squares, weighted)
    to the wished tops as possible: with z = top minus the room everything above it needs, the constraint is z
    non-decreasing, which pool-adjacent-violators solves exactly."""
    if len(want) == 1:
        return want
    offset = col.offsets()
    z = list(map(sub, want, offset))
    if all(map(le, z, islice(z, 1, None))):  # the wishes keep the order and the gaps already
        return want
    means: list[float] = []  # the pools: weighted mean, weight, count
    weights: list[float] = []
    counts: list[int] = []
    for k in range(len(want)):
        m, w, c = want[k] - offset[k], weight[k], 1
        while means and means[-1] > m:
            m0, w0 = means.pop(), weights.pop()
            m, w, c = (m0 * w0 + m * w) / (w0 + w), w0 + w, c + counts.pop()
        means.append(m)
        weights.append(w)
        counts.append(c)
    tops: list[float] = []
    for m, c in zip(means, counts):
        k = len(tops)
        tops.extend(m + offset[k + i] for i in range(c))
    return tops


def _positions(page: Page, g: _Graph, layer: list[int], xs: list[float], col_w: list[float],
               y: dict[Node, float]) -> dict[str, tuple[float, float]]:
    """Top-left corners from the page's top-left block on: a block that feeds more wires than it reads stands at
    the right of its column, by its readers; the others at the left. Every coordinate is finite and within
    ``LIMIT`` of the start (a page whose heights came out otherwise is stacked column by column instead)."""
    x0 = min(b.pos[0] for b in page)
    y0 = min(b.pos[1] for b in page)
    if not (math.isfinite(x0) and math.isfinite(y0) and abs(x0) < LIMIT and abs(y0) < LIMIT):
        x0 = y0 = 0.0
    n = len(g.ids)
    tops = [y[v] for v in range(n)]
    if not all(math.isfinite(t) for t in tops) or max(tops) - min(tops) > LIMIT:
        tops = _stacked(g, layer)
    top = min(tops)
    out: dict[str, tuple[float, float]] = {}
    for v, bid in enumerate(g.ids):
        shift = col_w[layer[v]] - g.w[v] if len(g.succ[v]) > len(g.pred[v]) else 0.0
        out[bid] = (float(round(x0 + xs[layer[v]] + shift)), float(round(y0 + tops[v] - top)))
    return out


def _stacked(g: _Graph, layer: list[int]) -> list[float]:
    """Tops of the blocks stacked in their columns (the fallback that is always bounded)."""
    fill: dict[int, float] = {}
    tops = []
    for v in range(len(g.ids)):
        t = fill.get(layer[v], 0.0)
        tops.append(t)
        fill[layer[v]] = t + g.h[v] + V_GAP
    return tops


def crossings(page: Page, pos: dict[str, tuple[float, float]], sizes: dict[str, tuple[float, float]]) -> int:
    """How many pairs of links cross, each drawn as a straight segment between its blocks' sides
    (a measure for comparing layouts)."""
    segs = []
    for ln in page.links:
        if ln.src in pos and ln.dst in pos:
            (ax, ay), (bx, by) = pos[ln.src], pos[ln.dst]
            aw, ah = sizes.get(ln.src, DEFAULT_SIZE)
            segs.append(((ax + aw, ay + ah / 2), (bx, by + sizes.get(ln.dst, DEFAULT_SIZE)[1] / 2), ln))

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
