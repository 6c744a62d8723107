"""The run worker's child process (``python -m app.worker.child``): TensorFlow loaded once, pages run on request.

It reads length-prefixed JSON commands on stdin ("run", "check", "devices", "restore", "stop", "quit"; see
``app.worker.client``) on a thread, and runs pages on its main thread with one ``Runner`` kept across runs (a value-only edit
feeds new values into the graph built before). It answers on the original stdout; file descriptor 1
is pointed at stderr (the log file) so that nothing printed by TensorFlow or a block can corrupt the
message stream. "step" events are rate-limited (the last step is always reported); a "stop" sets the
runner's cancel event, checked between steps. Results are copied once into a shared-memory segment
(``app.worker.shm``) named by the editor. When stdin ends (the editor is gone) or "quit" arrives, the child
removes any segment it made that the editor may not have taken, and exits at once.
"""

from __future__ import annotations

import faulthandler
import os
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

import numpy as np

from enuflow.app.worker import shm
from enuflow.app.worker.client import KNOWN_DANGEROUS, LOG_ONLY, READY, SYNC, read_message, rows, write_message
from enuflow.app.worker.limits import MEMORY_LIMIT_ENV, memory_limit_mb, memory_words

#: at most this many "step" messages per second
STEP_RATE = 30.0
#: at most this many "batch" messages per second (a run in epochs)
BATCH_RATE = 10.0
#: "1": load the generated catalogue only when a page needs it (one run from the command line), not at start
LAZY_ENV = "ENUFLOW_WORKER_LAZY"


