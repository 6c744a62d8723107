"""The layered auto-layout (Ctrl+L, and imported pages whose blocks overlap): Sugiyama's method, left to
right by dependency. No Qt here: it reads the page and the drawn sizes, and returns positions.

1. Cycles (an invalid page) are broken by turning back the edges a depth-first search finds going back.
2. Layers by longest path (networkx's topological order), then each block that feeds more wires than it
   reads moves right up to its first reader: a Const or Variable sits just before the block that uses it.
3. An edge spanning several layers gets a dummy node in each layer it passes, so that the layers leave a
   corridor for its wire instead of putting a block in its way.
4. The order within each layer: barycentre sweeps down and up (each end weighted by where its port sits
   on the block), the order with the fewest crossings kept, then swaps of neighbours while they remove
   crossings (on pages small enough for that to be quick).
5. Coordinates: each layer is as wide as its widest block plus ``H_GAP`` for the wires. Heights come from
   repeated sweeps in which every node wants its ports level with the ports it is wired to (dummy chains
   pulled hardest, so long wires run straight); within a layer, the positions nearest to those wishes that
   keep the order and the gaps are found exactly (pool-adjacent-violators), so blocks never overlap.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import networkx as nx

from enuflow.app.document.page import Page

H_GAP = 60.0        # between layers: room for the wires
V_GAP = 30.0        # between two blocks of a layer
DUMMY_H = 30.0      # the room a wire passing through a layer takes
DUMMY_GAP = 10.0    # between a passing wire and its neighbours
DEFAULT_SIZE = (180.0, 80.0)
SWEEPS = 12         # barycentre sweeps (down and up alternately)
SWAP_LIMIT = 600    # nodes (blocks and dummies) up to which neighbour swaps are tried
MAX_DUMMIES = 20000  # beyond this many, long edges get no corridor (a huge, tangled page)
COORD_ITERATIONS = 12
SETTLE_ITERATIONS = 6
SETTLE_WEIGHT = 5.0    # how hard a block holds its place against a wire's corridor while settling
SLOT_LIMIT = 40      # layers up to this many nodes try every place for each block while settling

Node = Hashable
# a segment between adjacent layers: (upper node, lower node, anchor on the upper, anchor on the lower, weight)
Segment = tuple[Node, Node, float, float, float]


def auto_layout(page: Page, sizes: dict[str, tuple[float, float]] | None = None,
                anchors: dict[tuple[str, str, bool], float] | None = None) -> dict[str, tuple[float, float]]:
    """New top-left positions for every block of ``page``.

    ``sizes`` gives each block's (width, height) as drawn; ``anchors`` the height of a port below its
    block's top, keyed (block, port, is_output); without one a wire meets the middle of the block's side.
    The layout starts where the page's top-left block is.
    """
    sizes = sizes or {}
    anchors = anchors or {}
    ids = [b.id for b in page]
    if not ids:
        return {}

    def size(n: str) -> tuple[float, float]:
        return sizes.get(n, DEFAULT_SIZE)

    order = {bid: i for i, bid in enumerate(ids)}
    # one edge per pair of wired blocks; its anchors are the mean of its wires' ports
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for ln in page.links:
        if ln.src in order and ln.dst in order and ln.src != ln.dst:
            so = anchors.get((ln.src, ln.src_port, True), size(ln.src)[1] / 2)
            do = anchors.get((ln.dst, ln.dst_port, False), size(ln.dst)[1] / 2)
            pairs.setdefault((ln.src, ln.dst), []).append((so, do))
    back = _back_edges(ids, [p for p in pairs])
    edges: dict[tuple[str, str], tuple[float, float]] = {}
    for (u, v), ends in pairs.items():
        so = sum(e[0] for e in ends) / len(ends)
        do = sum(e[1] for e in ends) / len(ends)
        if (u, v) in back:  # drawn backwards: lay it out as if it went forwards
            u, v, so, do = v, u, do, so
        if (u, v) not in edges:
            edges[(u, v)] = (so, do)
    layer = _layers(ids, list(edges), order)
    nodes, segments, heights = _split_long_edges(layer, edges, size)
    n_layers = max(layer.values()) + 1
    layers: list[list[Node]] = [[] for _ in range(n_layers)]
    for n in sorted(nodes, key=lambda n: _initial_key(n, order)):
        layers[nodes[n]].append(n)
    _order_layers(layers, segments, heights)
    x0 = min(b.pos[0] for b in page)
    y0 = min(b.pos[1] for b in page)
    xs: list[float] = []
    col_w: list[float] = []
    x = x0
    for col in layers:
        xs.append(x)
        col_w.append(max((size(n)[0] for n in col if isinstance(n, str)), default=0.0))
        x += col_w[-1] + H_GAP
    # a block that feeds more wires than it reads stands at the right of its column, by its readers
    # (its wires then leave from the column's edge, past no wider neighbour); the others at the left
    n_in: dict[str, int] = {}
    n_out: dict[str, int] = {}
    for u, v in edges:
        n_out[u] = n_out.get(u, 0) + 1
        n_in[v] = n_in.get(v, 0) + 1
    left = {n: xs[layer[n]] + (col_w[layer[n]] - size(n)[0] if n_out.get(n, 0) > n_in.get(n, 0) else 0.0)
            for n in ids}
    y = _heights(layers, edges, heights, layer, xs, col_w, {n: left[n] + size(n)[0] for n in ids})
    top = min(y[n] for n in ids)
    return {n: (float(round(left[n])), float(round(y0 + y[n] - top))) for n in ids}


def _initial_key(n: Node, order: dict[str, int]) -> tuple[float, int]:
    if isinstance(n, str):
        return float(order[n]), 0
    return float(order[n[1]]), n[3]  # a dummy starts beside its edge's source


def _back_edges(ids: list[str], edges: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges a depth-first search (in page order) finds going back to a block still on its path: turning
    these around leaves no cycle."""
    succ: dict[str, list[str]] = {n: [] for n in ids}
    for u, v in edges:
        succ[u].append(v)
    state: dict[str, int] = {}  # 1: on the path, 2: done
    back: set[tuple[str, str]] = set()
    for root in ids:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            n, it = stack[-1]
            for m in it:
                s = state.get(m)
                if s == 1:
                    back.add((n, m))
                elif s is None:
                    state[m] = 1
                    stack.append((m, iter(succ[m])))
                    break
            else:
                state[n] = 2
                stack.pop()
    return back


