"""Lean steps: between the first and the last step of a run, results of more than one number are run but not
fetched (``app.engine.runner.LEAN_STEP_SECONDS``). What a run gives back must not change: the expected values
are counted by hand (a Variable vector from 0 plus 1 per step), and compared with the same run fetching
everything at every step (an ``on_step`` that reads all results)."""

from __future__ import annotations

import threading

import numpy as np
from conftest import make_page

from enuflow.app.engine.runner import Runner, run_page

VECTOR = [("v", "Variable", {"initvalues": "0,0,0", "dtype": "float32", "shape": "[3]"}),
          ("ones", "Const", {"val": "1,1,1", "dtype": "float32", "shape": "[3]"}),
          ("add", "AssignAdd", {}),
          ("two", "Const", {"val": 2.0}),
          ("double", "Mul", {}),
          ("c", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
          ("one", "Const", {"val": 1.0}),
          ("count", "AssignAdd", {})]
VECTOR_LINKS = [("v", "ref", "add", "ref"), ("ones", "output", "add", "value"),
                ("add", "output_ref", "double", "x"), ("two", "output", "double", "y"),
                ("c", "ref", "count", "ref"), ("one", "output", "count", "value")]


def vector_page():
    return make_page(VECTOR, VECTOR_LINKS)


def test_a_lean_run_gives_what_fetching_every_step_gives() -> None:
    runner = Runner()
    try:
        lean = runner.run(vector_page(), steps=40)
        callables = list(runner._prepared.callables)
    finally:
        runner.close()
    full = run_page(vector_page(), steps=40, on_step=lambda i, res: None)  # reads all: no lean step
    assert lean.ok and full.ok, (lean.errors, full.errors)
    np.testing.assert_array_equal(lean.results.get("add", "output_ref"), [40.0, 40.0, 40.0])
    np.testing.assert_array_equal(lean.results.get("double", "z"), [80.0, 80.0, 80.0])
    assert lean.results.values.keys() == full.results.values.keys()
    for k, v in full.results.values.items():
        np.testing.assert_array_equal(lean.results.values[k], v, err_msg=str(k))
    assert lean.results.history == full.results.history
    assert lean.results.history[("count", "output_ref")] == [float(i) for i in range(1, 41)]
    # the steps between ran the vector blocks as targets, without fetching them
    assert any(("add", "output_ref") in targets for _, targets, _ in callables)


def test_a_run_stopped_after_a_lean_step_ends_with_one_full_step() -> None:
    stop = threading.Event()

    def on_step(i: int, results) -> None:
        if i == 5:
            stop.set()

    rep = run_page(vector_page(), steps=100, on_step=on_step, cancel=stop, step_results="scalars")
    assert rep.stopped and rep.ok, rep.errors
    assert rep.steps_done == 6  # step 5 fetched no vector: step 6 ran fully, then the run stopped
    counted = float(rep.results.get("count", "output_ref"))
    assert counted == 6.0
    # every result is of the same, last step
    np.testing.assert_array_equal(rep.results.get("add", "output_ref"), [counted] * 3)
    np.testing.assert_array_equal(rep.results.get("double", "z"), [2 * counted] * 3)


def test_a_stop_when_every_result_is_read_ends_at_once() -> None:
    stop = threading.Event()

    def on_step(i: int, results) -> None:
        if i == 5:
            stop.set()

    rep = run_page(vector_page(), steps=100, on_step=on_step, cancel=stop)
    assert rep.stopped and rep.steps_done == 5
    np.testing.assert_array_equal(rep.results.get("add", "output_ref"), [5.0, 5.0, 5.0])


def test_a_block_failing_at_a_lean_step_keeps_no_value_of_an_earlier_step() -> None:
    # w counts; sqrt(2.5 - w) is NaN from step 3, so chk fails at step 3; spread (a vector) depends on it
    page = make_page(VECTOR + [("w", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
                               ("wone", "Const", {"val": 1.0}), ("addw", "AssignAdd", {}),
                               ("lim", "Const", {"val": 2.5}), ("sub", "Sub", {}), ("sq", "Sqrt", {}),
                               ("chk", "CheckNumerics", {"message": "negative"}), ("spread", "Mul", {})],
                     VECTOR_LINKS + [("w", "ref", "addw", "ref"), ("wone", "output", "addw", "value"),
                                     ("lim", "output", "sub", "x"), ("addw", "output_ref", "sub", "y"),
                                     ("sub", "z", "sq", "x"), ("sq", "y", "chk", "tensor"),
                                     ("chk", "output", "spread", "x"), ("ones", "output", "spread", "y")])
    rep = run_page(page, steps=10)
    assert [e.block for e in rep.errors] == ["chk"]
    assert float(rep.results.get("count", "output_ref")) == 10.0
    np.testing.assert_array_equal(rep.results.get("add", "output_ref"), [10.0, 10.0, 10.0])
    # spread was last fetched at step 1: that value is not the run's, so it has none
    assert rep.results.get("spread", "z") is None


def test_a_page_that_only_shows_fed_values_runs_every_step() -> None:
    page = make_page([("x", "Const", {"val": 2.0}), ("session", "ClientSession", {"steps": 5})],
                     [("x", "output", "session", "fetch_outputs")])
    rep = run_page(page)
    assert rep.ok and rep.steps_done == 5
    assert rep.results.history[("x", "output")] == [2.0] * 5


#: a counter that adds a Const number and a string Const's length at every step
COUNTER = [("n", "Variable", {"initvalues": 0, "dtype": "int32", "shape": []}),
           ("by", "Const", {"val": 2, "dtype": "int32"}),
           ("add", "AssignAdd", {}),
           ("text", "Const", {"val": "abc", "dtype": "string"}),
           ("len", "StringLength", {}),
           ("m", "Variable", {"initvalues": 0, "dtype": "int32", "shape": []}),
           ("addlen", "AssignAdd", {})]
COUNTER_LINKS = [("n", "ref", "add", "ref"), ("by", "output", "add", "value"),
                 ("text", "output", "len", "input"), ("m", "ref", "addlen", "ref"),
                 ("len", "output", "addlen", "value")]


def test_values_edited_between_runs_of_many_steps_are_the_ones_used() -> None:
    """Lean steps read small values from Consts in the graph (``BAKED_SIZE``): a value edited afterwards (no
    rebuild) must be the one a later run uses, at every step, and the first value again once it is back."""
    page = make_page(COUNTER, COUNTER_LINKS)
    runner = Runner()
    try:
        for by, text, steps in ((2, "abc", 30), (5, "abcdefg", 30), (2, "abc", 40), (3, "abc", 20), (2, "z", 25)):
            page.set_pin("by", "val", by)
            page.set_pin("text", "val", text)
            rep = runner.run(page, steps=steps)
            assert rep.ok, rep.errors
            assert float(rep.results.get("add", "output_ref")) == by * steps, (by, text)
            assert float(rep.results.get("addlen", "output_ref")) == len(text) * steps, (by, text)
            assert rep.results.history[("add", "output_ref")] == [float(by * i) for i in range(1, steps + 1)]
            assert rep.results.history[("by", "output")] == [float(by)] * steps
        assert runner.builds == 1  # the same graph all along: the edits were values
    finally:
        runner.close()


#: a counter; a Switch passes its value on every third step (the other branch at the others)
SWITCHED = [("c", "Variable", {"initvalues": 0, "dtype": "int32", "shape": []}),
            ("one", "Const", {"val": 1, "dtype": "int32"}),
            ("count", "AssignAdd", {}),
            ("three", "Const", {"val": 3, "dtype": "int32"}),
            ("mod", "FloorMod", {}),
            ("zero", "Const", {"val": 0, "dtype": "int32"}),
            ("due", "Equal", {}),
            ("sw", "Switch", {})]
SWITCHED_LINKS = [("c", "ref", "count", "ref"), ("one", "output", "count", "value"),
                  ("count", "output_ref", "mod", "x"), ("three", "output", "mod", "y"),
                  ("mod", "z", "due", "x"), ("zero", "output", "due", "y"),
                  ("count", "output_ref", "sw", "data"), ("due", "z", "sw", "pred")]


def test_numbers_on_untaken_branches_in_lean_steps() -> None:
    """A number on a Switch branch has a value only at the steps its branch is taken: its history and last value
    are those steps', as when every result is read at every step."""
    runner = Runner()
    try:
        lean = runner.run(make_page(SWITCHED, SWITCHED_LINKS), steps=10)
    finally:
        runner.close()
    full = run_page(make_page(SWITCHED, SWITCHED_LINKS), steps=10, on_step=lambda i, res: None)
    assert lean.ok and full.ok, (lean.errors, full.errors)
    taken = [float(i) for i in range(1, 11) if i % 3 == 0]
    assert lean.results.history[("sw", "output_true")] == taken
    assert lean.results.history[("sw", "output_false")] == [float(i) for i in range(1, 11) if i % 3]
    assert lean.results.get("sw", "output_true") is None  # step 10 took the other branch
    assert lean.results.get("sw", "output_false").shape == () and int(lean.results.get("sw", "output_false")) == 10
    assert lean.results.values.keys() == full.results.values.keys()
    for k, v in full.results.values.items():
        assert isinstance(lean.results.values[k], np.ndarray), k
        np.testing.assert_array_equal(lean.results.values[k], v, err_msg=str(k))
    assert lean.results.history == full.results.history
    assert [str(w) for w in lean.warnings] == [str(w) for w in full.warnings]


def test_an_on_step_reading_scalars_now_and_then_sees_each_step_as_it_ran() -> None:
    """The worker's ``on_step`` reads the results a few times a second: whenever it reads them, they are those of the
    step just run (counted by hand: the counter is the step's number), numbers as arrays, and the history so far."""
    seen = {}

    def on_step(i: int, results) -> None:
        if i % 7 == 3:
            v = results.values[("count", "output_ref")]
            seen[i] = (type(v), float(v), list(results.history[("count", "output_ref")]))

    rep = run_page(vector_page(), steps=40, on_step=on_step, step_results="scalars")
    assert rep.ok, rep.errors
    assert sorted(seen) == [3, 10, 17, 24, 31, 38]
    for i, (kind, count, history) in seen.items():
        assert kind is np.ndarray
        assert count == float(i)
        assert history == [float(j) for j in range(1, i + 1)]
    assert rep.results.history[("count", "output_ref")] == [float(i) for i in range(1, 41)]
    np.testing.assert_array_equal(rep.results.get("add", "output_ref"), [40.0, 40.0, 40.0])
    assert all(type(v) is np.ndarray for v in rep.results.values.values())
