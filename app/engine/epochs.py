"""Training in epochs: N passes over a page's training data, each followed by an evaluation pass over its test data.

``Runner.run(page, epochs=N)`` (``app.engine.runner``; N from ``enuflow run --epochs`` or the ClientSession's
``epochs`` pin) hands the prepared, initialised page to ``run_epochs``. Each epoch:

- the train pass: every dataset's ``train_init`` (one shuffled epoch of its train split, in batches), then
  batches, each running every ``train.Minimize`` update and fetching the loss and metric figures, with the
  page's ``training`` flag fed True, until the iterator is spent (``OutOfRangeError``);
- the test pass: ``test_init`` (the test split once), batches fetching the figures (and, for each
  ``metrics.Accuracy``, its logits and labels for a confusion matrix) with ``training`` fed False: no update
  runs, Dropout is off, BatchNorm uses its moving statistics. Its last batch fetches every result of the page.

Figures: the outputs of every composite instance (at any depth) whose type starts with ``losses.`` or
``metrics.``, named ``"<instance path>.<port>"`` (``"loss.loss"``); a pass's figure is its batches' mean weighted
by their sizes (as Keras averages). After the run each figure's result is its mean over the last test pass, the
other blocks' results are those of the last test batch; ``RunReport.epochs`` lists ``{"epoch", "train", "test",
"seconds"}`` per epoch done. ``cancel`` ends the run after the current batch: the Variables keep their values (the
session lives on with the runner). Keep best: after each test pass, when the watched figure (the first metric,
else minus the first loss) is the best so far, the Variables' values are kept (``_Prepared.best``; restored by
``restore_best``) and, when asked, written as a TF2 checkpoint (``app.engine.weights``).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enuflow.app.engine.analysis import BuildError
from enuflow.app.engine.callables import _compiled
from enuflow.app.engine.observers import Stop, as_array
from enuflow.app.engine.weights import SessionWeights, write_checkpoint
from enuflow.blocks.tf import load, upstream_ops

LOSS_PREFIX, METRIC_PREFIX = "losses.", "metrics."
ACCURACY, DATASET = "metrics.Accuracy", "data.Dataset"
#: the losses and metrics whose labels are class ids into their logits
CLASS_ID_TYPES = ("losses.SoftmaxCrossEntropy", ACCURACY)


@dataclass
class EpochOptions:
    """What an epoch run is asked for beyond its number of epochs.

    ``on_epoch(info)`` after each epoch: ``{"epoch", "epochs", "train", "test", "confusion": {block: [[int]]},
    "classes": {block: n}, "best": bool, "seconds"}``; ``on_batch(epoch, epochs, phase, batch, batches)`` after
    each batch (``phase`` "train" or "test"; ``batches`` the pass's expected number, 0 when unknown).
    ``keep_best``: write the best epoch's Variables there (a checkpoint prefix). (The final ones, ``save_weights``,
    the runner writes after a run in epochs or in steps alike: ``save_final_weights``.)
    """

    epochs: int
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    on_batch: Callable[[int, int, str, int, int], None] | None = None
    keep_best: str | None = None


@dataclass
class Figure:
    """A loss or metric output: its name (``"loss.loss"``), its result key, its tensor, and whether it is a metric."""

    name: str
    key: tuple[str, str]
    tensor: Any
    metric: bool


@dataclass
class Confusion:
    """A ``metrics.Accuracy`` block's confusion matrix: the tensors wired into its logits and labels."""

    block: str
    logits: Any
    labels: Any
    classes: int


@dataclass
class EpochPlan:
    """What the epochs of a built page run and fetch."""

    datasets: list[Any]
    figures: list[Figure]
    confusions: list[Confusion]
    train_ops: list[Any]
    training: Any
    #: a tensor whose first dimension is the batch's size (the first dataset's ``y``), or None
    batch_tensor: Any = None
    #: the tensors a test pass's last batch fetches besides the figures: every result of the page, by key
    full: dict[tuple[str, str], Any] = field(default_factory=dict)


# -- reading the page ----------------------------------------------------------------------------------

def instance_types(page: Any) -> dict[str, str]:
    """The type of every composite instance of ``page``, at any depth, by its path (``outer/inner``)."""
    comps = page.composites
    out: dict[str, str] = {}

    def walk(prefix: str, blocks: Any) -> None:
        for b in blocks:
            comp = comps.get(b.type)
            if comp is not None:
                path = prefix + b.id
                out[path] = b.type
                walk(path + "/", comp.blocks)
    walk("", list(page))
    return out