def _layers(ids: list[str], edges: list[tuple[str, str]], order: dict[str, int]) -> dict[str, int]:
    """Longest-path layers, then blocks that feed more than they read moved right towards their readers;
    empty layers are dropped."""
    g = nx.DiGraph()
    g.add_nodes_from(ids)
    g.add_edges_from(edges)
    topo = list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
    layer: dict[str, int] = {}
    for n in topo:
        layer[n] = max((layer[m] + 1 for m in g.predecessors(n)), default=0)
    for n in reversed(topo):
        succ = [layer[m] for m in g.successors(n)]
        if not succ:
            continue
        target = min(succ) - 1
        if target > layer[n] and g.out_degree(n) > g.in_degree(n):
            layer[n] = target
    used = sorted(set(layer.values()))
    rank = {v: i for i, v in enumerate(used)}
    return {n: rank[v] for n, v in layer.items()}


def _split_long_edges(layer: dict[str, int], edges: dict[tuple[str, str], tuple[float, float]],
                      size: Any) -> tuple[dict[Node, int], list[Segment], dict[Node, float]]:
    """Every node's layer, the segments between adjacent layers (long edges cut by dummies) and every
    node's height. A dummy is ``("~", source, target, k)``."""
    nodes: dict[Node, int] = dict(layer)
    heights: dict[Node, float] = {n: size(n)[1] for n in layer}
    total = sum(layer[v] - layer[u] - 1 for u, v in edges)
    segments: list[Segment] = []
    for (u, v), (so, do) in edges.items():
        span = layer[v] - layer[u]
        if span <= 1 or total > MAX_DUMMIES:
            segments.append((u, v, so, do, 1.0))
            continue
        prev, prev_off, prev_dummy = u, so, False
        for k in range(1, span):
            d = ("~", u, v, k)
            nodes[d] = layer[u] + k
            heights[d] = DUMMY_H
            segments.append((prev, d, prev_off, DUMMY_H / 2, 8.0 if prev_dummy else 2.0))
            prev, prev_off, prev_dummy = d, DUMMY_H / 2, True
        segments.append((prev, v, prev_off, do, 2.0))
    return nodes, segments, heights


# -- ordering ------------------------------------------------------------------------------------------------

