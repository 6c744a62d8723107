"""Training in epochs (``app.engine.epochs``): figures against numpy on the saved weights, confusion matrices, keep
best, cancel, the worker's messages, ``enuflow run --epochs`` and the export of the inference part.

One small classifier (data.Dataset, two layers.Dense, a loss, an accuracy, train.Minimize) on 60 random examples in
a .npz (45 train, 15 test in their own file, so the test split is known here), trained once for the in-process
checks; the command line and the worker run it in a child process.
"""

from __future__ import annotations

import json
import math
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from enuflow.app import cli
from enuflow.app.document.composite_files import library, place
from enuflow.app.document.formats import load, save
from enuflow.app.document.formats.native import run_doc
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.epochs import restore_best, session_weights
from enuflow.app.engine.runner import Runner
from enuflow.app.engine.weights import checkpoint_key

EPOCHS = 3
N_TRAIN, N_TEST, BATCH = 45, 15, 16
LINKS = [("data", "x", "d1", "x"), ("d1", "y", "d2", "x"), ("d2", "y", "loss", "logits"), ("data", "y", "loss", "labels"),
         ("d2", "y", "acc", "logits"), ("data", "y", "acc", "labels"), ("loss", "loss", "train", "loss"),
         ("train", "step", "session", "run_outputs"), ("loss", "loss", "session", "fetch_outputs"),
         ("acc", "accuracy", "session", "fetch_outputs"), ("d2", "y", "session", "fetch_outputs"),
         ("data", "x", "session", "fetch_outputs")]


def _examples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_TRAIN + N_TEST, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def classifier_page(folder: Path, epochs: int = EPOCHS, name: str = "page.json", normalised: bool = False) -> Path:
    """The classifier page, saved in ``folder`` beside its data (train.npz, test.npz); ``normalised``: a
    layers.BatchNorm and a layers.Dropout between its two Dense layers."""
    x, y = _examples()
    np.savez(folder / "train.npz", x=x[:N_TRAIN], y=y[:N_TRAIN])
    np.savez(folder / "test.npz", x=x[N_TRAIN:], y=y[N_TRAIN:])
    lib = library().composites
    page = Page("classifier")
    for typ, bid, pins in [
            ("data.Dataset", "data", {"file": "train.npz", "test_file": "test.npz", "batch_size": BATCH, "seed": 1}),
            ("layers.Dense", "d1", {"units": 8, "activation": "relu", "seed": 1}),
            ("layers.Dense", "d2", {"units": 3, "seed": 2}),
            ("losses.SoftmaxCrossEntropy", "loss", {}), ("metrics.Accuracy", "acc", {}),
            ("train.Minimize", "train", {"optimizer": "sgd", "learning_rate": 0.2})]:
        place(page, lib[typ], (0, 0), block_id=bid)
        for pin, value in pins.items():
            page.set_pin(bid, pin, value)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"epochs": epochs}))
    links = LINKS
    if normalised:
        place(page, lib["layers.BatchNorm"], (0, 0), block_id="bn")
        place(page, lib["layers.Dropout"], (0, 0), block_id="drop")
        page.set_pin("drop", "rate", 0.5)
        links = [ln for ln in LINKS if ln[:2] != ("d1", "y")] + [("d1", "y", "bn", "x"), ("bn", "y", "drop", "x"),
                                                                  ("drop", "y", "d2", "x")]
    for ln in links:
        page.add_link(Link(*ln))
    save(page, folder / name)
    return folder / name