class Child:
    """The child's state: the message stream, the queue of runs, and the cancel event of the current run."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.runs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.current = 0
        self.cancel = threading.Event()
        self.stopped_early: set[int] = set()
        self.segments: list[Path] = []   # made by this child and perhaps not yet taken by the editor
        self.exiting = False
        #: the static checker ("check" requests), kept between checks (``app.engine.shape_check``)
        self.checker: Any = None

    def send(self, msg: dict[str, Any]) -> None:
        with self.lock:
            if msg.get("kind") == "done":
                # everything the run printed is on stderr before its "done": the editor relays it first
                sys.stderr.flush()
                os.write(2, f"{SYNC}{int(msg.get('run_id') or 0)}\n".encode())
            elif msg.get("kind") == "ready":  # what comes after this on stderr is printed by pages
                sys.stderr.flush()
                os.write(2, f"{READY}\n".encode())
            write_message(self.out, msg)

    # -- the command reader (a thread) --------------------------------------------------------------
    def read_commands(self, inp: IO[bytes]) -> None:
        while True:
            try:
                msg = read_message(inp)
            except (OSError, ValueError, TypeError):
                msg = None
            if msg is None or msg.get("cmd") == "quit":
                self.exit_now()
                return
            cmd = msg.get("cmd")
            if cmd in ("run", "devices", "check", "restore"):
                self.runs.put(msg)
            elif cmd == "stop":
                rid = int(msg.get("run_id") or 0)
                with self.lock:
                    if rid == self.current or rid == 0:
                        self.cancel.set()
                    else:
                        self.stopped_early.add(rid)

    def exit_now(self) -> None:
        """The editor is gone or asked us to end: remove segments it may not have taken, and exit."""
        with self.lock:
            self.exiting = True
            for p in self.segments:
                try:
                    os.unlink(p)
                except OSError:
                    pass
            self.segments.clear()
        sys.stderr.flush()
        os._exit(0)

    # -- the main loop --------------------------------------------------------------------------
    def serve(self) -> None:
        t0 = time.perf_counter()
        from enuflow.blocks import REGISTRY
        from enuflow.blocks.tf import load

        load()
        if os.environ.get(LAZY_ENV) != "1":  # the editor's worker: warm for any block the person adds
            REGISTRY.generated()  # the catalogue (and its JSON cache, where the catalogue keeps one)
        from enuflow.app.engine.runner import Runner

        runner = Runner()
        runner_key: tuple = ("", "", "", None)  # the (target, device, cluster, timeout) the runner was made for
        limit_memory()
        self.send({"kind": "ready", "seconds": time.perf_counter() - t0,
                   "message": f"TensorFlow loaded in {time.perf_counter() - t0:.1f} s"})
        while True:
            msg = self.runs.get()
            if msg is None:
                return
            if msg.get("cmd") == "devices":
                self.list_devices(msg)
                continue
            if msg.get("cmd") == "check":
                self.check_one(msg)
                continue
            if msg.get("cmd") == "restore":
                self.restore_one(runner, msg)
                continue
            target, device = str(msg.get("target") or ""), str(msg.get("device") or "")
            cluster, timeout = str(msg.get("cluster") or ""), msg.get("timeout")
            try:
                if runner_key != (target, device, cluster, timeout):
                    runner.close()
                    runner_key = (target, device, cluster, timeout)
                    problem = ""
                    try:
                        runner = make_runner(target, device, cluster, timeout)
                    except ValueError as e:  # a cluster file that cannot be used
                        runner, problem = Runner(), str(e)
                    if not problem and cluster:  # the runner bounds its calls and names the tasks that are down
                        self.send({"kind": "connected", "run_id": int(msg.get("run_id") or 0),
                                   "message": f"cluster {cluster}"})
                    elif not problem:
                        problem = self.connect(runner, msg)
                    if problem:
                        runner, runner_key = Runner(), ("", "", "", None)
                        self.send({"kind": "done", "run_id": int(msg.get("run_id") or 0), "results": None,
                                   "lost_target": bool(target or cluster),
                                   "errors": [{"block": None, "port": None, "message": problem}]})
                        continue
                self.run_one(runner, msg)
            except Exception as e:  # noqa: BLE001 - a bug must come back as an error, not end the worker
                log_only(traceback.format_exc())
                try:
                    runner.close()
                except Exception:  # noqa: BLE001,S110
                    pass
                runner, runner_key = Runner(), ("", "", "", None)
                if isinstance(e, MemoryError):
                    text = (f"{memory_words(memory_limit_mb())} while building or running the page; make the "
                            "page's tensors smaller")
                else:
                    text = f"internal error in the run worker: {type(e).__name__}: {e}"
                self.send({"kind": "done", "run_id": int(msg.get("run_id") or 0), "results": None,
                           "errors": [{"block": None, "port": None, "message": text}]})

    def check_one(self, msg: dict[str, Any]) -> None:
        """Answer a "check" request: the static dtype and shape of every output of the page, and its problems
        (``app.engine.shape_check``; the checker is kept, so a check after an edit makes only what it reaches)."""
        from enuflow.app.document.formats.errors import PageFileError
        from enuflow.app.document.formats.native import page_from_doc
        from enuflow.app.engine.shape_check import ShapeChecker

        cid = int(msg.get("run_id") or 0)
        t0 = time.perf_counter()
        try:
            page = page_from_doc("page", msg.get("page"))
        except PageFileError as e:
            self.send({"kind": "checked", "run_id": cid, "outputs": [], "warnings": [], "made": 0,
                       "errors": [{"block": e.block, "port": None, "message": e.detail}]})
            return
        if self.checker is None:
            self.checker = ShapeChecker()
        try:
            report = self.checker.check(page, allow_io=bool(msg.get("allow_io")))
        except Exception as e:  # noqa: BLE001 - a bug must come back as an error, not end the worker
            log_only(traceback.format_exc())
            self.checker = None
            self.send({"kind": "checked", "run_id": cid, "outputs": [], "warnings": [], "made": 0,
                       "errors": [{"block": None, "port": None,
                                   "message": f"internal error in the check: {type(e).__name__}: {e}"}]})
            return
        self.send({"kind": "checked", "run_id": cid, "made": report.made, "seconds": time.perf_counter() - t0,
                   "outputs": [[b, p, st.dtype, None if st.shape is None else list(st.shape), st.ref]
                               for (b, p), st in report.types.items()],
                   "errors": [e.to_json() for e in report.errors],
                   "warnings": [w.to_json() for w in report.warnings]})

    def list_devices(self, msg: dict[str, Any]) -> None:
        """Answer a "devices" request: what a target (a grpc ``target`` or a ``cluster`` file, or this machine)
        offers for a block's device field."""
        from enuflow.app.engine.placement import target_devices
        from enuflow.blocks.tf import load

        target, cluster = str(msg.get("target") or ""), str(msg.get("cluster") or "")
        try:
            runner = make_runner(target, "", cluster, None)
        except ValueError as e:
            self.send({"kind": "devices", "devices": [], "problems": [str(e)]})
            return
        devices, problems = target_devices(load(), runner.cluster, runner.target)
        self.send({"kind": "devices", "devices": devices, "problems": problems})

    def connect(self, runner: Any, msg: dict[str, Any]) -> str:
        """For a remote target: wait until it answers, then say "connected" (the client times out a target that
        never answers; TensorFlow itself would wait for ever). Returns "" or what went wrong.

        A refused connection is said at once, naming the address. The target is asked for its own devices
        only, which tells the runner which task it is (the page's device pins then give the session's device
        filters) and waits for no other task of the target's cluster."""
        if not runner.target:
            return ""
        from enuflow.app.engine.builder import clean_message
        from enuflow.app.engine.placement import own_task
        from enuflow.app.worker.limits import CONNECT_TIMEOUT_S
        from enuflow.blocks.tf import load

        # bounded here too: the editor's worker has no command-line watchdog to kill it
        task, problem = own_task(load(), runner.target, CONNECT_TIMEOUT_S)
        if problem:
            return f"could not connect to {runner.target}: {clean_message(problem)}"
        runner.target_task = runner.target_task or task
        self.send({"kind": "connected", "run_id": int(msg.get("run_id") or 0),
                   "message": f"connected to {runner.target}" + (f" ({task})" if task else "")})
        return ""

    def run_one(self, runner: Any, msg: dict[str, Any]) -> None:
        rid = int(msg.get("run_id") or 0)
        with self.lock:
            self.current = rid
            self.cancel = threading.Event()
            if rid in self.stopped_early:
                self.stopped_early.discard(rid)
                self.cancel.set()
            cancel = self.cancel
        to = [str(n) for n in msg["to"]] if isinstance(msg.get("to"), list) and msg["to"] else None
        checked = self.checked_page(msg, rid, to)
        if checked is None:
            return
        page, suspects = checked

        sent = {"step": 0, "at": 0.0, "last": 0, "last_at": 0.0}
        period = 1.0 / STEP_RATE

        def on_step(step: int, results: Any) -> None:
            now = time.monotonic()
            sent["last"], sent["last_at"] = step, now
            if now - sent["at"] >= period:
                sent["at"] = now
                sent["step"] = step
                self.send({"kind": "step", "run_id": rid, "step": step, "scalars": rows(scalars(results.values))})

        logged = {"at": 0.0, "skipped": 0}
        every_log = bool(msg.get("every_log"))

        def on_debug(text: str) -> None:
            # SHOW_DEBUG: every step's values go to stderr (relayed as the run's printed output, and kept in the
            # log); the editor also gets them as "log" messages, at most STEP_RATE a second (the last one says how
            # many it did not get)
            print(text, file=sys.stderr, flush=True)
            now = time.monotonic()
            if now - logged["at"] < period and not every_log:
                logged["skipped"] += 1
                return
            more = f"\n({logged['skipped']} more steps in the worker's log)" if logged["skipped"] else ""
            logged["at"] = now
            logged["skipped"] = 0
            self.send({"kind": "log", "run_id": rid, "message": text + more})

        steps, epochs = msg.get("steps"), msg.get("epochs")
        report = runner.run(page, steps=int(steps) if steps is not None else None,
                            allow_io=bool(msg.get("allow_io")), on_step=on_step, cancel=cancel,
                            reset=bool(msg.get("reset", True)), on_debug=on_debug,
                            logdir=msg.get("logdir") or None, step_results="scalars", to=to,
                            epochs=int(epochs) if epochs is not None else None,
                            keep_best=msg.get("keep_best") or None, save_weights=msg.get("save_weights") or None,
                            **self.epoch_callbacks(rid))
        with self.lock:
            self.current = 0
        hung = hung_step(runner, report, sent["last"], time.monotonic() - sent["last_at"])
        if hung:
            report.steps_done = hung - 1  # the step that hung did not complete: the results are of the one before
        if report.steps_done and sent["step"] != report.steps_done:
            self.send({"kind": "step", "run_id": rid, "step": report.steps_done,
                       "scalars": rows(scalars(report.results.values))})
        errors = [e.to_json() for e in report.errors]
        if hung:
            errors = [e for e in errors if not is_deadline(e)]
            errors.insert(0, {"block": None, "port": None, "message": hung_message(hung, runner.timeout, suspects)})
        errors = [out_of_memory(e) for e in errors]
        desc = self.share(report.results.values, str(msg.get("segment") or ""), errors)
        if desc is False:
            return
        self.send({"kind": "done", "run_id": rid, "results": desc,
                   "history": rows(report.results.history), "errors": errors,
                   "warnings": [w.to_json() for w in getattr(report, "warnings", [])],
                   "steps_done": report.steps_done, "stopped": report.stopped, "rebuilt": report.rebuilt,
                   "initialised": report.initialised, "lost_target": report.lost_target,
                   "seconds": report.seconds, "timed_out": bool(getattr(report, "timed_out", False)) or bool(hung),
                   "hung_step": hung, "ran": sorted(report.ran_blocks), "cached": sorted(report.cached_blocks),
                   "epochs": report.epochs})

    def epoch_callbacks(self, rid: int) -> dict[str, Any]:
        """A run's ``on_epoch`` and ``on_batch`` (``Runner.run``): "epoch" messages, and "batch" ones at most
        ``BATCH_RATE`` a second."""
        sent = {"at": 0.0}

        def on_epoch(info: dict[str, Any]) -> None:
            self.send({"kind": "epoch", "run_id": rid, **info})

        def on_batch(epoch: int, epochs: int, phase: str, batch: int, batches: int) -> None:
            now = time.monotonic()
            if now - sent["at"] >= 1.0 / BATCH_RATE:
                sent["at"] = now
                self.send({"kind": "batch", "run_id": rid, "epoch": epoch, "epochs": epochs, "phase": phase,
                           "batch": batch, "batches": batches})
        return {"on_epoch": on_epoch, "on_batch": on_batch}

    def restore_one(self, runner: Any, msg: dict[str, Any]) -> None:
        """Answer a "restore" request: the kept best epoch's Variables (or a checkpoint's, ``path``) assigned into
        the runner's live session (``app.engine.epochs.restore_best``)."""
        from enuflow.app.engine.epochs import restore_best

        epoch, problems = restore_best(runner, msg.get("path") or None)
        self.send({"kind": "restored", "run_id": int(msg.get("run_id") or 0), "epoch": epoch or 0,
                   "errors": [p.to_json() for p in problems]})


    def checked_page(self, msg: dict[str, Any], rid: int, to: list[str] | None = None) -> tuple[Any, list[str]] | None:
        """The page of a "run" message and its blocks that can crash or hang (sent as "suspects"), or None
        when it cannot run (a "done" with the errors is sent): a malformed page, literal values over the limit.
        With ``to`` (a run to those blocks, ``app.engine.run_to``) only the blocks that run count."""
        from enuflow.app.document.formats.errors import PageFileError
        from enuflow.app.document.formats.native import page_from_doc
        from enuflow.app.worker.limits import check_literals, literal_limit_bytes
        from enuflow.blocks import REGISTRY

        try:
            page = page_from_doc("page", msg.get("page"))
        except PageFileError as e:
            self.send({"kind": "done", "run_id": rid, "results": None,
                       "errors": [{"block": e.block, "port": None, "message": e.detail}]})
            return None
        try:
            limit = literal_limit_bytes(msg.get("max_literal_mb"))
        except (ValueError, TypeError) as e:
            self.send({"kind": "done", "run_id": rid, "results": None,
                       "errors": [{"block": None, "port": None, "message": str(e)}]})
            return None
        runs = None
        if to:
            from enuflow.app.engine.run_to import needed_ids, part

            runs = needed_ids(page, to)
        too_large = check_literals(part(page, to) if to else page, limit)
        if too_large:
            self.send({"kind": "done", "run_id": rid, "results": None, "errors": too_large})
            return None
        suspects = []
        for b in page:
            decl = REGISTRY.get(b.type)
            if (b.type in KNOWN_DANGEROUS or (decl is not None and getattr(decl, "dangerous", False))) \
                    and (runs is None or b.id in runs):
                suspects.append(b.id)
        self.send({"kind": "suspects", "run_id": rid, "blocks": suspects})
        return page, suspects

    def share(self, values: dict[tuple[str, str], Any], name: str, errors: list[dict[str, Any]]) -> Any:
        """Put a run's results in the shared-memory segment ``name``: its description, None (no results, or
        they could not be shared: ``errors`` says why), or False when the child is exiting."""
        if not values:
            return None
        if not name.startswith(shm.PREFIX) or "/" in name:
            errors.append({"block": None, "port": None, "message": "no valid shared-memory name was given"})
            return None
        with self.lock:
            if self.exiting:
                return False
            # the editor took (and removed) the segments of earlier runs when it read their "done"
            self.segments = []
        try:
            return shm.write_results(values, name, created=self.segments)
        except OSError as e:
            with self.lock:
                for p in self.segments:
                    shm.remove(p.name)
                self.segments = []
            errors.append({"block": None, "port": None,
                           "message": f"the results could not be put in shared memory: {e.strerror or e}"})
            return None


