"""Pages on a TensorFlow cluster: which task each block runs on, which tasks answer, and what to say when one is lost.

``place(...)`` reads each block's ``device`` (or the page's default device: the ``--device`` option, else the
ClientSession's ``device`` pin) as a task of the cluster; a block without a task runs on the session's
target task. ``Placement.filters()`` are the session's ``device_filters``: only the tasks the page uses, so
a page whose tasks are up runs while other tasks of the cluster are down (TensorFlow otherwise waits for
every task). Before a run, tasks that refuse connections are found by a TCP connect and their blocks are
left out of the graph; after a step fails with an unavailable or deadline error, ``lost_tasks`` asks each
task's own server (a short TensorFlow session) whether it still answers. The errors name the task, its
address and the blocks placed on it.

A grpc target without a cluster file places blocks the same way once the target has said which task it is
(``own_task``); the target's cluster is known only to the target, so a task the page uses is asked for
through it (a short session filtered to that task) and one that does not answer is named, without address.
This module also holds the TCP probes (``connect_problem``): ``app.document.cluster`` opens no sockets.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from enuflow.app.document.cluster import Cluster, connectable, task_of_device
from enuflow.app.engine.analysis import Analysis, BuildError

#: seconds a TCP connect to a task may take before it counts as down
CONNECT_TIMEOUT = 1.0
#: longest wait for one task's answer when asking, after a failed step, which tasks were lost
PROBE_TIMEOUT = 2.0
_TASK_IN_MESSAGE = re.compile(r"/job:([A-Za-z0-9_\-]+)/replica:\d+/task:(\d+)")
#: a device filter naming a job no cluster has: a session filtered to it sees only its target's own devices
#: (TensorFlow's master always keeps its own task) and waits for no other task of the target's cluster
ONLY_THE_TARGET = "/job:enuflow_no_such_job"


def connect_problem(address: str, timeout: float = CONNECT_TIMEOUT) -> str:
    """Why nothing accepts a TCP connection at ``address`` (``host:port`` or ``grpc://host:port``) within
    ``timeout`` seconds ("connection refused", "no answer within 1 s", ...); "" when something does."""
    host, _, port = connectable(address.split("://", 1)[-1]).rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return ""
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except socket.gaierror:
        return f"unknown host '{host}'"
    except (OSError, ValueError, OverflowError) as e:
        return str(getattr(e, "strerror", None) or e)


def reachable(cluster: Cluster, task: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether something accepts connections at ``task``'s address in ``cluster`` (a TCP connect)."""
    address = cluster.address(task)
    return address is not None and not connect_problem(address, timeout)


def own_task(tf: Any, target: str, timeout: float = PROBE_TIMEOUT) -> tuple[str | None, str]:
    """(the task the server at ``target`` serves, like ``/job:worker/task:0``, or None; what went wrong, or "").

    A refused connection is said at once (a TCP connect); otherwise the target lists its own devices, which
    waits for no other task of its cluster, so a dead member of that cluster costs nothing here."""
    problem = connect_problem(target, min(CONNECT_TIMEOUT, timeout))
    if problem:
        return None, f"nothing accepts connections at {target.split('://', 1)[-1]} ({problem})"
    try:
        names = _list_devices(tf, target, [ONLY_THE_TARGET], timeout)
    except Exception as e:  # noqa: BLE001 - TensorFlow's words on why the target did not answer
        return None, _first_line(e)
    tasks = {task_of_device(n) for n in names} - {None}
    return (tasks.pop() if len(tasks) == 1 else None), ""


@dataclass
class Placement:
    """Where a page's blocks run on a cluster."""

    cluster: Cluster | None
    target_task: str | None
    tasks: dict[str, str] = field(default_factory=dict)       # block -> task it runs on
    unknown: dict[str, str] = field(default_factory=dict)     # block -> its device, naming no task of the cluster
    down: set[str] = field(default_factory=set)               # used tasks that refused connections
    target_down: bool = False                                 # the session's own task refused connections
    target: str = ""  # without a cluster file: the grpc target, through which its cluster's tasks are asked

    @property
    def knows_tasks(self) -> bool:
        """Whether the tasks can be asked one by one (a cluster file, or a target that said which task it is)."""
        return self.cluster is not None or bool(self.target and self.target_task)

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
            if self.cluster is None:
                why = f"did not answer within {PROBE_TIMEOUT:g} s when the session's target {self.target} asked " \
                      "for it (a member of the target's cluster that is down or hangs)"
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


def place(an: Analysis, device: str, cluster: Cluster | None, target_task: str | None, target: str = "",
          tf: Any = None) -> Placement:
    """The task of every block that will be built (all blocks but the ClientSession and unknown types).

    With a cluster, the tasks the page uses are probed by TCP connects; without one, a ``target`` that
    said which task it is (``target_task``) is asked, through TensorFlow (``tf``), for each other task used."""
    p = Placement(cluster, target_task, target="" if cluster is not None else target)
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
        p.down = {t for t in asked if not reachable(cluster, t, CONNECT_TIMEOUT)}
        p.target_down = target_task in p.down
    elif target_task and p.knows_tasks and tf is not None:
        p.target_down = bool(connect_problem(target))
        p.down = p.used | {target_task} if p.target_down else lost_tasks(tf, p, p.used - {target_task})
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
    """The tasks among ``candidates`` that no longer answer: each is asked, in parallel, for its devices (at its
    own address with a cluster file, else through the placement's target)."""
    cluster = placement.cluster
    if not placement.knows_tasks:
        return set()
    lost: set[str] = set()
    lock = threading.Lock()

    def ask(task: str) -> None:
        where = cluster.target(task) if cluster is not None else placement.target
        ok = False
        if not connect_problem(where, min(CONNECT_TIMEOUT, timeout)):
            try:
                _list_devices(tf, where, [task], timeout)
                ok = True
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
        return set(lost) | {t for t, th in zip(sorted(candidates), threads) if th.is_alive()}


def _list_devices(tf: Any, where: str, filters: list[str], timeout: float) -> list[str]:
    """The device names a session at ``where`` filtered to ``filters`` sees; raises TensorFlow's error when it
    does not answer within ``timeout`` seconds. The session is closed only after it answered: closing one on
    a server that hangs could wait for ever."""
    config = tf.compat.v1.ConfigProto(device_filters=filters, operation_timeout_in_ms=int(timeout * 1000))
    s = tf.compat.v1.Session(where, graph=tf.Graph(), config=config)
    names = [d.name for d in s.list_devices()]
    s.close()
    return names


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
    if cluster is None:
        return _devices_of_target(tf, target, timeout)
    found: dict[str, list[str]] = {}
    problems: dict[str, str] = {}
    lock = threading.Lock()

    def one(task: str) -> None:
        try:
            if not reachable(cluster, task, CONNECT_TIMEOUT):
                raise OSError("nothing accepts connections at its address")
            names = _list_devices(tf, cluster.target(task), [task], timeout)
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


def _devices_of_target(tf: Any, target: str, timeout: float) -> tuple[list[str], list[str]]:
    """(devices, problems) of a grpc target without a cluster file, or of this machine (``target`` "").

    A refused connection is said at once; a target whose cluster has a member that does not answer lists
    its own devices only, and the problem says so."""
    where = target or "this machine"
    if target:
        problem = connect_problem(target)
        if problem:
            return [], [f"{where} did not list its devices: nothing accepts connections at "
                        f"{target.split('://', 1)[-1]} ({problem})"]
    try:
        return _list_devices(tf, target, [], timeout), []
    except Exception as e:  # noqa: BLE001 - any failure is the target's answer to report
        first = f"{where} did not list its devices: {_first_line(e)}"
    if not target:
        return [], [first]
    try:
        own = _list_devices(tf, target, [ONLY_THE_TARGET], timeout)
    except Exception:  # noqa: BLE001 - the first answer says what went wrong
        return [], [first]
    return own, [f"{first} (a task of its cluster did not answer); its own devices are listed"]


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "message", "") or e).strip()
    return text.splitlines()[0] if text else type(e).__name__
