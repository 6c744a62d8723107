"""Static dtypes and shapes before Run (issue 23): ``enuflow check``, the checker behind it, its warnings, and
control links (``^`` to ``^``) built as TensorFlow control inputs.

Expected types are written by hand (what TensorFlow's shape functions must give for these ops); the control link
test runs the page and compares with the numbers worked out by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, make_page

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.engine.analysis import analyse


def enuflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=dict(os.environ), timeout=300)


def doc(blocks: list[dict[str, Any]], links: list[tuple[str, str, str, str]], **extra: Any) -> dict[str, Any]:
    for i, b in enumerate(blocks):
        b.setdefault("pos", [200 * i, 0])
        b.setdefault("pins", {})
    return {"format": "enuflow.page", "version": 1, "name": "t", "blocks": blocks,
            "links": [{"from": [a, p], "to": [b, q]} for a, p, b, q in links], **extra}


MNIST_LIKE = doc([{"id": "x", "type": "Placeholder", "pins": {"dtype": "float32", "shape": "[-1][784]"}},
                  {"id": "w", "type": "Const", "pins": {"val": 0.01, "shape": "[784][10]", "dtype": "float32"}},
                  {"id": "mm", "type": "MatMul"}, {"id": "sm", "type": "Softmax"}],
                 [("x", "output", "mm", "a"), ("w", "output", "mm", "b"), ("mm", "product", "sm", "logits")])

ADD_CLASH = doc([{"id": "f", "type": "Const", "pins": {"val": "1.5,2.5,3.5"}},
                 {"id": "i", "type": "Const", "pins": {"val": "10,20,30"}}, {"id": "add", "type": "Add"}],
                [("f", "output", "add", "x"), ("i", "output", "add", "y")])


@pytest.fixture(scope="module")
def checker() -> Any:
    from enuflow.app.engine.shape_check import ShapeChecker

    return ShapeChecker()


def write(tmp_path: Path, d: dict[str, Any], name: str = "page.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return str(p)


# -- the command ------------------------------------------------------------------------------------

def test_check_json_shapes_through_placeholder_matmul_softmax(tmp_path: Path) -> None:
    path = write(tmp_path, MNIST_LIKE)
    r = enuflow("check", path, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert r.stdout.count("\n") == 1 and set(out) == {"ok", "page", "outputs", "errors", "warnings"}
    assert out["ok"] is True and out["page"] == path and out["errors"] == []
    assert out["outputs"] == {"x": {"output": {"dtype": "float32", "shape": [None, 784]}},
                              "w": {"output": {"dtype": "float32", "shape": [784, 10]}},
                              "mm": {"product": {"dtype": "float32", "shape": [None, 10]}},
                              "sm": {"softmax": {"dtype": "float32", "shape": [None, 10]}}}
    # the Placeholder has no value: a run would need one
    assert [(w["block"], w["port"]) for w in out["warnings"]] == [("x", "value")]
    strict = enuflow("check", path, "--json", "--strict")  # a warning fails a --strict check
    assert strict.returncode == 1 and json.loads(strict.stdout)["ok"] is False


def test_check_table_and_add_clash_exit_1(tmp_path: Path) -> None:
    r = enuflow("check", write(tmp_path, ADD_CLASH))
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["block", "port", "type"]
    assert lines[1].split() == ["f", "output", "f32[3]"] and lines[2].split() == ["i", "output", "i32[3]"]
    (err,) = [ln for ln in lines if ln.startswith("error:")]
    assert "block 'add'" in err and "port 'y'" in err and "int32" in err and "float32" in err
    assert "Traceback" not in r.stderr
    r = enuflow("check", write(tmp_path, ADD_CLASH), "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["ok"] is False
    (e,) = out["errors"]
    assert e["block"] == "add" and e["port"] == "y" and "int32" in e["message"] and "float32" in e["message"]


def test_check_not_a_page_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"blocks": [')
    r = enuflow("check", str(p), "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["outputs"] == {} and str(p) in out["errors"][0]["message"]
    r = enuflow("check", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "missing.json" in r.stderr and "Traceback" not in r.stderr


# -- the checker ------------------------------------------------------------------------------------

def check(checker: Any, d: dict[str, Any]) -> Any:
    return checker.check(page_from_doc("t", d))


def test_matmul_shape_mismatch_names_both_shapes(checker: Any) -> None:
    d = doc([{"id": "a", "type": "Const", "pins": {"val": 1.0, "shape": "[2][3]", "dtype": "float32"}},
             {"id": "b", "type": "Const", "pins": {"val": 1.0, "shape": "[4][5]", "dtype": "float32"}},
             {"id": "m", "type": "MatMul"}], [("a", "output", "m", "a"), ("b", "output", "m", "b")])
    r = check(checker, d)
    (e,) = r.errors
    assert e.block == "m"
    assert "[2,3]" in e.message and "[4,5]" in e.message and "a float32[2,3] from 'a.output'" in e.message
    assert ("m", "product") not in r.types


def test_composite_outputs_keyed_by_path(checker: Any) -> None:
    d = doc([{"id": "x", "type": "Const", "pins": {"val": [[1.0, 2.0, 3.0]], "dtype": "float32"}},
             {"id": "d1", "type": "dense_relu", "pins": {}}], [("x", "output", "d1", "x")])
    d["composites"] = {"dense_relu": {
        "inputs": [{"name": "x", "to": [["mm", "a"]]}], "outputs": [{"name": "y", "from": ["act", "activations"]}],
        "pins": [{"name": "w", "block": "w", "pin": "val"}],
        "blocks": [{"id": "w", "type": "Const", "pins": {"val": 0.5, "shape": "[3][4]", "dtype": "float32"}},
                   {"id": "mm", "type": "MatMul"}, {"id": "act", "type": "Relu"}],
        "links": [{"from": ["w", "output"], "to": ["mm", "b"]}, {"from": ["mm", "product"], "to": ["act", "features"]}]}}
    r = check(checker, d)
    assert r.errors == []
    out = r.outputs_json()
    assert out["d1/w"] == {"output": {"dtype": "float32", "shape": [3, 4]}}
    assert out["d1/mm"] == {"product": {"dtype": "float32", "shape": [1, 4]}}
    assert out["d1/act"] == {"activations": {"dtype": "float32", "shape": [1, 4]}}
    assert out["d1"] == {"y": {"dtype": "float32", "shape": [1, 4]}}


def chain(n: int, transpose_at: int | None = None) -> dict[str, Any]:
    """x [2,3] -> n Relus -> Transpose at one of them (perm typed in) -> ... ; a small page for incremental checks."""
    blocks = [{"id": "x", "type": "Placeholder", "pins": {"dtype": "float32", "shape": "[-1][3]"}}]
    links = []
    prev = ("x", "output")
    for i in range(n):
        bid = f"r{i}"
        if i == transpose_at:
            blocks.append({"id": bid, "type": "Transpose", "pins": {"perm": [1, 0]}})
            links.append((prev[0], prev[1], bid, "x"))
            prev = (bid, "y")
        else:
            blocks.append({"id": bid, "type": "Relu"})
            links.append((prev[0], prev[1], bid, "features"))
            prev = (bid, "activations")
    return doc(blocks, links)


def test_an_edit_makes_only_what_it_reaches(checker: Any) -> None:
    from enuflow.app.engine.shape_check import ShapeChecker

    mine = ShapeChecker()
    first = check(mine, chain(10))
    assert first.made == 11 and first.types[("r9", "activations")].shape == (None, 3)
    d = chain(10)
    d["blocks"][7] = {"id": "r6", "type": "Relu", "pos": [0, 0], "pins": {}}  # a move changes nothing
    again = check(mine, d)
    assert again.made == 0 and again.types == first.types
    # a Relu in the middle becomes a Transpose: it and the three blocks after it are made again
    edited = check(mine, chain(10, transpose_at=6))
    assert edited.made == 4
    assert edited.types[("r5", "activations")].shape == (None, 3)
    assert edited.types[("r6", "y")].shape == (3, None)
    assert edited.types[("r9", "activations")].shape == (3, None)
    assert ("r6", "activations") not in edited.types
    assert edited.types == check(ShapeChecker(), chain(10, transpose_at=6)).types
    # an edit that keeps the types of its outputs reaches no further than its block
    d = chain(10, transpose_at=6)
    d["blocks"][3]["type"] = "Relu6"
    kept = check(mine, d)
    assert kept.made == 1 and kept.types == {k: v for k, v in edited.types.items() if k[0] != "r2"} | {
        ("r2", "activations"): edited.types[("r2", "activations")]}


# -- warnings ---------------------------------------------------------------------------------------

def race_page(order: str = "") -> dict[str, Any]:
    """enuSpace's mnistEval in small: a step assigns the next image to the Variable ``image`` and a MatMul reads
    it; ``order`` "control" adds a control link from the Assign to the MatMul, "data" makes the MatMul read the
    Assign's output instead (a data path), "" leaves them unordered."""
    blocks = [{"id": "image", "type": "Variable", "pins": {"initvalues": [[0.0, 0.0]], "dtype": "float32"}},
              {"id": "next", "type": "Const", "pins": {"val": [[3.0, 4.0]], "dtype": "float32"}},
              {"id": "w", "type": "Const", "pins": {"val": [[1.0], [10.0]], "dtype": "float32"}},
              {"id": "load", "type": "Assign"}, {"id": "predict", "type": "MatMul"},
              {"id": "session", "type": "ClientSession", "pins": {"steps": 1}}]
    links = [("image", "ref", "load", "ref"), ("next", "output", "load", "value"),
             ("w", "output", "predict", "b"), ("predict", "product", "session", "fetch_outputs"),
             ("load", "output_ref", "session", "run_outputs")]
    links.append(("load", "output_ref", "predict", "a") if order == "data" else ("image", "ref", "predict", "a"))
    if order == "control":
        links.append(("load", "^", "predict", "^"))
    return doc(blocks, links)


