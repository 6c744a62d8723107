"""The page layout (``app.document.layout``, igraph's layered layout placed by real block sizes) without Qt, on pages
built by hand: loops (NextIteration back to Merge, a ring), a MobileNetV2-shaped page of 1,000+ blocks with
fan-in and fan-out, port order, Consts beside their reader, and pages whose old positions or sizes are absurd.
Every check reads the positions alone (rectangles from the given sizes, links from the page)."""

from __future__ import annotations

import math
import random

from enuflow.app.document.layout import auto_layout
from enuflow.app.document.page import BlockInstance, Link, Page


def build(blocks: list[tuple[str, str]], links: list[tuple[str, str, str, str]],
          pos: tuple[float, float] = (0.0, 0.0)) -> Page:
    p = Page("hand")
    for bid, typ in blocks:
        p.add_block(BlockInstance(bid, typ, pos, {}))
    for s, sp, d, dp in links:
        p.add_link(Link(s, sp, d, dp))
    return p


def overlaps(pos: dict, sizes: dict) -> list[tuple[str, str]]:
    """Pairs of rectangles that overlap (a sweep along x, checked pair by pair within it)."""
    rects = sorted((x, x + sizes[b][0], y, y + sizes[b][1], b) for b, (x, y) in pos.items())
    out = []
    for i, (_x0, x1, y0, y1, a) in enumerate(rects):
        for x0b, _x1b, y0b, y1b, b in rects[i + 1:]:
            if x0b >= x1:
                break
            if y0b < y1 and y0 < y1b:
                out.append((a, b))
    return out


def check_sane(page: Page, pos: dict, sizes: dict) -> None:
    """Every block placed, every coordinate finite and within the room the blocks need side by side, no overlap."""
    assert set(pos) == {b.id for b in page}
    room = sum(w + h + 200 for w, h in sizes.values())
    for bid, (x, y) in pos.items():
        assert math.isfinite(x) and math.isfinite(y), bid
        assert abs(x) <= room and abs(y) <= room, (bid, x, y)
    assert overlaps(pos, sizes) == []


def test_a_while_loop_goes_left_to_right_but_for_next_iteration_back_to_merge():
    blocks = [("enter", "Enter"), ("merge", "Merge"), ("limit", "Const"), ("less", "Less"), ("cond", "LoopCond"),
              ("switch", "Switch"), ("one", "Const"), ("add", "AddV2"), ("next", "NextIteration"), ("exit", "Exit")]
    links = [("enter", "output", "merge", "inputs"), ("next", "output", "merge", "inputs"),
             ("merge", "output", "less", "x"), ("limit", "output", "less", "y"), ("less", "z", "cond", "input"),
             ("merge", "output", "switch", "data"), ("cond", "output", "switch", "pred"),
             ("switch", "output_true", "add", "x"), ("one", "output", "add", "y"), ("add", "z", "next", "data"),
             ("switch", "output_false", "exit", "data")]
    page = build(blocks, links)
    sizes = {b.id: (170.0, 90.0) for b in page}
    pos = auto_layout(page, sizes)
    check_sane(page, pos, sizes)
    backwards = [(ln.src, ln.dst) for ln in page.links if pos[ln.dst][0] <= pos[ln.src][0]]
    assert backwards == [("next", "merge")]


def test_a_ring_of_blocks_gets_finite_places_without_overlap():
    n = 30
    page = build([(f"r{i}", "Identity") for i in range(n)],
                 [(f"r{i}", "output", f"r{(i + 1) % n}", "input") for i in range(n)])
    sizes = {b.id: (150.0 + 10 * (i % 3), 70.0 + 20 * (i % 4)) for i, b in enumerate(page)}
    pos = auto_layout(page, sizes)
    check_sane(page, pos, sizes)
    assert sum(1 for ln in page.links if pos[ln.dst][0] <= pos[ln.src][0]) == 1  # one wire closes the ring


