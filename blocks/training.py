"""The helper blocks of the standard training composites (``layers.Dense``, ``train.Minimize``, ``data.Dataset``, ...).

Each builds a few raw TensorFlow ops (TRAIN_DESIGN section 1): ``Weight`` a resource Variable initialised as Keras
initialises (in-graph stateless random from the seed, so a seed gives the same values in every run), ``Activation``
one activation op, ``Minimize`` TensorFlow's gradients of a loss for every trainable Variable it depends on and the
updates Keras 3's optimizers make, ``DatasetSource`` a ``tf.data`` pipeline with a train and a test split behind one
iterator. They record what the epoch runner needs in the ``BuiltGraph`` (``train_ops``, ``variables``,
``datasets``, ``init_feeds``).
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.blocks.base import Attr, Block, BuildFailure, Port, register
from enuflow.blocks.tf import attr_value, load, upstream_ops

CATEGORY = "training parts"
ROLES = ("dense_kernel", "conv2d_kernel", "vector")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "zeros", "ones", "random_normal",
                "random_uniform")
ACTIVATIONS = ("none", "relu", "sigmoid", "tanh", "softmax")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
#: Keras's factor that makes a truncated normal's standard deviation the one asked for
_TRUNCATED = 0.87962566103423978


def _attr(scope: Any, name: str, default: Any) -> Any:
    value = scope.attrs.get(name)
    return default if value is None else value


def non_negative_pin(scope: Any, name: str, default: float) -> float:
    """A finite number of at least 0; raises BuildFailure naming the pin."""
    value = _attr(scope, name, default)
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0.0:
        raise BuildFailure(f"{name} must be a number of at least 0, got {value!r}", name)
    return float(value)


def _weight_shape(role: str, x: Any, units: int, kernel_size: list[int]) -> list[int]:
    """The shape of a Weight of ``role`` for input ``x`` (its last dimension is the fan-in)."""
    last = None
    if x is not None:
        dims = x.shape.as_list() if x.shape.rank is not None else []
        last = dims[-1] if dims else None
        if len(dims) < 2 and role != "vector":
            raise BuildFailure(f"x has shape {dims if dims else 'unknown'}: a layer takes a batch [batch, ..., "
                               "features] of rank 2 or more (a data file's x of one number per example needs the "
                               "shape [n, 1])", "x")
        if last is None:
            raise BuildFailure("the last dimension of x is not known; the weight's shape needs it", "x")
    if role == "vector":
        return [last if last is not None else units]
    if last is None:
        raise BuildFailure(f"a {role} needs x wired (its last dimension is the fan-in)", "x")
    if role == "dense_kernel":
        if x is not None and x.shape.rank != 2:
            raise BuildFailure(f"x has shape {x.shape.as_list()}: a Dense layer takes a batch of rows [batch, "
                               "features] (put a layers.Flatten before it)", "x")
        return [last, units]
    if len(kernel_size) == 1:  # [k]: a square kernel, as Keras's kernel_size=k
        kernel_size = kernel_size * 2
    if len(kernel_size) != 2 or min(kernel_size) < 1:
        raise BuildFailure(f"kernel_size must be one or two positive sizes, got {list(kernel_size)}", "kernel_size")
    return [int(kernel_size[0]), int(kernel_size[1]), last, units]


def _fans(shape: list[int]) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them (``keras.initializers.compute_fans``)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def initial_value(tf: Any, name: str, shape: list[int], seed: list[int]) -> Any:
    """Keras's initialiser ``name`` for ``shape`` as in-graph stateless random ops seeded by ``seed`` (two ints)."""
    if name == "zeros":
        return tf.zeros(shape, tf.float32)
    if name == "ones":
        return tf.ones(shape, tf.float32)
    fan_in, fan_out = _fans(shape)
    if name == "random_normal":
        return tf.random.stateless_normal(shape, seed, stddev=0.05)
    if name == "random_uniform":
        return tf.random.stateless_uniform(shape, seed, minval=-0.05, maxval=0.05)
    scale, n = (2.0, fan_in) if name.startswith("he_") else (1.0, (fan_in + fan_out) / 2.0)
    if name.endswith("_uniform"):
        limit = math.sqrt(3.0 * scale / max(1.0, n))
        return tf.random.stateless_uniform(shape, seed, minval=-limit, maxval=limit)
    stddev = math.sqrt(scale / max(1.0, n)) / _TRUNCATED
    return tf.random.stateless_truncated_normal(shape, seed, stddev=stddev)


