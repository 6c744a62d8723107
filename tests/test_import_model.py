"""Opening TensorFlow models as pages: frozen GraphDefs and SavedModels, checked against TensorFlow itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from enuflow.app.document.formats import PageFileError, load, save
from enuflow.app.engine.feeds import apply_feeds
from enuflow.app.engine.flatten import flatten
from enuflow.app.engine.import_model import import_model
from enuflow.app.engine.runner import run_page
from enuflow.blocks.tf import load as load_tf

tf = load_tf()


def freeze(fn: object, lower: bool = True) -> object:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(fn, lower_control_flow=lower)


def every_block(page: object) -> list:
    """The blocks of a page, those inside its composites too (a model opens folded by name scope)."""
    return flatten(page).page.blocks


def tf_run(graph_def: object, feeds: dict[str, np.ndarray], fetch: str) -> np.ndarray:
    """The frozen GraphDef run by TensorFlow itself (the independent reference)."""
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as s:
        return s.run(fetch, {k + ":0": v for k, v in feeds.items()})


@pytest.fixture(scope="module")
def keras_pb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small Keras convolutional model, frozen here, written as .pb and .pbtxt, with TensorFlow's answer."""
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([
        tf.keras.Input((8, 8, 2)),
        tf.keras.layers.Conv2D(4, 3, activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(6, activation="tanh"),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 8, 8, 2], tf.float32, name="x"))
    frozen = freeze(fn)
    gd = frozen.graph.as_graph_def()
    folder = tmp_path_factory.mktemp("keras")
    (folder / "model.pb").write_bytes(gd.SerializeToString())
    (folder / "model.pbtxt").write_text(str(gd))
    x = np.random.RandomState(0).rand(2, 8, 8, 2).astype(np.float32)
    np.save(folder / "x.npy", x)
    out = frozen.outputs[0].name
    return {"folder": folder, "x": x, "out": out.split(":")[0], "expected": tf_run(gd, {"x": x}, out),
            "keras": model(x).numpy()}


@pytest.mark.parametrize("suffix", ["pb", "pbtxt"])
def test_frozen_keras_model_runs_as_tensorflow_runs_it(keras_pb: dict, tmp_path: Path, suffix: str) -> None:
    page = import_model(keras_pb["folder"] / f"model.{suffix}", tmp_path / "model.json")
    assert page.block("x").type == "Placeholder"
    types = {b.type for b in every_block(page)}
    assert {"Conv2D", "MaxPool", "MatMul", "BiasAdd", "Relu", "Tanh", "Softmax", "Const"} <= types
    conv = next(b for b in every_block(page) if b.type == "Conv2D")
    assert conv.pins["padding"] == "VALID" and conv.pins["strides"] == [1, 1, 1, 1]
    reopened = load(tmp_path / "model.json")
    assert not apply_feeds(reopened, [f"x={keras_pb['folder'] / 'x.npy'}"])
    report = run_page(reopened)
    assert report.ok, report.errors
    got = report.results.get(keras_pb["out"], "output")
    np.testing.assert_allclose(got, keras_pb["expected"], atol=1e-5)
    np.testing.assert_allclose(got, keras_pb["keras"], atol=1e-5)


