"""Composite blocks (ARCHITECTURE.md section 4a): pages with composites compute what numpy and Keras compute, inner
blocks are keyed by path in results, errors, ``--json`` and op names; bad definitions are refused with exit 2 and a
message naming the composite; composite files read and write the documented format; the library is listed by
``enuflow blocks``; and the editor opens and runs a page with composites."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from enuflow.app import cli
from enuflow.app.document.composite_files import (PlaceError, library, load_composite, place, save_composite,
                                                  save_to_library)
from enuflow.app.document.formats import load, save
from enuflow.app.document.formats.errors import PageFileError
from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.runner import run_page

X = [[1.5, -2.0], [0.25, 4.0]]
W = [[2.0, -1.0], [0.5, 3.0]]
B = [0.5, -20.0]


def dense_relu() -> dict:
    """The ARCHITECTURE example, with a bias: x @ w + b, then relu."""
    return {
        "doc": "x @ w + b, then relu",
        "inputs": [{"name": "x", "to": [["mm", "a"]]}],
        "outputs": [{"name": "y", "from": ["act", "activations"]}],
        "pins": [{"name": "w", "block": "w", "pin": "val"}, {"name": "b", "block": "b", "pin": "val"}],
        "blocks": [{"id": "w", "type": "Const", "pos": [0, 0], "pins": {"val": [[1.0]], "dtype": "float32"}},
                   {"id": "b", "type": "Const", "pos": [0, 100], "pins": {"val": [0.0], "dtype": "float32"}},
                   {"id": "mm", "type": "MatMul", "pos": [200, 0], "pins": {}},
                   {"id": "add", "type": "AddV2", "pos": [400, 0], "pins": {}},
                   {"id": "act", "type": "Relu", "pos": [600, 0], "pins": {}}],
        "links": [{"from": ["w", "output"], "to": ["mm", "b"]}, {"from": ["mm", "product"], "to": ["add", "x"]},
                  {"from": ["b", "output"], "to": ["add", "y"]},
                  {"from": ["add", "z"], "to": ["act", "features"]}],
    }


def page_doc(blocks: list, links: list, composites: dict | None = None) -> dict:
    doc = {"format": "enuflow.page", "version": 1, "name": "p",
           "composites": {"dense_relu": dense_relu()} if composites is None else composites,
           "blocks": blocks, "links": links}
    return doc


def dense_page_doc() -> dict:
    return page_doc([{"id": "x", "type": "Const", "pos": [0, 0], "pins": {"val": X, "dtype": "float32"}},
                     {"id": "d1", "type": "dense_relu", "pos": [200, 80], "pins": {"w": W, "b": B}}],
                    [{"from": ["x", "output"], "to": ["d1", "x"]}])


def nested_doc() -> dict:
    two = {"inputs": [{"name": "x", "to": [["l1", "x"]]}],
           "outputs": [{"name": "y", "from": ["l2", "y"]}, {"name": "hidden", "from": ["l1", "y"]}],
           "pins": [{"name": "w1", "block": "l1", "pin": "w"}, {"name": "w2", "block": "l2", "pin": "w"}],
           "blocks": [{"id": "l1", "type": "dense_relu", "pins": {"b": [1.0, 1.0]}},
                      {"id": "l2", "type": "dense_relu", "pins": {}}],
           "links": [{"from": ["l1", "y"], "to": ["l2", "x"]}]}
    return page_doc([{"id": "x", "type": "Const", "pins": {"val": X, "dtype": "float32"}},
                     {"id": "net", "type": "two_layers", "pins": {"w1": W, "w2": [[1.0, 0.0], [-1.0, 1.0]]}}],
                    [{"from": ["x", "output"], "to": ["net", "x"]}],
                    {"dense_relu": dense_relu(), "two_layers": two})


def relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0)


def write(tmp: Path, doc: dict, name: str = "page.json") -> str:
    p = tmp / name
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def test_dense_relu_computes_what_numpy_computes_with_the_instance_pins():
    report = run_page(page_from_doc("p.json", dense_page_doc()))
    assert not report.errors, report.errors
    x, w, b = (np.array(v, np.float32) for v in (X, W, B))
    np.testing.assert_allclose(report.results.values[("d1", "y")], relu(x @ w + b), rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("d1/mm", "product")], x @ w, rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("d1/w", "output")], w)  # the instance's pin, not [[1.0]]
    assert report.results.values[("d1", "y")].min() == 0.0 and report.results.values[("d1", "y")].max() > 0


def test_a_pin_the_instance_leaves_unset_keeps_the_definitions_value():
    doc = dense_page_doc()
    del doc["blocks"][1]["pins"]["b"]
    report = run_page(page_from_doc("p.json", doc))
    x, w = np.array(X, np.float32), np.array(W, np.float32)
    np.testing.assert_allclose(report.results.values[("d1", "y")], relu(x @ w), rtol=1e-6)


def test_nested_composites_give_nested_paths_and_numbers():
    report = run_page(page_from_doc("p.json", nested_doc()))
    assert not report.errors, report.errors
    x, w1 = np.array(X, np.float32), np.array(W, np.float32)
    w2 = np.array([[1.0, 0.0], [-1.0, 1.0]], np.float32)
    hidden = relu(x @ w1 + 1.0)
    np.testing.assert_allclose(report.results.values[("net", "hidden")], hidden, rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("net", "y")], relu(hidden @ w2), rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("net/l2/mm", "product")], hidden @ w2, rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("net/l1", "y")], hidden, rtol=1e-6)
    assert ("net/l1/b", "output") in report.results.values


def test_a_build_error_inside_a_composite_is_keyed_by_its_path():
    doc = dense_page_doc()
    doc["blocks"][1]["pins"]["w"] = [[1.0, 2.0, 3.0]]  # 1x3: MatMul of a [2, 2] by it cannot be
    report = run_page(page_from_doc("p.json", doc))
    assert [e.block for e in report.errors] == ["d1/mm"]
    assert ("x", "output") in report.results.values  # the other blocks still ran


def test_a_run_time_error_inside_a_nested_composite_is_blamed_on_its_path():
    comps = {"checked_log": {"inputs": [{"name": "x", "to": [["log", "x"]]}],
                             "outputs": [{"name": "y", "from": ["check", "output"]}],
                             "blocks": [{"id": "log", "type": "Log"},
                                        {"id": "check", "type": "CheckNumerics", "pins": {"message": "bad"}}],
                             "links": [{"from": ["log", "y"], "to": ["check", "tensor"]}]},
             "outer": {"inputs": [{"name": "x", "to": [["inner", "x"]]}],
                       "outputs": [{"name": "y", "from": ["inner", "y"]}],
                       "blocks": [{"id": "inner", "type": "checked_log"}]}}
    doc = page_doc([{"id": "x", "type": "Const", "pins": {"val": [-1.0, 2.0]}}, {"id": "o", "type": "outer"}],
                   [{"from": ["x", "output"], "to": ["o", "x"]}], comps)
    report = run_page(page_from_doc("p.json", doc))
    assert [e.block for e in report.errors] == ["o/inner/check"]
    assert "NaN" in report.errors[0].message


def test_json_output_keys_results_by_path_and_the_instance_by_its_outputs(tmp_path, capsys):
    path = write(tmp_path, dense_page_doc())
    assert cli.main(["run", path, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["results"]) == {"x", "d1/w", "d1/b", "d1/mm", "d1/add", "d1/act", "d1"}
    x, w, b = (np.array(v, np.float32) for v in (X, W, B))
    assert doc["results"]["d1"]["y"]["shape"] == [2, 2]
    np.testing.assert_allclose(doc["results"]["d1"]["y"]["value"], relu(x @ w + b), rtol=1e-6)


def test_exported_graphdef_op_names_carry_the_path(tmp_path, capsys):
    from google.protobuf import text_format

    from enuflow.blocks.tf import load as load_tf

    tf = load_tf()
    path = write(tmp_path, nested_doc())
    out = tmp_path / "g.pbtxt"
    assert cli.main(["export", path, "--graphdef", str(out)]) == 0
    gd = text_format.Parse(out.read_text(), tf.compat.v1.GraphDef())
    names = {n.name for n in gd.node}
    assert {"net/l1/mm", "net/l2/mm", "net/l1/act", "net/l2/add"} <= names
    assert all(n == "x" or n.startswith(("x/", "net/l1/", "net/l2/")) for n in names), sorted(names)
    mm = next(n for n in gd.node if n.name == "net/l2/mm")
    assert mm.op == "MatMul" and mm.input[0] == "net/l1/act"


BAD = {
    "unknown inner block type": (lambda c: c["dense_relu"]["blocks"][3].update(type="AddVee2"),
                                 ["dense_relu", "add", "AddVee2"]),
    "an exposed input naming a missing block": (
        lambda c: c["dense_relu"]["inputs"][0].update(to=[["nope", "a"]]), ["dense_relu", "nope"]),
    "an exposed input naming a missing port": (
        lambda c: c["dense_relu"]["inputs"][0].update(to=[["mm", "c"]]), ["dense_relu", "mm.c"]),
    "an exposed output naming a missing port": (
        lambda c: c["dense_relu"]["outputs"][0].update({"from": ["act", "out"]}), ["dense_relu", "act.out"]),
    "an exposed pin naming a missing block": (
        lambda c: c["dense_relu"]["pins"][0].update(block="ww"), ["dense_relu", "ww"]),
    "an exposed pin naming a missing pin": (
        lambda c: c["dense_relu"]["pins"][0].update(pin="value"), ["dense_relu", "w.value"]),
    "recursion between composites": (
        lambda c: c.update(a={"blocks": [{"id": "in", "type": "b"}]}, b={"blocks": [{"id": "in", "type": "a"}]}),
        ["uses itself", "a -> b -> a"]),
    "duplicate inner block ids": (
        lambda c: c["dense_relu"]["blocks"].append({"id": "mm", "type": "Relu"}), ["dense_relu", "'mm'", "twice"]),
    "duplicate exposed names": (
        lambda c: c["dense_relu"]["outputs"].append({"name": "y", "from": ["mm", "product"]}),
        ["dense_relu", "'y'", "twice"]),
    "an inner link to a missing block": (
        lambda c: c["dense_relu"]["links"].append({"from": ["zz", "output"], "to": ["act", "features"]}),
        ["dense_relu", "zz"]),
    "a name of a block type": (lambda c: c.update(Sigmoid=c["dense_relu"]), ["Sigmoid", "block type"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_definitions_exit_2_naming_the_composite(case, tmp_path, capsys):
    doc = dense_page_doc()
    BAD[case][0](doc["composites"])
    path = write(tmp_path, doc)
    assert cli.main(["run", path, "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    message = out["errors"][0]["message"]
    assert path in message and "Traceback" not in message
    for word in BAD[case][1]:
        assert word in message, (word, message)


def test_an_instance_pin_that_is_not_exposed_exits_2_naming_the_block(tmp_path, capsys):
    doc = dense_page_doc()
    doc["blocks"][1]["pins"]["kernel"] = W
    assert cli.main(["run", write(tmp_path, doc)]) == 2
    err = capsys.readouterr().err
    assert "'d1'" in err and "'kernel'" in err and "dense_relu" in err and "w, b" in err


def test_a_link_to_a_port_an_instance_does_not_expose_is_an_error_on_the_instance():
    doc = dense_page_doc()
    doc["links"][0]["to"] = ["d1", "input"]
    report = run_page(page_from_doc("p.json", doc))
    # the wrong port, and the inner input that is left without its wire
    assert [(e.block, e.port) for e in report.errors] == [("d1", "input"), ("d1/mm", "a")]
    assert "inputs are x" in report.errors[0].message


EXPECTED_FILE = {
    "format": "enuflow.composite", "version": 1, "name": "scale_shift",
    "doc": "x * k + c",
    "inputs": [{"name": "x", "to": [["mul", "x"]]}],
    "outputs": [{"name": "y", "from": ["add", "z"]}],
    "pins": [{"name": "k", "block": "k", "pin": "val"}],
    "blocks": [{"id": "k", "type": "Const", "pos": [0, 0], "pins": {"val": 2.0}},
               {"id": "c", "type": "Const", "pos": [0, 80], "pins": {"val": 1.0}, "label": "offset"},
               {"id": "mul", "type": "Mul", "pos": [160, 0], "pins": {}},
               {"id": "add", "type": "AddV2", "pos": [320, 0], "pins": {}}],
    "links": [{"from": ["k", "output"], "to": ["mul", "y"]}, {"from": ["mul", "z"], "to": ["add", "x"]},
              {"from": ["c", "output"], "to": ["add", "y"]}],
}


def test_a_composite_saved_on_its_own_is_the_documented_file(tmp_path):
    from enuflow.app.document.composites import Composite, ExposedInput, ExposedOutput, ExposedPin

    comp = Composite("scale_shift",
                     [BlockInstance("k", "Const", (0, 0), {"val": 2.0}),
                      BlockInstance("c", "Const", (0, 80), {"val": 1.0}, label="offset"),
                      BlockInstance("mul", "Mul", (160, 0)), BlockInstance("add", "AddV2", (320, 0))],
                     [Link("k", "output", "mul", "y"), Link("mul", "z", "add", "x"), Link("c", "output", "add", "y")],
                     [ExposedInput("x", [("mul", "x")])], [ExposedOutput("y", ("add", "z"))],
                     [ExposedPin("k", "k", "val")], "x * k + c")
    path = tmp_path / "scale_shift.json"
    save_composite(comp, path)
    assert json.loads(path.read_text(encoding="utf-8")) == EXPECTED_FILE
    assert sorted(os.listdir(tmp_path)) == ["scale_shift.json"]  # no temporary file left


def test_a_composite_file_is_read_placed_on_a_page_and_run(tmp_path):
    doc = copy.deepcopy(EXPECTED_FILE)
    doc["future_field"] = {"kept": True}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    comp = load_composite(path)
    assert (comp.name, comp.doc, comp.pin_default("k")) == ("scale_shift", "x * k + c", 2.0)
    page = Page("p")
    page.add_block(BlockInstance("x", "Const", (0, 0), {"val": [1.0, -3.0]}))
    inst = place(page, comp, (100, 50))
    page.add_link(Link("x", "output", inst.id, "x"))
    page.set_pin(inst.id, "k", 10.0)
    report = run_page(page)
    np.testing.assert_allclose(report.results.values[(inst.id, "y")], [11.0, -29.0])
    # the page is self-contained: its saved file holds the definition, unknown fields included
    save(page, tmp_path / "page.json")
    saved = json.loads((tmp_path / "page.json").read_text(encoding="utf-8"))
    expected = {k: v for k, v in doc.items() if k not in ("format", "version", "name")}
    assert saved["composites"] == {"scale_shift": expected}
    assert saved["blocks"][1] == {"id": inst.id, "type": "scale_shift", "pos": [100, 50], "pins": {"k": 10.0}}
    # placing a different definition of the same name is refused, the page unchanged
    other = load_composite(path)
    other.doc = "something else"
    with pytest.raises(PlaceError, match="scale_shift"):
        place(page, other)
    assert len(page) == 2


def test_a_page_keeps_its_composites_and_unknown_fields_on_save(tmp_path):
    doc = dense_page_doc()
    doc["composites"]["dense_relu"]["colour"] = "#abc"
    doc["future"] = [1, 2]
    src = write(tmp_path, doc)
    page = load(src)
    save(page, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again["composites"] == doc["composites"]
    assert again["future"] == [1, 2]


def test_a_broken_composite_file_names_the_file_and_composite(tmp_path):
    doc = copy.deepcopy(EXPECTED_FILE)
    doc["outputs"][0]["from"] = ["sum", "z"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(PageFileError) as e:
        load_composite(path)
    assert str(path) in str(e.value) and "'scale_shift'" in str(e.value) and "'sum'" in str(e.value)
    path.write_text(json.dumps({"format": "enuflow.page", "blocks": []}), encoding="utf-8")
    with pytest.raises(PageFileError, match="not 'enuflow.composite'"):
        load_composite(path)


@pytest.fixture(scope="module")
def keras():
    from enuflow.blocks.tf import load as load_tf

    return load_tf().keras


def _library_page(name: str, x: np.ndarray, pins: dict) -> Page:
    page = Page("p")
    page.add_block(BlockInstance("x", "Const", (0, 0), {"val": x.tolist(), "dtype": "float32"}))
    inst = place(page, library().composites[name], (200, 0), block_id="layer")
    for pin, value in pins.items():
        page.set_pin(inst.id, pin, value)
    page.add_link(Link("x", "output", "layer", "x"))
    return page


@pytest.mark.parametrize("activation", [None, "relu"])
def test_library_dense_computes_what_keras_dense_computes(keras, activation):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    report = run_page(_library_page("layers.Dense", x, {"units": 5, "activation": activation or "none"}))
    assert not report.errors, report.errors
    kernel, bias = report.results.values[("layer/kernel", "value")], report.results.values[("layer/bias", "value")]
    assert kernel.shape == (3, 5) and np.abs(kernel).max() > 0  # the layer's own initial weights
    layer = keras.layers.Dense(5, activation=activation)
    layer.build((None, 3))
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(report.results.values[("layer", "y")], np.asarray(layer(x)), rtol=1e-5, atol=1e-6)


def test_library_conv2d_computes_what_keras_conv2d_computes(keras):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 5, 3)).astype(np.float32)
    report = run_page(_library_page("layers.Conv2D", x, {"filters": 4, "kernel_size": [3, 2], "strides": [2, 1],
                                                         "padding": "same", "activation": "relu"}))
    assert not report.errors, report.errors
    kernel, bias = report.results.values[("layer/kernel", "value")], report.results.values[("layer/bias", "value")]
    assert kernel.shape == (3, 2, 3, 4) and np.abs(kernel).max() > 0  # the layer's own initial weights
    layer = keras.layers.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu")
    layer.build((None, 6, 5, 3))
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(report.results.values[("layer", "y")], np.asarray(layer(x)), rtol=1e-5, atol=1e-5)


def test_enuflow_blocks_lists_the_standard_and_the_users_composites(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENUFLOW_COMPOSITES_DIR", str(tmp_path / "mine"))
    comp = load_composite(write(tmp_path, EXPECTED_FILE, "c.json"))
    saved = save_to_library(comp)
    assert saved == tmp_path / "mine" / "scale_shift.json"
    assert cli.main(["blocks", "--category", "composite", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"layers.Dense", "layers.Conv2D", "layers.MaxPool2D", "layers.Flatten", "layers.Dropout", "layers.BatchNorm",
            "train.Minimize", "scale_shift"} <= set(rows)
    assert rows["layers.Dense"]["origin"] == "standard" and "tf.keras.layers.Dense" in rows["layers.Dense"]["doc"]
    assert rows["scale_shift"]["origin"] == "user" and rows["scale_shift"]["doc"] == "x * k + c"
    assert [p["name"] for p in rows["layers.Dense"]["attrs"]] == ["units", "activation", "use_bias", "initializer",
                                                                   "seed"]
    assert cli.main(["blocks", "layers.Dense"]) == 0
    shown = capsys.readouterr().out
    assert "x @ kernel + bias" in shown and "matmul (MatMul)" in shown
    assert cli.main(["blocks", "--search", "x * k"]) == 0
    assert "scale_shift" in capsys.readouterr().out


def test_the_editor_shows_an_instance_by_its_exposed_ports_and_runs_the_page(qtbot, new_window, gui_catalogue,
                                                                             tmp_path):
    w = new_window(start_worker=True)
    try:
        assert w.open_path(write(tmp_path, nested_doc()), ask=False)
        item = w.block_item("net")
        assert (item.inputs, item.outputs) == (["x"], ["y", "hidden"])
        assert item.known and item.category == "composite"
        rid = w.run_page()
        assert rid is not None
        qtbot.waitUntil(lambda: w.last_event is not None and w.last_event.kind in ("done", "crashed")
                        and not w.worker.busy, timeout=120_000)
        assert w.last_event.kind == "done" and not w.last_event.errors, w.last_event.errors
        assert set(w.block_item("net").previews) == {"y", "hidden"}
        w.select(["net"])  # the inspector shows the exposed pins
        assert {"w1", "w2"} <= set(w.inspector.fields)
    finally:
        if w.worker is not None:
            w.worker.close()
            w.worker = None