@register
class Weight(Block):
    """A layer's weight: a resource Variable initialised as Keras initialises it, read at every step.

    ``role`` gives its shape: ``dense_kernel`` [fan-in, units], ``conv2d_kernel`` [kh, kw, fan-in, units],
    ``vector`` [the last dimension of x, or units when x is not wired]; the fan-in is the last dimension of the
    tensor wired into ``x``. ``initializer`` is a Keras initialiser name; its random values come from ``seed`` (and
    the block's path), so a seed gives the same values in every run. ``enabled`` false gives zeros instead of a
    Variable (a layer's ``use_bias`` false). ``trainable`` false keeps it out of ``Minimize``.
    """

    name = "Weight"
    category = CATEGORY
    inputs = (Port("x", optional=True, doc="the tensor whose last dimension is the fan-in"),)
    outputs = (Port("value", dtype="float32", doc="the weight's value, read at each step"),
               Port("variable", kind="resource", doc="the Variable's resource handle"))
    attrs = (
        Attr("role", "string", default="dense_kernel", has_default=True, allowed=ROLES, doc="which weight: its shape"),
        Attr("units", "int", default=1, has_default=True, minimum=1, doc="output units (columns, filters)"),
        Attr("kernel_size", "list(int)", default=[3, 3], has_default=True, doc="a conv2d_kernel's [h, w] (or [k])"),
        Attr("initializer", "string", default="glorot_uniform", has_default=True, allowed=INITIALIZERS,
             doc="Keras initialiser"),
        Attr("seed", "int", default=0, has_default=True, doc="the random initialiser's seed"),
        Attr("trainable", "bool", default=True, has_default=True, doc="whether Minimize updates it"),
        Attr("enabled", "bool", default=True, has_default=True, doc="false: zeros, no Variable (use_bias false)"),
    )

    def build(self, scope: Any, x: Any = None) -> dict[str, Any]:
        tf = load()
        # a setting's allowed values and minimum are the page check's (``app.engine.pins.declared_range``)
        initializer = str(_attr(scope, "initializer", "glorot_uniform"))
        shape = _weight_shape(str(_attr(scope, "role", "dense_kernel")), x, int(_attr(scope, "units", 1)),
                              list(_attr(scope, "kernel_size", [3, 3])))
        with tf.compat.v1.name_scope(scope.name + "/"):
            if not _attr(scope, "enabled", True):
                return {"value": tf.zeros(shape, tf.float32, name="zeros")}
            salt = zlib.crc32(scope.block_id.encode()) & 0x7FFFFFFF  # two weights with one seed differ
            seed = [int(_attr(scope, "seed", 0)), salt]
            init = initial_value(tf, initializer, shape, seed)
            trainable = bool(_attr(scope, "trainable", True))
            var = tf.Variable(init, trainable=trainable, name="variable", dtype=tf.float32)
            value = tf.raw_ops.ReadVariableOp(resource=var.handle, dtype=tf.float32, name="read")
        scope.add_initializer(var.initializer)
        scope.page.add_variable(scope.block_id, var.handle, trainable=trainable)
        return {"value": value, "variable": var.handle}


_ACTIVATION_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax", "none": "Identity"}


@register
class Activation(Block):
    """An activation by name: ``relu``, ``sigmoid``, ``tanh``, ``softmax`` (over the last axis) or ``none``
    (Identity), one raw op each."""

    name = "Activation"
    category = CATEGORY
    inputs = (Port("x", doc="the tensor"),)
    outputs = (Port("y", doc="the activation of x"),)
    attrs = (Attr("activation", "string", default="none", has_default=True, allowed=ACTIVATIONS,
                  doc="none, relu, sigmoid, tanh or softmax"),)

    def build(self, scope: Any, x: Any) -> dict[str, Any]:
        op = scope.create_op(_ACTIVATION_OPS[str(_attr(scope, "activation", "none"))], [x], {"T": attr_value(x.dtype.base_dtype.name, "type")})
        return {"y": op.outputs[0]}


