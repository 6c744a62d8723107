"""enuflow export --savedmodel: TensorFlow serves the page and returns what enuflow run returns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT, make_page

from enuflow.app.document.formats import save
from enuflow.app.engine.export_savedmodel import export_savedmodel
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf

tf = load_tf()


def served_page(train: bool = False) -> object:
    blocks = [
        ("x", "Placeholder", {"dtype": "float32", "shape": [-1, 3], "value": [[1.0, 2.0, 3.0]]}),
        ("w", "Const", {"val": [[0.5], [-1.0], [2.0]], "dtype": "float32"}),
        ("W", "Variable", {"initvalues": 1.5, "dtype": "float32", "shape": []}),
        ("m", "MatMul", {}),
        ("s", "Mul", {}),
        ("n", "Neg", {}),
        ("session", "ClientSession", {"steps": 1}),
    ]
    links = [("x", "output", "m", "a"), ("w", "output", "m", "b"), ("m", "product", "s", "x"),
             ("W", "ref", "s", "y"), ("s", "z", "n", "x"), ("s", "z", "session", "fetch_outputs"),
             ("n", "y", "session", "fetch_outputs")]
    if train:
        blocks += [("step", "ApplyGradientDescent", {"alpha": 0.25, "delta": 1.0})]
        links += [("W", "ref", "step", "var"), ("step", "out", "session", "run_outputs")]
    return make_page(blocks, links, name="served")


def test_savedmodel_serves_what_the_page_runs(tmp_path: Path) -> None:
    page = served_page()
    ins, outs, problems = export_savedmodel(page, tmp_path / "model")
    assert not problems and ins == ["x"] and outs == ["n.y", "s.z"]
    x = np.array([[1.0, 0.0, 2.0], [3.0, 1.0, -1.0]], np.float32)
    np.save(tmp_path / "x.npy", x)
    fn = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    served = {k: v.numpy() for k, v in fn(x=tf.constant(x)).items()}
    assert not apply_feeds(page, [f"x={tmp_path / 'x.npy'}"])
    report = run_page(page)
    assert report.ok, report.errors
    np.testing.assert_allclose(served["s.z"], report.results.get("s", "z"), rtol=1e-6)
    np.testing.assert_allclose(served["n.y"], report.results.get("n", "y"), rtol=1e-6)
    np.testing.assert_allclose(served["s.z"], (x @ np.array([[0.5], [-1.0], [2.0]])) * 1.5, rtol=1e-6)


def test_after_run_saves_trained_variables(tmp_path: Path) -> None:
    ins, outs, problems = export_savedmodel(served_page(train=True), tmp_path / "trained", after_run=3)
    assert not problems
    fn = tf.saved_model.load(str(tmp_path / "trained")).signatures["serving_default"]
    x = np.array([[2.0, 1.0, 1.0]], np.float32)
    w_after = 1.5 - 3 * 0.25 * 1.0  # three steps of gradient descent with a gradient of 1
    np.testing.assert_allclose(fn(x=tf.constant(x))["s.z"].numpy(), [[(1.0 - 1.0 + 2.0) * w_after]], rtol=1e-6)
    ins, outs, problems = export_savedmodel(served_page(train=True), tmp_path / "initial")
    fn = tf.saved_model.load(str(tmp_path / "initial")).signatures["serving_default"]
    np.testing.assert_allclose(fn(x=tf.constant(x))["s.z"].numpy(), [[2.0 * 1.5]], rtol=1e-6)

    # neither the training run (its lean steps' Consts) nor setting the trained values left anything of their own
    # in the graph: the same nodes as without them
    def nodes(folder: str) -> set[str]:
        from tensorflow.core.protobuf import saved_model_pb2

        sm = saved_model_pb2.SavedModel.FromString((tmp_path / folder / "saved_model.pb").read_bytes())
        return {n.name for n in sm.meta_graphs[0].graph_def.node}

    assert nodes("trained") == nodes("initial")


def test_export_of_a_broken_page_writes_nothing(tmp_path: Path) -> None:
    page = make_page([("a", "Add", {"x": 1.0})], [])
    _, _, problems = export_savedmodel(page, tmp_path / "m")
    assert problems and problems[0].block == "a"
    assert not (tmp_path / "m").exists()


def test_command_line_export_matches_command_line_run(tmp_path: Path) -> None:
    save(served_page(), tmp_path / "p.json")
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]], np.float32)
    np.save(tmp_path / "x.npy", x)

    def enuflow(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True,
                              text=True, check=False, timeout=600)

    r = enuflow("export", str(tmp_path / "p.json"), "--savedmodel", str(tmp_path / "sm"))
    assert r.returncode == 0, r.stderr
    r = enuflow("run", str(tmp_path / "p.json"), "--feed", f"x={tmp_path / 'x.npy'}", "--json")
    assert r.returncode == 0, r.stderr
    ran = json.loads(r.stdout)["results"]
    fn = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    served = fn(x=tf.constant(x))
    np.testing.assert_allclose(served["s.z"].numpy(), ran["s"]["z"]["value"], rtol=1e-6)
    np.testing.assert_allclose(served["n.y"].numpy(), ran["n"]["y"]["value"], rtol=1e-6)
