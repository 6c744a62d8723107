"""What a run does with each step's results: small observers, in the spirit of TensorFlow's ``SessionRunHook``.

``Runner.run`` (``app.engine.runner``) is a short step loop. Before each step it asks every observer what it
will read of that step (``wants``): ``SCALARS``, the results of one number (and what the ClientSession
fetches), or ``ALL``. When none asks for ``ALL``, the step is *lean*: results of more than one number are run
as targets, not fetched (fetching copies them out of TensorFlow, most of a small step's time). After the step
each observer gets it (``after``), and at the end of the run ``end``. ``stop`` says before a step that the run
should stop (asked to, or past its timeout).

- ``Results``: the run's result store; wants everything at the first and the last step, and once steps are
  slow or one failed; says which results have no value at the end (untaken Switch branches, results lost).
- ``History``: the per-step history of scalar results.
- ``OnStep``: the caller's ``on_step(step, results)``, reading all results or only scalars.
- ``Debug``: SHOW_DEBUG's lines for each step (reads everything fetched).
- ``TensorBoard``: the graph and every scalar per step, to event files.
- ``Stop``: ``cancel`` and the run's timeout, checked between steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from enuflow.app.engine.analysis import BuildError

#: scalar history kept per result pin (oldest steps are dropped beyond this)
HISTORY_LIMIT = 100_000
#: what an observer reads of a step's results: nothing, the scalars (a lean step is enough), or all of them
NOTHING, SCALARS, ALL = 0, 1, 2
#: A run of many steps fetches its results of more than one number (and text) at its first and last step only
#: (*lean* steps between run those blocks without fetching them), when no observer reads them at each step.
#: A run stopped or timed out after a lean step runs one more, full step, so its results are all of one step;
#: a step that fails or takes longer than this many seconds (not counting the making of its callable) ends
#: lean steps for the run.
LEAN_STEP_SECONDS = 0.05
_NONE: frozenset = frozenset()


class ResultStore:
    """Result tensors of a run: ``values[(block, output)]`` and per-step ``history`` of scalars.

    While a run goes on, ``Results`` and ``History`` may hold the latest steps' numbers aside (as the session
    returned them) rather than store each at once; reading ``values`` or ``history`` then brings them up to date
    first (``catch_up``), so a reader sees what storing every step at once gives, and a caller's ``on_step``
    that reads the store now and then costs the steps nothing in between."""

    def __init__(self, values: dict[tuple[str, str], np.ndarray] | None = None,
                 history: dict[tuple[str, str], list[float]] | None = None) -> None:
        self._values: dict[tuple[str, str], np.ndarray] = {} if values is None else values
        self._history: dict[tuple[str, str], list[float]] = {} if history is None else history
        #: stores what the run's observers hold aside, set while a run goes on (None: nothing is held)
        self.catch_up: Callable[[], None] | None = None

    @property
    def values(self) -> dict[tuple[str, str], np.ndarray]:
        if self.catch_up is not None:
            self.catch_up()
        return self._values

    @values.setter
    def values(self, values: dict[tuple[str, str], np.ndarray]) -> None:
        self._values = values

    @property
    def history(self) -> dict[tuple[str, str], list[float]]:
        if self.catch_up is not None:
            self.catch_up()
        return self._history

    @history.setter
    def history(self, history: dict[tuple[str, str], list[float]]) -> None:
        self._history = history

    def get(self, block: str, port: str) -> np.ndarray | None:
        return self.values.get((block, port))

    def of_block(self, block: str) -> dict[str, np.ndarray]:
        return {p: v for (b, p), v in self.values.items() if b == block}

    def clear(self) -> None:
        self.values.clear()
        self.history.clear()

    def __repr__(self) -> str:
        return f"ResultStore({len(self._values)} results, {len(self._history)} histories)"


def as_array(v: Any) -> np.ndarray:
    """A value the session returned as an array: a scalar string (``bytes``) becomes a 0-d object array
    (``np.asarray`` would make it a fixed-width bytes array and drop trailing NUL bytes)."""
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, (bytes, str)):
        arr = np.empty((), dtype=object)
        arr[()] = v
        return arr
    return np.asarray(v)


def debug_text(step: int, values: dict[tuple[str, str], np.ndarray]) -> str:
    """SHOW_DEBUG's lines for one step: ``step N: block.port = value`` for each fetched result."""
    from enuflow.app.document.tensors import format_tensor

    lines = []
    for (b, p), v in values.items():
        body = format_tensor(v)
        body = body if "\n" not in body else "\n    " + body.replace("\n", "\n    ")
        lines.append(f"step {step}: {b}.{p} = {body}")
    return "\n".join(lines) if lines else f"step {step}: nothing fetched"