def mobilenet_like(n_blocks: int = 1053) -> tuple[Page, dict]:
    """A page shaped like MobileNetV2 as imported: a chain of conv/batch-norm/relu stages, each conv with its
    weight Const and each batch norm with four Const parameters (fan-in), residual adds whose input also feeds
    the next stage (fan-out), one Const read by many blocks, and a ClientSession at the end."""
    rng = random.Random(3)
    blocks, links = [("input", "Placeholder"), ("eps", "Const")], []
    prev = skip = "input"
    i = 0
    while len(blocks) < n_blocks - 1:
        i += 1
        conv, bn, act = f"conv{i}", f"bn{i}", f"relu{i}"
        blocks += [(f"w{i}", "Const"), (conv, "Conv2D"), (bn, "FusedBatchNormV3"), (act, "Relu6")]
        links += [(prev, "output", conv, "input"), (f"w{i}", "output", conv, "filter"),
                  (conv, "output", bn, "x")]
        for k, port in enumerate(("scale", "offset", "mean", "variance")):
            blocks.append((f"bn{i}_{k}", "Const"))
            links.append((f"bn{i}_{k}", "output", bn, port))
        links += [(bn, "y", act, "features"), ("eps", "output", act, "eps")]
        prev = act
        if i % 3 == 0:
            blocks.append((f"add{i}", "AddV2"))
            links += [(act, "activations", f"add{i}", "x"), (skip, "output", f"add{i}", "y")]
            prev = skip = f"add{i}"
    blocks.append(("session", "ClientSession"))
    links.append((prev, "output", "session", "fetch_outputs"))
    page = build(blocks, links)
    sizes = {b.id: (rng.choice((180.0, 220.0, 300.0)), rng.choice((80.0, 120.0, 200.0))) for b in page}
    return page, sizes


def test_a_mobilenet_shaped_page_is_finite_bounded_and_left_to_right():
    page, sizes = mobilenet_like()
    assert len(page.blocks) >= 1000
    pos = auto_layout(page, sizes)
    check_sane(page, pos, sizes)
    for ln in page.links:  # acyclic: every wire goes right, with room for it
        assert pos[ln.dst][0] >= pos[ln.src][0] + sizes[ln.src][0] + 40, ln
    readers: dict[str, list[str]] = {}
    for ln in page.links:
        readers.setdefault(ln.src, []).append(ln.dst)
    for b in page:
        if b.type == "Const" and len(readers[b.id]) == 1:
            r = readers[b.id][0]
            assert 0 < pos[r][0] - (pos[b.id][0] + sizes[b.id][0]) <= 100, b.id  # just left of its reader


def test_blocks_that_feed_one_block_stand_in_the_order_of_its_ports():
    # page order and names deliberately opposite to the ports' order
    page = build([("c3", "Const"), ("c2", "Const"), ("c1", "Const"), ("op", "Select"), ("x", "Placeholder"),
                  ("neg", "Neg")],
                 [("c3", "output", "op", "e"), ("c1", "output", "op", "condition"), ("c2", "output", "op", "t"),
                  ("x", "output", "neg", "x"), ("neg", "y", "op", "extra")])
    sizes = {b.id: (160.0, 80.0) for b in page}
    sizes["op"] = (160.0, 140.0)
    anchors = {("op", "condition", False): 40.0, ("op", "t", False): 60.0, ("op", "e", False): 80.0,
               ("op", "extra", False): 100.0}
    pos = auto_layout(page, sizes, anchors)
    check_sane(page, pos, sizes)
    feeding = sorted(("c1", "c2", "c3", "neg"), key=lambda b: pos[b][1])
    assert feeding == ["c1", "c2", "c3", "neg"]


def test_absurd_old_positions_and_sizes_give_a_sane_layout():
    page = build([("a", "Const"), ("b", "Neg"), ("c", "Neg")],
                 [("a", "output", "b", "x"), ("b", "y", "c", "x")], pos=(3.7e17, -1e15))
    sizes = {"a": (160.0, 80.0), "b": (float("nan"), 80.0), "c": (160.0, float("inf"))}
    pos = auto_layout(page, sizes)
    assert all(abs(v) < 1e4 for p in pos.values() for v in p), pos
    assert pos["a"][0] < pos["b"][0] < pos["c"][0]


