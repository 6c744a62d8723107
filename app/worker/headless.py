"""One page run for the command line (``enuflow run``), in a worker process that may crash or hang.

``HeadlessRun`` drives a ``WorkerClient`` synchronously: it starts the child at once (TensorFlow loads while
the caller reads the page), runs the page, and turns what can go wrong into errors in a ``HeadlessReport``:

- the child dies (an ``Abort`` op, a failed CHECK, a segfault, the out-of-memory killer): the blocks known to
  crash a process are blamed, as the editor does, and the page runs once more in a fresh child without them
  and what depends on them, so the other blocks still report their results;
- the run takes longer than ``timeout`` seconds (counted once TensorFlow is loaded): the child's runner stops
  between steps at that time, after a full last step, and reports the steps done and every result; a step that
  hangs is aborted by TensorFlow at the timeout (the results are those of the step before). Only a child that
  has not ended ``2 * timeout + KILL_GRACE_S`` seconds in (an op that ignores TensorFlow's timeout) is killed;
  the error then says that a step hung, which blocks were running, and the numbers of the last step the child
  reported. A remote target that does not answer within ``CONNECT_TIMEOUT_S`` is killed the same way;
- ``interrupt()`` (Ctrl+C): the run stops after the current step; if that step does not end within
  ``STOP_GRACE_S``, or on a second interrupt, the child is killed. Either way ``run`` returns within a second.

What the page prints (a ``Print`` block, SHOW_DEBUG's values) goes to this process's stderr as the run goes.

``check_page`` checks a page in a worker the same way (``enuflow check``): static types and problems, nothing run.

Imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import copy
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from enuflow.app.worker.client import WorkerClient, WorkerEvent
from enuflow.app.worker.limits import CONNECT_TIMEOUT_S, KILL_GRACE_S

#: after Ctrl+C, how long the current step may take to end before the worker is killed
STOP_GRACE_S = 0.5
#: the same for a run that writes its Variables at its end (``--save-weights``: a first checkpoint takes a while)
SAVE_GRACE_S = 5.0
#: how often the waiting loop looks at the clock and at interrupts
POLL_S = 0.05
#: runs again without crashing blocks at most this many times
MAX_RETRIES = 2


@dataclass
class HeadlessReport:
    """What a headless run gives back; ``errors``/``warnings`` are ``{"block", "port", "message"}``."""

    results: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    steps_done: int = 0
    stopped: bool = False
    #: the worker died: {"signal", "exit_code", "blocks", "message", "log"}
    crash: dict[str, Any] | None = None
    #: the run (or connecting) took too long: {"seconds", "while", "blocks"}
    timeout: dict[str, Any] | None = None
    #: Ctrl+C ended the run by killing the worker (a step did not end in time)
    interrupted: bool = False
    #: a run in epochs: per epoch done, {"epoch", "train", "test", "seconds"}
    epochs: list[dict[str, Any]] = field(default_factory=list)


class HeadlessRun:
    """A worker for one command-line run. ``start()`` early, ``run()`` once, then ``close()``."""

    def __init__(self, env: dict[str, str] | None = None,
                 on_epoch: Callable[[WorkerEvent], None] | None = None) -> None:
        """``on_epoch(event)``: called with each "epoch" event of a run in epochs, as it comes."""
        self.on_epoch = on_epoch
        self._training: dict[str, Any] = {}
        self._events: queue.Queue[WorkerEvent] = queue.Queue()
        # one run: the catalogue of generated blocks loads only if the page has such blocks
        self.client = WorkerClient(self._events.put, env={"ENUFLOW_WORKER_LAZY": "1", **(env or {})})
        self._interrupts = 0
        self._ready_at: float | None = None

    def start(self) -> None:
        """Start the worker now (loading TensorFlow takes seconds); returns at once."""
        self.client.start()

    def interrupt(self) -> None:
        """Ctrl+C: the first asks the run to stop after this step, the second kills it. Safe in a signal handler."""
        self._interrupts += 1

    @property
    def interrupts(self) -> int:
        return self._interrupts

    def close(self) -> None:
        self.client.close(timeout=1.0)

    # -- running -----------------------------------------------------------------------------------
    def run(self, doc: dict[str, Any], steps: int | None = None, allow_io: bool = False, target: str = "",
            device: str = "", timeout: float | None = None, max_literal_mb: float | None = None,
            logdir: str | None = None, cluster: str = "", to: list[str] | None = None,
            training: dict[str, Any] | None = None) -> HeadlessReport:
        """Run the page ``doc`` (format v1 as a dict); never raises for what the page does. ``logdir``: the
        child writes TensorBoard event files there (``app.engine.tensorboard``); ``cluster``: a cluster file to
        run on (``enuflow run --cluster``); ``to``: run only those blocks and what they need (``enuflow run
        --to``); ``training``: ``WorkerClient.run``'s ``epochs``, ``keep_best`` and ``save_weights``."""
        report = HeadlessReport()
        retry = CrashRetry(doc, to)
        self._training = dict(training or {})
        started = None
        for _attempt in range(MAX_RETRIES + 1):
            left = None
            if timeout is not None:
                left = timeout if started is None else timeout - (time.monotonic() - started)
                if left <= 0:
                    break
            kind, ev, info = self._run_once(retry.doc, steps, allow_io, target, device, left, max_literal_mb,
                                            logdir, cluster, retry.to)
            if started is None:
                started = self._ready_at
            if kind == "done":
                assert ev is not None
                report.results = dict(ev.results)
                report.errors.extend(ev.errors)
                report.warnings = list(ev.warnings)
                report.steps_done = ev.steps_done
                report.stopped = ev.stopped
                report.epochs = list(ev.epochs)
                if ev.timed_out and timeout is not None:
                    report.timeout = {"seconds": timeout, "steps": ev.steps_done, "hung_step": ev.hung_step,
                                      "while": f"while running step {ev.hung_step} (it hung)" if ev.hung_step
                                      else f"after {ev.steps_done} steps", "blocks": []}
                return report
            if kind == "crashed":
                assert ev is not None
                report.errors.extend(retry.crashed(ev, self.client.log_path))
                report.crash = retry.crash
                if self._interrupts or not retry.again():
                    return report
                continue  # run again without the blocks that crashed: the other blocks' results
            if kind == "timeout":
                report.timeout = info
                report.errors.extend(timeout_errors(info, retry.running()))
                report.steps_done = int(info.get("steps", 0))
                report.results = known_results(info)
                if report.results:
                    report.warnings.append({"block": None, "port": None, "message": (
                        f"the results are the numbers of step {report.steps_done}, the last step the worker "
                        "reported before it was killed (as float64)")})
                return report
            if kind == "interrupted":
                report.interrupted = True
                report.stopped = True
                report.steps_done = int(info.get("steps", 0))
                report.errors.extend(interrupt_errors(info, retry.running()))
                return report
        return report

    def _run_once(self, doc: dict[str, Any], steps: int | None, allow_io: bool, target: str, device: str,
                  timeout: float | None, max_literal_mb: float | None, logdir: str | None = None,
                  cluster: str = "", to: list[str] | None = None
                  ) -> tuple[str, WorkerEvent | None, dict[str, Any]]:
        """("done" | "crashed", event, {}) or ("timeout" | "interrupted", None, what was going on)."""
        client = self.client
        rid = client.run(doc, steps=steps, allow_io=allow_io, target=target, device=device,
                         max_literal_mb=max_literal_mb, logdir=logdir, cluster=cluster, timeout=timeout, to=to,
                         **self._training)
        # the run ends itself at its timeout (a hung step is aborted by TensorFlow after as long): killed only
        # when that did not work
        kill_after = None if timeout is None else 2 * timeout + KILL_GRACE_S
        if client.ready and self._ready_at is None:
            self._ready_at = time.monotonic()
        ready_at = time.monotonic() if client.ready else None
        connected = not target or bool(cluster)  # a cluster run bounds its own calls and names lost tasks
        suspects: list[str] = []
        steps_seen = 0
        scalars_seen: dict[tuple[str, str], float] = {}
        stop_asked: float | None = None
        seen_interrupts = 0
        while True:
            now = time.monotonic()
            state = {"steps": steps_seen, "blocks": suspects, "connected": connected, "target": target,
                     "started": ready_at is not None, "scalars": scalars_seen}
            if self._interrupts > seen_interrupts:
                seen_interrupts = self._interrupts
                if stop_asked is None and ready_at is not None and seen_interrupts == 1:
                    client.stop()
                    stop_asked = now
                    print("enuflow: stopping after this step (Ctrl+C again to abort)", file=sys.stderr, flush=True)
                else:
                    return "interrupted", None, self._kill(rid, state)
            if stop_asked is not None and now - stop_asked > (SAVE_GRACE_S if self._training.get("save_weights")
                                                               else STOP_GRACE_S):
                return "interrupted", None, self._kill(rid, state)
            if ready_at is not None:
                if kill_after is not None and now - ready_at > kill_after:
                    return "timeout", None, self._kill(rid, {**state, "seconds": timeout, "hung": True})
                if not connected and now - ready_at > min(CONNECT_TIMEOUT_S, timeout or CONNECT_TIMEOUT_S):
                    return "timeout", None, self._kill(rid, {**state, "seconds": min(CONNECT_TIMEOUT_S,
                                                                                     timeout or CONNECT_TIMEOUT_S)})
            try:
                ev = self._events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if ev.kind == "output":
                if ev.message:
                    print(ev.message, file=sys.stderr, flush=True)  # what the page printed (Print, SHOW_DEBUG)
            elif ev.kind == "ready" and ready_at is None:
                ready_at = time.monotonic()
                if self._ready_at is None:
                    self._ready_at = ready_at
            elif ev.run_id != rid:
                continue
            elif ev.kind == "connected":
                connected = True
            elif ev.kind == "step":
                if ev.step >= steps_seen:
                    steps_seen, scalars_seen = ev.step, ev.scalars
            elif ev.kind == "epoch":
                steps_seen = ev.epoch
                if self.on_epoch is not None:
                    self.on_epoch(ev)
            elif ev.kind == "crashed" and self._interrupts:
                # Ctrl+C in a terminal reaches the child too, before it has learnt to ignore it
                return "interrupted", None, state
            elif ev.kind in ("done", "crashed"):
                return ev.kind, ev, {}
            suspects = client.suspects or suspects

    def _kill(self, rid: int, state: dict[str, Any]) -> dict[str, Any]:
        """Kill the worker and wait (briefly) for its end to be reported; returns ``state``."""
        self.client.kill()
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            try:
                ev = self._events.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                break
            if ev.kind == "output" and ev.message:
                print(ev.message, file=sys.stderr, flush=True)
            elif ev.kind == "crashed":
                if ev.run_id == rid and ev.blocks:
                    state["blocks"] = list(ev.blocks)
                break
        return state