def _forward(w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The classifier's logits, in numpy."""
    h = np.maximum(x @ w["d1/kernel"] + w["d1/bias"], 0.0)
    return h @ w["d2/kernel"] + w["d2/bias"]


def _xent(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def _checkpoint(path: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(path))
    return {n: reader.get_tensor(checkpoint_key(n)) for n in ("d1/kernel", "d1/bias", "d2/kernel", "d2/bias")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("epochs")
    classifier_page(f)
    return f


@pytest.fixture(scope="module")
def trained(folder: Path):
    """The classifier trained in-process for EPOCHS epochs: (runner, report, epoch infos, batch calls, the Variables
    read after each epoch)."""
    runner = Runner()
    infos, batches, weights = [], [], []

    def on_epoch(info):
        infos.append(info)
        weights.append(session_weights(runner._prepared).read())

    report = runner.run(load(str(folder / "page.json")), on_epoch=on_epoch, on_batch=lambda *a: batches.append(a),
                        keep_best=str(folder / "best"), save_weights=str(folder / "final"))
    yield runner, report, infos, batches, weights
    runner.close()


def test_the_test_figures_are_numpys_on_the_saved_weights(trained, folder):
    _, report, infos, _, _ = trained
    assert not report.errors, report.errors
    assert [e["epoch"] for e in report.epochs] == [1, 2, 3]
    x, y = _examples()
    w = _checkpoint(folder / "final")
    logits = _forward(w, x[N_TRAIN:])
    last = report.epochs[-1]["test"]
    assert last["loss.loss"] == pytest.approx(_xent(logits, y[N_TRAIN:]), abs=1e-5)
    assert last["acc.accuracy"] == pytest.approx(float((logits.argmax(1) == y[N_TRAIN:]).mean()), abs=1e-6)
    # each figure's result is its mean over the last test pass; the others are the last test batch's
    values = report.results.values
    assert float(values[("loss", "loss")]) == pytest.approx(last["loss.loss"], abs=1e-6)
    np.testing.assert_allclose(values[("d2", "y")], logits, rtol=1e-5, atol=1e-5)
    # the confusion matrix counts [true][predicted] over the test pass
    expected = np.zeros((3, 3), int)
    np.add.at(expected, (y[N_TRAIN:], logits.argmax(1)), 1)
    assert infos[-1]["confusion"] == {"acc": expected.tolist()} and infos[-1]["classes"] == {"acc": 3}
    assert set(report.epochs[0]) == {"epoch", "train", "test", "seconds"}
    assert set(report.epochs[0]["train"]) == {"loss.loss", "acc.accuracy"}


def test_the_train_figures_are_batch_size_weighted_means(folder):
    """With a learning rate of 0 the weights never change: the train pass's mean is numpy's over the whole split."""
    page = load(str(classifier_page(folder, epochs=1, name="frozen.json")))
    page.set_pin("train", "learning_rate", 0.0)
    runner = Runner()
    try:
        report = runner.run(page, save_weights=str(folder / "frozen"))
    finally:
        runner.close()
    x, y = _examples()
    logits = _forward(_checkpoint(folder / "frozen"), x[:N_TRAIN])
    assert report.epochs[0]["train"]["loss.loss"] == pytest.approx(_xent(logits, y[:N_TRAIN]), abs=1e-5)


def test_progress_comes_per_batch_and_per_epoch(trained):
    _, _, infos, batches, _ = trained
    train_batches = math.ceil(N_TRAIN / BATCH)
    assert batches[:train_batches + 1] == [(1, EPOCHS, "train", b, train_batches) for b in range(1, train_batches + 1)] \
        + [(1, EPOCHS, "test", 1, 1)]
    assert len(batches) == EPOCHS * (train_batches + 1)
    assert [(i["epoch"], i["epochs"]) for i in infos] == [(e, EPOCHS) for e in range(1, EPOCHS + 1)]


def test_keep_best_writes_the_best_epochs_variables_and_restores_them(trained, folder):
    runner, report, infos, _, weights = trained
    accs = [e["test"]["acc.accuracy"] for e in report.epochs]
    best = accs.index(max(accs))  # the first epoch with the highest test accuracy
    assert [i["best"] for i in infos][best] is True
    kept = _checkpoint(folder / "best")
    for name, value in kept.items():
        np.testing.assert_array_equal(value, weights[best][name])
    epoch, problems = restore_best(runner)
    assert (epoch, problems) == (best + 1, [])
    now = session_weights(runner._prepared).read()
    for name, value in kept.items():
        np.testing.assert_array_equal(now[name], value)
    # a checkpoint is restored the same way
    assert restore_best(runner, str(folder / "final")) == (None, [])
    now = session_weights(runner._prepared).read()
    for name, value in _checkpoint(folder / "final").items():
        np.testing.assert_array_equal(now[name], value)


def test_stop_ends_after_the_current_batch_and_keeps_the_variables(folder):
    page = load(str(folder / "page.json"))
    runner, cancel, seen = Runner(), threading.Event(), []

    def on_batch(epoch, epochs, phase, batch, batches):
        seen.append(session_weights(runner._prepared).read())
        if len(seen) == 2:
            cancel.set()
    try:
        report = runner.run(page, cancel=cancel, on_batch=on_batch)
        assert report.stopped and not report.errors and report.epochs == []
        assert len(seen) == 2  # the second batch ended the run
        now = session_weights(runner._prepared).read()
        for name in ("d1/kernel", "d2/bias"):
            np.testing.assert_array_equal(now[name], seen[1][name])
            assert not np.array_equal(seen[0][name], seen[1][name])  # trained by that batch
        # the session lives on: a run that does not reset continues from these values
        again = runner.run(page, epochs=1, reset=False)
        assert not again.errors and len(again.epochs) == 1
    finally:
        runner.close()


def test_a_run_past_its_timeout_ends_before_the_next_batch_and_says_so(folder):
    runner = Runner(timeout=0.05)  # the build alone takes longer: the run ends before its first batch
    try:
        report = runner.run(load(str(folder / "page.json")))
    finally:
        runner.close()
    assert report.stopped and report.timed_out and report.epochs == []
    assert [e.message for e in report.errors] == ["timed out in epoch 1 (the run's timeout is 0.05 s); the results "
                                                  "are those of no epoch"]


def test_epochs_without_a_dataset_name_the_pin(tmp_path):
    page = Page("plain")
    page.add_block(BlockInstance("c", "Const", (0, 0), {"val": 2.0}))
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"epochs": 2}))
    page.add_link(Link("c", "output", "session", "fetch_outputs"))
    runner = Runner()
    try:
        report = runner.run(page)
    finally:
        runner.close()
    assert [(e.block, e.port) for e in report.errors] == [("session", "epochs")]
    assert "data.Dataset" in report.errors[0].message and "epochs" in report.errors[0].message


