"""enuflow export --python: the script builds and runs the same graph and gives the same results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_page

from enuflow.app.engine.export_python import ExportProblem, page_to_python
from enuflow.app.document.formats import load
from enuflow.app.engine.runner import run_page
from enuflow.app.document.values import parse_tensor


def run_script(text: str, tmp_path: Path) -> dict[str, list]:
    script = tmp_path / "page.py"
    script.write_text(text + "\nimport json as _j\nprint('JSON', _j.dumps({k: np.asarray(v).tolist() for k, v in "
                             "main().items()}, default=lambda b: b.decode()))\n")
    # main() already ran once when imported as __main__; the second call prints a JSON line to compare
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("JSON ")][-1]
    return json.loads(line[5:])


@pytest.mark.parametrize("scene", ["sparse_fill_empty_rows_grad", "sparse_fill_empty_rows_roundtrip"])
def test_script_matches_runner(scene: str, tmp_path: Path) -> None:
    page = load(ROOT / "scenes" / f"{scene}.json")
    ours = run_page(page)
    assert ours.errors == []
    got = run_script(page_to_python(page, f"{scene}.json"), tmp_path)
    assert got
    for key, value in got.items():
        block, port = key.split(".", 1)
        np.testing.assert_allclose(np.asarray(value), ours.results.get(block, port))


def test_script_of_page_without_session(tmp_path: Path) -> None:
    page = make_page([("a", "Const", {"val": [1, 2, 3, 4, 5, 6]}), ("sp", "Split", {"num_split": 3, "axis": 0}),
                      ("n", "Neg", {}), ("m", "MatMul", {"transpose_b": True}),
                      ("w", "Const", {"val": "{{1.5,2}}", "dtype": "float32"})],
                     [("a", "output", "sp", "value"), ("sp", "output[2]", "n", "x"), ("w", "output", "m", "a"),
                      ("w", "output", "m", "b")])
    got = run_script(page_to_python(page), tmp_path)
    assert got["n.y"] == [-5, -6] and got["sp.output[0]"] == [1, 2]
    assert got["m.product"] == [[6.25]]


def test_values_cannot_become_code(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    evil = f"x');\nimport os; os.system('touch {sentinel}') #"
    page = make_page([(evil, "Const", {"val": f"a;b'); import os; os.system('touch {sentinel}')", "dtype": "string"})],
                     [])
    got = run_script(page_to_python(page), tmp_path)
    assert not sentinel.exists()
    want = [b.decode() for b in parse_tensor(page.block(evil).pins["val"], "string").tolist()]
    assert got[f"{evil}.output"] == want and len(want) == 4


def test_problems_are_named() -> None:
    page = make_page([("x", "NotABlock", {})], [])
    with pytest.raises(ExportProblem, match="block 'x'"):
        page_to_python(page)
