"""``enuflow run PAGE --to BLOCK[,BLOCK]``: only what those blocks need runs, nothing else (a counter on another
branch is never incremented, a file block elsewhere needs no --allow-io); names are block ids, paths into
composites or instances; an unknown name is a command-line mistake (exit 2) naming it. Also the part of the page
a run to some blocks keeps (``app.engine.run_to``), and the run again after a crash, which keeps only the blocks
asked for that are left (``app.worker.headless.CrashRetry``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.engine import run_to
from enuflow.app.engine.analysis import analyse
from enuflow.app.worker.client import WorkerEvent
from enuflow.app.worker.headless import CrashRetry

# x -> d1 (a composite: x @ w, relu; inside it a counter k += 1 of its own) ; a counter n += 1 (inc, fetched by the
# session) ; read reads n ; a file block nothing needs
PAGE = {
    "format": "enuflow.page", "version": 1, "name": "t",
    "composites": {"dense": {
        "inputs": [{"name": "x", "to": [["mm", "a"]]}],
        "outputs": [{"name": "y", "from": ["act", "activations"]}],
        "blocks": [{"id": "w", "type": "Const", "pins": {"val": [[2.0, -1.0]], "dtype": "float32"}},
                   {"id": "mm", "type": "MatMul"}, {"id": "act", "type": "Relu"},
                   {"id": "k", "type": "Variable", "pins": {"initvalues": 0, "dtype": "int64", "shape": "[]"}},
                   {"id": "one", "type": "Const", "pins": {"val": 1, "dtype": "int64"}},
                   {"id": "tick", "type": "AssignAdd"}],
        "links": [{"from": ["w", "output"], "to": ["mm", "b"]},
                  {"from": ["mm", "product"], "to": ["act", "features"]},
                  {"from": ["k", "ref"], "to": ["tick", "ref"]}, {"from": ["one", "output"], "to": ["tick", "value"]}]}},
    "blocks": [
        {"id": "x", "type": "Const", "pos": [0, 0], "pins": {"val": [[3.0]], "dtype": "float32"}},
        {"id": "d1", "type": "dense", "pos": [200, 0]},
        {"id": "n", "type": "Variable", "pos": [0, 200], "pins": {"initvalues": 0, "dtype": "int64", "shape": "[]"}},
        {"id": "one", "type": "Const", "pos": [0, 300], "pins": {"val": 1, "dtype": "int64"}},
        {"id": "inc", "type": "AssignAdd", "pos": [200, 200]},
        {"id": "read", "type": "Identity", "pos": [200, 300]},
        {"id": "file", "type": "ReadFile", "pos": [200, 400], "pins": {"filename": "/etc/hostname"}},
        {"id": "s", "type": "ClientSession", "pos": [400, 200], "pins": {"steps": 3}}],
    "links": [{"from": ["x", "output"], "to": ["d1", "x"]},
              {"from": ["n", "ref"], "to": ["inc", "ref"]}, {"from": ["one", "output"], "to": ["inc", "value"]},
              {"from": ["inc", "output_ref"], "to": ["s", "fetch_outputs"]},
              {"from": ["d1", "y"], "to": ["s", "fetch_outputs"]},
              {"from": ["n", "ref"], "to": ["read", "input"]}]}


def enuflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=dict(os.environ), timeout=300)


@pytest.fixture
def page_path(tmp_path: Path) -> str:
    path = tmp_path / "page.json"
    path.write_text(json.dumps(PAGE), encoding="utf-8")
    return str(path)


# -- the part of the page that runs (no TensorFlow) -------------------------------------------------------

def test_names_are_ids_paths_into_composites_and_instances() -> None:
    page = page_from_doc("page.json", PAGE)
    assert run_to.parse_names(["d1/mm, read", "read,,x"]) == ["d1/mm", "read", "x"]
    assert run_to.needed_ids(page, ["d1/mm"]) == {"x", "d1/w", "d1/mm"}
    # an instance means its exposed outputs (y comes from act): not its counter k, tick
    assert run_to.needed_ids(page, ["d1"]) == {"x", "d1/w", "d1/mm", "d1/act"}
    assert run_to.needed_ids(page, ["read"]) == {"n", "read"}
    assert run_to.unknown(page, ["d1/mm", "d1/m", "reed"]) == ["d1/m", "reed"]
    assert "did you mean 'read'" in run_to.missing_words(page, "reed")


def test_the_analysis_of_a_run_to_blocks_holds_only_what_they_need(gui_catalogue) -> None:
    page = page_from_doc("page.json", PAGE)
    whole = analyse(page)
    assert any(e.block == "file" and "allowed" in e.message for e in whole.errors)  # ReadFile needs --allow-io
    part = analyse(page, to=["d1", "read"])
    assert not part.errors, part.errors
    assert {b.id for b in part.page} == {"x", "d1/w", "d1/mm", "d1/act", "n", "read", "s"}
    assert part.aliases == {("d1", "y"): ("d1/act", "activations")} and part.scoped == {"d1/w", "d1/mm", "d1/act"}
    # the session keeps its steps; it fetches only what is needed (d1's y, not the counter inc)
    assert part.plan.steps == 3 and part.plan.fetches == [("d1/act", "activations")]
    missing = analyse(page, to=["nope"])
    assert [e.message for e in missing.errors] == ["run to 'nope': there is no block 'nope' on the page"]


# -- enuflow run --to ---------------------------------------------------------------------------------------

def test_run_to_runs_only_what_the_blocks_need(page_path: str) -> None:
    r = enuflow("run", page_path, "--to", "d1/mm,read", "--json", "--timeout", "120")
    assert r.returncode == 0, r.stderr  # the file block elsewhere does not run: no --allow-io needed
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["errors"] == [] and out["to"] == ["d1/mm", "read"]
    # results for the blocks that ran, and only those: not act, d1's y, the counters inc and k, the file
    assert set(out["results"]) == {"x", "d1/w", "d1/mm", "n", "read"}
    # the session's 3 steps ran; x @ w as numpy computes it
    assert out["steps"] == 3
    expected = np.array([[3.0]], np.float32) @ np.array([[2.0, -1.0]], np.float32)
    assert out["results"]["d1/mm"]["product"]["value"] == expected.tolist()
    # the counter on the other branch was never incremented: read sees n's first value at the third step
    assert out["results"]["read"]["output"]["value"] == 0 and out["results"]["n"]["ref"]["value"] == 0
    assert "Traceback" not in r.stderr


def test_run_to_an_unknown_block_is_a_command_line_mistake(page_path: str) -> None:
    r = enuflow("run", page_path, "--to", "d1/mm,reed")
    assert r.returncode == 2
    assert r.stderr.strip() == (f"enuflow: --to: {page_path}: there is no block 'reed' on the page "
                                "(did you mean 'read'?)")
    assert r.stdout == ""
    r = enuflow("run", page_path, "--to", "d1/x", "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["results"] == {}
    (e,) = out["errors"]
    assert e["block"] is None and "there is no block 'd1/x' on the page" in e["message"]
    assert "Traceback" not in r.stderr


def test_run_help_explains_to() -> None:
    r = enuflow("run", "--help")
    assert r.returncode == 0
    assert "--to BLOCK[,BLOCK]" in r.stdout and "exits with status 2" in " ".join(r.stdout.split())


# -- running again after a crash --------------------------------------------------------------------------

def test_after_a_crash_the_run_goes_on_without_it_and_keeps_the_blocks_asked_for() -> None:
    doc = {"format": "enuflow.page", "version": 1, "name": "t",
           "blocks": [{"id": i, "type": t, "pos": [0, 0], "pins": {}} for i, t in
                      [("a", "Const"), ("pool", "MaxPoolGradWithArgmax"), ("after", "Neg"), ("ok", "Neg")]],
           "links": [{"from": ["a", "output"], "to": ["pool", "input"]},
                     {"from": ["pool", "output"], "to": ["after", "x"]},
                     {"from": ["a", "output"], "to": ["ok", "x"]}]}
    retry = CrashRetry(doc, ["after", "ok"])
    # a time-out's words list the blocks that run (after, ok and what they need: pool, a), no other
    assert [b["id"] for b in retry.running()["blocks"]] == ["a", "after", "ok", "pool"]
    assert CrashRetry(doc, None).running() is doc
    crash = WorkerEvent("crashed", blocks=["pool"], signal="SIGABRT", exit_code=-6)
    errors = retry.crashed(crash, "worker.log")
    assert [e["block"] for e in errors] == ["pool"] and "SIGABRT" in errors[0]["message"]
    assert retry.again()
    # pool and what depends on it (after) are left out; the run goes on to ok alone
    assert [b["id"] for b in retry.doc["blocks"]] == ["a", "ok"] and retry.to == ["ok"]
    assert retry.crash["blocks"] == ["pool"] and retry.removed == ["pool"]
    # the same crash again names no new block: no more tries
    retry.crashed(crash, "worker.log")
    assert not retry.again()
    # when what was asked for depends on the crashing block, nothing is left to run
    only = CrashRetry(doc, ["after"])
    only.crashed(crash, "worker.log")
    assert not only.again()


def test_run_to_through_a_crash_blames_only_what_ran(tmp_path: Path) -> None:
    # pool (MaxPoolGradWithArgmax with an argmax past its output) aborts the worker; boom (Abort, which would
    # abort it too, and needs --allow-io) is on the page but not needed
    doc = {"format": "enuflow.page", "version": 1, "name": "t", "blocks": [
        {"id": i, "type": t, "pos": [0, 0], "pins": p} for i, t, p in [
            ("input", "Const", {"val": 1.0, "shape": "[1][2][2][1]", "dtype": "float32"}),
            ("grad", "Const", {"val": 1.0, "shape": "[1][1][1][1]", "dtype": "float32"}),
            ("argmax", "Const", {"val": 1000000000, "shape": "[1][1][1][1]", "dtype": "int64"}),
            ("pool", "MaxPoolGradWithArgmax", {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}),
            ("ok", "Const", {"val": [1.5, 2.5]}), ("neg", "Neg", {}), ("boom", "Abort", {"error_msg": "no"})]],
        "links": [{"from": [a, "output"], "to": ["pool", a]} for a in ("input", "grad", "argmax")]
        + [{"from": ["ok", "output"], "to": ["neg", "x"]}]}
    path = tmp_path / "crash.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    r = enuflow("run", str(path), "--to", "pool,neg", "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    (e,) = out["errors"]
    assert e["block"] == "pool" and e["message"].startswith("crashed the run: the run's worker process was killed")
    assert out["crash"]["blocks"] == ["pool"]
    # run again to neg alone: its value, and nothing of what was not asked for
    assert set(out["results"]) == {"ok", "neg"} and out["results"]["neg"]["y"]["value"] == [-1.5, -2.5]
    assert "Traceback" not in r.stderr
