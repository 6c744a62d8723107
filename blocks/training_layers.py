"""The helper blocks of the standard layer composites ``layers.Conv2D``, ``layers.MaxPool2D``, ``layers.Flatten``,
``layers.Dropout`` and ``layers.BatchNorm`` (TRAIN_DESIGN section 1), each building a few raw TensorFlow ops with
Keras-style pins: ``Conv2DOp`` (Conv2D), ``MaxPool2DOp`` (MaxPool), ``FlattenOp`` (Reshape), ``DropoutOp``
(RandomUniform, GreaterEqual, Mul, Select) and ``BatchNormOp`` (moments, the moving statistics' update, the
normalisation); ``TrainingFlag`` gives the page's training flag (``PageScope.training``) that Dropout and BatchNorm
read: True while training, False while evaluating.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from enuflow.blocks.base import Attr, Block, BuildFailure, Port, register
from enuflow.blocks.tf import attr_value, load
from enuflow.blocks.training import CATEGORY, _attr

PADDINGS = ("valid", "same")


def _pair(scope: Any, pin: str, default: list[int]) -> list[int]:
    """A Keras-style size pin (``[n]`` or ``[h, w]``, positive) as two ints; raises BuildFailure naming the pin."""
    value = _attr(scope, pin, default)
    sizes = [value] if isinstance(value, int) else list(value)
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise BuildFailure(f"{pin} must be one or two positive sizes, got {value}", pin)
    return [int(s) for s in sizes]


def _padding(scope: Any) -> bytes:
    """The padding pin as TensorFlow spells it (one of PADDINGS: the page check says so)."""
    return str(_attr(scope, "padding", "valid")).upper().encode()


def _image(x: Any, what: str) -> None:
    """x must be a 4-D batch of images (channels last)."""
    if x.shape.rank is not None and x.shape.rank != 4:
        hint = " (grey images need a channel axis: save x as [n, height, width, 1])" if x.shape.rank == 3 else ""
        raise BuildFailure(f"{what} takes x of rank 4 [batch, height, width, channels], got shape "
                           f"{x.shape.as_list()}{hint}", "x")


def _type(x: Any) -> Any:
    return attr_value(x.dtype.base_dtype.name, "type")


@register
class Conv2DOp(Block):
    """A 2-D convolution, channels last, as ``tf.keras.layers.Conv2D`` convolves: x [batch, height, width, in]
    with kernel [kh, kw, in, filters]; ``strides`` [sh, sw] (or [s]); ``padding`` valid (no padding) or same
    (output size = ceil(input / stride)). One raw Conv2D op."""

    name = "Conv2DOp"
    category = CATEGORY
    inputs = (Port("x", doc="images [batch, height, width, in]"),
              Port("kernel", doc="the kernel [kh, kw, in, filters]"))
    outputs = (Port("y", doc="the convolution [batch, height', width', filters]"),)
    attrs = (
        Attr("strides", "list(int)", default=[1, 1], has_default=True, doc="the steps [sh, sw] (or [s])"),
        Attr("padding", "string", default="valid", has_default=True, allowed=PADDINGS, doc="valid or same"),
    )

    def build(self, scope: Any, x: Any, kernel: Any) -> dict[str, Any]:
        _image(x, "Conv2D")
        sh, sw = _pair(scope, "strides", [1, 1])
        attrs = {"T": _type(x), "strides": attr_value([1, sh, sw, 1], "list(int)"),
                 "padding": attr_value(_padding(scope), "string"), "data_format": attr_value(b"NHWC", "string")}
        return {"y": scope.create_op("Conv2D", [x, kernel], attrs).outputs[0]}


@register
class MaxPool2DOp(Block):
    """A 2-D max pooling, channels last, as ``tf.keras.layers.MaxPooling2D`` pools: the maximum of each
    ``pool_size`` window, moved by ``strides`` (empty: the pool size); ``padding`` valid or same. One raw
    MaxPool op."""

    name = "MaxPool2DOp"
    category = CATEGORY
    inputs = (Port("x", doc="images [batch, height, width, channels]"),)
    outputs = (Port("y", doc="the pooled images"),)
    attrs = (
        Attr("pool_size", "list(int)", default=[2, 2], has_default=True, doc="the window [ph, pw] (or [p])"),
        Attr("strides", "list(int)", default=[], has_default=True, doc="the steps [sh, sw]; empty: pool_size"),
        Attr("padding", "string", default="valid", has_default=True, allowed=PADDINGS, doc="valid or same"),
    )

    def build(self, scope: Any, x: Any) -> dict[str, Any]:
        _image(x, "MaxPool2D")
        ph, pw = _pair(scope, "pool_size", [2, 2])
        sh, sw = _pair(scope, "strides", [ph, pw]) if _attr(scope, "strides", []) else (ph, pw)
        attrs = {"T": _type(x), "ksize": attr_value([1, ph, pw, 1], "list(int)"),
                 "strides": attr_value([1, sh, sw, 1], "list(int)"),
                 "padding": attr_value(_padding(scope), "string"), "data_format": attr_value(b"NHWC", "string")}
        return {"y": scope.create_op("MaxPool", [x], attrs).outputs[0]}


@register
class FlattenOp(Block):
    """Flattens each example, as ``tf.keras.layers.Flatten``: x [batch, d1, d2, ...] -> [batch, d1 * d2 * ...]
    (a Reshape to [-1, d1 * d2 * ...] from the static dimensions; to [batch, -1] when one is unknown)."""

    name = "FlattenOp"
    category = CATEGORY
    inputs = (Port("x", doc="a batch [batch, ...]"),)
    outputs = (Port("y", doc="the batch as rows [batch, features]"),)

    def build(self, scope: Any, x: Any) -> dict[str, Any]:
        tf = load()
        if x.shape.rank is None:
            raise BuildFailure("Flatten needs x's rank known (a batch [batch, ...])", "x")
        if x.shape.rank == 0:
            raise BuildFailure("Flatten takes a batch [batch, ...]; x is a scalar", "x")
        dims = x.shape.as_list()[1:]
        with tf.compat.v1.name_scope(scope.name + "/"):
            if all(d is not None for d in dims):
                shape = tf.constant([-1, math.prod(dims)], tf.int32, name="shape")
            else:
                shape = tf.stack([tf.shape(x, out_type=tf.int32)[0], -1], name="shape")
        op = scope.create_op("Reshape", [x, shape], {"T": _type(x), "Tshape": attr_value("int32", "type")})
        return {"y": op.outputs[0]}


@register
class TrainingFlag(Block):
    """The page's training flag: True while training (plain steps of a page with a Minimize, the epoch runner's
    training batches), False while evaluating (the epoch runner's test passes; a page without a Minimize).
    Dropout and BatchNorm read it; one flag per page, a placeholder with a default that the epoch runner feeds."""

    name = "TrainingFlag"
    category = CATEGORY
    outputs = (Port("training", dtype="bool", doc="True while training"),)

    def build(self, scope: Any) -> dict[str, Any]:
        return {"training": scope.page.training()}


def _salt(scope: Any) -> int:
    return zlib.crc32(scope.block_id.encode()) & 0x7FFFFFFF or 1


@register
class DropoutOp(Block):
    """Dropout as ``tf.keras.layers.Dropout`` does it: while training, each element is zero with probability
    ``rate`` and x / (1 - rate) otherwise (a new random mask at each step, from ``seed`` and the block's path);
    while evaluating, x unchanged."""

    name = "DropoutOp"
    category = CATEGORY
    inputs = (Port("x", doc="the tensor"), Port("training", dtype="bool", doc="the training flag"))
    outputs = (Port("y", doc="x with dropped elements while training; x while evaluating"),)
    attrs = (
        Attr("rate", "float", default=0.5, has_default=True, doc="the fraction dropped, 0 <= rate < 1"),
        Attr("seed", "int", default=0, has_default=True, doc="the random masks' seed"),
    )

    def build(self, scope: Any, x: Any, training: Any) -> dict[str, Any]:
        tf = load()
        rate = float(_attr(scope, "rate", 0.5))
        if not 0.0 <= rate < 1.0:
            raise BuildFailure(f"rate must be at least 0 and below 1, got {rate}", "rate")
        if rate == 0.0:
            return {"y": scope.create_op("Identity", [x], {"T": _type(x)}).outputs[0]}
        dtype = x.dtype.base_dtype
        with tf.compat.v1.name_scope(scope.name + "/"):
            shape = tf.shape(x, name="shape")
            random = tf.raw_ops.RandomUniform(shape=shape, dtype=dtype, seed=int(_attr(scope, "seed", 0)),
                                              seed2=_salt(scope), name="random")
            keep = tf.cast(random >= tf.constant(rate, dtype), dtype, name="keep")
            dropped = tf.multiply(x * tf.constant(1.0 / (1.0 - rate), dtype), keep, name="dropped")
        return {"y": scope.create_op("SelectV2", [training, dropped, x], {"T": _type(x)}).outputs[0]}


@register
class BatchNormOp(Block):
    """Batch normalisation as ``tf.keras.layers.BatchNormalization`` (axis -1): y = (x - mean) / sqrt(variance +
    epsilon) * gamma + beta. While training, mean and variance are the batch's, over every axis but the last, and
    each step that computes y first updates the moving statistics as Keras does (moving = moving * momentum +
    batch * (1 - momentum)); while evaluating, the moving statistics are used and never changed."""

    name = "BatchNormOp"
    category = CATEGORY
    inputs = (Port("x", doc="the batch [batch, ..., features]"), Port("gamma", doc="the scale [features]"),
              Port("beta", doc="the offset [features]"),
              Port("moving_mean", kind="resource", doc="the moving mean's Variable"),
              Port("moving_variance", kind="resource", doc="the moving variance's Variable"),
              Port("training", dtype="bool", doc="the training flag"))
    outputs = (Port("y", doc="the normalised batch"),)
    attrs = (
        Attr("momentum", "float", default=0.99, has_default=True, doc="the moving statistics' momentum"),
        Attr("epsilon", "float", default=1e-3, has_default=True, doc="added to the variance"),
    )

    def build(self, scope: Any, x: Any, gamma: Any, beta: Any, moving_mean: Any, moving_variance: Any,
              training: Any) -> dict[str, Any]:
        tf = load()
        if x.shape.rank is None or x.shape.rank < 2:
            raise BuildFailure("BatchNorm takes a batch [batch, ..., features] of rank 2 or more", "x")
        momentum, epsilon = float(_attr(scope, "momentum", 0.99)), float(_attr(scope, "epsilon", 1e-3))
        if not 0.0 <= momentum <= 1.0:
            raise BuildFailure(f"momentum must be between 0 and 1, got {momentum}", "momentum")
        if not 0.0 < epsilon < math.inf:  # the variance of a constant feature is 0: y would be NaN or infinite
            raise BuildFailure(f"epsilon must be a number above 0, got {epsilon}", "epsilon")
        dtype = x.dtype.base_dtype
        with tf.compat.v1.name_scope(scope.name + "/"):
            mean, variance = tf.nn.moments(x, list(range(x.shape.rank - 1)), name="moments")
            old_mean = tf.raw_ops.ReadVariableOp(resource=moving_mean, dtype=dtype, name="old_mean")
            old_variance = tf.raw_ops.ReadVariableOp(resource=moving_variance, dtype=dtype, name="old_variance")

            def update() -> Any:  # Keras's formula; only in the training branch, so never while evaluating
                ops = [tf.raw_ops.AssignVariableOp(resource=handle, value=old * momentum + new * (1.0 - momentum))
                       for handle, old, new in ((moving_mean, old_mean, mean),
                                                (moving_variance, old_variance, variance))]
                with tf.control_dependencies(ops):
                    return tf.constant(True)

            updated = tf.cond(training, update, lambda: tf.constant(False), name="update")
            with tf.control_dependencies([updated]):  # y's every training step runs the update
                use_mean = tf.raw_ops.SelectV2(condition=training, t=mean, e=old_mean, name="mean")
                use_variance = tf.raw_ops.SelectV2(condition=training, t=variance, e=old_variance, name="variance")
            y = tf.nn.batch_normalization(x, use_mean, use_variance, beta, gamma, epsilon, name="normalize")
        return {"y": scope.create_op("Identity", [y], {"T": _type(x)}).outputs[0]}
