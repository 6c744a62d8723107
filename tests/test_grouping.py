"""Grouping blocks into composites and back (app/document/grouping.py), checked against hand-written pages: group
makes the definition whose inputs are the wires entering the selection (one outside source feeding two inner ports
is one input) and whose outputs are the inner ports read outside; ungroup gives the page back; grouping inside a
definition and grouping an instance nest; exposing a pin lets the instance set it. The numbers of every page are
checked against numpy (TensorFlow runs them)."""

from __future__ import annotations

import numpy as np
import pytest

from enuflow.app.document.formats.native import page_from_doc, page_to_doc
from enuflow.app.document.grouping import (GroupError, expose_pin, group, group_in_composite, rename_composite,
                                           ungroup,
                                           ungroup_in_composite)
from enuflow.app.engine.runner import run_page

X = [[1.5, -2.0], [0.25, 4.0]]
W = [[2.0, -1.0], [0.5, 3.0]]


def block(bid: str, btype: str, pos: list, pins: dict | None = None) -> dict:
    return {"id": bid, "type": btype, "pos": pos, "pins": pins or {}}


def link(s: str, sp: str, d: str, dp: str) -> dict:
    return {"from": [s, sp], "to": [d, dp]}


def original_doc() -> dict:
    """x, w -> mm = x @ w -> add = mm + x -> act = relu(add) -> neg; mm -> sq."""
    return {"format": "enuflow.page", "version": 1, "name": "p",
            "blocks": [block("x", "Const", [0, 0], {"val": X, "dtype": "float32"}),
                       block("w", "Const", [0, 200], {"val": W, "dtype": "float32"}),
                       block("mm", "MatMul", [300, 0]), block("add", "AddV2", [550, 0]),
                       block("act", "Relu", [800, 0]), block("neg", "Neg", [1100, 0]),
                       block("sq", "Square", [1100, 200])],
            "links": [link("x", "output", "mm", "a"), link("w", "output", "mm", "b"),
                      link("mm", "product", "add", "x"), link("x", "output", "add", "y"),
                      link("add", "z", "act", "features"), link("act", "activations", "neg", "x"),
                      link("mm", "product", "sq", "x")]}


def grouped_doc() -> dict:
    """What grouping mm, add and act into "group" must give."""
    comp = {"inputs": [{"name": "a", "to": [["mm", "a"], ["add", "y"]]}, {"name": "b", "to": [["mm", "b"]]}],
            "outputs": [{"name": "activations", "from": ["act", "activations"]},
                        {"name": "product", "from": ["mm", "product"]}],
            "pins": [],
            "blocks": [block("mm", "MatMul", [0, 0]), block("add", "AddV2", [250, 0]),
                       block("act", "Relu", [500, 0])],
            "links": [link("mm", "product", "add", "x"), link("add", "z", "act", "features")]}
    doc = original_doc()
    doc["composites"] = {"group": comp}
    doc["blocks"] = [doc["blocks"][0], doc["blocks"][1], block("group", "group", [300, 0]),
                     doc["blocks"][5], doc["blocks"][6]]
    doc["links"] = [link("x", "output", "group", "a"), link("w", "output", "group", "b"),
                    link("group", "activations", "neg", "x"), link("group", "product", "sq", "x")]
    return doc


def expected(mm_transposed: bool = False) -> dict[str, np.ndarray]:
    x, w = np.array(X, np.float32), np.array(W, np.float32)
    mm = (x.T if mm_transposed else x) @ w
    return {"neg": -np.maximum(mm + x, 0), "sq": mm * mm}


def numbers(page) -> dict[str, np.ndarray]:
    report = run_page(page)
    assert not report.errors, report.errors
    return {k: report.results.values[(k, "y")] for k in ("neg", "sq")}


def same_numbers(got: dict, want: dict) -> None:
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6)


def page(doc: dict):
    return page_from_doc("p.json", doc)


def test_group_makes_the_hand_written_composite_and_computes_the_same():
    before = page(original_doc())
    g = group(before, ["mm", "add", "act"], "group")
    assert (g.instance, g.composite) == ("group", "group")
    assert page_to_doc(g.page) == grouped_doc()
    assert page_to_doc(before) == original_doc()  # the page given is left as it was
    same_numbers(numbers(g.page), expected())


