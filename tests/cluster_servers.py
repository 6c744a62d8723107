"""Local TensorFlow cluster tasks for tests: ``enuflow worker`` subprocesses on free 127.0.0.1 ports.

Every wait is bounded (a task that does not say it listens within ``START_WAIT`` seconds fails the test),
and ``LocalCluster.close()`` kills every task it started; fixtures call it in their teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

#: seconds a task may take to load TensorFlow and listen (the test machine can be heavily loaded)
START_WAIT = 240.0


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free on 127.0.0.1 a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def read_line(proc: subprocess.Popen, wait: float) -> str:
    """The next line of ``proc``'s stdout within ``wait`` seconds ("" when it ended or the time ran out)."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + wait
    buf = b""
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            if ch == b"\n":
                return buf.decode("utf-8", "replace")
            buf += ch
    finally:
        sel.close()
    return buf.decode("utf-8", "replace")


class LocalCluster:
    """A cluster spec of ``n`` worker tasks on free local ports, written to ``path``; tasks start on demand."""

    def __init__(self, folder: Path, n: int, extra_jobs: dict[str, int] | None = None) -> None:
        ports = free_ports(n + sum((extra_jobs or {}).values()))
        self.spec: dict[str, list[str]] = {"worker": [f"127.0.0.1:{p}" for p in ports[:n]]}
        rest = ports[n:]
        for job, k in (extra_jobs or {}).items():
            self.spec[job], rest = [f"127.0.0.1:{p}" for p in rest[:k]], rest[k:]
        self.folder = folder
        self.path = folder / "cluster.json"
        self.path.write_text(json.dumps(self.spec), encoding="utf-8")
        self.procs: dict[str, subprocess.Popen] = {}
        self.lines: dict[str, str] = {}

    def address(self, job: str, task: int) -> str:
        return self.spec[job][task]

    def start(self, job: str, task: int, env: dict[str, str] | None = None, args: list[str] | None = None) -> str:
        """Start task ``task`` of ``job`` (``args`` replace the usual ones); returns the line it prints when it
        listens. Fails the test when it does not listen in time."""
        e = dict(os.environ)
        e.update(env or {})
        cmd = [sys.executable, "-m", "enuflow.app.cli", "worker"]
        cmd += args if args is not None else ["--cluster", str(self.path), "--job", job, "--task", str(task)]
        key = f"/job:{job}/task:{task}"
        log = self.log_path(key)
        with open(log, "wb") as err:  # a file, not a pipe: a chatty task must never block on a full pipe
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, env=e)
        self.procs[key] = proc
        line = read_line(proc, START_WAIT)
        self.lines[key] = line
        if "listening" not in line:
            self.kill(key)
            raise AssertionError(f"task {key} did not listen within {START_WAIT:g} s: {line!r} "
                                 f"{self.stderr(key)[-2000:]}")
        return line

    def log_path(self, key: str) -> Path:
        return self.folder / ("task" + key.replace("/", "_").replace(":", "-") + ".log")

    def stderr(self, key: str) -> str:
        try:
            return self.log_path(key).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.get(key)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)
                proc.send_signal(sig)
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=30)

    def close(self) -> None:
        for key in list(self.procs):
            self.kill(key)
            proc = self.procs.pop(key)
            if proc.stdout is not None:
                proc.stdout.close()


@contextlib.contextmanager
def two_workers_up(folder: Path, n: int):
    """A LocalCluster of ``n`` worker tasks with tasks 0 and 1 started; every task it started is stopped after."""
    c = LocalCluster(folder, n)
    try:
        c.start("worker", 0)
        c.start("worker", 1)
        yield c
    finally:
        c.close()