def _composite_at(page: Any, types: dict[str, str], path: str) -> Any:
    return page.composites.get(types.get(path, ""))


def _inner_targets(page: Any, types: dict[str, str], path: str, port: str) -> list[tuple[str, str]]:
    """The flat (block path, input) pairs the exposed input ``port`` of instance ``path`` leads to."""
    comp = _composite_at(page, types, path)
    if comp is None:
        return [(path, port)]
    out: list[tuple[str, str]] = []
    for exposed in comp.inputs:
        if exposed.name == port:
            for bid, p in exposed.to:
                out.extend(_inner_targets(page, types, f"{path}/{bid}", p))
    return out


def wired_into(page: Any, flat: Any, built: Any, types: dict[str, str], path: str, port: str) -> Any:
    """The tensor wired into input ``port`` of instance ``path`` (None when nothing built is)."""
    targets = set(_inner_targets(page, types, path, port))
    for ln in flat.links:
        if (ln.dst, ln.dst_port) in targets:
            t = built.tensors.get((ln.src, ln.src_port))
            if t is not None and hasattr(t, "dtype"):
                return t
    return None


def figures_of(page: Any, built: Any, types: dict[str, str]) -> list[Figure]:
    """The loss and metric outputs of ``page`` (instances whose type starts with losses. or metrics.), losses and
    metrics each in page order."""
    out = []
    for path, typ in types.items():
        if not typ.startswith((LOSS_PREFIX, METRIC_PREFIX)):
            continue
        for exposed in page.composites[typ].outputs:
            t = built.tensors.get((path, exposed.name))
            if t is not None and hasattr(t, "dtype") and (t.dtype.is_floating or t.dtype.is_integer):
                out.append(Figure(f"{path}.{exposed.name}", (path, exposed.name), t, typ.startswith(METRIC_PREFIX)))
    return out


def _confusions(page: Any, an: Any, built: Any, types: dict[str, str]) -> list[Confusion]:
    out = []
    for path, typ in types.items():
        if typ != ACCURACY:
            continue
        logits = wired_into(page, an.page, built, types, path, "logits")
        labels = wired_into(page, an.page, built, types, path, "labels")
        if logits is None or labels is None or logits.shape.rank is None or logits.shape[-1] is None:
            continue
        out.append(Confusion(path, logits, labels, int(logits.shape[-1])))
    return out


def label_range_errors(page: Any, an: Any, built: Any, types: dict[str, str], ds: Any) -> BuildError | None:
    """An error on the first class-id loss or metric whose labels (the dataset's ``y``) go past its logits'
    classes: TensorFlow would stop the first batch with such a label, naming no block of the page."""
    labels = built.tensors.get((ds.block, "y"))
    if not ds.num_classes or labels is None:
        return None
    for path, typ in types.items():
        if typ not in CLASS_ID_TYPES or wired_into(page, an.page, built, types, path, "labels") is not labels:
            continue
        logits = wired_into(page, an.page, built, types, path, "logits")
        n = logits.shape[-1] if logits is not None and logits.shape.rank else None
        if n is not None and ds.num_classes > n:
            return BuildError(path, "labels", f"the labels of data.Dataset '{ds.instance}' go up to "
                                              f"{ds.num_classes - 1}, but the logits have {n} classes (ids 0 to "
                                              f"{n - 1}): give the layer before {ds.num_classes} units")
        if (getattr(ds, "min_label", None) or 0) < 0:
            return BuildError(path, "labels", f"the labels of data.Dataset '{ds.instance}' go down to "
                                              f"{ds.min_label}: class ids count from 0")
    return None


def on_epochs(an: Any, message: str) -> BuildError:
    """An error or warning about the epochs: on the ClientSession's epochs pin, or without a ClientSession on the
    command line's ``--epochs`` (no block, no port)."""
    if an.plan.block:
        return BuildError(an.plan.block, "epochs", message)
    return BuildError(None, None, "--epochs: " + message)


_LABEL_VALUE = re.compile(r"Received a label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)")


