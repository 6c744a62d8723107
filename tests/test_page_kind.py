"""What is, and what is not, a page: a JSON object with neither ``"format": "enuflow.page"`` nor the page's
fields (nor enuSpace's ``object``) is refused with exit status 2 and a message that says what the file looks like;
``{}`` and ``{"hello": 1}`` were run as empty pages (exit 0) before. A page with no blocks is still a page."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from enuflow.app.document.formats import PageFileError, load


def test_page_without_blocks_is_an_empty_page(tmp_path: Path) -> None:
    p = tmp_path / "empty.json"
    p.write_text('{"format": "enuflow.page", "version": 1, "blocks": [], "links": []}', encoding="utf-8")
    page = load(p)
    assert len(page) == 0 and page.links == []


@pytest.mark.parametrize("text, looks_like", [
    ('{"hello": 1}', "a JSON object with the key 'hello' (a number)"),
    ("{}", "an empty JSON object"),
    ('{"ok": true, "page": "x.json", "results": {}, "errors": []}', "the output of 'enuflow run --json'"),
    ('{"cells": [], "nbformat": 4, "metadata": {}}', "a Jupyter notebook"),
    ('{"name": "p", "nodes": [1, 2], "edges": []}', "the keys 'edges' (a list of 0 items), 'name' (text), 'nodes'"),
])
def test_json_object_that_is_no_page_is_refused_saying_what_it_is(tmp_path: Path, text: str,
                                                                   looks_like: str) -> None:
    p = tmp_path / "other.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(PageFileError) as e:
        load(p)
    msg = str(e.value)
    assert str(p) in msg and "is not a page" in msg and looks_like in msg
    assert '"format": "enuflow.page"' in msg and '"object"' in msg


@pytest.mark.parametrize("text, status", [('{"format": "enuflow.page", "blocks": []}', 0), ("{}", 2),
                                          ('{"hello": 1}', 2)])
def test_enuflow_run_exit_status_for_empty_and_foreign_objects(tmp_path: Path, text: str, status: int) -> None:
    p = tmp_path / "page.json"
    p.write_text(text, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(p), "--json"], capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == status, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is (status == 0)
    if status:
        (err,) = doc["errors"]
        assert ("'hello'" in err["message"] or "empty JSON object" in err["message"]) and "not a page" in err["message"]
    else:
        assert doc["errors"] == [] and doc["results"] == {}
