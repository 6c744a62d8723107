"""One task of a TensorFlow cluster, served by this process (``enuflow worker``).

``serve(cluster, job, task)`` starts TensorFlow's gRPC server (``tf.distribute.Server``) for that task of the
cluster spec, prints one line when it listens, and serves until Ctrl+C or SIGTERM, then exits cleanly (no
traceback; TensorFlow's gRPC server cannot be stopped in-process, so the process ends at once). Pages run
on it from ``enuflow run PAGE --cluster CLUSTER.json`` or from the editor's run target setting.

Where it listens is read back from the system (``/proc/net/tcp*``), not assumed from the cluster file:
TensorFlow binds ``0.0.0.0:PORT`` whatever host the file names (``GrpcServer::Init`` builds the address from
the port alone; neither the ServerDef nor an option or environment variable changes it), so a task is
reachable on every interface of its machine. The gRPC runtime has no authentication: whoever reaches the port
can run any op in the task's process (read and write files as its user). The task says both when it starts.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enuflow.app.document.cluster import Cluster, ClusterError, task_name


def check_task(cluster: Cluster, job: str | None, task: int | None) -> tuple[str, int]:
    """The (job, index) to serve: the arguments, else the TF_CONFIG task; raises ClusterError when unusable."""
    if job is None and task is None and cluster.task is not None:
        return cluster.task
    if job is None:
        job = cluster.task[0] if cluster.task is not None else None
    if job is None:
        raise ClusterError(f"{cluster.source}: say which task to serve with --job NAME --task N "
                           f"(its jobs: {', '.join(cluster.jobs)})")
    if task is None:
        task = cluster.task[1] if cluster.task is not None and cluster.task[0] == job else 0
    if job not in cluster.jobs:
        raise ClusterError(f"{cluster.source}: the cluster has no job '{job}' (its jobs: {', '.join(cluster.jobs)})")
    if task not in cluster.jobs[job]:
        raise ClusterError(f"{cluster.source}: job '{job}' has no task {task} "
                           f"(its tasks: {', '.join(str(i) for i in sorted(cluster.jobs[job]))})")
    return job, task


class StopSignal:
    """Waits until ``stop`` is set or a signal handled by ``on_signal`` arrives.

    The handler only records the signal: Python runs it in the main thread between two bytecodes, which may
    be inside ``stop.wait()`` while that holds the Event's lock, and setting the Event from there would wait
    for that lock forever (a task that never stopped on SIGTERM)."""

    def __init__(self, stop: threading.Event, poll: float = 0.2) -> None:
        self.stop = stop
        self.poll = poll
        self.signals: list[int] = []

    def on_signal(self, signum: int, frame: Any) -> None:
        self.signals.append(signum)  # no lock taken (list.append is atomic)

    def wait(self) -> None:
        while not self.signals and not self.stop.wait(self.poll):
            pass


def serve(cluster: Cluster, job: str, task: int, say: Callable[[str], None] | None = None,
          stop: threading.Event | None = None) -> int:
    """Serve task ``task`` of ``job`` until SIGINT/SIGTERM (or ``stop`` is set); returns the exit status.

    Prints "enuflow worker: /job:JOB/task:N listening on all interfaces, port N (grpc://ADDRESS; ...)" once the
    server is up (where it listens as the system says, ``listening_hosts``), and on stderr a warning that anyone
    who reaches the port can run ops here; a server that cannot start (its port taken) gives a message and
    status 1.
    """
    say = say or (lambda text: print(text, flush=True))
    from enuflow.blocks.tf import load

    tf = load()
    until = StopSignal(stop or threading.Event())
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, until.on_signal)
        signal.signal(signal.SIGTERM, until.on_signal)
    name = task_name(job, task)
    address = cluster.jobs[job][task]
    try:
        server = tf.distribute.Server(tf.train.ClusterSpec(cluster.spec_with_indices()), job_name=job,
                                      task_index=task, protocol="grpc", start=True)
    except Exception as e:  # noqa: BLE001 - TensorFlow's own words on why the server cannot start
        print(f"enuflow worker: task {name} cannot listen on {address}: {_first_line(e)}", file=sys.stderr)
        return 1
    others = ", ".join(f"{len(ts)} {j}" for j, ts in cluster.jobs.items())
    port = int(address.rpartition(":")[2])
    where, everywhere = listening_on(listening_hosts(port))
    say(f"enuflow worker: {name} listening on {where}, port {port} ({server.target}; cluster: {others}); "
        "Ctrl+C to stop")
    reach = "from any machine that reaches this one" if everywhere else "on this machine"
    print(f"enuflow worker: warning: TensorFlow's gRPC server has no authentication: anyone who can connect to "
          f"port {port} ({reach}) can run any TensorFlow op in this process as user '{_user()}', reading and "
          "writing files; run tasks only on a trusted network (or firewall the port)", file=sys.stderr, flush=True)
    until.wait()
    say(f"enuflow worker: {name} stopped")
    return 0


def listening_hosts(port: int, proc: str = "/proc/net") -> list[str] | None:
    """The local addresses with a TCP socket listening on ``port`` (``0.0.0.0``, ``::``, ``127.0.0.1``, ...),
    read from ``/proc/net/tcp`` and ``tcp6``; None where those cannot be read (not Linux)."""
    hosts: list[str] = []
    found = False
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(proc, name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: LISTEN
                continue
            host, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port:
                hosts.append(_proc_address(host))
    return hosts if found else None


def _proc_address(text: str) -> str:
    """An address as /proc/net/tcp* writes it (each 32-bit word in host byte order, little-endian here)."""
    raw = bytes.fromhex(text)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return str(ipaddress.ip_address(raw))


def listening_on(hosts: list[str] | None) -> tuple[str, bool]:
    """(words for where a server listens, whether that is every interface) from ``listening_hosts``."""
    if not hosts:  # the system does not say: TensorFlow binds 0.0.0.0
        return "all interfaces", True
    addresses = [ipaddress.ip_address(h) for h in hosts]
    addresses = [getattr(a, "ipv4_mapped", None) or a for a in addresses]  # ::ffff:127.0.0.1 is loopback
    if any(a.is_unspecified for a in addresses):
        return "all interfaces", True
    if all(a.is_loopback for a in addresses):
        return "loopback only", False
    return ", ".join(sorted(set(hosts))), True


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "this user"


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "message", "") or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def exit_now(status: int) -> None:
    """End the process at once: TensorFlow's gRPC server threads would otherwise keep it alive or abort it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
