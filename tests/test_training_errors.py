"""Issue 24's training pages given bad input, as a person would get it wrong: each mistake is an error naming the
block (its path inside a composite), the pin or port and, for a data file, the path; a page with a block that
failed to build does not train; what trains but not as meant (nothing to train, no test split, NaN, softmax logits)
is a warning; nothing aborts the process. Also the Keras rules that a person relies on without knowing
(MeanSquaredError's [batch, 1] against [batch], class ids saved as a column) and the exported script's command line.

One tiny classifier (data.Dataset -> Dense -> Dense -> SoftmaxCrossEntropy, Accuracy, Minimize) over a .npz of 40
examples, changed one pin or one data file at a time; pages are built (nothing runs) where the mistake is a build
error, and run in epochs in this process (one Runner per test) where it shows while training.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enuflow.app.document.composite_files import library, place
from enuflow.app.document.formats import save
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.analysis import analyse
from enuflow.app.engine.builder import build
from enuflow.app.engine.runner import Runner

N, FEATURES, CLASSES = 40, 4, 3
LINKS = [("data", "x", "d1", "x"), ("d1", "y", "d2", "x"), ("d2", "y", "loss", "logits"),
         ("data", "y", "loss", "labels"), ("d2", "y", "acc", "logits"), ("data", "y", "acc", "labels"),
         ("loss", "loss", "train", "loss")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with good.npz (N examples, CLASSES classes) and bad data files beside it."""
    f = tmp_path_factory.mktemp("errors")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(N, FEATURES)).astype(np.float32)
    y = np.arange(N) % CLASSES
    np.savez(f / "good.npz", x=x, y=y)
    np.savez(f / "wide.npz", x=x, y=np.arange(N) % (CLASSES + 2))  # labels 3 and 4: past the logits' classes
    (f / "corrupt.npz").write_bytes(b"this is no zip archive\n" * 4)
    with_nan = x.copy()
    with_nan[5, 1] = np.nan
    np.savez(f / "nan.npz", x=with_nan, y=y)
    return f


def classifier(folder: Path, file: str = "good.npz", epochs: int = 2, **pins: dict) -> Page:
    """The tiny classifier reading ``file``; ``pins`` maps a block id to the pins to change on it."""
    lib = library().composites
    page = Page("errors")
    page.folder = str(folder)
    base = {"data": {"file": file, "batch_size": 8, "seed": 1}, "d1": {"units": 6, "activation": "relu"},
            "d2": {"units": CLASSES, "seed": 1}, "train": {"optimizer": "sgd", "learning_rate": 0.1}}
    for typ, bid in [("data.Dataset", "data"), ("layers.Dense", "d1"), ("layers.Dense", "d2"),
                     ("losses.SoftmaxCrossEntropy", "loss"), ("metrics.Accuracy", "acc"), ("train.Minimize", "train")]:
        place(page, lib[typ], (0, 0), block_id=bid)
        for pin, value in {**base.get(bid, {}), **pins.get(bid, {})}.items():
            page.set_pin(bid, pin, value)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"epochs": epochs}))
    for ln in LINKS:
        page.add_link(Link(*ln))
    return page


def _where(errors) -> list[tuple[str | None, str | None]]:
    return [(e.block, e.port) for e in errors]


def _train(page: Page):
    runner = Runner()
    try:
        return runner.run(page)
    finally:
        runner.close()


@pytest.mark.parametrize("units", [0, -3])
def test_a_dense_layer_of_no_units_is_an_error_on_its_units_pin(folder, units):
    built = build(classifier(folder, d1={"units": units}))
    assert ("d1/kernel", "units") in _where(built.errors)
    assert str(units) in next(e.message for e in built.errors if e.block == "d1/kernel")


@pytest.mark.parametrize("pin, value", [("batch_size", 0), ("seed", -5)])
def test_a_batch_size_of_zero_or_a_negative_seed_is_an_error_on_the_datasets_pin(folder, pin, value):
    built = build(classifier(folder, data={pin: value}))
    assert _where(built.errors) == [("data/source", pin)]


