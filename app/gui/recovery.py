"""The recovery file: unsaved work kept on disk after every edit, offered back after a crash.

After each edit the window calls ``Recovery.touch()``; a short timer later the page is snapshotted on
the GUI thread (cheap: block records with shallow-copied pins) and written atomically on a worker
thread, so a large page never stalls the editor. A clean close or a save removes the file. On the
next start ``pending()`` finds a file left by an editor that did not close cleanly (its process is
gone) and the window offers to restore it.

The folder is ``$ENUFLOW_RECOVERY_DIR``, else ``$XDG_STATE_HOME/enuflow/recovery`` (``~/.local/state``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from enuflow.app.document.formats.native import page_from_doc, page_to_doc, write_atomic
from enuflow.app.document.page import Page
from enuflow.app.worker.shm import alive

FORMAT = "enuflow.recovery"


def recovery_dir() -> Path:
    env = os.environ.get("ENUFLOW_RECOVERY_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "enuflow" / "recovery"


def _alive(pid: int) -> bool:
    """Whether another editor process ``pid`` still runs (this process's own files are never stale)."""
    return pid != os.getpid() and alive(pid)


def snapshot(page: Page) -> dict[str, Any]:
    """A JSON-ready copy of the page that later edits cannot change (pins are replaced, not mutated)."""
    doc = page_to_doc(page)
    doc["blocks"] = [dict(b, pins=dict(b["pins"])) for b in doc["blocks"]]
    doc["links"] = [dict(ln) for ln in doc["links"]]
    doc.pop("results", None)  # results are not work; they come back with the next run
    return doc


class Recovery(QObject):
    """Keeps one recovery file for this editor process."""

    def __init__(self, delay_ms: int = 400, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = recovery_dir()
        self.path = self.folder / f"recovery-{os.getpid()}.json"
        self.source: str | None = None
        self.page: Page | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.write_now)
        self._lock = threading.Lock()
        self._generation = 0
        self._threads: list[threading.Thread] = []

    def attach(self, page: Page, source: str | None) -> None:
        self.page = page
        self.source = source

    def touch(self) -> None:
        """An edit happened: write the recovery file soon."""
        self._timer.start()

    def write_now(self, wait: bool = False) -> None:
        if self.page is None:
            return
        self._generation += 1
        record = {"format": FORMAT, "pid": os.getpid(), "time": time.time(), "source": self.source,
                  "page": snapshot(self.page)}
        gen = self._generation
        t = threading.Thread(target=self._write, args=(record, gen), daemon=True)
        t.start()
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        if wait:
            t.join()

    def _write(self, record: dict[str, Any], gen: int) -> None:
        text = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            if gen != self._generation:
                return  # a newer snapshot is on its way
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, text)
            except Exception:  # noqa: BLE001, S110 - recovery must never disturb editing
                pass

    def flush(self) -> None:
        """Write a pending snapshot now and wait for the writes."""
        if self._timer.isActive():
            self._timer.stop()
            self.write_now()
        for t in self._threads:
            t.join(timeout=5)

    def discard(self) -> None:
        """The work is saved or deliberately dropped: remove the recovery file."""
        self._timer.stop()
        self._generation += 1
        for t in self._threads:
            t.join(timeout=5)
        with self._lock:
            try:
                self.path.unlink()
            except OSError:
                pass


def pending() -> list[Path]:
    """Recovery files left by editors that are no longer running, newest first."""
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob("recovery-*.json"):
        try:
            pid = int(p.stem.split("-", 1)[1])
        except ValueError:
            continue
        if _alive(pid):
            continue
        found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def read(path: Path) -> tuple[Page, str | None]:
    """The page kept in a recovery file and the file it was opened from; raises ValueError."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot be read ({e})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path}: not an enuflow recovery file")
    try:
        page = page_from_doc(path, record.get("page"))
    except Exception as e:  # noqa: BLE001 - PageFileError and anything odd
        raise ValueError(str(e)) from None
    src = record.get("source")
    return page, src if isinstance(src, str) else None


def remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
