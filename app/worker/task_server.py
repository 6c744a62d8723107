"""One task of a TensorFlow cluster, served by this process (``enuflow worker``).

``serve(cluster, job, task)`` starts TensorFlow's gRPC server (``tf.distribute.Server``) for that task of the
cluster spec, prints one line when it listens, and serves until Ctrl+C or SIGTERM, then exits cleanly (no
traceback; TensorFlow's gRPC server cannot be stopped in-process, so the process ends at once). Pages run
on it from ``enuflow run PAGE --cluster CLUSTER.json`` or from the editor's run target setting.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
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

    Prints "enuflow worker: /job:JOB/task:N listening on grpc://ADDRESS ..." once the server is up; a server
    that cannot start (its port taken) gives a message and status 1.
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
    say(f"enuflow worker: {name} listening on {server.target} (address {address}; cluster: {others}); "
        "Ctrl+C to stop")
    until.wait()
    say(f"enuflow worker: {name} stopped")
    return 0


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "message", "") or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def exit_now(status: int) -> None:
    """End the process at once: TensorFlow's gRPC server threads would otherwise keep it alive or abort it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
