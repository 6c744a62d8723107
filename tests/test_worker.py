"""The run worker: pages run in a warm child process; results over shared memory; stop, kill, crashes."""

from __future__ import annotations

import copy
import json
import mmap
import os
import queue
import time
from pathlib import Path

import numpy as np
import pytest

from enuflow.app.worker import shm
from enuflow.app.worker.client import WorkerClient, WorkerEvent, read_message, write_message

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120.0


class Events:
    """Collects a client's events (they arrive on its reader thread) for the test to wait on."""

    def __init__(self) -> None:
        self.q: queue.Queue[WorkerEvent] = queue.Queue()
        self.seen: list[WorkerEvent] = []

    def __call__(self, ev: WorkerEvent) -> None:
        self.q.put(ev)

    def wait(self, kind: str, run_id: int | None = None, timeout: float = TIMEOUT) -> WorkerEvent:
        """The next event of ``kind`` (for ``run_id`` when given); earlier others are kept in ``seen``."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} event within {timeout} s; saw {[e.kind for e in self.seen]}")
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(ev)
            if ev.kind == kind and (run_id is None or ev.run_id == run_id):
                return ev
            if ev.kind == "crashed" and kind != "crashed":
                raise AssertionError(f"the worker crashed: {ev.message}")


def default_doc() -> dict:
    return json.loads((ROOT / "scenes" / "sparse_fill_empty_rows_grad.json").read_text())


def pin(doc: dict, block: str, name: str, value: object) -> dict:
    doc = copy.deepcopy(doc)
    for b in doc["blocks"]:
        if b["id"] == block:
            b["pins"][name] = value
    return doc


def page(*blocks: tuple[str, str, dict], links: tuple = ()) -> dict:
    return {"format": "enuflow.page", "version": 1, "name": "t",
            "blocks": [{"id": i, "type": t, "pos": [0, 0], "pins": p} for i, t, p in blocks],
            "links": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in links]}


def my_segments(client: WorkerClient) -> list[str]:
    prefix = f"{shm.owner_prefix()}{client._token}-"
    return [n for d in shm.segment_dirs() for n in os.listdir(d) if n.startswith(prefix)]


@pytest.fixture(scope="module")
def worker():
    events = Events()
    client = WorkerClient(events)
    client.start()
    events.wait("ready")
    yield client, events
    client.close()


def run(worker, doc: dict, **kw) -> WorkerEvent:
    client, events = worker
    rid = client.run(doc, **kw)
    done = events.wait("done", rid)
    assert not client.busy
    return done


# -- the wire ----------------------------------------------------------------------------------

def test_messages_are_length_prefixed_json() -> None:
    import io

    buf = io.BytesIO()
    write_message(buf, {"kind": "x", "v": [1, 2.5, "é"]})
    raw = buf.getvalue()
    assert int.from_bytes(raw[:4], "big") == len(raw) - 4
    assert json.loads(raw[4:].decode()) == {"kind": "x", "v": [1, 2.5, "é"]}
    buf.seek(0)
    assert read_message(buf) == {"kind": "x", "v": [1, 2.5, "é"]}
    assert read_message(buf) is None  # end of stream


# -- running -----------------------------------------------------------------------------------

def test_default_page_runs_in_the_worker(worker) -> None:
    done = run(worker, default_doc())
    assert done.errors == []
    np.testing.assert_array_equal(done.results[("g", "d_values")], np.array([2.0, 1.0], np.float32))
    assert done.results[("g", "d_values")].dtype == np.float32
    assert done.results[("g", "d_default_value")].shape == ()
    assert float(done.results[("g", "d_default_value")]) == 3.0
    np.testing.assert_array_equal(done.results[("rim", "output")], [2, 1])
    assert done.steps_done == 1 and not done.stopped
    assert done.history[("g", "d_default_value")] == [3.0]
    steps = [e for e in worker[1].seen if e.kind == "step" and e.run_id == done.run_id]
    assert steps and steps[-1].step == 1 and steps[-1].scalars[("g", "d_default_value")] == 3.0


def test_value_edit_does_not_rebuild(worker) -> None:
    run(worker, default_doc())
    done = run(worker, pin(default_doc(), "grad", "val", "1,2,3,4"))
    assert done.errors == [] and done.rebuilt is False
    np.testing.assert_array_equal(done.results[("g", "d_values")], [3.0, 2.0])
    assert float(done.results[("g", "d_default_value")]) == 5.0  # rows 0 and 3 are not in the map
    structural = default_doc()
    structural["blocks"].append({"id": "extra", "type": "Const", "pos": [0, 0], "pins": {"val": 7}})
    assert run(worker, structural).rebuilt is True


def test_errors_come_back_attributed(worker) -> None:
    done = run(worker, pin(default_doc(), "rim", "val", [2, -1]))
    assert [e["block"] for e in done.errors] == ["g"]
    assert "reverse_index_map" in done.errors[0]["message"] or "index" in done.errors[0]["message"].lower()
    np.testing.assert_array_equal(done.results[("rim", "output")], [2, -1])  # the other blocks still report
    assert ("g", "d_values") not in done.results
    bad = run(worker, {"format": "enuflow.page", "blocks": [{"type": "Const"}], "links": []})
    assert bad.results == {} and "no id" in bad.errors[0]["message"]


def test_one_run_at_a_time(worker) -> None:
    client, events = worker
    rid = client.run(pin(default_doc(), "session", "INFINITE_LOOP", True))
    assert client.busy
    with pytest.raises(RuntimeError):
        client.run(default_doc())
    client.stop()
    assert events.wait("done", rid).stopped
    assert not client.busy


def test_looped_page_stops_between_steps(worker) -> None:
    client, events = worker
    doc = pin(default_doc(), "session", "INFINITE_LOOP", True)
    rid = client.run(doc)
    first = events.wait("step", rid)
    assert first.step >= 1
    client.stop()
    done = events.wait("done", rid)
    assert done.stopped and done.errors == []
    assert done.steps_done >= first.step
    assert len(done.history[("g", "d_default_value")]) == done.steps_done
    np.testing.assert_array_equal(done.results[("g", "d_values")], [2.0, 1.0])
    steps = [e.step for e in events.seen if e.kind == "step" and e.run_id == rid]
    assert steps == sorted(steps) and steps[-1] == done.steps_done  # the last step is always reported


def test_stop_before_the_run_starts(worker) -> None:
    client, events = worker
    rid = client.run(pin(default_doc(), "session", "INFINITE_LOOP", True))
    client.stop()
    done = events.wait("done", rid)
    assert done.stopped


# -- results in shared memory ------------------------------------------------------------------

def test_large_result_is_a_view_of_shared_memory(worker) -> None:
    client, _ = worker
    n = 10_000_000
    done = run(worker, page(("r", "Range", {"start": 0, "limit": n, "delta": 1})))
    assert done.errors == []
    arr = done.results[("r", "output")]
    assert arr.shape == (n,) and arr.dtype == np.int32
    assert arr[0] == 0 and arr[-1] == n - 1 and int(arr.sum(dtype=np.int64)) == n * (n - 1) // 2
    assert not arr.flags.owndata and not arr.flags.writeable
    base = arr
    while not isinstance(base, memoryview):
        base = base.base
        assert base is not None, "the array does not look at a buffer"
    assert isinstance(base.obj, mmap.mmap) and len(base.obj) >= arr.nbytes
    assert np.shares_memory(arr, np.frombuffer(base, dtype=np.uint8))
    assert my_segments(client) == []  # the name is gone at once; the mapping lives while viewed


def test_text_results_travel_as_json(worker) -> None:
    done = run(worker, page(("s", "Const", {"val": ["ab", "c"], "dtype": "string"})))
    assert done.errors == []
    assert list(done.results[("s", "output")]) == [b"ab", b"c"]


# -- crashes, kill, close ----------------------------------------------------------------------

def test_abort_crashes_the_child_and_the_next_run_starts_fresh(worker) -> None:
    client, events = worker
    doc = page(("c", "Const", {"val": 1}), ("boom", "Abort", {"error_msg": "from the test"}))
    rid = client.run(doc, allow_io=True)
    ev = events.wait("crashed", rid)
    assert ev.signal == "SIGABRT" and ev.exit_code is not None and ev.exit_code < 0
    assert ev.blocks == ["boom"] and [e["block"] for e in ev.errors] == ["boom"]
    assert "SIGABRT" in ev.message and "boom" in ev.message
    assert "from the test" in ev.message  # TensorFlow's own words, from the child's log
    assert not client.busy and not client.alive
    assert my_segments(client) == []
    done = run(worker, default_doc())
    assert done.errors == [] and done.rebuilt
    np.testing.assert_array_equal(done.results[("g", "d_values")], [2.0, 1.0])


def test_kill_ends_a_run_hung_inside_one_op(worker) -> None:
    client, events = worker
    # StagePeek on an empty staging area waits for ever inside the op: stop() cannot end it
    rid = client.run(page(("peek", "StagePeek", {"index": 0, "dtypes": ["float32"]})), allow_io=True)
    time.sleep(1.0)
    client.stop()
    time.sleep(0.5)
    assert client.busy and client.alive
    t = time.monotonic()
    client.kill()
    assert time.monotonic() - t < 1.0  # kill returns at once
    ev = events.wait("crashed", rid)
    assert ev.signal == "SIGKILL" and ev.blocks == ["peek"] and "killed on request" in ev.message
    assert [e["block"] for e in ev.errors] == ["peek"]
    assert not client.busy
    done = run(worker, default_doc())
    assert done.errors == [] and float(done.results[("g", "d_default_value")]) == 3.0


def test_close_leaves_no_shared_memory() -> None:
    events = Events()
    client = WorkerClient(events)
    rid = client.run(page(("r", "Range", {"start": 0, "limit": 1000, "delta": 1})))  # starts the child
    done = events.wait("done", rid)
    kept = done.results[("r", "output")]
    assert int(kept[-1]) == 999
    log = client.log_path
    proc = client._child.proc
    client.close()
    assert proc.poll() is not None
    assert my_segments(client) == []
    assert not log.exists()
    assert int(kept[999]) == 999  # views held by the caller stay valid after close
    with pytest.raises(RuntimeError):
        client.run(default_doc())


def test_segments_of_dead_editors_are_swept() -> None:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    folder = shm.segment_dirs()[0]
    stale = folder / f"{shm.PREFIX}{p.pid}-dead-1"
    stale.write_bytes(b"x" * 64)
    live = folder / f"{shm.owner_prefix()}other-1"  # this process is alive: its segments stay
    live.write_bytes(b"y")
    try:
        client = WorkerClient(lambda ev: None)  # sweeps on creation
        client.close()
        assert not stale.exists() and live.exists()
    finally:
        stale.unlink(missing_ok=True)
        live.unlink(missing_ok=True)


def test_exit_status_in_words_and_no_tensorflow_in_the_editor() -> None:
    import subprocess
    import sys

    from enuflow.app.worker.client import describe_exit

    assert describe_exit(-11) == ("SIGSEGV", "was killed by SIGSEGV (Segmentation fault)")
    assert describe_exit(3) == ("", "ended with exit status 3")
    code = "import sys, enuflow.app.worker.client, enuflow.app.worker.shm; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT).returncode == 0


# -- what the worker prints, and running out of memory -------------------------------------------------

def test_print_output_comes_back_before_the_runs_end(worker) -> None:
    client, events = worker
    doc = page(("c", "Const", {"val": 42}), ("p", "Print", {"message": "the answer is "}),
               links=(("c", "output", "p", "input"), ("c", "output", "p", "data")))
    rid = client.run(doc)
    done = events.wait("done", rid)
    assert int(done.results[("p", "output")]) == 42
    printed = [e for e in events.seen if e.kind == "output" and e.run_id == rid]
    # relayed before "done" (the worker syncs its stderr first), line by line, without TensorFlow's own lines
    assert [ln for e in printed for ln in e.message.splitlines()] == ["the answer is [42]"]


def test_relay_keeps_tensorflows_lines_tracebacks_and_a_dying_process_in_the_log() -> None:
    from enuflow.app.worker.client import LOG_ONLY, READY, SYNC, OutputRelay

    relay = OutputRelay()
    log, shown, synced = relay.feed(b"I0000 00:00:17.1 7862 port.cc:153] oneDNN custom operations are on.\n"
                                    b"printed before ready\n")
    assert shown == [] and synced == 0 and b"oneDNN" in log and b"before ready" in log
    data = (f"{READY}\nhello [1]\nW0000 00:00:17.2 7862 op_kernel.cc:1857] OP_REQUIRES failed\n{LOG_ONLY}Traceback "
            f"(most recent call last):\n{SYNC}7\npart").encode()
    log, shown, synced = relay.feed(data)
    assert shown == ["hello [1]"] and synced == 7
    assert log == (b"hello [1]\nW0000 00:00:17.2 7862 op_kernel.cc:1857] OP_REQUIRES failed\n"
                   b"Traceback (most recent call last):\n")  # the marks and the sync line are not logged
    log, shown, _ = relay.feed(b" of a line\nFatal Python error: Aborted\nCurrent thread 0x1 (most recent call "
                               b"first):\n")
    assert shown == ["part of a line"] and b"Fatal Python error" in log and b"Current thread" in log
    assert relay.end() == (b"", [], 0)


def test_a_worker_killed_by_the_system_says_it_ran_out_of_memory(worker) -> None:
    import signal

    client, events = worker
    # the system's out-of-memory killer ends a process with SIGKILL; here the test plays it
    rid = client.run(page(("peek", "StagePeek", {"index": 0, "dtypes": ["float32"]})), allow_io=True)
    deadline = time.monotonic() + TIMEOUT
    while not (client.ready and client.busy):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(client._child.proc.pid, signal.SIGKILL)
    ev = events.wait("crashed", rid)
    assert ev.signal == "SIGKILL" and ev.memory == "the worker ran out of memory (the machine's memory) while " \
                                                   "running the page"
    assert ev.message.startswith("The worker ran out of memory (the machine's memory) while running the page (its "
                                 "process was killed by SIGKILL")
    done = run(worker, default_doc())  # a fresh worker
    assert done.errors == []


def test_a_hung_step_is_told_from_the_steps_before_it() -> None:
    from types import SimpleNamespace

    from enuflow.app.worker.child import DEADLINE_TEXT, hung_step

    runner = SimpleNamespace(remote=False, timeout=2.0)
    error = SimpleNamespace(to_json=lambda: {"block": None, "port": None, "message": DEADLINE_TEXT})
    report = SimpleNamespace(errors=[error], timed_out=False)
    assert hung_step(runner, report, 5, 0.01) == 5  # the runner counted the step that hung (on_step right after)
    assert hung_step(runner, report, 5, 2.3) == 6   # it did not: the last on_step came before the 2 s wait
    assert hung_step(runner, SimpleNamespace(errors=[], timed_out=False), 5, 0.01) == 0
    assert hung_step(SimpleNamespace(remote=True, timeout=2.0), report, 5, 0.01) == 0  # a lost cluster task
