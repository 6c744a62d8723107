"""Where the editor runs pages: the run target setting, the devices it offers, and each block's task in colour.

``TargetCommands`` is a part of ``MainWindow`` (a mixin): Run > Run Target... chooses this machine, a cluster
file (a TensorFlow cluster spec or TF_CONFIG object) or a grpc address; the worker process connects to it
(``WorkerClient.set_target``) and lists its devices, which the inspector's device field offers. Blocks whose
device names a cluster task get a stripe in that task's colour (``task_colour``); the status bar shows the
legend. No TensorFlow here: the worker's child process asks the target.
"""

from __future__ import annotations

import zlib
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QGridLayout, QLabel, QLineEdit,
                               QPushButton, QRadioButton, QWidget)

from enuflow.app.document.cluster import ClusterError, load_cluster, task_of_device
from enuflow.app.worker.client import describe_target

#: colours of cluster tasks' stripes, distinct from the category colours of block headers
TASK_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
                "#469990", "#9a6324")


def task_colour(task: str) -> QColor:
    """The colour of a cluster task (``/job:worker/task:1``): the same task always gets the same colour, and a
    job's tasks 0..9 get different ones."""
    job, _, index = task.rpartition("/task:")
    i = int(index) if index.isdigit() else 0
    return QColor(TASK_COLOURS[(zlib.crc32(job.encode()) + i) % len(TASK_COLOURS)])


def device_colour(device: str | None) -> QColor | None:
    """The stripe colour of a block placed on ``device``, or None when it names no cluster task."""
    task = task_of_device(device)
    return task_colour(task) if task else None


class TargetDialog(QDialog):
    """Choose the run target: this machine, a cluster file, or a grpc address."""

    def __init__(self, current: dict[str, str] | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run Target")
        lay = QGridLayout(self)
        self.local = QRadioButton("This machine")
        self.cluster = QRadioButton("A cluster file")
        self.grpc = QRadioButton("A grpc address")
        self.group = QButtonGroup(self)
        for b in (self.local, self.cluster, self.grpc):
            self.group.addButton(b)
        self.path = QLineEdit()
        self.path.setPlaceholderText("cluster.json: {\"worker\": [\"host:port\", ...]} or a TF_CONFIG object")
        self.browse = QPushButton("Browse...")
        self.browse.clicked.connect(self._browse)
        self.address = QLineEdit()
        self.address.setPlaceholderText("grpc://host:port")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828;")
        self.problem.setWordWrap(True)
        lay.addWidget(self.local, 0, 0, 1, 3)
        lay.addWidget(self.cluster, 1, 0)
        lay.addWidget(self.path, 1, 1)
        lay.addWidget(self.browse, 1, 2)
        lay.addWidget(self.grpc, 2, 0)
        lay.addWidget(self.address, 2, 1, 1, 2)
        lay.addWidget(self.problem, 3, 0, 1, 3)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons, 4, 0, 1, 3)
        kind = (current or {}).get("kind", "local")
        {"cluster": self.cluster, "grpc": self.grpc}.get(kind, self.local).setChecked(True)
        self.path.setText((current or {}).get("path", ""))
        self.address.setText((current or {}).get("address", ""))
        self.path.textEdited.connect(lambda _t: self.cluster.setChecked(True))
        self.address.textEdited.connect(lambda _t: self.grpc.setChecked(True))
        self.resize(560, 0)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Cluster file", self.path.text(), "Cluster spec (*.json);;All (*)")
        if path:
            self.path.setText(path)
            self.cluster.setChecked(True)

    def target(self) -> dict[str, str]:
        if self.cluster.isChecked():
            return {"kind": "cluster", "path": self.path.text().strip()}
        if self.grpc.isChecked():
            return {"kind": "grpc", "address": self.address.text().strip()}
        return {"kind": "local"}

    def accept(self) -> None:
        problem = check_target(self.target())
        if problem:
            self.problem.setText(problem)
            return
        super().accept()


def check_target(target: dict[str, str]) -> str:
    """What is wrong with a run target ("" when it can be used): an unreadable cluster file, a bad address."""
    kind = target.get("kind", "local")
    if kind == "cluster":
        if not target.get("path"):
            return "Choose a cluster file."
        try:
            load_cluster(target["path"]).default_task()
        except ClusterError as e:
            return str(e)
    elif kind == "grpc":
        address = target.get("address", "")
        host, _, port = address.removeprefix("grpc://").rpartition(":")
        if not address.startswith("grpc://") or not host or not port.isdigit():
            return f"'{address}' is not a grpc address like grpc://host:port"
    return ""


class TargetCommands:
    """The run target, the devices it offers, and the task legend (part of MainWindow)."""

    worker: Any
    run_target: dict[str, str] | None = None
    target_devices: list[str] = []

    def choose_target(self) -> bool:
        """Run > Run Target...: ask for the target; returns True when a new one was set."""
        dialog = TargetDialog(self.run_target, self)
        self.target_dialog = dialog  # reachable while it is open (tests drive it like a person)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            return self.set_run_target(dialog.target())
        finally:
            self.target_dialog = None

    def set_run_target(self, target: dict[str, str] | None) -> bool:
        """Run later pages on ``target``; False (and a warning) when it cannot be used."""
        target = target if target and target.get("kind") != "local" else None
        problem = check_target(target) if target else ""
        if problem:
            self.warn("Run Target", problem)
            return False
        self.run_target = target
        self.target_label.setText(f"Target: {describe_target(target)}")
        self.target_devices = []
        self.inspector.set_devices([])
        if self.worker is not None:
            self.worker.set_target(target)
            self.request_devices()
        return True

    def request_devices(self) -> None:
        """Ask the worker for the target's devices (a "devices" event answers)."""
        if self.worker is None:
            return
        try:
            self.worker.list_devices()
        except RuntimeError:
            return
        self.statusBar().showMessage(f"Asking {describe_target(self.run_target)} for its devices...", 5000)

    def _on_devices(self, ev: Any) -> None:
        self.target_devices = list(ev.devices)
        self.inspector.set_devices(self.target_devices)
        where = describe_target(self.run_target)
        text = f"{where}: {len(self.target_devices)} devices"
        if ev.problems:
            text += "; " + "; ".join(ev.problems)
        self.statusBar().showMessage(text, 8000)

    def update_device_legend(self) -> None:
        """The status bar legend: a coloured square per cluster task the page's blocks are placed on."""
        tasks = sorted({t for b in self.page if (t := task_of_device(b.device))})
        self.device_legend.setText("  ".join(f"<span style='color:{task_colour(t).name()}'>&#9632;</span> {t}"
                                             for t in tasks))
        self.device_legend.setVisible(bool(tasks))
