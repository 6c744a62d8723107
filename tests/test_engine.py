"""The engine: declarations, validation, building and running pages, results and errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import make_page

from enuflow.app.engine.analysis import analyse
from enuflow.app.document.formats import load
from enuflow.app.engine.runner import Runner, run_page
from enuflow.blocks import REGISTRY
from enuflow.blocks.base import Port


def errors_of(page, **kw):
    return [(e.block, e.port, e.message) for e in analyse(page, **kw).errors]


# -- declarations ----------------------------------------------------------------------------

def test_sparse_grad_declaration() -> None:
    b = REGISTRY.get("SparseFillEmptyRowsGrad")
    assert b.origin == "hand" and b.category == "sparse_ops"
    assert [(p.name, p.dtype, p.rank) for p in b.inputs] == [("reverse_index_map", "int64", 1),
                                                             ("grad_values", "T", 1)]
    assert [(p.name, p.rank) for p in b.outputs] == [("d_values", 1), ("d_default_value", 0)]
    assert b.output_names() == ["d_values", "d_default_value"]
    assert "d_default_value" in b.doc and "sum" in b.doc
    d = b.describe()
    assert d["inputs"][0]["name"] == "reverse_index_map" and d["attrs"][0]["inferred"] is True


def test_generated_block_has_same_shape_as_hand_declared() -> None:
    add = REGISTRY.get("Add")
    assert add.origin == "opdef" and add.category == "math"
    assert [p.name for p in add.inputs] == ["x", "y"] and [p.name for p in add.outputs] == ["z"]
    t = add.attr("T")
    assert t.inferred and "float32" in t.allowed
    mean = REGISTRY.get("Mean")
    assert [p.name for p in mean.inputs] == ["input", "axis"]  # OpDef says reduction_indices
    split = REGISTRY.get("Split")
    assert split.outputs[0].is_list and split.output_names({"num_split": 3}) == ["output[0]", "output[1]",
                                                                                "output[2]"]
    addn = REGISTRY.get("AddN")
    assert addn.inputs[0].list_of == "number"


def test_port_is_data() -> None:
    p = Port("x", dtype="int64", rank=1)
    assert not p.is_list and p.kind == "tensor"


# -- validation --------------------------------------------------------------------------------

def test_unknown_block_type_suggests_names() -> None:
    page = make_page([("g", "SparseFillEmptyRowGrad", {})], [])
    (block, port, msg), = errors_of(page)
    assert block == "g" and port is None
    assert "unknown block type" in msg and "SparseFillEmptyRowsGrad" in msg


def test_missing_input_named() -> None:
    page = make_page([("rim", "Const", {"val": [0], "dtype": "int64"}), ("g", "SparseFillEmptyRowsGrad", {})],
                     [("rim", "output", "g", "reverse_index_map")])
    assert errors_of(page) == [("g", "grad_values", "input 'grad_values' is not wired and has no value")]


def test_link_to_missing_port_and_wrong_direction() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {}), ("m", "Neg", {})],
                     [("a", "output", "n", "nope"), ("a", "output", "m", "x"), ("m", "x", "n", "x")])
    errs = errors_of(page)
    assert ("n", "nope", "Neg has no input 'nope' (inputs: x)") in errs
    assert any(b == "n" and p == "x" and "that is an input port" in m for b, p, m in errs)


def test_link_from_missing_output() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {})], [("a", "out", "n", "x")])
    assert any(b == "a" and p == "out" and "has no output 'out'" in m for b, p, m in errors_of(page))


def test_two_links_into_single_input() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("b", "Const", {"val": 2.0}), ("n", "Neg", {})],
                     [("a", "output", "n", "x"), ("b", "output", "n", "x")])
    (b, p, m), = errors_of(page)
    assert (b, p) == ("n", "x") and "takes one link but has 2" in m and "'a.output'" in m and "'b.output'" in m


def test_cycle_names_blocks() -> None:
    page = make_page([("a", "Neg", {}), ("b", "Neg", {}), ("c", "Neg", {})],
                     [("a", "y", "b", "x"), ("b", "y", "c", "x"), ("c", "y", "a", "x")])
    errs = errors_of(page)
    assert len(errs) == 1
    assert "cycle" in errs[0][2] and all(n in errs[0][2] for n in "abc")


def test_bad_pin_value_named() -> None:
    page = make_page([("c", "Const", {"val": "1,x", "dtype": "float32"}), ("d", "Const", {"val": 1, "dtype": "DT_Q"}),
                      ("e", "Const", {"val": 1, "nonsense": 3})], [])
    errs = errors_of(page)
    assert ("c", "val", "pin 'val': 'x' is not a number") in errs
    assert any(b == "d" and p == "dtype" for b, p, _ in errs)
    assert ("e", "nonsense", "Const has no pin 'nonsense'") in errs


def test_all_problems_reported_at_once() -> None:
    page = make_page([("x", "Nope", {}), ("c", "Const", {}), ("n", "Neg", {})], [])
    blocks = {b for b, _, _ in errors_of(page)}
    assert blocks == {"x", "c", "n"}


def test_dtype_clash_known_before_running() -> None:
    page = load_default()
    page.set_pin("rim", "dtype", "float32")
    page.set_pin("rim", "val", [2.0, 1.0])
    rep = run_page(page)
    err = [e for e in rep.errors if e.block == "g"]
    assert err and err[0].port == "reverse_index_map"
    assert "needs int64, but gets float32" in err[0].message and "'rim.output'" in err[0].message
    # the independent blocks still ran
    assert rep.results.get("grad", "output").tolist() == [0, 1, 2, 3]


def test_type_attr_clash_between_inputs() -> None:
    page = make_page([("a", "Const", {"val": [1.0], "dtype": "float32"}), ("b", "Const", {"val": [1], "dtype": "int64"}),
                      ("s", "Add", {})], [("a", "output", "s", "x"), ("b", "output", "s", "y")])
    rep = run_page(page)
    (e,) = rep.errors
    assert e.block == "s" and e.port == "y" and "int64" in e.message and "float32" in e.message


def test_rank_checked() -> None:
    page = make_page([("rim", "Const", {"val": [[0]], "dtype": "int64"}), ("gv", "Const", {"val": [1.0]}),
                      ("g", "SparseFillEmptyRowsGrad", {})],
                     [("rim", "output", "g", "reverse_index_map"), ("gv", "output", "g", "grad_values")])
    (e,) = run_page(page).errors
    assert e.block == "g" and e.port == "reverse_index_map" and "rank 1" in e.message


# -- running -----------------------------------------------------------------------------------

def load_default():
    from conftest import ROOT

    return load(ROOT / "scenes" / "sparse_fill_empty_rows_grad.json")


def test_default_page_runs() -> None:
    rep = run_page(load_default())
    assert rep.errors == []
    assert rep.results.get("g", "d_values").tolist() == [2.0, 1.0]
    assert rep.results.get("g", "d_default_value").item() == 3.0
    assert rep.results.get("g", "d_values").dtype == np.float32
    assert rep.results.get("g", "d_default_value").shape == ()


def test_run_time_error_attributed_and_others_still_run() -> None:
    page = load_default()
    page.set_pin("rim", "val", [2, -1])
    from enuflow.app.document.page import BlockInstance, Link

    page.add_block(BlockInstance("other", "Const", pins={"val": [5.0]}))
    page.add_link(Link("other", "output", "session", "fetch_outputs"))
    rep = run_page(page)
    (e,) = rep.errors
    assert e.block == "g"
    assert "must be in [0, 4)" in e.message and "-1" in e.message
    assert "Traceback" not in e.message and "File \"" not in e.message
    assert rep.results.get("g", "d_values") is None
    assert rep.results.get("rim", "output").tolist() == [2, -1]
    assert rep.results.get("other", "output").tolist() == [5.0]


def test_value_edit_does_not_rebuild() -> None:
    page = load_default()
    runner = Runner()
    try:
        r1 = runner.run(page)
        page.set_pin("grad", "val", "10,20,30,40")
        r2 = runner.run(page)
        assert r1.rebuilt and not r2.rebuilt and runner.builds == 1
        assert r2.results.get("g", "d_values").tolist() == [30.0, 20.0]
        assert r2.results.get("g", "d_default_value").item() == 50.0
        page.set_pin("rim", "val", [0, 1, 3])  # a new shape is a structural change
        r3 = runner.run(page)
        assert r3.rebuilt and r3.results.get("g", "d_default_value").item() == 30.0
        page.move_block("g", (5, 5))  # moving is not structural
        assert not runner.run(page).rebuilt
    finally:
        runner.close()


def test_page_without_session_fetches_everything() -> None:
    page = make_page([("a", "Const", {"val": [[1.0, 2.0], [3.0, 4.0]]}), ("b", "Const", {"val": [[1.0], [1.0]]}),
                      ("m", "MatMul", {}), ("r", "Range", {"start": 0, "limit": 5, "delta": 1}),
                      ("s", "Mul", {})],
                     [("a", "output", "m", "a"), ("b", "output", "m", "b"), ("r", "output", "s", "x"),
                      ("r", "output", "s", "y")])
    rep = run_page(page)
    assert rep.errors == []
    assert rep.results.get("m", "product").tolist() == [[3.0], [7.0]]
    assert rep.results.get("r", "output").tolist() == [0, 1, 2, 3, 4]
    assert rep.results.get("s", "z").tolist() == [0, 1, 4, 9, 16]
    assert set(rep.results.of_block("a")) == {"output"}


def test_attr_pins_and_enuspace_attrs() -> None:
    page = make_page([("a", "Const", {"val": "{{1,2},{3,4}}", "dtype": "DT_FLOAT"}),
                      ("b", "Const", {"val": "1,0,0,1", "shape": "[2][2]", "dtype": "float32"}),
                      ("m", "MatMul", {"transpose_a": "TRUE"})],
                     [("a", "output", "m", "a"), ("b", "output", "m", "b")])
    rep = run_page(page)
    assert rep.errors == []
    assert rep.results.get("m", "product").tolist() == [[1, 3], [2, 4]]


def test_unwired_input_value_is_fed_in_wired_dtype() -> None:
    page = make_page([("a", "Const", {"val": [1.5, 2.5], "dtype": "float64"}), ("s", "Add", {"y": 2})],
                     [("a", "output", "s", "x")])
    rep = run_page(page)
    assert rep.errors == []
    z = rep.results.get("s", "z")
    assert z.dtype == np.float64 and z.tolist() == [3.5, 4.5]


def test_list_input_takes_links_in_order() -> None:
    page = make_page([("a", "Const", {"val": [1]}), ("b", "Const", {"val": [2]}), ("c", "Const", {"val": [3]}),
                      ("cat", "ConcatV2", {"axis": 0}), ("n", "AddN", {})],
                     [("c", "output", "cat", "values"), ("a", "output", "cat", "values"),
                      ("b", "output", "cat", "values"), ("a", "output", "n", "inputs"), ("c", "output", "n", "inputs")])
    rep = run_page(page)
    assert rep.errors == []
    assert rep.results.get("cat", "output").tolist() == [3, 1, 2]
    assert rep.results.get("n", "sum").tolist() == [4]


def test_list_outputs_are_numbered() -> None:
    page = make_page([("a", "Const", {"val": [1, 2, 3, 4, 5, 6]}), ("sp", "Split", {"num_split": 3, "axis": 0}),
                      ("n", "Neg", {})],
                     [("a", "output", "sp", "value"), ("sp", "output[2]", "n", "x")])
    rep = run_page(page)
    assert rep.errors == []
    assert rep.results.get("sp", "output[1]").tolist() == [3, 4]
    assert rep.results.get("n", "y").tolist() == [-5, -6]


def test_client_session_fetches_and_steps() -> None:
    page = make_page([("a", "Const", {"val": 2.0}), ("b", "Const", {"val": 3.0}), ("m", "Mul", {}),
                      ("lonely", "Const", {"val": 9.0}), ("s", "ClientSession", {"steps": 4})],
                     [("a", "output", "m", "x"), ("b", "output", "m", "y"), ("m", "z", "s", "fetch_outputs")])
    seen = []
    rep = run_page(page, on_step=lambda i, res: seen.append(i))
    assert rep.errors == [] and rep.steps_done == 4 and seen == [1, 2, 3, 4]
    assert rep.results.get("m", "z").item() == 6.0
    assert rep.results.get("a", "output").item() == 2.0  # upstream of a fetch: shown too
    assert rep.results.get("lonely", "output") is None  # not connected to the session: not run
    assert rep.results.history[("m", "z")] == [6.0] * 4


def test_steps_override_and_cancel() -> None:
    page = make_page([("r", "RandomUniform", {"shape": [3], "dtype": "float32"}),
                      ("s", "ClientSession", {"INFINITE_LOOP": "TRUE"})], [("r", "output", "s", "fetch_outputs")])
    stop = threading.Event()

    def on_step(i, res):
        if i == 7:
            stop.set()

    rep = run_page(page, on_step=on_step, cancel=stop)
    assert rep.stopped and rep.steps_done == 7
    assert run_page(page, steps=3).steps_done == 3


def test_results_are_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    page = make_page([("r", "Range", {"start": 0, "limit": 1_000_000, "delta": 1})], [])
    returned = []
    real = Runner._callable

    def spy(prepared, keys, targets, feeds=None):
        fn = real(prepared, keys, targets, feeds)

        def wrapped(*feeds):
            out = fn(*feeds)
            returned.extend(out)
            return out

        return wrapped

    monkeypatch.setattr(Runner, "_callable", staticmethod(spy))
    rep = run_page(page)
    arr = rep.results.get("r", "output")
    assert arr.shape == (1_000_000,) and arr[-1] == 999_999
    # the store holds the very array the session returned: the runner made no copy of its own
    assert any(arr is r for r in returned)


def test_two_sessions_rejected() -> None:
    page = make_page([("s1", "ClientSession", {}), ("s2", "ClientSession", {})], [])
    assert [(b, m) for b, _, m in errors_of(page)] == [("s2", "a page has one ClientSession; 's1' is already it")]


def test_runner_never_raises_for_page_problems() -> None:
    page = make_page([("x", "Nope", {}), ("c", "Const", {"val": "1,2,", "shape": "[9]"})], [])
    rep = run_page(page)
    assert {e.block for e in rep.errors} == {"x", "c"}


def test_placeholder_is_fed_from_pin() -> None:
    page = make_page([("p", "Placeholder", {"dtype": "float32", "shape": "[-1][2]", "value": [[1, 2], [3, 4]]}),
                      ("n", "Neg", {})], [("p", "output", "n", "x")])
    rep = run_page(page)
    assert rep.errors == [] and rep.results.get("n", "y").tolist() == [[-1, -2], [-3, -4]]
    page.set_pin("p", "value", [[1, 2, 3]])
    (e,) = run_page(page).errors
    assert e.block == "p" and e.port == "value" and "does not fit" in e.message


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_sparse_grad_dtypes_through_page(dtype: str) -> None:
    page = load_default()
    page.set_pin("grad", "dtype", dtype)
    rep = run_page(page)
    assert rep.errors == []
    assert str(rep.results.get("g", "d_values").dtype) == dtype
    assert rep.results.get("g", "d_default_value").item() == 3


def test_device_pin_and_soft_placement() -> None:
    page = load_default()
    page.set_pin("session", "device", "/gpu:0")  # no GPU here: ops fall back to the CPU
    rep = run_page(page)
    assert rep.errors == [] and rep.results.get("g", "d_values").tolist() == [2.0, 1.0]
    rep = run_page(load_default(), device="/cpu:0")
    assert rep.errors == []


def test_runs_on_a_grpc_target() -> None:
    from enuflow.blocks.tf import load as load_tf

    tf = load_tf()
    server = tf.distribute.Server.create_local_server()
    rep = run_page(load_default(), target=server.target)
    assert server.target.startswith("grpc://")
    assert rep.errors == [] and rep.results.get("g", "d_default_value").item() == 3.0


def test_untaken_switch_branch_has_no_value() -> None:
    page = make_page([("d", "Const", {"val": [1.0, 2.0]}), ("p", "Const", {"val": False}), ("s", "Switch", {}),
                      ("n", "Neg", {})],
                     [("d", "output", "s", "data"), ("p", "output", "s", "pred"), ("s", "output_true", "n", "x")])
    rep = run_page(page)
    assert rep.errors == []
    assert rep.results.get("s", "output_false").tolist() == [1.0, 2.0]
    assert rep.results.get("s", "output_true") is None and rep.results.get("n", "y") is None
    assert {(w.block, w.port) for w in rep.warnings} == {("s", "output_true"), ("n", "y")}
    page.set_pin("p", "val", True)
    rep = run_page(page)
    assert rep.results.get("n", "y").tolist() == [-1.0, -2.0] and rep.results.get("s", "output_false") is None


def test_step_by_step_continues_variables(root) -> None:
    page = load(root / "scenes" / "linear_regression.json")
    runner = Runner()
    try:
        first = runner.run(page, steps=1, reset=False)  # nothing ran yet: Variables start from their initial values
        assert first.errors == [] and first.initialised
        costs = [first.results.get("cost", "output").item()]
        for _ in range(4):
            r = runner.run(page, steps=1, reset=False)
            assert not r.initialised and not r.rebuilt
            costs.append(r.results.get("cost", "output").item())
        whole = runner.run(page, steps=5)  # reset: a fresh run of 5 steps gives the same costs
        assert whole.initialised
        np.testing.assert_allclose(whole.results.history[("cost", "output")], costs, rtol=1e-6)
        assert costs[-1] < costs[0]
    finally:
        runner.close()