class Observer:
    """One concern of a run (see the module's doc). The defaults read nothing and never stop the run."""

    #: reads ``results.values`` as the run goes (so a lean step stores every number as an array at once)
    reads_values = False

    def wants(self, step: int, run: Any) -> int:
        """What it reads of the step after ``step`` steps: ``NOTHING``, ``SCALARS`` or ``ALL``."""
        return NOTHING

    def stop(self, step: int) -> str | None:
        """Why the run stops before its next step (``"stopped"``, ``"timeout"``), or None."""
        return None

    def after(self, step: int, run: Any) -> None:
        """Step ``step`` ran: ``run.produced`` holds what it fetched, ``run.results`` the run's results."""

    def end(self, step: int, run: Any) -> None:
        """The run ended after ``step`` steps."""


class Results(Observer):
    """The run's result store: each step's values replace the last ones (see the module's doc)."""

    def __init__(self, quick: bool) -> None:
        #: when no observer reads values as the run goes, a lean step keeps the numbers as the session returned
        #: them (numpy scalars); they are made arrays when the run ends
        self.quick = quick
        self.lean_off = False  # a lean step failed or was slow: every later step fetches everything
        self.stale = False  # the last step was lean: the big results held are of an earlier step
        self.untaken: set[tuple[str, str]] = set()
        self.pending: tuple[list, list] | None = None  # (keys, values) of the last plain step, not stored yet

    def _settle(self, values: dict[tuple[str, str], Any]) -> None:
        if self.pending is not None:
            values.update(zip(*self.pending))
            self.pending = None

    def catch_up(self, run: Any) -> None:
        """Store what the quick steps held aside (``ResultStore.catch_up``): the last plain step's values, and
        every number as an array, as storing each step at once gives."""
        values = run.results._values
        self._settle(values)
        for k in run.numbers:
            v = values.get(k)
            if v is not None and v.__class__ is not np.ndarray:
                values[k] = as_array(v)

    def wants(self, step: int, run: Any) -> int:
        final = run.n_steps and step + 1 == run.n_steps
        return ALL if step == 0 or final or self.lean_off or run.stopping else SCALARS

    def after(self, step: int, run: Any) -> None:
        values, lost = run.results._values, run.lost
        if self.quick and run.plain:
            self.pending = run.fetched[0]  # numbers as returned (numpy scalars): stored when a later step or
            self.stale = True               # the end needs them (nothing reads them as the run goes)
            if run.seconds > LEAN_STEP_SECONDS and not run.made:
                self.lean_off = True
            return
        self._settle(values)
        quick = run.numbers if run.lean and self.quick and not lost else _NONE
        grows = not run.lean and run.unfetched  # a full step tells which results are more than one number
        for k, v in run.produced.items():
            if k in quick and v is not None:
                values[k] = v  # a numpy scalar as returned: made an array when the run ends
                continue
            if v is None:  # on a branch a Switch did not take: TensorFlow computed nothing for it
                values.pop(k, None)
                self.untaken.add(k)
                continue
            arr = v if v.__class__ is np.ndarray else as_array(v)
            values[k] = arr
            if lost:
                lost.pop(k, None)
            if grows and arr.size != 1 and k in run.unfetched and k not in run.big:
                run.add_big(k)  # its static shape did not tell: lean steps run it without fetching it
        for k, (at, _) in lost.items():
            if at == step:
                values.pop(k, None)  # a value of an earlier step is not this step's
        if run.excluded_grew and (run.lean or self.stale):
            for k in run.big:
                if k[0] in run.excluded:
                    values.pop(k, None)  # not fetched since an earlier step: not this run's last value of it
        self.stale = run.lean
        if run.lean and (run.excluded_grew or (run.seconds > LEAN_STEP_SECONDS and not run.made)):
            self.lean_off = True

    def end(self, step: int, run: Any) -> None:
        run.results.catch_up = None  # the run is over: everything is stored now
        values, warnings = run.results._values, run.report.warnings
        self._settle(values)
        for k in run.numbers:
            v = values.get(k)
            if v is not None and v.__class__ is not np.ndarray:
                values[k] = as_array(v)
        if run.lean:  # the run ended early at a step that did not fetch everything
            for b, p in sorted(k for k in run.big if k in values):
                del values[(b, p)]
                warnings.append(BuildError(b, p, f"'{p}' has no value: the run ended at step {step}, "
                                                 "before its value was fetched"))
        for b, p in sorted(k for k in self.untaken if k not in values):
            warnings.append(BuildError(b, p, f"'{p}' has no value: it lies on a branch that a Switch did not take"))
        for (b, p), (at, why) in sorted(run.lost.items()):
            if (b, p) not in values and b not in run.report.failed_blocks:
                warnings.append(BuildError(b, p, f"'{p}' has no value: at step {at} {why} in the same session "
                                                 "run, and a step with stateful ops is never run twice"))


