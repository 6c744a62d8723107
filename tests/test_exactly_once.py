"""A step runs each op at most once, whatever fails: stateful ops (AssignAdd, random ops) are never run twice.

The expected values are counted by hand (a Variable from 0.0 plus 1.0 per step) or drawn by hand-written
TensorFlow (the same seeded random op, run once per step).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.engine.runner import Runner, run_page

COUNTER = [("v", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
           ("one", "Const", {"val": 1.0}),
           ("add", "AssignAdd", {})]
COUNTER_LINKS = [("v", "ref", "add", "ref"), ("one", "output", "add", "value")]


def counter_and_nan_check():
    """The issue's page: a counter, and an unrelated CheckNumerics on a NaN Const (fails every step)."""
    return make_page(COUNTER + [("nan", "Const", {"val": float("nan")}),
                                ("chk", "CheckNumerics", {"message": "bad"})],
                     COUNTER_LINKS + [("nan", "output", "chk", "tensor")])


def counted(report) -> float:
    return float(report.results.get("add", "output_ref"))


@pytest.mark.parametrize("steps", [1, 3])
def test_unrelated_failure_does_not_run_the_step_twice(steps: int) -> None:
    page = counter_and_nan_check()
    runner = Runner()
    try:
        rep = runner.run(page, steps=steps)
        assert [(e.block, "NaN" in e.message) for e in rep.errors] == [("chk", True)]
        assert rep.steps_done == steps and rep.failed_blocks == {"chk"}
        # step 1 is one session call: it ran the counter once, but TensorFlow handed back nothing from it
        assert rep.results.history.get(("add", "output_ref"), []) == [float(i) for i in range(2, steps + 1)]
        if steps == 1:
            assert rep.results.get("add", "output_ref") is None
            assert any(w.block == "add" and "step 1" in w.message and "'chk'" in w.message for w in rep.warnings)
        else:
            assert counted(rep) == float(steps)  # was steps + 1: the step ran again without the failing block
        # the next step counts on from exactly ``steps``; chk's part now runs apart, so add keeps its value
        again = runner.run(page, steps=1, reset=False)
        assert counted(again) == float(steps + 1) and [e.block for e in again.errors] == ["chk"]
    finally:
        runner.close()


def test_failure_downstream_of_the_counter_in_the_same_execution() -> None:
    # chk depends on add: the failing execution did run add once; it is not run again in that step
    page = make_page(COUNTER + [("nan", "Const", {"val": float("nan")}), ("mul", "Mul", {}),
                                ("chk", "CheckNumerics", {"message": "bad"})],
                     COUNTER_LINKS + [("add", "output_ref", "mul", "x"), ("nan", "output", "mul", "y"),
                                      ("mul", "z", "chk", "tensor")])
    rep = run_page(page, steps=3)
    assert counted(rep) == 3.0  # was 4.0
    assert [e.block for e in rep.errors] == ["chk"]
    # the first step's value of add was lost with the failed execution: two values, of steps 2 and 3
    assert rep.results.history[("add", "output_ref")] == [2.0, 3.0]
    one = run_page(page, steps=1)
    assert one.results.get("add", "output_ref") is None
    assert any(w.block == "add" and "step 1" in w.message and "'chk'" in w.message for w in one.warnings)
    # the pure blocks of the failed execution keep their values (fetched again without stateful ops)
    assert np.isnan(one.results.get("nan", "output"))