@register
class SameRank(Block):
    """A loss's prediction and target brought to the same rank as Keras's losses do
    (``squeeze_or_expand_to_same_rank``): when their ranks differ by one and the larger has a last dimension of
    1, a rank-1 tensor gains a last dimension of 1, else the other loses it, so [batch, 1] meets [batch]; the
    target is cast to the prediction's dtype (whole-number targets of a .csv meet a float prediction). Shapes
    that still do not meet (a [batch, 3] prediction for a [batch] target) are an error rather than a broadcast."""

    name = "SameRank"
    category = CATEGORY
    inputs = (Port("prediction", doc="the prediction"), Port("target", doc="what it should be"))
    outputs = (Port("prediction", doc="the prediction, of the target's rank"),
               Port("target", doc="the target, of the prediction's rank"))

    def build(self, scope: Any, prediction: Any, target: Any) -> dict[str, Any]:
        tf = load()
        p, t = prediction, target
        with tf.compat.v1.name_scope(scope.name + "/"):
            if t.dtype.base_dtype != p.dtype.base_dtype:  # Keras casts y_true to y_pred's dtype
                if not (t.dtype.is_floating or t.dtype.is_integer or t.dtype.is_bool):
                    raise BuildFailure(f"the target is {t.dtype.base_dtype.name}, not numbers", "target")
                t = tf.cast(t, p.dtype.base_dtype, name="target_cast")
            for _ in range(2):  # once each way, as Keras tries x1 against x2 and x2 against x1
                if p.shape.rank is not None and t.shape.rank is not None and p.shape.rank == t.shape.rank + 1 \
                        and p.shape[-1] == 1:
                    p, t = (p, tf.expand_dims(t, -1)) if t.shape.rank == 1 else (tf.squeeze(p, [-1]), t)
                p, t = t, p
        if p.shape.rank is not None and t.shape.rank is not None and (
                p.shape.rank != t.shape.rank or not p.shape.is_compatible_with(t.shape)):
            raise BuildFailure(f"the target {t.shape.as_list()} does not meet the prediction {p.shape.as_list()}: "
                               "they must have the same shape (a last dimension of 1 may be missing on one)", "target")
        return {"prediction": p, "target": t}


class _Target:
    """A trainable Variable as ``Minimize`` updates it: a resource handle (a Weight's) or a ref (a plain Variable's)."""

    def __init__(self, tf: Any, name: str, var: Any) -> None:
        self.tf, self.name, self.var = tf, name, var
        self.resource = var.dtype == tf.resource
        if self.resource:
            op = var.op
            self.dtype, self.shape = tf.as_dtype(op.get_attr("dtype")), tf.TensorShape(op.get_attr("shape"))
        else:
            self.dtype, self.shape = var.dtype.base_dtype, var.shape

    def read(self) -> Any:
        raw = self.tf.raw_ops
        if self.resource:
            return raw.ReadVariableOp(resource=self.var, dtype=self.dtype)
        return raw.Identity(input=self.var)

    def assign(self, value: Any) -> Any:
        raw = self.tf.raw_ops
        if self.resource:
            return raw.AssignVariableOp(resource=self.var, value=value)
        return raw.Assign(ref=self.var, value=value).op


def _trainables(page: Any, loss: Any) -> list[tuple[str, Any]]:
    """(name, handle or ref) of every trainable Variable that ``loss`` depends on, in the order they were made."""
    seen = upstream_ops([loss])
    return [v for key, v in page.trainable.items() if key in seen]