def explain_label_values(page: Any, errors: list[BuildError]) -> None:
    """Rewrite, in place, TensorFlow's "Received a label value of 4 which is outside the valid range of [0, 3)"
    (a SparseSoftmaxCrossEntropyWithLogits given a class id past its logits) in words, on the ``labels`` input of
    the outermost instance around the failing block that has one (a losses.SoftmaxCrossEntropy), else its own."""
    types: dict[str, str] | None = None
    for i, e in enumerate(errors):
        m = _LABEL_VALUE.search(e.message)
        if m is None or e.block is None:
            continue
        types = instance_types(page) if types is None else types
        label, n = int(m.group(1)), int(m.group(2))
        text = (f"label {label} is not below the {n} classes of logits (class ids 0 to {n - 1}): give the layer "
                f"before at least {label + 1} units, or check the labels" if label >= 0 else
                f"label {label} is below 0: class ids count from 0")
        parts = e.block.split("/")
        owner = next((p for p in ("/".join(parts[:k]) for k in range(1, len(parts)))
                      if any(x.name == "labels" for x in getattr(_composite_at(page, types, p), "inputs", []))),
                     e.block)
        errors[i] = BuildError(owner, "labels", text)


def plan_epochs(page: Any, an: Any, built: Any, epochs: int) -> EpochPlan | BuildError | None:
    """What the epochs of ``built`` (``page``, analysed as ``an``) run, or the error why the page cannot train."""
    datasets = list(getattr(built, "datasets", None) or [])
    types = instance_types(page)
    no_data = on_epochs(an, f"epochs is {epochs}, but the page has no data.Dataset block to train on: add one, or "
                            + ("set the ClientSession's epochs pin to 0" if an.plan.block else "leave --epochs out")
                            + " to run steps")
    if not datasets and DATASET not in types.values():
        return no_data
    if built.errors:  # training half a model would report epochs of a model that is not the one drawn
        failed = sorted({e.block for e in built.errors if e.block})
        return on_epochs(an, f"the page was not trained: {len(failed)} block(s) failed to build "
                             f"({', '.join(failed[:5])}); their errors say why")
    if not datasets:
        return no_data
    if len(datasets) > 1:
        return BuildError(datasets[1].instance, None, "a page trains in epochs over one data.Dataset, this one has "
                                                      f"{len(datasets)} ({', '.join(d.instance for d in datasets)}): "
                                                      "give one Dataset a test_file or test_fraction instead")
    plan = EpochPlan(datasets, figures_of(page, built, types), _confusions(page, an, built, types),
                     [op for _, op in getattr(built, "train_ops", None) or []], getattr(built, "training", None))
    wrong = label_range_errors(page, an, built, types, datasets[0])
    if wrong is not None:
        return wrong
    y = built.tensors.get((datasets[0].block, "y"))
    plan.batch_tensor = y if y is not None and hasattr(y, "shape") and y.shape.rank else None
    return plan


def pass_callable(prepared: Any, fetches: list[Any], targets: list[Any], candidates: list[Any]
                  ) -> tuple[Callable[..., list[Any]], list[int]]:
    """TensorFlow's compiled callable (``CallableOptions``, as ``app.engine.callables`` makes a step's; made once per
    graph and kept in ``prepared.callables``) fetching ``fetches`` and running ``targets``, and the indices of the
    placeholders among ``candidates`` it takes, positionally: those the fetches and targets read. A fetched
    placeholder that is fed gives back the value fed. Making it may raise TensorFlow's errors (its kernels are made)."""
    key = ("epochs", tuple(t.name for t in fetches), tuple(op.name for op in targets),
           tuple(p.name for p in candidates))
    got = prepared.callables.get(key)
    if got is None:
        needed = upstream_ops(fetches + targets)
        used = [i for i, p in enumerate(candidates) if p.op.name in needed]
        fed = {candidates[i].name: j for j, i in enumerate(used)}
        own = [t for t in fetches if t.name not in fed]
        fn = _compiled(prepared, candidates, used, (), own, targets)
        if len(own) < len(fetches):  # (rare: a fed placeholder fetched; TensorFlow fetches no fed tensor)
            fn = _with_fed(fn, [(t.name in fed, fed.get(t.name, 0)) for t in fetches])
        got = prepared.callables[key] = (fn, used)
    return got


def _with_fed(inner: Callable[..., list[Any]], plan: list[tuple[bool, int]]) -> Callable[..., list[Any]]:
    """``inner``'s results with the values fed put in for the fetches that were fed (``plan``: per fetch, whether
    it was fed, and its position among the values fed)."""
    def fn(*values: Any) -> list[Any]:
        out = iter(inner(*values))
        return [values[i] if was_fed else next(out) for was_fed, i in plan]
    return fn


