"""The catalogue cache (written atomically, keyed by TensorFlow's version, read without TensorFlow),
the palette's index (entries, categories, search) and ``enuflow blocks``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_page

from enuflow.blocks import catalogue_index
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.builder import build
from enuflow.app.cli import main
from enuflow.blocks import REGISTRY, catalogue
from enuflow.blocks.base import Registry


@pytest.fixture(scope="module")
def fresh() -> dict:
    """The catalogue generated from the OpDefs in this process (not from any cache)."""
    return catalogue.generate()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory, fresh) -> Path:
    """A cache folder holding the catalogue written by this code."""
    d = tmp_path_factory.mktemp("cache")
    version = catalogue.tensorflow_version()
    catalogue.write_cache(fresh, d / catalogue.cache_path(version).name, version)
    return d


def _python(code: str, cache: Path) -> subprocess.CompletedProcess:
    # no user composites: the listing holds the block types and the shipped library alone
    env = dict(os.environ, ENUFLOW_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT),
               ENUFLOW_COMPOSITES_DIR=str(cache / "no-user-composites"))
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_cache_location(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ENUFLOW_CACHE_DIR", str(tmp_path / "x"))
    assert catalogue.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("ENUFLOW_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert catalogue.cache_dir() == tmp_path / "xdg" / "enuflow"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert catalogue.cache_dir() == Path.home() / ".cache" / "enuflow"
    import importlib.metadata

    assert catalogue.tensorflow_version() == importlib.metadata.version("tensorflow")
    assert catalogue.cache_path("2.21.0").name == "catalogue-tf2.21.0.json"


def test_cache_round_trip_declarations(fresh, cache_dir) -> None:
    cached = catalogue.read_cache(cache_dir / catalogue.cache_path().name)
    assert cached is not None and set(cached) == set(fresh) and len(cached) > 1400
    for name, b in fresh.items():
        c = cached[name]
        assert (c.inputs, c.outputs, c.attrs) == (b.inputs, b.outputs, b.attrs), name
        assert (c.doc, c.category, c.io, c.dangerous, c.unavailable, c.op_name, c.stateful) == \
               (b.doc, b.category, b.io, b.dangerous, b.unavailable, b.op_name, b.stateful), name
        assert c.describe() == b.describe()


def test_cached_blocks_build_the_same_graph(fresh, cache_dir) -> None:
    cached = catalogue.read_cache(cache_dir / catalogue.cache_path().name)
    page = make_page([("a", "Const", {"val": [[1.0, 2.0], [3.0, 4.0]], "dtype": "float32"}),
                      ("sp", "Split", {"axis": 0, "num_split": 2}), ("cat", "ConcatV2", {"axis": 1}),
                      ("n", "IdentityN", {}), ("m", "Mean", {"axis": 0}), ("u", "Unique", {"out_idx": "int64"}),
                      ("c", "Conv2D", {"strides": [1, 1, 1, 1], "padding": "SAME", "input": [[[[1.0]]]],
                                       "filter": [[[[2.0]]]]})],
                     [("sp", "output[1]", "cat", "values"), ("sp", "output[0]", "cat", "values"),
                      ("a", "output", "sp", "value"), ("cat", "output", "n", "input"), ("a", "output", "n", "input"),
                      ("cat", "output", "m", "input"), ("m", "output", "u", "x")])
    graphs = []
    for blocks in (fresh, cached):
        reg = Registry(hand=dict(REGISTRY.hand), generated_loader=lambda blocks=blocks: blocks)
        an = analyse(page, registry=reg)
        built = build(page, an)
        assert built.errors == [] and len(built.built) == 7
        graphs.append(built.graph.as_graph_def())
    assert graphs[0] == graphs[1]


def test_corrupt_or_foreign_cache_is_rewritten(monkeypatch, tmp_path, fresh) -> None:
    monkeypatch.setenv("ENUFLOW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(catalogue, "generate", lambda: dict(fresh))  # the OpDef path, without repeating it
    path = catalogue.cache_path()
    version = catalogue.tensorflow_version()
    for bad in ('{"format": "enuflow.catalogue", "blocks": [', "not json at all", "[]",
                json.dumps({"format": catalogue.CACHE_FORMAT, "schema": catalogue.CACHE_SCHEMA,
                            "tensorflow": "0.0.1", "generator": catalogue.generator_digest(), "blocks": []}),
                json.dumps({"format": catalogue.CACHE_FORMAT, "schema": catalogue.CACHE_SCHEMA,
                            "tensorflow": version, "generator": catalogue.generator_digest(),
                            "blocks": [{"name": "AddN", "inputs": "??"}]})):
        path.write_text(bad)
        assert catalogue.read_cache() is None
        assert not catalogue.cache_ready()
        blocks = catalogue.load_catalogue()
        assert set(blocks) == set(fresh)
        assert catalogue.cache_ready()
        assert json.loads(path.read_text())["tensorflow"] == version
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left behind


def test_unwritable_cache_is_not_an_error(monkeypatch, tmp_path, fresh) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("ENUFLOW_CACHE_DIR", str(blocker / "sub"))  # a folder that cannot be made
    monkeypatch.setattr(catalogue, "generate", lambda: dict(fresh))
    assert set(catalogue.load_catalogue()) == set(fresh)


def test_listing_from_cache_needs_no_tensorflow(cache_dir) -> None:
    code = ("import sys, json\n"
            "from enuflow.blocks import catalogue_index as c\n"
            "from enuflow.blocks import REGISTRY\n"
            "from enuflow.app.engine.analysis import analyse\n"
            "from enuflow.app.document.page import Page, BlockInstance, Link\n"
            "e = c.entries()\n"
            "p = Page('t')\n"
            "p.add_block(BlockInstance('a', 'Const', (0, 0), {'val': [1.0, 2.0]}))\n"
            "p.add_block(BlockInstance('n', 'AddN', (0, 0), {}))\n"
            "p.add_link(Link('a', 'output', 'n', 'inputs'))\n"
            "an = analyse(p)\n"
            "print(json.dumps([len(e), c.cache_ready(), c.search('addn')[0]['name'], len(an.errors),\n"
            "                  REGISTRY.get('Split').origin, 'tensorflow' in sys.modules]))\n")
    r = _python(code, cache_dir)
    assert r.returncode == 0, r.stderr
    n, ready, first, errors, origin, tf_loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert n == len(placeable()) and ready and first == "AddN" and errors == 0 and origin == "opdef"
    assert tf_loaded is False
    # the CLI's listing too
    r = _python("import sys\nfrom app.cli import main\nrc = main(['blocks', '--json'])\n"
                "print('TF' if 'tensorflow' in sys.modules else 'noTF', rc, file=sys.stderr)", cache_dir)
    assert r.stderr.strip().splitlines()[-1] == "noTF 0"
    # the block types, then the composites of the shipped library (assets/composites), each once
    listed = json.loads(r.stdout)
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "assets" / "composites").glob("*.json"))
    assert len(listed) == n + len(shipped)
    assert sorted(e["name"] for e in listed[n:]) == shipped


def test_without_cache_entries_are_hand_declared_only(tmp_path) -> None:
    code = ("import sys, json\nfrom blocks import catalogue_index as c\n"
            "e = c.entries()\n"
            "print(json.dumps([c.cache_ready(), sorted(x['name'] for x in e), sorted({x['origin'] for x in e}),\n"
            "                  'tensorflow' in sys.modules]))\n")
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    ready, names, origins, tf_loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert ready is False and tf_loaded is False and origins == ["hand"]
    assert {"Const", "ClientSession", "SparseFillEmptyRowsGrad"} <= set(names)
    assert sorted(names) == sorted(k for k, b in REGISTRY.hand.items() if not b.inert)


# -- the index -----------------------------------------------------------------------------------

def placeable() -> list[str]:
    """Every block type a person can place: all but the inert stand-ins of imported pages."""
    return [n for n in REGISTRY.names() if not REGISTRY.get(n).inert]


def test_entries_hand_declared_win() -> None:
    catalogue_index.ensure_cache()
    assert catalogue_index.cache_ready()
    es = {e["name"]: e for e in catalogue_index.entries()}
    assert set(es) == set(placeable()) and "enuSpace.Inert" not in es  # inert blocks are never placed by hand
    assert es["SparseFillEmptyRowsGrad"]["origin"] == "hand" and es["AddN"]["origin"] == "opdef"
    assert es["Const"]["origin"] == "hand" and "ClientSession" in es
    assert es["AddN"]["doc"].startswith("Add all input tensors") and es["AddN"]["summary"]
    assert es["ReadFile"]["io"] is True and es["TopK"]["unavailable"]
    cats = catalogue_index.categories()
    assert cats == sorted(cats) and {"core", "math", "nn", "sparse_ops", "array_ops"} <= set(cats)


def test_search_names_first_then_doc_words() -> None:
    hits = [e["name"] for e in catalogue_index.search("SparseFillEmptyRows")]
    assert hits[0] == "SparseFillEmptyRows" and hits[1] == "SparseFillEmptyRowsGrad"
    hits = [e["name"] for e in catalogue_index.search("matmul")]
    assert hits[0] == "MatMul"
    in_name = [h for h in hits if "matmul" in h.lower()]
    assert hits[: len(in_name)] == in_name and len(hits) > len(in_name)  # then ops whose doc says matmul
    assert all("matmul" in e["doc"].lower() or "matmul" in e["name"].lower()
               for e in catalogue_index.search("matmul"))
    both = [e["name"] for e in catalogue_index.search("sparse gradient")]
    assert "SparseFillEmptyRowsGrad" in both
    assert all("gradient" in (e["name"] + e["doc"]).lower() for e in catalogue_index.search("sparse gradient"))
    only_math = catalogue_index.search("add", category="math")
    assert only_math and {e["category"] for e in only_math} == {"math"}
    assert catalogue_index.search("zzqqxx") == []
    assert len(catalogue_index.search("")) == len(catalogue_index.entries())


# -- the command line -------------------------------------------------------------------------------

def test_cli_blocks_list_and_show(capsys) -> None:
    assert main(["blocks", "--category", "math", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {r["category"] for r in rows} == {"math"}
    assert {"name", "summary", "inputs", "outputs", "attrs"} <= set(rows[0])
    assert main(["blocks", "--search", "concat"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Concat") and "values[]: N x T" in out
    assert main(["blocks", "Split"]) == 0
    out = capsys.readouterr().out
    assert "Splits a tensor into `num_split` tensors along one dimension." in out
    assert "output[]: num_split x T (numbered output[0], output[1], ...)" in out
    assert "num_split: int; required; minimum 1" in out and "Inputs:" in out and "Attrs:" in out
    assert main(["blocks", "ReadFile"]) == 0
    assert "--allow-io" in capsys.readouterr().out
    assert main(["blocks", "Addn"]) == 2
    err = capsys.readouterr().err
    assert "unknown block type 'Addn'" in err and "AddN" in err
    assert main(["blocks", "--category", "nonsense"]) == 2
    assert "math" in capsys.readouterr().err
    assert main(["blocks", "AddN", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["name"] == "AddN" and d["doc"] and d["inputs"][0]["list"] == "number"