def _order_layers(layers: list[list[Node]], segments: list[Segment], heights: dict[Node, float]) -> None:
    """Reorder the layers in place for few crossings."""
    # each node's segments to the layer above (ins) and below (outs), with where they meet the node,
    # as a fraction of its height in [-0.5, 0.5)
    ins: dict[Node, list[tuple[Node, float, float]]] = {}
    outs: dict[Node, list[tuple[Node, float, float]]] = {}
    for a, b, ao, bo, _w in segments:
        fa = _frac(ao, heights[a])
        fb = _frac(bo, heights[b])
        outs.setdefault(a, []).append((b, fa, fb))
        ins.setdefault(b, []).append((a, fb, fa))

    best = sum(_crossings_between(layers[i], layers[i + 1], outs) for i in range(len(layers) - 1))
    best_layers = [list(c) for c in layers]
    for sweep in range(SWEEPS):
        if best == 0:
            break
        down = sweep % 2 == 0
        seq = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in seq:
            ref = layers[i - 1] if down else layers[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            near = ins if down else outs
            key = {}
            for k, n in enumerate(layers[i]):
                ends = [pos[m] + far for m, _here, far in near.get(n, ()) if m in pos]
                key[n] = sum(ends) / len(ends) if ends else float(k)
            layers[i].sort(key=key.__getitem__)
        n = sum(_crossings_between(layers[i], layers[i + 1], outs) for i in range(len(layers) - 1))
        if n < best:
            best, best_layers = n, [list(c) for c in layers]
    layers[:] = best_layers
    if best and sum(len(c) for c in layers) <= SWAP_LIMIT:
        _swap_neighbours(layers, ins, outs)


def _frac(offset: float, height: float) -> float:
    return min(max(offset / height, 0.0), 0.999) - 0.5 if height > 0 else 0.0


def _crossings_between(upper: list[Node], lower: list[Node], outs: dict[Node, list[tuple[Node, float, float]]]) -> int:
    """Crossings of the segments between two adjacent layers: pairs whose ends come in opposite orders."""
    pos_u = {n: k for k, n in enumerate(upper)}
    pos_l = {n: k for k, n in enumerate(lower)}
    ends = sorted((pos_u[a] + fa, pos_l[b] + fb) for a in upper for b, fa, fb in outs.get(a, ()) if b in pos_l)
    return _inversions([e[1] for e in ends])  # sorted by both ends: segments from one point never cross


def _inversions(seq: list[float]) -> int:
    """Pairs i < j with seq[i] > seq[j] (merge sort)."""
    if len(seq) < 2:
        return 0
    mid = len(seq) // 2
    left, right = seq[:mid], seq[mid:]
    n = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    j = 0
    for v in left:
        while j < len(right) and right[j] < v:
            j += 1
        n += j
    return n


def _pair_crossings(u: Node, v: Node, near: dict[Node, list[tuple[Node, float, float]]],
                    pos: dict[Node, int]) -> int:
    """Crossings between u's and v's segments to one neighbouring layer, with u placed above v."""
    a = [pos[m] + far for m, _h, far in near.get(u, ()) if m in pos]
    b = [pos[m] + far for m, _h, far in near.get(v, ()) if m in pos]
    return sum(1 for x in a for y in b if x > y)


def _swap_neighbours(layers: list[list[Node]], ins: dict, outs: dict) -> None:
    """Swap neighbours in a layer while that removes crossings with the layers on both sides."""
    for _ in range(20):
        improved = False
        for i, col in enumerate(layers):
            above = {n: k for k, n in enumerate(layers[i - 1])} if i > 0 else {}
            below = {n: k for k, n in enumerate(layers[i + 1])} if i + 1 < len(layers) else {}
            for k in range(len(col) - 1):
                u, v = col[k], col[k + 1]
                now = _pair_crossings(u, v, ins, above) + _pair_crossings(u, v, outs, below)
                swapped = _pair_crossings(v, u, ins, above) + _pair_crossings(v, u, outs, below)
                if swapped < now:
                    col[k], col[k + 1] = v, u
                    improved = True
        if not improved:
            return


# -- coordinates -----------------------------------------------------------------------------------------------

def _heights(layers: list[list[Node]], edges: dict[tuple[str, str], tuple[float, float]],
             heights: dict[Node, float], layer: dict[str, int], xs: list[float], col_w: list[float],
             right: dict[str, float]) -> dict[Node, float]:
    """The top of every node. A block wants its ports level with the ports it is wired to; a dummy is the
    stretch of its wire's straight line that crosses its layer's column (with a margin), so that the
    blocks of that layer make way for the wire. Within a layer, the order and the gaps are kept."""
    up: dict[str, list[tuple[str, float, float]]] = {}    # neighbour, its port's height, my port's height
    down: dict[str, list[tuple[str, float, float]]] = {}
    for (u, v), (so, do) in edges.items():
        down.setdefault(u, []).append((v, do, so))
        up.setdefault(v, []).append((u, so, do))
    y: dict[Node, float] = {}
    for col in layers:
        t = 0.0
        for k, n in enumerate(col):
            if k:
                t += _gap(col[k - 1], n)
            y[n] = t
            t += heights[n]
    for it in range(COORD_ITERATIONS + SETTLE_ITERATIONS):
        last = it == COORD_ITERATIONS - 1
        settle = it >= COORD_ITERATIONS  # blocks stay put unless a wire's corridor pushes them
        for down_sweep in (True, False):
            seq = range(len(layers)) if down_sweep else range(len(layers) - 1, -1, -1)
            for i in seq:
                col = layers[i]
                want, weight = [], []
                for n in col:
                    if not isinstance(n, str):  # a dummy: where its wire crosses this column
                        _tag, u, v, _k = n
                        so, do = edges[(u, v)]
                        xa, ya = right[u], y[u] + so
                        xb, yb = xs[layer[v]], y[v] + do
                        slope = (yb - ya) / max(xb - xa, 1.0)
                        y_left = ya + (xs[i] - H_GAP / 3 - xa) * slope
                        y_right = ya + (xs[i] + col_w[i] + H_GAP / 3 - xa) * slope
                        heights[n] = abs(y_right - y_left) + DUMMY_H
                        want.append(min(y_left, y_right) - DUMMY_H / 2)
                        weight.append(100.0 if settle else 4.0)
                        continue
                    if settle:
                        want.append(y[n])
                        weight.append(SETTLE_WEIGHT)
                        continue
                    near = (up.get(n, []) + down.get(n, [])) if last else \
                        (up.get(n, []) if down_sweep else down.get(n, []))
                    if near:
                        want.append(sum(y[m] + mo - my for m, mo, my in near) / len(near))
                        weight.append(float(len(near)))
                    else:
                        want.append(y[n])
                        weight.append(0.01)
                # in the order of the wished centres: a wire's corridor goes where its wire passes
                wished = {n: (want[k], weight[k]) for k, n in enumerate(col)}
                col.sort(key=lambda n: wished[n][0] + heights[n] / 2)
                if settle and len(col) <= SLOT_LIMIT:
                    _best_slots(col, wished, heights)
                tops = _place_in_order(col, [wished[n][0] for n in col], [wished[n][1] for n in col], heights)
                for n, v in zip(col, tops):
                    y[n] = v
    return y


def _cost(col: list[Node], wished: dict[Node, tuple[float, float]], heights: dict[Node, float]) -> float:
    tops = _place_in_order(col, [wished[n][0] for n in col], [wished[n][1] for n in col], heights)
    return sum(wished[n][1] * (t - wished[n][0]) ** 2 for n, t in zip(col, tops))


def _best_slots(col: list[Node], wished: dict[Node, tuple[float, float]], heights: dict[Node, float]) -> None:
    """Move each block of a layer, in turn, to the place among the passing wires where the wires and
    the blocks are displaced least (a block squeezed between two close wires would push both aside)."""
    for n in [m for m in col if isinstance(m, str)]:
        k = col.index(n)
        best, best_k = _cost(col, wished, heights), k
        rest = col[:k] + col[k + 1:]
        for j in range(len(rest) + 1):
            if j == k:
                continue
            trial = rest[:j] + [n] + rest[j:]
            c = _cost(trial, wished, heights)
            if c < best - 1e-6:
                best, best_k = c, j
        if best_k != k:
            col[:] = rest[:best_k] + [n] + rest[best_k:]


def _gap(a: Node, b: Node) -> float:
    if isinstance(a, str) and isinstance(b, str):
        return V_GAP
    if isinstance(a, str) or isinstance(b, str):
        return DUMMY_GAP + 4.0
    return DUMMY_GAP


def _place_in_order(col: list[Node], want: list[float], weight: list[float], heights: dict[Node, float]) -> list[float]:
    """Tops for the nodes of a layer, in order and never closer than their gaps, as near (least squares,
    weighted) to the wished tops as possible: with z = top minus the room everything above it needs, the
    constraint is z non-decreasing, which pool-adjacent-violators solves exactly."""
    offset = []
    t = 0.0
    for k, n in enumerate(col):
        if k:
            t += heights[col[k - 1]] + _gap(col[k - 1], n)
        offset.append(t)
    blocks: list[list[float]] = []  # [weighted mean, weight, count]
    for k in range(len(col)):
        blocks.append([want[k] - offset[k], weight[k], 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    z: list[float] = []
    for m, _w, c in blocks:
        z.extend([m] * c)
    return [z[k] + offset[k] for k in range(len(col))]


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
