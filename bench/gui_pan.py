"""Panning across a large page: the 2,000-block page of ``gui_load.py`` (~4,000 links) is opened in the
editor at 50 % (the lowest zoom a page opens at, so every block is drawn in full detail and the most
blocks are on screen) and panned in steps of 40 screen pixels along a path that crosses the whole page
three times (left to right, down, back, down, across again: a few hundred frames); each frame is timed
from moving the view to the end of painting the whole viewport (a full repaint, the worst case: no pixels
kept from the frame before). The same page is built in NodeGraphQt (one node per block, one pipe per
link; its nodes of 160 x 60 are drawn in full at 50 %) and panned along the same path in a viewer of the
same size.

NodeGraphQt is the peer because it is the most used Qt node editor built on the same QGraphicsView
machinery: a peer measured on this machine, under the same load, says more than a fixed budget. The
budget (33 ms, 30 frames a second) is printed as well.

Both pages are opened first; then the two sides pan the whole path in turn, in pairs after a warm-up pair
(``bench/common.py``): a pass's cost is its median frame (the worst frame of either is a step that brings
many blocks into view for the first time plus whatever else the machine was doing at that moment), and the
figure is the median of the pairs' ratios. Prints median, 95th percentile and worst frame times of all
passes of both, the same in CPU time of the painting thread (on a loaded machine wall time also counts the
time other processes held the cores), and ends with ``ratio <our median frame / NodeGraphQt's median
frame>``. Without NodeGraphQt (``pip install -e '.[bench]'``) it stops at once with exit status 2.

    .venv/bin/python bench/gui_pan.py [--pairs 3]
"""

from __future__ import annotations

import json
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

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QApplication, QGraphicsView

from common import finish, paired, require, show  # noqa: E402
from gui_load import page_doc  # noqa: E402

BLOCKS = 2000
ZOOM = 0.5
STEP = 40          # screen pixels a frame
SIZE = (1400, 860)
BUDGET_MS = 33.0


def pan_path(view: QGraphicsView, page: QRectF) -> list[QPointF]:
    """Centres of the view, ``STEP`` screen pixels apart: across the whole page left to right, down, back
    right to left, down, and across again (three rows spread over the page's height, joined by steps
    down), so that every frame scrolls the same small distance and the whole page passes by."""
    vw = view.viewport().width() / ZOOM
    vh = view.viewport().height() / ZOOM
    x0, x1 = page.left() + vw / 2, max(page.right() - vw / 2, page.left() + vw / 2)
    y0, y1 = page.top() + vh / 2, max(page.bottom() - vh / 2, page.top() + vh / 2)
    step = STEP / ZOOM
    out = [QPointF(x0, y0)]

    def go(x: float, y: float) -> None:
        last = out[-1]
        n = max(int(max(abs(x - last.x()), abs(y - last.y())) / step), 1)
        for i in range(1, n + 1):
            out.append(QPointF(last.x() + (x - last.x()) * i / n, last.y() + (y - last.y()) * i / n))

    rows = [y0 + (y1 - y0) * k / 2 for k in range(3)]
    for k, y in enumerate(rows):
        if k:
            go(out[-1].x(), y)
        go(x1 if k % 2 == 0 else x0, y)
    return out


