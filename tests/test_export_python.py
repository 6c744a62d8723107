"""enuflow export --python: the script builds and runs the same graph and gives the same results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_page

from enuflow.app.engine.export_python import ExportProblem, page_to_python
from enuflow.app.document.formats import load
from enuflow.app.engine.runner import run_page
from enuflow.app.document.values import parse_tensor


def run_script(text: str, tmp_path: Path) -> dict[str, list]:
    script = tmp_path / "page.py"
    script.write_text(text + "\nimport json as _j\nprint('JSON', _j.dumps({k: np.asarray(v).tolist() for k, v in "
                             "main().items()}, default=lambda b: b.decode()))\n")
    # main() already ran once when imported as __main__; the second call prints a JSON line to compare
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("JSON ")][-1]
    return json.loads(line[5:])


@pytest.mark.parametrize("scene", ["sparse_fill_empty_rows_grad", "sparse_fill_empty_rows_roundtrip"])
def test_script_matches_runner(scene: str, tmp_path: Path) -> None:
    page = load(ROOT / "scenes" / f"{scene}.json")
    ours = run_page(page)
    assert ours.errors == []
    got = run_script(page_to_python(page, f"{scene}.json"), tmp_path)
    assert got
    for key, value in got.items():
        block, port = key.split(".", 1)
        np.testing.assert_allclose(np.asarray(value), ours.results.get(block, port))


def test_script_of_page_without_session(tmp_path: Path) -> None:
    page = make_page([("a", "Const", {"val": [1, 2, 3, 4, 5, 6]}), ("sp", "Split", {"num_split": 3, "axis": 0}),
                      ("n", "Neg", {}), ("m", "MatMul", {"transpose_b": True}),
                      ("w", "Const", {"val": "{{1.5,2}}", "dtype": "float32"})],
                     [("a", "output", "sp", "value"), ("sp", "output[2]", "n", "x"), ("w", "output", "m", "a"),
                      ("w", "output", "m", "b")])
    got = run_script(page_to_python(page), tmp_path)
    assert got["n.y"] == [-5, -6] and got["sp.output[0]"] == [1, 2]
    assert got["m.product"] == [[6.25]]


def test_values_cannot_become_code(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    evil = f"x');\nimport os; os.system('touch {sentinel}') #"
    page = make_page([(evil, "Const", {"val": f"a;b'); import os; os.system('touch {sentinel}')", "dtype": "string"})],
                     [])
    got = run_script(page_to_python(page), tmp_path)
    assert not sentinel.exists()
    want = [b.decode() for b in parse_tensor(page.block(evil).pins["val"], "string").tolist()]
    assert got[f"{evil}.output"] == want and len(want) == 4


def test_problems_are_named() -> None:
    page = make_page([("x", "NotABlock", {})], [])
    with pytest.raises(ExportProblem, match="block 'x'"):
        page_to_python(page)


def run_exported(script: Path, cwd: Path) -> tuple[dict[str, list], bool]:
    """Run an exported script as a person does (``python script.py``, from another folder); its results and
    whether its session turned TensorFlow's graph optimizer off."""
    runner = script.with_name("run_" + script.name)
    runner.write_text("import json, runpy, sys\nimport numpy as np\n"
                      f"m = runpy.run_path({str(script)!r})\n"
                      "res = m['main']()\n"
                      "print('OFF', m['CONFIG'].graph_options.rewrite_options.disable_meta_optimizer)\n"
                      "print('JSON', json.dumps({k: np.asarray(v).tolist() for k, v in res.items()}, "
                      "default=lambda b: b.decode()))\n")
    r = subprocess.run([sys.executable, str(runner)], cwd=cwd, capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    off = next(ln for ln in lines if ln.startswith("OFF ")) == "OFF True"
    return json.loads(next(ln for ln in lines if ln.startswith("JSON "))[5:]), off


def export(page_path: Path, script: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", "export", str(page_path), "--python", str(script)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("optimize", ["on", "off"])
def test_script_of_an_imported_model_reads_its_data_file(tmp_path: Path, optimize: str) -> None:
    """A model's weights stay in a data file beside the script (not inline); the script gives what enuflow and
    TensorFlow give, and runs the graph optimizer as the ClientSession's optimize pin says."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from enuflow.app.document.formats import save
    from enuflow.app.engine.import_model import import_model
    from enuflow.blocks.tf import load as load_tf

    tf = load_tf()
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(20, activation="tanh"),
                                 tf.keras.layers.Dense(3)])
    fn = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([None, 4], tf.float32, name="x"))
    frozen = convert_variables_to_constants_v2(fn)
    (tmp_path / "model.pb").write_bytes(frozen.graph.as_graph_def().SerializeToString())
    x = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 3.0]], np.float32)
    page_dir = tmp_path / "page"
    page_dir.mkdir()
    page = import_model(tmp_path / "model.pb", page_dir / "m.json")
    page.block("x").pins.update(value=x.tolist(), shape=[2, 4])
    session = next(b for b in page if b.type == "ClientSession")
    session.pins["optimize"] = optimize
    save(page, page_dir / "m.json")
    (out,) = page.links_into(session.id)

    script = tmp_path / "exported" / "model.py"
    script.parent.mkdir()
    r = export(page_dir / "m.json", script)
    assert r.returncode == 0, r.stderr
    assert (script.parent / "model_data.npz").is_file()
    kernel = model.layers[0].kernel.numpy()
    text = script.read_text()
    assert repr(float(kernel[0, 0])) not in text and len(text) < 20_000  # the weights are not inline

    got, off = run_exported(script, cwd=tmp_path)
    assert off == (optimize == "off")
    ours = run_page(load(page_dir / "m.json"))
    assert ours.ok, ours.errors
    value = np.asarray(got[f"{out.src}.{out.src_port}"])
    np.testing.assert_allclose(value, ours.results.get(out.src, out.src_port), atol=1e-6)
    np.testing.assert_allclose(value, model(x).numpy(), atol=1e-5)  # TensorFlow's own answer
    np.testing.assert_allclose(value, np.tanh(x @ kernel + model.layers[0].bias.numpy())
                               @ model.layers[1].kernel.numpy() + model.layers[1].bias.numpy(), atol=1e-5)


def test_script_reads_files_from_the_page_data_folder(tmp_path: Path) -> None:
    """A file named by an absolute Windows path (an enuSpace page) is read from the page's data folder."""
    from enuflow.app.document.data_folder import set_data_folder
    from enuflow.app.document.formats import save

    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_bytes(b"seventeen bytes!!")
    page = make_page([("r", "ReadFile", {"filename": "C:\\Users\\me\\hello.txt"}), ("n", "StringLength", {}),
                      ("session", "ClientSession", {"steps": 1})],
                     [("r", "contents", "n", "input"), ("n", "output", "session", "fetch_outputs"),
                      ("r", "contents", "session", "fetch_outputs")])
    set_data_folder(page, data)
    save(page, tmp_path / "p.json")
    script = tmp_path / "out" / "p.py"
    script.parent.mkdir()
    r = export(tmp_path / "p.json", script)
    assert r.returncode == 0, r.stderr
    got, off = run_exported(script, cwd=tmp_path / "out")
    ours = run_page(load(tmp_path / "p.json"), allow_io=True)
    assert ours.ok, ours.errors
    assert got["n.output"] == int(ours.results.get("n", "output")) == 17
    assert got["r.contents"] == "seventeen bytes!!"
    assert not off  # a small page: auto runs the optimizer, as enuflow does


def test_script_of_a_large_cheap_page_turns_the_optimizer_off(tmp_path: Path) -> None:
    """optimize auto on a page of more than 300 cheap ops: the optimizer is off in the script, as in enuflow."""
    n = 320
    blocks = [("c", "Const", {"val": 1.5, "dtype": "float32"})] + [(f"n{i}", "Neg", {}) for i in range(n)]
    links = [("c" if i == 0 else f"n{i - 1}", "output" if i == 0 else "y", f"n{i}", "x") for i in range(n)]
    page = make_page(blocks, links)
    from enuflow.app.document.formats import save

    save(page, tmp_path / "chain.json")
    r = export(tmp_path / "chain.json", tmp_path / "chain.py")
    assert r.returncode == 0, r.stderr
    got, off = run_exported(tmp_path / "chain.py", cwd=tmp_path)
    assert off and got[f"n{n - 1}.y"] == 1.5  # an even number of negations
