"""The run worker, editor side: runs pages in a warm child process that has TensorFlow loaded.

The editor never imports TensorFlow. ``WorkerClient`` starts ``python -m app.worker.child`` and talks
to it over its stdin/stdout with length-prefixed JSON messages (4-byte big-endian length, then UTF-8
JSON; no pickle anywhere, page documents are untrusted input). The child keeps one ``Runner`` across
runs, so a value-only edit does not rebuild the graph. Events come back to ``on_event`` on a background
thread: "ready", "step" (rate-limited), "done" (results as numpy views over shared memory written once
by the child, see ``app.worker.shm``), "log", and "crashed" when the child dies (an ``Abort`` op, a segfault,
``kill()``): it names the signal, carries the tail of the child's log, and lists the page's blocks
known to crash or hang. The next ``run`` starts a fresh child. ``run``, ``stop`` and ``kill`` never
wait on the child. The child runs pages on a run target (``set_target``: this machine, a cluster file or a
grpc address); ``list_devices`` asks it what the target offers ("devices" event), and a run that loses its
connection to the target is reported as "crashed". This module imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import queue
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from enuflow.app.worker import shm


def _known_dangerous() -> frozenset[str]:
    try:
        from enuflow.blocks.catalogue import DANGEROUS_OPS  # a TensorFlow-free list kept by the catalogue
    except ImportError:
        DANGEROUS_OPS = frozenset()
    return frozenset(DANGEROUS_OPS) | {
        "Abort", "ParseExample", "ParseExampleV2", "ParseSingleExample", "Unbatch", "UnbatchGrad",
        "StagePeek", "MapPeek", "OrderedMapPeek", "Unstage", "MapUnstage", "MapUnstageNoKey",
        "OrderedMapUnstage", "OrderedMapUnstageNoKey",
    }


#: block types that crash or hang the process they run in, even where a declaration does not say so
KNOWN_DANGEROUS = _known_dangerous()
#: largest message accepted from the child (a longer length prefix means the stream is corrupt)
MAX_MESSAGE = 1 << 30
#: lines of the child's log put into a "crashed" message
LOG_TAIL_LINES = 25
_HEADER = struct.Struct(">I")
_NATIVE_FRAME = re.compile(r"^\s*@\s+0x")
_FATAL = re.compile(r"^F\d{4} [^\]]*\] (.*)$")
#: a line the child writes to its stderr starting with this goes to its log only (a traceback for a bug report)
LOG_ONLY = "\x1e"
#: the child writes this and the run id to its stderr right before the run's "done" message
SYNC = "\x1esync "
#: the child writes this line to its stderr when it is ready: what came before is start-up noise
READY = "\x1eready"
#: the child's printed output is relayed at most this often (the lines in between come together)
OUTPUT_PERIOD_S = 0.05
#: TensorFlow's own log lines (start-up notices, warnings): kept in the log, not relayed
_TF_LOG = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]]*\] |^WARNING: All log messages before absl")
#: the first line a dying process writes (the rest is its crash report, which the "crashed" event carries)
_DYING = re.compile(r"^(F\d{4} |Fatal Python error|\*\*\* SIG|\*\*\* Received signal|terminate called)")
#: signs in a dead child's log that it ran out of memory
_NO_MEMORY = re.compile(r"std::bad_alloc|MemoryError|Cannot allocate memory|out of memory|pthread_create\(\) failed",
                        re.IGNORECASE)
_NODE = re.compile(r"\{\{node ([^}/]+)")
_MAX_LINE = 1 << 16


# -- the wire: length-prefixed JSON ------------------------------------------------------------

def _plain(o: Any) -> Any:
    """numpy values that found their way into a page's pins, as plain JSON values."""
    if isinstance(o, (np.ndarray, np.generic)):
        return o.tolist()
    if isinstance(o, (tuple, set, frozenset)):
        return list(o)
    raise TypeError(f"a {type(o).__name__} cannot be sent to the worker")


def encode_message(msg: dict[str, Any]) -> bytes:
    """One message as bytes on the wire; raises TypeError for a value JSON cannot hold."""
    data = json.dumps(msg, separators=(",", ":"), default=_plain).encode("utf-8")
    return _HEADER.pack(len(data)) + data


