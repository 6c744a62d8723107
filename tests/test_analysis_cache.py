"""The analysis cache: a value edit re-reads only what changed; any structural change is analysed afresh.

Results are checked against numpy; which analysis parts were reused is checked by object identity (the
structure's graph) and by counting the blocks whose pins were parsed again.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.document.page import BlockInstance, Link
from enuflow.app.engine import analysis
from enuflow.app.engine.analysis import AnalysisCache, analyse
from enuflow.app.engine.runner import Runner


def chain_page():
    """a, b, c Consts; s = a + b; m = s * c."""
    return make_page([("a", "Const", {"val": [1.0, 2.0], "dtype": "float32"}),
                      ("b", "Const", {"val": [10.0, 20.0], "dtype": "float32"}),
                      ("c", "Const", {"val": 3.0, "dtype": "float32"}),
                      ("s", "Add", {}), ("m", "Mul", {})],
                     [("a", "output", "s", "x"), ("b", "output", "s", "y"),
                      ("s", "z", "m", "x"), ("c", "output", "m", "y")])


def expected(page) -> np.ndarray:
    def val(bid):
        return np.asarray(page.block(bid).pins["val"], dtype=page.block(bid).pins.get("dtype", "float32"))

    return (val("a") + val("b")) * val("c")


@pytest.fixture
def parsed(monkeypatch):
    """The ids of the blocks whose pins the analysis parses, in order."""
    seen: list[str] = []
    real = analysis.block_pins

    def spy(page, b, *a, **kw):
        seen.append(b.id)
        return real(page, b, *a, **kw)

    monkeypatch.setattr(analysis, "block_pins", spy)
    return seen


def test_value_edit_reuses_structure_and_reparses_only_the_edited_block(parsed) -> None:
    page = chain_page()
    cache = AnalysisCache()
    first = analyse(page, cache=cache)
    assert sorted(parsed) == ["a", "b", "c", "m", "s"]
    parsed.clear()
    page.set_pin("b", "val", [100.0, 200.0])
    second = analyse(page, cache=cache)
    assert parsed == ["b"]
    assert second.dag is first.dag and second.signature == first.signature
    assert second.values["b"]["val"].tolist() == [100.0, 200.0]
    assert second.values["a"]["val"].tolist() == [1.0, 2.0]
    # the same answers as an analysis without a cache
    fresh = analyse(page)
    assert fresh.signature == second.signature and fresh.errors == second.errors
    assert {k: {p: v.tolist() for p, v in vals.items()} for k, vals in fresh.values.items()} == \
        {k: {p: v.tolist() for p, v in vals.items()} for k, vals in second.values.items()}


def test_runner_value_edits_give_new_results_without_rebuild() -> None:
    page = chain_page()
    runner = Runner()
    try:
        r1 = runner.run(page)
        assert r1.ok and np.allclose(r1.results.get("m", "z"), expected(page))
        for k, v in enumerate(([5.0, 6.0], [-1.5, 0.25], [7.0, 8.0])):
            page.set_pin("a", "val", v)
            page.set_pin("c", "val", 2.0 + k)
            r = runner.run(page)
            assert r.ok and not r.rebuilt
            assert np.allclose(r.results.get("m", "z"), expected(page))
            assert np.allclose(r.results.get("s", "z"), np.add(v, [10.0, 20.0]))
        assert runner.builds == 1
    finally:
        runner.close()


def test_value_that_no_longer_parses_is_reported_then_fixed() -> None:
    page = chain_page()
    runner = Runner()
    try:
        assert runner.run(page).ok
        page.set_pin("c", "val", "three")
        bad = runner.run(page)
        assert [(e.block, e.port) for e in bad.errors] == [("c", "val")]
        assert bad.results.get("m", "z") is None
        assert np.allclose(bad.results.get("s", "z"), [11.0, 22.0])
        page.set_pin("c", "val", 4.0)
        good = runner.run(page)
        assert good.ok and np.allclose(good.results.get("m", "z"), [44.0, 88.0])
    finally:
        runner.close()


def test_new_link_invalidates_the_cache() -> None:
    page = make_page([("a", "Const", {"val": 2.0, "dtype": "float32"}),
                      ("b", "Const", {"val": 5.0, "dtype": "float32"}),
                      ("n", "AddN", {})],
                     [("a", "output", "n", "inputs")])
    cache = AnalysisCache()
    first = analyse(page, cache=cache)
    runner = Runner()
    try:
        assert runner.run(page).results.get("n", "sum").item() == 2.0
        page.add_link(Link("b", "output", "n", "inputs"))
        second = analyse(page, cache=cache)
        assert second.dag is not first.dag and second.dag.has_edge("b", "n")
        assert second.signature != first.signature
        r = runner.run(page)
        assert r.rebuilt and r.results.get("n", "sum").item() == 7.0
        page.add_link(Link("a", "output", "n", "inputs"))  # the same output wired twice into a list port
        r = runner.run(page)
        assert r.rebuilt and r.results.get("n", "sum").item() == 9.0
    finally:
        runner.close()


def test_removed_block_invalidates_the_cache() -> None:
    page = chain_page()
    page.add_block(BlockInstance("d", "Const", (0.0, 0.0), {"val": [1.0, 1.0], "dtype": "float32"}))
    page.add_block(BlockInstance("n", "Neg", (0.0, 0.0), {}))
    page.add_link(Link("d", "output", "n", "x"))
    cache = AnalysisCache()
    runner = Runner()
    try:
        first = analyse(page, cache=cache)
        r1 = runner.run(page)
        assert r1.results.get("n", "y").tolist() == [-1.0, -1.0]
        page.remove_block("d")
        second = analyse(page, cache=cache)
        assert "d" not in second.decls and second.dag is not first.dag
        assert [(e.block, e.port) for e in second.errors] == [("n", "x")]  # not wired and no value now
        r2 = runner.run(page)
        assert r2.rebuilt and [(e.block, e.port) for e in r2.errors] == [("n", "x")]
        assert r2.results.get("n", "y") is None and np.allclose(r2.results.get("m", "z"), expected(page))
        page.remove_block("n")
        r3 = runner.run(page)
        assert r3.rebuilt and r3.ok and np.allclose(r3.results.get("m", "z"), expected(page))
    finally:
        runner.close()


def test_changed_dtype_setting_invalidates_the_cache() -> None:
    page = chain_page()
    cache = AnalysisCache()
    runner = Runner()
    try:
        first = analyse(page, cache=cache)
        assert runner.run(page).results.get("m", "z").dtype == np.float32
        for bid in ("a", "b", "c"):
            page.set_pin(bid, "dtype", "float64")
        second = analyse(page, cache=cache)
        assert second.dag is not first.dag and second.signature != first.signature
        assert second.values["a"]["val"].dtype == np.float64
        r = runner.run(page)
        assert r.rebuilt and r.ok
        out = r.results.get("m", "z")
        assert out.dtype == np.float64 and np.array_equal(out, expected(page))
        page.set_pin("c", "dtype", "float32")  # a clash the build reports, naming the block and port
        r = runner.run(page)
        assert r.rebuilt and [(e.block, e.port) for e in r.errors] == [("m", "y")]
    finally:
        runner.close()


def test_value_of_a_new_dtype_or_shape_rebuilds() -> None:
    page = make_page([("a", "Const", {"val": 2}), ("n", "Neg", {})], [("a", "output", "n", "x")])
    runner = Runner()
    try:
        r = runner.run(page)
        assert r.results.get("n", "y").dtype == np.int32 and r.results.get("n", "y").item() == -2
        page.set_pin("a", "val", 2.5)  # no dtype pin: the value's own type (float32) is the graph's
        r = runner.run(page)
        assert r.rebuilt and r.results.get("n", "y").dtype == np.float32 and r.results.get("n", "y").item() == -2.5
        page.set_pin("a", "val", [1.0, 3.0])
        r = runner.run(page)
        assert r.rebuilt and r.results.get("n", "y").tolist() == [-1.0, -3.0]
        page.set_pin("a", "val", [4.0, 5.0])
        r = runner.run(page)
        assert not r.rebuilt and r.results.get("n", "y").tolist() == [-4.0, -5.0]
    finally:
        runner.close()


def test_label_edit_is_seen_but_does_not_rebuild() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {})], [("a", "output", "n", "x")])
    cache = AnalysisCache()
    first = analyse(page, cache=cache)
    page.set_block_field("n", "label", "negate")
    second = analyse(page, cache=cache)
    assert second.dag is not first.dag and second.signature == first.signature
    runner = Runner()
    try:
        runner.run(page)
        page.set_block_field("n", "label", "minus")
        r = runner.run(page)
        assert not r.rebuilt and r.results.get("n", "y").item() == -1.0
    finally:
        runner.close()


def test_nested_list_value_edited_in_place_is_seen(parsed) -> None:
    page = make_page([("a", "Const", {"val": [[1.0, 2.0], [3.0, 4.0]]}), ("n", "Neg", {})],
                     [("a", "output", "n", "x")])
    cache = AnalysisCache()
    analyse(page, cache=cache)
    parsed.clear()
    page.block("a").pins["val"][1][0] = 30.0  # the same list object, changed inside
    an = analyse(page, cache=cache)
    assert parsed == ["a"] and an.values["a"]["val"].tolist() == [[1.0, 2.0], [30.0, 4.0]]
