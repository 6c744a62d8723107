"""Does the editor stay responsive while a page runs, and what does running in a worker cost?

1. A page that keeps TensorFlow busy (a 1,000 x 1,000 MatMul fetched in an endless loop) runs in the
   editor's worker for about 5 s and is then stopped; a 1 ms timer in the GUI measures the longest gap
   between event-loop ticks (target <= 50 ms).
2. Run-to-results for the default page on a warm worker: from ``run_page()`` until the "done" event has
   been handled (results on the blocks and in the dock), against ``Runner.run`` of the same page in this
   process on a warm runner.

The baseline of part 2 is the same run in the editor's own process on a warm ``Runner`` (graph built,
session open): no process hop, no event handling, so nothing can be faster for the same results. The two
alternate in pairs after two warm-up pairs (``bench/common.py``).

Prints the figures and ends with ``ratio <editor run-to-results / in-process run>`` (median of the pair
ratios).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ENUFLOW_RECOVERY_DIR", tempfile.mkdtemp(prefix="enuflow-bench-rec-"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from common import finish, paired, show, timed  # noqa: E402

from enuflow.app.document.formats import load
from enuflow.app.document.formats.native import page_from_doc

DEFAULT = ROOT / "scenes" / "sparse_fill_empty_rows_grad.json"
BUSY_SECONDS = 5.0
REPEATS = 15


def busy_page():
    doc = {"format": "enuflow.page", "version": 1, "name": "busy", "blocks": [
        {"id": "a", "type": "Const", "pos": [0, 0], "pins": {"val": 0.5, "shape": "[1000][1000]", "dtype": "float32"}},
        {"id": "mm", "type": "MatMul", "pos": [250, 0], "pins": {}},
        {"id": "s", "type": "Sum", "pos": [500, 0], "pins": {}},
        {"id": "axes", "type": "Const", "pos": [250, 160], "pins": {"val": [0, 1], "dtype": "int32"}},
        {"id": "session", "type": "ClientSession", "pos": [750, 0], "pins": {"INFINITE_LOOP": True}}],
        "links": [{"from": ["a", "output"], "to": ["mm", "a"]}, {"from": ["a", "output"], "to": ["mm", "b"]},
                  {"from": ["mm", "product"], "to": ["s", "input"]},
                  {"from": ["axes", "output"], "to": ["s", "axis"]},
                  {"from": ["s", "output"], "to": ["session", "fetch_outputs"]},
                  {"from": ["mm", "product"], "to": ["session", "fetch_outputs"]}]}
    return page_from_doc("busy.json", doc)


class Waiter:
    """Collects the events the window has finished showing (``MainWindow.event_handled``)."""

    def __init__(self, w) -> None:
        self.seen: list[tuple[float, object]] = []
        self.loop = QEventLoop()
        w.event_handled.connect(self._on)

    def _on(self, ev) -> None:
        self.seen.append((time.perf_counter(), ev))
        self.loop.quit()

    def wait(self, kinds: tuple[str, ...], timeout: float = 180.0) -> tuple[float, object]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for i, (t, ev) in enumerate(self.seen):
                if ev.kind in kinds:
                    del self.seen[: i + 1]
                    return t, ev
            self.seen.clear()
            QTimer.singleShot(int(max(deadline - time.perf_counter(), 0) * 1000), self.loop.quit)
            self.loop.exec()
        raise RuntimeError(f"no {kinds} event within {timeout} s")


def main() -> None:
    app = QApplication.instance() or QApplication([])
    from enuflow.app.gui.window import MainWindow

    w = MainWindow(busy_page(), None, start_worker=True)
    w.show()
    waiter = Waiter(w)
    waiter.wait(("ready",))
    # warm the graph once, then measure a ~5 s run
    w.run_page(steps=2)
    waiter.wait(("done", "crashed"))
    if w.run_errors:
        print("busy page errors:", w.run_errors)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    where: list[tuple[float, float]] = []

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        if gaps[-1] > 30:
            where.append((now / 1e9, gaps[-1]))
        last[0] = now

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(tick)
    timer.start()
    w.run_page()
    QTimer.singleShot(int(BUSY_SECONDS * 1000), w.stop_run)
    _, ev = waiter.wait(("done", "crashed"), timeout=120)
    t_done_clock = clock.nsecsElapsed() / 1e9
    for _ in range(20):  # the done event's aftermath (previews, dock) is part of the run
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    print(f"busy run: {ev.kind} (stopped: {getattr(ev, 'stopped', False)}), {ev.steps_done} steps in ~{BUSY_SECONDS:.0f} s, "
          f"event-loop ticks {len(gaps)}")
    if os.environ.get("ENUFLOW_BENCH_VERBOSE"):
        print("gaps over 30 ms (seconds into the run, ms):", [(round(a, 2), round(b)) for a, b in where],
              "done handled at", round(t_done_clock, 2))
    print(f"longest event-loop gap during the run: {max(gaps):.1f} ms (median {statistics.median(gaps):.2f} ms; "
          "target <= 50 ms)")

    # run-to-results on the default page, warm worker vs in-process runner
    w.open_path(str(DEFAULT), ask=False)
    from enuflow.app.engine.runner import Runner

    page = load(DEFAULT)
    runner = Runner()

    def editor() -> float:
        t0 = time.perf_counter()
        w.run_page()
        t1, ev = waiter.wait(("done",))
        assert not ev.errors and ("g", "d_values") in w.values
        return t1 - t0

    def in_process() -> None:
        rep = runner.run(page)
        assert not rep.errors

    res = paired(editor, timed(in_process), pairs=REPEATS, warmup=2)
    w.worker.close()
    w.worker = None
    runner.close()
    show(res, "default page, Run to results shown (warm worker)", "default page, Runner.run in process (warm)",
         unit="ms", scale=1000)
    finish(res.ratio)


if __name__ == "__main__":
    main()
