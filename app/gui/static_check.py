"""The page's static types and problems from the worker, shown while a person edits (issue 23).

``StaticChecks`` is a part of ``MainWindow`` (a mixin). After the page is loaded and after each edit (moves
aside), debounced by ``CHECK_DELAY_MS``, it asks the editor's worker to check the page (``WorkerClient.check``:
the graph is built in the worker process, never here, and nothing runs). The answer ("checked") gives each wire
its source's static type in its tooltip (``f32[?,784]``) and puts the check's errors (type clashes, shapes that
cannot meet) and warnings (unordered read/assign, unused outputs, Placeholders without a value) in the Problems
panel, beside the page checks' and the last run's. An answer to an older request than the last is dropped. Pages
of more than ``AUTO_CHECK_BLOCKS`` blocks are not checked by themselves (``enuflow check`` checks any page).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer

from enuflow.app.document.formats.native import run_doc

#: how long after an edit the editor waits for more edits before it asks for a check
CHECK_DELAY_MS = 300
#: pages of more blocks are not checked after every edit: writing such a page out for the worker takes the editor
#: a tenth of a second or more (10,000 blocks: 0.1 to 0.4 s), too long to pay at every edit
AUTO_CHECK_BLOCKS = 5_000


class StaticChecks:
    """Asking the worker for static checks and showing their answers (part of MainWindow)."""

    worker: Any
    #: what the last answered check said: (block, port) -> {"dtype", "shape"}, and its problems
    static_types: dict[tuple[str, str], dict[str, Any]] = {}
    check_errors: list[dict[str, Any]] = []
    check_warnings: list[dict[str, Any]] = []
    check_id: int | None = None

    def schedule_check(self) -> None:
        """Ask for a check ``CHECK_DELAY_MS`` after the last of a burst of edits (when there is a worker, and the page
        has at most ``AUTO_CHECK_BLOCKS`` blocks)."""
        if self.worker is None or len(self.page) > AUTO_CHECK_BLOCKS:  # type: ignore[attr-defined]
            return
        timer = getattr(self, "_check_timer", None)
        if timer is None:
            timer = self._check_timer = QTimer(self)  # type: ignore[arg-type]
            timer.setSingleShot(True)
            timer.setInterval(CHECK_DELAY_MS)
            timer.timeout.connect(self.request_check)
        timer.start()

    def request_check(self) -> int | None:
        """Ask the worker to check the page now; returns the request's id (None without a worker)."""
        if self.worker is None:
            return None
        try:
            # (as the editor's own page checks: blocks that use files are asked about at Run, not listed as errors)
            self.check_id = self.worker.check(run_doc(self.page), allow_io=True)  # type: ignore[attr-defined]
        except (RuntimeError, TypeError) as e:  # a closed worker, a value JSON cannot hold
            self.status_label.setText(f"The page could not be checked: {e}")  # type: ignore[attr-defined]
            return None
        return self.check_id

    def on_checked(self, ev: Any) -> None:
        """Show a check's answer (the answer to the last request only)."""
        if ev.run_id != self.check_id:
            return
        self.static_types = dict(ev.types)
        self.check_errors = list(ev.errors)
        self.check_warnings = list(ev.warnings)
        self.scene.set_static_types(self.static_types)  # type: ignore[attr-defined]
        self._show_errors()  # type: ignore[attr-defined]
