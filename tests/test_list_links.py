"""The same output wired more than once into a list port (``AddN(a, b, a)``, ``ConcatV2([a, a])``): links into a
list port are a list, repeats included and in order, in the page model, the checks, the builder and the file
format; any other input still takes one link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_page
from enuflow.app.document.formats import load, save
from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.document.page import Link, Page
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.runner import run_page

A = [1.5, -2.0, 3.0]
B = [10.0, 20.0, 40.0]


def _page() -> Page:
    return make_page(
        [("a", "Const", {"val": A, "dtype": "float32"}), ("b", "Const", {"val": B, "dtype": "float32"}),
         ("axis", "Const", {"val": 0, "dtype": "int32"}),
         ("sum", "AddN", {}), ("twice", "ConcatV2", {}), ("aba", "ConcatV2", {})],
        [("a", "output", "sum", "inputs"), ("b", "output", "sum", "inputs"), ("a", "output", "sum", "inputs"),
         ("a", "output", "twice", "values"), ("a", "output", "twice", "values"), ("axis", "output", "twice", "axis"),
         ("a", "output", "aba", "values"), ("b", "output", "aba", "values"), ("a", "output", "aba", "values"),
         ("axis", "output", "aba", "axis")])


def test_repeated_links_into_list_ports_run_like_tensorflow() -> None:
    import tensorflow as tf

    a, b = np.array(A, np.float32), np.array(B, np.float32)
    rep = run_page(_page())
    assert rep.errors == []
    got_sum = rep.results.get("sum", "sum")
    np.testing.assert_allclose(got_sum, 2 * a + b)
    np.testing.assert_allclose(got_sum, tf.raw_ops.AddN(inputs=[a, b, a]).numpy())
    np.testing.assert_array_equal(rep.results.get("twice", "output"), tf.concat([a, a], 0).numpy())
    np.testing.assert_array_equal(rep.results.get("aba", "output"), np.concatenate([a, b, a]))


def test_repeated_link_into_a_single_input_is_reported() -> None:
    page = make_page([("a", "Const", {"val": 1.0}), ("n", "Neg", {})],
                     [("a", "output", "n", "x"), ("a", "output", "n", "x")])
    errs = [(e.block, e.port, e.message) for e in analyse(page).errors]
    (b, p, m), = errs
    assert (b, p) == ("n", "x") and "takes one link but has 2" in m and "'a.output' 2 times" in m


def test_page_keeps_repeats_in_order_and_removes_the_one_asked_for() -> None:
    page = _page()
    into_sum = [(ln.src, ln.dst_port) for ln in page.links_into("sum")]
    assert into_sum == [("a", "inputs"), ("b", "inputs"), ("a", "inputs")]
    a_sum = Link("a", "output", "sum", "inputs")
    assert page.link_count(a_sum) == 2 and page.link_index(a_sum, 1) == 2
    page.link_extra[a_sum] = {"colour": "red"}
    assert page.remove_link(a_sum, 0) == 0  # the first copy: b now comes first
    assert [ln.src for ln in page.links_into("sum")] == ["b", "a"]
    assert page.link_extra[a_sum] == {"colour": "red"}  # a copy is still there
    page.add_link(a_sum, 0)
    assert [ln.src for ln in page.links_into("sum")] == ["a", "b", "a"]
    with pytest.raises(ValueError):
        page.remove_link(a_sum, 1)  # position 1 holds b's link
    assert page.remove_link(a_sum) == 2  # without a position: the last copy
    assert page.remove_link(a_sum) == 0
    assert not page.has_link(a_sum) and a_sum not in page.link_extra
    with pytest.raises(ValueError):
        page.remove_link(a_sum)


def test_file_round_trip_keeps_repeats_and_order(tmp_path: Path) -> None:
    doc = {"format": "enuflow.page", "version": 1, "blocks": [
        {"id": "a", "type": "Const", "pos": [0, 0], "pins": {"val": A, "dtype": "float32"}},
        {"id": "b", "type": "Const", "pos": [0, 80], "pins": {"val": B, "dtype": "float32"}},
        {"id": "sum", "type": "AddN", "pos": [200, 40], "pins": {}}],
        "links": [{"from": ["a", "output"], "to": ["sum", "inputs"]},
                  {"from": ["b", "output"], "to": ["sum", "inputs"]},
                  {"from": ["a", "output"], "to": ["sum", "inputs"]}]}
    src = tmp_path / "aba.json"
    src.write_text(json.dumps(doc), encoding="utf-8")
    page = load(src)
    assert [(ln.src, ln.dst, ln.dst_port) for ln in page.links] == [("a", "sum", "inputs"), ("b", "sum", "inputs"),
                                                                     ("a", "sum", "inputs")]
    out = tmp_path / "saved.json"
    save(page, out)
    assert json.loads(out.read_text(encoding="utf-8"))["links"] == doc["links"]
    again = load(out)
    assert again.links == page.links and page_to_doc(again) == page_to_doc(page)
    rep = run_page(again)
    assert rep.errors == []
    np.testing.assert_allclose(rep.results.get("sum", "sum"), 2 * np.array(A, np.float32) + np.array(B, np.float32))
