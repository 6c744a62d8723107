"""What running a page on a TensorFlow cluster costs: a MatMul chain split over two local tasks, against the
same graph written by hand with the same placement on the same two tasks.

The page: two random 1024x1024 float32 matrices (made in the graph, so nothing is folded into constants)
and a chain of ``CHAIN`` MatMuls, each multiplying the previous product by the second matrix (scaled so
values stay finite). The first half of the chain runs on ``/job:worker/task:0`` and the second half on
``/job:worker/task:1``: two ``enuflow worker`` processes started here on free 127.0.0.1 ports. enuflow runs
the page with a ``Runner`` on the cluster (its session's target is task 0, as for ``enuflow run --cluster``).

The baseline is the fastest fair hand-written TensorFlow for the same work: the same ops (``RandomUniform``
with the same seeds, ``Mul``, ``MatMul``) in one ``tf.Graph`` with the same ``tf.device`` placement, a
``tf.compat.v1.Session`` on the same target with the same options (soft placement, the graph optimizer on as
enuflow's auto rule has it for a graph this small, device filters on the two tasks), and one
``Session.make_callable`` fetching what enuflow fetches: every block's result (the page shows them all, so
each 4 MB product crosses gRPC on both sides). Both must give the same last product. Both are warm (graph
built, session made, callable made); the sides alternate in pairs after a warm-up pair
(``bench/common.py``).

For information it also prints the split run against the same page run locally by a ``Runner`` in this
process (the cost of the cluster itself: gRPC copies of every fetched product, per-step RPCs; the compute is
the same and both tasks share this machine's cores).

The last line is ``ratio <enuflow split / hand-written split>`` (target <= 1.1). Fails when a task cannot be
started.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from enuflow.app.document.cluster import parse_cluster
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.runner import Runner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Paired, finish, paired, show, timed  # noqa: E402

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


def hand_written(target: str):
    """(session, step callable, the last product's index) of the split page's graph written by hand."""
    from tensorflow.core.protobuf import config_pb2

    from enuflow.blocks.tf import load

    tf = load()
    raw = tf.raw_ops
    g = tf.Graph()
    tasks = ("/job:worker/task:0", "/job:worker/task:1")
    with g.as_default():
        with tf.device(tasks[0]):
            x = raw.RandomUniform(shape=[N, N], dtype=tf.float32, seed=1, seed2=0)
            w = raw.RandomUniform(shape=[N, N], dtype=tf.float32, seed=2, seed2=0)
            scale = tf.constant(2.0 / N, tf.float32)
            ws = raw.Mul(x=w, y=scale)
        fetches = [x, w, scale, ws]
        prev = x
        for i in range(CHAIN):
            with tf.device(tasks[0] if i < CHAIN // 2 else tasks[1]):
                prev = raw.MatMul(a=prev, b=ws)
            fetches.append(prev)
    config = config_pb2.ConfigProto(allow_soft_placement=True)
    config.device_filters.extend(tasks)
    sess = tf.compat.v1.Session(target, graph=g, config=config)
    return sess, sess.make_callable(fetches), len(fetches) - 1


def start_tasks(folder: Path, path: Path) -> list[subprocess.Popen]:
    """Two ``enuflow worker`` tasks of the cluster file ``path``, listening; exits when one does not start."""
    procs = []
    for i in range(2):
        log = open(folder / f"task{i}.log", "wb")  # noqa: SIM115 - the task's stderr, closed with it
        procs.append(subprocess.Popen([sys.executable, "-m", "enuflow.app.cli", "worker", "--cluster", str(path),
                                       "--job", "worker", "--task", str(i)], cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=log))
        log.close()
    for i, proc in enumerate(procs):
        line = wait_listening(proc, START_WAIT)
        if "listening" not in line:
            stop_tasks(procs)
            raise SystemExit(f"cluster_overhead: task {i} did not start: {line!r}; see {folder}")
    return procs


def stop_tasks(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(spec: dict, path: Path, pairs: int) -> tuple[Paired, Paired]:
    """(enuflow split vs hand-written split, enuflow split vs enuflow local)."""
    local = Runner()
    remote = Runner(cluster=parse_cluster(spec, str(path)), timeout=120)
    sess, step, last = hand_written(remote.target)
    p_local, p_split = page(False), page(True)

    def run(runner: Runner, pg: Page) -> np.ndarray:
        rep = runner.run(pg)
        assert not rep.errors, rep.errors
        return rep.results.get(f"m{CHAIN - 1}", "product")

    try:
        a = run(remote, p_split)
        np.testing.assert_allclose(a, step()[last], rtol=1e-4)  # the same graph computes the same values
        np.testing.assert_allclose(a, run(local, p_local), rtol=1e-4)
        main = paired(timed(lambda: run(remote, p_split)), timed(step), pairs=pairs)
        info = paired(timed(lambda: run(remote, p_split)), timed(lambda: run(local, p_local)),
                      pairs=max(3, pairs // 2))
    finally:
        local.close()
        remote.close()
        sess.close()
    return main, info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=REPEATS)
    ns = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="enuflow-cluster-bench-"))
    spec = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    path = folder / "cluster.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    procs = start_tasks(folder, path)
    try:
        main_res, info = measure(spec, path, ns.pairs)
    finally:
        stop_tasks(procs)
    fetched = (CHAIN + 3) * N * N * 4 / 1e6
    print(f"MatMul chain: {CHAIN} x {N}x{N} float32 over two local tasks, every result fetched "
          f"(~{fetched:.0f} MB per run)")
    print("for information, split over the two tasks vs the same page run locally in this process:")
    show(info, "enuflow split", "enuflow local", unit="ms", scale=1000, indent="  ")
    print("split over the two tasks, enuflow vs hand-written TensorFlow with the same placement:")
    show(main_res, "enuflow split", "hand-written split", unit="ms", scale=1000, indent="  ")
    finish(main_res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