def test_run_epochs_json_then_export_serves_the_same_answers(folder, capsys):
    import tensorflow as tf

    page, ckpt, out = folder / "page.json", folder / "cli_weights", folder / "results"
    assert cli.main(["run", str(page), "--epochs", "2", "--json", "--save-weights", str(ckpt),
                     "--save-results", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert set(doc["epochs"][1]) == {"epoch", "train", "test", "seconds"}
    assert set(doc["epochs"][1]["test"]) == {"loss.loss", "acc.accuracy"}
    x_batch, y_page = np.load(out / "data.x.npy"), np.load(out / "d2.y.npy")
    # the figures are numpy's on the weights it saved
    x, y = _examples()
    test_loss = _xent(_forward(_checkpoint(ckpt), x[N_TRAIN:]), y[N_TRAIN:])
    assert doc["epochs"][1]["test"]["loss.loss"] == pytest.approx(test_loss, abs=1e-5)

    model_dir = folder / "served"
    assert cli.main(["export", str(page), "--savedmodel", str(model_dir), "--weights", str(ckpt)]) == 0
    served = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    np.testing.assert_allclose(served(x=tf.constant(x_batch))["y"].numpy(), y_page, rtol=1e-5, atol=1e-5)

    script = folder / "infer.py"
    assert cli.main(["export", str(page), "--python", str(script), "--weights", str(ckpt)]) == 0
    np.save(folder / "xb.npy", x_batch)
    subprocess.run([sys.executable, str(script), str(folder / "xb.npy"), "-o", str(folder / "yb.npy")], check=True,
                   capture_output=True, timeout=120)
    np.testing.assert_allclose(np.load(folder / "yb.npy"), y_page, rtol=1e-5, atol=1e-5)


def test_run_epochs_prints_a_line_per_epoch(folder, capsys):
    assert cli.main(["run", str(folder / "page.json"), "--epochs", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = [ln for ln in lines if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epochs] == ["1/2", "2/2"]
    assert all(" train loss.loss " in ln and " test loss.loss " in ln and "acc.accuracy" in ln for ln in epochs)
    assert "2 epochs" in lines


def test_the_worker_reports_epochs_and_batches_and_restores_the_best(folder):
    from enuflow.app.worker.client import WorkerClient

    events: queue.Queue = queue.Queue()
    client = WorkerClient(events.put)

    def until(kind, rid):
        got = []
        while True:
            ev = events.get(timeout=120)
            if ev.run_id == rid or ev.kind == "crashed":
                got.append(ev)
                if ev.kind in (kind, "crashed"):
                    return got
    try:
        rid = client.run(run_doc(load(str(folder / "page.json"))), epochs=2)
        got = until("done", rid)
        done = got[-1]
        assert done.kind == "done" and not done.errors, done.errors
        epochs = [e for e in got if e.kind == "epoch"]
        assert [(e.epoch, e.epochs_total) for e in epochs] == [(1, 2), (2, 2)]
        assert set(epochs[0].test) == {"loss.loss", "acc.accuracy"} and epochs[0].classes == {"acc": 3}
        assert np.sum(epochs[0].confusion["acc"]) == N_TEST and epochs[0].best
        assert [e["test"] for e in done.epochs] == [e.test for e in epochs]
        batch = next(e for e in got if e.kind == "batch")
        assert batch.epoch == 1 and batch.epochs_total == 2 and batch.phase == "train" and batch.batches == 3
        accs = [e.test["acc.accuracy"] for e in epochs]
        restored = until("restored", client.restore_best())[-1]
        assert restored.kind == "restored" and restored.errors == [] and restored.epoch == accs.index(max(accs)) + 1
    finally:
        client.close()


def test_restore_best_with_no_worker_running_answers_without_starting_one(tmp_path):
    """No child, no session to restore into: the answer says so, and no process is started for it."""
    from enuflow.app.worker.client import WorkerClient

    events: queue.Queue = queue.Queue()
    client = WorkerClient(events.put)
    try:
        for path in (None, str(tmp_path / "best")):
            rid = client.restore_best(path)
            ev = events.get(timeout=30)
            assert (ev.kind, ev.run_id, ev.epoch) == ("restored", rid, 0)
            assert [e["message"] for e in ev.errors] == ["nothing to restore into: the page has not run in this "
                                                          "worker"]
            assert not client.alive
    finally:
        client.close()


def test_logdir_gets_each_epochs_figures(folder, tmp_path):
    from tensorflow.python.summary.summary_iterator import summary_iterator

    runner = Runner()
    try:
        report = runner.run(load(str(folder / "page.json")), epochs=2, logdir=str(tmp_path / "tb"))
    finally:
        runner.close()
    got = {}
    for f in (tmp_path / "tb").iterdir():
        for ev in summary_iterator(str(f)):
            for v in ev.summary.value:
                got[(ev.step, v.tag)] = v.simple_value
    for e in report.epochs:
        for phase in ("train", "test"):
            assert got[(e["epoch"], f"{phase}/loss.loss")] == pytest.approx(e[phase]["loss.loss"], rel=1e-6)


def test_export_of_a_page_with_batchnorm_and_dropout_serves_what_its_test_pass_gives(folder, tmp_path):
    """Dropout off and BatchNorm on its moving statistics, as in the page's own evaluation pass."""
    import tensorflow as tf

    from enuflow.app.engine.export_inference import export_inference, inference_python

    page = load(str(classifier_page(folder, epochs=2, name="normalised.json", normalised=True)))
    runner = Runner()
    try:
        report = runner.run(page, save_weights=str(tmp_path / "w"))
    finally:
        runner.close()
    assert not report.errors, report.errors
    x_batch, y_page = report.results.values[("data", "x")], report.results.values[("d2", "y")]
    assert export_inference(page, tmp_path / "served", weights=str(tmp_path / "w")) == []
    served = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    np.testing.assert_allclose(served(x=tf.constant(x_batch))["y"].numpy(), y_page, rtol=1e-5, atol=1e-5)
    assert inference_python(page, tmp_path / "infer.py", weights=str(tmp_path / "w")) == []
    np.save(tmp_path / "x.npy", x_batch)
    subprocess.run([sys.executable, str(tmp_path / "infer.py"), str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")],
                   check=True, capture_output=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), y_page, rtol=1e-5, atol=1e-5)


def test_a_value_edited_between_runs_is_what_the_kept_graphs_passes_read(folder):
    """The passes' session callables are made once per graph and fed each run's values: the inputs scaled by a
    Const (fed, as pin values are), then the Const edited (the same graph, kept): each run's figures are numpy's
    on its final weights with its own scale, train and test, and the second run makes no new callable."""
    page = load(str(classifier_page(folder, epochs=1, name="scaled.json")))
    page.set_pin("train", "learning_rate", 0.0)  # the weights stay as initialised: the train mean is numpy's too
    page.remove_link(Link("data", "x", "d1", "x"))
    page.add_block(BlockInstance("scale", "Const", (0, 0), {"val": 2.0, "dtype": "float32"}))
    page.add_block(BlockInstance("mul", "Mul", (0, 0)))
    for ln in [("data", "x", "mul", "x"), ("scale", "output", "mul", "y"), ("mul", "z", "d1", "x")]:
        page.add_link(Link(*ln))
    x, y = _examples()
    runner = Runner()
    try:
        made = None
        for scale in (2.0, 3.0):
            page.set_pin("scale", "val", scale)
            report = runner.run(page, save_weights=str(folder / "scaled"))
            assert not report.errors, report.errors
            assert [k for k in runner._prepared.built.slots if k.block == "scale"], "the Const is fed"
            w = _checkpoint(folder / "scaled")
            for phase, rows in (("train", slice(None, N_TRAIN)), ("test", slice(N_TRAIN, None))):
                logits = _forward(w, scale * x[rows])
                figures = report.epochs[0][phase]
                assert figures["loss.loss"] == pytest.approx(_xent(logits, y[rows]), abs=1e-5), (scale, phase)
                assert figures["acc.accuracy"] == pytest.approx(float((logits.argmax(1) == y[rows]).mean()))
            made = made or dict(runner._prepared.callables)
        assert runner._prepared.callables.keys() == made.keys()
    finally:
        runner.close()


def test_run_epochs_of_a_page_whose_build_failed_prints_its_errors_only(folder, capsys):
    """No epoch line, no results table, no count: the errors (the data file's, the epochs pin's) and exit 1."""
    page = load(str(classifier_page(folder, epochs=3, name="broken.json")))
    page.set_pin("data", "file", "missing.npz")
    save(page, folder / "broken.json")
    for args in ([], ["--epochs", "2"]):
        assert cli.main(["run", str(folder / "broken.json"), *args]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert "missing.npz" in err and "port 'epochs'" in err and "not trained" in err
    # --json says the same way that the run was one in epochs (asked by the pin or the flag): none trained
    for args in ([], ["--epochs", "2"]):
        assert cli.main(["run", str(folder / "broken.json"), "--json", *args]) == 1
        doc = json.loads(capsys.readouterr().out)
        assert doc["epochs"] == [] and doc["steps"] == 0 and not doc["ok"]