def test_weights_live_in_the_data_file_not_the_json(keras_pb: dict, tmp_path: Path) -> None:
    import_model(keras_pb["folder"] / "model.pb", tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["data"] == "m.npz"
    data = np.load(tmp_path / "m.npz", allow_pickle=False)
    blocks = doc["blocks"] + [b for c in doc.get("composites", {}).values() for b in c["blocks"]]
    kernels = [b for b in blocks if b["type"] == "Const" and isinstance(b["pins"]["val"], dict)]
    assert kernels, "the weight matrices should be stored as data references"
    for b in kernels:
        ref = b["pins"]["val"]
        assert list(data[ref["data"]].shape) == ref["shape"] == b["pins"]["shape"]
    # no weight matrix is inline: the JSON holds at most a few numbers per Const
    for b in blocks:
        if b["type"] == "Const" and isinstance(b["pins"]["val"], list):
            assert np.asarray(b["pins"]["val"]).size <= 16


def test_save_as_elsewhere_and_recovery_keep_page_and_data_together(keras_pb: dict, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    import_model(keras_pb["folder"] / "model.pb", first / "model.json")
    page = load(first / "model.json")
    other = tmp_path / "other"
    other.mkdir()
    save(page, other / "copy.json")  # Save As to another folder
    assert (other / "copy.npz").is_file()
    assert json.loads((other / "copy.json").read_text())["data"] == "copy.npz"

    from enuflow.app.gui import recovery

    record = recovery.snapshot(load(other / "copy.json"))
    rec_file = tmp_path / "recovery-1.json"
    rec_file.write_text(json.dumps({"format": recovery.FORMAT, "pid": 1, "page": record}))
    shutil.rmtree(first)  # the original page and its data are gone

    copied = tmp_path / "copied"  # copying page and data file together, as a person does
    shutil.copytree(other, copied)
    for p in (load(other / "copy.json"), recovery.read(rec_file)[0], load(copied / "copy.json")):
        assert not apply_feeds(p, [f"x={keras_pb['folder'] / 'x.npy'}"])
        report = run_page(p)
        assert report.ok, report.errors
        np.testing.assert_allclose(report.results.get(keras_pb["out"], "output"), keras_pb["expected"], atol=1e-5)


def test_missing_data_file_is_an_error_naming_block_and_file(keras_pb: dict, tmp_path: Path) -> None:
    import_model(keras_pb["folder"] / "model.pb", tmp_path / "m.json")
    (tmp_path / "m.npz").unlink()
    report = run_page(load(tmp_path / "m.json"))
    assert not report.ok
    e = next(e for e in report.errors if e.port == "val")
    assert e.block and "m.npz" in e.message and "does not exist" in e.message


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tf.keras.utils.set_random_seed(4)
    model = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(7, activation="relu"),
                                 tf.keras.layers.Dense(2)])

    class Served(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.scale = tf.Variable(3.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.float32, name="features")])
        def serve(self, features: object) -> dict:
            return {"scores": self.model(features)}

        @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.float32, name="features")])
        def scaled(self, features: object) -> dict:
            return {"scaled": self.model(features) * self.scale}

    m = Served()
    folder = tmp_path_factory.mktemp("sm") / "served"
    tf.saved_model.save(m, str(folder), signatures={"serving_default": m.serve, "scaled": m.scaled})
    x = np.random.RandomState(1).rand(4, 5).astype(np.float32)
    np.save(folder.parent / "x.npy", x)
    loaded = tf.saved_model.load(str(folder))
    return {"folder": folder, "x": x, "npy": folder.parent / "x.npy",
            "scores": loaded.signatures["serving_default"](features=tf.constant(x))["scores"].numpy(),
            "scaled": loaded.signatures["scaled"](features=tf.constant(x))["scaled"].numpy()}