def write_message(stream: IO[bytes], msg: dict[str, Any]) -> None:
    stream.write(encode_message(msg))
    stream.flush()


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream; raises ValueError on a corrupt stream."""
    head = _read_exact(stream, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes announced: the stream is corrupt")
    body = _read_exact(stream, n)
    if body is None:
        return None
    msg = json.loads(body.decode("utf-8"))
    if not isinstance(msg, dict):
        raise TypeError("a message is not a JSON object")
    return msg


def _read_exact(stream: IO[bytes], n: int) -> bytes | None:
    parts = []
    left = n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def keyed(rows: list[list[Any]]) -> dict[tuple[str, str], Any]:
    """``[[block, port, value], ...]`` (JSON has no tuple keys) -> ``{(block, port): value}``."""
    return {(str(r[0]), str(r[1])): r[2] for r in rows}


def rows(d: dict[tuple[str, str], Any]) -> list[list[Any]]:
    """The inverse of ``keyed``."""
    return [[b, p, v] for (b, p), v in d.items()]


# -- events ------------------------------------------------------------------------------------

@dataclass
class WorkerEvent:
    """Something the worker reports; ``kind`` is "ready", "step", "done", "crashed", "log", "connected" (a run on
    a remote target reached its cluster), "devices", "checked" (the answer to ``check``), "epoch" and "batch" (a run
    in epochs: after each epoch, and at most ``app.worker.child.BATCH_RATE`` a second during a pass) or "restored" (the answer to
    ``restore_best``: ``epoch``, ``errors``)."""

    kind: str
    run_id: int = 0
    step: int = 0                      # "step": the step just finished
    scalars: dict[tuple[str, str], float] = field(default_factory=dict)   # "step": scalar results of that step
    results: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # "done": every result tensor
    history: dict[tuple[str, str], list[float]] = field(default_factory=dict)   # "done": per-step scalars
    errors: list[dict] = field(default_factory=list)   # "done"/"crashed": {"block", "port", "message"}
    steps_done: int = 0
    stopped: bool = False
    rebuilt: bool = False
    initialised: bool = False          # "done": Variables were (re)initialised before this run's first step
    message: str = ""                  # "crashed"/"log": human text
    blocks: list[str] = field(default_factory=list)    # "crashed": blocks suspected (dangerous ones on the page)
    seconds: float = 0.0               # "done": time the child spent on the run; "ready": start-up time
    signal: str = ""                   # "crashed": the signal's name (SIGABRT, SIGSEGV, SIGKILL) or ""
    exit_code: int | None = None       # "crashed": the child's exit status (negative: killed by a signal)
    log_tail: str = ""                 # "crashed": the last lines of the child's log
    reason: str = ""                   # "crashed": TensorFlow's last fatal message in the log, or ""
    warnings: list[dict] = field(default_factory=list)  # "done": problems that did not stop the run
    devices: list[str] = field(default_factory=list)   # "devices": what the run target offers
    problems: list[str] = field(default_factory=list)  # "devices": tasks or targets that did not answer
    timed_out: bool = False            # "done": the run ended at its timeout (after a full step, or a step hung)
    hung_step: int = 0                 # "done": the step that did not end within the timeout and was aborted
    memory: str = ""                   # "crashed": "the worker ran out of memory (limit N MiB) while ...", or ""
    #: "checked": the static type of every output, (block, port) -> {"dtype", "shape"[, "ref"]}
    types: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    made: int = 0                      # "checked": how many blocks the check made (the rest were kept)
    #: "done" of a cached re-run (``app.engine.rerun_cache``): the blocks that ran, and those whose results all came
    #: from the last run (both empty when the run used no cache)
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    # -- a run in epochs (``app.engine.epochs``) ---------------------------------------------------------
    epoch: int = 0                     # "epoch"/"batch": the epoch (from 1); "restored": the epoch restored (0: a file)
    epochs_total: int = 0              # "epoch"/"batch": the epochs the run was asked for
    #: "epoch": the train and test passes' figures, ``"<block>.<port>"`` -> batch-size-weighted mean
    train: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    #: "epoch": per ``metrics.Accuracy`` block, its test pass's counts ``[true][predicted]``, and its classes
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    best: bool = False                 # "epoch": the best epoch so far (its Variables were kept)
    phase: str = ""                    # "batch": "train" or "test"
    batch: int = 0                     # "batch": batches done in the pass
    batches: int = 0                   # "batch": the pass's batches (0: not known)
    #: "done": per epoch done, {"epoch", "train", "test", "seconds"} (empty for a run in steps)
    epochs: list[dict[str, Any]] = field(default_factory=list)


def _figures(d: Any) -> dict[str, float]:
    return {str(k): float(v) if v is not None else float("nan") for k, v in d.items()} if isinstance(d, dict) else {}


def epoch_event(kind: str, rid: int, msg: dict[str, Any]) -> WorkerEvent:
    """The event of an "epoch", "batch" or "restored" message (see ``WorkerEvent``)."""
    ev = WorkerEvent(kind, run_id=rid, epoch=int(msg.get("epoch") or 0), epochs_total=int(msg.get("epochs") or 0),
                     errors=[e for e in msg.get("errors", []) if isinstance(e, dict)])
    if kind == "epoch":
        ev.train, ev.test = _figures(msg.get("train")), _figures(msg.get("test"))
        ev.confusion = {str(b): [[int(x) for x in row] for row in m]
                        for b, m in (msg.get("confusion") or {}).items()}
        ev.classes = {str(b): int(n) for b, n in (msg.get("classes") or {}).items()}
        ev.best, ev.seconds = bool(msg.get("best")), float(msg.get("seconds") or 0.0)
    elif kind == "batch":
        ev.phase, ev.batch, ev.batches = str(msg.get("phase") or ""), int(msg.get("batch") or 0), \
            int(msg.get("batches") or 0)
    return ev


def cache_dir() -> Path:
    """The user's cache folder for enuflow (``$XDG_CACHE_HOME/enuflow``), or a temp folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    d = Path(base) / "enuflow"
    try:
        d.mkdir(parents=True, exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    d = Path(tempfile.gettempdir()) / f"enuflow-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def describe_exit(code: int) -> tuple[str, str]:
    """(signal name or "", words) for a child's exit status from ``Popen.returncode``."""
    if code < 0:
        try:
            sig = signal.Signals(-code)
            name = sig.name
            words = signal.strsignal(sig) or name
        except ValueError:
            name, words = f"signal {-code}", "unknown signal"
        return name, f"was killed by {name} ({words})"
    if code == 0:
        return "", "ended unexpectedly"
    return "", f"ended with exit status {code}"


def describe_target(target: dict[str, str] | None) -> str:
    """A run target in words: "this machine", "cluster FILE" or the grpc address."""
    if not target or target.get("kind") == "local":
        return "this machine"
    if target.get("kind") == "cluster":
        return f"cluster {target.get('path', '')}"
    return str(target.get("address", ""))


def suspects_of(page_doc: dict[str, Any]) -> list[str]:
    """Ids of the page's blocks whose type is known to crash or hang a process (no TensorFlow needed)."""
    from enuflow.blocks.base import REGISTRY  # hand-declared blocks only; never the generated ones

    out = []
    for b in page_doc.get("blocks", []) if isinstance(page_doc, dict) else []:
        if not isinstance(b, dict):
            continue
        t = b.get("type")
        decl = REGISTRY.hand.get(t) if isinstance(t, str) else None
        if t in KNOWN_DANGEROUS or (decl is not None and decl.dangerous):
            out.append(str(b.get("id")))
    return out


# -- the client --------------------------------------------------------------------------------

class OutputRelay:
    """Sorts what the child writes to its stderr, line by line: every line goes to its log (``LOG_ONLY``'s mark
    removed); ``feed`` hands back the lines a person wants to see as the run goes (what a ``Print`` block or the
    page printed). TensorFlow's own log lines, what is printed before the child's ``READY`` line (start-up
    notices), the child's tracebacks, and what a dying process writes (its crash report says it) stay in the
    log."""

    def __init__(self) -> None:
        self.partial = b""
        self.ready = False
        self.dying = False

    def feed(self, data: bytes) -> tuple[bytes, list[str], int]:
        """(bytes for the log, lines to relay, the last run id synced in ``data`` or 0)."""
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        if len(self.partial) > _MAX_LINE:  # a line without end: taken as it is
            lines.append(self.partial)
            self.partial = b""
        return self._sort(lines)

    def end(self) -> tuple[bytes, list[str], int]:
        """What is left at the end of the stream (a last line without a newline)."""
        rest, self.partial = self.partial, b""
        return self._sort([rest] if rest else [])

    def _sort(self, lines: list[bytes]) -> tuple[bytes, list[str], int]:
        log: list[bytes] = []
        shown: list[str] = []
        synced = 0
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if text.startswith(SYNC):
                synced = int(text[len(SYNC):]) if text[len(SYNC):].isdigit() else synced
                continue
            if text == READY:
                self.ready = True
                continue
            if text.startswith(LOG_ONLY):
                log.append(raw[len(LOG_ONLY.encode()):] + b"\n")
                continue
            log.append(raw + b"\n")
            self.dying = self.dying or bool(_DYING.match(text))
            if self.ready and not self.dying and not _TF_LOG.match(text):
                shown.append(text)
        return b"".join(log), shown, synced


class _Child:
    """One child process with its writer and reader threads."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, log_start: int) -> None:
        self.proc = proc
        self.log_path = log_path
        self.log_start = log_start
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.killed = False       # kill() asked for it
        self.closing = False      # close() asked for it: its end is no crash
        self.ready = False
        self.relay = OutputRelay()
        self.err_thread: threading.Thread | None = None
        self._synced = 0          # the last run whose output before its "done" has been relayed
        self.run_log_start = 0    # the log's size when the last run was sent (what the earlier ones wrote before)
        self._sync = threading.Condition()

    def synced(self, rid: float) -> None:
        with self._sync:
            self._synced = max(self._synced, rid)
            self._sync.notify_all()

    def wait_synced(self, rid: int, timeout: float = 1.0) -> None:
        """Wait until what run ``rid`` printed before its "done" has been relayed (or ``timeout``)."""
        with self._sync:
            self._sync.wait_for(lambda: self._synced >= rid, timeout=timeout)

    def log_text(self, limit: int = 256_000) -> str:
        """The end of this child's part of the log since its last run began, as it is."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(self.log_start, self.run_log_start, f.seek(0, os.SEEK_END) - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def send(self, msg: dict[str, Any]) -> None:
        self.outbox.put(encode_message(msg))

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_start)
                data = f.read()
        except OSError:
            return ""
        if len(data) > 64_000:
            data = data[-64_000:]
        text = data.decode("utf-8", "replace")
        # native stack frames and the list of extension modules say nothing to a person
        kept = [ln for ln in text.splitlines()
                if ln.strip() and not _NATIVE_FRAME.match(ln) and not ln.startswith("Extension modules:")]
        return "\n".join(kept[-lines:])

    def fatal_reason(self) -> str:
        """TensorFlow's last fatal log message in the child's log (``F... file.cc:N] text``), or ""."""
        reason = ""
        for ln in self.log_tail(100_000).splitlines():
            m = _FATAL.match(ln)
            if m:
                reason = m.group(1).strip()
        return reason


