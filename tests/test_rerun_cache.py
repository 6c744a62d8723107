"""Cached re-runs (``app.engine.rerun_cache``): after a one-step run, a run after a value edit feeds the unchanged
pure results of the last run and runs only what the edit reaches; the results are those of a fresh run (checked
against numpy and against a fresh runner); state and randomness always run."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.engine.runner import Runner, run_page

RNG = np.random.default_rng(7)
A = RNG.standard_normal((6, 6)).astype(np.float32)
W = (RNG.standard_normal((6, 6)) / 3).astype(np.float32)
CHAIN = ["m1", "m2", "m3"]


@pytest.fixture
def runner() -> Iterator[Runner]:
    r = Runner()
    yield r
    r.close()


def chain_page(extra: list | None = None, links: list | None = None):
    """a @ w @ w @ w (m1..m3) + c (out): the chain is pure upstream of the cheap Add."""
    blocks = [("a", "Const", {"val": A.tolist(), "dtype": "float32"}),
              ("w", "Const", {"val": W.tolist(), "dtype": "float32"}),
              ("m1", "MatMul", {}), ("m2", "MatMul", {}), ("m3", "MatMul", {}),
              ("c", "Const", {"val": 1.0, "dtype": "float32"}), ("out", "Add", {})]
    wires = [("a", "output", "m1", "a"), ("w", "output", "m1", "b"), ("m1", "product", "m2", "a"),
             ("w", "output", "m2", "b"), ("m2", "product", "m3", "a"), ("w", "output", "m3", "b"),
             ("m3", "product", "out", "x"), ("c", "output", "out", "y")]
    return make_page(blocks + (extra or []), wires + (links or []))


def chain(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ W @ W @ W


def assert_same_as_fresh(page, report) -> None:
    fresh = run_page(page)
    assert set(fresh.results.values) == set(report.results.values)
    for k, v in fresh.results.values.items():
        if k[0] not in ("r", "twice"):  # (random: checked apart)
            np.testing.assert_array_equal(report.results.values[k], v, err_msg=str(k))


def test_a_cached_rerun_equals_a_fresh_run(runner: Runner) -> None:
    page = chain_page()
    first = runner.run(page)
    assert not first.errors and not first.cached_blocks  # nothing kept yet
    page.set_pin("c", "val", 5.0)
    again = runner.run(page)
    assert not again.errors and not again.rebuilt
    assert again.cached_blocks == {"a", "w", *CHAIN} and again.ran_blocks == {"c", "out"}
    np.testing.assert_allclose(again.results.get("out", "z"), chain(A) + 5.0, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(again.results.get("m3", "product"), chain(A), rtol=1e-4, atol=1e-4)
    assert_same_as_fresh(page, again)
    with pytest.raises(ValueError):  # what the next run may be fed cannot be changed in place
        again.results.get("m3", "product")[0, 0] = 0.0


def test_an_edit_upstream_runs_everything_it_reaches(runner: Runner) -> None:
    page = chain_page()
    runner.run(page)
    page.set_pin("c", "val", 2.0)
    runner.run(page)
    a2 = (A * 2).astype(np.float32)
    page.set_pin("a", "val", a2.tolist())
    edited = runner.run(page)
    assert set(CHAIN) | {"a", "out"} <= edited.ran_blocks and not set(CHAIN) & edited.cached_blocks
    np.testing.assert_allclose(edited.results.get("out", "z"), chain(a2) + 2.0, rtol=1e-4, atol=1e-4)
    assert_same_as_fresh(page, edited)


def test_an_edit_from_zero_to_minus_zero_is_an_edit(runner: Runner) -> None:
    # (typed in as text: the analysis' own cache of parsed pins takes the numbers 0.0 and -0.0 for equal)
    page = make_page([("one", "Const", {"val": 1.0, "dtype": "float32"}),
                      ("z", "Const", {"val": "0.0", "dtype": "float32"}), ("q", "RealDiv", {}), ("n", "Neg", {})],
                     [("one", "output", "q", "x"), ("z", "output", "q", "y"), ("q", "z", "n", "x")])
    assert runner.run(page).results.get("n", "y").item() == -np.inf
    page.set_pin("z", "val", "-0.0")
    assert runner.run(page).results.get("n", "y").item() == np.inf


def test_state_is_never_cached_and_the_counter_advances(runner: Runner) -> None:
    page = chain_page([("k", "Variable", {"initvalues": 0, "dtype": "int64", "shape": "[]"}),
                       ("one", "Const", {"val": 1, "dtype": "int64"}), ("tick", "AssignAdd", {}),
                       ("twice", "Mul", {"y": 2})],
                      [("k", "ref", "tick", "ref"), ("one", "output", "tick", "value"),
                       ("tick", "output_ref", "twice", "x")])
    seen = []
    for i in range(3):  # steps as F10 takes them: the Variables keep their values
        page.set_pin("c", "val", float(i))
        rep = runner.run(page, reset=False)
        assert not rep.errors
        seen.append((rep.results.get("tick", "output_ref").item(), rep.results.get("twice", "z").item()))
        np.testing.assert_allclose(rep.results.get("out", "z"), chain(A) + i, rtol=1e-4, atol=1e-4)
    assert seen == [(1, 2), (2, 4), (3, 6)]
    assert {"k", "tick", "twice"} <= rep.ran_blocks and not {"k", "tick", "twice"} & rep.cached_blocks
    assert set(CHAIN) <= rep.cached_blocks


def test_randomness_is_never_cached(runner: Runner) -> None:
    page = chain_page([("r", "RandomUniform", {"shape": [1000], "dtype": "float32"}), ("twice", "Mul", {"y": 2.0})],
                      [("r", "output", "twice", "x")])
    first = runner.run(page)
    page.set_pin("c", "val", 3.0)
    again = runner.run(page)
    assert {"r", "twice"} <= again.ran_blocks and set(CHAIN) <= again.cached_blocks
    r1, r2 = first.results.get("r", "output"), again.results.get("r", "output")
    assert not np.array_equal(r1, r2)  # drawn again
    np.testing.assert_array_equal(again.results.get("twice", "z"), r2 * np.float32(2.0))
    assert_same_as_fresh(page, again)


def test_runs_of_several_steps_use_no_cache(runner: Runner) -> None:
    page = chain_page()
    runner.run(page)
    page.set_pin("c", "val", 4.0)
    several = runner.run(page, steps=3)
    assert several.steps_done == 3 and not several.cached_blocks
    page.set_pin("c", "val", 6.0)
    after = runner.run(page)  # nothing was kept by the run of several steps
    assert not after.cached_blocks
    np.testing.assert_allclose(after.results.get("out", "z"), chain(A) + 6.0, rtol=1e-4, atol=1e-4)
    page.set_pin("c", "val", 7.0)
    assert runner.run(page).cached_blocks  # the one-step run before kept its results


def test_a_block_failing_after_an_edit_keeps_the_cached_results(runner: Runner) -> None:
    page = chain_page([("s", "Const", {"val": [0, 5], "dtype": "int32"}),
                       ("ax", "Const", {"val": 0, "dtype": "int32"}), ("g", "GatherV2", {})],
                      [("m3", "product", "g", "params"), ("s", "output", "g", "indices"), ("ax", "output", "g", "axis")])
    assert not runner.run(page).errors
    page.set_pin("s", "val", [0, 9])  # row 9 of 6
    bad = runner.run(page)
    assert [e.block for e in bad.errors] == ["g"]
    assert set(CHAIN) <= bad.cached_blocks
    np.testing.assert_allclose(bad.results.get("out", "z"), chain(A) + 1.0, rtol=1e-4, atol=1e-4)
    page.set_pin("s", "val", [2, 3])
    good = runner.run(page)  # after a failure the run computes everything again
    assert not good.errors and not good.cached_blocks
    np.testing.assert_allclose(good.results.get("g", "output"), chain(A)[[2, 3]], rtol=1e-4, atol=1e-4)


def test_text_results_are_fed_back_too(runner: Runner) -> None:
    page = make_page([("f", "Const", {"val": [1.5, 2.5], "dtype": "float32"}), ("s", "AsString", {}),
                      ("c", "Const", {"val": "x", "dtype": "string"}), ("j", "Add", {})],
                     [("f", "output", "s", "input"), ("s", "output", "j", "x"), ("c", "output", "j", "y")])
    runner.run(page)
    page.set_pin("c", "val", "yz")
    again = runner.run(page)
    assert again.cached_blocks == {"f", "s"} and again.ran_blocks == {"c", "j"}
    assert again.results.get("j", "z").tolist() == [b"1.500000yz", b"2.500000yz"]  # numpy's "%f" of each, then "yz"