@pytest.mark.parametrize("rate", [-0.1, float("inf"), float("nan")])
def test_a_negative_or_not_finite_learning_rate_is_an_error_on_its_pin(folder, rate):
    built = build(classifier(folder, train={"learning_rate": rate}))
    assert _where(built.errors) == [("train/minimize", "learning_rate")]


def test_a_setting_outside_its_declared_values_is_an_error_of_the_page_check_naming_block_and_pin(folder):
    """The declared allowed values and minimums of the training blocks' settings are checked with the pins, before
    anything is built (a check reports them too); a value spelled in other capitals is the declared one."""
    an = analyse(classifier(folder, d1={"activation": "gelu"}, data={"batch_size": 0}, train={"optimizer": "adamw"}))
    got = {(e.block, e.port): e.message for e in an.errors}
    assert got == {("d1/act", "activation"): "pin 'activation' must be one of none, relu, sigmoid, tanh, softmax, got "
                                             "'gelu'",
                   ("data/source", "batch_size"): "pin 'batch_size' must be a whole number of at least 1, got 0",
                   ("train/minimize", "optimizer"): "pin 'optimizer' must be one of sgd, momentum, adam, rmsprop, got "
                                                    "'adamw'"}
    assert not analyse(classifier(folder, d1={"activation": "ReLU"})).errors
    assert analyse(classifier(folder, d1={"activation": "ReLU"})).attrs["d1/act"]["activation"] == "relu"


def test_a_file_that_is_no_npz_archive_says_so_without_talking_of_pickles(folder):
    built = build(classifier(folder, file="corrupt.npz"))
    assert _where(built.errors) == [("data/source", "file")]
    message = built.errors[0].message
    assert str(folder / "corrupt.npz") in message and "pickle" not in message
    assert "not a .npz" in message


def test_a_page_whose_build_failed_does_not_train(folder):
    """The optimizer is unknown: training without the Minimize would report epochs of a model that never learns."""
    report = _train(classifier(folder, train={"optimizer": "adamw"}))
    assert ("train/minimize", "optimizer") in _where(report.errors)
    assert report.epochs == []
    assert any(e.port == "epochs" and "not trained" in e.message for e in report.errors)


def test_labels_past_the_logits_classes_are_an_error_on_the_losss_labels_before_training(folder):
    report = _train(classifier(folder, file="wide.npz"))
    assert report.epochs == []
    assert ("loss", "labels") in _where(report.errors)
    message = next(e.message for e in report.errors if (e.block, e.port) == ("loss", "labels"))
    assert "4" in message and "3 classes" in message and "data" in message
    np.savez(folder / "negative.npz", x=np.load(folder / "good.npz")["x"], y=np.arange(N) % CLASSES - 1)
    report = _train(classifier(folder, file="negative.npz"))
    assert report.epochs == [] and ("loss", "labels") in _where(report.errors)
    assert "-1" in next(e.message for e in report.errors if (e.block, e.port) == ("loss", "labels"))


def test_nan_in_the_data_is_a_warning_naming_the_file_and_the_training_still_runs(folder):
    report = _train(classifier(folder, file="nan.npz"))
    assert not report.errors, report.errors
    warnings = [w for w in report.warnings if w.block == "data/source" and w.port == "file"]
    assert warnings and "NaN" in warnings[0].message and "nan.npz" in warnings[0].message


def test_a_loss_that_is_no_scalar_is_an_error_on_minimizes_loss(folder):
    page = classifier(folder)
    page.remove_link(next(ln for ln in page.links if ln.dst == "train"))
    page.add_link(Link("d2", "y", "train", "loss"))
    built = build(page)
    assert _where(built.errors) == [("train/minimize", "loss")]
    assert "scalar" in built.errors[0].message and "[None, 3]" in built.errors[0].message


def test_a_figure_that_stops_being_a_number_is_a_warning_naming_it(folder):
    report = _train(classifier(folder, file="nan.npz", d1={"activation": "none"}))  # relu would turn NaN to 0
    warned = {(w.block, w.port): w.message for w in report.warnings}
    assert ("loss", "loss") in warned and "not a number from epoch 1" in warned[("loss", "loss")]
    assert np.isnan(report.epochs[-1]["test"]["loss.loss"])