def _after_updates(ops: list[Any]) -> set[str]:
    """The names of the ops that depend on ``ops`` (through data or control inputs): what a test pass must not run."""
    seen: set[str] = set()
    stack = list(ops)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(c for t in op.outputs for c in t.consumers())
        stack.extend(op._control_outputs)  # noqa: SLF001 - TensorFlow keeps no public list of them
    return seen


def full_fetches(plan: EpochPlan, keys: list[tuple[str, str]], built: Any) -> dict[tuple[str, str], Any]:
    """Of ``keys`` (the run's results), those a test batch may fetch: not downstream of a training update."""
    updated = _after_updates(plan.train_ops)
    out = {}
    for k in keys:
        t = built.tensors.get(k)
        if t is not None and hasattr(t, "op") and t.op.name not in updated:
            out[k] = t
    return out


# -- running -----------------------------------------------------------------------------------------

class _Means:
    """Batch-size-weighted means of figures over one pass."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.sums = [0.0] * len(names)
        self.count = 0

    def add(self, values: list[Any], n: int) -> None:
        for i, v in enumerate(values):
            self.sums[i] += float(np.asarray(v).reshape(-1)[0]) * n if np.size(v) else 0.0
        self.count += n

    def means(self) -> dict[str, float]:
        if not self.count:
            return {}
        return {name: s / self.count for name, s in zip(self.names, self.sums)}


def _confusion_counts(logits: np.ndarray, labels: np.ndarray, matrix: np.ndarray) -> None:
    """Add a batch's [true][predicted] counts to ``matrix`` (labels as class ids, or one-hot rows)."""
    pred = np.argmax(logits, axis=-1).reshape(-1)
    true = np.argmax(labels, axis=-1) if labels.ndim == logits.ndim and labels.shape == logits.shape else labels
    true = np.asarray(true).reshape(-1).astype(np.int64)
    if true.shape != pred.shape:
        return
    n = matrix.shape[0]
    ok = (true >= 0) & (true < n) & (pred >= 0) & (pred < n)
    np.add.at(matrix, (true[ok], pred[ok]), 1)


def _batches(ds: Any, phase: str) -> int:
    n = getattr(ds, "n_train" if phase == "train" else "n_test", 0) or 0
    size = getattr(ds, "batch_size", 0) or 0
    return math.ceil(n / size) if n and size else 0


