"""The enuflow command, run as a person runs it: a subprocess, its stdout, stderr and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

DEFAULT = str(ROOT / "scenes" / "sparse_fill_empty_rows_grad.json")


def enuflow(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the command must keep TensorFlow quiet by itself
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env=e, timeout=120)


def test_run_json_exact_shape() -> None:
    r = enuflow("run", DEFAULT, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["page"] == DEFAULT and doc["errors"] == []
    assert doc["results"]["g"]["d_values"] == {"dtype": "float32", "shape": [2], "value": [2.0, 1.0]}
    assert doc["results"]["g"]["d_default_value"] == {"dtype": "float32", "shape": [], "value": 3.0}
    assert r.stdout.count("\n") == 1  # exactly one JSON object
    assert r.stderr == ""  # no TensorFlow log noise


def test_run_table_output() -> None:
    r = enuflow("run", DEFAULT)
    assert r.returncode == 0
    assert "d_values" in r.stdout and "[2. 1.]" in r.stdout and "d_default_value" in r.stdout and "3.0" in r.stdout
    assert r.stderr == ""


def test_run_error_exit_1_with_attribution(tmp_path: Path) -> None:
    doc = json.loads(Path(DEFAULT).read_text())
    doc["blocks"][0]["pins"]["val"] = [2, -1]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    r = enuflow("run", str(p), "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False
    (e,) = out["errors"]
    assert e["block"] == "g" and "must be in [0, 4)" in e["message"]
    assert out["results"]["grad"]["output"]["value"] == [0.0, 1.0, 2.0, 3.0]
    assert "Traceback" not in r.stderr


def test_unreadable_file_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text('{"blocks": [')
    r = enuflow("run", str(p))
    assert r.returncode == 2
    assert str(p) in r.stderr and "line 1" in r.stderr and "Traceback" not in r.stderr
    r = enuflow("run", str(p), "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["errors"][0]["message"].startswith(str(p))
    r = enuflow("run", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_unknown_block_exit_1(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"blocks": [{"id": "x", "type": "MatMull"}]}))
    r = enuflow("run", str(p), "--json")
    assert r.returncode == 1
    (e,) = json.loads(r.stdout)["errors"]
    assert e["block"] == "x" and "MatMul" in e["message"]


def test_steps_option(tmp_path: Path) -> None:
    doc = {"blocks": [{"id": "r", "type": "RandomUniform", "pins": {"shape": [2], "dtype": "float32"}},
                      {"id": "s", "type": "ClientSession", "pins": {"INFINITE_LOOP": True}}],
           "links": [{"from": ["r", "output"], "to": ["s", "fetch_outputs"]}]}
    p = tmp_path / "loop.json"
    p.write_text(json.dumps(doc))
    r = enuflow("run", str(p), "--steps", "5", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["steps"] == 5


def test_large_results_summarised(tmp_path: Path) -> None:
    p = tmp_path / "big.json"
    p.write_text(json.dumps({"blocks": [{"id": "r", "type": "Range", "pins": {"start": 0, "limit": 200000,
                                                                              "delta": 1}}]}))
    r = enuflow("run", str(p))
    assert r.returncode == 0 and "output  int32 [200000]  min 0 max 199999 mean 99999.5" in r.stdout
    assert len(r.stdout) < 2000
    r = enuflow("run", str(p), "--json")
    res = json.loads(r.stdout)["results"]["r"]["output"]  # a page without a ClientSession: summarised
    assert res == {"dtype": "int32", "shape": [200000],
                   "summary": {"min": 0, "max": 199999, "mean": 99999.5, "nan": 0, "inf": 0}}


def test_headless_editor_command_without_display() -> None:
    r = enuflow(env={"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""})
    assert r.returncode == 0
    assert "d_default_value" in r.stdout and "3.0" in r.stdout


def test_display_without_a_server_runs_headless() -> None:
    r = enuflow(env={"DISPLAY": ":97", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""})
    assert r.returncode == 0 and "no display found" in r.stderr and "d_default_value" in r.stdout


def test_help_lists_commands() -> None:
    r = enuflow("--help")
    assert r.returncode == 0
    for word in ("run PAGE", "blocks", "import", "export"):
        assert word in r.stdout
    r = enuflow("run", "--help")
    assert "--steps" in r.stdout and "--json" in r.stdout and "--allow-io" in r.stdout


def test_bad_arguments_exit_2() -> None:
    r = enuflow("run")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_export_graphdef(tmp_path: Path) -> None:
    out = tmp_path / "g.pbtxt"
    r = enuflow("export", DEFAULT, "--graphdef", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert 'op: "SparseFillEmptyRowsGrad"' in text
    binary = tmp_path / "g.pb"
    r = enuflow("export", DEFAULT, "--graphdef", str(binary))
    assert r.returncode == 0, r.stderr
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef.FromString(binary.read_bytes())
    assert "SparseFillEmptyRowsGrad" in {n.op for n in gd.node}
    assert sorted(f.name for f in tmp_path.iterdir()) == ["g.pb", "g.pbtxt"]  # no temporary left behind


@pytest.mark.parametrize("flag", ["--save-results"])
def test_save_results(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "with_results.json"
    r = enuflow("run", DEFAULT, flag, str(out))
    assert r.returncode == 0
    doc = json.loads(out.read_text())
    assert doc["results"]["g"]["d_values"]["value"] == [2.0, 1.0]
