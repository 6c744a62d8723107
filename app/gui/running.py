"""Running the page from the editor window: the warm worker process, Run/Stop/Kill, the progress
of steps, and showing what comes back (results, per-step trends, errors, crashes, and what the page printed,
in the Console dock).

``RunCommands`` is a part of ``MainWindow`` (a mixin). The worker (``app.worker.WorkerClient``) reports
on a background thread; ``_WorkerBridge`` carries its events to the GUI thread through a Qt signal.
No TensorFlow is loaded here: the worker's child process loads it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.engine.analysis import carries_graph
from enuflow.app.gui import blocktypes


class _WorkerBridge(QObject):
    """Carries worker events from its reader thread to the GUI thread."""

    event = Signal(object)


class RunCommands:
    """Run (F5), Stop, Kill and the worker's events (part of MainWindow)."""

    worker: Any

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

    def run_page(self, steps: int | None = None, reset: bool = True) -> int | None:
        """Run the page in the worker; returns the run id (None if a run is in progress).

        ``reset=False`` continues from where the last run left the Variables (Step), and the trends go on.
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
        allow_io = self.allow_io(self.io_blocks(an))
        total = 0
        if an is not None and an.plan.block is not None and not an.plan.infinite:
            total = an.plan.steps if steps is None else steps
        elif an is not None and an.plan.block is None:
            total = 1 if steps is None else steps
        try:
            self.run_id = worker.run(page_to_doc(self.page), steps=steps, allow_io=allow_io, reset=reset,
                                     logdir=getattr(self, "logdir", None))
        except (OSError, RuntimeError) as e:
            self.status_label.setText(f"The page could not be sent to the run worker: {e}")
            return None
        self.continuing = not reset
        self.console.start_run(f"Run {self.run_id}" if reset else f"Step (run {self.run_id})")
        self._console_shown = False
        if reset:
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
        self.run_action.setEnabled(False)
        self.step_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.kill_action.setEnabled(True)
        self.status_label.setText("Running..." if worker.ready else "Running (TensorFlow is still loading)...")
        return self.run_id

    def stop_run(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status_label.setText("Stopping after this step...")

    def kill_run(self) -> None:
        if self.worker is not None:
            self.worker.kill()

    def _run_ended(self) -> None:
        self.progress.hide()
        self.run_action.setEnabled(True)
        self.step_action.setEnabled(True)
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
        elif ev.kind == "done" and ev.run_id == self.run_id:
            self._run_ended()
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
            self.run_errors = list(ev.errors)
            self.run_warnings = list(getattr(ev, "warnings", []) or [])
            self.scene.set_results(self.values)
            self.scene.set_stale(set())
            self.results.set_stale(set())
            self.results.set_results(self.values, self.history, last_step=self.step_total)
            self._show_errors()
            if ev.errors:  # (the Console may have come to the front during the run)
                self._docks["Problems"].raise_()
            what = "stopped" if ev.stopped else "done"
            self.status_label.setText(f"Run {what}: {ev.steps_done} step(s), {len(ev.errors)} error(s)")
        elif ev.kind == "crashed":
            self._run_ended()
            self.run_errors = list(ev.errors) or [{"block": None, "port": None, "message": ev.message.splitlines()[0]}]
            self._show_errors()
            self._docks["Problems"].raise_()
            first = ev.message.splitlines()[0] if ev.message else "The worker process ended."
            self.status_label.setText(first)
        elif ev.kind == "log":
            self.statusBar().showMessage(ev.message[:200], 5000)
        elif ev.kind == "output" and ev.message:
            self.console.append(ev.message)
            if not getattr(self, "_console_shown", True):  # the run's first output: the Console comes to the front
                self._console_shown = True
                self._docks["Console"].raise_()
        self.event_handled.emit(ev)