class EpochRun:
    """One run of epochs over a prepared, initialised page (``run_epochs``)."""

    def __init__(self, runner: Any, run: Any, plan: EpochPlan, options: EpochOptions,
                 cancel: threading.Event | None, started: float | None = None) -> None:
        self.runner, self.run, self.plan, self.options = runner, run, plan, options
        prepared = run.prepared
        self.built, self.session = prepared.built, prepared.session
        self.feeds = list(run.feeds)
        self.stop = Stop(cancel, runner.timeout, time.perf_counter() if started is None else started)
        self.callables: dict[str, Any] = {}
        self.best_score: float | None = None
        self.last_test: dict[str, float] = {}
        self.history: dict[str, list[float]] = {f.name: [] for f in plan.figures}

    # -- callables ----------------------------------------------------------------------------------------
    def _fetches(self, phase: str) -> list[Any]:
        plan = self.plan
        out = [f.tensor for f in plan.figures] + ([plan.batch_tensor] if plan.batch_tensor is not None else [])
        if phase == "train":
            return out + plan.train_ops
        out += [t for c in plan.confusions for t in (c.logits, c.labels)]
        return out + (list(plan.full.values()) if phase == "full" else [])

    def callable(self, phase: str) -> tuple[Any, list[Any]]:
        """A pass's compiled session callable (made once per graph, ``pass_callable``) and the values it is fed:
        of the pin values, the training flag and (for ``train_init``/``test_init``) the dataset's arrays, those its
        fetches and ops read."""
        got = self.callables.get(phase)
        if got is None:
            plan, built = self.plan, self.built
            fetches, targets = [], []
            candidates = list(zip((s.placeholder for s in built.slots), self.feeds))
            if phase.endswith("_init"):
                targets = [getattr(ds, phase) for ds in plan.datasets]
                candidates += list((getattr(built, "init_feeds", None) or {}).items())
            else:
                fetches = self._fetches(phase)
                targets = [f for f in fetches if not hasattr(f, "dtype")]  # the updates: run, not fetched
                fetches = [f for f in fetches if hasattr(f, "dtype")]
                if plan.training is not None:
                    candidates.append((plan.training, np.array(phase == "train")))
            fn, used = pass_callable(self.run.prepared, fetches, targets, [p for p, _ in candidates])
            got = self.callables[phase] = (fn, [candidates[i][1] for i in used])
        return got

    # -- one pass -----------------------------------------------------------------------------------------
    def start_pass(self, phase: str) -> None:
        """Run every dataset's initialiser of the pass (fed what it reads: the dataset's arrays live in Variables
        set when the page's initialisers ran, so an initialiser reading them is fed nothing)."""
        fn, values = self.callable(phase + "_init")
        fn(*values)

    def one_pass(self, phase: str, epoch: int) -> tuple[dict[str, float], dict[str, np.ndarray]] | None:
        """A train or test pass: its figures' means and (test) confusion matrices; None when the run must end (it
        was cancelled, or a block failed: the report says which)."""
        tf = load()
        plan = self.plan
        nfig, training = len(plan.figures), phase == "train"
        means = _Means([f.name for f in plan.figures])
        matrices = {c.block: np.zeros((c.classes, c.classes), np.int64) for c in plan.confusions}
        expected = _batches(plan.datasets[0], phase)
        try:
            self.start_pass(phase)
        except tf.errors.OpError as e:
            self.failed(e, phase, epoch)
            return None
        batch = 0
        while True:
            if self.stopping(epoch):
                return None
            try:
                # a test pass's last batch fetches every result of the page too
                fn, values = self.callable("train" if training else "full" if batch + 1 == expected else "test")
                out = fn(*values)
            except tf.errors.OutOfRangeError:
                break
            except tf.errors.OpError as e:
                self.failed(e, phase, epoch)
                return None
            batch += 1
            self.take_batch(out, means, matrices, nfig, training)
            if self.options.on_batch is not None:
                self.options.on_batch(epoch, self.options.epochs, phase, batch, max(expected, batch))
        return means.means(), matrices

    def stopping(self, epoch: int) -> bool:
        """Whether the run ends before the next batch: ``cancel`` is set, or the runner's timeout is past (the steps'
        ``observers.Stop``; every batch, the first included, counts as after a step)."""
        why = self.stop.stop(epoch)
        if why is None:
            return False
        report = self.run.report
        report.stopped = True
        if why == "timeout":
            report.timed_out = True
            timeout = self.runner.timeout
            done = epoch - 1
            report.errors.append(BuildError(None, None, f"timed out in epoch {epoch} (the run's timeout is "
                                                        f"{timeout:g} s); the results are those of "
                                                        + (f"epoch {done}" if done else "no epoch")))
        return True

    def take_batch(self, out: list[Any], means: _Means, matrices: dict[str, np.ndarray], nfig: int,
                   training: bool) -> None:
        """Add one batch's fetched values to the pass's means and matrices; a test pass's last batch (which fetched
        every result) gives the page's results."""
        plan = self.plan
        i = nfig
        n = 1
        if plan.batch_tensor is not None:
            n = int(np.shape(out[i])[0]) if np.ndim(out[i]) else 1
            i += 1
        means.add(out[:nfig], n)
        if training:
            return
        for c in plan.confusions:
            _confusion_counts(np.asarray(out[i]), np.asarray(out[i + 1]), matrices[c.block])
            i += 2
        if len(out) > i:  # the full fetch
            values = self.run.results.values
            for k, v in zip(plan.full, out[i:]):
                if v is not None:
                    values[k] = as_array(v)

    def failed(self, e: Any, phase: str, epoch: int) -> None:
        """A batch failed: reported as a failed step is (``Runner._failed``: the block whose op raised ``e``, or the
        cluster tasks that stopped answering, with their blocks), and the run ends."""
        run = self.run
        self.runner._failed(load(), run.prepared, run.an, e, run.excluded, run.report,  # noqa: SLF001 - one way
                            f"epoch {epoch}, {phase} pass: ")

    # -- epochs -------------------------------------------------------------------------------------------
    def go(self) -> None:
        """Run the epochs, then set the page's results and write what was asked for."""
        n = self.options.epochs
        for epoch in range(1, n + 1):
            t0 = time.perf_counter()
            train = self.one_pass("train", epoch)
            if train is None:
                break
            test = self.one_pass("test", epoch)
            if test is None:
                break
            self.epoch_done(epoch, train[0], test[0], test[1], time.perf_counter() - t0)
        self.finish()

    def epoch_done(self, epoch: int, train: dict[str, float], test: dict[str, float],
                   matrices: dict[str, np.ndarray], seconds: float) -> None:
        """Record an epoch: its figures, whether it is the best so far (its Variables then kept), ``on_epoch``."""
        entry = {"epoch": epoch, "train": train, "test": test, "seconds": seconds}
        self.run.report.epochs.append(entry)
        self.last_test = test or train
        for name, v in self.last_test.items():
            self.history[name].append(v)
        best = self.better(test or train)
        if best:
            self.keep(epoch)
        if self.options.on_epoch is not None:
            self.options.on_epoch({**entry, "epochs": self.options.epochs, "best": best,
                                   "confusion": {b: m.tolist() for b, m in matrices.items()},
                                   "classes": {c.block: c.classes for c in self.plan.confusions}})

    def better(self, figures: dict[str, float]) -> bool:
        """Whether ``figures`` are the best so far by the watched figure: the first metric, else minus the first
        loss (an epoch whose figure is not a number never is)."""
        plan = self.plan
        watched = next((f for f in plan.figures if f.metric), None)
        sign = 1.0
        if watched is None:
            watched, sign = next((f for f in plan.figures if not f.metric), None), -1.0
        if watched is None or watched.name not in figures or not math.isfinite(figures[watched.name]):
            return False
        score = sign * figures[watched.name]
        if self.best_score is not None and score <= self.best_score:
            return False
        self.best_score = score
        return True

    def keep(self, epoch: int) -> None:
        """Keep the Variables' values now (the best epoch's) and write them where asked."""
        prepared = self.run.prepared
        weights = session_weights(prepared)
        prepared.best = KeptWeights(epoch, weights.read())
        if self.options.keep_best:
            write_weights(self.run.report, self.options.keep_best, prepared.best.values, "--keep-best")

    def finish(self) -> None:
        """The page's results after the run: each figure's mean over the last test pass (the other results are
        those of its last batch), the figures' per-epoch history."""
        report = self.run.report
        values, history = report.results.values, report.results.history
        aliases = getattr(self.built, "aliases", {}) or {}
        for f in self.plan.figures:
            if f.name in self.last_test:
                v = np.asarray(self.last_test[f.name], dtype=f.tensor.dtype.as_numpy_dtype)
                values[f.key] = v
                if f.key in aliases:
                    values[aliases[f.key]] = v
            if self.history[f.name]:
                history[f.key] = list(self.history[f.name])
        report.steps_done = len(report.epochs)
        report.warnings.extend(not_numbers(self.plan, report.epochs))


