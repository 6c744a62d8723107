"""Pages on a TensorFlow cluster: which task each block runs on, which tasks answer, and what to say when one is lost.

``place(...)`` reads each block's ``device`` (or the page's default device: the ``--device`` option, else the
ClientSession's ``device`` pin) as a task of the cluster; a block without a task runs on the session's
target task. ``Placement.filters()`` are the session's ``device_filters``: only the tasks the page uses, so
a page whose tasks are up runs while other tasks of the cluster are down (TensorFlow otherwise waits for
every task). Before a run, tasks that refuse connections are found by a TCP connect and their blocks are
left out of the graph; after a step fails with an unavailable or deadline error, ``lost_tasks`` asks each
task's own server (a short TensorFlow session) whether it still answers. The errors name the task, its
address and the blocks placed on it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from enuflow.app.document.cluster import Cluster, task_of_device
from enuflow.app.engine.analysis import Analysis, BuildError

#: seconds a TCP connect to a task may take before it counts as down
CONNECT_TIMEOUT = 1.0
#: longest wait for one task's answer when asking, after a failed step, which tasks were lost
PROBE_TIMEOUT = 2.0
_TASK_IN_MESSAGE = re.compile(r"/job:([A-Za-z0-9_\-]+)/replica:\d+/task:(\d+)")


@dataclass
class Placement:
    """Where a page's blocks run on a cluster."""

    cluster: Cluster | None
    target_task: str | None
    tasks: dict[str, str] = field(default_factory=dict)       # block -> task it runs on
    unknown: dict[str, str] = field(default_factory=dict)     # block -> its device, naming no task of the cluster
    down: set[str] = field(default_factory=set)               # used tasks that refused connections
    target_down: bool = False                                 # the session's own task refused connections

    @property
    def used(self) -> set[str]:
        return set(self.tasks.values())

    def blocks_on(self, task: str) -> list[str]:
        return sorted(b for b, t in self.tasks.items() if t == task)

    def skipped(self) -> set[str]:
        """Blocks not to build: on a task that is down, or on a device naming no task of the cluster (all of
        them when the session's target is down)."""
        if self.target_down:
            return set(self.tasks) | set(self.unknown)
        return {b for b, t in self.tasks.items() if t in self.down} | set(self.unknown)

    def filters(self) -> list[str]:
        """The session's ``device_filters``: the tasks this page uses that are up, and the target task."""
        keep = self.used - self.down
        if self.target_task:
            keep.add(self.target_task)
        return sorted(keep)

    def describe(self, task: str) -> str:
        addr = self.cluster.address(task) if self.cluster is not None else None
        return f"{task} ({addr})" if addr else task

    def errors_before_run(self) -> list[BuildError]:
        """One error per block placed on a task that is down or unknown, and one per task naming its blocks."""
        out = []
        if self.cluster is not None:
            names = ", ".join(self.cluster.tasks)
            for b, dev in sorted(self.unknown.items()):
                out.append(BuildError(b, None, f"device '{dev}' names no task of the cluster {self.cluster.source} "
                                               f"(its tasks: {names})"))
        for t in sorted(self.down):
            why = "is not reachable (nothing accepts connections at its address)"
            if t == self.target_task:
                why = "is the session's target and is not reachable (nothing accepts connections at its address), " \
                      "so no block ran"
            out.extend(lost_errors(self, t, self.blocks_on(t), why))
        return out


def lost_errors(placement: Placement, task: str, blocks: list[str], why: str) -> list[BuildError]:
    """The errors for a task that is down or was lost: one naming the task and its blocks, one per block."""
    where = placement.describe(task)
    listed = ", ".join(f"'{b}'" for b in blocks) if blocks else "none"
    out = [BuildError(None, None, f"cluster task {where} {why}; blocks placed on it did not run: {listed}")]
    out.extend(BuildError(b, None, f"placed on cluster task {where}, which {why}") for b in blocks)
    return out


def place(an: Analysis, device: str, cluster: Cluster | None, target_task: str | None) -> Placement:
    """The task of every block that will be built (all blocks but the ClientSession and unknown types)."""
    p = Placement(cluster, target_task)
    default = device or an.plan.device
    known = cluster.tasks if cluster is not None else None
    for b in an.page:
        if b.id == an.plan.block or b.id not in an.decls:
            continue
        dev = b.device or default
        task = task_of_device(dev) or target_task
        if task is None:
            continue
        if known is not None and task not in known:
            p.unknown[b.id] = dev
            continue
        p.tasks[b.id] = task
    if cluster is not None:
        asked = p.used | ({target_task} if target_task else set())
        p.down = {t for t in asked if not cluster.reachable(t, CONNECT_TIMEOUT)}
        p.target_down = target_task in p.down
    return p