# -- the words ---------------------------------------------------------------------------------------

def crash_summary(ev: WorkerEvent) -> str:
    """One paragraph: how the worker died, and what TensorFlow said."""
    how = f"was killed by {ev.signal}" if ev.signal else f"ended with exit status {ev.exit_code}"
    what = f"the run's worker process {how}"
    if ev.memory:  # (a SIGKILL not asked for is the system's out-of-memory killer's: the client says so)
        what = f"{ev.memory} (its process {how})"
    if ev.reason:
        what += f"; TensorFlow said: {ev.reason}"
    return what


def crash_errors(ev: WorkerEvent) -> list[dict[str, Any]]:
    """The errors of a crash: one per block known to crash a process, or one for the page."""
    summary = crash_summary(ev)
    if ev.memory:
        return [{"block": b, "port": None, "message": summary} for b in ev.blocks] or \
            [{"block": None, "port": None, "message": summary}]
    if not ev.blocks:
        return [{"block": None, "port": None,
                 "message": f"{summary}; no block on the page is known to crash, so the culprit is not known"}]
    verb = "crashed the run" if len(ev.blocks) == 1 else "may have crashed the run (it can crash a process)"
    return [{"block": b, "port": None, "message": f"{verb}: {summary}"} for b in ev.blocks]