class _Updates:
    """The update ops of one optimizer (Keras 3's formulas) for one ``Minimize`` block."""

    def __init__(self, tf: Any, scope: Any, optimizer: str, lr: Any, iterations: Any) -> None:
        self.tf, self.scope, self.optimizer, self.lr = tf, scope, optimizer, lr
        self.iterations = iterations

    def slot(self, target: _Target, slot: str) -> Any:
        """A zero-initialised resource Variable beside ``target`` (a moment, a velocity), recorded by name."""
        tf = self.tf
        var = tf.Variable(tf.zeros(target.shape, target.dtype), trainable=False,
                          name=f"{target.name.replace('/', '_')}_{slot}")
        self.scope.add_initializer(var.initializer)
        self.scope.page.add_variable(f"{self.scope.block_id}/{target.name}/{slot}", var.handle)
        return var

    def apply(self, target: _Target, grad: Any) -> Any:
        return getattr(self, self.optimizer)(target, grad)

    def sgd(self, t: _Target, g: Any) -> Any:
        raw = self.tf.raw_ops
        if t.resource:
            return raw.ResourceApplyGradientDescent(var=t.var, alpha=self.lr, delta=g)
        return raw.ApplyGradientDescent(var=t.var, alpha=self.lr, delta=g).op

    def momentum(self, t: _Target, g: Any) -> Any:
        # keras.optimizers.SGD(momentum=0.9): m = 0.9 m - lr g; var += m
        m = self.slot(t, "momentum")
        if t.resource:
            return self.tf.raw_ops.ResourceApplyKerasMomentum(var=t.var, accum=m.handle, lr=self.lr, grad=g,
                                                              momentum=0.9, use_nesterov=False)
        new_m = 0.9 * m.value() - self.lr * g
        return self.tf.group(m.assign(new_m).op, t.assign(t.read() + new_m))

    def adam(self, t: _Target, g: Any) -> Any:
        # keras.optimizers.Adam(): beta_1 0.9, beta_2 0.999, epsilon 1e-7, bias correction by iterations + 1
        tf = self.tf
        m, v = self.slot(t, "m"), self.slot(t, "v")
        step = tf.cast(self.iterations.value() + 1, t.dtype)
        b1p, b2p = tf.pow(tf.constant(0.9, t.dtype), step), tf.pow(tf.constant(0.999, t.dtype), step)
        if t.resource:
            return tf.raw_ops.ResourceApplyAdam(var=t.var, m=m.handle, v=v.handle, beta1_power=b1p, beta2_power=b2p,
                                                lr=self.lr, beta1=0.9, beta2=0.999, epsilon=1e-7, grad=g)
        new_m = m.value() + (g - m.value()) * 0.1
        new_v = v.value() + (tf.square(g) - v.value()) * (1 - 0.999)
        alpha = self.lr * tf.sqrt(1 - b2p) / (1 - b1p)
        return tf.group(m.assign(new_m).op, v.assign(new_v).op,
                        t.assign(t.read() - alpha * new_m / (tf.sqrt(new_v) + 1e-7)))

    def rmsprop(self, t: _Target, g: Any) -> Any:
        # keras.optimizers.RMSprop(): rho 0.9, epsilon 1e-7 inside the square root, velocity from zero
        tf = self.tf
        vel = self.slot(t, "velocity")
        new_vel = 0.9 * vel.value() + 0.1 * tf.square(g)
        return tf.group(vel.assign(new_vel).op, t.assign(t.read() - self.lr * g / tf.sqrt(new_vel + 1e-7)))


