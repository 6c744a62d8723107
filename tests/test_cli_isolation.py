"""No page kills ``enuflow run``: ops that abort or hang, Ctrl+C, unreachable targets, pages too large for memory.

Each test runs the command as a person does (a subprocess) and reads its JSON and exit status.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, make_page

from enuflow.app.document.formats.native import page_to_doc
from enuflow.app.worker.headless import without_blocks
from enuflow.app.worker.limits import check_literals, literal_sizes

DEFAULT = str(ROOT / "scenes" / "sparse_fill_empty_rows_grad.json")


def write_page(path: Path, blocks: list[tuple[str, str, dict]], links: tuple = ()) -> str:
    doc = {"format": "enuflow.page", "version": 1, "name": "t",
           "blocks": [{"id": i, "type": t, "pos": [0, 0], "pins": p} for i, t, p in blocks],
           "links": [{"from": [a, ap], "to": [b, bp]} for a, ap, b, bp in links]}
    path.write_text(json.dumps(doc))
    return str(path)


def enuflow(*args: str, env: dict | None = None, limit_as: int | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})

    def cap() -> None:
        if limit_as is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, env=e, timeout=timeout, preexec_fn=cap)


# -- crashes ------------------------------------------------------------------------------------------

def test_abort_gives_json_with_the_block_and_the_others_results(tmp_path: Path) -> None:
    page = write_page(tmp_path / "abort.json",
                      [("c", "Const", {"val": 7}), ("n", "Neg", {}), ("boom", "Abort", {"error_msg": "said the test"})],
                      [("c", "output", "n", "x")])
    r = enuflow("run", page, "--json", "--allow-io")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False
    assert [e["block"] for e in out["errors"]] == ["boom"]
    assert "SIGABRT" in out["errors"][0]["message"] and "said the test" in out["errors"][0]["message"]
    assert out["crash"]["signal"] == "SIGABRT" and out["crash"]["blocks"] == ["boom"]
    # the blocks that do not depend on the crashing one still report their results
    assert out["results"]["c"]["output"]["value"] == 7 and out["results"]["n"]["y"]["value"] == -7
    assert "boom" not in out["results"]
    assert "Traceback" not in r.stderr


def test_a_native_crash_in_an_op_gives_a_table_and_exit_1(tmp_path: Path) -> None:
    # MaxPoolGradWithArgmax given an argmax index past its output fails a CHECK in TensorFlow's C++ code: the
    # process aborts (a bug of the op, not the Abort op). (AvgPoolGrad with too many grad channels, which wrote
    # past its buffer, was this test's crash until it stopped crashing when its inputs are fed.)
    page = write_page(tmp_path / "pool.json", [
        ("input", "Const", {"val": 1.0, "shape": "[1][2][2][1]", "dtype": "float32"}),
        ("grad", "Const", {"val": 1.0, "shape": "[1][1][1][1]", "dtype": "float32"}),
        ("argmax", "Const", {"val": 1000000000, "shape": "[1][1][1][1]", "dtype": "int64"}),
        ("pool", "MaxPoolGradWithArgmax", {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "VALID"}),
        ("ok", "Const", {"val": [1.5, 2.5]}),
    ], [("input", "output", "pool", "input"), ("grad", "output", "pool", "grad"),
        ("argmax", "output", "pool", "argmax")])
    r = enuflow("run", page)
    assert r.returncode == 1, r.stderr
    assert "block 'pool': crashed the run: the run's worker process was killed by SIG" in r.stderr  # SEGV or ABRT
    assert "ok  [Const]" in r.stdout and "[1.5 2.5]" in r.stdout
    assert "Traceback" not in r.stderr


# -- hangs -------------------------------------------------------------------------------------------

def hang_page(tmp_path: Path) -> str:
    return write_page(tmp_path / "hang.json", [
        ("c", "Const", {"val": 7}),
        ("un", "Unstage", {"dtypes": ["float32"]}),
        ("q", "FIFOQueueV2", {"component_types": ["float32"]}),
        ("deq", "QueueDequeueV2", {"component_types": ["float32"]}),
    ], [("q", "handle", "deq", "handle")])


def test_timeout_kills_a_step_that_ignores_tensorflows_timeout_and_names_the_blocks(tmp_path: Path) -> None:
    # Unstage on an empty staging area waits inside the op, deaf to TensorFlow's per-call timeout: the worker
    # is killed at 2 * 1 + KILL_GRACE_S seconds, the last resort
    r = enuflow("run", hang_page(tmp_path), "--json", "--allow-io", "--timeout", "1")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["steps"] == 0
    assert out["timeout"]["seconds"] == 1 and sorted(out["timeout"]["blocks"]) == ["deq", "un"]
    head = out["errors"][0]
    assert head["block"] is None and "timed out after 1 s: step 1 hung" in head["message"]
    assert "worker was killed 7 s in" in head["message"] and "timed out after 0 steps" in head["message"]
    assert sorted(e["block"] for e in out["errors"][1:]) == ["deq", "un"]


def counter_page(tmp_path: Path) -> str:
    """n += 1 at every step; a Print block prints the first three counts."""
    return write_page(tmp_path / "count.json", [
        ("one", "Const", {"val": 1, "dtype": "int64"}),
        ("n", "Variable", {"initvalues": 0, "dtype": "int64", "shape": "[]"}),
        ("inc", "AssignAdd", {}),
        ("p", "Print", {"message": "count is ", "first_n": 3}),
    ], [("n", "ref", "inc", "ref"), ("one", "output", "inc", "value"), ("inc", "output_ref", "p", "input"),
        ("inc", "output_ref", "p", "data")])


def test_timeout_stops_between_steps_and_keeps_the_steps_and_results(tmp_path: Path) -> None:
    r = enuflow("run", counter_page(tmp_path), "--json", "--steps", "0", "--timeout", "2")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    n = out["steps"]
    assert n > 3 and out["stopped"] is True
    assert [e["message"] for e in out["errors"]] == [
        f"timed out after {n} steps (the run's timeout is 2 s); the results are those of step {n}"]
    # the counter counts the steps that ran: the results are those of the last step, which was a full one
    assert out["results"]["inc"]["output_ref"]["value"] == n and out["results"]["n"]["ref"]["value"] == n
    assert out["results"]["p"]["output"]["value"] == n and out["results"]["one"]["output"]["value"] == 1
    assert out["timeout"] == {"seconds": 2, "while": f"after {n} steps", "blocks": []}
    # what Print wrote (in the worker, through TensorFlow's C++ stderr) reached this command's stderr
    assert [ln for ln in r.stderr.splitlines() if "count is" in ln] == \
        ["count is [1]", "count is [2]", "count is [3]"]
    assert "oneDNN" not in r.stderr and "absl::InitializeLog" not in r.stderr  # TensorFlow's start-up notices


def queue_hang_page(tmp_path: Path) -> str:
    return write_page(tmp_path / "queue.json", [
        ("c", "Const", {"val": 7}),
        ("q", "FIFOQueueV2", {"component_types": ["float32"]}),
        ("deq", "QueueDequeueV2", {"component_types": ["float32"]}),
    ], [("q", "handle", "deq", "handle")])


def test_a_step_that_hangs_is_aborted_at_the_timeout_and_the_others_results_kept(tmp_path: Path) -> None:
    # a dequeue on an empty queue waits for ever; TensorFlow's per-call timeout ends it inside the worker
    r = enuflow("run", queue_hang_page(tmp_path), "--json", "--allow-io", "--timeout", "2")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["steps"] == 0 and out["timeout"]["while"] == "while running step 1 (it hung)"
    (e,) = out["errors"]
    assert e["block"] is None and e["message"].startswith("step 1 hung: it did not end within the run's timeout "
                                                          "of 2 s and was aborted (timed out after 0 steps)")
    assert "blocks that can hang: deq" in e["message"]
    assert out["results"]["c"]["output"]["value"] == 7  # a block that does not wait on the queue ran
    assert "crash" not in out and "Traceback" not in r.stderr


def test_target_that_accepts_but_never_answers_times_out() -> None:
    """A socket that listens but never speaks gRPC (a refused port is named at once: test_cluster)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        target = f"grpc://127.0.0.1:{silent.getsockname()[1]}"
        r = enuflow("run", DEFAULT, "--json", "--target", target, "--timeout", "3")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    (e,) = out["errors"]
    assert e["message"].startswith(f"connecting timed out after 3 s while connecting to {target}")
    assert out["results"] == {}