def test_random_pages_with_fan_in_and_fan_out_never_overlap():
    rng = random.Random(11)
    for n in (50, 400):
        blocks = [(f"b{i}", "AddN") for i in range(n)]
        links = []
        for i in range(1, n):
            for _ in range(rng.choice((1, 1, 2, 5))):
                links.append((f"b{rng.randrange(max(0, i - 40), i)}", "sum", f"b{i}", "inputs"))
        page = build(blocks, links)
        sizes = {b.id: (rng.choice((140.0, 260.0)), rng.choice((60.0, 110.0, 300.0))) for b in page}
        pos = auto_layout(page, sizes)
        check_sane(page, pos, sizes)
        for ln in page.links:
            assert pos[ln.dst][0] > pos[ln.src][0], ln


def test_a_page_in_several_pieces_with_skip_wires_is_laid_out():
    """igraph 1.0 files the routes of long wires of a graph in several pieces under the wrong wires (the layout
    failed with IndexError): every block placed, finite, left to right, no overlap."""
    blocks = [(f"a{i}", "AddN") for i in range(4)] + [(f"b{i}", "AddN") for i in range(3)] + [("lone", "Const")]
    links = [("a0", "sum", "a1", "inputs"), ("a1", "sum", "a2", "inputs"), ("a0", "sum", "a2", "inputs"),
             ("a2", "sum", "a3", "inputs"), ("a0", "sum", "a3", "inputs"),
             ("b0", "sum", "b1", "inputs"), ("b1", "sum", "b2", "inputs"), ("b0", "sum", "b2", "inputs")]
    page = build(blocks, links)
    sizes = {b.id: (160.0, 70.0) for b in page}
    pos = auto_layout(page, sizes)
    check_sane(page, pos, sizes)
    for s, _sp, d, _dp in links:
        assert pos[d][0] > pos[s][0], (s, d)


def test_a_long_chain_wraps_into_bands_read_as_lines_of_text():
    """``wrap``: a model's long chain (40 blocks in a row, 8,000 units wide) is cut into bands of whole columns,
    one below the other, each starting at the left: near the screen's shape, no overlap, every reader right of
    its input or in the band below; a short page is left as it is."""
    n = 40
    page = build([(f"b{i}", "Neg") for i in range(n)], [(f"b{i}", "y", f"b{i + 1}", "x") for i in range(n - 1)])
    sizes = {b.id: (160.0, 70.0) for b in page}
    flat = auto_layout(page, sizes)
    wrapped = auto_layout(page, sizes, wrap=1.6)
    check_sane(page, wrapped, sizes)

    def shape(pos: dict) -> float:
        xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
        return (max(xs) - min(xs) + 160.0) / (max(ys) - min(ys) + 70.0)

    assert shape(flat) > 50 and 0.5 < shape(wrapped) < 4
    rows = sorted({y for _x, y in wrapped.values()})
    assert len(rows) >= 3
    for i in range(n - 1):
        (sx, sy), (dx, dy) = wrapped[f"b{i}"], wrapped[f"b{i + 1}"]
        assert (dy == sy and dx > sx) or (dy > sy and dx < sx), (i, wrapped[f"b{i}"], wrapped[f"b{i + 1}"])
    short = build([(f"s{i}", "Neg") for i in range(4)], [(f"s{i}", "y", f"s{i + 1}", "x") for i in range(3)])
    sizes4 = {b.id: (160.0, 70.0) for b in short}
    assert auto_layout(short, sizes4, wrap=1.6) == auto_layout(short, sizes4)


def stress_page(n: int, seed: int = 7) -> Page:
    """``n`` blocks, each fed by one or two of the six blocks before it (the shape of bench/layout.py's page)."""
    rng = random.Random(seed)
    page = build([(f"b{i}", "AddN") for i in range(n)], [])
    for i in range(1, n):
        for s in rng.sample(range(max(0, i - 6), i), 1 if rng.random() < 0.7 else min(2, i)):
            page.add_link(Link(f"b{s}", "sum", f"b{i}", "inputs"))
    return page


def test_a_10000_block_page_is_finite_bounded_left_to_right_and_never_overlaps():
    page = stress_page(10_000)
    rng = random.Random(3)
    sizes = {b.id: (rng.choice((160.0, 200.0, 320.0)), rng.choice((90.0, 130.0, 250.0))) for b in page}
    pos = auto_layout(page, sizes)
    check_sane(page, pos, sizes)
    for ln in page.links:  # acyclic: every wire goes right
        assert pos[ln.dst][0] >= pos[ln.src][0] + sizes[ln.src][0], ln
