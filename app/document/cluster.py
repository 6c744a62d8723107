"""TensorFlow cluster specs as enuflow reads them: jobs, tasks, addresses, and which task a device names.

A cluster file is JSON, either a cluster spec as TensorFlow writes it (``{"worker": ["host:port", ...],
"ps": [...]}``; a job may also map task indices to addresses, ``{"worker": {"0": "h:p", "3": "h:p"}}``) or
a whole ``TF_CONFIG`` object (``{"cluster": {...}, "task": {"type": "worker", "index": 0}}``). ``Cluster``
holds it as plain data: the task names (``/job:worker/task:1``), their addresses, the default session
target (the first ``chief`` task, else the first ``worker`` task). No TensorFlow, no Qt, no sockets: the command
line, the engine, the worker and the editor all read clusters here (whether a task answers is the engine's
question, ``app.engine.placement``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_JOB_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
_DEVICE_TASK = re.compile(r"/job:([A-Za-z0-9_\-]+)(?:/replica:\d+)?(?:/task:(\d+))?", re.IGNORECASE)


class ClusterError(ValueError):
    """A cluster file or TF_CONFIG that cannot be used; the message names where and what."""


def task_name(job: str, index: int) -> str:
    """``/job:JOB/task:INDEX``, the short name a device field uses."""
    return f"/job:{job}/task:{index}"


def task_of_device(device: str | None) -> str | None:
    """The task a device string names (``/job:worker/task:1/device:GPU:0`` -> ``/job:worker/task:1``).

    A device with a job but no task means task 0, as TensorFlow reads it; a device without a job
    (``/cpu:0``, "") names no task and returns None.
    """
    if not device:
        return None
    m = _DEVICE_TASK.search(device)
    if m is None:
        return None
    return task_name(m.group(1), int(m.group(2) or 0))


@dataclass
class Cluster:
    """A cluster spec: ``jobs[job][index] = "host:port"``; ``task`` is the TF_CONFIG task when one was given."""

    jobs: dict[str, dict[int, str]]
    source: str = "cluster spec"
    task: tuple[str, int] | None = None

    def spec_with_indices(self) -> dict[str, dict[int, str]]:
        """The spec as ``tf.train.ClusterSpec`` takes it, task indices kept (a job may skip some)."""
        return {j: dict(ts) for j, ts in self.jobs.items()}

    @property
    def tasks(self) -> dict[str, str]:
        """Every task's name (``/job:worker/task:0``) and address, job by job, in index order."""
        return {task_name(j, i): a for j, ts in self.jobs.items() for i, a in sorted(ts.items())}

    def address(self, task: str) -> str | None:
        return self.tasks.get(task)

    def default_task(self) -> str:
        """The task a run's session talks to: the first ``chief`` task, else the first ``worker`` task."""
        for job in ("chief", "worker"):
            if self.jobs.get(job):
                return task_name(job, min(self.jobs[job]))
        raise ClusterError(f"{self.source}: the cluster has no 'worker' or 'chief' task to run a page on")

    def target(self, task: str | None = None) -> str:
        """The grpc session target of ``task`` (default: ``default_task()``)."""
        t = task or self.default_task()
        return "grpc://" + connectable(self.tasks[t])


def connectable(address: str) -> str:
    """A listening address as one to connect to (``0.0.0.0``/``[::]`` -> loopback on this machine)."""
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", "", "*"):
        return f"127.0.0.1:{port}"
    return address


def parse_cluster(doc: Any, source: str = "cluster spec") -> Cluster:
    """A ``Cluster`` from a decoded cluster spec or TF_CONFIG object; raises ClusterError naming ``source``."""
    if not isinstance(doc, dict):
        raise ClusterError(f"{source}: expected a JSON object like {{\"worker\": [\"host:port\", ...]}}")
    task = None
    spec = doc
    if "cluster" in doc:
        spec = doc["cluster"]
        if not isinstance(spec, dict):
            raise ClusterError(f"{source}: 'cluster' must be an object of jobs")
        t = doc.get("task")
        if t is not None:
            if not isinstance(t, dict) or not isinstance(t.get("type"), str) \
                    or not isinstance(t.get("index", 0), int) or isinstance(t.get("index", 0), bool):
                raise ClusterError(f"{source}: 'task' must be {{\"type\": JOB, \"index\": N}}")
            task = (t["type"], int(t.get("index", 0)))
    if not spec:
        raise ClusterError(f"{source}: the cluster has no jobs")
    jobs: dict[str, dict[int, str]] = {}
    for job, tasks in spec.items():
        if not isinstance(job, str) or not _JOB_NAME.match(job):
            raise ClusterError(f"{source}: {job!r} is not a job name (letters, digits, '_' and '-')")
        if isinstance(tasks, list):
            items = list(enumerate(tasks))
        elif isinstance(tasks, dict):
            items = []
            for k, a in tasks.items():
                if not str(k).isdigit():
                    raise ClusterError(f"{source}: job '{job}': task index {k!r} is not a number")
                items.append((int(k), a))
        else:
            raise ClusterError(f"{source}: job '{job}' must list its tasks' addresses, like [\"host:port\", ...]")
        if not items:
            raise ClusterError(f"{source}: job '{job}' has no tasks")
        jobs[job] = {}
        for i, a in items:
            if not isinstance(a, str) or not _address_ok(a):
                raise ClusterError(f"{source}: job '{job}', task {i}: {a!r} is not an address like \"host:port\"")
            jobs[job][i] = a
    cluster = Cluster(jobs, source=source, task=task)
    if task is not None and task_name(*task) not in cluster.tasks:
        raise ClusterError(f"{source}: the task {task_name(*task)} is not in the cluster")
    return cluster


def _address_ok(address: str) -> bool:
    host, sep, port = address.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def load_cluster(path: str | Path) -> Cluster:
    """Read a cluster file (a cluster spec or a TF_CONFIG object); raises ClusterError naming the file."""
    p = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClusterError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ClusterError(f"{p}: cannot be read ({getattr(e, 'strerror', None) or e})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ClusterError(f"{p}, line {e.lineno}: not JSON ({e.msg})") from None
    return parse_cluster(doc, p)


def cluster_from_env(environ: dict[str, str]) -> Cluster | None:
    """The cluster of ``TF_CONFIG`` in ``environ``, or None when it is unset or empty."""
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ClusterError(f"TF_CONFIG: not JSON ({e.msg})") from None
    return parse_cluster(doc, "TF_CONFIG")
