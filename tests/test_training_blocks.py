"""The standard training composites (issue 24) against Keras and numpy: ``layers.Dense`` forward for the same weights,
one (and two) optimizer steps of ``train.Minimize`` for each optimizer, the losses and the accuracy; a page of a
``data.Dataset`` (a tiny .npz) trained by plain steps with ``enuflow run``; the builder's training records; and the
data file rules (a missing file names block, pin and path; a file outside the page's folder needs --allow-io)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from enuflow.app.document.composite_files import library, place
from enuflow.app.document.formats import load, save
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.builder import build
from enuflow.app.engine.runner import run_page

RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = np.array([0, 2, 1, 2, 0, 1], dtype=np.int64)


@pytest.fixture(scope="module")
def tf():
    from enuflow.blocks.tf import load as load_tf

    return load_tf()


@pytest.fixture(scope="module")
def keras(tf):
    return tf.keras


def _place(page: Page, name: str, bid: str, **pins) -> None:
    place(page, library().composites[name], (0, 0), block_id=bid)
    for pin, value in pins.items():
        page.set_pin(bid, pin, value)


def _const(page: Page, bid: str, value: np.ndarray) -> None:
    page.add_block(BlockInstance(bid, "Const", (0, 0), {"val": value.tolist(), "dtype": np.dtype(value.dtype).name}))


def _links(page: Page, *links: tuple[str, str, str, str]) -> None:
    for ln in links:
        page.add_link(Link(*ln))


def _weights(report, layer: str) -> list[np.ndarray]:
    values = report.results.values
    return [values[(f"{layer}/kernel", "value")], values[(f"{layer}/bias", "value")]]


def dense_page(activation: str = "none", use_bias: bool = True, seed: int = 0) -> Page:
    page = Page("p")
    _const(page, "x", X)
    _place(page, "layers.Dense", "d1", units=3, activation=activation, use_bias=use_bias, seed=seed)
    _links(page, ("x", "output", "d1", "x"))
    return page


@pytest.mark.parametrize("activation,use_bias", [("none", True), ("relu", True), ("sigmoid", False),
                                                 ("tanh", True), ("softmax", True)])
def test_dense_computes_what_keras_dense_computes_for_its_weights(keras, activation, use_bias):
    report = run_page(dense_page(activation, use_bias))
    assert not report.errors, report.errors
    kernel, bias = _weights(report, "d1")
    limit = math.sqrt(6 / (4 + 3))  # glorot_uniform's bound
    assert kernel.shape == (4, 3) and np.abs(kernel).max() <= limit and np.abs(kernel).max() > limit / 4
    assert bias.shape == (3,) and not bias.any()
    layer = keras.layers.Dense(3, activation=None if activation == "none" else activation, use_bias=use_bias)
    layer.build((None, 4))
    layer.set_weights([kernel, bias] if use_bias else [kernel])
    np.testing.assert_allclose(report.results.values[("d1", "y")], np.asarray(layer(X)), rtol=1e-5, atol=1e-6)


def test_a_seed_gives_the_same_weights_in_every_run_and_another_seed_others():
    first, again = (_weights(run_page(dense_page(seed=5)), "d1")[0] for _ in range(2))
    other = _weights(run_page(dense_page(seed=6)), "d1")[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def minimize_page(optimizer: str, lr: float, steps: int) -> Page:
    """x -> Dense(3) -> SoftmaxCrossEntropy -> Minimize; the session fetches the weights (read before the step's
    update, so ``steps`` runs show the weights after ``steps - 1`` updates)."""
    page = dense_page()
    _const(page, "labels", LABELS)
    _place(page, "losses.SoftmaxCrossEntropy", "loss")
    _place(page, "train.Minimize", "train", optimizer=optimizer, learning_rate=lr)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"steps": steps}))
    _links(page, ("d1", "y", "loss", "logits"), ("labels", "output", "loss", "labels"),
           ("loss", "loss", "train", "loss"),
           ("loss", "loss", "session", "fetch_outputs"), ("train", "step", "session", "run_outputs"))
    return page


def _inner_weights(optimizer: str, lr: float, steps: int) -> list[np.ndarray]:
    """The Dense layer's weights after ``steps`` updates (a run of steps + 1 reads them at its last step)."""
    report = run_page(minimize_page(optimizer, lr, steps + 1))  # the loss's fetch shows the weights it reads
    assert not report.errors, report.errors
    return _weights(report, "d1")


