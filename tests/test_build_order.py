"""The page check's dependency order and cycles, and what the builder makes of each block, checked against
networkx and numpy: the order is networkx's topological sort of the page's links, the blocks on cycles are
its strongly connected parts, every block like one built before (the builder's quick and planned paths) computes
what numpy computes, and a failed block takes exactly its downstream blocks with it."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
from conftest import make_page

from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.builder import build
from enuflow.app.engine.runner import run_page


def _random_page(seed: int, n: int = 60) -> tuple[list, list]:
    """Blocks and links of a random dataflow page: Consts, and Add/Mul/AddN on earlier blocks (some wired more than
    once, AddN taking the same block twice), listed in a shuffled page order."""
    rng = random.Random(seed)
    blocks = [("c0", "Const", {"val": 1.5})]
    links = []
    for i in range(n):
        bid = f"k{i}"
        earlier = [b[0] for b in blocks]
        kind = rng.choice(["Add", "Mul", "AddN", "Const"])
        if kind == "Const":
            blocks.append((bid, "Const", {"val": rng.choice([0.5, 0.25, 1.0])}))
            continue
        blocks.append((bid, kind, {}))
        if kind == "AddN":
            a = rng.choice(earlier)
            for src in (a, rng.choice(earlier), a):
                links.append((src, _out(blocks, src), bid, "inputs"))
        else:
            for port in ("x", "y"):
                src = rng.choice(earlier)
                links.append((src, _out(blocks, src), bid, port))
    first, rest = blocks[:1], blocks[1:]
    rng.shuffle(rest)
    return first + rest, links


def _out(blocks: list, bid: str) -> str:
    kind = next(t for b, t, _ in blocks if b == bid)
    return {"Const": "output", "Add": "z", "Mul": "z", "AddN": "sum"}[kind]


def _numpy_values(blocks: list, links: list) -> dict[str, float]:
    """Each block's value computed by numpy, in an order networkx gives."""
    kinds = {b: (t, p) for b, t, p in blocks}
    g = nx.DiGraph()
    g.add_nodes_from(kinds)
    g.add_edges_from((s, d) for s, _, d, _ in links)
    value: dict[str, float] = {}
    for bid in nx.topological_sort(g):
        kind, pins = kinds[bid]
        ins = [s for s, _, d, _ in links if d == bid]
        if kind == "Const":
            value[bid] = np.float32(pins["val"])
        elif kind == "AddN":
            value[bid] = np.float32(sum(value[s] for s in ins))
        else:
            x, y = (value[next(s for s, _, d, p in links if d == bid and p == port)] for port in ("x", "y"))
            value[bid] = np.float32(x + y if kind == "Add" else x * y)
    return value


def test_order_is_networkx_topological_sort() -> None:
    for seed in range(5):
        blocks, links = _random_page(seed)
        an = analyse(make_page(blocks, links))
        assert not an.errors
        g = nx.DiGraph()
        g.add_nodes_from(b[0] for b in blocks)
        g.add_edges_from((s, d) for s, _, d, _ in links)
        # found while looking for cycles (no networkx fallback), and what networkx finds
        assert an.topological == an.order() == list(nx.topological_sort(g))


def test_blocks_like_others_compute_what_numpy_computes() -> None:
    blocks, links = _random_page(7, n=40)
    page = make_page(blocks, links)
    built = build(page)
    assert not built.errors and sorted(built.built) == sorted(b[0] for b in blocks)
    report = run_page(page)
    assert not report.errors
    expected = _numpy_values(blocks, links)
    for bid, want in expected.items():
        port = _out(blocks, bid)
        np.testing.assert_allclose(report.results.get(bid, port), want, rtol=1e-6)


def test_cycles_are_the_strongly_connected_parts() -> None:
    blocks = [("c", "Const", {"val": 1.0}), ("a", "Add", {}), ("b", "Neg", {}), ("s", "Add", {}),
              ("ok", "Neg", {}), ("after", "Neg", {})]
    links = [("c", "output", "a", "x"), ("b", "y", "a", "y"), ("a", "z", "b", "x"),  # a <-> b
             ("c", "output", "s", "x"), ("s", "z", "s", "y"),  # s linked to itself
             ("c", "output", "ok", "x"), ("a", "z", "after", "x")]
    page = make_page(blocks, links)
    an = analyse(page)
    g = nx.DiGraph([(s, d) for s, _, d, _ in links])
    on_cycles = {n for comp in nx.strongly_connected_components(g) for n in comp
                 if len(comp) > 1 or g.has_edge(n, n)}
    assert an.cyclic == on_cycles == {"a", "b", "s"}
    assert sorted(e.block for e in an.errors) == ["a", "s"]
    assert all("blocks on a cycle" in e.message for e in an.errors)
    built = build(page, an)
    # what is off the cycles builds; what is downstream of a block on one does not
    assert sorted(built.built) == ["c", "ok"]


def test_a_failed_block_takes_its_downstream_blocks_only() -> None:
    blocks = [("i", "Const", {"val": [1, 2], "dtype": "int32"}), ("f", "Const", {"val": 1.5}),
              ("bad", "Add", {}), ("down", "Neg", {}), ("down2", "Mul", {}),
              ("good", "Neg", {}), ("good2", "Add", {})]
    links = [("i", "output", "bad", "x"), ("f", "output", "bad", "y"),  # int32 + float32: refused
             ("bad", "z", "down", "x"), ("down", "y", "down2", "x"), ("f", "output", "down2", "y"),
             ("f", "output", "good", "x"), ("good", "y", "good2", "x"), ("f", "output", "good2", "y")]
    page = make_page(blocks, links)
    built = build(page)
    assert [e.block for e in built.errors] == ["bad"]
    assert "(wired from 'f.output')" in built.errors[0].message
    assert sorted(built.built) == ["f", "good", "good2", "i"]
    report = run_page(page)
    np.testing.assert_allclose(report.results.get("good2", "z"), np.float32(-1.5 + 1.5))
