"""The allowlist of ops (``blocks/op_classes.tsv``) and the gate on blocks that carry a graph
(``app.engine.io_gate``): the attacks a security review found, run as a person runs them (``enuflow run``),
refused without ``--allow-io`` and working with it; checked against TensorFlow's own OpDefs and its own runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_page

from enuflow.app.document import datafile
from enuflow.app.document.formats import graphdef
from enuflow.app.document.formats.native import dumps
from enuflow.app.document.page import Link
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.runner import run_page
from enuflow.blocks import REGISTRY, op_classes
from enuflow.blocks.op_classes_generate import all_op_defs
from enuflow.blocks.tf import load as load_tf

tf = load_tf()

SECRET = "TOP-SECRET-LINE"


def enuflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=dict(os.environ), timeout=180)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    f = tmp_path / "secret.txt"
    f.write_text(f"{SECRET}\nsecond line\n")
    return f


def save_page(folder: Path, name: str, page: object, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``page`` and its data file ``NAME.npz`` (holding ``arrays``) into ``folder``; returns the page path."""
    datafile.write_npz(folder / f"{name}.npz", arrays)
    page.data_path = str(folder / f"{name}.npz")
    path = folder / f"{name}.json"
    path.write_text(dumps(page, f"{name}.npz"))
    return path


def graph_function_page(graph: object, bid: str = "g") -> tuple[object, dict[str, np.ndarray]]:
    """A page of one GraphFunction block running ``graph`` (its node ``call`` gives the one output)."""
    raw = np.frombuffer(graph.as_graph_def().SerializeToString(), dtype=np.uint8)
    key = f"{bid}.graph"
    page = make_page([(bid, "GraphFunction", {"op": "While", "num_outputs": 1,
                                              "graph": {"dtype": "uint8", "shape": [int(raw.size)], "data": key}})], [])
    return page, {key: raw}


def reading_graph(path: Path) -> object:
    g = tf.Graph()
    with g.as_default():
        r = tf.raw_ops.ReadFile(filename=tf.constant(str(path)), name="r")
        tf.identity(r, name="call")
    return g


# -- the table -----------------------------------------------------------------------------------


def test_every_op_has_a_reviewed_class() -> None:
    table = op_classes.read_table()
    ops = all_op_defs()
    missing = sorted(set(ops) - set(table))
    assert not missing, f"ops without a class (run python -m enuflow.blocks.op_classes_generate): {missing}"
    unreviewed = sorted(n for n, (cls, _) in table.items() if cls not in op_classes.CLASSES)
    assert not unreviewed, f"rows to review in blocks/op_classes.tsv: {unreviewed}"
    assert set(REGISTRY.generated()) <= set(table)  # every block of the catalogue


def test_classes_agree_with_the_opdefs() -> None:
    ops = all_op_defs()
    for name, od in ops.items():
        cls = op_classes.op_class(name)
        # an op that runs functions is never passed for its type alone: its functions are checked
        if any(a.type in ("func", "list(func)") for a in od.attr):
            assert cls in ("graph", "file", "host"), name
        # an op named after a file or a path may read or write it
        if any(w in a.name for a in list(od.attr) + list(od.input_arg) for w in ("filename", "file_pattern")):
            assert cls == "file", name
    # the ops the catalogue's former io list named still need --allow-io
    for name in ("ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "SaveV2", "RestoreV2", "TextLineReaderV2",
                 "ReaderReadV2", "WriteScalarSummary", "TFRecordDataset", "TextLineDataset", "CSVDatasetV2",
                 "DataServiceDatasetV4", "InitializeTableFromTextFileV2", "DebugIdentityV3", "DecodeProtoV2",
                 "EncodeProto", "Abort", "PrintV2", "EagerPyFunc", "PyFunc"):
        assert op_classes.needs_io(name), name
    assert not op_classes.needs_io("Print") and not op_classes.needs_io("MatMul")
    assert REGISTRY.get("ReadFile").io and not REGISTRY.get("MatMul").io
    assert op_classes.op_class("While") == op_classes.op_class("DatasetFromGraph") == "graph"
    for b in REGISTRY.hand.values():  # hand-declared blocks wrapping one op are marked as the op is
        if b.op_name:
            assert b.io == op_classes.needs_io(b.op_name), b.name


def test_unknown_and_unreviewed_ops_count_as_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert op_classes.op_class("NoSuchOp") == "file" and op_classes.needs_io("NoSuchOp")
    gd = tf.compat.v1.GraphDef()
    gd.node.add(name="x", op="NoSuchOp")
    found = op_classes.graph_finding(graphdef.parse(gd.SerializeToString()))
    assert (found.node, found.op, found.cls) == ("x", "NoSuchOp", "file")
    # a row the generator adds for a new op, not reviewed yet
    t = tmp_path / "t.tsv"
    op_classes.write_table(t, [("MatMul", op_classes.UNREVIEWED, "proposed: compute"), ("Abs", "compute", "")])
    real = op_classes.read_table
    monkeypatch.setattr(op_classes, "read_table", lambda path=None: real(t))
    op_classes.table.cache_clear()
    try:
        assert op_classes.op_class("MatMul") == "file" and op_classes.op_class("Abs") == "compute"
    finally:
        monkeypatch.undo()
        op_classes.table.cache_clear()
    assert op_classes.op_class("MatMul") == "compute"