@register
class Minimize(Block):
    """One training step: TensorFlow's gradients of ``loss`` for every trainable Variable it depends on (Weights
    and plain Variables), applied as Keras 3's optimizer ``optimizer`` applies them: ``sgd``; ``momentum``
    (SGD with momentum 0.9); ``adam`` (0.9, 0.999, epsilon 1e-7); ``rmsprop`` (rho 0.9, epsilon 1e-7). Wire
    ``step`` into a ClientSession's ``run_outputs``; the epoch runner runs it at each training batch.
    """

    name = "Minimize"
    category = CATEGORY
    inputs = (Port("loss", doc="the scalar loss to minimise"),)
    outputs = (Port("step", kind="operation", doc="the update op: run it to train one step"),)
    attrs = (
        Attr("optimizer", "string", default="sgd", has_default=True, allowed=OPTIMIZERS,
             doc="sgd, momentum, adam or rmsprop"),
        Attr("learning_rate", "float", default=0.01, has_default=True, doc="the step size"),
    )

    def build(self, scope: Any, loss: Any) -> dict[str, Any]:
        tf = load()
        optimizer = str(_attr(scope, "optimizer", "sgd"))  # one of OPTIMIZERS: the page check says so
        learning_rate = non_negative_pin(scope, "learning_rate", 0.01)
        if loss.shape.rank is not None and loss.shape.rank != 0:
            raise BuildFailure(f"the loss must be a scalar (a loss block's loss), got shape {loss.shape.as_list()}",
                               "loss")
        found = _trainables(scope.page, loss)
        if not found:
            raise BuildFailure("the loss depends on no trainable Variable (a Weight or a Variable)", "loss")
        with tf.compat.v1.name_scope(scope.name + "/"):
            try:
                grads = tf.compat.v1.gradients(loss, [v for _, v in found])
            except (LookupError, ValueError, TypeError) as e:
                raise BuildFailure(f"no gradient: {e}", "loss") from None
            iterations = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="iterations")
            scope.add_initializer(iterations.initializer)
            scope.page.add_variable(f"{scope.block_id}/iterations", iterations.handle)
            updates = _Updates(tf, scope, optimizer, None, iterations)
            ops = []
            for (name, var), g in zip(found, grads):
                if g is None:
                    continue
                target = _Target(tf, name, var)
                updates.lr = tf.constant(learning_rate, target.dtype)
                ops.append(updates.apply(target, tf.convert_to_tensor(g)))
            if not ops:
                raise BuildFailure("the loss has no gradient for any Variable it depends on", "loss")
            with tf.control_dependencies(ops):
                step = iterations.assign_add(1, read_value=False)
        scope.page.built.train_ops.append((scope.block_id, step))
        return {"step": step}


def data_file(scope: Any, pin: str, text: str) -> Path:
    """The file pin ``pin`` names: relative to the page's folder (the current folder for a page never saved);
    outside the page's folder and its data folder only when io is allowed; raises BuildFailure naming the pin and
    the path when it is refused or missing."""
    page = scope.page
    if not text or not str(text).strip():
        raise BuildFailure(f"pin '{pin}' names no file", pin)
    base = Path(page.folder) if page.folder else Path.cwd()
    given = Path(str(text)).expanduser()
    path = (given if given.is_absolute() else base / given).resolve()
    if not page.allow_io:
        roots = [base.resolve()] + ([Path(page.data_dir).resolve()] if page.data_dir else [])
        if not any(path.is_relative_to(r) for r in roots):
            raise BuildFailure(f"{pin} '{text}' is {path}, outside the page's folder {roots[0]}; a page reads files "
                               "elsewhere only when io is allowed (enuflow run --allow-io)", pin)
    if not path.is_file():
        raise BuildFailure(f"{pin} '{text}': no such file {path}", pin)
    return path


def read_arrays(path: Path, pin: str) -> tuple[np.ndarray, np.ndarray]:
    """(x as float32, y: integer labels as int64, else float32) of a data file: a ``.npz`` with arrays ``x`` and
    ``y``, a ``.csv`` with a header row (the label column is ``label``, else the last), or an MNIST idx pair (the
    images file; the labels file beside it); raises BuildFailure naming ``pin`` and the path."""
    try:
        if path.suffix.lower() == ".npz":
            x, y = _read_npz(path, pin)
        elif path.suffix.lower() == ".csv":
            x, y = _read_csv(path, pin)
        else:
            x, y = _read_idx(path, pin)
    except (OSError, ValueError, EOFError) as e:
        raise BuildFailure(f"{pin} {path} cannot be read: {e}", pin) from None
    if len(x) != len(y) or len(x) == 0:
        raise BuildFailure(f"{pin} {path}: x has {len(x)} rows, y {len(y)}; they must be equal and not zero", pin)
    for name, a in (("x", x), ("y", y)):
        if a.dtype.kind not in "iubf":
            raise BuildFailure(f"{pin} {path}: {name} holds {a.dtype} values; a data file holds numbers", pin)
    x = x.astype(np.float32)
    if y.dtype.kind in "iub":  # class ids: [n, 1] as [n], as Keras's sparse losses take them
        y = (y.reshape(len(y)) if y.ndim == 2 and y.shape[1] == 1 else y).astype(np.int64)
    else:
        y = y.astype(np.float32)
    return x, y


