"""Static dtypes and shapes of a 1,000-block page after one edit, against a full build of the same page.

The page is ``build_scale.generate(1000)``: a third scalar Consts, the rest Add and Mul blocks along one long chain
with fan-ins. The checker (``app.engine.shape_check.ShapeChecker``, what the worker answers a "check" with) is warm
from the page before the edit, as the worker's is while a person edits; each timed check sees one edit (the page
alternates between its two versions). The baseline is what the worker does for a page whose structure changed: a
full analysis and build of the edited page into a fresh ``tf.Graph`` (``builder.build``, the fastest build of such
a page we have; ``bench/build_scale.py`` holds it at ~1.1x a hand-written ``_create_op_internal`` build), which also
gives every output's static type. Both sides run in this process, as both would in the worker; neither runs a
session. Pairs alternate after a warm-up (``bench/common.py``).

Edits measured (each printed):
- ``value``: a Const's number changes (fed, not built: nothing is made again);
- ``append``: a new block is wired after the last one (the most common edit while building a page);
- ``setting``: a Mul in the middle of the chain (block 500) becomes an Add: its output's dtype and shape stay, so
  it is the only block made again;
- ``shape``: the Const that a Mul in the middle of the chain multiplies by gets the shape [2] instead of a scalar: every block downstream of
  it along the chain (about half the page) gets new shapes and is made again: the check then costs about the share
  of the page it reaches (printed, not the figure).

The last line is ``ratio <check after the 'setting' edit / full build>`` (target <= 0.3): an edit of one block in
the middle of the page that does not change the types of what it feeds, the usual edit.
"""

from __future__ import annotations

import copy
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_scale import generate
from common import finish, paired, show, timed

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.engine.builder import build
from enuflow.app.engine.shape_check import ShapeChecker

N = 1_000
PAIRS = 7


def edited(doc: dict, kind: str) -> dict:
    """``doc`` after one edit of ``kind`` (see the module's docstring)."""
    d = copy.deepcopy(doc)
    if kind == "value":
        b = next(b for b in d["blocks"] if b["type"] == "Const" and b["id"] != "b0")
        b["pins"]["val"] = 0.375
    elif kind == "append":
        last = d["blocks"][-1]["id"]
        d["blocks"].append({"id": "extra", "type": "Neg", "pos": [0, 0], "pins": {}})
        d["links"].append({"from": [last, "z"], "to": ["extra", "x"]})
    elif kind == "setting":
        mid = next(b for b in d["blocks"][N // 2:] if b["type"] == "Mul")
        mid["type"] = "Add"
    else:  # the Const a Mul in the middle multiplies by
        mid = next(b for b in d["blocks"][N // 2:] if b["type"] == "Mul")
        src = next(ln["from"][0] for ln in d["links"] if ln["to"] == [mid["id"], "y"])
        next(b for b in d["blocks"] if b["id"] == src)["pins"]["shape"] = "[2]"
    return d


def measure(doc: dict, kind: str) -> float:
    """Print the timings of one kind of edit; returns the median ratio of its pairs."""
    pages = [page_from_doc("a", doc), page_from_doc("b", edited(doc, kind))]
    checker = ShapeChecker()
    checker.check(pages[0])
    state = {"i": 0}
    made: list[int] = []

    def ours() -> float:
        state["i"] += 1
        page = pages[state["i"] % 2]
        gc.collect()
        t = timed(lambda: made.append(checker.check(page).made))()
        return t

    def base() -> float:
        page = pages[state["i"] % 2]
        gc.collect()
        return timed(lambda: build(page))()

    res = paired(ours, base, pairs=PAIRS)
    print(f"edit '{kind}': blocks made again per check: {sorted(set(made))}")
    show(res, ours="check after the edit", base="full build", indent="  ")
    return res.ratio


def main() -> None:
    doc = generate(N)
    ratios = {kind: measure(doc, kind) for kind in ("value", "append", "setting", "shape")}
    print("ratios: " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    finish(ratios["setting"])


if __name__ == "__main__":
    main()
