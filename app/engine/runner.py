"""The session runner: runs a built page, stores every result tensor, steps, stops.

``Runner.run(page)`` builds the page (or reuses the graph and session it built before when the page's
structure is unchanged: only values changed, so they are fed), then runs the session ``steps`` times.
Results land in a ``ResultStore`` keyed by (block, output), as the arrays the session returned (no
extra copy); scalars also keep a per-step history for trend plots. A TensorFlow error is attributed
to the block whose op raised it; later steps run without that block and everything downstream of it,
so the other blocks still report their results. On a TensorFlow cluster (``Runner(cluster=...)``), blocks run
on the task their device names and a task that is down or lost is reported with its blocks
(``app.engine.placement``); session calls are bounded so that nothing waits for ever on a server. A lost task
is handled like a failing block: its blocks and their dependants leave the step, and no group with effects
runs twice.

Exactly once per step. A step never runs an op twice, whatever fails. TensorFlow's ``Session.run`` is
all or nothing: when an op fails, the execution is aborted, nothing is returned, and which of the other
ops already ran is up to the scheduler. So a step is cut, once per graph, into *groups* that are
executed one after the other, each exactly once:

- The blocks are split into the connected parts of the TensorFlow graph (op inputs and control
  inputs, ignoring the edges out of fed pin values such as a Const's placeholder, which every part
  can be fed on its own). Parts that are independent cannot see each other's failure.
- A block has *effects* when one of its ops is stateful (Variables, random ops, queues, readers,
  Save, Print, CheckNumerics, ...) or takes a ref or resource input (Assign*, Apply*, ...). Every part
  that holds such a block is a group of its own. The parts without effects are merged into one
  group, run first.
- A group without effects that fails is run again without the failing block and its dependants:
  running ops without effects twice changes nothing, so this is safe and keeps their results.
- A group with effects that fails is never run again in that step. The failing block (and what
  depends on it) is reported; the group's blocks that are *pure* (no effects in them or upstream of
  them) and do not depend on the failing block are fetched again by a run of only those pure ops;
  the group's other results of that step are lost (TensorFlow does not hand them back) and, when no
  later step gives them a value, a warning says so. The run's next steps leave the failing block out.

This holds for the first step, for a block that fails only at a later step, for ``Step`` (``reset``
False: one step, from the Variables' current values) and for a run that is stopped (``cancel`` is
checked between steps, never inside one). The editor's worker runs pages through this class too.

Lean steps. Fetching a result copies it out of TensorFlow, most of a small step's time, and a run shows only
its last step's tensors; so between a run's first and last step, results of more than one number are run as
targets, not fetched, while scalars (and what the ClientSession fetches) are fetched at every step for their
history (``LEAN_STEP_SECONDS`` says when).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from enuflow.app.engine.analysis import Analysis, AnalysisCache, BuildError, analyse
from enuflow.app.engine.builder import BuiltGraph, build, clean_message
from enuflow.app.engine.devices import missing_devices
from enuflow.app.engine.step_groups import StepLayout
from enuflow.app.engine.placement import (PROBE_TIMEOUT, Placement, downstream, lost_errors, lost_tasks, own_task,
                                          place, target_task_of, tasks_in_message)
from enuflow.app.document.cluster import Cluster
from enuflow.app.engine.session_options import session_config
from enuflow.app.document.page import Page
from enuflow.blocks.base import BuildFailure
from enuflow.blocks.tf import load

#: scalar history kept per result pin (oldest steps are dropped beyond this)
HISTORY_LIMIT = 100_000
_UNFETCHABLE = ("resource", "variant")
_SWITCHES = ("Switch", "RefSwitch", "_SwitchN")
#: A run of many steps fetches its results of more than one number (and text) at its first and last step only
#: (*lean* steps between run those blocks without fetching them: fetching is most of a small step's time), when
#: nothing reads them at each step (no ``SHOW_DEBUG``, an ``on_step`` that reads only scalars). Scalars are
#: fetched at every step (their history). A run stopped or timed out after a lean step runs one more, full
#: step, so its results are all of one step; a step that fails or takes longer than this many seconds ends
#: lean steps for the run.
LEAN_STEP_SECONDS = 0.05
#: Values fed (Const blocks' and pins' values) are converted to tensors at every session call. A lean step
#: reads those of at most this many elements (strings of at most ``BAKED_TEXT`` bytes each) from Consts made
#: in the graph at the first lean step of a structure, bound to their placeholders for its callable only
#: (``CallableOptions.tensor_connection``); a value edited since is fed again until the graph is rebuilt.
BAKED_SIZE = 256
BAKED_TEXT = 4096
_NONE: frozenset = frozenset()
_DEAD = (0,)  # the shape of what TensorFlow hands back for a tensor on an untaken Switch branch
#: seconds each session call on a cluster may take when the run has no timeout of its own
DEFAULT_CLUSTER_TIMEOUT = 120.0


@dataclass
class ResultStore:
    """Result tensors of a run: ``values[(block, output)]`` and per-step ``history`` of scalars."""

    values: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    history: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def get(self, block: str, port: str) -> np.ndarray | None:
        return self.values.get((block, port))

    def of_block(self, block: str) -> dict[str, np.ndarray]:
        return {p: v for (b, p), v in self.values.items() if b == block}

    def clear(self) -> None:
        self.values.clear()
        self.history.clear()


@dataclass
class RunReport:
    """What a page run gives back: results, errors, steps done, and whether the graph was rebuilt."""

    results: ResultStore
    errors: list[BuildError]
    steps_done: int = 0
    rebuilt: bool = False
    stopped: bool = False
    seconds: float = 0.0
    failed_blocks: set[str] = field(default_factory=set)
    #: problems that did not stop the run (e.g. inert blocks skipped)
    warnings: list[BuildError] = field(default_factory=list)
    #: Variables were (re)initialised before the first step of this run
    initialised: bool = False
    #: the session's target (the server this run talks to) is down or stopped answering
    lost_target: bool = False
    #: the run ended at its timeout (after a full last step), before the steps it was asked for
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


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


def _layout(prepared: _Prepared) -> StepLayout:
    if prepared.layout is None:
        prepared.layout = StepLayout(prepared.built)
    return prepared.layout


def _may_be_scalar(built: BuiltGraph, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The fetched results that may be one number or truth value (and so enter the history): the others' dtype
    or static shape rules that out. (Fed values and handles, which are not fetched, are kept in too.)"""
    out = set()
    for k in keys:
        t = built.tensors.get(k)
        dt = getattr(t, "dtype", None)
        if dt is not None and (dt.base_dtype.name in ("string", "resource", "variant")
                               or (t.shape.is_fully_defined() and t.shape.num_elements() != 1)):
            continue
        out.add(k)
    return out