def _read_npz(path: Path, pin: str) -> tuple[np.ndarray, np.ndarray]:
    import zipfile

    if not zipfile.is_zipfile(path):  # np.load would take it for a pickle and say so
        raise BuildFailure(f"{pin} {path} is not a .npz file (a zip archive of arrays x and y, as np.savez "
                           "writes)", pin)
    with np.load(path, allow_pickle=False) as f:
        if "x" not in f or "y" not in f:
            raise BuildFailure(f"{pin} {path} has arrays {sorted(f.files)}; a data file needs x and y", pin)
        return np.asarray(f["x"]), np.asarray(f["y"])


def _read_csv(path: Path, pin: str) -> tuple[np.ndarray, np.ndarray]:
    """A header row, then rows of numbers; the column ``label`` (else the last) is y, whole numbers as class ids."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if len(rows) < 2:
        raise BuildFailure(f"{pin} {path}: a .csv data file has a header row and at least one row of numbers", pin)
    header = [h.strip() for h in rows[0]]
    if all(_number(h) for h in header):
        raise BuildFailure(f"{pin} {path}: its first row holds numbers; a .csv data file starts with a header row "
                           "naming its columns (the label column 'label', else the last)", pin)
    col = header.index("label") if "label" in header else len(header) - 1
    ragged = next((i for i, r in enumerate(rows[1:], 2) if len(r) != len(header)), None)
    if ragged is not None:
        raise BuildFailure(f"{pin} {path}: row {ragged} has {len(rows[ragged - 1])} values; every row needs "
                           f"{len(header)}, as the header names", pin)
    try:
        table = np.array([[float(v) for v in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as e:
        raise BuildFailure(f"{pin} {path}: {e} (rows after the header hold numbers only)", pin) from None
    y = table[:, col]
    if np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return np.delete(table, col, axis=1), y


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: an idx file's element types by code
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _idx(path: Path, pin: str) -> np.ndarray:
    data = path.read_bytes()
    if len(data) < 4 or data[0] or data[1] or data[2] not in _IDX_TYPES:
        raise BuildFailure(f"{pin} {path} is not an idx file (.npz, .csv or an MNIST idx pair)", pin)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    body = data[4 + 4 * ndim:]
    if len(body) != math.prod(dims) * dtype.itemsize:
        raise BuildFailure(f"{pin} {path}: its header says {dims}, its data has {len(body)} bytes", pin)
    return np.frombuffer(body, dtype).reshape(dims)


def _labels_of(path: Path) -> Path:
    """The labels file of an MNIST idx pair whose images file is ``path`` (``images`` -> ``labels``, ``idx3`` ->
    ``idx1`` in the name)."""
    return path.with_name(path.name.replace("images", "labels").replace("idx3", "idx1"))


def _read_idx(path: Path, pin: str) -> tuple[np.ndarray, np.ndarray]:
    """An MNIST idx pair: ``path`` the images (``train-images-idx3-ubyte``), the labels beside it (``_labels_of``)."""
    labels = _labels_of(path)
    if labels == path or not labels.is_file():
        raise BuildFailure(f"{pin} {path}: no labels file {labels} beside it (an MNIST idx pair)", pin)
    return _idx(path, pin), _idx(labels, pin)


def _warn_not_finite(scope: Any, pin: str, path: Path, x: np.ndarray, y: np.ndarray) -> None:
    """A warning on ``pin`` when the file's numbers hold NaN or infinities (the losses of their batches will not
    be numbers, and training on them spoils the weights)."""
    bad = [(name, a) for name, a in (("x", x), ("y", y)) if a.dtype.kind == "f" and not np.isfinite(a).all()]
    for name, a in bad:
        rows = np.flatnonzero(~np.isfinite(a.reshape(len(a), -1)).all(axis=1))
        scope.page.warn(scope.block_id, pin, (
            f"{pin} {path}: {name} holds NaN or infinite values in {len(rows)} example(s) (the first: row "
            f"{int(rows[0])}); the losses of their batches are not numbers and training on them spoils the "
            "weights"))


#: the arrays of the data files read last, by ``_file_key``: a rebuild of a page (a value edited, the check after a
#: run) does not read its unchanged data files again; two, a Dataset's file and test_file
_READ: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_READ_KEEP = 2


def _file_key(path: Path) -> tuple | None:
    """What says a data file is unchanged since it was read: its path, modification time and size (and those of the
    labels file of an idx pair); None when it cannot be looked at."""
    files = [path] if path.suffix.lower() in (".npz", ".csv") else [path, _labels_of(path)]
    try:
        return tuple((str(p), st.st_mtime_ns, st.st_size) for p in files for st in (p.stat(),))
    except OSError:
        return None


def cached_arrays(path: Path, pin: str) -> tuple[np.ndarray, np.ndarray]:
    """``read_arrays(path, pin)``, read once while the file is unchanged (``_file_key``); the arrays are read-only.
    A file that cannot be read is tried again at each build (its error is not kept)."""
    key = _file_key(path)
    hit = _READ.get(key) if key is not None else None
    if hit is None:
        hit = read_arrays(path, pin)
        for a in hit:
            a.setflags(write=False)
        if key is not None:
            _READ[key] = hit
            while len(_READ) > _READ_KEEP:
                del _READ[next(iter(_READ))]
    return hit


def _read(scope: Any, pin: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    path = data_file(scope, pin, text)
    x, y = cached_arrays(path, pin)
    _warn_not_finite(scope, pin, path, x, y)
    return x, y


def _splits(scope: Any) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The train and test splits: the test file's arrays, else a seeded permutation's last ``test_fraction``."""
    x, y = _read(scope, "file", _attr(scope, "file", ""))
    test_file = str(_attr(scope, "test_file", "") or "")
    if test_file.strip():
        xt, yt = _read(scope, "test_file", test_file)
        if xt.shape[1:] != x.shape[1:] or yt.dtype != y.dtype:
            raise BuildFailure(f"test_file's x is {list(xt.shape)} {yt.dtype} labels, file's {list(x.shape)} "
                               f"{y.dtype}: they must match", "test_file")
        return (x, y), (xt, yt)
    fraction = float(_attr(scope, "test_fraction", 0.2))
    if not 0.0 <= fraction < 1.0:
        raise BuildFailure(f"test_fraction must be at least 0 and below 1, got {fraction}", "test_fraction")
    order = np.random.default_rng(int(_attr(scope, "seed", 0))).permutation(len(x))
    n_test = int(round(len(x) * fraction))
    train, test = order[n_test:], order[:n_test]
    return (x[train], y[train]), (x[test], y[test])