KERAS_OPTIMIZERS = {"sgd": lambda k, lr: k.optimizers.SGD(learning_rate=lr),
                    "momentum": lambda k, lr: k.optimizers.SGD(learning_rate=lr, momentum=0.9),
                    "adam": lambda k, lr: k.optimizers.Adam(learning_rate=lr),
                    "rmsprop": lambda k, lr: k.optimizers.RMSprop(learning_rate=lr)}


@pytest.mark.parametrize("optimizer", sorted(KERAS_OPTIMIZERS))
def test_minimize_steps_as_keras_optimizers_step_on_the_same_weights_and_batch(tf, keras, optimizer):
    lr = 0.1
    initial = _inner_weights(optimizer, lr, 0)
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    layer.set_weights(initial)
    opt = KERAS_OPTIMIZERS[optimizer](keras, lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for steps in (1, 2):  # two steps: momentum's and adam's slots and adam's bias correction carry over
        with tf.GradientTape() as tape:
            loss = loss_fn(LABELS, layer(X))
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
        got = _inner_weights(optimizer, lr, steps)
        for mine, theirs in zip(got, layer.get_weights()):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got[0], initial[0])


def loss_page(name: str, inputs: dict[str, np.ndarray]) -> Page:
    page = Page("p")
    _place(page, name, "m")
    for port, value in inputs.items():
        _const(page, port, value)
        page.add_link(Link(port, "output", "m", port))
    return page


def test_losses_and_accuracy_compute_what_keras_and_numpy_compute(keras):
    logits = RNG.normal(size=(6, 3)).astype(np.float32)
    report = run_page(loss_page("losses.SoftmaxCrossEntropy", {"logits": logits, "labels": LABELS}))
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    np.testing.assert_allclose(report.results.values[("m", "loss")], np.asarray(expected), rtol=1e-5)
    target = RNG.normal(size=(6, 3)).astype(np.float32)
    report = run_page(loss_page("losses.MeanSquaredError", {"prediction": logits, "target": target}))
    np.testing.assert_allclose(report.results.values[("m", "loss")], np.mean((logits - target) ** 2), rtol=1e-5)
    np.testing.assert_allclose(report.results.values[("m", "loss")],
                               np.asarray(keras.losses.MeanSquaredError()(target, logits)), rtol=1e-5)
    report = run_page(loss_page("metrics.Accuracy", {"logits": logits, "labels": LABELS.astype(np.int32)}))
    hand = np.mean(np.argmax(logits, axis=1) == LABELS)
    assert report.results.values[("m", "accuracy")] == pytest.approx(hand)
    keras_acc = keras.metrics.SparseCategoricalAccuracy()
    keras_acc.update_state(LABELS, logits)
    assert report.results.values[("m", "accuracy")] == pytest.approx(float(keras_acc.result()))