def target_task_of(cluster: Cluster | None, target: str) -> str | None:
    """The cluster task whose address ``target`` (``grpc://host:port``) is, or None."""
    if cluster is None or not target:
        return None
    addr = target.split("://", 1)[-1]
    for t, a in cluster.tasks.items():
        if a == addr or cluster.target(t).split("://", 1)[-1] == addr:
            return t
    return None


def tasks_in_message(text: str) -> set[str]:
    """Tasks TensorFlow names in an error message (``/job:worker/replica:0/task:1``)."""
    return {f"/job:{m.group(1)}/task:{m.group(2)}" for m in _TASK_IN_MESSAGE.finditer(text)}


def lost_tasks(tf: Any, placement: Placement, candidates: set[str], timeout: float = PROBE_TIMEOUT) -> set[str]:
    """The tasks among ``candidates`` that no longer answer: each is asked, in parallel, for its devices."""
    cluster = placement.cluster
    if cluster is None:
        return set()
    lost: set[str] = set()
    lock = threading.Lock()

    def ask(task: str) -> None:
        ok = False
        if cluster.reachable(task, min(CONNECT_TIMEOUT, timeout)):
            config = tf.compat.v1.ConfigProto(device_filters=[task], operation_timeout_in_ms=int(timeout * 1000))
            try:
                s = tf.compat.v1.Session(cluster.target(task), graph=tf.Graph(), config=config)
                s.list_devices()
                ok = True
                s.close()  # only an answering task: closing a session on a hung one could wait for ever
            except Exception:  # noqa: BLE001 - any failure to answer means the task is lost
                pass
        if not ok:
            with lock:
                lost.add(task)

    threads = [threading.Thread(target=ask, args=(t,), daemon=True) for t in sorted(candidates)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout + CONNECT_TIMEOUT + 1.0)
    with lock:
        return set(lost)


def downstream(an: Analysis, blocks: set[str]) -> set[str]:
    """``blocks`` and every block that depends on them."""
    out = set(blocks)
    for b in blocks:
        if b in an.dag:
            out.update(nx.descendants(an.dag, b))
    return out


def target_devices(tf: Any, cluster: Cluster | None, target: str,
                   timeout: float = PROBE_TIMEOUT * 2) -> tuple[list[str], list[str]]:
    """(devices, problems): what a run target offers for a block's ``device`` field.

    A cluster lists each task (``/job:worker/task:1``) followed by its devices, every task asked on its own in
    parallel, so a task that is down only leaves its own devices out (it is named in ``problems``). A grpc
    target without a cluster file, or this machine (``target`` ""), lists its session's devices.
    """
    def ask(where: str, filters: list[str]) -> list[str]:
        config = tf.compat.v1.ConfigProto(device_filters=filters, operation_timeout_in_ms=int(timeout * 1000))
        s = tf.compat.v1.Session(where, graph=tf.Graph(), config=config)
        names = [d.name for d in s.list_devices()]
        s.close()
        return names

    if cluster is None:
        try:
            return ask(target, []), []
        except Exception as e:  # noqa: BLE001 - any failure is the target's answer to report
            return [], [f"{target or 'this machine'} did not list its devices: {_first_line(e)}"]
    found: dict[str, list[str]] = {}
    problems: dict[str, str] = {}
    lock = threading.Lock()

    def one(task: str) -> None:
        try:
            if not cluster.reachable(task, CONNECT_TIMEOUT):
                raise OSError("nothing accepts connections at its address")
            names = ask(cluster.target(task), [task])
            with lock:
                found[task] = names
        except Exception as e:  # noqa: BLE001 - the task is reported as not answering
            with lock:
                problems[task] = f"{task} ({cluster.address(task)}) did not answer: {_first_line(e)}"

    threads = [threading.Thread(target=one, args=(t,), daemon=True) for t in cluster.tasks]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout + CONNECT_TIMEOUT + 1.0)
    with lock:
        out: list[str] = []
        for task in cluster.tasks:
            if task in found:
                out.append(task)
                out.extend(found[task])
        for t in cluster.tasks:
            if t not in found and t not in problems:
                problems[t] = f"{t} ({cluster.address(t)}) did not answer within {timeout:g} s"
        return out, [problems[t] for t in cluster.tasks if t in problems]


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "message", "") or e).strip()
    return text.splitlines()[0] if text else type(e).__name__