def fetched(page: object, report: object) -> dict:
    session = next(b for b in page if b.type == "ClientSession")
    return {(ln.src, ln.src_port): report.results.get(ln.src, ln.src_port) for ln in page.links_into(session.id)
            if ln.dst_port == "fetch_outputs"}


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way TensorFlow loads (and so runs) a SavedModel raises: an import must only read the folder."""
    from tensorflow.python.saved_model import load as load_v2
    from tensorflow.python.saved_model import loader_impl

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("the import loaded (ran) the SavedModel")

    for owner, name in ((tf.saved_model, "load"), (tf.compat.v1.saved_model, "load"),
                        (tf.compat.v1.saved_model.loader, "load"), (load_v2, "load"), (load_v2, "load_partial"),
                        (loader_impl, "load")):
        monkeypatch.setattr(owner, name, refuse)


def test_saved_model_variables_become_variable_blocks_with_saved_values(saved_model: dict, tmp_path: Path,
                                                                        no_loading: None) -> None:
    page = import_model(saved_model["folder"], tmp_path / "s.json")
    variables = [b for b in every_block(page) if b.type == "Variable"]
    assert len(variables) == 4  # two kernels and two biases of the serving signature
    assert all(b.label for b in variables)
    assert page.block("features").type == "Placeholder"
    p = load(tmp_path / "s.json")
    assert not apply_feeds(p, [f"features={saved_model['npy']}"])
    report = run_page(p)
    assert report.ok, report.errors
    (out,) = fetched(p, report).values()
    np.testing.assert_allclose(out, saved_model["scores"], atol=1e-5)


def test_saved_model_other_signature_frozen(saved_model: dict, tmp_path: Path, no_loading: None) -> None:
    page = import_model(saved_model["folder"], tmp_path / "s.json", signature="scaled", freeze=True)
    assert not any(b.type == "Variable" for b in page)
    assert not apply_feeds(page, [f"features={saved_model['npy']}"])
    report = run_page(page)
    assert report.ok, report.errors
    (out,) = fetched(page, report).values()
    np.testing.assert_allclose(out, saved_model["scaled"], atol=1e-5)
    with pytest.raises(PageFileError, match="no signature 'nope'.*scaled, serving_default"):
        import_model(saved_model["folder"], tmp_path / "n.json", signature="nope")


@pytest.fixture(scope="module")
def loading_writes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A SavedModel that writes a file when it is loaded: a resource whose initialiser (which
    ``tf.saved_model.load`` runs) calls ``tf.io.write_file``; beside it a lookup table filled by its own
    initialiser, and a Keras Dense layer, both used by the signature."""
    folder = tmp_path_factory.mktemp("writes")
    written = folder / "written.txt"

    class Writer(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self) -> object:
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="enuflow_test_writer")

        def _initialize(self) -> None:
            tf.io.write_file(str(written), "written while loading")

    tf.keras.utils.set_random_seed(6)
    dense = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])

    class Served(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.writer = Writer()
            self.dense = dense
            keys, ids = tf.constant(["cat", "dog", "emu"]), tf.constant([7, 8, 9], tf.int64)
            self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, ids), -1)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                      tf.TensorSpec([None], tf.string, name="word")])
        def serve(self, x: object, word: object) -> dict:
            return {"y": self.dense(x), "id": self.table.lookup(word)}

    m = Served()
    sm = folder / "model"
    tf.saved_model.save(m, str(sm), signatures={"serving_default": m.serve})
    assert not written.exists()
    x = np.random.RandomState(2).rand(2, 3).astype(np.float32)
    np.save(folder / "x.npy", x)
    words = ["dog", "yak", "cat"]
    return {"folder": sm, "written": written, "x": folder / "x.npy", "words": words, "y": dense(x).numpy(),
            "id": m.table.lookup(tf.constant(words)).numpy()}


def test_importing_a_saved_model_never_runs_it(loading_writes: dict, tmp_path: Path, no_loading: None) -> None:
    """The import reads the folder: the initialiser that writes a file becomes a block, refused at run time
    without --allow-io (the table's own initialiser and the model still run); allowed, it runs once first."""
    written = loading_writes["written"]
    written.unlink(missing_ok=True)  # (the other tests load the model with TensorFlow, which writes it)
    page = import_model(loading_writes["folder"], tmp_path / "w.json")
    assert not written.exists()
    init = next(b for b in page if b.type == "Initializer")
    into_init = {page.block(ln.src).type for ln in page.links_into(init.id)}
    assert {"WriteFile", "LookupTableImportV2"} <= into_init
    writer = next(b.id for b in page if b.type == "WriteFile")

    p = load(tmp_path / "w.json")
    assert not apply_feeds(p, [f"x={loading_writes['x']}"])
    p.block("word").pins["value"] = loading_writes["words"]  # text is typed in (--feed takes numbers)
    report = run_page(p)
    assert not report.ok and not written.exists()
    refused = [e for e in report.errors if e.block == writer]
    assert refused and "--allow-io" in refused[0].message

    report = run_page(p, allow_io=True)
    assert report.ok, report.errors
    assert written.read_text() == "written while loading"
    got = fetched(p, report)
    np.testing.assert_allclose(next(v for v in got.values() if v.dtype == np.float32), loading_writes["y"],
                               atol=1e-6)
    np.testing.assert_array_equal(next(v for v in got.values() if v.dtype == np.int64), loading_writes["id"])


def test_loading_that_model_with_tensorflow_does_write(loading_writes: dict) -> None:
    """The model of the test above is what it claims: TensorFlow's loader writes the file as it loads."""
    written = loading_writes["written"]
    written.unlink(missing_ok=True)
    tf.saved_model.load(str(loading_writes["folder"]))
    assert written.read_text() == "written while loading"
    written.unlink()