def settle(app: QApplication, seconds: float) -> None:
    """Let start-up work (checks, timers) finish before timing frames."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def time_frames(app: QApplication, view: QGraphicsView, path: list[QPointF]) -> tuple[list[float], list[float]]:
    """Each frame: move the view's centre, then paint the whole viewport at once (the same for both
    editors, whatever their own panning code does); (wall ms, CPU ms of the painting thread) per frame."""
    focus_page(view, view.scene().itemsBoundingRect())
    settle(app, 0.5)
    times = []
    cpu = []
    for pt in path:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        view.centerOn(pt)
        view.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        app.processEvents()
    return times, cpu


def focus_page(view: QGraphicsView, rect: QRectF) -> None:
    view.resetTransform()
    view.scale(ZOOM, ZOOM)
    vw, vh = view.viewport().width() / ZOOM, view.viewport().height() / ZOOM
    view.centerOn(rect.left() + vw / 2, rect.top() + vh / 2)


def ours(app: QApplication):
    """Our window on the page, ready to pan, and the path."""
    from enuflow.app.gui.main import make_window

    folder = Path(tempfile.mkdtemp(prefix="enuflow-bench-"))
    path = folder / "pan.json"
    path.write_text(json.dumps(page_doc(BLOCKS)), encoding="utf-8")
    w = make_window(str(path), start_worker=False, offer_restore=False)
    w.resize(*SIZE)
    w.show()
    w.load_catalogue()
    app.processEvents()
    settle(app, 3.0)
    focus_page(w.view, w.scene.itemsBoundingRect())
    return w, w.view, pan_path(w.view, w.scene.itemsBoundingRect())


def close_ours(w) -> None:
    w.prompt = lambda *a: None
    w.undo.setClean()
    w._restored_dirty = False
    w.close()


def nodegraphqt(app: QApplication, NodeGraphQt):
    """NodeGraphQt's viewer on the same page, ready to pan, and the path."""

    class Grad(NodeGraphQt.BaseNode):
        __identifier__ = "bench"
        NODE_NAME = "Grad"

        def __init__(self) -> None:
            super().__init__()
            self.add_input("reverse_index_map")
            self.add_input("grad_values")
            self.add_output("d_values")
            self.add_output("d_default_value")

    doc = page_doc(BLOCKS)
    graph = NodeGraphQt.NodeGraph()
    graph.register_node(Grad)
    nodes = {b["id"]: graph.create_node("bench.Grad", name=b["id"], pos=b["pos"], push_undo=False)
             for b in doc["blocks"]}
    for ln in doc["links"]:
        (src, sp), (dst, dp) = ln["from"], ln["to"]
        nodes[src].get_output(sp if sp != "output" else "d_values").connect_to(nodes[dst].get_input(dp),
                                                                               push_undo=False)
    viewer = graph.viewer()
    viewer.resize(*SIZE)
    viewer.show()
    app.processEvents()
    viewer.setSceneRect(viewer.scene().itemsBoundingRect().adjusted(-5000, -5000, 5000, 5000))
    focus_page(viewer, viewer.scene().itemsBoundingRect())
    return graph, viewer, pan_path(viewer, viewer.scene().itemsBoundingRect())


def summary(times: list[float]) -> str:
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    return (f"median {statistics.median(times):6.1f} ms, 95% {p95:6.1f} ms, worst {max(times):6.1f} ms "
            f"over {len(times)} frames")


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    pairs = ap.parse_args().pairs
    NodeGraphQt = require("NodeGraphQt", "gui_pan")
    app = QApplication.instance() or QApplication([])
    w, view, path = ours(app)
    graph, viewer, peer_path = nodegraphqt(app, NodeGraphQt)
    frames: dict[str, tuple[list[float], list[float]]] = {"ours": ([], []), "peer": ([], [])}

    def side(name: str, v: QGraphicsView, p: list[QPointF]):
        def one_pass() -> float:
            times, cpu = time_frames(app, v, p)
            frames[name][0].extend(times)
            frames[name][1].extend(cpu)
            return statistics.median(times)
        return one_pass

    res = paired(side("ours", view, path), side("peer", viewer, peer_path), pairs=pairs)
    close_ours(w)
    viewer.close()
    del graph
    mine = frames["ours"][0]
    print(f"enuflow     {BLOCKS} blocks at {ZOOM:.0%}: {summary(mine)} (budget {BUDGET_MS:.0f} ms: "
          f"median {'met' if statistics.median(mine) < BUDGET_MS else 'missed'}, "
          f"worst {'met' if max(mine) < BUDGET_MS else 'missed'})")
    print(f"NodeGraphQt {BLOCKS} nodes  at {ZOOM:.0%}: {summary(frames['peer'][0])}")
    for name, key in (("enuflow    ", "ours"), ("NodeGraphQt", "peer")):
        print(f"{name} CPU time of the painting thread: {summary(frames[key][1])}")
    show(res, "enuflow median frame", "NodeGraphQt median frame", unit="ms")
    finish(res.ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
