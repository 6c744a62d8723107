"""The session runner: runs a built page, stores every result tensor, steps, stops.

``Runner.run(page)`` builds the page (or reuses the graph and session it built before when the page's
structure is unchanged: only values changed, so they are fed), then runs the session ``steps`` times.
Results land in a ``ResultStore`` keyed by (block, output), as the arrays the session returned (no
extra copy); scalars also keep a per-step history for trend plots. A TensorFlow error is attributed
to the block whose op raised it (whether it is raised when the step's callable is made or when it runs);
later steps run without that block and everything downstream of it, so the other blocks still report
their results. On a TensorFlow cluster (``Runner(cluster=...)``), blocks run on the task their device names
and a task that is down or lost is reported with its blocks (``app.engine.placement``); session calls are
bounded so that nothing waits for ever on a server. A lost task is handled like a failing block.

The step loop. ``Runner.run`` is a short loop over steps; what each step fetches, and what is done with it,
comes from small observers (``app.engine.observers``, like TensorFlow's ``SessionRunHook``): the results,
their scalar history, the caller's ``on_step``, SHOW_DEBUG's text, TensorBoard, and stop/timeout.

One session call per step, exactly once. A step is one call of the whole page, as TensorFlow runs it: parts
of the graph tied only through a queue's ``shared_name`` run together, and a step costs one call however
many independent parts the page has. A step never runs an op twice, whatever fails. TensorFlow's call is all
or nothing for what it returns: when an op fails, nothing comes back, while the ops that do not depend on the
failing one still run (once; an op waiting on a queue is cancelled). So when the call fails:

- the failing block is the one owning the node TensorFlow names (``BuiltGraph.block_of_op``); it and what
  depends on it leave the run (reported as errors);
- a block has *effects* when one of its ops is stateful (Variables, random ops, queues, readers, Save,
  Print, CheckNumerics, ...) or takes a ref or resource input (Assign*, Apply*, ...); a block is *pure*
  when neither it nor anything upstream has effects (``app.engine.step_groups``). The pure results are
  fetched again by a run of only those ops (running them twice changes nothing);
- the other results of that step are lost (TensorFlow does not hand them back) and, when no later step gives
  them a value, a warning says so. Their ops ran once in the failed call and are not run again.

When the step's callable cannot be made (TensorFlow makes the kernels with it and may refuse one, naming its
node), nothing has run: the block is blamed and the call is made again without it and what depends on it.

A block that failed in the last run of the same graph (a Step, F10, after a run) is run apart in the next
one: its part of the graph is run in a call of its own after the rest, so its failure costs the other
parts nothing (``StepLayout.calls``); a run in which it does not fail forgets it.

Lean steps. Fetching a result copies it out of TensorFlow, most of a small step's time, and a run shows only
its last step's tensors; so when no observer reads a step's larger results, results of more than one number
are run as targets, not fetched, while scalars (and what the ClientSession fetches) are fetched at every
step for their history (``observers.LEAN_STEP_SECONDS`` says when).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from enuflow.app.engine import observers as obs
from enuflow.app.engine.analysis import Analysis, AnalysisCache, BuildError, analyse
from enuflow.app.engine.builder import BuiltGraph, build, clean_message
from enuflow.app.engine.callables import _SWITCHES, _UNFETCHABLE, _handles, step_callable
from enuflow.app.engine.devices import missing_devices
from enuflow.app.engine.observers import LEAN_STEP_SECONDS, ResultStore  # noqa: F401 - LEAN_STEP_SECONDS: the docs
from enuflow.app.engine.rerun_cache import RerunCache
from enuflow.app.engine.run_state import RunState, may_be_scalar, static_numbers
from enuflow.app.engine.step_groups import StepLayout
from enuflow.app.engine.placement import (PROBE_TIMEOUT, Placement, downstream, lost_errors, lost_tasks, own_task,
                                          place, target_task_of, tasks_in_message)
from enuflow.app.document.cluster import Cluster
from enuflow.app.engine.session_options import session_config
from enuflow.app.document.page import Page
from enuflow.blocks.base import BuildFailure
from enuflow.blocks.tf import load

#: seconds each session call on a cluster may take when the run has no timeout of its own
DEFAULT_CLUSTER_TIMEOUT = 120.0


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
    #: a cached re-run (``app.engine.rerun_cache``): the blocks that ran, and those whose every result came from
    #: the last run (both empty when the run used no cache)
    ran_blocks: set[str] = field(default_factory=set)
    cached_blocks: set[str] = field(default_factory=set)
    #: a run in epochs (``app.engine.epochs``): per epoch done, {"epoch", "train", "test", "seconds"}
    epochs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _layout(prepared: _Prepared) -> StepLayout:
    if prepared.layout is None:
        prepared.layout = StepLayout(prepared.built)
    return prepared.layout


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
        #: (keys, targets, the blocks run apart, the step's calls, each call's callable and handles) of the last
        #: step: the run loop passes the same lists step after step
        self.last_calls: tuple[list, list, frozenset, list, list] | None = None
        #: blocks that failed in the last run of this graph: their parts run in calls of their own
        #: (``StepLayout.calls``)
        self.failing: frozenset[str] = frozenset()
        self.device_warnings: list[BuildError] = []
        #: (the session plan's block, fetches, targets) and the fetches and targets it gives (``Runner._selection``)
        self.selection: tuple[tuple, tuple[list, list]] | None = None
        #: the selection's results that may be a single number (``run_state.may_be_scalar``)
        self.scalars: set[tuple[str, str]] = set()
        #: those that are one number by their static shape and dtype (``run_state.static_numbers``)
        self.numbers: set[tuple[str, str]] = set()
        self.initialised = False  # Variables hold values (their initialisers have run in this session)
        self.config: Any = None  # the session's ConfigProto (whether the graph optimizer runs)
        #: the last one-step run's pure results, for a re-run after a value edit (``app.engine.rerun_cache``)
        self.rerun = RerunCache(built)
        self._switchy: bool | None = None
        #: reads and assigns the Variables (``app.engine.weights.SessionWeights``), made on first use
        self.weights: Any = None
        #: the Variables' values of the best epoch of the last run in epochs (``app.engine.epochs.KeptWeights``)
        self.best: Any = None

    def switchy(self) -> bool:
        """Whether the graph has a Switch (a result may then be missing: on the branch it did not take)."""
        if self._switchy is None:
            self._switchy = any(op.type in _SWITCHES for op in self.built.graph.get_operations())
        return self._switchy


class Runner:
    """Runs pages; keeps the last built graph and session to reuse while the structure is unchanged.

    ``target`` is a grpc session target; with a ``cluster`` (``app.document.cluster.Cluster``) and no target, the
    cluster's first chief or worker task is the target, blocks are placed on tasks by their ``device``, only
    the tasks the page uses are waited for, and a task that is down or lost is reported by name with its
    blocks. ``timeout`` (seconds) bounds the run: each session call, and the steps as a whole (checked
    between steps); on a cluster without one, each call is bounded by ``DEFAULT_CLUSTER_TIMEOUT``.
    ``rerun_cache`` False turns cached re-runs off (``app.engine.rerun_cache``): every run computes everything.
    With it on, a one-step run after a value edit feeds the pure results of the run before that the edit does not
    reach (``RunReport.ran_blocks``, ``cached_blocks``); those results come back read-only.
    """

    def __init__(self, target: str = "", device: str = "", cluster: Cluster | None = None,
                 timeout: float | None = None, rerun_cache: bool = True) -> None:
        self.rerun_cache = rerun_cache
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
    def prepare(self, page: Page, allow_io: bool = False,
                to: Sequence[str] | None = None) -> tuple[_Prepared, Analysis, bool]:
        """Analyse ``page`` (with ``to``: only what those blocks need, ``app.engine.run_to``) and return its
        prepared graph (rebuilt only when the structure changed)."""
        an = analyse(page, allow_io=allow_io, cache=self._analyses, to=to)
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
            self._prepared.device_warnings = missing_devices(an.page, built, session, self.device)
        return self._prepared, an, True

    # -- running ----------------------------------------------------------------------------
    def run(self, page: Page, steps: int | None = None, allow_io: bool = False,
            on_step: Callable[[int, ResultStore], None] | None = None,
            cancel: threading.Event | None = None, reset: bool = True,
            on_debug: Callable[[str], None] | None = None, logdir: str | None = None,
            step_results: str = "all", to: Sequence[str] | None = None, epochs: int | None = None,
            on_epoch: Callable[[dict[str, Any]], None] | None = None,
            on_batch: Callable[[int, int, str, int, int], None] | None = None,
            keep_best: str | None = None, save_weights: str | None = None) -> RunReport:
        """Run ``page``; ``steps`` overrides the ClientSession's (0 = until ``cancel`` is set).

        ``epochs`` (overriding the ClientSession's ``epochs`` pin; 0 or None there: steps) trains the page in
        epochs instead of steps (``app.engine.epochs``): ``on_epoch(info)`` and ``on_batch(epoch, epochs, phase,
        batch, batches)`` report progress, ``keep_best`` and ``save_weights`` name checkpoints to write (the best
        epoch's Variables, the final ones); ``cancel`` ends the run after the current batch.

        ``on_step(step, results)`` is called after every step; ``step_results`` says what it reads of them:
        ``"all"``, or ``"scalars"`` (results of one number), which lets the steps between the first and the last
        skip fetching the others (``LEAN_STEP_SECONDS``). When the ClientSession's ``SHOW_DEBUG``
        is on, ``on_debug(text)`` gets each step's fetched values as readable lines. ``reset`` re-initialises Variables
        before the first step (a fresh run); False continues from their current values (step by step),
        initialising them only when this graph has not run yet (a new or changed structure).
        ``logdir`` writes TensorBoard event files there (``app.engine.tensorboard``): the graph, and every
        scalar result per step. ``to`` (block names, ``app.engine.run_to``) runs only those blocks and what they
        need, for the ClientSession's steps; nothing else is built.
        Never raises for a problem of the page: problems come back in ``RunReport.errors``.
        """
        t0 = time.perf_counter()
        log = None
        if logdir:
            from enuflow.app.engine.tensorboard import EventLog

            try:
                log = EventLog(logdir)
            except OSError as e:
                return RunReport(ResultStore(), [BuildError(None, None, f"--logdir {logdir}: cannot be written "
                                                                        f"({e.strerror or e})")])
        try:
            run = self._start(page, steps, allow_io, reset, to)
            if isinstance(run, RunReport):
                return run
            n_epochs = run.an.plan.epochs if epochs is None else epochs
            if n_epochs:
                from enuflow.app.engine.epochs import EpochOptions, logged, run_epochs

                on_epoch = logged(log, run.prepared, on_epoch) if log is not None else on_epoch
                ran = run_epochs(self, page, run, EpochOptions(n_epochs, on_epoch, on_batch, keep_best), cancel, t0)
            else:
                self._run_steps(run, on_step, step_results, on_debug, log, cancel, t0, keep_best)
                ran = run.report.steps_done > 0
            if save_weights and ran:
                from enuflow.app.engine.epochs import save_final_weights

                save_final_weights(run, save_weights)
            run.report.seconds = time.perf_counter() - t0
            return _explained(page, run.report)
        finally:
            if log is not None:
                log.close()

    def _run_steps(self, run: RunState, on_step: Callable | None, step_results: str, on_debug: Callable | None,
                   log: Any, cancel: threading.Event | None, t0: float, keep_best: str | None) -> None:
        """Run the steps of a prepared page (``run``), the observers watching them."""
        if keep_best:
            run.report.warnings.append(BuildError(None, None, f"keep best ({keep_best}) writes nothing: the page "
                                                              "runs steps, not epochs (--epochs N, or the "
                                                              "ClientSession's epochs pin)"))
        watchers = self._observers(run, on_step, step_results, on_debug, log, cancel, t0)
        try:
            self._loop(run, watchers)
        finally:
            for w in watchers:
                w.end(run.report.steps_done, run)
        # the blocks that failed in this run are run apart in the next one (a block that ran fine is no more)
        run.prepared.failing = frozenset(b for b in run.report.failed_blocks if b)
        self._keep(run)

    def _start(self, page: Page, steps: int | None, allow_io: bool, reset: bool,
               to: Sequence[str] | None = None) -> RunState | RunReport:
        """Prepare the page and initialise its Variables: the run's state, or its report if it ends here."""
        prepared, an, rebuilt = self.prepare(page, allow_io, to)
        built = prepared.built
        report = RunReport(ResultStore(), list(built.errors), rebuilt=rebuilt)
        report.warnings = list(an.warnings) + prepared.device_warnings + list(getattr(built, "warnings", []))
        report.lost_target = prepared.placement is not None and prepared.placement.target_down
        try:
            feeds = built.feed_values(an)
        except BuildFailure as e:
            report.errors.append(BuildError(None, None, e.message))
            return report
        plan = an.plan
        # what a step fetches and runs follows from the structure: worked out once per graph and session plan
        chosen = (plan.block, tuple(plan.fetches), tuple(plan.targets), an.to)
        if prepared.selection is None or prepared.selection[0] != chosen:
            prepared.selection = (chosen, self._selection(built, an))
            prepared.scalars = may_be_scalar(built, prepared.selection[1][0])
            prepared.numbers = static_numbers(built, prepared.scalars)
        n_steps = (0 if plan.infinite else plan.steps) if steps is None else steps
        run = RunState(prepared, an, feeds, report, n_steps)
        run.cache = self._cache_of(run)
        if built.init_ops and (reset or not prepared.initialised):
            if not self._initialise(run):
                return report
        return run

    def _initialise(self, run: RunState) -> bool:
        """Run the Variables' initialisers; False (reported) when they fail."""
        tf = load()
        prepared, report = run.prepared, run.report
        built = prepared.built
        try:
            feeds = dict(zip((s.placeholder for s in built.slots), run.feeds))
            feeds.update(built.init_feeds)  # a dataset's arrays (``PageScope.add_init_feed``)
            prepared.session.run(built.init_ops, feed_dict=feeds)
        except tf.errors.OpError as e:
            if self._connection_error(tf, e):
                self._lost(tf, prepared, run.an, e, run.excluded, report)
                return False
            bid = self._blame(built, e)
            report.errors.append(BuildError(bid, None, "initialising: " + clean_message(e.message)))
            report.failed_blocks.add(bid or "")
            return False
        prepared.initialised = True
        report.initialised = True
        return True

    def _observers(self, run: RunState, on_step: Callable | None, step_results: str, on_debug: Callable | None,
                   log: Any, cancel: threading.Event | None, t0: float) -> list[obs.Observer]:
        """The run's observers, in the order they get each step (``app.engine.observers``)."""
        plan = run.an.plan
        extra: list[obs.Observer] = []
        if on_debug is not None and plan.show_debug:
            extra.append(obs.Debug(on_debug, list(plan.fetches) if plan.block is not None else None))
        if log is not None:
            prepared = run.prepared
            extra.append(obs.TensorBoard(log, lambda: page_graph_def(prepared)))
        if on_step is not None:
            extra.append(obs.OnStep(on_step, step_results))
        quick = not any(w.reads_values for w in extra)
        results, history = obs.Results(quick), obs.History(quick)
        if quick:  # a reader of the store (``on_step``) first stores what the quick steps held aside
            run.results.catch_up = lambda: (results.catch_up(run), history.catch_up(run))
        return [results, history, *extra, obs.Stop(cancel, self.timeout, t0)]

    def _loop(self, run: RunState, watchers: list[obs.Observer]) -> None:
        """Run the steps (``run.report.steps_done`` counts them)."""
        step, report = 0, run.report
        stoppers = [o for o in watchers if type(o).stop is not obs.Observer.stop]
        while run.n_steps == 0 or step < run.n_steps:
            why = next(filter(None, [o.stop(step) for o in stoppers]), None)
            if why is not None and run.stopping is None:
                if not run.lean:
                    self._stop(report, why, step)
                    break
                run.stopping = why  # the last step did not fetch everything: one more, full step ends the run
            full = run.lists(False)
            if not full[0] and not full[1]:
                break
            lean = max([o.wants(step, run) for o in watchers]) < obs.ALL
            keys, targets = run.lists(lean) if lean else full
            started, excluded = time.perf_counter(), len(run.excluded)
            run.new_step()
            go_on = self._step(run, keys, targets, step + 1, lean) if keys or targets else True
            if not go_on and not run.fetched and not run.extra:
                break  # an error no block can be blamed for, before anything ran
            run.lean, run.seconds = lean, time.perf_counter() - started
            run.excluded_grew = len(run.excluded) != excluded
            run.plain = run.is_plain()
            step = report.steps_done = step + 1
            for o in watchers:
                o.after(step, run)
            if run.stopping is not None:
                self._stop(report, run.stopping, step)
                break
            if not go_on:
                break

    def _stop(self, report: RunReport, why: str, step: int) -> None:
        """Record that the run stopped before its last step: asked to (``cancel``), or past its timeout."""
        if why == "timeout":
            report.timed_out = True
            report.errors.append(BuildError(None, None, f"timed out after {step} step{'s' if step != 1 else ''} "
                                                        f"(the run's timeout is {self.timeout:g} s); the results "
                                                        f"are those of step {step}"))
        report.stopped = True

    # -- cached re-runs (``app.engine.rerun_cache``) --------------------------------------------------
    def _cache_of(self, run: RunState) -> RerunCache | None:
        """The cache a run uses and fills: a one-step run in this process of a graph without a Switch; None (and
        the cache cleared) otherwise."""
        prepared = run.prepared
        if self.rerun_cache and run.n_steps == 1 and not self.remote and not prepared.failing \
                and not prepared.switchy():
            return prepared.rerun
        prepared.rerun.clear()
        return None

    def _keep(self, run: RunState) -> None:
        """After a run: keep its pure results for the next one (a one-step run that ran its step)."""
        if run.cache is None:
            return
        if run.report.steps_done != 1 or run.report.stopped:
            run.cache.clear()
        else:
            run.cache.store(run.feeds, run.produced, run.fetch_keys)

    def _cached_step(self, run: RunState, keys: list, targets: list, step: int) -> bool | None:
        """Run a step with what the last run's results give (``RerunCache.plan``): True or False as ``_step``, or
        None when the cache gives nothing (nothing has run: the step runs as usual)."""
        tf = load()
        plan = run.cache.plan(run.feeds, keys, targets) if run.cache is not None else None
        if plan is None:
            return None
        if not plan.hits:  # nothing computed is as in the last run: everything runs
            run.report.ran_blocks = plan.ran | plan.cached
            return None
        try:
            fn = plan.callable(run.prepared)
        except tf.errors.OpError:
            return None  # its kernels could not be made: the usual step blames the block
        run.report.ran_blocks, run.report.cached_blocks = plan.ran, plan.cached
        try:
            out = fn(run.feeds)
        except (TypeError, ValueError):  # a kept value TensorFlow does not take back: refused before anything ran
            run.report.ran_blocks, run.report.cached_blocks = plan.ran | plan.cached, set()
            return None
        except tf.errors.OpError as e:
            go_on = self._recover(tf, run, e, plan.fetch, plan.targets, step)
            run.got(*_listed({k: v for k, v in plan.given.items() if k[0] not in run.excluded}))
            return go_on
        run.got(plan.fetch, out)
        run.got(*_listed(plan.given))
        handles = _handles(run.prepared.built, targets)
        if handles:
            run.extra.update(handles)
        return True

    # -- one step -------------------------------------------------------------------------------
    def _calls(self, run: RunState, keys: list, targets: list) -> tuple[list, list]:
        """The session calls of a step (``StepLayout.calls``) and a slot each for its callable and handles."""
        prepared = run.prepared
        last = prepared.last_calls  # the run loop hands the same lists while nothing new is excluded
        if last is None or last[0] is not keys or last[1] is not targets or last[2] is not prepared.failing:
            calls = _layout(prepared).calls(keys, targets, prepared.failing)
            last = prepared.last_calls = (keys, targets, prepared.failing, calls, [None] * len(calls))
        return last[3], last[4]

    def _step(self, run: RunState, keys: list, targets: list, step: int, lean: bool) -> bool:
        """Run step ``step``: one session call (and one per part of a block that failed in the last run);
        fills ``run.fetched``. A lean step runs its big results as targets, and reads its small values fed
        from Consts in the graph (``callables.BAKED_SIZE``). Returns False when the run must end (an error no
        block can be blamed for)."""
        if run.cache is not None and not lean:
            done = self._cached_step(run, keys, targets, step)
            if done is not None:
                return done
        calls, made = self._calls(run, keys, targets)
        excluded_at_start = len(run.excluded)
        for i, (ckeys, ctargets) in enumerate(calls):
            fresh = len(run.excluded) == excluded_at_start  # the lists were made without what this step excluded
            if not fresh:
                ckeys = [k for k in ckeys if k[0] not in run.excluded]
                ctargets = [k for k in ctargets if k[0] not in run.excluded]
            if (ckeys or ctargets) and not self._call(run, ckeys, ctargets, made, i if fresh else -1, lean, step):
                return False
        return True

    def _call(self, run: RunState, keys: list, targets: list, made: list, slot: int, lean: bool, step: int) -> bool:
        """One session call of a step; ``made[slot]`` keeps its callable (``slot`` -1: made for this call only).
        Returns False when the run must end."""
        tf = load()
        while True:
            try:  # a callable's kernels are made with it: nothing has run when that fails
                step_fn = made[slot] if slot >= 0 else None
                if step_fn is None:
                    run.made = True
                    baking = run.feeds if lean and not self.remote else None
                    step_fn = self._step_fn(run.prepared, keys, targets, baking)
                    if slot >= 0:
                        made[slot] = step_fn
            except tf.errors.OpError as e:  # so the call is made again without the failing block
                if self._failed(tf, run.prepared, run.an, e, run.excluded, run.report) is None:
                    return False
                keys = [k for k in keys if k[0] not in run.excluded]
                targets = [k for k in targets if k[0] not in run.excluded]
                slot = -1
                if not keys and not targets:
                    return True
                continue
            try:
                out = step_fn[0](run.feeds)
            except tf.errors.OpError as e:
                return self._recover(tf, run, e, keys, targets, step)
            run.got(keys, out)
            if step_fn[1]:
                run.extra.update(step_fn[1])
            return True

    def _recover(self, tf: Any, run: RunState, e: Any, keys: list, targets: list, step: int) -> bool:
        """A session call failed with ``e``: report it, fetch its pure results again, record the others as lost.
        Returns False when the run cannot go on: an error no block can be blamed for (a step that hung past the
        run's timeout, say) still gives back the pure results, unless the cluster is gone."""
        why = self._failed(tf, run.prepared, run.an, e, run.excluded, run.report)
        if why is None and self._connection_error(tf, e):
            return False
        layout = _layout(run.prepared)
        wanted = keys + [k for k in targets if k in run.big]  # a lean step's big results: fetched if they can be
        again = [k for k in wanted if k[0] not in run.excluded and layout.is_pure(k)]
        for k in wanted:
            if k[0] not in run.excluded and not layout.is_pure(k):
                run.lost[k] = (step, why or "the step failed")
        run.extra.update(_handles(run.prepared.built, [k for k in targets if k[0] not in run.excluded
                                                          and layout.is_pure(k)]))
        return self._run_retrying(run, again) and why is not None

    def _run_retrying(self, run: RunState, keys: list[tuple[str, str]]) -> bool:
        """Fetch pure results (ops without effects: running them again changes nothing); a failing block (and its
        dependants) is dropped and the rest run again. Returns False on an error no block can be blamed for."""
        tf = load()
        while keys:
            try:
                out = self._callable(run.prepared, keys, [])(run.feeds)
            except tf.errors.OpError as e:
                if self._failed(tf, run.prepared, run.an, e, run.excluded, run.report) is None:
                    return False
                keys = [k for k in keys if k[0] not in run.excluded]
                continue
            run.got(keys, out)
            return True
        return True

    def _failed(self, tf: Any, prepared: _Prepared, an: Analysis, e: Any, excluded: set[str],
                report: RunReport, where: str = "") -> str | None:
        """Report a failed session call: the block whose op raised ``e`` (or the cluster tasks that stopped
        answering) leaves the run with what depends on it; ``where`` begins the block's message (an epoch run's
        "epoch 2, test pass: "). Returns why, for the results the call lost, or None when the run cannot go on (an
        error no block can be blamed for, or the cluster is gone)."""
        if self._connection_error(tf, e):
            return "a cluster task stopped answering" if self._lost(tf, prepared, an, e, excluded, report) else None
        bid = self._blame(prepared.built, e)
        report.errors.append(BuildError(bid, None, where + clean_message(e.message)))
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
        """(outputs to fetch for display, ops to run) for one step: of every block on a page without a ClientSession
        or in a run to some blocks (the page then holds only what they need), else of what the session asks for."""
        plan = an.plan
        if plan.block is None or an.to:
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
        if built.aliases:  # a composite instance's outputs are reported as its own too (``"d1": {"y": ...}``)
            fetched = set(keys)
            keys += [alias for alias, inner in built.aliases.items() if inner in fetched]
        return keys, targets

    @classmethod
    def _step_fn(cls, prepared: _Prepared, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
                 feeds: list[Any] | None = None) -> tuple[Any, dict[tuple[str, str], np.ndarray]]:
        """What running ``keys`` and ``targets`` takes: their callable, and the handle results its targets give.
        ``feeds`` (a lean step's values): its small values are read from Consts (``callables.BAKED_SIZE``)."""
        return cls._callable(prepared, keys, targets, feeds), _handles(prepared.built, targets)

    @staticmethod
    def _callable(prepared: _Prepared, keys: list[tuple[str, str]], targets: list[tuple[str, str]],
                  feeds: list[Any] | None = None) -> Any:
        """A function of the values of all slots that runs ``targets`` and returns ``keys``' results
        (``app.engine.callables.step_callable``)."""
        return step_callable(prepared, keys, targets, feeds)


def page_graph_def(prepared: _Prepared) -> Any:
    """The GraphDef of ``prepared``'s graph without the Consts made for lean steps (``callables.BAKED_SIZE``): the
    page's."""
    gd = prepared.built.graph.as_graph_def()
    baked = {t.op.name for _, t in prepared.baked.values()}
    if baked:
        kept = [n for n in gd.node if n.name not in baked]
        del gd.node[:]
        gd.node.extend(kept)
    return gd


def _listed(d: dict) -> tuple[list, list]:
    return list(d), list(d.values())


def _explained(page: Page, report: RunReport) -> RunReport:
    """``report`` with TensorFlow's messages that name no port of the page put in its words where known."""
    if any("Received a label value" in e.message for e in report.errors):
        from enuflow.app.engine.epochs import explain_label_values

        explain_label_values(page, report.errors)
    return report


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
