"""Load + validate + build time of big generated pages, against building the same graph by hand.

Pages of 1,000 / 5,000 / 10,000 blocks: a third are scalar Consts, the rest Add and Mul blocks in
chains (x = the previous block) with fan-ins (y = a random earlier block). enuflow's time covers
reading the page file, validating it and building its tf.Graph.

The baseline is the fastest hand-written build of the same graph we know: one ``Placeholder`` per Const
(enuflow feeds Const values rather than baking them in, so the baseline does too), the same op types and
names, each op made with ``Graph._create_op_internal`` (what ``Graph.create_op`` calls after its
deprecation wrapper, and what the generated op functions reach after their argument handling) from
prebuilt AttrValue protos. It starts from the page's dict in memory; enuflow starts from the file.
enuflow pauses Python's cyclic garbage collector while it loads and builds; the baseline gets the same
pause (its time with the collector on is printed too). Before each timed run the collector frees what
earlier runs left (their graphs are cyclic garbage), so neither side pays for the other's garbage. The
sides alternate in pairs after a warm-up pair (``bench/common.py``), five pairs at each size; each size's
figure is the median of its pairs' ratios (the fastest of each side, printed for information, can pair a
quiet moment of one side with a busy one of the other). CPU seconds of this process are printed too.

Prints the times at each size and the per-block cost (flat = linear growth); the last line is
``ratio <enuflow / hand-written at 10,000 blocks>`` (wall clock, median of the pair ratios; target <= 1.3).
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import finish, paired, show

from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.builder import build
from enuflow.app.document.formats import load
from enuflow.blocks.tf import load as load_tf

SIZES = (1_000, 5_000, 10_000)
REPEATS = 5


def generate(n: int, seed: int = 0) -> dict:
    """A page of n blocks: every third a Const; Add and Mul alternate along one long chain (x = the
    previous op), Add's y fans in from a random earlier block, Mul's y is a Const in [0.25, 0.5] (so the
    values stay finite however long the chain)."""
    rng = random.Random(seed)
    blocks: list[dict] = []
    links: list[dict] = []
    consts: list[str] = []
    earlier: list[tuple[str, str]] = []  # (id, output port)
    prev: tuple[str, str] | None = None
    for i in range(n):
        bid = f"b{i}"
        pos = [i % 100 * 200, i // 100 * 120]
        if i % 3 == 0 or prev is None:
            val = round(rng.uniform(0.25, 0.5), 3) if consts else 1.0
            blocks.append({"id": bid, "type": "Const", "pos": pos, "pins": {"val": val, "dtype": "float32"}})
            consts.append(bid)
            earlier.append((bid, "output"))
            if prev is None:
                prev = (bid, "output")
            continue
        kind = "Add" if i % 2 else "Mul"
        blocks.append({"id": bid, "type": kind, "pos": pos, "pins": {}})
        links.append({"from": list(prev), "to": [bid, "x"]})
        y = earlier[rng.randrange(len(earlier))] if kind == "Add" else (rng.choice(consts), "output")
        links.append({"from": list(y), "to": [bid, "y"]})
        prev = (bid, "z")
        earlier.append(prev)
    return {"format": "enuflow.page", "version": 1, "name": f"scale {n}", "blocks": blocks, "links": links}


def by_hand(doc: dict, pause_gc: bool = True) -> tuple[float, float]:
    """(wall, CPU) seconds of building the page's graph by hand; ``pause_gc`` gives it enuflow's collector pause."""
    if pause_gc:
        gc.disable()
    try:
        c = time.process_time()
        wall = _by_hand(doc)
        return wall, time.process_time() - c
    finally:
        gc.enable()


def _by_hand(doc: dict) -> float:
    """The same graph as enuflow's, built the fastest way TensorFlow's Python API allows.

    A Placeholder named ``<id>/val`` per Const (enuflow feeds Const values), ``Add`` and ``Mul`` named
    after their blocks, every op through ``Graph._create_op_internal`` with prebuilt AttrValue protos,
    under the graph's default context as enuflow builds; the wiring comes from the page's links.
    """
    tf = load_tf()
    from tensorflow.core.framework import attr_value_pb2, tensor_shape_pb2

    t = time.perf_counter()
    g = tf.Graph()
    f32 = attr_value_pb2.AttrValue(type=tf.float32.as_datatype_enum)
    placeholder_attrs = {"dtype": f32, "shape": attr_value_pb2.AttrValue(shape=tensor_shape_pb2.TensorShapeProto())}
    op_attrs = {"T": f32}
    incoming: dict[str, dict[str, str]] = {}
    for ln in doc["links"]:
        incoming.setdefault(ln["to"][0], {})[ln["to"][1]] = ln["from"][0]
    made: dict[str, object] = {}
    create = g._create_op_internal
    with g.as_default():
        for b in doc["blocks"]:
            bid = b["id"]
            if b["type"] == "Const":
                made[bid] = create("Placeholder", [], name=bid + "/val", attrs=placeholder_attrs).outputs[0]
            else:
                ins = incoming[bid]
                made[bid] = create(b["type"], [made[ins["x"]], made[ins["y"]]], name=bid, attrs=op_attrs).outputs[0]
    return time.perf_counter() - t


def ours(path: Path) -> tuple[float, float, float, float]:
    """(wall, load, check, CPU) seconds of loading, validating and building the page file."""
    c = time.process_time()
    t0 = time.perf_counter()
    page = load(path)
    t1 = time.perf_counter()
    an = analyse(page)
    t2 = time.perf_counter()
    built = build(page, an)
    t3 = time.perf_counter()
    cpu = time.process_time() - c
    assert not built.errors, built.errors[:3]
    assert len(built.built) == len(page)
    return t3 - t0, t1 - t0, t2 - t1, cpu


def main() -> None:
    load_tf()
    from enuflow.blocks import REGISTRY

    REGISTRY.get("Add")  # the catalogue is loaded once per process, outside the timings
    ratio = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            doc = generate(n)
            path = Path(tmp) / f"p{n}.json"
            path.write_text(json.dumps(doc))
            runs_o, runs_h, runs_g = [], [], []

            def enuflow_side() -> float:
                # each side starts from the same clean heap: the graphs of earlier runs (cyclic garbage) are
                # collected first, not by whichever run's allocations happen to trigger the collector
                gc.collect()
                runs_o.append(ours(path))
                return runs_o[-1][0]

            def hand_side() -> float:
                gc.collect()
                runs_h.append(by_hand(doc))
                gc.collect()
                runs_g.append(by_hand(doc, pause_gc=False))  # for information: the collector left on
                return runs_h[-1][0]

            res = paired(enuflow_side, hand_side, pairs=REPEATS)
            o, h = statistics.median(res.ours), statistics.median(res.base)
            cpu_o = statistics.median(r[3] for r in runs_o[-REPEATS:])
            cpu_h = statistics.median(r[1] for r in runs_h[-REPEATS:])
            load_s = statistics.median(r[1] for r in runs_o)
            check_s = statistics.median(r[2] for r in runs_o)
            gc_on = statistics.median(r[0] for r in runs_g)
            print(f"{n:,} blocks: {o / n * 1e6:.1f} us/block; enuflow load {load_s:.3f} s, check {check_s:.3f} s; "
                  f"by hand with the collector on {gc_on:.3f} s")
            print(f"  CPU s {cpu_o:.3f} vs {cpu_h:.3f} (ratio {cpu_o / cpu_h:.2f}); "
                  f"fastest / fastest {min(res.ours) / min(res.base):.2f} (for information)")
            show(res, "enuflow load + check + build", "by hand", indent="  ")
            if n == 10_000:
                ratio = res.ratio
    finish(ratio)


if __name__ == "__main__":
    main()