def test_ctrl_c_ends_a_hung_run_with_a_clean_message(tmp_path: Path) -> None:
    marker = tmp_path / "started.txt"
    page = write_page(tmp_path / "hang.json", [
        ("name", "Const", {"val": str(marker), "dtype": "string"}),
        ("text", "Const", {"val": "x", "dtype": "string"}),
        ("w", "WriteFile", {}),
        ("un", "Unstage", {"dtypes": ["float32"]}),
    ], [("name", "output", "w", "filename"), ("text", "output", "w", "contents")])
    proc = subprocess.Popen([sys.executable, "-m", "enuflow.app.cli", "run", page, "--json", "--allow-io"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 240
        while not marker.exists():  # the page is running: WriteFile ran, Unstage waits for ever
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "the page never started"
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)  # it ends (a second, unless the machine is very busy)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "enuflow: stopping after this step (Ctrl+C again to abort)" in err
    doc = json.loads(out)
    assert doc["ok"] is False and doc["stopped"] is True
    assert doc["errors"][0]["message"].startswith("interrupted (Ctrl+C)") and "un" in doc["errors"][0]["message"]


# -- memory ------------------------------------------------------------------------------------------

def big_consts(n: int, side: int) -> list[tuple[str, str, dict]]:
    return [(f"c{i}", "Const", {"val": 0.5, "shape": f"[{side}][{side}]", "dtype": "float64"}) for i in range(n)]


def test_literal_size_is_estimated_without_allocating() -> None:
    page = make_page(big_consts(8, 11585) + [("t", "Const", {"val": "1,2,3", "dtype": "string"}),
                                             ("l", "Const", {"val": [[1, 2], [3, 4]], "dtype": "int64"})], [])
    sizes = {(b, p): s for b, p, s in literal_sizes(page)}
    assert sizes == {(f"c{i}", "val"): 11585 * 11585 * 8 for i in range(8)}  # 1 GiB each; small ones not listed
    errors = check_literals(page, 4 << 30)
    assert [e["block"] for e in errors] == [f"c{i}" for i in range(8)]
    assert all(e["port"] == "val" and "--max-literal-mb" in e["message"] for e in errors)
    assert check_literals(page, 9 << 30) == []


def test_page_over_the_literal_limit_is_refused_before_building(tmp_path: Path) -> None:
    page = write_page(tmp_path / "big.json", big_consts(8, 11585))
    # 3 GiB of address space: enough for the command, far from the 8 GiB the page's Consts would take
    r = enuflow("run", page, "--json", limit_as=3 << 30)
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert [e["block"] for e in out["errors"]] == [f"c{i}" for i in range(8)]
    assert "more than the limit of 2,048 MiB" in out["errors"][0]["message"]
    assert "internal error" not in r.stdout + r.stderr


def test_literal_limit_can_be_raised_and_lowered(tmp_path: Path) -> None:
    page = write_page(tmp_path / "mid.json", big_consts(1, 1000))  # 8 MB
    low = enuflow("run", page, "--json", env={"ENUFLOW_MAX_LITERAL_MB": "4"})
    assert low.returncode == 1 and json.loads(low.stdout)["errors"][0]["block"] == "c0"
    r = enuflow("run", page, "--json", "--max-literal-mb", "16", env={"ENUFLOW_MAX_LITERAL_MB": "4"})
    assert r.returncode == 0, r.stdout
    out = json.loads(r.stdout)["results"]["c0"]["output"]
    assert out["shape"] == [1000, 1000] and out["summary"] == {"min": 0.5, "max": 0.5, "mean": 0.5, "nan": 0, "inf": 0}


def test_tensorflow_out_of_memory_is_a_json_error(tmp_path: Path) -> None:
    # Fill makes 400 MB inside TensorFlow; the worker may use only 200 MB more than it holds after start-up
    page = write_page(tmp_path / "oom.json", [("big", "Fill", {"dims": [100, 1000, 1000], "value": 1.5}),
                                              ("ok", "Const", {"val": 3})])
    r = enuflow("run", page, "--json", "--max-memory-mb", "200")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False
    (e,) = out["errors"]
    assert e["block"] == "big"
    assert e["message"].startswith("the worker ran out of memory (limit 200 MiB) while running block big: "
                                   "OOM when allocating tensor with shape[100,1000,1000]")
    assert out["results"]["ok"]["output"]["value"] == 3


def test_python_out_of_memory_names_the_limit(tmp_path: Path) -> None:
    # a 968 MB Const (within the literal limit) is made by numpy in the worker: far beyond 200 MiB
    page = write_page(tmp_path / "oom.json", big_consts(1, 11000))
    r = enuflow("run", page, "--json", env={"ENUFLOW_WORKER_MAX_MEMORY_MB": "200"})
    assert r.returncode == 1, r.stderr
    (e,) = json.loads(r.stdout)["errors"]
    assert "the worker ran out of memory (limit 200 MiB) while building" in e["message"], e
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr  # the traceback stays in the log


# -- pieces ------------------------------------------------------------------------------------------

def test_without_blocks_drops_what_depends_on_them() -> None:
    page = make_page([("a", "Const", {"val": 1}), ("b", "Neg", {}), ("c", "Neg", {}), ("d", "Const", {"val": 2}),
                      ("s", "ClientSession", {})],
                     [("a", "output", "b", "x"), ("b", "y", "c", "x"), ("c", "y", "s", "fetch_outputs"),
                      ("d", "output", "s", "fetch_outputs")])
    doc = without_blocks(page_to_doc(page), ["b"])
    assert [b["id"] for b in doc["blocks"]] == ["a", "d", "s"]
    assert [(ln["from"][0], ln["to"][0]) for ln in doc["links"]] == [("d", "s")]
    assert len(page_to_doc(page)["blocks"]) == 5  # the page itself is untouched


def test_run_help_tells_the_limits() -> None:
    r = enuflow("run", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--timeout SECONDS" in text and "connecting gives up after 30 s" in text
    assert "--max-literal-mb MB" in text and "ENUFLOW_MAX_LITERAL_MB" in text
    assert "--max-memory-mb MB" in text and "ENUFLOW_WORKER_MAX_MEMORY_MB" in text
    assert "after a full last step" in text and "'timed out after N steps'" in text
    assert "default 2048" in text and "worker process" in text and "(exit 130)" in text
