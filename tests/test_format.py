"""Page format v1: load, save, round trip, unknown fields preserved, broken files named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enuflow.app.document.formats import PageFileError, load, save
from enuflow.app.document.formats.native import dumps, page_to_doc
from enuflow.app.document.page import BlockInstance, Link, Page


def test_default_page_loads(root: Path) -> None:
    page = load(root / "scenes" / "sparse_fill_empty_rows_grad.json")
    assert [b.id for b in page] == ["rim", "grad", "g", "session"]
    assert page.block("rim").pins == {"val": [2, 1], "dtype": "int64"}
    assert Link("g", "d_values", "session", "fetch_outputs") in page.links
    assert page.block("g").type == "SparseFillEmptyRowsGrad"


def test_round_trip_keeps_everything(tmp_path: Path, root: Path) -> None:
    src = root / "scenes" / "sparse_fill_empty_rows_roundtrip.json"
    page = load(src)
    out = tmp_path / "copy.json"
    save(page, out)
    again = load(out)
    assert page_to_doc(again) == page_to_doc(page)


def test_unknown_fields_preserved(tmp_path: Path) -> None:
    doc = {
        "format": "enuflow.page", "version": 1, "name": "p", "future_top": {"a": [1, 2]},
        "blocks": [{"id": "c", "type": "Const", "pos": [1, 2], "pins": {"val": 1}, "colour": "red",
                    "label": "one", "collapsed": True, "device": "/cpu:0"}],
        "links": [], "view": {"zoom": 1.5, "centre": [3, 4]}, "results": {"c": {"output": {"value": 1}}},
    }
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    page = load(p)
    assert page.block("c").extra == {"colour": "red"}
    save(page, tmp_path / "q.json")
    back = json.loads((tmp_path / "q.json").read_text())
    assert back["future_top"] == {"a": [1, 2]}
    assert back["blocks"][0]["colour"] == "red"
    assert back["blocks"][0]["label"] == "one" and back["blocks"][0]["collapsed"] is True
    assert back["view"] == {"zoom": 1.5, "centre": [3, 4]}
    assert back["results"] == doc["results"]


def test_link_extra_fields_preserved(tmp_path: Path) -> None:
    page = Page("p")
    page.add_block(BlockInstance("a", "Const", pins={"val": 1}))
    page.add_block(BlockInstance("b", "Neg"))
    ln = page.add_link(Link("a", "output", "b", "x"))
    page.link_extra[ln] = {"hidden": True}
    save(page, tmp_path / "p.json")
    assert load(tmp_path / "p.json").link_extra == {ln: {"hidden": True}}


@pytest.mark.parametrize("text,needle", [
    ('{"blocks": [', "not valid JSON"),
    ("[1, 2]", "not an enuflow page"),
    ('{"format": "other"}', "format"),
    ('{"version": 9, "blocks": []}', "newer enuflow"),
    ('{"blocks": [{"type": "Const"}]}', "has no id"),
    ('{"blocks": [{"id": "a", "type": "Const"}, {"id": "a", "type": "Const"}]}', "appears twice"),
    ('{"blocks": [{"id": "a", "type": "Const", "pos": "x"}]}', "pos"),
    ('{"blocks": [{"id": "a", "type": "Const"}], "links": [{"from": ["a", "output"], "to": ["zz", "x"]}]}',
     "'zz'"),
    ('{"blocks": [{"id": "a", "type": "Const"}], "links": [{"from": ["a"], "to": ["a", "x"]}]}', "links[0].from"),
    ('{"blocks": {}}', "'blocks' must be a list"),
])
def test_broken_files_are_named(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "broken.json"
    p.write_text(text)
    with pytest.raises(PageFileError) as info:
        load(p)
    assert str(p) in str(info.value)
    assert needle in str(info.value)


def test_json_error_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{\n "blocks": [\n  {"id": "a",, "type": "Const"}\n ]\n}\n')
    with pytest.raises(PageFileError) as info:
        load(p)
    assert info.value.line == 3


def test_block_error_names_the_block_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{\n "blocks": [\n  {"id": "ok", "type": "Const"},\n  {"id": "bad", "pos": [1, 2]}\n ]\n}\n')
    with pytest.raises(PageFileError) as info:
        load(p)
    assert info.value.block == "bad" and info.value.line == 4


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(PageFileError, match="no such file"):
        load(tmp_path / "nope.json")
    p = tmp_path / "bin.json"
    p.write_bytes(b"\x00\x9f\x92\x96 not text")
    with pytest.raises(PageFileError):
        load(p)


def test_utf16_page_loads(tmp_path: Path, root: Path) -> None:
    text = (root / "scenes" / "sparse_fill_empty_rows_grad.json").read_text()
    p = tmp_path / "u16.json"
    p.write_bytes(text.encode("utf-16"))
    assert len(load(p)) == 4


def test_save_is_atomic(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "page.json"
    target.write_text("original")
    page = load(root / "scenes" / "sparse_fill_empty_rows_grad.json")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(PageFileError, match="No space"):
        save(page, target)
    assert target.read_text() == "original"
    assert [f.name for f in tmp_path.iterdir()] == ["page.json"]  # no temporary left behind


def test_page_module_needs_no_tensorflow_or_qt(root: Path) -> None:
    code = ("import sys; import enuflow.app.document.page, enuflow.app.document.values, enuflow.app.document.formats, "
            "enuflow.app.document.formats.native, enuflow.app.engine.analysis; "
            "from enuflow.app.document.formats import load; load('scenes/sparse_fill_empty_rows_grad.json'); "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('tensorflow','PySide6')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dumps_is_stable(root: Path) -> None:
    page = load(root / "scenes" / "sparse_fill_empty_rows_grad.json")
    assert dumps(page) == dumps(load(root / "scenes" / "sparse_fill_empty_rows_grad.json"))
    assert json.loads(dumps(page))["format"] == "enuflow.page"
