"""TensorFlow interop in the editor: opening models, File > Export SavedModel, and the TensorBoard setting.

The editor loads no TensorFlow, so the TensorFlow work happens in other processes: a frozen GraphDef is read
here without it (``formats.graphdef``; its data file goes to a folder under the cache), other models are
turned into a page by ``enuflow import`` in a subprocess (into that folder); either page opens folded by the
model's name scopes into composites (``app.engine.model_fold``), as an import, so Save asks where to keep it, and
the data file goes along. A SavedModel is written by
``enuflow export --savedmodel`` in a ``QProcess`` (the window stays responsive), and TensorBoard event
files are written by the run worker's child (``logdir`` in its run command).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QFileDialog

from enuflow.app.document.formats import PageFileError, load
from enuflow.app.document.formats.native import page_to_doc, write_atomic
from enuflow.app.document.page import Page

MODEL_SUFFIXES = (".pb", ".pbtxt")
IMPORT_TIMEOUT_S = 600


def model_source(path: str) -> str | None:
    """The model a path names (a GraphDef file, a SavedModel folder or its saved_model.pb), or None."""
    p = Path(path)
    if p.is_dir():
        return str(p) if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file() else None
    if p.name in ("saved_model.pb", "saved_model.pbtxt"):
        return str(p.parent)
    return str(p) if p.suffix.lower() in MODEL_SUFFIXES else None


def _cli() -> list[str]:
    return [sys.executable, "-m", "enuflow.app.cli"]


def import_folder(source: str) -> Path:
    """Where the page of an imported model is kept until it is saved (one folder per model version)."""
    from enuflow.app.worker.client import cache_dir

    p = Path(source).resolve()
    try:
        stamp = f"{p.stat().st_mtime_ns}"
    except OSError:
        stamp = ""
    digest = hashlib.blake2b(f"{p}\0{stamp}".encode(), digest_size=8).hexdigest()
    return cache_dir() / "imports" / f"{p.stem or 'model'}-{digest}"


def open_model(source: str) -> Page:
    """The page of the model at ``source``, not yet saved anywhere (its data file in ``import_folder``).

    A frozen GraphDef is read here, without TensorFlow (``formats.graphdef``), once the block catalogue is known
    without it; a SavedModel, a model with function ops or dtypes numpy lacks, or a first start without the
    catalogue's cache goes through ``enuflow import`` in a subprocess. Raises PageFileError naming the file."""
    from enuflow.app.document.formats import graphdef
    from enuflow.app.gui import blocktypes

    p = Path(source)
    if p.is_file() and blocktypes.catalogue_ready():
        blocktypes.refresh()  # the op blocks' declarations, from the cache
        try:
            return _read_here(p)
        except graphdef.NeedsTensorFlow:
            pass
    return load(import_model_page(source))


def _read_here(path: Path) -> Page:
    from enuflow.app.document import datafile
    from enuflow.app.document.formats import graphdef
    from enuflow.app.document.formats.model_page import ModelGraph, page_from_model
    from enuflow.app.engine.model_fold import fold_model
    from enuflow.app.gui import blocktypes

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise PageFileError(str(path), f"cannot be read: {e.strerror or e}") from None
    gd = graphdef.parse(raw, text=path.suffix.lower() in (".pbtxt", ".txt"), source=str(path))
    page, arrays = page_from_model(ModelGraph(gd, path.stem or "model"), blocktypes.registry(), strict=True,
                                   layout=False)
    page = fold_model(page, blocktypes.registry())
    if arrays:
        folder = import_folder(str(path))
        target = folder / datafile.data_name(folder / f"{path.stem or 'model'}.json")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            datafile.write_npz(target, arrays)
        except OSError as e:
            raise PageFileError(str(target), f"cannot be written: {e.strerror or e}") from None
        page.data_path = str(target)
    return page


def import_model_page(source: str) -> str:
    """Turn the model at ``source`` into a page with ``enuflow import`` (a subprocess); returns the page
    path. Raises PageFileError with the importer's message."""
    folder = import_folder(source)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{Path(source).stem or 'model'}.json"
    try:
        r = subprocess.run([*_cli(), "import", source, "-o", str(out)], capture_output=True, text=True,
                           timeout=IMPORT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PageFileError(source, f"could not be imported ({e})") from None
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
        raise PageFileError(source, "could not be imported: " + (lines[-1] if lines else f"exit {r.returncode}"))
    return str(out)


class InteropCommands:
    """File > Export SavedModel and Run > TensorBoard Log Folder (part of MainWindow)."""

    logdir: str | None = None
    export_process: QProcess | None = None

    def choose_logdir(self) -> None:
        """Ask for the folder TensorBoard event files go to on every run (cancel: stop logging)."""
        folder = QFileDialog.getExistingDirectory(self, "TensorBoard log folder (Cancel: no logging)",
                                                  self.logdir or "")
        self.set_logdir(folder or None)

    def set_logdir(self, folder: str | None) -> None:
        self.logdir = folder
        self.logdir_action.setChecked(bool(folder))
        self.status_label.setText(f"Runs write TensorBoard events to {folder}" if folder
                                  else "Runs write no TensorBoard events")

    def export_savedmodel_dialog(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "Export SavedModel (a new folder)",
                                                str(Path(self.path).with_suffix("")) + "_savedmodel"
                                                if self.path else "savedmodel", "SavedModel folder (*)")
        if folder:
            self.export_savedmodel(folder)

    def export_savedmodel(self, folder: str, after_run: int | None = None) -> QProcess | None:
        """Write the page (as it is now, saved or not) as a SavedModel in ``folder`` with ``enuflow export``
        in a QProcess; the status bar says when it is done."""
        if self.export_process is not None and self.export_process.state() != QProcess.ProcessState.NotRunning:
            self.status_label.setText("An export is still running")
            return None
        tmp = Path(tempfile.mkdtemp(prefix="enuflow-export-"))
        page_file = tmp / "page.json"
        try:
            write_atomic(page_file, json.dumps(page_to_doc(self.page), ensure_ascii=False))
        except PageFileError as e:
            self.warn("Cannot export SavedModel", str(e))
            return None
        args = [*_cli()[1:], "export", str(page_file), "--savedmodel", folder]
        if after_run:
            args += ["--after-run", str(int(after_run))]
        proc = QProcess(self)
        proc.setProgram(_cli()[0])
        proc.setArguments(args)
        proc.setWorkingDirectory(os.getcwd())

        def finished(code: int, _status: Any) -> None:
            out = bytes(proc.readAllStandardOutput()).decode("utf-8", "replace").strip()
            err = bytes(proc.readAllStandardError()).decode("utf-8", "replace").strip()
            page_file.unlink(missing_ok=True)
            try:
                tmp.rmdir()
            except OSError:
                pass
            self.export_result = (code, out, err)
            if code == 0:
                self.status_label.setText(out.splitlines()[-1] if out else f"Exported {folder}")
            else:
                lines = [ln for ln in err.splitlines() if ln.strip()]
                self.status_label.setText(f"SavedModel export failed: {lines[0] if lines else code}")
                self.warn("SavedModel export failed", "\n".join(lines[:20]) or f"exit status {code}")

        proc.finished.connect(finished)
        self.export_result = None
        self.export_process = proc
        proc.start()
        self.status_label.setText(f"Exporting SavedModel to {folder}...")
        return proc
