"""Panning across a large page: the 2,000-block page of ``gui_load.py`` (~4,000 links) is opened in the
editor at 50 % (the lowest zoom a page opens at, so every block is drawn in full detail and the most
blocks are on screen) and panned in steps of 40 screen pixels along a path that crosses the whole page;
each frame is timed from moving the view to the end of painting the whole viewport (a full repaint, the
worst case: no pixels kept from the frame before). The same page is built in NodeGraphQt (one node per
block, one pipe per link; its nodes of 160 x 60 are drawn in full at 50 %) and panned along the same
path in a viewer of the same size.

NodeGraphQt is the peer because it is the most used Qt node editor built on the same QGraphicsView
machinery: a peer measured on this machine, under the same load, says more than a fixed budget. The
budget (33 ms, 30 frames a second) is printed as well. Prints median and worst frame times of both and
ends with ``ratio <our median frame / NodeGraphQt's median frame>``: the median, because the worst frame
of either is the first paint into empty caches plus whatever else the machine was doing at that moment.
Without NodeGraphQt (``pip install enuflow[bench]``) it fails.
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

from gui_load import page_doc  # noqa: E402

BLOCKS = 2000
ZOOM = 0.5
STEP = 40          # screen pixels a frame
SIZE = (1400, 860)
BUDGET_MS = 33.0


def pan_path(view: QGraphicsView, frames: int) -> list[QPointF]:
    """Centres of the view: across the page left to right and back on three rows, ``frames`` steps."""
    start = view.mapToScene(view.viewport().rect().center())
    step = STEP / ZOOM
    out = []
    per_row = frames // 3
    for row in range(3):
        for i in range(per_row):
            out.append(QPointF(start.x() + (i if row % 2 == 0 else per_row - i) * step,
                               start.y() + row * 8 * step))
    return out


def settle(app: QApplication, seconds: float) -> None:
    """Let start-up work (checks, timers) finish before timing frames."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def time_frames(app: QApplication, view: QGraphicsView, path: list[QPointF]) -> list[float]:
    """Each frame: move the view's centre, then paint the whole viewport at once (the same for both
    editors, whatever their own panning code does)."""
    settle(app, 0.5)
    times = []
    for pt in path:
        t0 = time.perf_counter()
        view.centerOn(pt)
        view.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
        app.processEvents()
    return times


def focus_page(view: QGraphicsView, rect: QRectF) -> None:
    view.resetTransform()
    view.scale(ZOOM, ZOOM)
    vw, vh = view.viewport().width() / ZOOM, view.viewport().height() / ZOOM
    view.centerOn(rect.left() + vw / 2, rect.top() + vh / 2)


def ours(app: QApplication, frames: int) -> list[float]:
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
    times = time_frames(app, w.view, pan_path(w.view, frames))
    w.prompt = lambda *a: None
    w.undo.setClean()
    w._restored_dirty = False
    w.close()
    return times


def nodegraphqt(app: QApplication, frames: int) -> list[float] | None:
    try:
        import NodeGraphQt
    except ImportError:
        return None

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
    times = time_frames(app, viewer, pan_path(viewer, frames))
    viewer.close()
    return times


def main() -> int:
    app = QApplication.instance() or QApplication([])
    frames = 90
    mine = ours(app, frames)
    peer = nodegraphqt(app, frames)
    print(f"enuflow     {BLOCKS} blocks at {ZOOM:.0%}: median {statistics.median(mine):6.1f} ms, "
          f"worst {max(mine):6.1f} ms over {len(mine)} frames (budget {BUDGET_MS:.0f} ms: "
          f"{'met' if max(mine) < BUDGET_MS else 'missed'})")
    if peer is None:
        print("NodeGraphQt is not installed (pip install enuflow[bench]): no peer to compare with", file=sys.stderr)
        return 1
    print(f"NodeGraphQt {BLOCKS} nodes  at {ZOOM:.0%}: median {statistics.median(peer):6.1f} ms, "
          f"worst {max(peer):6.1f} ms over {len(peer)} frames")
    print(f"ratio {statistics.median(mine) / statistics.median(peer):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
