"""Time from ``WorkerClient.run()`` to its "done" event on a warm worker, against ``Runner().run(page)``
in-process (warm), for the default page and for a page with a 10,000,000-element result.

The baseline is the same page on a warm in-process ``Runner``: the least a run can cost without a
worker, so the ratio is the price of the process boundary alone. The two alternate in pairs after
warm-up pairs (``bench/common.py``).

Also prints how long ``run()`` itself holds the caller (the GUI thread), and the longest gap of a
1 ms ticker thread in the editor process while a looped run streams steps for 5 s and returns. Last line: ``ratio <number>``
= worker round trip / in-process run for the default page (median of the pair ratios).
Usage: ``.venv/bin/python bench/worker_roundtrip.py [--pairs N]``
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import finish, paired, show, timed  # noqa: E402

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.worker.client import WorkerClient, WorkerEvent

BIG = {"format": "enuflow.page", "version": 1, "name": "big",
       "blocks": [{"id": "r", "type": "Range", "pos": [0, 0], "pins": {"start": 0, "limit": 10_000_000, "delta": 1}}],
       "links": []}


def in_process(runner, page) -> None:
    report = runner.run(page)
    assert report.ok, report.errors


def in_worker(client: WorkerClient, events: queue.Queue, doc: dict, held: list[float]) -> float:
    """One run from ``client.run()`` to its "done" event (seconds); how long ``run()`` held the caller goes to
    ``held``."""
    t = time.perf_counter()
    rid = client.run(doc)
    held.append(time.perf_counter() - t)
    while True:
        ev = events.get(timeout=120)
        if ev.kind == "crashed":
            raise SystemExit(f"worker crashed: {ev.message}")
        if ev.kind == "done" and ev.run_id == rid:
            assert not ev.errors, ev.errors
            return time.perf_counter() - t


def longest_gap(client: WorkerClient, events: queue.Queue, doc: dict, seconds: float) -> tuple[float, int, int]:
    """Longest gap between 1 ms ticks of the calling thread while a looped run streams for ``seconds``
    and then stops; also (steps done, step events seen)."""
    import threading

    gaps = [0.0]
    end = threading.Event()

    def ticker() -> None:
        last = time.perf_counter()
        while not end.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps[0] = max(gaps[0], now - last)
            last = now

    th = threading.Thread(target=ticker)
    th.start()
    rid = client.run(doc)
    t = time.perf_counter()
    stepped = 0
    while True:
        left = seconds - (time.perf_counter() - t)
        try:
            ev = events.get(timeout=max(left, 0.01))
        except queue.Empty:
            ev = None
        if ev is not None and ev.kind == "step":
            stepped += 1
        if ev is not None and ev.kind == "done" and ev.run_id == rid:
            break
        if left <= 0 and client.busy:
            client.stop()
    end.set()
    th.join()
    return gaps[0], ev.steps_done, stepped


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=30)
    ns = ap.parse_args()
    from enuflow.app.engine.runner import Runner

    default = json.loads((ROOT / "scenes" / "sparse_fill_empty_rows_grad.json").read_text())
    events: queue.Queue[WorkerEvent] = queue.Queue()
    client = WorkerClient(events.put)
    t = time.perf_counter()
    client.start()
    while events.get(timeout=120).kind != "ready":
        pass
    print(f"worker start to ready: {time.perf_counter() - t:.2f} s")
    runner = Runner()
    held: list[float] = []
    try:
        res = {}
        for name, doc, pairs in (("default", default, ns.pairs), ("big", BIG, max(5, ns.pairs // 10))):
            page = page_from_doc("bench", doc)
            res[name] = paired(lambda doc=doc: in_worker(client, events, doc, held),
                               timed(lambda page=page: in_process(runner, page)), pairs=pairs, warmup=3)
        looped = json.loads(json.dumps(default))
        for b in looped["blocks"]:
            if b["type"] == "ClientSession":
                b["pins"]["INFINITE_LOOP"] = True
        gap, steps_done, stepped = longest_gap(client, events, looped, 5.0)
    finally:
        client.close()
        runner.close()
    print("Range 10,000,000 int32:")
    show(res["big"], "worker run->done", "in-process Runner (warm)", unit="ms", scale=1000, indent="  ")
    print(f"run() holds the caller: max {max(held) * 1e3:.2f} ms")
    print(f"5 s looped run: {steps_done} steps, {stepped} step events; longest gap of a 1 ms ticker in the "
          f"editor process: {gap * 1e3:.1f} ms")
    print("default page:")
    show(res["default"], "warm worker run->done", "in-process Runner (warm)", unit="ms", scale=1000, indent="  ")
    finish(res["default"].ratio)


if __name__ == "__main__":
    main()
