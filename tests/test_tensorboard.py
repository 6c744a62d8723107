"""enuflow run --logdir: TensorBoard event files with every scalar result per step and the page's graph,
read back with TensorFlow's own summary_iterator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import ROOT

from enuflow.app.document.formats import load
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf

tf = load_tf()
PAGE = ROOT / "scenes" / "linear_regression.json"


def read_events(logdir: Path) -> tuple[dict[str, dict[int, float]], list[object]]:
    scalars: dict[str, dict[int, float]] = {}
    graphs = []
    files = sorted(logdir.glob("events.out.tfevents.*"))
    assert files, f"no event file in {logdir}"
    for f in files:
        for ev in tf.compat.v1.train.summary_iterator(str(f)):
            if ev.HasField("graph_def"):
                graphs.append(tf.compat.v1.GraphDef.FromString(ev.graph_def))
            for v in ev.summary.value:
                per_step = scalars.setdefault(v.tag, {})
                assert ev.step not in per_step, f"{v.tag} has two values at step {ev.step}"
                per_step[ev.step] = v.simple_value
    return scalars, graphs


def test_logdir_has_one_value_per_step_and_the_graph(tmp_path: Path) -> None:
    report = run_page(load(PAGE), steps=25, logdir=str(tmp_path / "logs"))
    assert report.ok, report.errors
    scalars, graphs = read_events(tmp_path / "logs")
    assert report.results.history, "the page has scalar trends"
    for (block, port), history in report.results.history.items():
        per_step = scalars[f"{block}.{port}"]
        assert sorted(per_step) == list(range(1, 26))
        np.testing.assert_allclose([per_step[s] for s in range(1, 26)], history, rtol=1e-6)
    cost = scalars["cost.output"]
    assert cost[25] < cost[1]  # the curve a person watches falls
    (gd,) = graphs
    names = {n.name for n in gd.node}
    assert {"cost", "train_W", "W"} <= names


def test_command_line_logdir(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(PAGE), "--steps", "7", "--logdir",
                        str(tmp_path / "tb"), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       check=False)
    assert r.returncode == 0, r.stderr
    scalars, graphs = read_events(tmp_path / "tb")
    assert graphs and scalars
    assert all(sorted(v) == list(range(1, 8)) for v in scalars.values())


def test_a_second_run_logs_the_same_graph(tmp_path: Path) -> None:
    """A run of many steps adds Consts of its own to the session's graph (its lean steps' values): a later run's
    log still shows the page's graph, node for node the first run's."""
    from enuflow.app.engine.runner import Runner

    page = load(PAGE)
    runner = Runner()
    try:
        for name in ("first", "second"):
            report = runner.run(page, steps=25, logdir=str(tmp_path / name))
            assert report.ok, report.errors
    finally:
        runner.close()
    assert runner.builds == 1
    (first,), (second,) = read_events(tmp_path / "first")[1], read_events(tmp_path / "second")[1]
    assert {n.name for n in second.node} == {n.name for n in first.node}
