"""What running a page on a TensorFlow cluster costs: a MatMul chain split over two local tasks vs run locally.

The page: two random 1024x1024 float32 matrices (made in the graph, so nothing is folded into constants)
and a chain of ``CHAIN`` MatMuls, each multiplying the previous product by the second matrix (scaled so
values stay finite). On the cluster, the first half of the chain runs on ``/job:worker/task:0`` and the
second half on ``/job:worker/task:1``: two ``enuflow worker`` processes started here on free 127.0.0.1
ports. The baseline is the same page run by the same ``Runner`` in this process (no target): the same
ops on the same CPU, which is the fastest way this machine can run them, so the difference is what the
cluster adds. Both runners are warm (graph built, session made) and their runs are interleaved.

What dominates the overhead: the page shows every block's result, so each run fetches every 4 MB
intermediate product, and on a cluster each of them crosses gRPC (task -> master -> this client: a
serialisation and a copy per tensor) where the local run hands over in-process buffers; the one product
sent from task 0 to task 1 and the per-step RPCs (RunGraph on two tasks) are small beside it. The
compute (2 GFLOP per MatMul) is the same, and on this machine both tasks share the same cores.

Prints the median time per run of each and the overhead; the last line is `ratio <cluster / local>`
(target <= 1.5). Fails when a task cannot be started.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from enuflow.app.document.cluster import parse_cluster
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.runner import Runner

N = 1024
CHAIN = 8
REPEATS = 7
START_WAIT = 300.0
ROOT = Path(__file__).resolve().parent.parent


def page(split: bool) -> Page:
    p = Page("cluster overhead")
    p.add_block(BlockInstance("x", "RandomUniform", (0, 0), {"shape": [N, N], "dtype": "float32", "seed": 1}))
    p.add_block(BlockInstance("w", "RandomUniform", (0, 120), {"shape": [N, N], "dtype": "float32", "seed": 2}))
    # scale w so that a product's values stay near 1: (x @ (w * 2/N)) has entries around 0.5
    p.add_block(BlockInstance("scale", "Const", (0, 240), {"val": 2.0 / N, "dtype": "float32"}))
    p.add_block(BlockInstance("ws", "Mul", (120, 120)))
    p.add_link(Link("w", "output", "ws", "x"))
    p.add_link(Link("scale", "output", "ws", "y"))
    prev = ("x", "output")
    for i in range(CHAIN):
        bid = f"m{i}"
        b = BlockInstance(bid, "MatMul", (240 + 120 * i, 60))
        if split:
            b.device = "/job:worker/task:0" if i < CHAIN // 2 else "/job:worker/task:1"
        p.add_block(b)
        p.add_link(Link(prev[0], prev[1], bid, "a"))
        p.add_link(Link("ws", "z", bid, "b"))
        prev = (bid, "product")
    if split:
        for bid in ("x", "w", "scale", "ws"):
            p.block(bid).device = "/job:worker/task:0"
    return p


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_listening(proc: subprocess.Popen, wait: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + wait
    line = b""
    while time.monotonic() < deadline and sel.select(timeout=max(0.0, deadline - time.monotonic())):
        ch = os.read(proc.stdout.fileno(), 1)
        if not ch or ch == b"\n":
            break
        line += ch
    sel.close()
    return line.decode("utf-8", "replace")


def timed_pair(a, b, repeats: int) -> tuple[float, float]:
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        a()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        b()
        tb.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="enuflow-cluster-bench-"))
    spec = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    path = folder / "cluster.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    procs = []
    try:
        for i in range(2):
            log = open(folder / f"task{i}.log", "wb")  # noqa: SIM115 - the task's stderr, closed with it
            procs.append(subprocess.Popen([sys.executable, "-m", "enuflow.app.cli", "worker", "--cluster", str(path),
                                           "--job", "worker", "--task", str(i)], cwd=ROOT, stdout=subprocess.PIPE,
                                          stderr=log))
            log.close()
        for i, proc in enumerate(procs):
            line = wait_listening(proc, START_WAIT)
            if "listening" not in line:
                print(f"task {i} did not start: {line!r}; see {folder}", file=sys.stderr)
                return 1
        local = Runner()
        remote = Runner(cluster=parse_cluster(spec, str(path)), timeout=120)
        p_local, p_split = page(False), page(True)

        def run_local() -> None:
            rep = local.run(p_local)
            assert not rep.errors, rep.errors

        def run_split() -> None:
            rep = remote.run(p_split)
            assert not rep.errors, rep.errors

        run_local()
        run_split()
        a = local.run(p_local).results.get(f"m{CHAIN - 1}", "product")
        b = remote.run(p_split).results.get(f"m{CHAIN - 1}", "product")
        np.testing.assert_allclose(a, b, rtol=1e-4)  # the same page computes the same values on the cluster
        t_local, t_split = timed_pair(run_local, run_split, REPEATS)
        local.close()
        remote.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    fetched = (CHAIN + 3) * N * N * 4 / 1e6
    print(f"MatMul chain: {CHAIN} x {N}x{N} float32, every result fetched (~{fetched:.0f} MB per run)")
    print(f"local page run (this process)          {t_local * 1e3:9.1f} ms")
    print(f"split over two local cluster tasks     {t_split * 1e3:9.1f} ms")
    print(f"overhead                               {(t_split - t_local) * 1e3:9.1f} ms per run")
    print(f"ratio {t_split / t_local:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