def make_runner(target: str, device: str, cluster: str, timeout: Any) -> Any:
    """A Runner for a grpc ``target`` or a ``cluster`` file (its first chief or worker task unless ``target``);
    raises ValueError (ClusterError) for a cluster file that cannot be used. ``timeout`` (the run's, in seconds):
    the run stops between steps once it is past (after a full last step, with every result), and each session
    call is bounded by it, so that a step that hangs ends in TensorFlow's DeadlineExceeded (``hung_step``) and a
    lost cluster task is named, before the caller's watchdog has to kill the worker."""
    from enuflow.app.document.cluster import load_cluster
    from enuflow.app.engine.runner import Runner

    spec = load_cluster(cluster) if cluster else None
    if spec is not None:
        spec.default_task()
    return Runner(target=target, device=device, cluster=spec, timeout=float(timeout) if timeout else None)


#: what TensorFlow's local session says when a call takes longer than its ``operation_timeout_in_ms``
DEADLINE_TEXT = "Timed out waiting for notification"


def is_deadline(error: dict[str, Any]) -> bool:
    return error.get("block") is None and DEADLINE_TEXT in str(error.get("message", ""))


def hung_step(runner: Any, report: Any, last_step: int, since_last: float) -> int:
    """The step that hung (a local session call that TensorFlow ended at the run's timeout), or 0.

    The runner counts a failed step when something in it ran, and calls ``on_step`` for it: the last
    ``on_step`` then came right after the hang (``since_last`` is short), else before it (at least the
    timeout ago, the time TensorFlow waited)."""
    if runner.remote or runner.timeout is None or getattr(report, "timed_out", False):
        return 0
    if not any(is_deadline(e.to_json()) for e in report.errors):
        return 0
    if last_step and since_last < runner.timeout / 2:
        return last_step
    return last_step + 1