def test_read_assign_race_warned(checker: Any) -> None:
    r = check(checker, race_page())
    assert r.errors == []
    (w,) = r.warnings
    assert w.block == "predict" and w.port == "a"
    assert "'image'" in w.message and "'load'" in w.message and "Assign" in w.message and "control link" in w.message


@pytest.mark.parametrize("order", ["control", "data"])
def test_race_not_warned_when_ordered(checker: Any, order: str) -> None:
    r = check(checker, race_page(order))
    assert r.errors == [] and r.warnings == []
    assert r.types[("predict", "product")].shape == (1, 1)


def test_control_link_orders_the_assign_before_the_read() -> None:
    from enuflow.app.engine.runner import Runner

    page = page_from_doc("t", race_page("control"))
    runner = Runner()
    try:
        for _ in range(5):  # with the control link the read always sees the assigned image: 3*1 + 4*10
            report = runner.run(page)
            assert report.errors == []
            assert np.array_equal(report.results.values[("predict", "product")], np.array([[43.0]], np.float32))
    finally:
        runner.close()
    an = analyse(page)  # the link orders the blocks; it is no data input
    assert an.controls == {"predict": ["load"]} and "^" not in an.inputs["predict"]


def test_control_link_needs_both_ends_caret() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("b", "Const", {"val": 2.0})], [("a", "output", "b", "^")])
    (e,) = analyse(page).errors
    assert e.block == "b" and e.port == "^" and "control link" in e.message


