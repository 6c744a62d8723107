"""Per-run overhead of the runner on a big SparseFillEmptyRowsGrad page, against hand-written TensorFlow.

The page makes its inputs inside the graph with random ops (N_full = 10,000,000 float32 grad values and
N = 8,000,000 int64 indices), so TensorFlow cannot fold them into constants and every run does the
full work. The same ops are built by hand in a tf.Graph and run with tf.compat.v1.Session in the
same process, through ``Session.make_callable`` (TensorFlow's fastest repeated-run path: no per-call fetch
parsing; there are no feeds), with the session's default options, as the page's are at its size.
The two alternate in pairs after a warm-up pair (``bench/common.py``). Prints the steady-state time per run
of each, the numpy reference and a plain 40 MB numpy copy for scale; the last line is
`ratio <page / hand-written>` (median of the pair ratios; target <= 1.05).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import finish, paired, show, timed

from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.runner import Runner
from enuflow.blocks.tf import load

N_FULL = 10_000_000
N = 8_000_000
REPEATS = 9


def page() -> Page:
    p = Page("run overhead")
    p.add_block(BlockInstance("rim", "RandomUniformInt", (0, 0),
                              {"shape": [N], "minval": 0, "maxval": N_FULL, "Tout": "int64", "seed": 1}))
    p.add_block(BlockInstance("grad", "RandomUniform", (0, 120), {"shape": [N_FULL], "dtype": "float32", "seed": 2}))
    p.add_block(BlockInstance("g", "SparseFillEmptyRowsGrad", (240, 60)))
    p.add_block(BlockInstance("session", "ClientSession", (480, 60)))
    p.add_link(Link("rim", "output", "g", "reverse_index_map"))
    p.add_link(Link("grad", "output", "g", "grad_values"))
    p.add_link(Link("g", "d_values", "session", "fetch_outputs"))
    p.add_link(Link("g", "d_default_value", "session", "fetch_outputs"))
    return p


def median_time(fn, repeats: int = REPEATS) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    tf = load()
    runner = Runner()
    pg = page()
    rep = runner.run(pg)
    assert not rep.errors, rep.errors
    assert rep.results.get("g", "d_values").shape == (N,)

    g = tf.Graph()
    with g.as_default():
        rim = tf.random.uniform([N], 0, N_FULL, dtype=tf.int64, seed=1)
        grad = tf.random.uniform([N_FULL], dtype=tf.float32, seed=2)
        dv, dd = tf.raw_ops.SparseFillEmptyRowsGrad(reverse_index_map=rim, grad_values=grad)
    sess = tf.compat.v1.Session(graph=g)
    hand = sess.make_callable([dv, dd])

    res = paired(timed(lambda: runner.run(pg)), timed(hand), pairs=REPEATS)

    rng = np.random.default_rng(0)
    r_np = rng.integers(0, N_FULL, N)
    g_np = rng.random(N_FULL, dtype=np.float32)

    def numpy_ref() -> None:
        visited = np.zeros(N_FULL, bool)
        visited[r_np] = True
        _ = g_np[r_np]
        _ = g_np[~visited].sum()

    np_s = median_time(numpy_ref, 5)
    copy_s = median_time(lambda: g_np.copy(), 9)
    print(f"N_full = {N_FULL:,}, N = {N:,} (float32 values, int64 indices, made in the graph)")
    print(f"numpy reference:             {np_s * 1e3:8.1f} ms")
    print(f"plain 40 MB numpy copy:      {copy_s * 1e3:8.1f} ms")
    print(f"graph builds by the runner:  {runner.builds}")
    runner.close()
    show(res, "page through the runner", "hand-written make_callable", unit="ms", scale=1000)
    finish(res.ratio)


if __name__ == "__main__":
    main()