_clients: weakref.WeakSet[WorkerClient] = weakref.WeakSet()


class WorkerClient:
    """Runs pages in a warm child process; reports through ``on_event`` (called on a background thread).

    One run at a time. ``run``/``stop``/``kill`` return at once. Result arrays of a "done" event are views
    over shared memory; they stay valid while referenced (at least until the next "done" or ``close()``).
    """

    def __init__(self, on_event: Callable[[WorkerEvent], None], env: dict[str, str] | None = None) -> None:
        self.on_event = on_event
        self._env = dict(env or {})   # added to the child's environment
        self._lock = threading.RLock()
        self._child: _Child | None = None
        self._ids = itertools.count(1)
        self._run_id = 0              # the run in progress (0: none)
        self._suspects: list[str] = []
        self._run_blocks: list[str] = []   # the ids of the blocks of the run in progress
        self._segment_name = ""       # the segment the run in progress will write
        self._segments: list[shm.Segment] = []   # holding the last "done" results
        self._closed = False
        self._crashed = False
        self._target: dict[str, str] | None = None   # None: this machine
        self._token = f"{id(self):x}"
        self._log_path = cache_dir() / f"worker-{os.getpid()}-{self._token}.log"
        shm.sweep(dead_owners=True)   # segments left by editors that died with their worker
        _prune_logs(self._log_path.parent)
        _clients.add(self)

    # -- state ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True from ``run()`` until its "done" or "crashed" event."""
        return self._run_id != 0

    @property
    def suspects(self) -> list[str]:
        """Blocks of the run in progress known to crash or hang a process."""
        return list(self._suspects) if self._run_id else []

    @property
    def alive(self) -> bool:
        """True while a child process is running (it may still be loading TensorFlow)."""
        c = self._child
        return c is not None and c.proc.poll() is None

    @property
    def ready(self) -> bool:
        """True once the current child has said "ready" (TensorFlow and the catalogue loaded)."""
        c = self._child
        return c is not None and c.ready and c.proc.poll() is None

    @property
    def log_path(self) -> Path:
        """The file the child's stderr goes to."""
        return self._log_path

    @property
    def target(self) -> dict[str, str] | None:
        """The run target: None (this machine), {"kind": "cluster", "path"} or {"kind": "grpc", "address"}."""
        return self._target

    # -- commands ------------------------------------------------------------------------------
    def set_target(self, target: dict[str, str] | None) -> None:
        """Run later pages on ``target`` (see ``target``); the child connects to it at the next run."""
        with self._lock:
            self._target = dict(target) if target and target.get("kind") != "local" else None

    def list_devices(self) -> None:
        """Ask the child which devices the run target offers; a "devices" event follows (after the run
        in progress, if any). Starts the child if needed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker client is closed")
            if not self.alive:
                self._spawn()
            assert self._child is not None
            t = self._target or {}
            self._child.send({"cmd": "devices", "target": t.get("address", "") if t.get("kind") == "grpc" else "",
                              "cluster": t.get("path", "") if t.get("kind") == "cluster" else ""})

    def check(self, page_doc: dict, allow_io: bool = False) -> int:
        """Ask for the static dtype and shape of every output of ``page_doc`` and its problems, without running it
        (``app.engine.shape_check``); returns the request's id at once, and a "checked" event with that ``run_id``
        follows (after the run in progress, if any). The child keeps its checker, so the check of a page after an
        edit makes only the blocks the edit reaches. Starts the child if needed."""
        return self._request({"cmd": "check", "page": page_doc, "allow_io": bool(allow_io)})[0]

    def restore_best(self, path: str | None = None) -> int:
        """Assign the Variables of the last run's best epoch (or, with ``path``, a checkpoint's) into the child's live
        session (the page's next Step or Run with reset off continues from them); returns the request's id at once,
        and a "restored" event with that ``run_id`` follows (after the run in progress, if any): ``epoch`` (the
        epoch restored; 0 for a checkpoint) and ``errors``. Without a child there is no session to restore into: the
        event (its error) comes from here, and no child is started for it."""
        rid, sent = self._request({"cmd": "restore", "path": str(path) if path else None}, start=False)
        if not sent:  # on a thread of its own, as the child's answers come: after this returns its id
            ev = WorkerEvent("restored", run_id=rid, errors=[{"block": None, "port": None,
                                                              "message": "nothing to restore into: the page has not "
                                                                         "run in this worker"}])
            threading.Thread(target=self._emit, args=(ev,), name="enuflow-restored", daemon=True).start()
        return rid

    def _request(self, msg: dict[str, Any], start: bool = True) -> tuple[int, bool]:
        """Send ``msg`` with a new request id as its ``run_id`` (the child answers after the run in progress, if any);
        returns (the id, whether it was sent). The child is started if needed when ``start``, else a message for no
        child is not sent."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker client is closed")
            rid = next(self._ids)
            if not self.alive:
                if not start:
                    return rid, False
                self._spawn()
            assert self._child is not None
            self._child.outbox.put(encode_message({**msg, "run_id": rid}))
            return rid, True

    def start(self) -> None:
        """Start the child now unless one is running; returns at once ("ready" follows)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker client is closed")
            if not self.alive:
                self._spawn()

    def run(self, page_doc: dict, steps: int | None = None, allow_io: bool = False, reset: bool = True,
            target: str = "", device: str = "", max_literal_mb: float | None = None,
            logdir: str | None = None, cluster: str = "", timeout: float | None = None,
            every_log: bool = False, to: list[str] | None = None, epochs: int | None = None,
            keep_best: str | None = None, save_weights: str | None = None) -> int:
        """Run ``page_doc`` (``app.document.formats.native.page_to_doc(page)``); returns the run id at once.

        ``steps`` overrides the page's ClientSession (0 = until stopped). ``target`` (a grpc session target)
        and ``device`` are the runner's; with a target the child reports "connected" once the cluster answers.
        ``max_literal_mb`` bounds the page's literal values (``app.worker.limits``; None: the default).
        ``every_log``: SHOW_DEBUG's "log" message for every step (the editor gets at most 30 a second).
        ``logdir``: the child writes TensorBoard event files there.
        ``cluster`` (a cluster file) runs on a TensorFlow cluster (``Runner(cluster=...)``); ``timeout`` bounds the
        runner's session calls so that a lost cluster task is named before the caller gives up.
        ``to`` (block names, ``app.engine.run_to``): run only those blocks and what they need.
        ``epochs`` (overrides the ClientSession's ``epochs`` pin; 0: steps) trains in epochs: "epoch" and "batch"
        events come as it goes, "done" carries ``epochs``; the worker keeps the best epoch's Variables
        (``restore_best``), and writes them as a checkpoint at ``keep_best`` (a path) when given, the final ones at
        ``save_weights``. ``stop`` then ends the run after the current batch; the Variables keep their values.
        Starts the child if needed (also after a crash). Raises RuntimeError while another run is in progress.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker client is closed")
            if self._run_id:
                raise RuntimeError("a run is already in progress")
            rid = next(self._ids)
            name = f"{shm.owner_prefix()}{self._token}-{rid}"
            if not target and not cluster and self._target:  # the editor's run target setting
                cluster = self._target.get("path", "") if self._target.get("kind") == "cluster" else ""
                target = self._target.get("address", "") if self._target.get("kind") == "grpc" else ""
            # serialised here, on the caller's thread, so later edits of the page cannot race with it
            data = encode_message({"cmd": "run", "run_id": rid, "segment": name, "page": page_doc,
                                   "steps": None if steps is None else int(steps),
                                   "allow_io": bool(allow_io), "reset": bool(reset),
                                   "target": str(target), "device": str(device), "cluster": str(cluster),
                                   "timeout": None if timeout is None else float(timeout),
                                   "max_literal_mb": None if max_literal_mb is None else float(max_literal_mb),
                                   "logdir": str(logdir) if logdir else None, "every_log": bool(every_log),
                                   "to": [str(n) for n in to] if to else None,
                                   "epochs": None if epochs is None else int(epochs),
                                   "keep_best": str(keep_best) if keep_best else None,
                                   "save_weights": str(save_weights) if save_weights else None})
            # a run to some blocks: the child names those of the blocks that run (its "suspects" message comes
            # before anything runs)
            suspects = suspects_of(page_doc) if not to else []
            if not self.alive:
                self._spawn()
            child = self._child
            assert child is not None
            try:
                child.run_log_start = self._log_path.stat().st_size
            except OSError:
                pass
            child.outbox.put(data)
            self._run_id = rid
            self._suspects = suspects
            self._run_blocks = [str(b.get("id")) for b in page_doc.get("blocks", []) if isinstance(b, dict)] \
                if isinstance(page_doc, dict) else []
            self._segment_name = name
            return rid

    def stop(self) -> None:
        """Ask the run in progress to stop between steps ("done" with ``stopped`` follows)."""
        with self._lock:
            c = self._child
            if self._run_id and c is not None:
                c.send({"cmd": "stop", "run_id": self._run_id})

    def kill(self) -> None:
        """Kill the child now (for an op that hangs); a "crashed" event follows, the next run restarts."""
        with self._lock:
            c = self._child
            if c is None or c.proc.poll() is not None:
                return
            c.killed = True
            try:
                c.proc.kill()
            except OSError:
                pass

    def close(self, timeout: float = 3.0) -> None:
        """End the child and free shared memory; the client cannot be used afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            c = self._child
            self._child = None
            self._run_id = 0
        if c is not None:
            c.closing = True
            c.send({"cmd": "quit"})
            c.outbox.put(None)
            try:
                c.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                c.proc.kill()
                try:
                    c.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
        self._release_segments()
        self._sweep_own()
        if not self._crashed:
            try:
                self._log_path.unlink()
            except OSError:
                pass
        _clients.discard(self)

    # -- internals -----------------------------------------------------------------------------
    def _spawn(self) -> None:
        """Start a child process (with the lock held)."""
        old = self._child
        if old is not None:
            old.closing = True
            old.outbox.put(None)
        log = open(self._log_path, "ab", buffering=0)  # noqa: SIM115 - written and closed by the stderr thread
        try:
            start = log.tell()
            env = dict(os.environ)
            env["PYTHONUNBUFFERED"] = "1"
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            env.update(self._env)
            proc = subprocess.Popen([sys.executable, "-m", "enuflow.app.worker.child"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True)
        except BaseException:
            log.close()
            raise
        child = _Child(proc, self._log_path, start)
        self._child = child
        threading.Thread(target=self._write_loop, args=(child,), name="enuflow-worker-writer",
                         daemon=True).start()
        child.err_thread = threading.Thread(target=self._err_loop, args=(child, log), name="enuflow-worker-stderr",
                                            daemon=True)
        child.err_thread.start()
        threading.Thread(target=self._read_loop, args=(child,), name="enuflow-worker-reader",
                         daemon=True).start()

    @staticmethod
    def _write_loop(child: _Child) -> None:
        stdin = child.proc.stdin
        assert stdin is not None
        while True:
            data = child.outbox.get()
            if data is None:
                break
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError):
                break  # the child is gone; the reader reports it
        try:
            stdin.close()
        except (OSError, ValueError):
            pass

    def _err_loop(self, child: _Child, log: IO[bytes]) -> None:
        """The child's stderr: into its log, and what it printed for the person as "output" events (lines that
        come within ``OUTPUT_PERIOD_S`` together; all of a run's before its "done")."""
        stream = child.proc.stderr
        assert stream is not None
        fd = stream.fileno()
        pending: list[str] = []
        last = 0.0
        try:
            while True:
                wait = None if not pending else max(0.0, last + OUTPUT_PERIOD_S - time.monotonic())
                synced = 0
                if select.select([fd], [], [], wait)[0]:
                    data = os.read(fd, 1 << 16)
                    if not data:
                        break
                    kept, lines, synced = child.relay.feed(data)
                    log.write(kept)
                    pending += lines
                if pending and (synced or time.monotonic() - last >= OUTPUT_PERIOD_S):
                    self._emit(WorkerEvent("output", run_id=self._run_id, message="\n".join(pending)))
                    pending, last = [], time.monotonic()
                if synced:
                    child.synced(synced)
        except (OSError, ValueError):
            pass  # the pipe is gone: the child's end is reported by the stdout reader
        finally:
            kept, lines, _ = child.relay.end()
            try:
                log.write(kept)
            except OSError:
                pass
            log.close()
            pending += lines
            if pending:
                self._emit(WorkerEvent("output", run_id=self._run_id, message="\n".join(pending)))
            child.synced(float("inf"))
            try:
                stream.close()
            except OSError:
                pass

    def _read_loop(self, child: _Child) -> None:
        stdout = child.proc.stdout
        assert stdout is not None
        corrupt = ""
        while True:
            try:
                msg = read_message(stdout)
            except (OSError, ValueError, TypeError) as e:
                corrupt = f"its messages could not be read ({e})"
                msg = None
            if msg is None:
                break
            try:
                self._dispatch(child, msg)
            except Exception as e:  # noqa: BLE001 - a bad message or a failing handler must not end the reader
                self._emit(WorkerEvent("log", message=f"worker message not handled: {e}"))
        if corrupt and child.proc.poll() is None:
            child.proc.kill()
        try:
            stdout.close()
        except OSError:
            pass
        code = child.proc.wait()
        self._ended(child, code, corrupt)

    def _dispatch(self, child: _Child, msg: dict[str, Any]) -> None:
        kind = msg.get("kind")
        rid = int(msg.get("run_id") or 0)
        if kind == "ready":
            child.ready = True
            self._emit(WorkerEvent("ready", seconds=float(msg.get("seconds", 0.0)), message=str(msg.get("message", ""))))
        elif kind == "log":
            self._emit(WorkerEvent("log", run_id=rid, message=str(msg.get("message", ""))))
        elif kind == "connected":
            self._emit(WorkerEvent("connected", run_id=rid, message=str(msg.get("message", ""))))
        elif kind == "suspects":
            with self._lock:
                if rid == self._run_id:
                    self._suspects = sorted(set(self._suspects) | {str(b) for b in msg.get("blocks", [])})
        elif kind == "devices":
            self._emit(WorkerEvent("devices", devices=[str(d) for d in msg.get("devices", [])],
                                   problems=[str(p) for p in msg.get("problems", [])]))
        elif kind == "checked":
            types = {}
            for row in msg.get("outputs", []):
                d: dict[str, Any] = {"dtype": str(row[2]), "shape": row[3]}
                if len(row) > 4 and row[4]:
                    d["ref"] = True
                types[(str(row[0]), str(row[1]))] = d
            self._emit(WorkerEvent("checked", run_id=rid, types=types, made=int(msg.get("made") or 0),
                                   seconds=float(msg.get("seconds") or 0.0),
                                   errors=[e for e in msg.get("errors", []) if isinstance(e, dict)],
                                   warnings=[w for w in msg.get("warnings", []) if isinstance(w, dict)]))
        elif kind == "step":
            self._emit(WorkerEvent("step", run_id=rid, step=int(msg.get("step", 0)),
                                   scalars={k: float(v) for k, v in keyed(msg.get("scalars", [])).items()},
                                   steps_done=int(msg.get("step", 0))))
        elif kind in ("epoch", "batch", "restored"):
            self._emit(epoch_event(kind, rid, msg))
        elif kind == "done":
            child.wait_synced(rid)  # what the run printed comes before its end
            results: dict[tuple[str, str], np.ndarray] = {}
            seg = None
            errors = [e for e in msg.get("errors", []) if isinstance(e, dict)]
            desc = msg.get("results")
            if isinstance(desc, dict):
                try:
                    results, seg = shm.read_results(desc)
                except (OSError, ValueError, KeyError, TypeError) as e:
                    errors.append({"block": None, "port": None,
                                   "message": f"the results could not be read from shared memory: {e}"})
            with self._lock:
                old = self._segments
                self._segments = [seg] if seg is not None else []
                if rid == self._run_id:
                    self._run_id = 0
            for s in old:
                s.release()
            ev = WorkerEvent("done", run_id=rid, results=results,
                             history={k: [float(x) for x in v] for k, v in keyed(msg.get("history", [])).items()},
                             errors=errors, steps_done=int(msg.get("steps_done", 0)),
                             warnings=[w for w in msg.get("warnings", []) if isinstance(w, dict)],
                             stopped=bool(msg.get("stopped")), rebuilt=bool(msg.get("rebuilt")),
                             initialised=bool(msg.get("initialised")),
                             seconds=float(msg.get("seconds", 0.0)), timed_out=bool(msg.get("timed_out")),
                             hung_step=int(msg.get("hung_step") or 0),
                             ran=[str(b) for b in msg.get("ran") or []],
                             cached=[str(b) for b in msg.get("cached") or []],
                             epochs=[e for e in msg.get("epochs") or [] if isinstance(e, dict)])
            if msg.get("lost_target") and self._target:
                # the server the editor's run target names is gone: for the editor, like a worker that crashed
                # (a command-line run keeps it as an error of the run, with the other blocks' results)
                first = next((str(e.get("message")) for e in errors if e.get("block") is None), "")
                ev.kind = "crashed"
                ev.message = (f"The connection to the run target {describe_target(self._target)} was lost while "
                              f"running the page: {first or 'it did not answer'}. The next run connects again.")
                ev.blocks = sorted({str(e["block"]) for e in errors if e.get("block")})
            self._emit(ev)

    def _ended(self, child: _Child, code: int, corrupt: str) -> None:
        """The child's stdout closed and it exited: report a crash unless it was asked to end."""
        if child.err_thread is not None:
            child.err_thread.join(timeout=2.0)  # its log complete, its last output relayed
        with self._lock:
            current = self._child is child
            if current:
                self._child = None
            if child.closing or not current:
                return
            rid = self._run_id
            self._run_id = 0
            suspects = list(self._suspects) if rid else []
            blocks = set(self._run_blocks) if rid else set()
            name = self._segment_name
            self._crashed = True
        if rid and name:
            shm.remove(name)
        sig, words = describe_exit(code)
        memory = "" if child.killed else self._memory_death(child, sig, rid, blocks)
        if child.killed:
            what = "The worker process was killed on request"
        elif memory:
            what = memory[0].upper() + memory[1:] + f" (its process {words})"
        else:
            what = f"The worker process {words}" + (f"; {corrupt}" if corrupt else "")
        if rid and not memory:
            what += " while running the page"
            if suspects:
                what += "; blocks that can crash or hang a process: " + ", ".join(suspects)
        elif not rid and not child.ready:
            what += " while starting"
        reason = "" if child.killed else child.fatal_reason()
        if reason:
            what += f". TensorFlow said: {reason}"
        what += ". The next run starts a fresh worker."
        tail = child.log_tail()
        message = what + (f"\nLast lines of its log ({self._log_path}):\n{tail}" if tail else "")
        if child.killed:
            blame = "was running when the worker was killed (it can hang)"
        elif memory:
            blame = memory
        else:
            blame = f"may have crashed the worker ({sig or words})"
        if memory:
            suspects = _nodes_named(child.log_text(), blocks)
        errors = [{"block": b, "port": None, "message": blame} for b in suspects]
        self._emit(WorkerEvent("crashed", run_id=rid, message=message, blocks=suspects, errors=errors,
                               signal=sig, exit_code=code, log_tail=tail, reason=reason, memory=memory))

    def _memory_death(self, child: _Child, sig: str, rid: int, blocks: set[str]) -> str:
        """"the worker ran out of memory (limit N MiB) while running block X" when the child's end looks like it
        (killed by SIGKILL, the way the system's out-of-memory killer ends a process, or its log says so), or ""."""
        text = child.log_text()
        if sig != "SIGKILL" and not _NO_MEMORY.search(text):
            return ""
        from enuflow.app.worker.limits import memory_limit_mb, memory_words

        named = _nodes_named(text, blocks)
        where = (f" while running block {', '.join(named)}" if named else " while running the page") if rid else ""
        return memory_words(memory_limit_mb(self._env)) + where

    def _emit(self, ev: WorkerEvent) -> None:
        try:
            self.on_event(ev)
        except Exception as e:  # noqa: BLE001 - the editor's handler failing must not kill the reader
            print(f"enuflow: worker event handler failed: {e}", file=sys.stderr)

    def _release_segments(self) -> None:
        with self._lock:
            old = self._segments
            self._segments = []
        for s in old:
            s.release()

    def _sweep_own(self) -> None:
        shm.sweep(os.getpid(), token=self._token)


def _nodes_named(log: str, blocks: set[str]) -> list[str]:
    """The blocks among ``blocks`` whose ops TensorFlow's messages in ``log`` name (``{{node ID}}``)."""
    return sorted({m.group(1) for m in _NODE.finditer(log)} & blocks)


def _prune_logs(folder: Path, keep: int = 5) -> None:
    """Remove the logs of earlier editors' workers (kept after a crash), all but the newest ``keep``."""
    old = []
    for p in folder.glob("worker-*-*.log"):
        owner = p.name.split("-")[1]
        if owner.isdigit() and int(owner) != os.getpid() and not shm.alive(int(owner)):
            try:
                old.append((p.stat().st_mtime, p))
            except OSError:
                pass
    for _, p in sorted(old, reverse=True)[keep:]:
        try:
            p.unlink()
        except OSError:
            pass


@atexit.register
def _close_all() -> None:
    for c in list(_clients):
        try:
            c.close(timeout=1.0)
        except Exception:  # noqa: BLE001,S110 - leaving the program anyway
            pass