def test_unused_output_warned_only_with_a_session(checker: Any) -> None:
    blocks = [{"id": "a", "type": "Const", "pins": {"val": 1.0}}, {"id": "b", "type": "Const", "pins": {"val": 2.0}},
              {"id": "neg", "type": "Neg"}]
    links = [("a", "output", "neg", "x")]
    r = check(checker, doc([dict(b) for b in blocks], links))
    assert r.warnings == []  # without a ClientSession every output is fetched
    with_session = doc([dict(b) for b in blocks] + [{"id": "s", "type": "ClientSession"}],
                       links + [("neg", "y", "s", "fetch_outputs")])
    r = check(checker, with_session)
    (w,) = r.warnings
    assert w.block == "b" and w.port == "output" and "does not fetch" in w.message


def test_typed_in_whole_numbers_reach_the_shape_functions(checker: Any) -> None:
    d = doc([{"id": "img", "type": "Placeholder", "pins": {"dtype": "uint8", "shape": "[-1][28][28]"}},
             {"id": "flat", "type": "Reshape", "pins": {"shape": [-1, 784]}},
             {"id": "f", "type": "Cast", "pins": {"DstT": "float32"}}],
            [("img", "output", "flat", "tensor"), ("flat", "output", "f", "x")])
    r = check(checker, d)
    assert r.errors == []
    assert r.types[("flat", "output")].shape == (None, 784) and r.types[("flat", "output")].dtype == "uint8"
    assert r.types[("f", "y")].shape == (None, 784) and r.types[("f", "y")].dtype == "float32"


def test_python_export_keeps_control_links() -> None:
    from enuflow.app.engine.export_python import page_to_python

    text = page_to_python(page_from_doc("t", race_page("control")))
    lines = text.splitlines()
    at = lines.index("    with tf.control_dependencies(control_ops(b_load)):")
    assert lines[at - 1] == "    # block 'predict' (MatMul)" and lines[at + 1].startswith("        b_predict = ")
    assert "def control_ops(*outputs):" in text
    assert "control_ops" not in page_to_python(page_from_doc("t", race_page("data")))