def test_a_function_named_as_an_op_does_not_hide_the_op() -> None:
    gd = tf.compat.v1.GraphDef()
    gd.library.function.add().signature.name = "ReadFile"
    gd.node.add(name="x", op="ReadFile")
    with pytest.raises(ValueError, match="an op with the same name"):  # TensorFlow refuses it too
        with tf.Graph().as_default():
            tf.compat.v1.import_graph_def(gd, name="")
    found = op_classes.graph_finding(graphdef.parse(gd.SerializeToString()))
    assert (found.node, found.op, found.cls) == ("x", "ReadFile", "file")


# -- the attacks, through enuflow run ------------------------------------------------------------


def test_graph_function_reading_a_file_is_refused_without_allow_io(tmp_path: Path, secret: Path) -> None:
    path = save_page(tmp_path, "read", *graph_function_page(reading_graph(secret)))
    r = enuflow("run", str(path), "--json")
    assert r.returncode == 1, r.stderr
    assert SECRET not in r.stdout + r.stderr
    (e,) = json.loads(r.stdout)["errors"]
    assert e["block"] == "g" and "node 'r', ReadFile" in e["message"] and "--allow-io" in e["message"]
    r = enuflow("run", str(path), "--json", "--allow-io")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["results"]["g"]["output[0]"]["value"] == secret.read_text()


def test_graph_function_writing_a_file_is_refused_without_allow_io(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    g = tf.Graph()
    with g.as_default():
        w = tf.raw_ops.WriteFile(filename=tf.constant(str(target)), contents=tf.constant("owned"), name="w")
        with tf.control_dependencies([w]):
            tf.constant(1.0, name="call")
    page, arrays = graph_function_page(g)
    path = save_page(tmp_path, "write", page, arrays)
    r = enuflow("run", str(path))
    assert r.returncode == 1 and not target.exists()
    assert "block 'g'" in r.stderr and "node 'w', WriteFile" in r.stderr
    assert run_page(page, allow_io=True).errors == []  # allowed (in this process: the command is shown above)
    assert target.read_text() == "owned"


def dataset_graph(path: Path) -> bytes:
    """A TextLineDataset over ``path``, serialized as TensorFlow's DatasetToGraphV2 serializes it."""
    ds = tf.data.TextLineDataset([str(path)])
    return tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor).numpy()


def dataset_page(source: tuple[str, str, dict]) -> object:
    """DatasetFromGraph fed by ``source`` (a block giving ``output``), then its first element."""
    return make_page([source, ("d", "DatasetFromGraph", {}),
                      ("t", "TakeDataset", {"count": 1, "output_types": ["string"], "output_shapes": [[]]}),
                      ("e", "DatasetToSingleElement", {"output_types": ["string"], "output_shapes": [[]]})],
                     [(source[0], "output", "d", "graph_def"), ("d", "handle", "t", "input_dataset"),
                      ("t", "handle", "e", "dataset")])


def test_dataset_from_a_serialized_text_line_dataset_is_refused(tmp_path: Path, secret: Path) -> None:
    val = {"dtype": "string", "shape": [], "data": "c.val"}
    path = save_page(tmp_path, "dfg", dataset_page(("c", "Const", {"dtype": "string", "val": val})),
                     {"c.val": np.array(dataset_graph(secret))})
    r = enuflow("run", str(path), "--json")
    assert r.returncode == 1 and SECRET not in r.stdout + r.stderr
    (e,) = json.loads(r.stdout)["errors"]
    assert (e["block"], e["port"]) == ("d", "graph_def") and "TextLineDataset" in e["message"]
    r = enuflow("run", str(path), "--json", "--allow-io")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["results"]["e"]["components[0]"]["value"] == SECRET


def test_dataset_graph_made_while_running_cannot_be_checked(secret: Path) -> None:
    page = dataset_page(("i", "Identity", {}))
    page.add_block(make_page([("c", "Const", {"dtype": "string", "val": "not checked"})], []).block("c"))
    page.add_link(Link("c", "output", "i", "input"))
    (e,) = analyse(page).errors
    assert (e.block, e.port) == ("d", "graph_def") and "'i'" in e.message and "--allow-io" in e.message
    assert analyse(page, allow_io=True).errors == []