@pytest.fixture(scope="module")
def keras_saved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Small Keras models exported as SavedModels (``model.export``): a convolution, a recurrent layer (a
    ``While`` loop taking the variables), an embedding (a gather from a variable), with their inputs."""
    tf.keras.utils.set_random_seed(5)
    rs = np.random.RandomState(0)
    models = {
        "conv": (tf.keras.Sequential([tf.keras.Input((6, 6, 2)), tf.keras.layers.Conv2D(3, 3, activation="relu"),
                                      tf.keras.layers.Flatten(), tf.keras.layers.Dense(4)]),
                 rs.rand(2, 6, 6, 2).astype(np.float32)),
        "rnn": (tf.keras.Sequential([tf.keras.Input((5, 3)), tf.keras.layers.SimpleRNN(4), tf.keras.layers.Dense(2)]),
                rs.rand(2, 5, 3).astype(np.float32)),
        "embedding": (tf.keras.Sequential([tf.keras.Input((4,), dtype="int32"), tf.keras.layers.Embedding(10, 3),
                                           tf.keras.layers.Flatten()]),
                      np.array([[1, 2, 3, 9], [0, 0, 5, 4]], np.int32)),
    }
    folder = tmp_path_factory.mktemp("keras_saved")
    out = {}
    for name, (model, x) in models.items():
        model.export(str(folder / name), verbose=False)
        np.save(folder / f"{name}.npy", x)
        out[name] = {"folder": folder / name, "x": folder / f"{name}.npy", "expected": model(x).numpy()}
    return out


@pytest.mark.parametrize("freeze", [False, True])
@pytest.mark.parametrize("name", ["conv", "rnn", "embedding"])
def test_keras_saved_model_page_computes_what_keras_does(keras_saved: dict, tmp_path: Path, name: str,
                                                          freeze: bool, no_loading: None) -> None:
    case = keras_saved[name]
    page = import_model(case["folder"], tmp_path / "k.json", freeze=freeze)
    assert any(b.type == ("Const" if freeze else "Variable") for b in every_block(page))
    assert freeze or any(b.type == "Variable" for b in every_block(page))
    p = load(tmp_path / "k.json")
    (ph,) = [b for b in p if b.type == "Placeholder"]
    assert not apply_feeds(p, [f"{ph.id}={case['x']}"])
    report = run_page(p)
    assert report.ok, report.errors
    (out,) = fetched(p, report).values()
    np.testing.assert_allclose(out, case["expected"], atol=1e-5)


def test_saved_model_that_changes_a_variable_is_refused(tmp_path: Path, no_loading: None) -> None:
    class Counter(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.count = tf.Variable(0.0)

        @tf.function(input_signature=[tf.TensorSpec([], tf.float32, name="step")])
        def serve(self, step: object) -> dict:
            self.count.assign_add(step)
            return {"count": self.count.read_value()}

    m = Counter()
    tf.saved_model.save(m, str(tmp_path / "counter"), signatures={"serving_default": m.serve})
    with pytest.raises(PageFileError, match="counter.*AssignAddVariableOp.*without running the model"):
        import_model(tmp_path / "counter", tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
    shutil.rmtree(tmp_path / "counter" / "variables")
    with pytest.raises(PageFileError, match="counter.*no variables/variables.index"):
        import_model(tmp_path / "counter", tmp_path / "c.json")
    (tmp_path / "counter" / "saved_model.pb").write_bytes(b"\x0a\x03abc not a SavedModel")
    with pytest.raises(PageFileError, match="counter.*not a SavedModel"):
        import_model(tmp_path / "counter", tmp_path / "c.json")


def test_function_ops_become_one_block_that_runs(tmp_path: Path) -> None:
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="n"), tf.TensorSpec([3], tf.float32, name="v")])
    def loop(n: object, v: object) -> object:
        _, out = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a * 1.5 + 1.0), [0, v])
        return tf.cond(n > 2, lambda: out * 2.0, lambda: out - 1.0)

    frozen = freeze(loop.get_concrete_function(), lower=False)
    gd = frozen.graph.as_graph_def()
    assert any(n.op in ("While", "StatelessWhile") for n in gd.node)
    (tmp_path / "loop.pb").write_bytes(gd.SerializeToString())
    page = import_model(tmp_path / "loop.pb", tmp_path / "loop.json")
    funcs = [b for b in page if b.type == "GraphFunction"]
    assert funcs and all("not editable here" in b.pins["note"] for b in funcs)
    n = np.array(4, np.int32)
    v = np.array([1.0, -2.0, 0.5], np.float32)
    np.save(tmp_path / "n.npy", n)
    np.save(tmp_path / "v.npy", v)
    p = load(tmp_path / "loop.json")
    assert not apply_feeds(p, [f"n={tmp_path / 'n.npy'}", f"v={tmp_path / 'v.npy'}"])
    report = run_page(p)
    assert report.ok, report.errors
    out = report.results.get(frozen.outputs[0].name.split(":")[0], "output")
    np.testing.assert_allclose(out, tf_run(gd, {"n": n, "v": v}, frozen.outputs[0].name), atol=1e-5)


def test_same_tensor_twice_into_a_list_port(tmp_path: Path) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        tf.raw_ops.AddN(inputs=[x, x, tf.constant([1.0, 2.0])], name="sum")
    (tmp_path / "g.pbtxt").write_text(str(g.as_graph_def()))
    page = import_model(tmp_path / "g.pbtxt", tmp_path / "g.json")
    np.save(tmp_path / "x.npy", np.array([3.0, 4.0], np.float32))
    assert not apply_feeds(page, [f"x={tmp_path / 'x.npy'}"])
    report = run_page(page)
    assert report.ok, report.errors
    np.testing.assert_allclose(report.results.get("sum", "sum"), [7.0, 10.0])


def test_feed_problems_name_block_and_file(keras_pb: dict, tmp_path: Path) -> None:
    page = import_model(keras_pb["folder"] / "model.pb", tmp_path / "m.json")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "small.npy", np.zeros((2, 3), np.float32))
    (err,) = apply_feeds(page, [f"x={tmp_path / 'obj.npy'}"])
    assert err.block == "x" and "obj.npy" in err.message and "not a plain .npy" in err.message
    (err,) = apply_feeds(page, [f"x={tmp_path / 'small.npy'}"])
    assert err.block == "x" and "small.npy" in err.message and "[?, 8, 8, 2]" in err.message
    (err,) = apply_feeds(page, [f"nope={tmp_path / 'small.npy'}"])
    assert err.block == "nope" and "no block" in err.message


def enuflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)


def test_command_line_import_and_run_with_feed(keras_pb: dict, tmp_path: Path) -> None:
    r = enuflow("import", str(keras_pb["folder"] / "model.pb"), "-o", str(tmp_path / "m.json"))
    assert r.returncode == 0, r.stderr
    r = enuflow("run", str(tmp_path / "m.json"), "--feed", f"x={keras_pb['folder'] / 'x.npy'}", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    np.testing.assert_allclose(doc["results"][keras_pb["out"]]["output"]["value"], keras_pb["expected"], atol=1e-5)
    r = enuflow("run", str(tmp_path / "m.json"), "--feed", f"x={tmp_path / 'missing.npy'}")
    assert r.returncode == 2 and "block 'x'" in r.stderr and "missing.npy" in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "bad.pb").write_bytes(b"\x00\x01not a graph")
    r = enuflow("import", str(tmp_path / "bad.pb"), "-o", str(tmp_path / "b.json"))
    assert r.returncode == 2 and "bad.pb" in r.stderr and "Traceback" not in r.stderr


def _table_row(stdout: str, block: str, port: str) -> np.ndarray:
    """The numbers of one result row of ``enuflow``'s printed table (the block's section, the port's line)."""
    import re

    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split("  [")[0] == block)
    row = next(ln for ln in lines[start + 1:] if ln.strip().startswith(port + " "))
    body = row.split("]", 1)[1]  # after "dtype [shape]"
    return np.array([float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", body)])


@pytest.mark.parametrize("kind", ["graphdef", "savedmodel"])
def test_main_command_on_a_model_without_display_imports_and_runs_it(keras_pb: dict, saved_model: dict,
                                                                      tmp_path: Path, kind: str) -> None:
    """``enuflow MODEL`` on a machine without a display runs the model headless, as it runs a page: its
    Placeholders fed with zeros, the results printed; TensorFlow gives the same numbers."""
    import os

    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}
    if kind == "graphdef":
        source = keras_pb["folder"] / "model.pb"
        gd = tf.compat.v1.GraphDef()
        gd.ParseFromString(source.read_bytes())
        expected = tf_run(gd, {"x": np.zeros((1, 8, 8, 2), np.float32)}, keras_pb["out"] + ":0")
    else:
        source = saved_model["folder"]
        loaded = tf.saved_model.load(str(source))
        expected = loaded.signatures["serving_default"](features=tf.zeros((1, 5)))["scores"].numpy()
    page = import_model(source, tmp_path / "m.json")  # to know which block gives the model's output
    session = next(b for b in page if b.type == "ClientSession")
    (out,) = page.links_into(session.id)
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", str(source)], cwd=ROOT, capture_output=True,
                       text=True, check=False, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no display found" in r.stderr and f"imported {source}" in r.stderr
    assert "Traceback" not in r.stderr
    np.testing.assert_allclose(_table_row(r.stdout, out.src, out.src_port), np.asarray(expected).reshape(-1),
                               atol=1e-5)


def test_pasted_data_references_are_carried_inline_or_into_a_new_data_file(tmp_path: Path) -> None:
    """``datafile.carry``: values of blocks pasted from another page's data file come along, small ones inline,
    large ones into a new data file holding the target page's entries too; the target's own file is untouched."""
    from enuflow.app.document import datafile
    from enuflow.app.document.values import parse_tensor

    small = np.array([[1.5, -2.0], [0.25, 4.0]], np.float32)
    large = np.arange(40, dtype=np.int64).reshape(5, 8)
    mine = np.linspace(0, 1, 30).astype(np.float32)
    np.savez(tmp_path / "src.npz", s=small, w=large)
    np.savez(tmp_path / "dst.npz", w=mine)
    before = (tmp_path / "dst.npz").read_bytes()
    pins = [{"val": {"dtype": "float32", "shape": [2, 2], "data": "s"}, "dtype": "float32"},
            {"val": {"dtype": "int64", "shape": [5, 8], "data": "w"}}]
    new, problems = datafile.carry(pins, str(tmp_path / "src.npz"), str(tmp_path / "dst.npz"), tmp_path / "scratch")
    assert problems == []
    np.testing.assert_array_equal(parse_tensor(pins[0]["val"]), small)
    assert pins[0]["val"]["dtype"] == "float32"
    key = pins[1]["val"]["data"]
    assert key != "w"  # the target page's own 'w' keeps its name and value
    data = np.load(new, allow_pickle=False)
    np.testing.assert_array_equal(data[key], large)
    np.testing.assert_array_equal(data["w"], mine)
    assert (tmp_path / "dst.npz").read_bytes() == before
    # pasted into the page they came from: nothing to carry
    same = [{"val": {"dtype": "int64", "shape": [5, 8], "data": "w"}}]
    assert datafile.carry(same, str(tmp_path / "src.npz"), str(tmp_path / "src.npz"), tmp_path) == (None, [])
    # the copied page's data file is gone: the reference stays and the problem is named
    gone = [{"val": {"dtype": "int64", "shape": [5, 8], "data": "w"}}]
    new, problems = datafile.carry(gone, str(tmp_path / "nope.npz"), None, tmp_path)
    assert new is None and "nope.npz" in problems[0] and gone[0]["val"]["data"] == "w"


def test_data_file_entries_read_as_numpy_wrote_them_and_never_unpickled(tmp_path: Path) -> None:
    from enuflow.app.document import datafile
    from enuflow.app.document.values import ValueParseError

    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "s": np.array(2.5), "e": np.zeros((0, 2), np.int64),
              "f": np.asfortranarray(np.arange(6).reshape(2, 3)), "c": np.array([1 + 2j], np.complex64)}
    for name, write in (("plain", np.savez), ("packed", np.savez_compressed)):
        write(tmp_path / f"{name}.npz", **arrays, obj=np.array([{"x": 1}], dtype=object))
        for key, want in arrays.items():
            got = datafile.read_array(str(tmp_path / f"{name}.npz"), key)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        with pytest.raises(ValueParseError, match="'obj'.*cannot be read"):
            datafile.read_array(str(tmp_path / f"{name}.npz"), "obj")
        with pytest.raises(ValueParseError, match="'nope' is not in"):
            datafile.read_array(str(tmp_path / f"{name}.npz"), "nope")


