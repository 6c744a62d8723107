"""Time from ``WorkerClient.run()`` to its "done" event on a warm worker, against ``Runner().run(page)``
in-process (warm), for the default page and for a page with a 10,000,000-element result.

The baseline is the same page on a warm in-process ``Runner``: the least a run can cost without a
worker, so the ratio is the price of the process boundary alone.

Also prints how long ``run()`` itself holds the caller (the GUI thread), and the longest gap of a
1 ms ticker thread in the editor process while a looped run streams steps for 5 s and returns. Last line: ``ratio <number>``
= worker round trip / in-process run for the default page (medians).
Usage: ``.venv/bin/python bench/worker_roundtrip.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.worker.client import WorkerClient, WorkerEvent

BIG = {"format": "enuflow.page", "version": 1, "name": "big",
       "blocks": [{"id": "r", "type": "Range", "pos": [0, 0], "pins": {"start": 0, "limit": 10_000_000, "delta": 1}}],
       "links": []}


def in_process(doc: dict, repeat: int) -> list[float]:
    from enuflow.app.engine.runner import Runner

    runner = Runner()
    page = page_from_doc("bench", doc)
    for _ in range(3):
        runner.run(page)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        report = runner.run(page)
        times.append(time.perf_counter() - t)
        assert report.ok, report.errors
    runner.close()
    return times


def in_worker(client: WorkerClient, events: queue.Queue, doc: dict, repeat: int) -> tuple[list[float], list[float]]:
    def once() -> tuple[float, float]:
        t = time.perf_counter()
        rid = client.run(doc)
        held = time.perf_counter() - t
        while True:
            ev = events.get(timeout=120)
            if ev.kind == "crashed":
                raise SystemExit(f"worker crashed: {ev.message}")
            if ev.kind == "done" and ev.run_id == rid:
                assert not ev.errors, ev.errors
                return time.perf_counter() - t, held

    for _ in range(3):
        once()
    times, held = [], []
    for _ in range(repeat):
        a, b = once()
        times.append(a)
        held.append(b)
    return times, held


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


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:8.2f} ms   min {min(xs) * 1e3:8.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    ns = ap.parse_args()
    default = json.loads((ROOT / "scenes" / "sparse_fill_empty_rows_grad.json").read_text())

    events: queue.Queue[WorkerEvent] = queue.Queue()
    client = WorkerClient(events.put)
    t = time.perf_counter()
    client.start()
    while events.get(timeout=120).kind != "ready":
        pass
    print(f"worker start to ready: {time.perf_counter() - t:.2f} s")
    try:
        w_default, held = in_worker(client, events, default, ns.repeat)
        w_big, held_big = in_worker(client, events, BIG, max(5, ns.repeat // 10))
        looped = json.loads(json.dumps(default))
        for b in looped["blocks"]:
            if b["type"] == "ClientSession":
                b["pins"]["INFINITE_LOOP"] = True
        gap, steps_done, stepped = longest_gap(client, events, looped, 5.0)
    finally:
        client.close()
    p_default = in_process(default, ns.repeat)
    p_big = in_process(BIG, max(5, ns.repeat // 10))

    print(f"default page, in-process Runner (warm): {ms(p_default)}")
    print(f"default page, warm worker run->done:    {ms(w_default)}")
    print(f"Range 10,000,000 int32, in-process:     {ms(p_big)}")
    print(f"Range 10,000,000 int32, worker:         {ms(w_big)}")
    print(f"run() holds the caller: max {max(held + held_big) * 1e3:.2f} ms")
    print(f"5 s looped run: {steps_done} steps, {stepped} step events; longest gap of a 1 ms ticker in the "
          f"editor process: {gap * 1e3:.1f} ms")
    print(f"ratio {statistics.median(w_default) / statistics.median(p_default):.2f}")


if __name__ == "__main__":
    main()