def test_a_library_function_reading_a_file_is_found(tmp_path: Path, secret: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        @tf.function
        def inner(p: object) -> object:
            return tf.io.read_file(p)

        @tf.function
        def outer(p: object) -> object:
            return tf.strings.join([inner(p), "!"])

        tf.identity(outer(tf.constant(str(secret))), name="call")
    lib = g.as_graph_def().library
    assert {f.signature.name.split("_")[3] for f in lib.function} == {"inner", "outer"}  # one calls the other
    page, arrays = graph_function_page(g)
    save_page(tmp_path, "nested", page, arrays)
    (e,) = analyse(page).errors
    assert e.block == "g" and "ReadFile" in e.message and "in function '__inference_inner" in e.message
    report = run_page(page, allow_io=True)
    assert report.errors == [] and report.results.get("g", "output[0]") == secret.read_bytes() + b"!"


def test_a_graph_of_compute_ops_runs_without_allow_io(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        _, total = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + tf.cast(i, tf.float32)),
                                 [tf.constant(0), tf.constant(0.5)])
        tf.identity(total, name="call")
    assert any(n.op in ("While", "StatelessWhile") for n in g.as_graph_def().node)
    page, arrays = graph_function_page(g)
    save_page(tmp_path, "loop", page, arrays)
    report = run_page(page)
    assert report.errors == [] and report.results.get("g", "output[0]") == 0.5 + 0 + 1 + 2 + 3 + 4


def test_function_attrs_of_op_blocks_are_checked_in_the_pages_library(tmp_path: Path, secret: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        @tf.function
        def reader(p: object) -> object:
            return tf.io.read_file(p)

        tf.identity(reader(tf.constant(str(secret))), name="call")
    fname = next(f.signature.name for f in g.as_graph_def().library.function)
    page, arrays = graph_function_page(g)
    call = ("p", "PartitionedCall", {"Tin": ["string"], "Tout": ["string"], "f": fname})
    page.add_block(make_page([call], []).block("p"))
    save_page(tmp_path, "calls", page, arrays)

    def refused(**kw: bool) -> dict[str, str]:
        return {e.block: e.message for e in analyse(page, **kw).errors if e.port in (None, "f")}

    errors = refused()
    assert set(errors) == {"g", "p"}
    assert f"calls '{fname}' of GraphFunction 'g'" in errors["p"] and "ReadFile" in errors["p"]
    assert refused(allow_io=True) == {}
    page.set_pin("p", "f", "nowhere")
    assert "'nowhere', which no GraphFunction on the page defines" in refused()["p"]
    page.set_pin("p", "f", "Identity")  # an op that passes may be named as a function
    assert set(refused()) == {"g"}
    assert [e.block for e in analyse(page, allow_io=True).graph_io] == ["g"]


def test_the_editor_asks_before_running_a_graph_that_needs_io(new_window, tmp_path: Path, secret: Path) -> None:
    path = save_page(tmp_path, "read", *graph_function_page(reading_graph(secret)))
    w = new_window()
    assert w.open_path(str(path), ask=False)
    w.revalidate()
    assert w.io_blocks(w.analysis) == ["g"]
    assert w.io_blocks(None) == ["g"]  # without a check, every block that carries a graph is asked about


def composite_reader_doc(secret: Path) -> dict:
    """A page whose one block is an instance ``x`` of a composite that reads ``secret`` (inner block ``r``)."""
    return {"format": "enuflow.page", "version": 1, "name": "inner read",
            "composites": {"reader": {
                "doc": "reads a file", "inputs": [], "outputs": [{"name": "y", "from": ["r", "contents"]}],
                "pins": [{"name": "path", "block": "f", "pin": "val"}],
                "blocks": [{"id": "f", "type": "Const", "pins": {"val": str(secret), "dtype": "string"}},
                           {"id": "r", "type": "ReadFile"}],
                "links": [{"from": ["f", "output"], "to": ["r", "filename"]}]}},
            "blocks": [{"id": "x", "type": "reader", "pos": [0, 0]}], "links": []}


def test_a_composite_reads_a_file_only_when_allowed(tmp_path: Path, secret: Path) -> None:
    path = tmp_path / "inner.json"
    path.write_text(json.dumps(composite_reader_doc(secret)))
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(path), "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and SECRET not in r.stdout
    assert [(e["block"], "--allow-io" in e["message"]) for e in out["errors"]] == [("x/r", True)]
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(path), "--json", "--allow-io"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout
    assert json.loads(r.stdout)["results"]["x"]["y"]["value"] == secret.read_text()


def test_the_editor_asks_before_running_a_composite_whose_inner_block_reads_a_file(new_window, tmp_path: Path,
                                                                                   secret: Path) -> None:
    path = tmp_path / "inner.json"
    path.write_text(json.dumps(composite_reader_doc(secret)))
    w = new_window()
    w.load_catalogue()  # ReadFile's declaration (a catalogue block) with its io mark
    assert w.open_path(str(path), ask=False)
    w.revalidate()
    assert w.io_blocks(w.analysis) == ["x/r"]  # the inner block, by its path
