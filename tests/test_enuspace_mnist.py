"""enuSpace's MNIST samples: the reader pipeline, the reload logic, training, Save/Restore, missing .dat values.

The data is synthetic MNIST-format files written by the tests (``mnist_files``), checked against numpy;
the page is written in enuSpace's own format with the constructs of ``mnistTrain_softmax10.svg``. The
sample pages themselves are read from ``../shared/enuspace/mnist`` where that folder exists.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from fixtures_enuspace import EnuPage, EnuPin, out_pin, write_utf16
from mnist_files import WIN_RESULT, softmax_page, synthetic_digits, write_mnist

from enuflow.app.cli import main
from enuflow.app.document.data_folder import data_files, set_data_folder
from enuflow.app.document.formats import load, save
from enuflow.app.document.formats.enuspace_names import HELPERS, symbols
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.runner import Runner

MNIST = ROOT.parent / "shared" / "enuspace" / "mnist"
needs_shared = pytest.mark.skipif(not MNIST.is_dir(), reason=f"the enuSpace MNIST samples are not at {MNIST}")


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    folder = tmp_path / "data"
    folder.mkdir()
    images, labels = synthetic_digits(600)  # whole batches of 10 and of 100, as in MNIST
    write_mnist(folder, images, labels)
    return folder, images, labels


def test_no_symbol_names_a_removed_op() -> None:
    from tensorflow.python.framework import op_def_registry, versions

    removed = []
    for s in symbols().values():
        od = op_def_registry.get(s.block)
        if od is not None and od.deprecation.version and od.deprecation.version <= versions.GRAPH_DEF_VERSION:
            removed.append(f"{s.name} -> {s.block}")
        assert od is not None or s.block in HELPERS or s.name in ("ClientSession", "FeedType", "Input_Initializer",
                                                                   "Tensor", "Input", "Status", "Link"), s.name
    assert removed == []
    assert symbols()["FixedLengthRecordReader"].block == "FixedLengthRecordReaderV2"


def test_pipeline_reads_labels_and_scaled_images(tmp_path: Path, data) -> None:
    folder, images, labels = data
    page = load(softmax_page(tmp_path, batch=10, reload_every=20, counter_start=19), data_dir=folder)
    assert page.block("R_IMG").type == "FixedLengthRecordReaderV2"
    assert page.block("RD_IMG").type == "ReaderReadUpToV2" and page.block("Q_IMG").type == "FIFOQueueV2"
    seen: list[dict] = []
    r = Runner()
    try:
        rep = r.run(page, steps=3, allow_io=True, on_step=lambda i, res: seen.append(
            {k: np.array(v) for k, v in res.values.items() if k[0] in ("DEC_LAB", "DIV", "CNT")}))
    finally:
        r.close()
    assert rep.errors == [] and rep.steps_done == 3
    # every step reads a batch; the first is the first records of the files
    assert seen[0][("DEC_LAB", "output")].reshape(-1).tolist() == labels[:10].tolist()
    assert seen[1][("DEC_LAB", "output")].reshape(-1).tolist() == labels[10:20].tolist()
    np.testing.assert_allclose(seen[0][("DIV", "z")], images[:10].astype(np.float32) / 255, rtol=1e-6)
    # the counter went 19 -> 22; only the first step (counter 20) reloaded the Variables
    assert rep.results.get("CNT", "ref").tolist() == 22
    np.testing.assert_allclose(rep.results.get("IMAGE", "ref"), images[:10].astype(np.float32) / 255, rtol=1e-6)
    np.testing.assert_array_equal(rep.results.get("LABELS", "ref"), np.eye(10, dtype=np.float32)[labels[:10]])


def test_variables_keep_the_dat_values_until_the_counter_reloads(tmp_path: Path, data) -> None:
    folder, _images, _labels = data
    page = load(softmax_page(tmp_path, counter_start=0, reload_every=20), data_dir=folder)
    r = Runner()
    try:
        rep = r.run(page, steps=2, allow_io=True)
    finally:
        r.close()
    assert rep.errors == []
    assert not rep.results.get("IMAGE", "ref").any() and not rep.results.get("LABELS", "ref").any()


def test_softmax_cost_falls_over_200_steps(tmp_path: Path, data) -> None:
    folder, _images, _labels = data
    page = load(softmax_page(tmp_path), data_dir=folder)
    costs: list[float] = []
    r = Runner()
    try:
        rep = r.run(page, steps=200, allow_io=True,
                    on_step=lambda i, res: costs.append(float(res.get("COST", "output").reshape(-1)[0])))
    finally:
        r.close()
    assert rep.errors == [] and len(costs) == 200
    # step 1 loads the first batch (its cost may still see the .dat's zero labels); W = B = 0 gives (ln 10)^2
    assert costs[1] == pytest.approx(np.log(10) ** 2, rel=0.05)
    assert np.mean(costs[-19:]) < 0.25 * np.mean(costs[1:20])
    assert rep.results.get("CNT2", "ref").tolist() == 10  # ten reloads, one every 20 steps


def test_save_then_restore_round_trips_w_and_b(tmp_path: Path, data) -> None:
    folder, _images, _labels = data
    page = load(softmax_page(tmp_path, save_after=2), data_dir=folder)
    r = Runner()
    try:
        rep = r.run(page, steps=20, allow_io=True)
        assert rep.errors == [] and not (folder / "trainW.t").exists()  # one reload so far
        rep = r.run(page, steps=1, allow_io=True, reset=False)  # the second reload saves
    finally:
        r.close()
    assert rep.errors == [] and (folder / "trainW.t").is_file() and (folder / "trainB.t").is_file()
    # the legacy checkpoint holds the trained values under the page's names W and B
    import tensorflow as tf

    w = tf.raw_ops.Restore(file_pattern=str(folder / "trainW.t"), tensor_name="W", dt=tf.float32).numpy()
    assert w.shape == (10, 784) and np.abs(w).sum() > 0

    # a page that restores them, as the evaluation page does: file_pattern + tensor_name + dt
    pg = EnuPage()
    for var, pos in (("W", 0), ("B", 200)):
        pg.block(f"RESTORE_{var}", "Restore", (0, pos), file_pattern=WIN_RESULT + f"train{var}.t", tensor_name=var,
                 attrs="preferred_shard_ = -1;", dt="DT_FLOAT", tensor=out_pin())
    restore = load(write_utf16(tmp_path / "eval.svg", pg.svg(4)), data_dir=folder)
    assert main_run_json(restore, tmp_path, allow_io=False)["ok"] is False  # a file op needs --allow-io
    out = Runner().run(restore, allow_io=True)
    assert out.errors == []
    np.testing.assert_array_equal(out.results.get("RESTORE_W", "tensor"), w)
    b = tf.raw_ops.Restore(file_pattern=str(folder / "trainB.t"), tensor_name="B", dt=tf.float32).numpy()
    assert out.results.get("RESTORE_B", "tensor").shape == (1, 10)
    np.testing.assert_array_equal(out.results.get("RESTORE_B", "tensor"), b)


def main_run_json(page, tmp_path: Path, allow_io: bool) -> dict:
    path = tmp_path / "restore_page.json"
    save(page, path)
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["run", str(path), "--json"] + (["--allow-io"] if allow_io else []))
    return json.loads(buf.getvalue())


def test_save_and_restore_pins_import_as_names_and_paths(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_S1", "Save", filename=WIN_RESULT + "trainW.t", tensor_names="W", data="")
    pg.block("ID_S2", "Save", filename="{" + WIN_RESULT + "trainB.t}", tensor_names="{B}", data="")
    pg.block("ID_R", "Restore", file_pattern="trainW", tensor_name="W", dt="DT_FLOAT")
    page = load(write_utf16(tmp_path / "p.svg", pg.svg(3)))
    assert page.block("ID_S1").pins["tensor_names"] == {"dtype": "string", "shape": [1], "value": ["W"]}
    assert page.block("ID_S2").pins["tensor_names"]["value"] == ["B"]
    assert page.block("ID_S2").pins["filename"]["value"] == WIN_RESULT.replace("\\\\", "\\") + "trainB.t"
    assert page.block("ID_R").pins["tensor_name"] == {"dtype": "string", "shape": [], "value": "W"}
    assert not any("placeholder" in w or "complex" in w for w in page.extra.get("import_warnings", []))


def test_data_folder_is_a_page_setting_and_missing_files_are_problems(tmp_path: Path, data) -> None:
    folder, _images, labels = data
    page = load(softmax_page(tmp_path))  # no data folder
    an = analyse(page, allow_io=True)
    missing = {(w.block, w.port) for w in an.warnings if "data folder" in w.message}
    assert ("F_IMG", "val") in missing and ("F_LAB", "val") in missing and ("SAVE_W", "filename") in missing
    set_data_folder(page, folder)
    assert {f.block for f in data_files(page) if f.exists} == {"F_IMG", "F_LAB"}
    assert not [w for w in analyse(page, allow_io=True).warnings if "data folder" in w.message]
    # saved and reopened, the page remembers its data folder; the pins keep the paths as written
    path = tmp_path / "saved.json"
    save(page, path)
    again = load(path)
    assert again.extra["data_dir"] == str(folder)
    assert again.block("F_IMG").pins["val"].startswith("C:\\Users")
    rep = Runner().run(again, steps=1, allow_io=True)
    assert rep.errors == [] and rep.results.get("DEC_LAB", "output").reshape(-1).tolist() == labels[:10].tolist()
    # a folder without the files: the run names the block whose read failed
    empty = tmp_path / "empty"
    empty.mkdir()
    set_data_folder(again, empty)
    assert {w.block for w in analyse(again, allow_io=True).warnings if "not in the data folder" in w.message} == {
        "F_IMG", "F_LAB"}


def test_missing_dat_values_are_named_then_given(tmp_path: Path, data, capsys) -> None:
    folder, _images, _labels = data
    src = softmax_page(tmp_path)
    (tmp_path / "mnist_softmax.dat").unlink()
    code = main(["run", str(src), "--json", "--allow-io", "--data-dir", str(folder), "--steps", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False
    named = {(e["block"], e["port"]) for e in doc["errors"]}
    assert named == {("W_INIT", "val"), ("IMAGE_INIT", "val"), ("LABELS_INIT", "val")}
    assert all("mnist_softmax.dat" in e["message"] for e in doc["errors"])
    # the user gives values: a TruncatedNormal wired into W's initvalues, zeros typed into the others
    page = load(src, data_dir=folder)
    from enuflow.app.document.page import BlockInstance, Link

    page.remove_block("W_INIT")
    page.add_block(BlockInstance("W_RANDOM", "TruncatedNormal", (0, 0), {"shape": [10, 784], "dtype": "float32"}))
    page.add_link(Link("W_RANDOM", "output", "W", "initvalues"))
    for bid in ("IMAGE_INIT", "LABELS_INIT"):
        page.block(bid).pins["val"] = 0.0
    rep = Runner().run(page, steps=2, allow_io=True)
    assert rep.errors == [] and rep.results.get("W", "ref").std() > 0


def test_dangling_block_the_session_never_reaches_is_inert(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_C", "Const", val=("1,2", "int", "[2]"), output=out_pin())
    pg.block("ID_HOT", "OneHot", indices="", depth="10", on_value="1", off_value="0", attrs="axis_=-1")
    pg.block("ID_S", "ClientSession", fetch_outputs="", run_outputs="")
    pg.link("ID_C", "output", "ID_S", "fetch_outputs")
    page = load(write_utf16(tmp_path / "p.svg", pg.svg(4)))
    assert page.block("ID_HOT").type == "enuSpace.Inert"
    assert any("ID_HOT" in w and "created nothing" in w for w in page.extra["import_warnings"])
    assert Runner().run(page).errors == []


def test_binary_value_with_missing_dat_keeps_dtype_and_shape(tmp_path: Path) -> None:
    pg = EnuPage()
    pg.block("ID_V", "Variable", shape="{2,2}", dtype="", attrs="",
             initvalues=EnuPin("", "float", "[3][4]", binary_pos=0))
    page = load(write_utf16(tmp_path / "p.svg", pg.svg(3)))
    v = page.block("ID_V")
    assert v.pins["shape"] == "[3][4]" and v.pins["dtype"] == "float32" and "initvalues" not in v.pins
    v.pins["initvalues"] = 0.5
    rep = Runner().run(page)
    assert rep.errors == [] and rep.results.get("ID_V", "ref").tolist() == [[0.5] * 4] * 3


# -- the sample pages ------------------------------------------------------------------------------------

@needs_shared
@pytest.mark.parametrize("name", ["mnistTrain_softmax10", "mnistTrain_SoftMax100"])
def test_shared_softmax_pages_run(name: str, data, capsys) -> None:
    folder, _images, _labels = data
    code = main(["run", str(MNIST / f"{name}.svg"), "--steps", "30", "--allow-io", "--data-dir", str(folder),
                 "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"] and doc["errors"] == [] and doc["steps"] == 30


@needs_shared
def test_shared_cnn_reports_missing_values_then_runs(tmp_path: Path, data, capsys) -> None:
    folder, _images, _labels = data
    src = MNIST / "convolution_neural_network_train.svg"
    code = main(["run", str(src), "--steps", "2", "--allow-io", "--data-dir", str(folder), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and len(doc["errors"]) == 5
    assert all(e["port"] == "initvalues" and "convolution_neural_network_train.dat" in e["message"]
               for e in doc["errors"])
    page = load(src, data_dir=folder)
    for e in doc["errors"]:
        page.block(e["block"]).pins["initvalues"] = 0.01
    path = tmp_path / "cnn.json"
    save(page, path)
    code = main(["run", str(path), "--steps", "5", "--allow-io", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["errors"] == [] and doc["steps"] == 5