def test_initialisers_survive_export_and_import_again(loading_writes: dict, tmp_path: Path) -> None:
    """A page with the model's initialisers, exported as a SavedModel (TF1 form: reference variables, a main
    op), computes with TensorFlow what the page computes; imported again, it is the same page to run."""
    from enuflow.app.engine.export_savedmodel import export_savedmodel

    page = import_model(loading_writes["folder"], tmp_path / "w.json")
    assert not apply_feeds(page, [f"x={loading_writes['x']}"])
    page.block("word").pins["value"] = loading_writes["words"]
    inputs, outputs, errors = export_savedmodel(page, tmp_path / "exported", allow_io=True)
    assert not errors and inputs == ["word", "x"]
    x = np.load(loading_writes["x"])
    served = tf.saved_model.load(str(tmp_path / "exported")).signatures["serving_default"]
    want = {k: v.numpy() for k, v in served(x=tf.constant(x), word=tf.constant(loading_writes["words"])).items()}
    assert sorted(want) == outputs

    again = import_model(tmp_path / "exported", tmp_path / "again.json")
    assert any(b.type == "Initializer" for b in again) and any(b.type == "Variable" for b in every_block(again))
    assert not apply_feeds(again, [f"x={loading_writes['x']}"])
    again.block("word").pins["value"] = loading_writes["words"]
    report = run_page(again, allow_io=True)
    assert report.ok, report.errors
    got = sorted(fetched(again, report).values(), key=lambda v: v.dtype.name)
    np.testing.assert_allclose(got[0], loading_writes["y"], atol=1e-6)  # float32 sorts before int64
    np.testing.assert_array_equal(got[1], loading_writes["id"])
    np.testing.assert_allclose(want[next(k for k in outputs if want[k].dtype == np.float32)], loading_writes["y"],
                               atol=1e-6)


