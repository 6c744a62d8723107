"""First run of a fresh page at 1,000 / 10,000 / 100,000 blocks, against the same graph written by hand.

The page is a chain of scalar ``Neg`` blocks fed by one float32 Const (a long chain of small tensors is
where TensorFlow's graph optimizer costs most: see ``app.engine.session_options``). enuflow's time covers
what a person waits for after ``enuflow run PAGE``: reading the page file, validating it, building the
graph, opening the session and the first step, with the ``optimize`` pin left unset (auto), and the block
catalogue's load (its JSON cache, made by the warm-up pair when missing), which every run that looks a
generated block up pays (``Neg`` is one). Every block's result is fetched, as enuflow shows every block's
result.

The baseline is the fastest fair hand-written TensorFlow for the same work: the same ops with the same
names built with ``Graph._create_op_internal`` (no op-wrapper, no deprecation shim), the Const fed through
a Placeholder as enuflow feeds it (so neither side can constant-fold the chain), a session with the graph
optimizer disabled (``RewriterConfig.disable_meta_optimizer``; with it on, the hand-written graph took
19 s at 10,000 blocks in issue 8's measurement), and one ``CallableOptions`` callable fetching every Neg output, the runner's own
fast path. Its time is build + session + first step; it gets its graph from a dict in memory, not from
a file. Both sides import TensorFlow before their clock starts. Each measurement runs in a fresh process (a
real first run) and reports its peak resident memory; the sides alternate in pairs after a warm-up pair
(``bench/common.py``; at 100,000 blocks one pair and no warm-up), and each size's figure is the median of
its pairs' ratios.

Prints both times, µs per block (flat = linear growth) and peak RSS at each size; the last line is
``ratio <enuflow / hand-written at 10,000 blocks>`` (target <= 1.5; memory target: 100,000 blocks within
4 GB).

    .venv/bin/python bench/first_run.py [--sizes 1000,10000,100000] [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import finish, paired, show  # noqa: E402
VALUE = 1.5


def page_doc(n: int) -> dict:
    """A Const (1.5) and a chain of ``n - 1`` Neg blocks."""
    blocks = [{"id": "c", "type": "Const", "pos": [0, 0], "pins": {"val": VALUE, "dtype": "float32"}}]
    links = []
    prev = "c", "output"
    for i in range(1, n):
        bid = f"n{i}"
        blocks.append({"id": bid, "type": "Neg", "pos": [i % 100 * 200, i // 100 * 120], "pins": {}})
        links.append({"from": list(prev), "to": [bid, "x"]})
        prev = bid, "y"
    return {"format": "enuflow.page", "version": 1, "name": f"neg chain {n}", "blocks": blocks, "links": links}


def expected_last(n: int) -> float:
    return VALUE * (-1) ** (n - 1)


def one_enuflow(path: Path, n: int) -> float:
    from enuflow.app.document.formats import load
    from enuflow.app.engine.runner import Runner
    from enuflow.blocks import REGISTRY
    from enuflow.blocks.tf import load as load_tf

    load_tf()
    t0 = time.perf_counter()
    assert REGISTRY.get("Neg") is not None  # the catalogue's load, as in any fresh process that runs the page
    page = load(path)
    runner = Runner()
    report = runner.run(page)
    dt = time.perf_counter() - t0
    assert report.ok, report.errors[:3]
    assert report.results.get(f"n{n - 1}", "y") == expected_last(n)
    runner.close()
    return dt


def one_by_hand(n: int) -> float:
    import numpy as np

    from enuflow.blocks.tf import load as load_tf

    tf = load_tf()
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.core.protobuf import config_pb2

    doc = page_doc(n)
    t0 = time.perf_counter()
    g = tf.Graph()
    f32 = attr_value_pb2.AttrValue(type=tf.float32.as_datatype_enum)
    scalar = attr_value_pb2.AttrValue(shape=tf.TensorShape([]).as_proto())
    outs = []
    with g.as_default():
        ph = g._create_op_internal("Placeholder", [], name="c", attrs={"dtype": f32, "shape": scalar}).outputs[0]
        t = ph
        for b in doc["blocks"][1:]:
            t = g._create_op_internal("Neg", [t], name=b["id"], attrs={"T": f32}).outputs[0]
            outs.append(t)
    config = config_pb2.ConfigProto(allow_soft_placement=True)
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    sess = tf.compat.v1.Session(graph=g, config=config)
    opts = config_pb2.CallableOptions()
    opts.feed.append(ph.name)
    opts.fetch.extend(x.name for x in outs)
    fn = sess._make_callable_from_options(opts)
    result = fn(np.array(VALUE, np.float32))
    dt = time.perf_counter() - t0
    assert result[-1] == expected_last(n)
    sess.close()
    return dt


def measure(side: str, n: int, folder: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one first run in a fresh process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, __file__, "--one", side, "--n", str(n), "--folder", str(folder)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    if out.returncode != 0:
        sys.exit(f"{side} at {n} blocks failed:\n{out.stderr[-3000:]}")
    seconds, rss = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--one", choices=("enuflow", "hand"))
    ap.add_argument("--n", type=int)
    ap.add_argument("--folder")
    args = ap.parse_args()
    if args.one:
        path = Path(args.folder) / f"neg{args.n}.json"
        dt = one_enuflow(path, args.n) if args.one == "enuflow" else one_by_hand(args.n)
        print(json.dumps([dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if 10_000 not in sizes:
        sys.exit("first_run: the ratio is taken at 10,000 blocks: include 10000 in --sizes")
    ratio = None
    with tempfile.TemporaryDirectory(prefix="enuflow-first-run-") as tmp:
        folder = Path(tmp)
        for n in sizes:
            (folder / f"neg{n}.json").write_text(json.dumps(page_doc(n)))
            rss: dict[str, list[float]] = {"enuflow": [], "hand": []}

            def side(name: str, n: int = n, rss: dict = rss):
                def run() -> float:
                    seconds, peak = measure(name, n, folder)
                    rss[name].append(peak)
                    return seconds
                return run

            big = n > 10_000
            res = paired(side("enuflow"), side("hand"), pairs=1 if big else args.pairs, warmup=0 if big else 1)
            o, h = statistics.median(res.ours), statistics.median(res.base)
            print(f"{n:,} blocks: {o / n * 1e6:.1f} us/block (by hand {h / n * 1e6:.1f}); peak RSS "
                  f"{max(rss['enuflow']):.0f} MB (by hand {max(rss['hand']):.0f} MB)")
            show(res, "enuflow first run", "by hand", indent="  ")
            if n == 10_000:
                ratio = res.ratio
    finish(ratio)


if __name__ == "__main__":
    main()