def not_numbers(plan: EpochPlan, epochs: list[dict[str, Any]]) -> list[BuildError]:
    """A warning per figure that stopped being a number (NaN, infinite): its first such epoch and pass."""
    out = []
    for f in plan.figures:
        for entry in epochs:
            phase = next((p for p in ("train", "test") if not math.isfinite(entry[p].get(f.name, 0.0))), None)
            if phase is not None:
                path, _, port = f.name.rpartition(".")
                out.append(BuildError(path, port, f"{f.name} is not a number from epoch {entry['epoch']} ({phase} "
                                                  "pass) on: the data hold NaN, or the training diverged (try a "
                                                  "lower learning_rate)"))
                break
    return out


@dataclass
class KeptWeights:
    """The Variables' values of a run's best epoch."""

    epoch: int
    values: dict[str, np.ndarray]


def logged(log: Any, prepared: Any, on_epoch: Callable[[dict[str, Any]], None] | None
           ) -> Callable[[dict[str, Any]], None]:
    """``on_epoch`` that also writes each epoch's figures to TensorBoard (``--logdir``: ``app.engine.tensorboard``),
    tagged ``train/loss.loss`` and ``test/loss.loss`` at step = the epoch, and the page's graph at the first."""
    from enuflow.app.engine.runner import page_graph_def

    def on(info: dict[str, Any]) -> None:
        if info["epoch"] == 1:
            log.graph(page_graph_def(prepared))
        values = {}
        for phase in ("train", "test"):
            for name, v in info[phase].items():
                block, _, port = name.rpartition(".")
                values[(f"{phase}/{block}", port)] = np.asarray(v)
        log.step(info["epoch"], values)
        if on_epoch is not None:
            on_epoch(info)
    return on