def test_two_datasets_on_a_page_in_epochs_are_an_error_on_the_second(folder):
    page = classifier(folder)
    place(page, library().composites["data.Dataset"], (0, 0), block_id="data2")
    page.set_pin("data2", "file", "good.npz")
    page.set_pin("data2", "batch_size", 5)
    page.remove_link(next(ln for ln in page.links if (ln.dst, ln.dst_port) == ("loss", "labels")))
    page.add_link(Link("data2", "y", "loss", "labels"))
    report = _train(page)
    assert report.epochs == []
    assert _where(report.errors) == [("data2", None)]
    assert "one data.Dataset" in report.errors[0].message


def _mse_page(prediction: np.ndarray, target: np.ndarray) -> Page:
    page = Page("mse")
    for bid, value in (("p", prediction), ("t", target)):
        page.add_block(BlockInstance(bid, "Const", (0, 0), {"val": value.tolist(), "dtype": value.dtype.name}))
    place(page, library().composites["losses.MeanSquaredError"], (0, 0), block_id="loss")
    page.add_link(Link("p", "output", "loss", "prediction"))
    page.add_link(Link("t", "output", "loss", "target"))
    return page


@pytest.mark.parametrize("pred_shape, target_shape, target_dtype", [
    ((5, 1), (5,), np.float32), ((5,), (5, 1), np.float32), ((5, 2), (5, 2), np.float32), ((5, 1), (5,), np.int64)])
def test_mean_squared_error_of_a_column_against_a_vector_matches_keras(pred_shape, target_shape, target_dtype):
    """Keras squeezes or expands a last dimension of 1 so that [batch, 1] meets [batch]; broadcasting them to
    [batch, batch] would train a regression towards the targets' mean."""
    from enuflow.app.engine.runner import run_page
    from enuflow.blocks.tf import load as load_tf

    rng = np.random.default_rng(5)
    pred = rng.normal(size=pred_shape).astype(np.float32)
    target = (rng.normal(size=target_shape) * 3).astype(target_dtype)  # whole numbers, as a .csv's, in int64
    report = run_page(_mse_page(pred, target))
    assert not report.errors, report.errors
    keras = load_tf().keras
    expected = float(keras.losses.MeanSquaredError()(target, pred))
    assert float(report.results.values[("loss", "loss")]) == pytest.approx(expected, rel=1e-6)


def test_mean_squared_error_of_shapes_that_do_not_meet_is_an_error_on_its_target():
    from enuflow.app.engine.runner import run_page

    report = run_page(_mse_page(np.zeros((5, 3), np.float32), np.zeros((5,), np.float32)))
    assert [(e.block, e.port) for e in report.errors][:1] == [("loss/same", "target")]
    assert "[5, 3]" in report.errors[0].message and "[5]" in report.errors[0].message


def test_epochs_without_a_test_split_or_without_training_say_so(folder):
    report = _train(classifier(folder, data={"test_fraction": 0.0}))
    assert not report.errors, report.errors
    assert ("data", "test_fraction") in _where(report.warnings)
    assert report.epochs[-1]["test"] == {} and report.epochs[-1]["train"]
    page = classifier(folder)
    page.remove_block("train")
    report = _train(page)
    assert not report.errors, report.errors
    assert ("session", "epochs") in _where(report.warnings)
    assert report.epochs[0]["train"]["loss.loss"] == pytest.approx(report.epochs[1]["train"]["loss.loss"])


def _features(built) -> np.ndarray:
    """The rows of x a built Dataset feeds its train and test splits with, sorted."""
    parts = [a for p, a in built.init_feeds.items() if p.op.name.endswith(("x_train_feed", "x_test_feed"))]
    return _sorted(np.concatenate(parts))