def _static_numbers(built: BuiltGraph, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The results among ``keys`` that are one real number or truth value by their static shape ([]) and dtype:
    the session hands each back as a numpy scalar (or nothing, on an untaken Switch branch)."""
    out = set()
    for k in keys:
        t = built.tensors.get(k)
        dt = getattr(t, "dtype", None)
        if dt is not None and t.shape.rank == 0 and (dt.is_integer or dt.is_floating or dt.is_bool):
            out.add(k)
    return out


def _handles(built: BuiltGraph, targets: list[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
    """Resource and variant outputs among ``targets``: a ``Handle`` result each (they have no value to fetch)."""
    from enuflow.app.document.tensors import handle_array

    out = {}
    for k in targets:
        t = built.tensors.get(k)
        if t is not None and hasattr(t, "dtype") and t.dtype.base_dtype.name in _UNFETCHABLE:
            shape = tuple(t.shape.as_list()) if t.shape.is_fully_defined() and t.shape.num_elements() <= 64 else ()
            out[k] = handle_array(t.dtype.base_dtype.name, shape)
    return out


class _Prepared:
    """A built graph with its session and the callables made for it."""

    def __init__(self, built: BuiltGraph, session: Any, allow_io: bool, placement: Placement | None = None) -> None:
        self.built = built
        self.session = session
        self.allow_io = allow_io
        self.placement = placement
        self.lost = False  # a cluster task stopped answering: closing the session may wait for it
        self.callables: dict[tuple, Any] = {}
        #: per (keys, targets): the slots (indices into ``built.slots``) their ops read
        self.needs: dict[tuple, list[int]] = {}
        #: per slot: (its value's key, ``_value_key``; the Const that holds it in the graph), made for lean steps
        self.baked: dict[int, tuple[Any, Any]] = {}
        self.layout: StepLayout | None = None
        #: (keys, targets, their groups, each group's step callable and handles) of the last step: the run loop
        #: passes the same lists step after step
        self.last_groups: tuple[list, list, list, list] | None = None
        self.device_warnings: list[BuildError] = []
        #: (the session plan's block, fetches, targets) and the fetches and targets it gives (``Runner._selection``)
        self.selection: tuple[tuple, tuple[list, list]] | None = None
        #: the selection's results that may be a single number (``_may_be_scalar``)
        self.scalars: set[tuple[str, str]] = set()
        #: those that are one number by their static shape and dtype (``_static_numbers``), found at the first
        #: lean step
        self.numbers: set[tuple[str, str]] | None = None
        self.initialised = False  # Variables hold values (their initialisers have run in this session)
        self.config: Any = None  # the session's ConfigProto (whether the graph optimizer runs)


class Runner:
    """Runs pages; keeps the last built graph and session to reuse while the structure is unchanged.

    ``target`` is a grpc session target; with a ``cluster`` (``app.document.cluster.Cluster``) and no target, the
    cluster's first chief or worker task is the target, blocks are placed on tasks by their ``device``, only
    the tasks the page uses are waited for, and a task that is down or lost is reported by name with its
    blocks. ``timeout`` (seconds) bounds the run: each session call, and the steps as a whole (checked
    between steps); on a cluster without one, each call is bounded by ``DEFAULT_CLUSTER_TIMEOUT``.
    """

    def __init__(self, target: str = "", device: str = "", cluster: Cluster | None = None,
                 timeout: float | None = None) -> None:
        self.cluster = cluster
        self.target = target or (cluster.target() if cluster is not None else "")
        self.target_task = target_task_of(cluster, self.target)
        self.device = device
        self.timeout = timeout
        self._prepared: _Prepared | None = None
        self.builds = 0
        self._analyses = AnalysisCache()  # a value edit re-reads only the pins that changed

    @property
    def remote(self) -> bool:
        """Whether runs go to a TensorFlow server (a grpc target) rather than this process."""
        return bool(self.target)

    def _call_timeout(self) -> float | None:
        """Seconds one session call may take, leaving time within the run's timeout to name a lost task."""
        if self.timeout is not None:
            # a lost task is found by asking each task for up to PROBE_TIMEOUT seconds after the call fails
            if not self.remote:
                return self.timeout
            return max(0.5, min(self.timeout * 0.8, self.timeout - PROBE_TIMEOUT - 1.0))
        return DEFAULT_CLUSTER_TIMEOUT if self.remote else None

    def close(self) -> None:
        """Close the session; one that lost a cluster task is closed on a side thread, never waited for."""
        p, self._prepared = self._prepared, None
        if p is None:
            return
        if p.lost:
            threading.Thread(target=_close_quietly, args=(p.session,), name="enuflow-session-close",
                             daemon=True).start()
        else:
            _close_quietly(p.session)

    # -- building ---------------------------------------------------------------------------
    def prepare(self, page: Page, allow_io: bool = False) -> tuple[_Prepared, Analysis, bool]:
        """Analyse ``page`` and return its prepared graph (rebuilt only when the structure changed)."""
        an = analyse(page, allow_io=allow_io, cache=self._analyses)
        tf = load()
        if self.target and self.cluster is None and self.target_task is None:
            # a target without a cluster file places blocks once it has said which task it is
            self.target_task = own_task(tf, self.target)[0]
        placement = place(an, self.device, self.cluster, self.target_task, self.target, tf) \
            if self.cluster is not None or self.target_task else None
        p = self._prepared
        if p is not None and not p.lost and p.built.signature == an.signature and p.allow_io == allow_io \
                and (placement is None or p.placement is None or placement.down == p.placement.down):
            return p, an, False
        self.close()
        built = build(page, an, allow_io=allow_io, device=self.device,
                      skip=placement.skipped() if placement is not None else ())
        if placement is not None:
            built.errors.extend(placement.errors_before_run())
        self.builds += 1
        config = session_config(an.plan.optimize, built.graph)
        if placement is not None:
            config.device_filters.extend(placement.filters())
        call_timeout = self._call_timeout()
        if call_timeout is not None:
            config.operation_timeout_in_ms = int(call_timeout * 1000)
        session = tf.compat.v1.Session(self.target, graph=built.graph, config=config)
        self._prepared = _Prepared(built, session, allow_io, placement)
        self._prepared.config = config
        if not self.target:
            self._prepared.device_warnings = missing_devices(page, built, session, self.device)
        return self._prepared, an, True

    # -- running ----------------------------------------------------------------------------
    def run(self, page: Page, steps: int | None = None, allow_io: bool = False,
            on_step: Callable[[int, ResultStore], None] | None = None,
            cancel: threading.Event | None = None, reset: bool = True,
            on_debug: Callable[[str], None] | None = None, logdir: str | None = None,
            step_results: str = "all") -> RunReport:
        """Run ``page``; ``steps`` overrides the ClientSession's (0 = until ``cancel`` is set).

        ``on_step(step, results)`` is called after every step; ``step_results`` says what it reads of them:
        ``"all"``, or ``"scalars"`` (results of one number), which lets the steps between the first and the last
        skip fetching the others (``LEAN_STEP_SECONDS``). When the ClientSession's ``SHOW_DEBUG``
        is on, ``on_debug(text)`` gets each step's fetched values as readable lines. ``reset`` re-initialises Variables
        before the first step (a fresh run); False continues from their current values (step by step),
        initialising them only when this graph has not run yet (a new or changed structure).
        ``logdir`` writes TensorBoard event files there (``app.engine.tensorboard``): the graph, and every
        scalar result per step.
        Never raises for a problem of the page: problems come back in ``RunReport.errors``.
        """
        if logdir:
            from enuflow.app.engine.tensorboard import EventLog

            try:
                log = EventLog(logdir)
            except OSError as e:
                results = ResultStore()
                return RunReport(results, [BuildError(None, None, f"--logdir {logdir}: cannot be written "
                                                                  f"({e.strerror or e})")])
            inner = on_step

            def on_step(step: int, results: ResultStore) -> None:
                if step == 1 and self._prepared is not None:
                    log.graph(page_graph_def(self._prepared))
                log.step(step, results.values)
                if inner is not None:
                    inner(step, results)

            try:
                return self.run(page, steps, allow_io, on_step, cancel, reset, on_debug,
                                step_results="scalars" if inner is None else step_results)
            finally:
                log.close()
        t0 = time.perf_counter()
        tf = load()
        prepared, an, rebuilt = self.prepare(page, allow_io)
        built = prepared.built
        results = ResultStore()
        report = RunReport(results, list(built.errors), rebuilt=rebuilt)
        report.warnings = list(an.warnings) + prepared.device_warnings
        report.lost_target = prepared.placement is not None and prepared.placement.target_down
        try:
            feeds = built.feed_values(an)
        except BuildFailure as e:
            report.errors.append(BuildError(None, None, e.message))
            return report
        plan = an.plan
        if steps is None:
            n_steps = 0 if plan.infinite else plan.steps
        else:
            n_steps = steps
        # what a step fetches and runs follows from the structure: worked out once per graph and session plan
        chosen = (plan.block, tuple(plan.fetches), tuple(plan.targets))
        if prepared.selection is None or prepared.selection[0] != chosen:
            prepared.selection = (chosen, self._selection(built, an))
            prepared.scalars = _may_be_scalar(built, prepared.selection[1][0])
            prepared.numbers = None
        fetch_keys, target_keys = prepared.selection[1]
        scalars = prepared.scalars
        plan_fetches = set(plan.fetches)
        fed = {id(sl.placeholder) for sl in built.slots}
        fed_keys = {k for k in fetch_keys if id(built.tensors[k]) in fed}  # the same value at every step of a run
        unfetched = {k for k in fetch_keys if k not in plan_fetches and k not in fed_keys}
        excluded: set[str] = set()
        session = prepared.session

        if built.init_ops and (reset or not prepared.initialised):
            try:
                session.run(built.init_ops, feed_dict=dict(zip((s.placeholder for s in built.slots), feeds)))
            except tf.errors.OpError as e:
                if self._connection_error(tf, e):
                    self._lost(tf, prepared, an, e, excluded, report)
                    return report
                bid = self._blame(built, e)
                report.errors.append(BuildError(bid, None, "initialising: " + clean_message(e.message)))
                report.failed_blocks.add(bid or "")
                return report
            prepared.initialised = True
            report.initialised = True

        untaken: set[tuple[str, str]] = set()
        #: results a failed group with effects lost: (step, why: the block that failed or a lost cluster task)
        lost: dict[tuple[str, str], tuple[int, str]] = {}
        debug = on_debug if plan.show_debug else None
        # lean steps (see ``LEAN_STEP_SECONDS``): allowed when nothing reads a step's larger results as it ends
        lean_ok = debug is None and (on_step is None or step_results == "scalars")
        # results a lean step runs but does not fetch: those of more than one number (or text), but for what the
        # ClientSession fetches and the values fed
        big = {k for k in unfetched if k not in scalars}
        lean_lists: tuple[list, list] | None = None
        fed_history: list[tuple[list[float], float]] = []
        fed_steps = 0
        was_lean = False
        stopping: str | None = None  # why the run stops after a last, full step
        step = 0
        seen_excluded = -1
        values, history = results.values, results.history
        keys: list[tuple[str, str]] = []
        targets: list[tuple[str, str]] = []
        while n_steps == 0 or step < n_steps:
            why_stop = None
            if cancel is not None and cancel.is_set():
                why_stop = "stopped"
            elif self.timeout is not None and step and time.perf_counter() - t0 > self.timeout:
                why_stop = "timeout"
            if why_stop is not None and stopping is None:
                if not was_lean:
                    self._stop(report, why_stop, step)
                    break
                stopping = why_stop  # the last step did not fetch everything: one more, full step ends the run
            if len(excluded) != seen_excluded:  # blocks only ever join ``excluded``: its size tells a change
                seen_excluded = len(excluded)
                keys = [k for k in fetch_keys if k[0] not in excluded]
                targets = [k for k in target_keys if k[0] not in excluded]
                lean_lists = None
            if not keys and not targets:
                break
            lean = lean_ok and step > 0 and stopping is None and step + 1 != n_steps
            if lean_lists is None and fed_steps:
                _grow(fed_history, fed_steps)
                fed_steps = 0
            if lean and lean_lists is None:
                # a lean step leaves out the values fed too: they keep their value (and history) of the first step
                lean_lists = ([k for k in keys if k not in big and k not in fed_keys],
                              targets + [k for k in keys if k in big])
                fed_history = [(history[k], values[k].item()) for k in keys if k in fed_keys and k in history]
            step_keys, step_targets = lean_lists if lean else (keys, targets)
            if lean:
                fed_steps += 1  # their history grows by these steps' (same) values at the end of the run
            produced: dict[tuple[str, str], Any] = {}
            excluded_before = len(excluded)
            started = time.perf_counter()
            if step_keys or step_targets:
                ran, give_up = self._step(prepared, an, step_keys, step_targets, feeds, excluded, produced, lost,
                                          step + 1, report, big if lean else _NONE, lean)
                if not ran:
                    break
            else:
                give_up = False  # a lean step of a page that only shows the values it is fed: nothing to run
            if lean and (len(excluded) != excluded_before or time.perf_counter() - started > LEAN_STEP_SECONDS):
                lean_ok = False  # after a failure, or once steps are slow, every step fetches everything
                for k in big:
                    if k[0] in excluded:
                        values.pop(k, None)  # not fetched since an earlier step: not this run's last value of it
            was_lean = lean
            # when nothing reads results as the run goes, a lean step keeps the numbers of ``prepared.numbers``
            # as the session returned them (numpy scalars); they are made arrays when the run ends
            quick = _NONE
            if lean and not lost and on_step is None:
                if prepared.numbers is None:
                    prepared.numbers = _static_numbers(built, scalars)
                quick = prepared.numbers
            for k, v in produced.items():
                if k in quick and v is not None:
                    values[k] = v  # a numpy scalar as returned: made an array when the run ends
                    x = float(v)
                else:
                    if v is None:  # on a branch a Switch did not take: TensorFlow computed nothing for it
                        values.pop(k, None)
                        untaken.add(k)
                        continue
                    arr = v if v.__class__ is np.ndarray else as_array(v)
                    values[k] = arr
                    if lost:
                        lost.pop(k, None)
                    if k not in scalars:
                        continue
                    if arr.size != 1:
                        if lean_ok and not lean and k in unfetched:
                            big.add(k)  # more than one number (its static shape did not tell): lean steps skip it
                            lean_lists = None
                        continue
                    if arr.dtype.kind not in "biuf":
                        continue
                    x = float(arr.item())
                h = history.get(k)
                if h is None:
                    h = history[k] = []
                h.append(x)
                if len(h) > HISTORY_LIMIT:
                    del h[: len(h) - HISTORY_LIMIT]
            for k, (at, _) in lost.items():
                if at == step + 1:
                    results.values.pop(k, None)  # a value of an earlier step is not this step's
            step += 1
            report.steps_done = step
            if debug is not None:
                shown = [k for k in (plan.fetches if plan.block is not None else produced) if k in produced]
                debug(debug_text(step, {k: results.values[k] for k in shown if k in results.values}))
            if on_step is not None:
                on_step(step, results)
            if stopping is not None:
                self._stop(report, stopping, step)
                break
            if give_up:
                break
        if fed_steps:
            _grow(fed_history, fed_steps)
        for k in prepared.numbers or ():
            v = values.get(k)
            if v is not None and v.__class__ is not np.ndarray:
                values[k] = as_array(v)
        if was_lean:  # the run ended early at a step that did not fetch everything
            for b, p in sorted(k for k in big if k in values):
                del values[(b, p)]
                report.warnings.append(BuildError(b, p, f"'{p}' has no value: the run ended at step {step}, "
                                                        "before its value was fetched"))
        for b, p in sorted(k for k in untaken if k not in results.values):
            report.warnings.append(BuildError(b, p, f"'{p}' has no value: it lies on a branch that a Switch did "
                                                    "not take"))
        for (b, p), (at, why) in sorted(lost.items()):
            if (b, p) not in results.values and b not in report.failed_blocks:
                report.warnings.append(BuildError(b, p, f"'{p}' has no value: at step {at} {why} "
                                                        "in the same session run, and a step with stateful ops is "
                                                        "never run twice"))
        report.seconds = time.perf_counter() - t0
        return report

    def _stop(self, report: RunReport, why: str, step: int) -> None:
        """Record that the run stopped before its last step: asked to (``cancel``), or past its timeout."""
        if why == "timeout":
            report.timed_out = True
            report.errors.append(BuildError(None, None, f"timed out after {step} step{'s' if step != 1 else ''} "
                                                        f"(the run's timeout is {self.timeout:g} s); the results "
                                                        f"are those of step {step}"))
        report.stopped = True

    # -- one step -------------------------------------------------------------------------------
    def _step(self, prepared: _Prepared, an: Analysis, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
              feeds: list[Any], excluded: set[str], produced: dict[tuple[str, str], Any],
              lost: dict[tuple[str, str], tuple[int, str]], step: int, report: RunReport,
              big: frozenset | set = _NONE, lean: bool = False) -> tuple[bool, bool]:
        """Run one step, each group exactly once (see the module's doc); fills ``produced``. ``big``: results
        among ``targets`` that a lean step runs without fetching (fetched only if the step fails); ``lean``:
        this is such a step (its small values fed come from Consts in the graph, ``BAKED_SIZE``).

        Returns (something ran, the run must end: an error no block could be blamed for)."""
        layout = _layout(prepared)
        ran = False
        last = prepared.last_groups  # the run loop hands the same lists while nothing new is excluded
        if last is None or last[0] is not keys or last[1] is not targets:
            groups = layout.groups(keys, targets)
            # per group: its step callable and the handles its targets give, found on its first use
            last = prepared.last_groups = (keys, targets, groups, [None] * len(groups))
        made = last[3]
        excluded_at_start = len(excluded)
        for gi, (effects, gkeys, gtargets) in enumerate(last[2]):
            fresh = len(excluded) == excluded_at_start  # the lists were made without what this step excluded
            if not fresh:
                gkeys = [k for k in gkeys if k[0] not in excluded]
                gtargets = [k for k in gtargets if k[0] not in excluded]
            if not gkeys and not gtargets:
                continue
            step_fn = made[gi] if fresh else None
            if step_fn is None:
                step_fn = self._step_fn(prepared, gkeys, gtargets, feeds if lean and not self.remote else None)
                if fresh:
                    made[gi] = step_fn
            if not effects:
                ok, did = self._run_retrying(prepared, an, gkeys, gtargets, feeds, excluded, produced, report,
                                             step_fn, big)
                ran = ran or did
                if not ok:
                    return ran, True
                continue
            tf = load()
            try:
                out = step_fn[0](feeds)
            except tf.errors.OpError as e:
                ran = True
                why = self._failed(tf, prepared, an, e, excluded, report)
                if why is None:
                    return ran, True
                # the pure blocks of this group can be fetched again; its other results are lost
                if big:
                    gkeys = gkeys + [k for k in gtargets if k in big]
                again = [k for k in gkeys if layout.is_pure(k) and k[0] not in excluded]
                for k in gkeys:
                    if k[0] not in excluded and k not in again:
                        lost[k] = (step, why)
                if again:
                    ok, _ = self._run_retrying(prepared, an, again, [], feeds, excluded, produced, report)
                    if not ok:
                        return ran, True
                continue
            ran = True
            produced.update(zip(gkeys, out))
            if step_fn[1]:
                produced.update(step_fn[1])
        return ran, False

    def _run_retrying(self, prepared: _Prepared, an: Analysis, keys: list[tuple[str, str]],
                      targets: list[tuple[str, str]], feeds: list[Any], excluded: set[str],
                      produced: dict[tuple[str, str], Any], report: RunReport,
                      step_fn: tuple[Any, dict] | None = None, big: frozenset | set = _NONE) -> tuple[bool, bool]:
        """Run ops without effects; a failing block (and its dependants) is dropped and the rest run again.
        ``step_fn``: the callable and handles of ``keys`` and ``targets``, when the caller has them; ``big``:
        results among ``targets`` run without fetching, fetched when the ops run again.

        Returns (no unattributable error, something ran)."""
        tf = load()
        while keys or targets:
            if step_fn is None:
                step_fn = self._step_fn(prepared, keys, targets)
            try:
                out = step_fn[0](feeds)
            except tf.errors.OpError as e:
                if self._failed(tf, prepared, an, e, excluded, report) is None:
                    return False, False
                keys = [k for k in keys if k[0] not in excluded]
                targets = [k for k in targets if k[0] not in excluded]
                if big:
                    keys += [k for k in targets if k in big]
                    targets = [k for k in targets if k not in big]
                step_fn = None
                continue
            produced.update(zip(keys, out))
            if step_fn[1]:
                produced.update(step_fn[1])
            return True, True
        return True, False

    def _failed(self, tf: Any, prepared: _Prepared, an: Analysis, e: Any, excluded: set[str],
                report: RunReport) -> str | None:
        """Report a failed session call: the block whose op raised ``e`` (or the cluster tasks that stopped
        answering) leaves the run with what depends on it. Returns why, for the results the call lost, or None
        when the run cannot go on (an error no block can be blamed for, or the cluster is gone)."""
        if self._connection_error(tf, e):
            return "a cluster task stopped answering" if self._lost(tf, prepared, an, e, excluded, report) else None
        bid = self._blame(prepared.built, e)
        report.errors.append(BuildError(bid, None, clean_message(e.message)))
        if bid is None or bid in excluded:
            return None
        report.failed_blocks.add(bid)
        excluded.add(bid)
        excluded.update(nx.descendants(an.dag, bid))
        return f"block '{bid}' failed"

    def _connection_error(self, tf: Any, e: Any) -> bool:
        """Whether ``e`` says a TensorFlow server did not answer (only a remote session has servers)."""
        return self.remote and isinstance(e, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                                              tf.errors.AbortedError))

    def _lost(self, tf: Any, prepared: _Prepared, an: Analysis, e: Any, excluded: set[str],
              report: RunReport) -> bool:
        """Report the cluster tasks that stopped answering and exclude their blocks and dependants.

        Returns True when the run can go on without them (the session's target task still answers).
        """
        placement = prepared.placement or Placement(None, self.target_task)
        prepared.lost = True
        deadline = isinstance(e, tf.errors.DeadlineExceededError)
        if placement.knows_tasks:
            gone = {t for t in placement.used if not set(placement.blocks_on(t)) - excluded}
            lost = lost_tasks(tf, placement, (placement.used | {self.target_task or ""}) - gone - {""})
        else:
            lost = tasks_in_message(str(e.message))
        call = self._call_timeout()
        why = f"stopped answering during the run (no answer within {call:g} s)" if deadline and call else \
            "stopped answering during the run (connection lost)"
        if not lost:
            report.lost_target = not placement.knows_tasks  # no task to blame but the server the session talks to
            text = f"the cluster did not answer within {call:g} s" if deadline and call else \
                "the cluster connection failed: " + clean_message(e.message)
            report.errors.append(BuildError(None, None, text))
            return False
        newly: set[str] = set()
        for t in sorted(lost):
            blocks = [b for b in placement.blocks_on(t) if b not in excluded]
            report.errors.extend(lost_errors(placement, t, blocks, why))
            report.failed_blocks.update(blocks)
            newly.update(blocks)
        excluded.update(downstream(an, newly))
        report.lost_target = not placement.knows_tasks or self.target_task in lost
        # going on is only worth it when the target answers and the lost tasks' blocks are now left out
        return placement.knows_tasks and self.target_task not in lost and bool(newly)

    @staticmethod
    def _blame(built: BuiltGraph, e: Any) -> str | None:
        op = getattr(e, "op", None)
        name = getattr(op, "name", None) if op is not None else None
        if name is None:
            nd = getattr(e, "node_def", None)
            name = getattr(nd, "name", None) if nd is not None else None
        if name is None:
            import re

            m = re.search(r"node '?([A-Za-z0-9_.\-/]+)", str(getattr(e, "message", "")))
            name = m.group(1) if m else None
        return built.block_of_op(name) if name else None

    @staticmethod
    def _selection(built: BuiltGraph, an: Analysis) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(outputs to fetch for display, ops to run) for one step."""
        plan = an.plan
        if plan.block is None:
            blocks = set(built.built)
            targets = [k for k in built.operations if k[0] in blocks]
            # a block whose outputs cannot be fetched (resources, variants) still runs once
            targets += [k for k, t in built.tensors.items() if k[0] in blocks and hasattr(t, "dtype")
                        and t.dtype.base_dtype.name in _UNFETCHABLE]
        else:
            wanted = {b for b, _ in plan.fetches} | {b for b, _ in plan.targets}
            blocks = set()
            for b in wanted:
                blocks.add(b)
                blocks.update(nx.ancestors(an.dag, b))
            blocks &= set(built.built)
            targets = [k for k in plan.targets + plan.fetches if k in built.operations]
        keys = [k for k, t in built.tensors.items() if k[0] in blocks and hasattr(t, "dtype")
                and t.dtype.base_dtype.name not in _UNFETCHABLE]
        return keys, targets

    @classmethod
    def _step_fn(cls, prepared: _Prepared, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
                 feeds: list[Any] | None = None) -> tuple[Any, dict[tuple[str, str], np.ndarray]]:
        """What running ``keys`` and ``targets`` takes: their callable, and the handle results its targets give.
        ``feeds`` (a lean step's values): its small values are read from Consts (``BAKED_SIZE``)."""
        return cls._callable(prepared, keys, targets, feeds), _handles(prepared.built, targets)

    @staticmethod
    def _callable(prepared: _Prepared, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
                  feeds: list[Any] | None = None) -> Any:
        built = prepared.built
        pair = (tuple(keys), tuple(targets))
        used = prepared.needs.get(pair)
        if used is None:
            # only the values this step needs are fed (each fed value is converted at every call)
            fed_ops = {s.placeholder.op for s in built.slots}  # a fetched value fed is not read from the graph
            needed = _needed_ops([op for op in _step_ops(built, keys, targets) if op not in fed_ops])
            used = prepared.needs[pair] = [i for i, s in enumerate(built.slots) if s.placeholder.op in needed]
        baked = _bake(prepared, used, feeds) if feeds is not None and used else ()
        sig = (pair[0], pair[1], baked)
        fn = prepared.callables.get(sig)
        if fn is None:
            feed_list = [s.placeholder for s in built.slots]
            fed_at = {id(t): i for i, t in enumerate(feed_list)}
            # a fed placeholder (a Const's value) cannot also be fetched: its result is the value fed
            plan: list[tuple[bool, int]] = []
            fetches = []
            for k in keys:
                t = built.tensors[k]
                if id(t) in fed_at:
                    plan.append((True, fed_at[id(t)]))
                else:
                    plan.append((False, len(fetches)))
                    fetches.append(t)
            ops = [_target_op(built, k) for k in targets]
            # CallableOptions give a compiled step that takes the feeds positionally; Session.make_callable
            # with a feed_list falls back to Session.run's slow per-call feed and fetch handling
            from tensorflow.core.protobuf import config_pb2

            opts = config_pb2.CallableOptions()
            if baked:
                for i in baked:  # the value's Const stands for the placeholder in this callable's graph
                    link = opts.tensor_connection.add()
                    link.from_tensor = prepared.baked[i][1].name
                    link.to_tensor = feed_list[i].name
                used = [i for i in used if i not in baked]
            opts.feed.extend(feed_list[i].name for i in used)
            opts.fetch.extend(t.name for t in fetches)
            opts.target.extend(op.name for op in ops)
            if fetches or ops:
                inner = prepared.session._make_callable_from_options(opts)
            else:
                def inner(*feeds: Any) -> list[Any]:
                    return []

            # TensorFlow hands back an empty array for a tensor on an untaken Switch branch ("dead");
            # where the graph has Switches, a result whose shape contradicts the static shape is such a one
            switchy = any(op.type in _SWITCHES for op in built.graph.get_operations())
            # (the static shapes are read once here: only a fetch whose static shape cannot be [0] is checked)
            checks = [j for j in range(len(fetches)) if not fetches[j].shape.is_compatible_with([0])] \
                if switchy else []

            if len(used) == len(feed_list):
                used = None

            subset: list[Any] = [None, None]  # (the feeds list last given, the part of it fed)
            # every key fetched, in order (a lean step's keys leave out the values fed): the results as they come
            as_fetched = all(not fed and i == j for j, (fed, i) in enumerate(plan))

            def fn(feeds: list[Any], _inner: Any = inner, _plan: list = plan, _checks: list = checks,
                   _used: list[int] | None = used, _subset: list = subset, _as_fetched: bool = as_fetched) -> list[Any]:
                """The step's results in the order of its keys, from the values of all slots (``feeds``)."""
                if _used is None:
                    out = _inner(*feeds)
                else:
                    if _subset[0] is not feeds:  # a run hands the same list at every step
                        _subset[0], _subset[1] = feeds, [feeds[i] for i in _used]
                    out = _inner(*_subset[1])
                for j in _checks:
                    arr = out[j]
                    # (a scalar comes back as a numpy scalar, a scalar string as bytes: neither is an array)
                    if arr.__class__ is np.ndarray and arr.shape == _DEAD:
                        out[j] = None
                if _as_fetched:
                    return out
                return [feeds[i] if fed else out[i] for fed, i in _plan]

            prepared.callables[sig] = fn
        return fn


def _target_op(built: BuiltGraph, k: tuple[str, str]) -> Any:
    """The op that running target ``k`` runs: a block's operation, or the op making the output."""
    return built.operations[k] if k in built.operations else built.tensors[k].op


def _step_ops(built: BuiltGraph, keys: list[tuple[str, str]], targets: list[tuple[str, str]]) -> list[Any]:
    """The ops that fetching ``keys`` and running ``targets`` asks for."""
    return [built.tensors[k].op for k in keys] + [_target_op(built, k) for k in targets]


def _value_key(v: np.ndarray) -> Any:
    """What tells two values fed apart: dtype, shape and contents (bytes, so NaN equals NaN)."""
    if v.dtype.kind == "O":
        return v.shape, tuple(v.reshape(-1).tolist())
    return v.dtype.str, v.shape, v.tobytes()


def _bakeable(v: Any) -> bool:
    if v.__class__ is not np.ndarray or v.size > BAKED_SIZE:
        return False
    if v.dtype.kind == "O":
        return all(isinstance(x, (bytes, str)) and len(x) <= BAKED_TEXT for x in v.reshape(-1).tolist())
    return v.dtype.kind in "biufc"


def _bake(prepared: _Prepared, used: list[int], feeds: list[Any]) -> tuple[int, ...]:
    """The slots among ``used`` whose value is read from a Const in the graph: small values (``BAKED_SIZE``)
    equal to the value baked for the slot, which is made here the first time (for the values of this run)."""
    out = []
    baked = prepared.baked
    for i in used:
        v = feeds[i]
        if not _bakeable(v):
            continue
        key = _value_key(v)
        have = baked.get(i)
        if have is None:
            t = _make_const(prepared.built, i, v)
            if t is None:
                continue
            have = baked[i] = (key, t)
        if have[0] == key:
            out.append(i)
    return tuple(out)


def _make_const(built: BuiltGraph, i: int, v: np.ndarray) -> Any:
    """A Const in ``built.graph`` holding ``v``, slot ``i``'s value, beside its placeholder (None if ``v`` cannot
    be one)."""
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.python.framework import tensor_util

    ph = built.slots[i].placeholder
    try:
        proto = tensor_util.make_tensor_proto(v, dtype=ph.dtype, shape=v.shape)
    except (TypeError, ValueError):
        return None
    attrs = {"value": attr_value_pb2.AttrValue(tensor=proto),
             "dtype": attr_value_pb2.AttrValue(type=ph.dtype.as_datatype_enum)}
    # named under the placeholder, so a message about it names the block
    op = built.graph._create_op_internal("Const", [], name=ph.op.name + "/baked", attrs=attrs)
    if ph.op.device:
        op._set_device(ph.op.device)
    return op.outputs[0]


def page_graph_def(prepared: _Prepared) -> Any:
    """The GraphDef of ``prepared``'s graph without the Consts made for lean steps (``BAKED_SIZE``): the page's."""
    gd = prepared.built.graph.as_graph_def()
    baked = {t.op.name for _, t in prepared.baked.values()}
    if baked:
        kept = [n for n in gd.node if n.name not in baked]
        del gd.node[:]
        gd.node.extend(kept)
    return gd


def _grow(histories: list[tuple[list[float], float]], steps: int) -> None:
    """Add ``steps`` times its value to each history (values fed: the same at every step of a run)."""
    for h, x in histories:
        h.extend([x] * steps)
        if len(h) > HISTORY_LIMIT:
            del h[: len(h) - HISTORY_LIMIT]


def _needed_ops(ops: list[Any]) -> set[Any]:
    """The ops that running ``ops`` runs: they and everything upstream (op and control inputs)."""
    seen: set[Any] = set()
    stack = list(ops)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except Exception:  # noqa: BLE001,S110 - a session whose server is gone cannot be closed any better
        pass


def run_page(page: Page, steps: int | None = None, allow_io: bool = False, device: str = "",
             target: str = "", cluster: Cluster | None = None, timeout: float | None = None, **kw: Any) -> RunReport:
    """Build and run ``page`` once with a fresh runner."""
    runner = Runner(target=target, device=device, cluster=cluster, timeout=timeout)
    try:
        return runner.run(page, steps=steps, allow_io=allow_io, **kw)
    finally:
        runner.close()
