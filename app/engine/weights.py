"""A built page's Variables as numbers: read from and assigned into its live session, kept as TF2 checkpoints.

``SessionWeights`` reads the values of every Variable the builder records (``BuiltGraph.variables``: the
helper blocks' resource Variables by a stable name such as ``d1/kernel``, and the page's plain ``Variable``
blocks) and assigns values back into the same session; the few ops it needs (a ReadVariableOp, and an assign
fed from a placeholder, per Variable) are made once, on first use, under the name scope ``enuflow_weights``.

``write_checkpoint`` writes values as a TensorFlow 2 checkpoint (``tf.train.Checkpoint`` of eager Variables,
nested by the parts of their names, so ``d1/kernel`` is read back with ``tf.train.load_checkpoint(path)
.get_tensor("d1/kernel/.ATTRIBUTES/VARIABLE_VALUE")``); the files are written beside the target and renamed into
place. ``read_checkpoint`` reads them back by name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from enuflow.blocks.tf import load

#: what follows a Variable's name in its checkpoint key
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
#: the name scope of the ops made to read and assign Variables
SCOPE = "enuflow_weights"


def _var_dtype(t: Any) -> Any:
    """The value dtype of the Variable behind resource handle ``t`` (through Identity ops), or None."""
    op = t.op
    while op.type in ("Identity", "IdentityN") and op.inputs:
        op = op.inputs[0].op
    try:
        return op.get_attr("dtype")
    except ValueError:
        return None


class SessionWeights:
    """Reads and assigns the Variables of ``built`` (``BuiltGraph.variables``) in ``session``."""

    def __init__(self, built: Any, session: Any) -> None:
        self.built, self.session = built, session
        #: name -> (the tensor to fetch for its value, its assign op, the placeholder that op is fed from)
        self._ops: dict[str, tuple[Any, Any, Any]] | None = None

    @property
    def names(self) -> list[str]:
        return list(self.ops())

    def ops(self) -> dict[str, tuple[Any, Any, Any]]:
        """The read and assign ops of every Variable, made on first use."""
        if self._ops is None:
            tf = load()
            ops: dict[str, tuple[Any, Any, Any]] = {}
            with self.built.graph.as_default(), tf.name_scope(SCOPE + "/"):
                for name, t in getattr(self.built, "variables", []) or []:
                    got = _read_assign(tf, t)
                    if got is not None:
                        ops[name] = got
            self._ops = ops
        return self._ops

    def read(self) -> dict[str, np.ndarray]:
        """Every Variable's value now, by name."""
        ops = self.ops()
        if not ops:
            return {}
        values = self.session.run([r for r, _, _ in ops.values()])
        return {n: np.array(v) for n, v in zip(ops, values)}

    def assign(self, values: dict[str, np.ndarray]) -> list[str]:
        """Assign ``values`` (by name) into the session; returns the names of the Variables they do not hold."""
        ops = self.ops()
        feeds, targets = {}, []
        for name, (_, op, ph) in ops.items():
            if name in values:
                feeds[ph] = np.asarray(values[name]).astype(ph.dtype.as_numpy_dtype, copy=False)
                targets.append(op)
        if targets:
            self.session.run(targets, feed_dict=feeds)
        return [n for n in ops if n not in values]

    def load(self, path: str | os.PathLike) -> list[str]:
        """Assign the values the checkpoint at ``path`` holds (``read_checkpoint``: ValueError when it cannot be
        read); returns the names of the Variables it holds no value for (kept as they were)."""
        values, missing = read_checkpoint(path, self.names)
        self.assign(values)
        return missing


def _read_assign(tf: Any, t: Any) -> tuple[Any, Any, Any] | None:
    """(value tensor, assign op, placeholder) for Variable tensor ``t``: a resource handle or a ref."""
    base = t.dtype.base_dtype
    if base == tf.resource:
        dtype = _var_dtype(t)
        if dtype is None:
            return None
        value = tf.raw_ops.ReadVariableOp(resource=t, dtype=dtype)
        ph = tf.compat.v1.placeholder(dtype, shape=value.shape)
        return value, tf.raw_ops.AssignVariableOp(resource=t, value=ph), ph
    if t.dtype._is_ref_dtype:  # noqa: SLF001 - a plain Variable block's ref
        ph = tf.compat.v1.placeholder(base, shape=t.shape)
        value = tf.identity(t)
        return value, tf.raw_ops.Assign(ref=t, value=ph, validate_shape=False).op, ph
    return None


# -- checkpoints ---------------------------------------------------------------------------------------

def _nested(names: list[str]) -> bool:
    """Whether ``names`` can be nested by their parts (none is also the start of another, none has an empty part)."""
    full = set(names)
    for n in names:
        parts = n.split("/")
        if "" in parts or any("/".join(parts[:i]) in full for i in range(1, len(parts))):
            return False
    return True


def checkpoint_key(name: str, nested: bool = True) -> str:
    """The key of Variable ``name`` in a checkpoint ``write_checkpoint`` wrote (``tf.train.load_checkpoint``)."""
    if nested:
        return name + VALUE_SUFFIX
    return name.replace(".", "..").replace("/", ".S") + VALUE_SUFFIX


def _root(tf: Any, values: dict[str, np.ndarray]) -> Any:
    """A ``tf.train.Checkpoint`` of eager Variables holding ``values``, nested by the parts of their names."""
    if not _nested(list(values)):
        return tf.train.Checkpoint(**{n: tf.Variable(v, name=n.replace("/", "_")) for n, v in values.items()})
    tree: dict[str, Any] = {}
    for name, v in values.items():
        *parents, leaf = name.split("/")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = tf.Variable(v, name=leaf)

    def made(node: dict[str, Any]) -> Any:
        return tf.train.Checkpoint(**{k: made(v) if isinstance(v, dict) else v for k, v in node.items()})
    return made(tree)


def write_checkpoint(path: str | os.PathLike, values: dict[str, np.ndarray]) -> None:
    """Write ``values`` (Variable name -> array) as a TF2 checkpoint with prefix ``path`` (``path.index`` and its
    data file), staged beside it and renamed into place; raises OSError when it cannot be written."""
    tf = load()
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        with tf.init_scope():  # eager Variables, whatever graph is the default here
            root = _root(tf, values)
            tf.train.Checkpoint.write(root, str(tmp / "ckpt"))
        for f in sorted(tmp.iterdir(), key=lambda p: p.name.endswith(".index")):  # the index last
            if f.name.startswith("ckpt"):
                os.replace(f, parent / (target.name + f.name[len("ckpt"):]))
    except (tf.errors.OpError, ValueError) as e:
        raise OSError(f"{path}: the checkpoint could not be written ({getattr(e, 'message', e)})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_checkpoint(path: str | os.PathLike, names: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The values of Variables ``names`` in the checkpoint ``path`` (written by ``write_checkpoint``) and the names
    it does not hold; raises ValueError (with the path) when it is no checkpoint."""
    tf = load()
    try:
        reader = tf.train.load_checkpoint(str(path))
    except (tf.errors.OpError, ValueError) as e:
        raise ValueError(f"{path}: not a checkpoint ({str(getattr(e, 'message', e)).splitlines()[0]})") from None
    held = reader.get_variable_to_shape_map()
    got, missing = {}, []
    for n in names:
        key = next((k for k in (checkpoint_key(n), checkpoint_key(n, False), n) if k in held), None)
        if key is None:
            missing.append(n)
        else:
            got[n] = reader.get_tensor(key)
    return got, missing
