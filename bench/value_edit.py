"""A value edit must not rebuild the graph: first full run vs. the run after editing one Const.

A generated page of 1,000 blocks (the build_scale generator: Consts, Add and Mul chains with fan-ins).
The full run analyses, builds the TensorFlow graph, opens a session and runs; then one Const's value
is changed and the page is run again through the same Runner, which only feeds the new value. Checks
that the edit changed the result and that no rebuild happened. The baseline is the page's own full
run (analyse, build, session, first step), which is what a value edit would cost if it rebuilt; the
edited run must avoid nearly all of it. The full runs (a fresh page and Runner each) and the edited runs (one
Runner kept, a new value each time) alternate in pairs after a warm-up pair (``bench/common.py``). The last
line is `ratio <full-run time / edited-run time>` (median of the pair ratios; target >= 10).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_scale import generate
from common import finish, paired, show

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.engine.runner import Runner
from enuflow.blocks.tf import load

N = 1_000


def main() -> None:
    load()
    from enuflow.blocks import REGISTRY

    REGISTRY.get("Add")
    doc = generate(N)
    last = [b["id"] for b in doc["blocks"] if b["type"] != "Const"][-1]

    def full() -> float:
        page = page_from_doc("generated.json", doc)
        runner = Runner()
        t = time.perf_counter()
        r1 = runner.run(page)
        dt = time.perf_counter() - t
        assert not r1.errors, r1.errors[:3]
        runner.close()
        return dt

    page = page_from_doc("generated.json", doc)
    runner = Runner()
    before = runner.run(page).results.get(last, "z").item()
    edits = [0]

    def edited() -> float:
        edits[0] += 1
        page.set_pin("b0", "val", 2.0 + edits[0])
        t = time.perf_counter()
        r2 = runner.run(page)
        dt = time.perf_counter() - t
        assert not r2.errors and not r2.rebuilt and runner.builds == 1
        assert r2.results.get(last, "z").item() != before  # the edit reached the result
        return dt

    res = paired(full, edited, pairs=9)
    runner.close()
    print(f"{N} blocks: full run (build + session + run) against the run after a value edit (no rebuild)")
    show(res, "full run", "run after a value edit", unit="ms", scale=1000)
    finish(res.ratio)


if __name__ == "__main__":
    main()