def test_a_rebuild_reads_an_unchanged_data_file_once_and_a_changed_one_again(tmp_path):
    rng = np.random.default_rng(5)
    first, second = (rng.normal(size=(N, FEATURES)).astype(np.float32) for _ in range(2))
    path = tmp_path / "data.npz"
    np.savez(path, x=first, y=np.arange(N) % CLASSES)
    stat = path.stat()
    assert not build(classifier(tmp_path, file="data.npz")).errors
    # other numbers, the same size and time: the file is not read again (what is built holds the first numbers)
    np.savez(path, x=second, y=np.arange(N) % CLASSES)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    np.testing.assert_array_equal(_features(build(classifier(tmp_path, file="data.npz"))), _sorted(first))
    # changed (a later time): read again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    np.testing.assert_array_equal(_features(build(classifier(tmp_path, file="data.npz"))), _sorted(second))


def _sorted(rows: np.ndarray) -> np.ndarray:
    """``rows`` in order (by the first column, then the next, ...)."""
    return rows[np.lexsort(rows.T[::-1])]


def test_data_files_of_a_label_column_of_text_or_of_one_feature(folder):
    """Class ids saved as a column [n, 1] train as [n] (as Keras's sparse losses take them); text in x is an error
    on the file pin naming the path; an x of one number per example says which shape a layer needs."""
    x, y = np.load(folder / "good.npz")["x"], np.arange(N) % CLASSES
    np.savez(folder / "column.npz", x=x, y=y[:, None])
    np.savez(folder / "text.npz", x=np.array(["a"] * N), y=y)
    np.savez(folder / "flat.npz", x=x[:, 0], y=y)
    report = _train(classifier(folder, file="column.npz", epochs=1))
    assert not report.errors, report.errors
    built = build(classifier(folder, file="text.npz"))
    assert _where(built.errors) == [("data/source", "file")]
    assert "text.npz" in built.errors[0].message and "numbers" in built.errors[0].message
    built = build(classifier(folder, file="flat.npz"))
    assert _where(built.errors) == [("d1/kernel", "x")]
    assert "[None]" in built.errors[0].message and "[n, 1]" in built.errors[0].message
    np.savez(folder / "images.npz", x=np.zeros((N, 3, 3, 1), np.float32), y=y)
    built = build(classifier(folder, file="images.npz"))
    assert _where(built.errors) == [("d1/kernel", "x")] and "layers.Flatten" in built.errors[0].message


@pytest.mark.parametrize("epsilon", [0.0, -1.0])
def test_a_batchnorm_epsilon_that_is_not_positive_is_an_error_on_its_pin(folder, epsilon):
    page = classifier(folder)
    place(page, library().composites["layers.BatchNorm"], (0, 0), block_id="bn")
    page.set_pin("bn", "epsilon", epsilon)
    page.remove_link(next(ln for ln in page.links if ln.dst == "d2"))
    page.add_link(Link("d1", "y", "bn", "x"))
    page.add_link(Link("bn", "y", "d2", "x"))
    built = build(page)
    assert _where(built.errors) == [("bn/norm", "epsilon")]


def test_keep_best_on_a_run_in_steps_is_a_warning_and_writes_nothing(folder, tmp_path):
    runner = Runner()
    try:
        report = runner.run(classifier(folder, epochs=0), keep_best=str(tmp_path / "best"))
    finally:
        runner.close()
    assert not report.errors, report.errors
    assert any("keep best" in w.message and "epochs" in w.message for w in report.warnings)
    assert not list(tmp_path.iterdir())


def test_softmax_logits_into_the_cross_entropy_are_a_warning_on_its_logits(folder):
    report = _train(classifier(folder, epochs=1, d2={"activation": "softmax"}))
    assert not report.errors, report.errors
    assert ("loss", "logits") in _where(report.warnings)
    report = _train(classifier(folder, epochs=1))
    assert ("loss", "logits") not in _where(report.warnings)


def test_an_unknown_initializer_is_an_error_on_its_pin_not_a_glorot_in_disguise(folder):
    built = build(classifier(folder, d1={"initializer": "xavier"}))
    assert _where(built.errors) == [("d1/kernel", "initializer")]
    assert "glorot_uniform" in built.errors[0].message


@pytest.mark.parametrize("text, says", [("1,2,0\n3,4,1\n", "header row"), ("a,b,label\n1,2,0\n3,4\n", "row 3 has 2"),
                                        ("a,b,label\n1,2,0\n3,x,1\n", "numbers only")])