def test_table_from_an_asset_file_is_read_only_when_allowed(tmp_path: Path, no_loading: None) -> None:
    """A lookup table filled from a vocabulary file (a SavedModel asset): the page's initialiser reads the copy in
    the folder's assets/, and, as any op that reads a file, only with --allow-io."""
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("red\ngreen\nblue\n")

    class Vocab(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            init = tf.lookup.TextFileInitializer(str(vocab), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                 tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="colour")])
        def serve(self, colour: object) -> dict:
            return {"index": self.table.lookup(colour)}

    m = Vocab()
    tf.saved_model.save(m, str(tmp_path / "vocab_model"), signatures={"serving_default": m.serve})
    vocab.unlink()  # the model has its own copy
    page = import_model(tmp_path / "vocab_model", tmp_path / "v.json")
    page.block("colour").pins["value"] = ["blue", "pink", "red"]
    reader = next(b.id for b in page if b.type.startswith("InitializeTableFromTextFile"))
    report = run_page(page)
    assert not report.ok and any(e.block == reader for e in report.errors)
    report = run_page(page, allow_io=True)
    assert report.ok, report.errors
    (out,) = fetched(page, report).values()
    np.testing.assert_array_equal(out, [2, -1, 0])


def test_a_signatures_own_effects_run_at_each_step_under_the_gate(tmp_path: Path, no_loading: None) -> None:
    """An op the signature runs for its effect alone (nothing consumes it) is run by the ClientSession, like the
    signature runs it when called, and is refused without --allow-io."""
    log = tmp_path / "served.txt"

    class Logs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32, name="x")])
        def serve(self, x: object) -> dict:
            tf.io.write_file(str(log), "served")
            return {"y": x * 2.0}

    m = Logs()
    tf.saved_model.save(m, str(tmp_path / "logs"), signatures={"serving_default": m.serve})
    page = import_model(tmp_path / "logs", tmp_path / "l.json")
    session = next(b for b in page if b.type == "ClientSession")
    (run,) = [ln for ln in page.links_into(session.id) if ln.dst_port == "run_outputs"]
    assert page.block(run.src).type == "WriteFile"
    page.block("x").pins["value"] = [1.5, -2.0]
    report = run_page(page)
    assert not report.ok and any(e.block == run.src for e in report.errors) and not log.exists()
    report = run_page(page, allow_io=True)
    assert report.ok, report.errors
    assert log.read_text() == "served"
    (y,) = fetched(page, report).values()
    np.testing.assert_allclose(y, [3.0, -4.0])