def _held(tf: Any, scope: Any, array: np.ndarray, name: str) -> tuple[Any, Any]:
    """A non-trainable Variable holding ``array`` (fed once, when the initialisers run), and its placeholder."""
    fed = tf.compat.v1.placeholder(tf.as_dtype(array.dtype), array.shape, name=f"{name}_feed")
    var = tf.Variable(fed, trainable=False, name=name)
    scope.add_initializer(var.initializer)
    scope.page.add_init_feed(fed, array)
    return var, fed


def _epoch_order(tf: Any, scope: Any, xv: Any, yv: Any, n: int, seed: int) -> tuple[Any, Any]:
    """The train split's arrays for one epoch: in a new order at each start of an epoch (a permutation seeded by
    ``seed`` and the epoch's number, counted by a Variable that each ``train_init`` increments) when shuffling."""
    x, y = xv.value(), yv.value()
    if not _attr(scope, "shuffle", True):
        return x, y
    epochs = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="epochs")
    scope.add_initializer(epochs.initializer)
    epoch = epochs.assign_add(1)
    order = tf.random.experimental.stateless_shuffle(tf.range(n), tf.stack([tf.constant(seed, tf.int64), epoch]))
    return tf.gather(x, order), tf.gather(y, order)


def _plain_options(tf: Any) -> Any:
    """tf.data options without the default graph rewrites and autotuning (the same batches, in the same order)."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return options


@register
class DatasetSource(Block):
    """Batches of a data file through ``tf.data`` ops in the graph: a train split and a test split behind one
    iterator (``x`` float32, integer labels ``y`` int64).

    ``file`` is a ``.npz`` with arrays ``x`` and ``y``, a ``.csv`` (a header row; the label column ``label``, else
    the last) or an MNIST idx pair (the images file; the labels file beside it), relative to the page's folder; a
    file outside that folder and the page's data folder is read only when io is allowed. The test split is
    ``test_file`` when given, else the last ``test_fraction`` of a permutation seeded by ``seed``. Plain steps read
    the train split for ever (shuffled by ``seed`` anew each pass when ``shuffle``); the epoch runner starts one
    pass of the train split (in a new order each epoch), then one of the test split, in batches of ``batch_size``
    (the last batch may be smaller).
    """

    name = "DatasetSource"
    category = CATEGORY
    outputs = (Port("x", dtype="float32", doc="a batch of inputs"), Port("y", doc="the batch's labels"))
    attrs = (
        Attr("file", "string", default="", has_default=True,
             doc=".npz (x, y), .csv or MNIST idx images, beside the page"),
        Attr("batch_size", "int", default=32, has_default=True, minimum=1, doc="examples per batch"),
        Attr("shuffle", "bool", default=True, has_default=True, doc="shuffle the train split at each pass"),
        Attr("seed", "int", default=0, has_default=True, minimum=0, doc="seed of the split and of the shuffling"),
        Attr("test_fraction", "float", default=0.2, has_default=True, doc="part of file kept for the test split"),
        Attr("test_file", "string", default="", has_default=True, doc="a .npz test split (test_fraction unused)"),
    )

    def build(self, scope: Any) -> dict[str, Any]:
        tf = load()
        batch, seed = int(_attr(scope, "batch_size", 32)), int(_attr(scope, "seed", 0))
        (x, y), (xt, yt) = _splits(scope)
        with tf.compat.v1.name_scope(scope.name + "/"):
            held = [_held(tf, scope, a, n) for a, n in ((x, "x_train"), (y, "y_train"), (xt, "x_test"),
                                                         (yt, "y_test"))]
            (xv, xf), (yv, yf), (xtv, _), (ytv, _) = held
            train = tf.data.Dataset.from_tensor_slices(_epoch_order(tf, scope, xv, yv, len(x), seed))
            looping = tf.data.Dataset.from_tensor_slices((xf, yf))  # read at initialisation, when fed
            if _attr(scope, "shuffle", True):
                looping = looping.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            train, looping = train.batch(batch), looping.repeat().batch(batch)
            test = tf.data.Dataset.from_tensor_slices((xtv.value(), ytv.value())).batch(batch)
            # the epoch runner starts an iterator per pass: tf.data's default rewrites (a graph optimisation of the
            # pipeline, with its arrays, at each start) cost it more than they give (4 to 40 ms, against 1 ms)
            train, test = train.with_options(_plain_options(tf)), test.with_options(_plain_options(tf))
            iterator = tf.compat.v1.data.Iterator.from_structure(tf.compat.v1.data.get_output_types(train),
                                                                 tf.compat.v1.data.get_output_shapes(train))
            inits = [iterator.make_initializer(d, name=n) for d, n in ((train, "train_init"), (test, "test_init"),
                                                                        (looping, "repeat_init"))]
            bx, by = iterator.get_next(name="next")
        scope.add_initializer(inits[2])
        classes = int(max(y.max(), yt.max() if len(yt) else 0)) + 1 if y.dtype.kind == "i" else None
        scope.page.add_dataset(
            block=scope.block_id, instance=scope.block_id.rsplit("/", 1)[0], train_init=inits[0], test_init=inits[1],
            repeat_init=inits[2], n_train=len(x), n_test=len(xt), batch_size=batch, num_classes=classes,
            min_label=int(min(y.min(), yt.min() if len(yt) else 0)) if classes is not None else None)
        return {"x": bx, "y": by}