def test_a_csv_without_a_header_or_of_ragged_rows_or_text_is_an_error_naming_the_file(folder, text, says):
    (folder / "bad.csv").write_text(text)
    built = build(classifier(folder, file="bad.csv"))
    assert _where(built.errors) == [("data/source", "file")]
    assert says in built.errors[0].message and "bad.csv" in built.errors[0].message


def test_the_exported_script_given_a_bad_batch_says_so_without_a_traceback(folder, tmp_path, capsys):
    from enuflow.app import cli

    save(classifier(folder), folder / "export.json")
    script = tmp_path / "infer.py"
    assert cli.main(["export", str(folder / "export.json"), "--python", str(script)]) == 0
    np.save(tmp_path / "wrong.npy", np.zeros((2, FEATURES + 1), np.float32))
    for args, status, says in [(["wrong.npy"], 1, "shape (2, 5)"), (["missing.npy"], 2, "missing.npy"),
                               (["wrong.npy", "-x"], 2, "usage")]:
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        assert done.returncode == status and says in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_conv2d_on_images_without_a_channel_axis_says_how_to_save_them(folder):
    np.savez(folder / "grey.npz", x=np.zeros((N, 5, 5), np.float32), y=np.arange(N) % CLASSES)
    page = classifier(folder, file="grey.npz")
    place(page, library().composites["layers.Conv2D"], (0, 0), block_id="conv")
    page.remove_link(next(ln for ln in page.links if ln.dst == "d1"))
    page.add_link(Link("data", "x", "conv", "x"))
    built = build(page)
    assert ("conv/conv", "x") in _where(built.errors)
    assert "[n, height, width, 1]" in next(e.message for e in built.errors if e.block == "conv/conv")


def test_labels_past_the_logits_classes_in_a_plain_run_are_an_error_on_the_losss_labels(folder):
    """Without a ClientSession the page runs one step: TensorFlow's "Received a label value of 4" becomes words."""
    page = classifier(folder, file="wide.npz")
    page.remove_block("session")
    report = _train(page)
    assert ("loss", "labels") in _where(report.errors), report.errors
    message = next(e.message for e in report.errors if (e.block, e.port) == ("loss", "labels"))
    assert "label 4" in message and "3 classes" in message and "Received" not in message


def test_epochs_from_the_command_line_without_a_clientsession_name_the_flag(folder):
    """No ClientSession: the error names --epochs, not a port 'epochs' of no block."""
    page = classifier(folder)
    page.remove_block("session")
    for b in [b.id for b in page if b.id.startswith("data")]:
        page.remove_block(b)
    runner = Runner()
    try:
        report = runner.run(page, epochs=2)
    finally:
        runner.close()
    assert report.epochs == []
    flagged = [e for e in report.errors if e.message.startswith("--epochs")]
    assert flagged and all((e.block, e.port) == (None, None) for e in flagged), report.errors
    assert not any(e.port == "epochs" for e in report.errors + report.warnings)


@pytest.mark.parametrize("typ, out", [("losses.SoftmaxCrossEntropy", "loss"), ("metrics.Accuracy", "accuracy")])
def test_float_class_ids_are_cast_as_keras_does(typ, out):
    from enuflow.app.engine.runner import run_page
    from enuflow.blocks.tf import load as load_tf

    logits = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 2, 1, 0], np.float32)
    page = Page("floats")
    for bid, value in (("lg", logits), ("lb", labels)):
        page.add_block(BlockInstance(bid, "Const", (0, 0), {"val": value.tolist(), "dtype": "float32"}))
    place(page, library().composites[typ], (0, 0), block_id="m")
    page.add_link(Link("lg", "output", "m", "logits"))
    page.add_link(Link("lb", "output", "m", "labels"))
    report = run_page(page)
    assert not report.errors, report.errors
    keras = load_tf().keras
    if out == "loss":
        expected = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    else:
        metric = keras.metrics.SparseCategoricalAccuracy()
        metric.update_state(labels, logits)
        expected = float(metric.result())
    assert float(report.results.values[("m", out)]) == pytest.approx(expected, rel=1e-6)
