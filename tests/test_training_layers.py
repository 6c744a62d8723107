"""The standard layer composites of issue 24 against Keras: ``layers.Conv2D``, ``layers.MaxPool2D``,
``layers.Flatten``, ``layers.Dropout`` and ``layers.BatchNorm`` forward for the same weights (training and
evaluating), BatchNorm's moving statistics after training steps, one adam step through Conv2D and BatchNorm, and a
small CNN page trained by plain steps with ``enuflow run``."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from enuflow.app.document.composite_files import library
from enuflow.app.document.formats import save
from enuflow.app.document.page import BlockInstance, Link, Page
from enuflow.app.engine.builder import build
from enuflow.app.engine.runner import run_page
from tests.test_training_blocks import _const, _place, keras, tf  # noqa: F401 - the fixtures, shared

RNG = np.random.default_rng(24)
IMAGES = RNG.normal(size=(3, 7, 6, 2)).astype(np.float32)


def layer_page(name: str, x: np.ndarray, **pins) -> Page:
    """A Const x wired into one layer composite, ``layer``, with ``pins``."""
    page = Page("p")
    _const(page, "x", x)
    _place(page, name, "layer", **pins)
    page.add_link(Link("x", "output", "layer", "x"))
    return page


def _feeds(built, training: bool | None = None) -> dict:
    """The feeds of a built page's own session run: its Consts' values (placeholders), and the training flag."""
    feeds = {s.placeholder: v for s, v in zip(built.slots, built.feed_values())}
    if training is not None:
        feeds[built.training] = training
    return feeds


def _run(page: Page):
    report = run_page(page)
    assert not report.errors, report.errors
    return report.results.values


CONTRACT = {"layers.Conv2D": ["filters", "kernel_size", "strides", "padding", "activation", "use_bias", "initializer",
                              "seed"],
            "layers.MaxPool2D": ["pool_size", "strides", "padding"], "layers.Flatten": [],
            "layers.Dropout": ["rate", "seed"], "layers.BatchNorm": ["momentum", "epsilon"]}


def test_the_layer_composites_have_the_contracts_ports_and_pins():
    for name, pins in CONTRACT.items():
        composite = library().composites[name]
        assert [i.name for i in composite.inputs] == ["x"] and [o.name for o in composite.outputs] == ["y"]
        assert [p.name for p in composite.pins] == pins, name
        assert composite.doc and "tf.keras.layers." in composite.doc


CONV_CASES = [({"filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "activation": "none"}),
              ({"filters": 3, "kernel_size": [3, 2], "strides": [2, 1], "padding": "same", "activation": "relu"}),
              ({"filters": 2, "kernel_size": [2], "strides": [2], "padding": "valid", "activation": "sigmoid"}),
              ({"filters": 5, "kernel_size": [5, 5], "strides": [3, 2], "padding": "same", "activation": "tanh"})]


@pytest.mark.parametrize("pins", CONV_CASES)
def test_conv2d_computes_what_keras_conv2d_computes_for_its_weights(keras, pins):
    values = _run(layer_page("layers.Conv2D", IMAGES, seed=3, **pins))
    kernel, bias = values[("layer/kernel", "value")], values[("layer/bias", "value")]
    kh, kw = (pins["kernel_size"] * 2)[:2]
    assert kernel.shape == (kh, kw, 2, pins["filters"]) and bias.shape == (pins["filters"],) and not bias.any()
    limit = math.sqrt(6 / (kh * kw * (2 + pins["filters"])))  # glorot_uniform's bound for a conv kernel
    assert limit / 4 < np.abs(kernel).max() <= limit
    layer = keras.layers.Conv2D(pins["filters"], (kh, kw), strides=tuple((pins["strides"] * 2)[:2]),
                                padding=pins["padding"],
                                activation=None if pins["activation"] == "none" else pins["activation"])
    layer.build((None, 7, 6, 2))
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(values[("layer", "y")], np.asarray(layer(IMAGES)), rtol=1e-5, atol=1e-5)


def test_conv2d_with_a_bias_and_without_one(tf, keras):
    page = layer_page("layers.Conv2D", IMAGES, filters=3, kernel_size=[2, 2], padding="same")
    built = build(page)
    bias = RNG.normal(size=3).astype(np.float32)
    with tf.compat.v1.Session(graph=built.graph) as sess:
        sess.run(built.init_ops, feed_dict=built.init_feeds)
        with built.graph.as_default():
            sess.run(tf.raw_ops.AssignVariableOp(resource=built.tensors[("layer/bias", "variable")], value=bias))
        y, kernel = sess.run([built.tensors[("layer", "y")], built.tensors[("layer/kernel", "value")]], _feeds(built))
    layer = keras.layers.Conv2D(3, 2, padding="same")
    layer.build((None, 7, 6, 2))
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(y, np.asarray(layer(IMAGES)), rtol=1e-5, atol=1e-5)
    values = _run(layer_page("layers.Conv2D", IMAGES, filters=3, kernel_size=[2, 2], use_bias=False))
    layer = keras.layers.Conv2D(3, 2, use_bias=False)
    layer.build((None, 7, 6, 2))
    layer.set_weights([values[("layer/kernel", "value")]])
    np.testing.assert_allclose(values[("layer", "y")], np.asarray(layer(IMAGES)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pins,keras_args", [({}, {}), ({"pool_size": [3, 3], "strides": [2, 2], "padding": "same"},
                                                       {"pool_size": 3, "strides": 2, "padding": "same"}),
                                            ({"pool_size": [2, 3], "strides": [1], "padding": "valid"},
                                             {"pool_size": (2, 3), "strides": 1})])
def test_maxpool2d_computes_what_keras_maxpooling2d_computes(keras, pins, keras_args):
    values = _run(layer_page("layers.MaxPool2D", IMAGES, **pins))
    expected = np.asarray(keras.layers.MaxPooling2D(**keras_args)(IMAGES))
    assert values[("layer", "y")].shape == expected.shape
    np.testing.assert_allclose(values[("layer", "y")], expected, rtol=1e-6)


def test_flatten_computes_what_keras_flatten_computes(keras):
    values = _run(layer_page("layers.Flatten", IMAGES))
    assert values[("layer", "y")].shape == (3, 7 * 6 * 2)
    np.testing.assert_array_equal(values[("layer", "y")], np.asarray(keras.layers.Flatten()(IMAGES)))


def test_a_bad_pin_is_an_error_naming_the_inner_block_and_pin():
    report = run_page(layer_page("layers.Conv2D", IMAGES, strides=[1, 2, 3]))
    assert [(e.block, e.port) for e in report.errors] == [("layer/conv", "strides")]
    report = run_page(layer_page("layers.Dropout", IMAGES, rate=1.0))
    assert [(e.block, e.port) for e in report.errors] == [("layer/dropout", "rate")]
    report = run_page(layer_page("layers.MaxPool2D", IMAGES[0]))
    assert [(e.block, e.port) for e in report.errors] == [("layer/pool", "x")]


def test_dropout_is_the_identity_while_evaluating_and_drops_while_training(tf):
    x = RNG.uniform(1.0, 2.0, size=(100, 100)).astype(np.float32)
    values = _run(layer_page("layers.Dropout", x, rate=0.3))  # no Minimize: plain steps evaluate
    np.testing.assert_array_equal(values[("layer", "y")], x)
    built = build(layer_page("layers.Dropout", x, rate=0.3, seed=7))
    assert not built.errors, built.errors
    y = built.tensors[("layer", "y")]
    with tf.compat.v1.Session(graph=built.graph) as sess:
        first, second = (sess.run(y, _feeds(built, True)) for _ in range(2))
        evaluated = sess.run(y, _feeds(built, False))
    for got in (first, second):
        kept = got != 0
        np.testing.assert_allclose(got[kept], x[kept] / 0.7, rtol=1e-6)
        assert abs(kept.mean() - 0.7) < 0.02  # 10,000 elements: the kept fraction is 0.7 within 4.4 sigma
    assert not np.array_equal(first != 0, second != 0)  # a new mask at each step
    np.testing.assert_array_equal(evaluated, x)


def _assign(tf, sess, built, values: dict[str, np.ndarray]) -> None:
    with built.graph.as_default():
        sess.run([tf.raw_ops.AssignVariableOp(resource=built.tensors[(f"layer/{name}", "variable")], value=value)
                  for name, value in values.items()])


BN_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


@pytest.mark.parametrize("x,pins,keras_args", [
    (IMAGES, {}, {}),
    (RNG.normal(2.0, 3.0, size=(8, 5)).astype(np.float32), {"momentum": 0.9, "epsilon": 0.01},
     {"momentum": 0.9, "epsilon": 0.01})])
def test_batchnorm_trains_and_evaluates_as_keras_batchnormalization(tf, keras, x, pins, keras_args):
    n = x.shape[-1]
    weights = {"gamma": RNG.uniform(0.5, 2, n), "beta": RNG.normal(size=n), "moving_mean": RNG.normal(size=n),
               "moving_variance": RNG.uniform(0.5, 2, n)}
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    layer = keras.layers.BatchNormalization(**keras_args)
    layer.build((None,) + x.shape[1:])
    layer.set_weights([weights[k] for k in BN_NAMES])
    expected = [np.asarray(layer(x, training=False))]  # Keras's: evaluating, two training steps, evaluating
    for _ in range(2):
        expected += [np.asarray(layer(x, training=True)), [np.asarray(w) for w in layer.get_weights()[2:]]]
    expected.append(np.asarray(layer(x, training=False)))
    built = build(layer_page("layers.BatchNorm", x, **pins))
    assert not built.errors, built.errors
    y = built.tensors[("layer", "y")]
    with built.graph.as_default():
        moving = [tf.raw_ops.ReadVariableOp(resource=built.tensors[(f"layer/{k}", "variable")], dtype=tf.float32)
                  for k in BN_NAMES[2:]]
    with tf.compat.v1.Session(graph=built.graph) as sess:
        sess.run(built.init_ops)
        _assign(tf, sess, built, weights)
        got = [sess.run(y, _feeds(built, False))]
        assert all(np.array_equal(m, weights[k]) for m, k in zip(sess.run(moving), BN_NAMES[2:]))  # left alone
        for _ in range(2):  # each training step computes y with the batch's statistics and updates the moving
            got += [sess.run(y, _feeds(built, True)), sess.run(moving)]
        got.append(sess.run(y, _feeds(built, False)))
    for i in (0, 1, 3, 5):
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-5, atol=1e-5)
    for i in (2, 4):
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[4][0], weights["moving_mean"]) and not np.allclose(got[5], got[0])


LABELS = np.array([0, 2, 1], dtype=np.int64)


def cnn_step_page(steps: int) -> Page:
    """IMAGES -> Conv2D(3, relu) -> BatchNorm -> MaxPool2D -> Flatten -> Dense(3) -> loss, Minimize(adam)."""
    page = Page("p")
    _const(page, "x", IMAGES)
    _const(page, "labels", LABELS)
    _place(page, "layers.Conv2D", "conv", filters=3, kernel_size=[3, 3], padding="same", activation="relu")
    _place(page, "layers.BatchNorm", "bn")
    _place(page, "layers.MaxPool2D", "pool")
    _place(page, "layers.Flatten", "flat")
    _place(page, "layers.Dense", "dense", units=3, seed=1)
    _place(page, "losses.SoftmaxCrossEntropy", "loss")
    _place(page, "train.Minimize", "train", optimizer="adam", learning_rate=0.01)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"steps": steps}))
    for link in (("x", "output", "conv", "x"), ("conv", "y", "bn", "x"), ("bn", "y", "pool", "x"),
                 ("pool", "y", "flat", "x"), ("flat", "y", "dense", "x"), ("dense", "y", "loss", "logits"),
                 ("labels", "output", "loss", "labels"), ("loss", "loss", "train", "loss"),
                 ("loss", "loss", "session", "fetch_outputs"), ("train", "step", "session", "run_outputs")):
        page.add_link(Link(*link))
    return page


CNN_WEIGHTS = [("conv", "kernel"), ("conv", "bias"), ("bn", "gamma"), ("bn", "beta"), ("dense", "kernel"),
               ("dense", "bias")]


def test_one_adam_step_through_conv2d_and_batchnorm_as_keras_steps(tf, keras):
    first = _run(cnn_step_page(1))  # the initial weights (read by the step, before its update)
    after = _run(cnn_step_page(2))  # the weights the second step reads: after one update
    initial = {k: first[(f"{a}/{b}", "value")] for k in CNN_WEIGHTS for a, b in [k]}
    model = keras.Sequential([keras.Input((7, 6, 2)), keras.layers.Conv2D(3, 3, padding="same", activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.MaxPooling2D(),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    conv, bn, _, _, dense = model.layers
    conv.set_weights([initial[("conv", "kernel")], initial[("conv", "bias")]])
    bn.set_weights([initial[("bn", "gamma")], initial[("bn", "beta")], np.zeros(3, np.float32),
                    np.ones(3, np.float32)])
    dense.set_weights([initial[("dense", "kernel")], initial[("dense", "bias")]])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(LABELS, model(IMAGES, training=True))
    assert first[("loss", "loss")] == pytest.approx(float(loss), rel=1e-5)
    variables = [conv.kernel, conv.bias, bn.gamma, bn.beta, dense.kernel, dense.bias]
    keras.optimizers.Adam(learning_rate=0.01).apply_gradients(zip(tape.gradient(loss, variables), variables))
    for (block, weight), theirs in zip(CNN_WEIGHTS, variables):
        mine = after[(f"{block}/{weight}", "value")]
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-5, atol=1e-5, err_msg=f"{block}/{weight}")
        assert not np.allclose(mine, initial[(block, weight)])


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    """A folder with bars.npz: 240 images 8x8x1 of a noisy bright bar, label 0 when horizontal, 1 when vertical."""
    folder = tmp_path_factory.mktemp("bars")
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.3, size=(240, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 2, size=240)
    at = rng.integers(0, 8, size=240)
    for i in range(240):
        if y[i]:
            x[i, :, at[i], 0] += 1.0
        else:
            x[i, at[i], :, 0] += 1.0
    np.savez(folder / "bars.npz", x=x, y=y.astype(np.int64))
    return folder


def cnn_page(steps: int) -> Page:
    """data.Dataset (bars.npz) -> Conv2D -> BatchNorm -> MaxPool2D -> Dropout -> Flatten -> Dense(2) -> loss,
    Minimize (adam), Accuracy."""
    page = Page("bars")
    _place(page, "data.Dataset", "data", file="bars.npz", batch_size=32)
    _place(page, "layers.Conv2D", "conv", filters=4, kernel_size=[3, 3], activation="relu")
    _place(page, "layers.BatchNorm", "bn")
    _place(page, "layers.MaxPool2D", "pool")
    _place(page, "layers.Dropout", "drop", rate=0.2)
    _place(page, "layers.Flatten", "flat")
    _place(page, "layers.Dense", "dense", units=2)
    _place(page, "losses.SoftmaxCrossEntropy", "loss")
    _place(page, "metrics.Accuracy", "acc")
    _place(page, "train.Minimize", "train", optimizer="adam", learning_rate=0.02)
    page.add_block(BlockInstance("session", "ClientSession", (0, 0), {"steps": steps}))
    for link in (("data", "x", "conv", "x"), ("conv", "y", "bn", "x"), ("bn", "y", "pool", "x"),
                 ("pool", "y", "drop", "x"), ("drop", "y", "flat", "x"), ("flat", "y", "dense", "x"),
                 ("dense", "y", "loss", "logits"), ("data", "y", "loss", "labels"), ("dense", "y", "acc", "logits"),
                 ("data", "y", "acc", "labels"), ("loss", "loss", "train", "loss"),
                 ("loss", "loss", "session", "fetch_outputs"), ("acc", "accuracy", "session", "fetch_outputs"),
                 ("train", "step", "session", "run_outputs")):
        page.add_link(Link(*link))
    return page


def test_a_small_cnn_page_trains_by_plain_steps_with_enuflow_run(bars):
    losses = {}
    for steps in (1, 80):
        save(cnn_page(steps), bars / f"cnn_{steps}.json")
        out = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", str(bars / f"cnn_{steps}.json"),
                              "--json"], capture_output=True, text=True, timeout=300)
        doc = json.loads(out.stdout)
        assert doc["ok"], doc["errors"]
        losses[steps] = doc["results"]["loss"]["loss"]["value"]
        assert doc["results"]["flat"]["y"]["shape"] == [32, 3 * 3 * 4]
    assert losses[80] < losses[1] / 3, losses
    assert doc["results"]["acc"]["accuracy"]["value"] >= 0.9