def dataset_page(file: str, steps: int, optimizer: str = "adam") -> Page:
    """data.Dataset -> Dense(8, relu) -> Dense(2) -> SoftmaxCrossEntropy -> Minimize, with Accuracy."""
    page = Page("tiny")
    _place(page, "data.Dataset", "data", file=file, batch_size=20)
    _place(page, "layers.Dense", "d1", units=8, activation="relu")
    _place(page, "layers.Dense", "d2", units=2, seed=1)
    _place(page, "losses.SoftmaxCrossEntropy", "loss")
    _place(page, "metrics.Accuracy", "acc")
    _place(page, "train.Minimize", "train", optimizer=optimizer, learning_rate=0.05)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"steps": steps}))
    _links(page, ("data", "x", "d1", "x"), ("d1", "y", "d2", "x"), ("d2", "y", "loss", "logits"),
           ("data", "y", "loss", "labels"), ("d2", "y", "acc", "logits"), ("data", "y", "acc", "labels"),
           ("loss", "loss", "train", "loss"), ("loss", "loss", "session", "fetch_outputs"),
           ("acc", "accuracy", "session", "fetch_outputs"), ("train", "step", "session", "run_outputs"))
    return page


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A folder with tiny.npz: 200 points of 4 features, labelled by the sign of x0 + x1."""
    folder = tmp_path_factory.mktemp("tiny")
    x = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    np.savez(folder / "tiny.npz", x=x, y=(x[:, 0] + x[:, 1] > 0).astype(np.int64))
    return folder


def _enuflow_run(page_file, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(page_file), "--json", *args],
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout)


def test_a_dataset_page_trains_by_plain_steps_with_enuflow_run(tiny):
    losses = {}
    for steps in (1, 150):
        save(dataset_page("tiny.npz", steps), tiny / f"tiny_{steps}.json")
        doc = _enuflow_run(tiny / f"tiny_{steps}.json")
        assert doc["ok"], doc["errors"]
        losses[steps] = doc["results"]["loss"]["loss"]["value"]
        assert doc["results"]["data"]["x"]["shape"] == [20, 4]
    assert losses[1] > 0.4 and losses[150] < losses[1] / 4
    assert doc["results"]["acc"]["accuracy"]["value"] >= 0.9


def test_the_builder_records_what_the_epoch_runner_needs(tiny):
    page = dataset_page("tiny.npz", 1)
    page.folder = str(tiny)
    built = build(page)
    assert not built.errors, built.errors
    (ds,) = built.datasets
    assert (ds.block, ds.instance, ds.n_train, ds.n_test, ds.batch_size, ds.num_classes) == \
        ("data/source", "data", 160, 40, 20, 2)
    assert ds.repeat_init in built.init_ops and ds.train_init not in built.init_ops
    assert [b for b, _ in built.train_ops] == ["train/minimize"]
    names = [n for n, _ in built.variables]
    assert {"d1/kernel", "d1/bias", "d2/kernel", "d2/bias", "train/minimize/iterations"} <= set(names)
    assert "train/minimize/d1/kernel/m" in names and "train/minimize/d2/bias/v" in names
    assert built.training is None  # nothing on this page reads the flag
    assert sorted(a.shape for a in built.init_feeds.values()) == [(40,), (40, 4), (160,), (160, 4)]


def test_an_epoch_of_the_train_split_then_the_test_split_through_one_iterator(tf, tiny):
    page = dataset_page("tiny.npz", 1)
    page.folder = str(tiny)
    built = build(page)
    ds = built.datasets[0]
    x, y = built.tensors[("data/source", "x")], built.tensors[("data/source", "y")]
    with tf.compat.v1.Session(graph=built.graph) as sess:
        sess.run(built.init_ops, feed_dict=built.init_feeds)
        seen = []
        for init in (ds.train_init, ds.test_init, ds.train_init):
            sess.run(init)
            rows = []
            while True:
                try:
                    rows.append(sess.run([x, y]))
                except tf.errors.OutOfRangeError:
                    break
            seen.append(np.concatenate([r[0] for r in rows]))
    assert [len(s) for s in seen] == [160, 40, 160]
    data = np.load(tiny / "tiny.npz")["x"]
    everything = np.concatenate(seen[:2])
    assert sorted(map(tuple, everything)) == sorted(map(tuple, data))  # the two splits are the file, once each
    assert not np.array_equal(seen[0], seen[2])  # each epoch shuffles anew
    assert y.dtype == tf.int64 and x.dtype == tf.float32


def test_a_missing_data_file_is_an_error_naming_the_block_pin_and_path(tiny):
    save(dataset_page("missing.npz", 1), tiny / "missing.json")
    doc = _enuflow_run(tiny / "missing.json")
    assert not doc["ok"]
    errors = [e for e in doc["errors"] if e["block"] == "data/source"]
    assert errors and errors[0]["port"] == "file"
    assert str(tiny / "missing.npz") in errors[0]["message"]


def test_a_data_file_outside_the_page_folder_needs_allow_io(tiny, tmp_path):
    outside = tmp_path / "elsewhere.npz"
    x = np.ones((10, 4), np.float32)
    np.savez(outside, x=x, y=np.zeros(10, np.int64))
    save(dataset_page(str(outside), 1), tiny / "outside.json")
    doc = _enuflow_run(tiny / "outside.json")
    assert not doc["ok"]
    (error,) = [e for e in doc["errors"] if e["block"] == "data/source"]
    assert error["port"] == "file" and "--allow-io" in error["message"] and str(outside) in error["message"]
    doc = _enuflow_run(tiny / "outside.json", "--allow-io")
    assert doc["ok"], doc["errors"]
    loaded = load(tiny / "outside.json")
    assert loaded.folder == str(tiny)


def test_csv_and_idx_data_files_read_as_their_numbers(tmp_path):
    from enuflow.blocks.base import BuildFailure
    from enuflow.blocks.training import read_arrays

    (tmp_path / "d.csv").write_text("a,label,b\n1,0,2.5\n3,2,4\n", encoding="utf-8")
    x, y = read_arrays(tmp_path / "d.csv", "file")
    np.testing.assert_array_equal(x, np.array([[1, 2.5], [3, 4]], np.float32))
    assert y.dtype == np.int64 and y.tolist() == [0, 2]
    (tmp_path / "r.csv").write_text("a,target\n1,0.5\n", encoding="utf-8")  # no label column: the last, floats
    x, y = read_arrays(tmp_path / "r.csv", "file")
    assert x.tolist() == [[1.0]] and y.dtype == np.float32 and y.tolist() == [0.5]
    images = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2)
    (tmp_path / "t-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + b"".join(
        d.to_bytes(4, "big") for d in images.shape) + images.tobytes())
    (tmp_path / "t-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([7, 1]))
    x, y = read_arrays(tmp_path / "t-images-idx3-ubyte", "file")
    np.testing.assert_array_equal(x, images.astype(np.float32))
    assert y.tolist() == [7, 1] and y.dtype == np.int64
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n", encoding="utf-8")
    with pytest.raises(BuildFailure, match="bad.csv"):
        read_arrays(tmp_path / "bad.csv", "file")


def variable_page(optimizer: str, steps: int) -> Page:
    """A plain Variable w [4, 2]: mean squared error of x @ w against a target, minimised by ``optimizer``; the
    session fetches the loss (computed before the step's update)."""
    page = Page("p")
    _const(page, "x", X)
    _const(page, "target", TARGET)
    page.add_block(BlockInstance("w", "Variable", (0, 0), {"initvalues": W0.tolist(), "dtype": "float32"}))
    page.add_block(BlockInstance("mm", "MatMul", (0, 0), {}))
    _place(page, "losses.MeanSquaredError", "loss")
    _place(page, "train.Minimize", "train", optimizer=optimizer, learning_rate=0.1)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"steps": steps}))
    _links(page, ("x", "output", "mm", "a"), ("w", "ref", "mm", "b"), ("mm", "product", "loss", "prediction"),
           ("target", "output", "loss", "target"), ("loss", "loss", "train", "loss"),
           ("loss", "loss", "session", "fetch_outputs"), ("train", "step", "session", "run_outputs"))
    return page