class History(Observer):
    """The per-step history of every result of one number (bool, integer or float). With ``quick`` (nothing
    reads the history as the run goes), the results of a plain lean step (``RunState.plain``) are kept as one row
    each and turned into history at the end (and every ``TRIM_EVERY`` steps)."""

    #: steps between the trimmings of histories longer than ``HISTORY_LIMIT`` (also done at the end)
    TRIM_EVERY = 1024

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.version = -1  # the run's lean lists the fed values below were read for
        self.fed: list[tuple[list[float], float]] = []  # (history, value) of the values fed that lean steps skip
        self.fed_steps = 0  # lean steps since the fed values' histories last grew
        self.untrimmed = 0  # steps since the last trimming
        self.rows: list[list[Any]] = []  # plain lean steps' results, each in the order of their keys
        self.columns: list[tuple[int, tuple[str, str]]] = []  # (index in a row, key) of each number in them
        self.row_version = -1

    def wants(self, step: int, run: Any) -> int:
        return SCALARS

    def after(self, step: int, run: Any) -> None:
        history = run.results._history
        if run.lean:
            # a lean step leaves out the values fed: they keep their value of the first step
            if self.version != run.version:
                self._grow()
                self.version = run.version
                values = run.results._values
                self.fed = [(history[k], values[k].item()) for k in run.fed_keys if k in history and k in values
                            and k[0] not in run.excluded]
            self.fed_steps += 1
        if self.quick and run.plain:
            keys, row = run.fetched[0]
            if self.row_version != run.version:
                self._flush(history)
                self.row_version = run.version
                self.columns = [(j, k) for j, k in enumerate(keys) if k in run.numbers]
            self.rows.append(row)
        else:
            self._flush(history)
            self._append(run, history)
        self.untrimmed += 1
        if self.untrimmed >= self.TRIM_EVERY:
            self._trim(history)

    def _append(self, run: Any, history: dict[tuple[str, str], list[float]]) -> None:
        """Add this step's value of each result of one number to its history."""
        values, numbers, scalars = run.results._values, run.numbers, run.scalars
        for k, v in run.produced.items():
            if v is None:
                continue
            if k in numbers:
                x = float(v)
            elif k in scalars:
                arr = values.get(k)
                if arr is None or arr.size != 1 or arr.dtype.kind not in "biuf":
                    continue
                x = float(arr.item())
            else:
                continue
            h = history.get(k)
            if h is None:
                h = history[k] = []
            h.append(x)

    def _flush(self, history: dict[tuple[str, str], list[float]]) -> None:
        """The rows kept (plain lean steps: every key one number) into the history."""
        if not self.rows:
            return
        columns = list(zip(*self.rows))  # the rows (of one length: one set of keys) turned at C speed
        for j, k in self.columns:
            h = history.get(k)
            if h is None:
                h = history[k] = []
            h.extend(map(float, columns[j]))
        self.rows = []

    def catch_up(self, run: Any) -> None:
        """Store the rows of the plain lean steps (``ResultStore.catch_up``), as the steps that store each value at
        once do (the values fed grow at the end, or when the lists change, as they do then)."""
        self._flush(run.results._history)

    def end(self, step: int, run: Any) -> None:
        self._grow()
        self._trim(run.results._history)

    def _grow(self) -> None:
        """Add the lean steps' (same) value to each fed value's history."""
        for h, x in self.fed:
            h.extend([x] * self.fed_steps)
        self.fed_steps = 0

    def _trim(self, history: dict[tuple[str, str], list[float]]) -> None:
        self._flush(history)
        for h in history.values():
            if len(h) > HISTORY_LIMIT:
                del h[: len(h) - HISTORY_LIMIT]
        self.untrimmed = 0


