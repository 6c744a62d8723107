"""The layered auto-layout (Ctrl+L) on hand-made pages, without Qt: no overlaps, every wire goes left to
right with room, crossings at the optimum worked out by hand, long wires get a corridor (no block sits on
their line), cycles still get a layout. Crossings and corridors are measured here from the positions
alone (straight segments between the ports), independently of the layout's own bookkeeping."""

from __future__ import annotations

import random
from itertools import combinations

from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.document.layout import auto_layout

W, H = 160.0, 80.0
PORTS_IN = {"x": 30.0, "y": 55.0}   # inputs' heights below the block's top
PORT_OUT = 30.0


def page_of(blocks: list[str], links: list[tuple[str, str, str]]) -> Page:
    """Blocks in the given (page) order, all piled at the origin; links (src, dst, input port)."""
    p = Page("hand")
    for b in blocks:
        p.add_block(BlockInstance(b, "AddV2", (0.0, 0.0), {}))
    for s, d, port in links:
        p.add_link(Link(s, "z", d, port))
    return p


def lay_out(page: Page, sizes: dict[str, tuple[float, float]] | None = None):
    sizes = sizes or {b.id: (W, H) for b in page}
    anchors = {}
    for ln in page.links:
        anchors[(ln.src, ln.src_port, True)] = PORT_OUT
        anchors[(ln.dst, ln.dst_port, False)] = PORTS_IN[ln.dst_port]
    return auto_layout(page, sizes, anchors), sizes


def rect(pos, sizes, b):
    x, y = pos[b]
    return x, y, x + sizes[b][0], y + sizes[b][1]


def segments(page, pos, sizes):
    out = []
    for ln in page.links:
        (sx, sy), (dx, dy) = pos[ln.src], pos[ln.dst]
        out.append(((sx + sizes[ln.src][0], sy + PORT_OUT), (dx, dy + PORTS_IN[ln.dst_port]), ln))
    return out


def crossing_count(page, pos, sizes) -> int:
    def side(p, q, r):
        v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (v > 0) - (v < 0)

    n = 0
    for (p1, p2, a), (q1, q2, b) in combinations(segments(page, pos, sizes), 2):
        if {a.src, a.dst} & {b.src, b.dst}:
            continue  # wires meeting at a block do not cross
        if side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0:
            n += 1
    return n


def check_tidy(page, pos, sizes, gap: float = 40.0) -> None:
    assert set(pos) == {b.id for b in page}
    for a, b in combinations(pos, 2):
        ax0, ay0, ax1, ay1 = rect(pos, sizes, a)
        bx0, by0, bx1, by1 = rect(pos, sizes, b)
        assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}"
    for ln in page.links:
        assert pos[ln.dst][0] >= pos[ln.src][0] + sizes[ln.src][0] + gap, f"{ln} does not go left to right"


def blocks_on_line(page, pos, sizes) -> list[tuple[str, str]]:
    """(link, block) pairs where the straight line of a wire passes through a block it does not join."""
    hits = []
    for p, q, ln in segments(page, pos, sizes):
        for b in pos:
            if b in (ln.src, ln.dst):
                continue
            x0, y0, x1, y1 = rect(pos, sizes, b)
            for k in range(101):
                x = p[0] + (q[0] - p[0]) * k / 100
                y = p[1] + (q[1] - p[1]) * k / 100
                if x0 < x < x1 and y0 < y < y1:
                    hits.append((str(ln), b))
                    break
    return hits


def test_crossings_at_the_hand_computed_optimum():
    # three pieces, listed in an order that crosses as much as possible:
    # - a1, a2 both wired to b1 and b2 (K2,2): one crossing in any order, the optimum is 1
    # - s1 -> t3, s2 -> t2, s3 -> t1: a reversed matching, untangled it has none
    # - c1 -> c2 -> c3 and d1 -> d2 listed crosswise: none
    blocks = ["a2", "a1", "b1", "b2", "s1", "s2", "s3", "t1", "t2", "t3", "c1", "d1", "d2", "c2", "c3"]
    links = [("a1", "b1", "x"), ("a1", "b2", "x"), ("a2", "b1", "y"), ("a2", "b2", "y"),
             ("s1", "t3", "x"), ("s2", "t2", "x"), ("s3", "t1", "x"),
             ("c1", "c2", "x"), ("c2", "c3", "x"), ("d1", "d2", "x")]
    page = page_of(blocks, links)
    pos, sizes = lay_out(page)
    check_tidy(page, pos, sizes)
    # the page order stacked in two columns (sources left) crosses far more: the measure can see it
    naive = {}
    for k, b in enumerate(blocks):
        col = 0 if b[0] in "asd" or b == "c1" else (2 if b == "c3" else 1)
        naive[b] = (col * 400.0, k * 100.0)
    assert crossing_count(page, naive, sizes) >= 3
    assert crossing_count(page, pos, sizes) <= 1


def test_long_wires_get_a_corridor():
    # c1 feeds c2 -> c3 -> c4 and also c4 directly; e1 -> e2 -> e3 run beside. Without a corridor the
    # chain's blocks line up with c1 and c4, right on the long wire's line.
    blocks = ["c1", "c2", "c3", "c4", "e1", "e2", "e3"]
    links = [("c1", "c2", "x"), ("c2", "c3", "x"), ("c3", "c4", "x"), ("c1", "c4", "y"),
             ("e1", "e2", "x"), ("e2", "e3", "x"), ("c1", "e2", "y")]
    page = page_of(blocks, links)
    pos, sizes = lay_out(page)
    check_tidy(page, pos, sizes)
    assert pos["c4"][0] > pos["c3"][0] > pos["c2"][0] > pos["c1"][0]
    assert blocks_on_line(page, pos, sizes) == []


def test_sources_sit_next_to_their_reader_and_chains_stay_narrow():
    # a Const read only at the end of a chain of five sits in the column just before its reader
    blocks = ["k", "n0", "n1", "n2", "n3", "n4"]
    links = [("n0", "n1", "x"), ("n1", "n2", "x"), ("n2", "n3", "x"), ("n3", "n4", "x"), ("k", "n4", "y")]
    page = page_of(blocks, links)
    pos, sizes = lay_out(page)
    check_tidy(page, pos, sizes)
    assert pos["k"][0] == pos["n3"][0]
    assert blocks_on_line(page, pos, sizes) == []


def test_random_pages_are_tidy():
    rng = random.Random(7)
    for n in (12, 40, 90):
        blocks = [f"b{i}" for i in range(n)]
        links = []
        for i in range(1, n):
            for _ in range(rng.randint(1, 2)):
                links.append((f"b{rng.randrange(max(0, i - 6), i)}", f"b{i}", rng.choice("xy")))
        page = page_of(blocks, links)
        sizes = {b: (rng.choice((140.0, 180.0, 260.0)), rng.choice((70.0, 110.0, 160.0))) for b in blocks}
        pos, _ = lay_out(page, sizes)
        check_tidy(page, pos, sizes)


def test_a_cycle_is_laid_out_too():
    page = page_of(["a", "b", "c", "d"], [("a", "b", "x"), ("b", "c", "x"), ("c", "a", "x"), ("c", "d", "x")])
    pos, sizes = lay_out(page)
    for a, b in combinations(pos, 2):
        ax0, ay0, ax1, ay1 = rect(pos, sizes, a)
        bx0, by0, bx1, by1 = rect(pos, sizes, b)
        assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0
    forward = [ln for ln in page.links if pos[ln.dst][0] > pos[ln.src][0]]
    assert len(forward) == 3  # only the wire closing the cycle goes back