W0 = RNG.normal(size=(4, 2)).astype(np.float32)
TARGET = RNG.normal(size=(6, 2)).astype(np.float32)


@pytest.mark.parametrize("optimizer", sorted(KERAS_OPTIMIZERS))
def test_minimize_trains_a_plain_variable_as_keras_does(tf, keras, optimizer):
    w = tf.Variable(W0)
    opt = KERAS_OPTIMIZERS[optimizer](keras, 0.1)
    expected = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(TARGET, tf.matmul(X, w))
        expected.append(float(loss))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
    for steps in (1, 3):  # the loss of the last step is computed with the weights of steps - 1 updates
        report = run_page(variable_page(optimizer, steps))
        assert not report.errors, report.errors
        assert report.results.values[("loss", "loss")] == pytest.approx(expected[steps - 1], rel=1e-5)
    assert expected[2] < expected[0]


def test_the_training_flag_defaults_to_training_on_a_page_with_minimize(tf):
    from enuflow.app.engine.builder import PageScope

    for page, default in ((variable_page("sgd", 1), True), (dense_page(), False)):
        built = build(page)
        scope = PageScope(built.graph, built)
        flag = scope.training()
        assert scope.training() is flag and built.training is flag
        assert flag.dtype == tf.bool and flag.shape.rank == 0
        with tf.compat.v1.Session(graph=built.graph) as sess:
            assert bool(sess.run(flag)) is default
            assert bool(sess.run(flag, {flag: not default})) is (not default)
