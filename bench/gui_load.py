"""Opening a large page in the editor: a generated page of 2,000 blocks and ~4,000 links is written to a
file, opened in the editor window (load, validate, build the scene, fit) and one frame is rendered
offscreen. Times at 200 / 1,000 / 2,000 blocks, against NodeGraphQt doing the same work (``create_node``
per block, ``connect_to`` per link, then one rendered frame of its viewer).

The baseline is NodeGraphQt, the most used Qt node-graph editor in Python: the same nodes, positions and
links, created through its public calls with undo recording off (its fastest path) and rendered once, as
our window is. Neither side fits with a cost that grows faster than the page: ours fits the view to the
items' bounding box; NodeGraphQt's ``fit_to_selection`` is quadratic in its nodes, so it is left out (the
viewer shows the nodes at their positions). The sides alternate in pairs after a warm-up pair
(``bench/common.py``), each run followed by the same clean-up (close, deferred deletion, a collection), so
background load and leftovers hit both alike.

Prints the figures and ends with ``ratio <ours at 2,000 / NodeGraphQt at 2,000>`` (median of the pair
ratios). Without NodeGraphQt it stops at once with exit status 2 and says how to install it
(``pip install -e '.[bench]'``): a bench never compares with a number it did not measure in the same run.

    .venv/bin/python bench/gui_load.py [--pairs 3]
"""

from __future__ import annotations

import gc
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

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from common import finish, paired, require, show  # noqa: E402

SIZES = (200, 1000, 2000)
REPEATS = 3


def page_doc(n: int) -> dict:
    """n blocks; every block after the first two takes two links from the two before it (~2n links)."""
    blocks = [{"id": "c0", "type": "Const", "pos": [0, 0], "pins": {"val": [0, 1], "dtype": "int64"}},
              {"id": "c1", "type": "Const", "pos": [0, 140], "pins": {"val": [1.0, 2.0], "dtype": "float32"}}]
    links = []
    cols = max(int(n ** 0.5), 1)
    for i in range(2, n):
        blocks.append({"id": f"g{i}", "type": "SparseFillEmptyRowsGrad",
                       "pos": [250 * (i % cols), 140 * (i // cols)], "pins": {}})
    ids = [b["id"] for b in blocks]
    for i in range(2, n):
        a, b = ids[i - 1], ids[i - 2]
        links.append({"from": [a, "d_values" if a.startswith("g") else "output"], "to": [ids[i], "reverse_index_map"]})
        links.append({"from": [b, "d_default_value" if b.startswith("g") else "output"], "to": [ids[i], "grad_values"]})
    return {"format": "enuflow.page", "version": 1, "name": f"bench{n}", "blocks": blocks, "links": links}


def render(view) -> None:
    img = view.viewport().grab()
    assert not img.isNull()


def clean_up(app: QApplication, widget) -> None:
    """The same clean-up after each side: close, run deferred deletions, collect."""
    widget.close()
    widget.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    app.processEvents()
    gc.collect()


def ours(app: QApplication, n: int, folder: Path) -> float:
    from enuflow.app.gui.main import make_window

    path = folder / f"page{n}.json"
    path.write_text(json.dumps(page_doc(n)), encoding="utf-8")
    gc.collect()
    t0 = time.perf_counter()
    w = make_window(str(path), start_worker=False, offer_restore=False)
    w.show()
    w.view.fit()
    app.processEvents()
    render(w.view)
    dt = time.perf_counter() - t0
    assert len(w.scene.blocks) == n and len(w.scene.wires) == 2 * (n - 2)
    w.prompt = lambda *a: None
    w._restored_dirty = False
    w.undo.setClean()
    clean_up(app, w)
    return dt


_GRAD = None


def grad_node_class(NodeGraphQt):
    global _GRAD
    if _GRAD is None:
        class Grad(NodeGraphQt.BaseNode):
            __identifier__ = "bench"
            NODE_NAME = "Grad"

            def __init__(self) -> None:
                super().__init__()
                self.add_input("reverse_index_map")
                self.add_input("grad_values")
                self.add_output("d_values")
                self.add_output("d_default_value")

        _GRAD = Grad
    return _GRAD


def nodegraphqt(app: QApplication, n: int) -> float:
    import NodeGraphQt

    Grad = grad_node_class(NodeGraphQt)
    doc = page_doc(n)
    gc.collect()
    t0 = time.perf_counter()
    graph = NodeGraphQt.NodeGraph()
    graph.register_node(Grad)
    nodes = {}
    for b in doc["blocks"]:
        nodes[b["id"]] = graph.create_node("bench.Grad", name=b["id"], pos=b["pos"], push_undo=False)
    for ln in doc["links"]:
        src, sp = ln["from"]
        dst, dp = ln["to"]
        out = nodes[src].get_output(sp if sp != "output" else "d_values")
        out.connect_to(nodes[dst].get_input(dp), push_undo=False)
    viewer = graph.viewer()
    viewer.resize(1400, 860)
    viewer.show()
    app.processEvents()
    render(viewer)
    dt = time.perf_counter() - t0
    assert len(graph.all_nodes()) == n
    clean_up(app, viewer)
    del nodes, graph
    gc.collect()
    return dt


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=REPEATS, help=f"timed pairs per size (default {REPEATS})")
    pairs = ap.parse_args().pairs
    require("NodeGraphQt", "gui_load")
    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="enuflow-bench-"))
    mine = {}
    res = None
    for n in SIZES:
        res = paired(lambda n=n: ours(app, n, folder), lambda n=n: nodegraphqt(app, n), pairs=pairs)
        mine[n] = statistics.median(res.ours)
        print(f"{n:5d} blocks {2 * (n - 2):5d} links:")
        show(res, "enuflow", "NodeGraphQt", indent="  ")
    lin = mine[2000] / mine[200] / 10
    print(f"growth 200 -> 2,000 blocks: x{mine[2000] / mine[200]:.1f} (x10 is linear; relative {lin:.2f})")
    finish(res.ratio)


if __name__ == "__main__":
    main()
