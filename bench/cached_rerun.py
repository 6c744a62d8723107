"""Cached re-runs: the run after editing a cheap block's value, recomputing everything against using the cache.

The page: Placeholders ``x`` and ``w`` (1024x1024 float32, fed from their ``value`` pins) and a chain of 20
MatMuls ``m1 = x @ w``, ``m(i+1) = m(i) @ w`` (the expensive, stateless upstream), feeding a cheap ``Add`` of
``m20`` and a scalar Const ``c``. Each timed run first edits ``c``'s value, then runs the page once.

Both sides are enuflow's own run of the same page in the same process, through a ``Runner`` that keeps the
built graph and session (no rebuild on either side: a value edit only feeds the new value): the baseline's
runner is made with ``rerun_cache=False``, so its run after the edit computes the whole page, as every run did
before cached re-runs; ours feeds ``m20`` from the last run's results and runs only the Add. That is the
cost the cache removes, with nothing else in between; the values are fed (Placeholders), so TensorFlow's
constant folding cannot precompute the chain on either side. Every timed cached run's result is checked
against numpy (``m20 + c``, computed once) and against a fresh run of the same page; ``w`` is scaled by
1/sqrt(1024) so that the chain's values stay finite. Alternating pairs after a warm-up (``bench/common.py``).
The last line is ``ratio <full re-run time / cached re-run time>`` (target >= 10).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, paired, show

from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.runner import Runner, run_page
from enuflow.blocks.tf import load

N, CHAIN = 1024, 20


def make_page(x: np.ndarray, w: np.ndarray) -> Page:
    page = Page("cached_rerun")
    for i, (bid, arr) in enumerate((("x", x), ("w", w))):
        page.add_block(BlockInstance(bid, "Placeholder", (0.0, 80.0 * i),
                                     {"dtype": "float32", "shape": [N, N],
                                      "value": {"dtype": "float32", "shape": [N, N], "value": arr}}))
    prev = "x"
    for i in range(1, CHAIN + 1):
        page.add_block(BlockInstance(f"m{i}", "MatMul", (120.0 * i, 0.0), {}))
        page.add_link(Link(prev, "output" if prev == "x" else "product", f"m{i}", "a"))
        page.add_link(Link("w", "output", f"m{i}", "b"))
        prev = f"m{i}"
    page.add_block(BlockInstance("c", "Const", (120.0 * CHAIN, 120.0), {"val": 0.0, "dtype": "float32"}))
    page.add_block(BlockInstance("out", "Add", (120.0 * (CHAIN + 1), 0.0), {}))
    page.add_link(Link(prev, "product", "out", "x"))
    page.add_link(Link("c", "output", "out", "y"))
    return page


def main() -> None:
    load()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, N)).astype(np.float32)
    w = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32)
    page = make_page(x, w)
    ours, base = Runner(), Runner(rerun_cache=False)
    first = ours.run(page)
    assert not first.errors, first.errors[:3]
    chain = first.results.get(f"m{CHAIN}", "product")
    assert np.isfinite(chain).all()
    base.run(page)
    edits = [0]

    def run(runner: Runner, cached: bool) -> float:
        edits[0] += 1
        value = float(edits[0])
        page.set_pin("c", "val", value)
        t = time.perf_counter()
        rep = runner.run(page)
        dt = time.perf_counter() - t
        assert not rep.errors and not rep.rebuilt, rep.errors[:3]
        got = rep.results.get("out", "z")
        np.testing.assert_allclose(got, chain + np.float32(value), rtol=1e-6, atol=1e-5)
        assert bool(rep.cached_blocks) == cached and (not cached or rep.ran_blocks == {"c", "out"}), \
            (rep.ran_blocks, rep.cached_blocks)
        return dt

    res = paired(lambda: run(ours, True), lambda: run(base, False), pairs=7)
    last = ours.run(page)  # the results equal a fresh run's, every one of them
    fresh = run_page(page)
    assert set(last.results.values) == set(fresh.results.values)
    for k, v in fresh.results.values.items():
        assert np.array_equal(v, last.results.values[k]), k
    ours.close()
    base.close()
    print(f"a chain of {CHAIN} MatMuls on {N}x{N} feeding an Add; the Add's Const edited before each run; "
          f"cached results equal a fresh run's")
    show(res, "cached re-run", "full re-run", unit="ms", scale=1000)
    finish(1.0 / res.ratio)


if __name__ == "__main__":
    main()