def test_ungroup_gives_the_page_back_and_drops_the_unused_definition():
    u = ungroup(page(grouped_doc()), "group")
    doc = original_doc()
    # the rewired links where the instance's were, the inner links after them
    doc["links"] = [link("x", "output", "mm", "a"), link("x", "output", "add", "y"), link("w", "output", "mm", "b"),
                    link("act", "activations", "neg", "x"), link("mm", "product", "sq", "x"),
                    link("mm", "product", "add", "x"), link("add", "z", "act", "features")]
    assert page_to_doc(u.page) == doc
    assert u.ids == {"mm": "mm", "add": "add", "act": "act"}
    same_numbers(numbers(u.page), expected())


def test_ungroup_keeps_a_definition_another_instance_uses_and_gives_fresh_ids_in_free_space():
    doc = grouped_doc()
    doc["blocks"].append(block("mm", "Const", [350, 60], {"val": 1.0}))  # takes the inner id and its place
    doc["blocks"].append(block("other", "group", [300, 400]))
    doc["links"].append(link("x", "output", "other", "a"))
    doc["links"].append(link("w", "output", "other", "b"))
    u = ungroup(page(doc), "group")
    assert "group" in u.page.composites
    assert u.ids == {"mm": "mm_2", "add": "add", "act": "act"}
    # at the instance's place the inner blocks would cover the Const "mm": they move to the nearest free place
    pos = {b.id: b.pos for b in u.page}
    dx, dy = pos["mm_2"][0] - 300, pos["mm_2"][1]
    assert (dx, dy) != (0, 0)
    assert (pos["add"], pos["act"]) == ((550 + dx, dy), (800 + dx, dy))
    rects = [(b.pos[0], b.pos[1], 180, 90) for b in u.page]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not (a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


def test_ungroup_sets_the_instances_pins_on_the_inner_pins_they_expose():
    doc = grouped_doc()
    doc["composites"]["group"]["pins"] = [{"name": "ta", "block": "mm", "pin": "transpose_a"}]
    doc["blocks"][2]["pins"] = {"ta": True}
    p = page(doc)
    same_numbers(numbers(p), expected(mm_transposed=True))
    u = ungroup(p, "group")
    assert u.page.block("mm").pins == {"transpose_a": True}
    same_numbers(numbers(u.page), expected(mm_transposed=True))


def test_expose_pin_adds_to_the_definitions_pins_and_the_instance_sets_it():
    p = page(grouped_doc())
    comp = expose_pin(p.composites["group"], "mm", "transpose_a")
    assert [(q.name, q.block, q.pin) for q in comp.pins] == [("transpose_a", "mm", "transpose_a")]
    again = expose_pin(comp, "add", "T")
    assert [q.name for q in again.pins] == ["transpose_a", "T"]
    with pytest.raises(GroupError):
        expose_pin(comp, "mm", "transpose_a")
    clash = expose_pin(comp, "act", "transpose_a")  # the name is taken: named by block and pin
    assert clash.pins[-1].name == "act_transpose_a"
    p.set_composite("group", comp)
    p.set_pin("group", "transpose_a", True)
    same_numbers(numbers(p), expected(mm_transposed=True))


def test_grouping_inside_a_definition_nests_and_its_ports_follow():
    g = group_in_composite(page(grouped_doc()), "group", ["add", "act"], "inner")
    doc = grouped_doc()
    doc["composites"]["group"] = {
        "inputs": [{"name": "a", "to": [["mm", "a"], ["inner", "a"]]}, {"name": "b", "to": [["mm", "b"]]}],
        "outputs": [{"name": "activations", "from": ["inner", "activations"]},
                    {"name": "product", "from": ["mm", "product"]}],
        "pins": [], "blocks": [block("mm", "MatMul", [0, 0]), block("inner", "inner", [250, 0])],
        "links": [link("mm", "product", "inner", "x")]}
    doc["composites"]["inner"] = {
        "inputs": [{"name": "a", "to": [["add", "y"]]}, {"name": "x", "to": [["add", "x"]]}],
        "outputs": [{"name": "activations", "from": ["act", "activations"]}], "pins": [],
        "blocks": [block("add", "AddV2", [0, 0]), block("act", "Relu", [250, 0])],
        "links": [link("add", "z", "act", "features")]}
    assert page_to_doc(g.page) == doc
    same_numbers(numbers(g.page), expected())
    # and back: the definition is as it was, "inner" is dropped
    u = ungroup_in_composite(g.page, "group", "inner")
    comp = u.page.composites["group"]
    assert set(u.page.composites) == {"group"}
    assert [(p.name, p.to) for p in comp.inputs] == [("a", [("mm", "a"), ("add", "y")]), ("b", [("mm", "b")])]
    assert [(p.name, p.src) for p in comp.outputs] == [("activations", ("act", "activations")),
                                                       ("product", ("mm", "product"))]
    same_numbers(numbers(u.page), expected())


def test_a_definitions_exposed_pin_follows_its_block_into_the_new_group():
    doc = grouped_doc()
    doc["composites"]["group"]["pins"] = [{"name": "ta", "block": "mm", "pin": "transpose_a"}]
    doc["blocks"][2]["pins"] = {"ta": True}
    g = group_in_composite(page(doc), "group", ["mm", "add"], "inner")
    outer = g.page.composites["group"]
    assert [(p.name, p.block, p.pin) for p in outer.pins] == [("ta", "inner", "ta")]
    assert [(p.name, p.block, p.pin) for p in g.page.composites["inner"].pins] == [("ta", "mm", "transpose_a")]
    same_numbers(numbers(g.page), expected(mm_transposed=True))


def test_grouping_an_instance_with_other_blocks_nests_composites():
    g = group(page(grouped_doc()), ["group", "neg"], "outer")
    outer = g.page.composites["outer"]
    assert [b.type for b in outer.blocks] == ["group", "Neg"]
    assert [(p.name, p.to) for p in outer.inputs] == [("a", [("group", "a")]), ("b", [("group", "b")])]
    assert [(p.name, p.src) for p in outer.outputs] == [("product", ("group", "product"))]
    assert [b.id for b in g.page] == ["x", "w", "outer", "sq"]
    report = run_page(g.page)
    assert not report.errors, report.errors
    np.testing.assert_allclose(report.results.values[("outer/neg", "y")], expected()["neg"], rtol=1e-6)
    np.testing.assert_allclose(report.results.values[("sq", "y")], expected()["sq"], rtol=1e-6)
    back = ungroup(g.page, "outer")
    assert set(back.page.composites) == {"group"} and [b.id for b in back.page] == ["x", "w", "group", "neg", "sq"]


def test_a_control_link_crossing_the_selection_goes_to_the_instance_and_back_to_the_first_blocks():
    doc = original_doc()
    doc["links"].append(link("w", "^", "add", "^"))
    g = group(page(doc), ["mm", "add", "act"], "group")
    assert {"from": ["w", "^"], "to": ["group", "^"]} in page_to_doc(g.page)["links"]
    u = ungroup(g.page, "group")
    assert [ln for ln in u.page.links if ln.src_port == "^"] == [("w", "^", "mm", "^")]  # mm is the first inner op


def test_group_refuses_an_empty_selection_and_a_taken_name():
    p = page(grouped_doc())
    with pytest.raises(GroupError):
        group(p, [], "g2")
    with pytest.raises(GroupError):
        group(p, ["neg"], "group")
    with pytest.raises(GroupError):
        ungroup(p, "neg")


def test_a_client_session_is_not_grouped():
    doc = original_doc()
    doc["blocks"].append(block("session", "ClientSession", [1400, 0], {"steps": 1}))
    with pytest.raises(GroupError, match="ClientSession"):
        group(page(doc), ["act", "session"], "g")


def test_group_ungroup_and_rename_keep_the_pages_frames_and_notes():
    doc = original_doc()
    doc["frames"] = [{"id": "f1", "title": "inputs", "rect": [0, 0, 300, 200], "color": "blue"}]
    doc["notes"] = [{"id": "n1", "pos": [0, 400], "text": "**bold** note"}]
    page = page_from_doc("p.json", doc)
    grouped = group(page, ["mm", "add", "act"], "group").page
    for p in (grouped, ungroup(grouped, "group").page, rename_composite(grouped, "group", "dense")):
        out = page_to_doc(p)
        assert (out["frames"], out["notes"]) == (doc["frames"], doc["notes"])


def test_rename_composite_renames_its_instances_and_users_and_refuses_a_taken_name():
    page = group(page_from_doc("p.json", original_doc()), ["mm", "add", "act"], "outer").page
    page = group_in_composite(page, "outer", ["add", "act"], "inner").page
    renamed = rename_composite(page, "inner", "core")
    assert list(renamed.composites) == ["outer", "core"] and renamed.composites["core"].name == "core"
    assert [b.type for b in renamed.composites["outer"].blocks] == ["MatMul", "core"]
    assert list(page.composites) == ["outer", "inner"]  # the given page as it was
    with pytest.raises(GroupError, match="already has a composite named 'outer'"):
        rename_composite(page, "inner", "outer")
    same_numbers(numbers(renamed), expected())
