"""SHOW_DEBUG prints each step's fetched values; a device pin naming a device this machine lacks is warned about."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import make_page

from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.engine.runner import run_page


def counter_page(show_debug: bool):
    return make_page([("v", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
                      ("one", "Const", {"val": 1.0}), ("add", "AssignAdd", {}),
                      ("word", "Const", {"val": "hi", "dtype": "string"}),
                      ("session", "ClientSession", {"steps": 3, "SHOW_DEBUG": show_debug})],
                     [("v", "ref", "add", "ref"), ("one", "output", "add", "value"),
                      ("add", "output_ref", "session", "fetch_outputs"),
                      ("word", "output", "session", "fetch_outputs")])


def test_show_debug_prints_each_step_on_stderr(tmp_path: Path) -> None:
    from test_cli import enuflow

    p = tmp_path / "debug.json"
    p.write_text(json.dumps(page_to_doc(counter_page(True))))
    r = enuflow("run", str(p), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["results"]["add"]["output_ref"]["value"] == 3.0  # stdout stays one JSON object
    lines = r.stderr.splitlines()
    assert lines == ["step 1: add.output_ref = 1.0", "step 1: word.output = hi",
                     "step 2: add.output_ref = 2.0", "step 2: word.output = hi",
                     "step 3: add.output_ref = 3.0", "step 3: word.output = hi"]
    p.write_text(json.dumps(page_to_doc(counter_page(False))))
    quiet = enuflow("run", str(p), "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_show_debug_reaches_the_editor_log() -> None:
    from test_worker import Events

    from enuflow.app.worker.client import WorkerClient

    events = Events()
    client = WorkerClient(events)
    try:
        rid = client.run(page_to_doc(counter_page(True)))
        events.wait("done", rid)
        logs = [e.message for e in events.seen if e.kind == "log" and e.run_id == rid]
        assert logs and logs[0].startswith("step 1: add.output_ref = 1.0")
        text = client.log_path.read_text(encoding="utf-8", errors="replace")
        assert "step 3: add.output_ref = 3.0" in text
    finally:
        client.close()


def test_missing_device_is_warned_naming_the_block() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {}), ("m", "Neg", {})],
                     [("a", "output", "n", "x"), ("a", "output", "m", "x")])
    page.block("n").device = "/device:GPU:9"  # no machine here has ten GPUs
    page.block("m").device = "/cpu:0"
    rep = run_page(page)
    assert rep.errors == [] and float(rep.results.get("n", "y")) == -1.0  # soft placement still ran it
    warned = [(w.block, w.message) for w in rep.warnings]
    assert len(warned) == 1 and warned[0][0] == "n" and "'/device:GPU:9'" in warned[0][1]
    assert "not on this machine" in warned[0][1]


def test_missing_device_on_the_session_is_warned_on_the_session() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {}),
                      ("session", "ClientSession", {"device": "/gpu:9"})],
                     [("a", "output", "n", "x"), ("n", "y", "session", "fetch_outputs")])
    rep = run_page(page)
    assert rep.errors == []
    assert [w.block for w in rep.warnings] == ["session"] and "/gpu:9" in rep.warnings[0].message