def _step_words(info: dict[str, Any]) -> str:
    if not info.get("started"):
        return "while TensorFlow was loading"
    if info.get("target") and not info.get("connected"):
        return f"while connecting to {info['target']} (nothing answered)"
    n = int(info.get("steps", 0))
    if n == 0:
        return "while building the page or running step 1"
    return f"while running step {n + 1} (after at least {n} step{'s' if n != 1 else ''})"


def _running(info: dict[str, Any], doc: dict[str, Any]) -> str:
    blocks = info.get("blocks") or []
    if blocks:
        return "; blocks that can hang: " + ", ".join(blocks)
    ids = [str(b.get("id")) for b in doc.get("blocks", []) if isinstance(b, dict) and b.get("type") != "ClientSession"]
    if not ids or (info.get("target") and not info.get("connected")):
        return ""
    more = f", and {len(ids) - 8} more" if len(ids) > 8 else ""
    return "; the step's blocks were running: " + ", ".join(ids[:8]) + more


def timeout_errors(info: dict[str, Any], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors of a run the watchdog killed: connecting took too long, or a step hung (it did not end even
    when TensorFlow's per-call timeout ran out)."""
    seconds = info.get("seconds")
    what = "connecting" if info.get("target") and not info.get("connected") else "the run"
    info["while"] = _step_words(info)
    if what == "the run" and info.get("hung") and info.get("started"):
        n = int(info.get("steps", 0))
        head = (f"the run timed out after {seconds:g} s: step {n + 1} hung (it did not end, even past the "
                f"timeout, and the worker was killed {2 * seconds + KILL_GRACE_S:g} s in){_running(info, doc)}; "
                f"timed out after {n} step{'s' if n != 1 else ''} (at least: the last step the worker reported)")
    else:
        head = f"{what} timed out after {seconds:g} s {info['while']}{_running(info, doc)}"
    if what == "the run":
        head += "; give it longer with --timeout SECONDS"
    errors = [{"block": None, "port": None, "message": head}]
    errors += [{"block": b, "port": None, "message": f"was running when the run timed out after {seconds:g} s "
                                                      "(it can hang)"} for b in info.get("blocks") or []]
    return errors


def known_results(info: dict[str, Any]) -> dict[tuple[str, str], np.ndarray]:
    """The numbers of the last step a killed worker reported (its "step" events carry them as floats)."""
    return {k: np.array(v, dtype=np.float64) for k, v in (info.get("scalars") or {}).items()}


def interrupt_errors(info: dict[str, Any], doc: dict[str, Any]) -> list[dict[str, Any]]:
    info["while"] = _step_words(info)
    head = f"interrupted (Ctrl+C) {info['while']}{_running(info, doc)}"
    return [{"block": None, "port": None, "message": head}] + \
        [{"block": b, "port": None, "message": "was running when the run was interrupted (it can hang)"}
         for b in info.get("blocks") or []]


# -- running again without some blocks ----------------------------------------------------------------

class CrashRetry:
    """A page run that may crash its worker, and the runs again without the blocks that crashed it (and what depends
    on them), so that the other blocks still give their results: ``enuflow run`` and the editor both use it.

    ``doc`` and ``to`` are the page (format v1 as a dict) and the blocks to run to (None: all) of the next try.
    After a crash, ``crashed(ev, log)`` gives its errors (``crash_errors``) and ``again()`` says whether to try once
    more (``doc`` and ``to`` are then that try's): not when the crash names no block that has not been left out
    already, nor after ``MAX_RETRIES`` tries again, nor when none of the blocks to run to is left.
    """

    def __init__(self, doc: dict[str, Any], to: list[str] | None = None) -> None:
        self.page = doc
        self.doc = doc
        self.asked = list(to) if to else None
        self.to = self.asked
        #: the blocks left out so far (those that crashed a worker)
        self.removed: list[str] = []
        #: every crash's errors so far
        self.errors: list[dict[str, Any]] = []
        #: the first crash: {"signal", "exit_code", "blocks", "message", "log"}
        self.crash: dict[str, Any] | None = None
        self._pending: list[str] = []
        self._tries = 0

    def crashed(self, ev: WorkerEvent, log: Any) -> list[dict[str, Any]]:
        """Record the crash ``ev`` (its worker's log file is ``log``); returns its errors."""
        if self.crash is None:
            self.crash = {"signal": ev.signal, "exit_code": ev.exit_code, "blocks": list(ev.blocks),
                          "message": crash_summary(ev), "log": str(log)}
        errors = crash_errors(ev)
        self.errors.extend(errors)
        self._pending = [b for b in ev.blocks if b not in self.removed]
        return errors

    def running(self) -> dict[str, Any]:
        """The page of the last try as the words of a time-out list its blocks: with ``to``, only those that ran."""
        if self.to is None:
            return self.doc
        from enuflow.app.document.formats.errors import PageFileError
        from enuflow.app.document.formats.native import page_from_doc
        from enuflow.app.engine.run_to import needed_ids

        try:
            ids = needed_ids(page_from_doc("page", self.doc), self.to)
        except PageFileError:
            return self.doc
        return {"blocks": [{"id": i} for i in sorted(ids)]}

    def again(self) -> bool:
        """Whether to run again after the last crash, without the blocks it named (``doc`` and ``to`` are then set)."""
        fresh, self._pending = self._pending, []
        if not fresh or self._tries >= MAX_RETRIES:
            return False
        self._tries += 1
        self.removed.extend(fresh)
        self.doc = without_blocks(self.page, self.removed)
        if self.asked is not None:
            kept = {str(b.get("id")) for b in self.doc.get("blocks", [])}
            gone = {str(b.get("id")) for b in self.page.get("blocks", []) if isinstance(b, dict)} - kept
            self.to = [n for n in self.asked if n not in gone and not any(n.startswith(g + "/") for g in gone)]
            if not self.to:  # what was asked for crashed, or depends on what did: nothing is left to run
                return False
        return True


def without_blocks(doc: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A copy of the page ``doc`` without the blocks ``ids`` and every block downstream of them (the
    ClientSession stays; only its links from removed blocks go)."""
    blocks = [b for b in doc.get("blocks", []) if isinstance(b, dict)]
    kind = {str(b.get("id")): b.get("type") for b in blocks}
    links = [ln for ln in doc.get("links", []) if isinstance(ln, dict)]
    out: dict[str, list[str]] = {}
    for ln in links:
        try:
            src, dst = str(ln["from"][0]), str(ln["to"][0])
        except (KeyError, IndexError, TypeError):
            continue
        out.setdefault(src, []).append(dst)
    gone = set()
    todo = [str(i) for i in ids]
    while todo:
        b = todo.pop()
        if b in gone or kind.get(b) == "ClientSession":
            continue
        gone.add(b)
        todo.extend(out.get(b, []))
    new = copy.copy(doc)
    new["blocks"] = [b for b in blocks if str(b.get("id")) not in gone]

    def keep(ln: dict) -> bool:
        try:
            return str(ln["from"][0]) not in gone and str(ln["to"][0]) not in gone
        except (KeyError, IndexError, TypeError):
            return True

    new["links"] = [ln for ln in links if keep(ln)]
    return new


# -- checking a page without running it (``enuflow check``) -------------------------------------------

#: how long ``check_page`` waits for the worker's answer (loading TensorFlow included) before it gives up
CHECK_WAIT_S = 600.0


@dataclass
class HeadlessCheck:
    """What ``check_page`` gives back: every output's static type, (block, port) -> {"dtype", "shape"}, and the
    problems, each ``{"block", "port", "message"}``."""

    types: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def check_page(doc: dict[str, Any], allow_io: bool = False, wait_s: float = CHECK_WAIT_S) -> HeadlessCheck:
    """Check the page ``doc`` (format v1 as a dict) in a worker process (``WorkerClient.check``), so that an op
    whose shape function brings the process down costs an error, not the command; never raises for the page."""
    events: queue.Queue[WorkerEvent] = queue.Queue()
    client = WorkerClient(events.put, env={"ENUFLOW_WORKER_LAZY": "1"})
    try:
        cid = client.check(doc, allow_io=allow_io)
        end = time.monotonic() + wait_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                client.kill()
                return HeadlessCheck(errors=[{"block": None, "port": None,
                                              "message": f"the check did not end within {wait_s:g} s"}])
            try:
                ev = events.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if ev.kind == "output" and ev.message:
                print(ev.message, file=sys.stderr, flush=True)
            elif ev.kind == "checked" and ev.run_id == cid:
                return HeadlessCheck(dict(ev.types), list(ev.errors), list(ev.warnings))
            elif ev.kind == "crashed":
                first = ev.message.split("\n", 1)[0]
                return HeadlessCheck(errors=[{"block": None, "port": None,
                                              "message": f"the check's worker process died: {first}"}])
    finally:
        client.close(timeout=1.0)