def hung_message(step: int, timeout: float, suspects: list[str]) -> str:
    """The error of a step TensorFlow aborted at the run's timeout; ``suspects``: the page's blocks that can hang."""
    can_hang = f"; blocks that can hang: {', '.join(suspects)}" if suspects else ""
    return (f"step {step} hung: it did not end within the run's timeout of {timeout:g} s and was aborted "
            f"(timed out after {step - 1} step{'s' if step != 2 else ''}){can_hang}; the results are those of "
            + (f"step {step - 1}" if step > 1 else "the blocks that do not wait on it"))


def out_of_memory(error: dict[str, Any]) -> dict[str, Any]:
    """A block's TensorFlow "OOM when allocating" error, said in words that name the limit and the block."""
    text = str(error.get("message", ""))
    if not text.startswith("OOM when allocating"):
        return error
    where = f" while running block {error['block']}" if error.get("block") else ""
    short = text.split(" Hint:", 1)[0]
    return {**error, "message": f"{memory_words(memory_limit_mb())}{where}: {short}"}


def log_only(text: str) -> None:
    """Write ``text`` to the worker's log without relaying it to the person (a traceback, for a bug report)."""
    sys.stderr.write("".join(f"{LOG_ONLY}{line}\n" for line in text.splitlines()))
    sys.stderr.flush()