def write_weights(report: Any, path: str, values: dict[str, np.ndarray], what: str = "--save-weights") -> None:
    """Write ``values`` as a checkpoint at ``path``; a failure is an error of ``report`` naming the path."""
    try:
        write_checkpoint(path, values)
    except OSError as e:
        report.errors.append(BuildError(None, None, f"{what} {path}: {e.strerror or e}"))


def save_final_weights(run: Any, path: str) -> None:
    """``--save-weights``: the Variables' values at the end of a run (in epochs or in steps) written at ``path``."""
    write_weights(run.report, path, session_weights(run.prepared).read())


def session_weights(prepared: Any) -> SessionWeights:
    """The ``SessionWeights`` of a prepared page (made once per graph and session)."""
    w = getattr(prepared, "weights", None)
    if w is None:
        w = prepared.weights = SessionWeights(prepared.built, prepared.session)
    return w


def run_epochs(runner: Any, page: Any, run: Any, options: EpochOptions, cancel: threading.Event | None,
               started: float | None = None) -> bool:
    """Run ``options.epochs`` epochs of the prepared page of ``run`` (a ``RunState``); results, figures and errors go
    to ``run.report``. The run ends between batches once ``cancel`` is set or the runner's timeout (counted from
    ``started``, a ``time.perf_counter()``) is past. Returns whether the epochs began (False: the page cannot train,
    ``plan_epochs`` said why)."""
    plan = plan_epochs(page, run.an, run.prepared.built, options.epochs)
    if plan is None or isinstance(plan, BuildError):
        if plan is not None:
            run.report.errors.append(plan)
        return False
    plan.full = full_fetches(plan, run.lists(False)[0], run.prepared.built)
    run.report.warnings.extend(plan_warnings(plan, run.an) + softmax_logits(page, run.an, run.prepared.built))
    run.prepared.rerun.clear()  # the Variables change: no result of a run before stays true
    EpochRun(runner, run, plan, options, cancel, started).go()
    return True


def plan_warnings(plan: EpochPlan, an: Any) -> list[BuildError]:
    """What makes epochs other than a person expects: nothing trains, or there is no test split to evaluate."""
    out = []
    if not plan.train_ops:
        out.append(on_epochs(an, "no train.Minimize runs (the page has none, or --to leaves it out): the epochs "
                                 "evaluate the weights without training them"))
    ds = plan.datasets[0]
    if not ds.n_test:
        out.append(BuildError(ds.instance, "test_fraction", "the test split is empty: each epoch's figures (and keep "
                                                            "best) are those of its train pass"))
    return out


def softmax_logits(page: Any, an: Any, built: Any) -> list[BuildError]:
    """A warning per losses.SoftmaxCrossEntropy whose logits come out of a softmax (a layer's activation softmax):
    the loss applies its own softmax, so the model would learn through two (as Keras warns)."""
    types = instance_types(page)
    out = []
    for path, typ in types.items():
        if typ != "losses.SoftmaxCrossEntropy":
            continue
        logits = wired_into(page, an.page, built, types, path, "logits")
        if logits is not None and logits.op.type == "Softmax":
            out.append(BuildError(path, "logits", "the logits come out of a softmax, and this loss applies its own: "
                                                  "set the last layer's activation to none"))
    return out


def restore_best(runner: Any, path: str | None = None) -> tuple[int | None, list[BuildError]]:
    """Assign the kept best epoch's Variables (or, with ``path``, a checkpoint's) into the runner's live session;
    returns (the epoch restored, None for a checkpoint; problems)."""
    prepared = getattr(runner, "_prepared", None)
    if prepared is None:
        return None, [BuildError(None, None, "nothing to restore into: the page has not run")]
    weights = session_weights(prepared)
    if path:
        try:
            missing = weights.load(path)
        except ValueError as e:
            return None, [BuildError(None, None, str(e))]
        epoch = None
    else:
        kept = getattr(prepared, "best", None)
        if kept is None:
            return None, [BuildError(None, None, "no best epoch is kept: train the page in epochs first")]
        weights.assign(kept.values)
        epoch, missing = kept.epoch, []
    problems = [BuildError(None, None, f"{path}: holds no value for Variable '{n}' (kept as it was)") for n in missing]
    return epoch, problems