class OnStep(Observer):
    """The caller's ``on_step(step, results)``; ``step_results`` says what it reads: ``"all"`` or ``"scalars"``.
    It does not make the steps store their values at once: reading ``results`` catches up on what the steps
    held aside (``ResultStore.catch_up``), and a caller that reads it a few times a second (the worker) saves
    the storing of every other step."""

    def __init__(self, fn: Callable[[int, ResultStore], None], step_results: str) -> None:
        self.fn = fn
        self.level = SCALARS if step_results == "scalars" else ALL

    def wants(self, step: int, run: Any) -> int:
        return self.level

    def after(self, step: int, run: Any) -> None:
        self.fn(step, run.results)


class Debug(Observer):
    """SHOW_DEBUG: each step's fetched values (the ClientSession's fetches, if it names any) as lines of text."""

    reads_values = True

    def __init__(self, fn: Callable[[str], None], shown: list[tuple[str, str]] | None) -> None:
        self.fn = fn
        self.shown = shown

    def wants(self, step: int, run: Any) -> int:
        return ALL

    def after(self, step: int, run: Any) -> None:
        values, produced = run.results.values, run.produced
        shown = [k for k in (produced if self.shown is None else self.shown) if k in produced and k in values]
        self.fn(debug_text(step, {k: values[k] for k in shown}))


class TensorBoard(Observer):
    """``--logdir``: the page's graph at the first step, and every scalar result per step
    (``app.engine.tensorboard.EventLog``, which the run closes; ``graph_def()`` gives the graph)."""

    reads_values = True

    def __init__(self, log: Any, graph_def: Callable[[], Any]) -> None:
        self.log = log
        self.graph_def = graph_def

    def wants(self, step: int, run: Any) -> int:
        return SCALARS

    def after(self, step: int, run: Any) -> None:
        if step == 1:
            self.log.graph(self.graph_def())
        self.log.step(step, run.results.values)


class Stop(Observer):
    """Stops the run between steps when ``cancel`` is set, or after ``timeout`` seconds from ``started``."""

    def __init__(self, cancel: threading.Event | None, timeout: float | None, started: float) -> None:
        self.cancel = cancel
        self.timeout = timeout
        self.started = started

    def stop(self, step: int) -> str | None:
        if self.cancel is not None and self.cancel.is_set():
            return "stopped"
        if self.timeout is not None and step and time.perf_counter() - self.started > self.timeout:
            return "timeout"
        return None