def scalars(values: dict[tuple[str, str], np.ndarray]) -> dict[tuple[str, str], float]:
    """The one-element numeric results of a step, as floats."""
    out = {}
    for k, v in values.items():
        if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "biuf":
            out[k] = float(v.reshape(-1)[0])
    return out


def limit_memory() -> None:
    """Apply ``$ENUFLOW_WORKER_MAX_MEMORY_MB`` (RLIMIT_AS, counted from now) so that a page that wants too
    much memory fails inside TensorFlow or numpy instead of taking the machine's memory."""
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return
    try:
        import resource

        extra = int(float(text) * (1 << 20))
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + extra, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, OSError, ValueError) as e:
        print(f"enuflow: ${MEMORY_LIMIT_ENV} not applied: {e}", file=sys.stderr)


def main() -> None:
    # the message stream gets private copies of fds 0 and 1; fd 1 then goes to the log like stderr
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    inp = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    faulthandler.enable(file=sys.stderr)
    # Ctrl+C in the editor's terminal is for the editor; it ends us by closing our stdin
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = Child(out)
    threading.Thread(target=child.read_commands, args=(inp,), name="commands", daemon=True).start()
    try:
        child.serve()
    except BaseException:  # noqa: BLE001 - report start-up failures in the log, then end
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
    child.exit_now()


if __name__ == "__main__":
    main()
