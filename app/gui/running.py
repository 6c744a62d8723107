"""Running the page from the editor window: the warm worker process, Run/Stop/Kill, Run to Here, the progress
of steps, and showing what comes back (results, per-step trends, errors, crashes, and what the page printed,
in the Console dock).

Run to Here (a block's context menu, or Ctrl+F10 on the selection) runs only what the chosen blocks need
(``app.engine.run_to``); the other blocks keep the results, trends and errors of the runs before. When an op
crashes the worker process, the page runs again without the blocks that crashed it and what depends on them, as
``enuflow run`` does (``app.worker.headless.CrashRetry``): the crashing block shows the crash, the others their
results.

``RunCommands`` is a part of ``MainWindow`` (a mixin). The worker (``app.worker.WorkerClient``) reports
on a background thread; ``_WorkerBridge`` carries its events to the GUI thread through a Qt signal.
No TensorFlow is loaded here: the worker's child process loads it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from enuflow.app.document.formats.native import run_doc
from enuflow.app.engine.analysis import carries_graph, needed_ids
from enuflow.app.gui import blocktypes
from enuflow.app.worker.headless import CrashRetry


class _WorkerBridge(QObject):
    """Carries worker events from its reader thread to the GUI thread."""

    event = Signal(object)


class RunCommands:
    """Run (F5), Stop, Kill and the worker's events (part of MainWindow)."""

    worker: Any
    #: the run in progress and its tries again after a crash (``app.worker.headless.CrashRetry``)
    crash_retry: CrashRetry | None = None
    #: a Run to Here in progress: (the blocks asked for, the ids of the blocks that run), else None
    ran_to: tuple[list[str], set[str]] | None = None
    _kill_asked = False
    _run_args: dict[str, Any] | None = None

    def ensure_worker(self) -> Any:
        if self.worker is None:
            from enuflow.app.worker.client import WorkerClient

            self.worker = WorkerClient(self.bridge.event.emit)
            self.worker.set_target(self.run_target)
            self.worker.start()
            self.schedule_check()  # the page's static types, once TensorFlow is loaded there
        return self.worker

    # -- running ---------------------------------------------------------------------------------------
    def io_blocks(self, an: Any) -> list[str]:
        """The blocks a run of the page needs ``--allow-io`` for: those of a file or host op type, and those that
        carry a graph whose ops need it (from the analysis ``an``; without one, every block that carries a graph)."""
        out = []
        if an is not None:  # the analysed page has the composites' inner blocks, by path
            decls = [(b.id, an.decls.get(b.id)) for b in an.page]
        else:
            decls = [(b.id, blocktypes.lookup(b.type)) for b in self.page]
        for bid, d in decls:
            if d is not None and (d.io or (an is None and carries_graph(d))):
                out.append(bid)
        if an is not None:
            for e in an.graph_io:
                if e.block not in out:
                    out.append(e.block)
        return out

    def allow_io(self, io_blocks: list[str]) -> bool:
        """Ask whether these blocks may use files for this run, or for as long as the page is open ("Yes, for
        this page": no question at the next Step or Run while no other such block is added)."""
        if not io_blocks:
            return False
        if set(io_blocks) <= self.io_allowed:
            return True
        B = QMessageBox.StandardButton
        answer = self.prompt("Run blocks that use files?",
                             "These blocks read or write files or act on the process: " + ", ".join(io_blocks)
                             + ". Allow them for this run (Yes), or for as long as this page is open "
                             "(Yes, for this page)?", B.Yes | B.YesToAll | B.No)
        if answer == B.YesToAll:
            self.io_allowed |= set(io_blocks)
        return answer in (B.Yes, B.YesToAll)

    def step_page(self) -> int | None:
        """One more step, continuing from the Variables' current values (the first Step starts them)."""
        return self.run_page(steps=1, reset=False)

    def run_to_here(self, ids: list[str] | None = None) -> int | None:
        """Run only what the blocks ``ids`` (default: the selected ones) need; returns the run id (None when no block
        is chosen or a run is in progress). The other blocks keep their results."""
        ids = [b for b in (ids if ids is not None else self.scene.selected_block_ids()) if b in self.page]
        if not ids:
            self.status_label.setText("Run to Here: select the blocks to run to first")
            return None
        return self.run_page(to=ids)

    def run_page(self, steps: int | None = None, reset: bool = True, to: list[str] | None = None) -> int | None:
        """Run the page in the worker; returns the run id (None if a run is in progress).

        ``reset=False`` continues from where the last run left the Variables (Step), and the trends go on.
        ``to`` (block ids): run only what those blocks need (Run to Here; the others keep their results).
        """
        try:
            worker = self.ensure_worker()
        except (ImportError, OSError, RuntimeError) as e:
            self.status_label.setText(f"The run worker cannot start: {e}")
            return None
        if worker.busy:
            self.status_label.setText("A run is in progress: Stop it first")
            return None
        if self._analysis_timer.isActive():  # an edit not checked yet: check it now
            self._analysis_timer.stop()
            self.revalidate()
        an = self.analysis  # the last check (parsing large pin values again would stall the window)
        self.ran_to = (list(to), needed_ids(self.page, to)) if to else None
        io = self.io_blocks(an)
        if self.ran_to is not None:  # only the blocks that run are asked about
            io = [b for b in io if b in self.ran_to[1]]
        allow_io = self.allow_io(io)
        total = 0
        if an is not None and an.plan.block is not None and not an.plan.infinite:
            total = an.plan.steps if steps is None else steps
        elif an is not None and an.plan.block is None:
            total = 1 if steps is None else steps
        self._run_args = {"steps": steps, "allow_io": allow_io, "reset": reset, "logdir": getattr(self, "logdir", None)}
        epochs = self.training_epochs() if reset and not to and steps is None else 0  # Run trains; Step steps
        if epochs:
            self._run_args.update(self.training_args(epochs))
        self.crash_retry = CrashRetry(run_doc(self.page), to)
        self._kill_asked = False
        if not self._send_run(worker):
            return None
        self.continuing = not reset
        what = "Run to Here" if to else "Run" if reset else "Step"
        self.console.start_run(f"{what} (run {self.run_id})" if to or not reset else f"Run {self.run_id}")
        self._console_shown = False
        if to:  # the other blocks' trends stay; those of the blocks that run start again
            self.history = {k: list(v) for k, v in self.history.items()}
            self.results.history = {k: list(v) for k, v in self.history.items()}
        elif reset:
            self.history = {}
            self.results.history = {}
            self.step_total = 0
        else:  # the trends before this Step; the live steps go into the dock's own copy
            self.history = {k: list(v) for k, v in self.history.items()}
            self.results.history = {k: list(v) for k, v in self.history.items()}
        self.results.start_live(self.step_total)
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(0)
        self.progress.setFormat("step %v / %m" if total else "running...")
        self.progress.show()
        if epochs:
            self.start_training_view(epochs)
        self.run_action.setEnabled(False)
        self.step_action.setEnabled(False)
        self.run_to_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.kill_action.setEnabled(True)
        self.status_label.setText("Running..." if worker.ready else "Running (TensorFlow is still loading)...")
        return self.run_id

    def _send_run(self, worker: Any) -> bool:
        """Send the run's next try (``crash_retry``: the page, or the page without the blocks that crashed the worker)
        to the worker; False (said in the status bar) when it cannot be sent."""
        retry = self.crash_retry
        try:
            self.run_id = worker.run(retry.doc, to=retry.to, **self._run_args)
        except (OSError, RuntimeError) as e:
            self.status_label.setText(f"The page could not be sent to the run worker: {e}")
            return False
        return True

    def stop_run(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status_label.setText("Stopping after this batch (the Variables keep their values)..."
                                      if self.training_run else "Stopping after this step...")

    def kill_run(self) -> None:
        if self.worker is not None:
            self._kill_asked = True  # killed on request: no run again without the blocks that were running
            self.worker.kill()

    def _run_ended(self) -> None:
        self.progress.hide()
        self.run_action.setEnabled(True)
        self.step_action.setEnabled(True)
        self.run_to_action.setEnabled(True)
        self.stop_action.setEnabled(False)
        self.kill_action.setEnabled(False)

    def _on_worker_event(self, ev: Any) -> None:
        if ev.kind == "devices":  # an answer about the run target, not about a run: last_event stays the run's
            self._on_devices(ev)
            self.event_handled.emit(ev)
            return
        if ev.kind == "checked":  # a static check's answer, not about a run either
            self.on_checked(ev)
            self.event_handled.emit(ev)
            return
        self.last_event = ev
        if ev.kind == "ready":
            self.load_catalogue()
            self.status_label.setText(f"Ready: TensorFlow loaded in {ev.seconds:.1f} s" if ev.seconds else "Ready")
            self.request_devices()
        elif ev.kind == "step" and ev.run_id == self.run_id:
            if self.progress.maximum() > 0:
                self.progress.setValue(min(ev.step, self.progress.maximum()))
            else:
                self.progress.setFormat(f"step {ev.step}")
            self.results.add_step(ev.scalars, self.step_total + ev.step)
        elif ev.kind in ("epoch", "batch") and ev.run_id == self.run_id:
            self.on_training_event(ev)
        elif ev.kind == "restored" and ev.run_id == self._restore_id:
            self.on_restored(ev)
        elif ev.kind == "done" and ev.run_id == self.run_id:
            self._on_done(ev)
        elif ev.kind == "crashed":
            self._on_crashed(ev)
        elif ev.kind == "log":
            self.statusBar().showMessage(ev.message[:200], 5000)
        elif ev.kind == "output" and ev.message:
            self.console.append(ev.message)
            if not getattr(self, "_console_shown", True):  # the run's first output: the Console comes to the front
                self._console_shown = True
                self._docks["Console"].raise_()
        self.event_handled.emit(ev)

    def _on_done(self, ev: Any) -> None:
        """A run ended: show its results, trends and errors (a Run to Here: those of the blocks that ran, the others
        keep theirs), with the errors of the crashes it was run again after."""
        self._run_ended()
        self.training_done(ev)
        retry = self.crash_retry if self.crash_retry is not None and self.crash_retry.errors else None
        errors = (list(retry.errors) if retry is not None else []) + list(ev.errors)
        ran = self.ran_to[1] | {b for b, _p in ev.results} if self.ran_to is not None else None
        if ran is not None:
            self.values = {k: v for k, v in self.values.items() if k[0] not in ran} | dict(ev.results)
            self.history = {k: v for k, v in self.history.items() if k[0] not in ran} | dict(ev.history)
            self.step_total = ev.steps_done
            self.run_errors = [e for e in self.run_errors if e.get("block") and e["block"] not in ran] + errors
        else:
            self.values = ev.results
            if self.continuing and not ev.initialised:
                # a Step: the trends go on from the steps before
                merged = {k: list(v) for k, v in self.history.items()}
                for k, v in ev.history.items():
                    merged.setdefault(k, []).extend(v)
                self.history = merged
            else:
                self.history = ev.history
                self.step_total = 0
            self.step_total += ev.steps_done
            self.run_errors = errors
        self.run_warnings = list(getattr(ev, "warnings", []) or [])
        self.scene.set_results(self.values)
        stale = set() if ran is None else {b for b in self.scene.stale if b not in ran}
        self.scene.set_stale(stale)
        self.scene.set_cached(set(getattr(ev, "cached", ()) or ()))
        self.results.set_stale(stale)
        self.results.set_results(self.values, self.history, last_step=self.step_total)
        self._show_errors()
        if errors:  # (the Console may have come to the front during the run)
            self._docks["Problems"].raise_()
        self.status_label.setText(self._done_words(ev, errors, retry))

    def _done_words(self, ev: Any, errors: list[Any], retry: CrashRetry | None) -> str:
        """The status bar's words for a run that ended: what ran, its steps and errors."""
        what = "stopped" if ev.stopped else "done"
        text = f"Run {what}: {ev.steps_done} step(s), {len(errors)} error(s)"
        if getattr(ev, "epochs", None):  # a training run
            text = self.training_words(ev, len(errors))
        if self.ran_to is not None:
            to, ran = self.ran_to
            ran = [b for b in ran if b not in (retry.removed if retry is not None else ())
                   and (self.page.get(b) is None or self.page.block(b).type != "ClientSession")]
            names = ", ".join(sorted(ran)[:6]) + (f" and {len(ran) - 6} more" if len(ran) > 6 else "")
            text = (f"Run to {', '.join(to)} {what}: {len(ran)} block(s) ran ({names}); {ev.steps_done} step(s), "
                    f"{len(errors)} error(s); the other blocks keep their results")
        cached = list(getattr(ev, "cached", ()) or ())
        if cached:  # a cached re-run (``app.engine.rerun_cache``)
            ran = len(getattr(ev, "ran", ()) or ())
            text += f"; {ran} block{'s' if ran != 1 else ''} ran, {len(cached)} from cache"
        if retry is not None:
            text += f"; run again without {', '.join(retry.removed)}, which crashed the worker"
        return text

    def _on_crashed(self, ev: Any) -> None:
        """The worker died. A crash of the run in progress (not a Kill) runs the page again without the blocks that
        crashed it, as ``enuflow run`` does; otherwise the crash's errors are shown."""
        retry = self.crash_retry if ev.run_id and ev.run_id == self.run_id else None
        first = ev.message.splitlines()[0] if ev.message else "The worker process ended."
        if retry is not None and not self._kill_asked and ev.exit_code is not None:
            retry.crashed(ev, self.worker.log_path if self.worker is not None else "")
            if retry.again() and self.worker is not None and self._send_run(self.worker):
                self.status_label.setText(f"The worker crashed in {', '.join(retry.removed)}: running the page again "
                                          "without it (and what depends on it)...")
                return
        self._run_ended()
        self.training_done(ev)
        self.run_errors = (list(retry.errors) if retry is not None and retry.errors else list(ev.errors)) \
            or [{"block": None, "port": None, "message": first}]
        self._show_errors()
        self._docks["Problems"].raise_()
        self.status_label.setText(first)