def test_block_that_fails_only_at_a_later_step() -> None:
    # w counts too; sqrt(2.5 - w) is NaN from step 3 on, so chk2 fails at step 3 only; x -> neg is pure
    page = make_page(COUNTER + [("x", "Const", {"val": 3.0}), ("neg", "Neg", {}),
                                ("w", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
                                ("wone", "Const", {"val": 1.0}), ("addw", "AssignAdd", {}),
                                ("lim", "Const", {"val": 2.5}), ("sub", "Sub", {}), ("sq", "Sqrt", {}),
                                ("chk2", "CheckNumerics", {"message": "negative"})],
                     COUNTER_LINKS + [("w", "ref", "addw", "ref"), ("wone", "output", "addw", "value"),
                                      ("lim", "output", "sub", "x"), ("addw", "output_ref", "sub", "y"),
                                      ("sub", "z", "sq", "x"), ("sq", "y", "chk2", "tensor"),
                                      ("x", "output", "neg", "x")])
    rep = run_page(page, steps=4)
    assert [e.block for e in rep.errors] == ["chk2"]
    # each counter counted every step once: step 3 (one session call) failed, and was not run again
    assert counted(rep) == 4.0  # was 5.0: step 3 ran twice
    assert float(rep.results.get("addw", "output_ref")) == 4.0  # was 5.0
    # the parts with effects lost step 3's values (TensorFlow hands back nothing from a failed call) ...
    assert rep.results.history[("addw", "output_ref")] == [1.0, 2.0, 4.0]
    assert rep.results.history[("add", "output_ref")] == [1.0, 2.0, 4.0]
    # ... the pure part was fetched again: a value at every step
    assert rep.results.history[("neg", "y")] == [-3.0] * 4
    assert rep.warnings == []  # step 4 gave every lost result a value again


def test_stopped_run_and_step_continue_exactly_once() -> None:
    page = counter_and_nan_check()
    runner = Runner()
    try:
        cancel = threading.Event()

        def on_step(step, results):
            if step == 2:
                cancel.set()

        rep = runner.run(page, steps=0, on_step=on_step, cancel=cancel)
        assert rep.stopped and rep.steps_done == 2
        assert counted(rep) == 2.0  # was 3.0
        for expected in (3.0, 4.0):  # Step (F10): one step from the Variables' current values
            rep = runner.run(page, steps=1, reset=False)
            assert not rep.initialised and counted(rep) == expected  # was 5.0, 7.0
            assert [e.block for e in rep.errors] == ["chk"]
    finally:
        runner.close()


def test_random_op_draws_once_per_step() -> None:
    import tensorflow as tf

    page = make_page([("shape", "Const", {"val": [3], "dtype": "int32"}),
                      ("r", "RandomUniform", {"dtype": "float32", "seed": 7, "seed2": 11}),
                      ("nan", "Const", {"val": float("nan")}), ("chk", "CheckNumerics", {"message": "bad"})],
                     [("shape", "output", "r", "shape"), ("nan", "output", "chk", "tensor")])
    rep = run_page(page, steps=2)
    g = tf.Graph()
    with g.as_default():
        op = tf.raw_ops.RandomUniform(shape=tf.constant([3]), dtype=tf.float32, seed=7, seed2=11)
    with tf.compat.v1.Session(graph=g) as s:
        draws = [s.run(op) for _ in range(2)]
    np.testing.assert_array_equal(rep.results.get("r", "output"), draws[1])  # the second draw, not the fourth


def test_cli_json_counts_once(tmp_path: Path) -> None:
    from test_cli import enuflow

    p = tmp_path / "counter.json"
    p.write_text(json.dumps(page_to_doc(counter_and_nan_check())))
    r = enuflow("run", str(p), "--steps", "3", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["results"]["add"]["output_ref"]["value"] == 3.0  # was 4.0
    assert [e["block"] for e in doc["errors"]] == ["chk"]


def test_worker_step_runs_once() -> None:
    from test_worker import Events

    from enuflow.app.worker.client import WorkerClient

    events = Events()
    client = WorkerClient(events)
    try:
        doc = page_to_doc(counter_and_nan_check())
        got = []
        for reset in (True, False, False):  # Run one step, then Step (F10) twice
            rid = client.run(doc, steps=1, reset=reset)
            done = events.wait("done", rid)
            assert [e["block"] for e in done.errors] == ["chk"]
            value = done.results.get(("add", "output_ref"))
            got.append(None if value is None else float(np.asarray(value)))
        # the first step's one session call failed (its counter value lost); the Steps run chk's part apart
        assert got == [None, 2.0, 3.0]  # was [2.0, 4.0, 6.0]
    finally:
        client.close()


def test_op_handed_on_by_another_block_runs_once() -> None:
    # Operation hands on AssignAdd's op: running it and fetching add is still one AssignAdd per step
    page = make_page(COUNTER + [("op", "Operation", {}), ("session", "ClientSession", {"steps": 3})],
                     COUNTER_LINKS + [("add", "output_ref", "op", "operation"),
                                      ("add", "output_ref", "session", "fetch_outputs"),
                                      ("op", "output", "session", "run_outputs")])
    rep = run_page(page)
    assert rep.errors == [] and counted(rep) == 3.0


# -- one session call per step ------------------------------------------------------------------------------

def test_parts_tied_only_by_a_shared_queue_run_in_one_call() -> None:
    # two parts of the graph share a queue by its shared_name only; the dequeue comes first on the page. As one
    # session call (as TensorFlow runs it) the step returns; a call per part would wait for ever on the dequeue
    page = make_page([("q1", "FIFOQueueV2", {"component_types": ["float32"], "shared_name": "shared"}),
                      ("deq", "QueueDequeueV2", {"component_types": ["float32"]}),
                      ("q2", "FIFOQueueV2", {"component_types": ["float32"], "shared_name": "shared"}),
                      ("x", "Const", {"val": 5.0}), ("enq", "QueueEnqueueV2", {})],
                     [("q1", "handle", "deq", "handle"), ("q2", "handle", "enq", "handle"),
                      ("x", "output", "enq", "components")])
    rep = run_page(page, steps=3, allow_io=True, timeout=20)
    assert rep.ok and rep.steps_done == 3 and not rep.stopped, rep.errors
    assert float(rep.results.get("deq", "components[0]")) == 5.0
    assert rep.results.history[("deq", "components[0]")] == [5.0, 5.0, 5.0]


def test_fifty_independent_counters_each_count_every_step() -> None:
    n, steps = 50, 7
    blocks, links = [], []
    for i in range(n):
        blocks += [(f"v{i}", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
                   (f"one{i}", "Const", {"val": float(i + 1)}), (f"add{i}", "AssignAdd", {})]
        links += [(f"v{i}", "ref", f"add{i}", "ref"), (f"one{i}", "output", f"add{i}", "value")]
    rep = run_page(make_page(blocks, links), steps=steps)
    assert rep.ok and rep.steps_done == steps, rep.errors
    for i in range(n):
        assert rep.results.history[(f"add{i}", "output_ref")] == [float((i + 1) * s) for s in range(1, steps + 1)]


def test_op_error_when_the_step_is_made_is_blamed_on_its_block() -> None:
    # FractionalMaxPool refuses a seed without deterministic when its kernel is made (with the step's callable):
    # the error names the node, so its block is blamed and the other blocks keep their results
    import tensorflow as tf

    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    page = make_page([("x", "Const", {"val": x.tolist(), "dtype": "float32", "shape": "[1,4,4,1]"}),
                      ("fmp", "FractionalMaxPool", {"pooling_ratio": [1.0, 1.44, 1.73, 1.0], "seed": 7,
                                                    "deterministic": False}),
                      ("y", "Const", {"val": 3.0}), ("neg", "Neg", {})] + COUNTER,
                     [("x", "output", "fmp", "value"), ("y", "output", "neg", "x")] + COUNTER_LINKS)
    rep = run_page(page, steps=2)
    assert [e.block for e in rep.errors] == ["fmp"] and rep.failed_blocks == {"fmp"}
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:  # TensorFlow's own words, for comparison
        tf.raw_ops.FractionalMaxPool(value=x, pooling_ratio=[1.0, 1.44, 1.73, 1.0], seed=7, deterministic=False)
    assert rep.errors[0].message.split("\n")[0] in raised.value.message
    assert float(rep.results.get("neg", "y")) == -3.0 and rep.steps_done == 2
    assert rep.results.history[("neg", "y")] == [-3.0, -3.0]
    # nothing runs when the step's callable cannot be made: it is made again without fmp, and the counter
    # counts each step once
    assert counted(rep) == 2.0 and rep.results.history[("add", "output_ref")] == [1.0, 2.0]


def test_a_block_fixed_by_a_value_edit_runs_in_the_one_call_again() -> None:
    # chk fails on the NaN Const; the Step after the run runs chk's part apart, so the counter keeps its value;
    # once the value is edited (no rebuild) chk no longer fails, and the next run is one call per step again
    page = counter_and_nan_check()
    runner = Runner()
    try:
        runner.run(page, steps=2)
        assert runner._prepared.failing == {"chk"}
        rep = runner.run(page, steps=1, reset=False)
        assert counted(rep) == 3.0 and [e.block for e in rep.errors] == ["chk"]
        page.set_pin("nan", "val", 2.0)
        rep = runner.run(page, steps=2, reset=False)
        assert rep.ok and counted(rep) == 5.0 and float(rep.results.get("chk", "output")) == 2.0
        assert runner._prepared.failing == frozenset() and runner.builds == 1
    finally:
        runner.close()
