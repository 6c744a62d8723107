"""Pages on a TensorFlow cluster: cluster files, `enuflow worker`, placement by device, tasks down or lost.

The servers are real `enuflow worker` subprocesses on free 127.0.0.1 ports (``cluster_servers``); every
wait is bounded and the fixtures kill every task they started. Where a block ran is read from TensorFlow's
own step statistics, not from enuflow's graph.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from cluster_servers import LocalCluster, free_ports, read_line, two_workers_up
from conftest import ROOT, make_page

from enuflow.app.document.cluster import ClusterError, load_cluster, parse_cluster, task_of_device

#: a bound on any one run in these tests: a run that has not ended by then hangs, which is the failure
RUN_BOUND = 180.0


def enuflow(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "enuflow.app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=e, timeout=timeout)


# -- cluster files, no TensorFlow ---------------------------------------------------------------

def test_cluster_spec_and_tf_config_forms() -> None:
    c = parse_cluster({"worker": ["a:1", "b:2"], "ps": ["c:3"]})
    assert c.tasks == {"/job:worker/task:0": "a:1", "/job:worker/task:1": "b:2", "/job:ps/task:0": "c:3"}
    assert c.default_task() == "/job:worker/task:0" and c.target() == "grpc://a:1"
    t = parse_cluster({"cluster": {"chief": ["h:9"], "worker": {"3": "w:5"}}, "task": {"type": "worker", "index": 3}})
    assert t.default_task() == "/job:chief/task:0" and t.task == ("worker", 3)
    assert t.tasks["/job:worker/task:3"] == "w:5"
    assert task_of_device("/job:worker/task:1/device:GPU:0") == "/job:worker/task:1"
    assert task_of_device("/job:worker/replica:0/task:2/device:CPU:0") == "/job:worker/task:2"
    assert task_of_device("/job:ps") == "/job:ps/task:0"
    assert task_of_device("/cpu:0") is None and task_of_device("") is None


@pytest.mark.parametrize("text, words", [
    ('{"worker": ["127.0.0.1"]}', "task 0: '127.0.0.1' is not an address"),
    ('{"worker": ', "line 1: not JSON"),
    ('{"worker": []}', "job 'worker' has no tasks"),
    ('["a:1"]', "expected a JSON object"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 4}}', "task /job:worker/task:4 is not"),
    ('{"bad job": ["a:1"]}', "is not a job name"),
])
def test_bad_cluster_files_are_named(tmp_path: Path, text: str, words: str) -> None:
    p = tmp_path / "c.json"
    p.write_text(text)
    with pytest.raises(ClusterError) as e:
        load_cluster(p)
    assert str(e.value).startswith(str(p)) and words in str(e.value)


def test_the_document_layer_opens_no_sockets() -> None:
    """Cluster files are read in app/document; probing their tasks belongs to the engine (placement)."""
    import ast

    # urllib.parse only handles text (result file names are percent-encoded with it); urllib.request opens sockets
    network = {"socket", "ssl", "http", "asyncio", "selectors", "socketserver", "urllib.request", "urllib.error",
               "urllib.robotparser"}
    for path in (ROOT / "app" / "document").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.ImportFrom) and node.module == "urllib":
                names = [f"urllib.{a.name}" for a in node.names]
            bad = [n for n in names if n.split(".")[0] in network or ".".join(n.split(".")[:2]) in network]
            assert not bad, f"{path} imports {bad}"


def test_cluster_without_worker_or_chief_cannot_be_a_target() -> None:
    with pytest.raises(ClusterError, match="no 'worker' or 'chief' task"):
        parse_cluster({"ps": ["a:1"]}, "c.json").default_task()


def test_bad_cluster_file_exit_2_for_run_and_worker(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"worker": ["nohost"]}')
    page = str(ROOT / "scenes" / "sparse_fill_empty_rows_grad.json")
    r = enuflow("run", page, "--cluster", str(bad), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (err,) = json.loads(r.stdout)["errors"]
    assert str(bad) in err["message"] and "'nohost' is not an address" in err["message"]
    r = enuflow("worker", "--cluster", str(tmp_path / "missing.json"), "--job", "worker", "--task", "0")
    assert r.returncode == 2 and "missing.json: no such file" in r.stderr and "Traceback" not in r.stderr
    good = tmp_path / "g.json"
    good.write_text('{"worker": ["127.0.0.1:1"]}')
    r = enuflow("worker", "--cluster", str(good), "--job", "ps", "--task", "0")
    assert r.returncode == 2 and "no job 'ps'" in r.stderr
    r = enuflow("worker", "--cluster", str(good), "--job", "worker", "--task", "3")
    assert r.returncode == 2 and "job 'worker' has no task 3" in r.stderr
    r = enuflow("worker", env={"TF_CONFIG": ""})
    assert r.returncode == 2 and "--cluster" in r.stderr


# -- a cluster of three worker tasks, task 2 down -------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    with two_workers_up(tmp_path_factory.mktemp("cluster"), 3) as c:
        yield c


def _page(devices: dict[str, str], session_device: str | None = None):
    """a, b: Consts; s = a + b; m = a * a; n = -s. ``devices`` places blocks by id."""
    blocks = [("a", "Const", {"val": [1.0, 2.0], "dtype": "float32"}),
              ("b", "Const", {"val": [3.0, 4.0], "dtype": "float32"}),
              ("s", "Add", {}), ("m", "Mul", {}), ("n", "Neg", {})]
    links = [("a", "output", "s", "x"), ("b", "output", "s", "y"), ("a", "output", "m", "x"),
             ("a", "output", "m", "y"), ("s", "z", "n", "x")]
    if session_device is not None:
        blocks.append(("session", "ClientSession", {"device": session_device}))
        links += [("n", "y", "session", "fetch_outputs"), ("m", "z", "session", "fetch_outputs")]
    page = make_page(blocks, links)
    for bid, dev in devices.items():
        page.block(bid).device = dev
    return page


def _run_bounded(fn):
    """``fn()`` on a thread; fails the test when it has not returned within RUN_BOUND seconds (a hang)."""
    box: dict = {}

    def body() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(RUN_BOUND)
    assert not th.is_alive(), f"the run did not end within {RUN_BOUND:g} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def _where_ops_ran(runner, keys) -> dict[str, str]:
    """op name -> the task TensorFlow's step statistics say it ran on, for one traced run of ``keys``."""
    import tensorflow as tf

    prep = runner._prepared
    built = prep.built
    feeds = dict(zip((s.placeholder for s in built.slots), built.feed_values()))
    md = tf.compat.v1.RunMetadata()
    opts = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    prep.session.run([built.tensors[k] for k in keys], feed_dict=feeds, options=opts, run_metadata=md)
    out = {}
    for dev in md.step_stats.dev_stats:
        task = task_of_device(dev.device)
        for node in dev.node_stats:
            out[node.node_name] = task
    return out


def _listening_addresses(port: int) -> set[str]:
    """The local addresses the system lists as listening on TCP ``port``: /proc/net/tcp and tcp6 read here
    on their own (hex address:port, state 0A), the words the worker prints being the claim under test."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path("/proc/net", name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add("wildcard" if host == "0" * width else host)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads where the task listens from /proc/net")
def test_worker_says_truly_where_it_listens_and_that_anyone_there_can_run_ops(cluster: LocalCluster) -> None:
    """TensorFlow binds every interface whatever host the cluster file names (127.0.0.1 here): the task must
    not say grpc://127.0.0.1 alone, and must warn that the port runs any op for whoever reaches it."""
    key = "/job:worker/task:1"
    line = cluster.lines[key]
    port = int(cluster.address("worker", 1).rpartition(":")[2])
    assert line.startswith(f"enuflow worker: {key} listening on")
    assert cluster.address("worker", 1) in line and f"port {port}" in line
    bound = _listening_addresses(port)
    assert bound, f"nothing listens on port {port}"
    if "wildcard" in bound:
        assert f"listening on all interfaces, port {port}" in line
    else:
        assert "all interfaces" not in line
    warning = [ln for ln in cluster.stderr(key).splitlines() if "warning" in ln]
    assert len(warning) == 1 and "no authentication" in warning[0] and "trusted network" in warning[0]
    assert f"port {port}" in warning[0] and "files" in warning[0]


def test_blocks_run_on_the_task_their_device_names(cluster: LocalCluster) -> None:
    from enuflow.app.engine.runner import Runner

    runner = Runner(cluster=load_cluster(cluster.path))
    try:
        report = _run_bounded(lambda: runner.run(_page({"a": "/job:worker/task:0", "b": "/job:worker/task:1",
                                                        "s": "/job:worker/task:1", "n": "/job:worker/task:0",
                                                        "m": "/job:worker/task:1/device:CPU:0"})))
        assert report.errors == []
        np.testing.assert_array_equal(report.results.get("s", "z"), np.float32([4, 6]))
        np.testing.assert_array_equal(report.results.get("m", "z"), np.float32([1, 4]))
        np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
        ran = _where_ops_ran(runner, [("s", "z"), ("m", "z"), ("n", "y")])
        assert ran["s"] == "/job:worker/task:1" and ran["m"] == "/job:worker/task:1"
        assert ran["n"] == "/job:worker/task:0"
    finally:
        runner.close()


def test_client_session_device_is_the_page_default(cluster: LocalCluster) -> None:
    from enuflow.app.engine.runner import Runner

    runner = Runner(cluster=load_cluster(cluster.path))
    try:
        report = _run_bounded(lambda: runner.run(_page({"m": "/job:worker/task:0"}, "/job:worker/task:1")))
        assert report.errors == []
        np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
        ran = _where_ops_ran(runner, [("n", "y"), ("m", "z")])
        assert ran["n"] == "/job:worker/task:1" and ran["s"] == "/job:worker/task:1"
        assert ran["m"] == "/job:worker/task:0"  # a block's own device wins over the page's
    finally:
        runner.close()


def test_page_runs_while_another_task_of_the_cluster_is_down(cluster: LocalCluster) -> None:
    """Task 2 was never started; TensorFlow would wait for it unless the session filters it out."""
    from enuflow.app.engine.runner import run_page

    page = _page({"a": "/job:worker/task:1", "s": "/job:worker/task:1"})
    report = _run_bounded(lambda: run_page(page, cluster=load_cluster(cluster.path), timeout=60))
    assert report.errors == []
    np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))


def test_block_on_a_task_that_is_down_is_named_and_the_rest_runs(cluster: LocalCluster) -> None:
    from enuflow.app.engine.runner import run_page

    page = _page({"b": "/job:worker/task:1", "m": "/job:worker/task:2"})
    report = _run_bounded(lambda: run_page(page, cluster=load_cluster(cluster.path), timeout=60))
    address = cluster.address("worker", 2)
    summary = [e for e in report.errors if e.block is None]
    assert len(summary) == 1 and "/job:worker/task:2" in summary[0].message and address in summary[0].message
    assert "'m'" in summary[0].message
    assert {e.block for e in report.errors if e.block} == {"m"}
    np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
    assert report.results.get("m", "z") is None


def test_device_naming_no_task_of_the_cluster_is_refused(cluster: LocalCluster) -> None:
    from enuflow.app.engine.runner import run_page

    report = _run_bounded(lambda: run_page(_page({"m": "/job:worker/task:7"}), cluster=load_cluster(cluster.path)))
    (err,) = report.errors
    assert err.block == "m" and "/job:worker/task:7" in err.message and "names no task" in err.message
    np.testing.assert_array_equal(report.results.get("s", "z"), np.float32([4, 6]))


def test_target_task_down_is_an_error_not_a_hang(cluster: LocalCluster, tmp_path: Path) -> None:
    from enuflow.app.engine.runner import run_page

    (dead,) = free_ports(1)
    spec = dict(cluster.spec, chief=[f"127.0.0.1:{dead}"])
    report = _run_bounded(lambda: run_page(_page({}), cluster=parse_cluster(spec, "c.json"), timeout=30))
    assert report.results.values == {}
    assert any(e.block is None and "/job:chief/task:0" in e.message and "target" in e.message for e in report.errors)


def test_run_cluster_command(cluster: LocalCluster, tmp_path: Path) -> None:
    from enuflow.app.document.formats import save

    page = tmp_path / "p.json"
    save(_page({"a": "/job:worker/task:0", "b": "/job:worker/task:1", "s": "/job:worker/task:1",
                "m": "/job:worker/task:2"}), str(page))
    r = enuflow("run", str(page), "--cluster", str(cluster.path), "--json", "--timeout", "60")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["results"]["s"]["z"]["value"] == [4.0, 6.0] and doc["results"]["n"]["y"]["value"] == [-4.0, -6.0]
    assert "m" not in doc["results"]
    assert [e["block"] for e in doc["errors"]] == [None, "m"]
    assert "/job:worker/task:2" in doc["errors"][0]["message"] and "'m'" in doc["errors"][0]["message"]
    assert "Traceback" not in r.stderr


# -- a grpc target without a cluster file: its own cluster has task 2 down ---------------------------

def test_target_whose_cluster_has_a_dead_member_runs_a_page_on_the_live_tasks(cluster: LocalCluster) -> None:
    """Task 0 is the target; its cluster's task 2 was never started. Without device filters TensorFlow would
    wait for task 2; the page's pins (tasks 0 and 1) give the filters, as with a cluster file."""
    from enuflow.app.engine.runner import Runner

    runner = Runner(target="grpc://" + cluster.address("worker", 0), timeout=60)
    try:
        report = _run_bounded(lambda: runner.run(_page({"b": "/job:worker/task:1", "s": "/job:worker/task:1"})))
        assert report.errors == []
        np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
        np.testing.assert_array_equal(report.results.get("m", "z"), np.float32([1, 4]))
        ran = _where_ops_ran(runner, [("s", "z"), ("m", "z"), ("n", "y")])
        assert ran["s"] == "/job:worker/task:1" and ran["m"] == "/job:worker/task:0"
    finally:
        runner.close()


def test_target_names_the_dead_member_of_its_cluster_that_the_page_needs(cluster: LocalCluster,
                                                                         tmp_path: Path) -> None:
    from enuflow.app.document.formats import save

    page = tmp_path / "p.json"
    save(_page({"b": "/job:worker/task:1", "s": "/job:worker/task:1", "m": "/job:worker/task:2"}), str(page))
    target = "grpc://" + cluster.address("worker", 0)
    r = enuflow("run", str(page), "--target", target, "--json", "--timeout", "120")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert "timeout" not in doc, doc  # named, not waited for until the run's timeout
    assert doc["results"]["n"]["y"]["value"] == [-4.0, -6.0] and "m" not in doc["results"]
    assert [e["block"] for e in doc["errors"]] == [None, "m"]
    summary = doc["errors"][0]["message"]
    assert "/job:worker/task:2" in summary and "'m'" in summary and "did not answer" in summary
    assert "Traceback" not in r.stderr


def test_devices_of_a_target_whose_cluster_has_a_dead_member(cluster: LocalCluster) -> None:
    """What the editor's device field offers: the target's own devices, and a problem saying why not more."""
    import tensorflow as tf

    from enuflow.app.engine.placement import target_devices

    devices, problems = _run_bounded(lambda: target_devices(tf, None, "grpc://" + cluster.address("worker", 0)))
    assert "/job:worker/replica:0/task:0/device:CPU:0" in devices
    assert all(d.startswith("/job:worker/replica:0/task:0/") for d in devices)  # task 1's are not listed
    (problem,) = problems
    assert "did not list its devices" in problem and "its own devices are listed" in problem
    (port,) = free_ports(1)
    devices, problems = target_devices(tf, None, f"grpc://127.0.0.1:{port}")
    assert devices == [] and problems == [f"grpc://127.0.0.1:{port} did not list its devices: nothing accepts "
                                          f"connections at 127.0.0.1:{port} (connection refused)"]


def test_target_that_refuses_connections_is_named_at_once(tmp_path: Path) -> None:
    """Nothing listens at the port: the error names the address and says the connection was refused; it is not
    the connect timeout's "nothing answered" (the run's --timeout is far beyond what a refusal takes)."""
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    r = enuflow("run", str(ROOT / "scenes" / "sparse_fill_empty_rows_grad.json"), "--target", f"grpc://{address}",
                "--json", "--timeout", "200")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    (err,) = doc["errors"]
    assert err["block"] is None and "timeout" not in doc and "nothing answered" not in err["message"]
    assert err["message"] == f"could not connect to grpc://{address}: nothing accepts connections at {address} " \
                             "(connection refused)"
    assert doc["results"] == {} and "Traceback" not in r.stderr


def _third_task(cluster: LocalCluster, via_tf_config: bool) -> str:
    if via_tf_config:
        tf_config = json.dumps({"cluster": cluster.spec, "task": {"type": "worker", "index": 2}})
        return cluster.start("worker", 2, env={"TF_CONFIG": tf_config}, args=[])
    return cluster.start("worker", 2)


def _looping_page():
    """Block m on task 2 and n on task 1, run for many steps."""
    page = _page({"m": "/job:worker/task:2", "s": "/job:worker/task:1"}, "")
    page.block("session").pins["steps"] = 40
    return page


def test_task_killed_mid_run_is_named_and_the_rest_goes_on(cluster: LocalCluster) -> None:
    """Task 2 starts from TF_CONFIG alone, then dies during the run."""
    from enuflow.app.engine.runner import Runner

    line = _third_task(cluster, via_tf_config=True)
    assert "/job:worker/task:2 listening" in line
    runner = Runner(cluster=load_cluster(cluster.path), timeout=60)

    def on_step(step: int, results) -> None:
        if step == 3:
            cluster.kill("/job:worker/task:2")

    try:
        report = _run_bounded(lambda: runner.run(_looping_page(), on_step=on_step))
    finally:
        runner.close()
        cluster.kill("/job:worker/task:2")
    assert report.steps_done == 40
    summary = [e for e in report.errors if e.block is None]
    assert len(summary) == 1 and "/job:worker/task:2" in summary[0].message and "'m'" in summary[0].message
    assert [e.block for e in report.errors if e.block] == ["m"]
    np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
    assert len(report.results.history.get(("m", "z"), [])) == 0  # m is not a scalar: no history
    assert report.results.get("m", "z") is not None  # its result from the steps before the loss is kept


def test_task_killed_mid_epoch_run_is_named_as_in_a_run_in_steps(cluster: LocalCluster, tmp_path: Path) -> None:
    """A run in epochs whose metrics.Accuracy is on task 2, which dies in the first train pass: the failure is
    reported as a step's is (the task named with its blocks), not as a block's TensorFlow message."""
    from test_epochs import classifier_page

    from enuflow.app.document.formats import load
    from enuflow.app.engine.runner import Runner

    key = "/job:worker/task:2"
    _third_task(cluster, via_tf_config=False)
    page = load(str(classifier_page(tmp_path, epochs=20)))
    page.block("acc").device = key
    runner = Runner(cluster=load_cluster(cluster.path), timeout=60)

    def on_batch(epoch: int, epochs: int, phase: str, batch: int, batches: int) -> None:
        if (epoch, phase, batch) == (1, "train", 2):
            cluster.kill(key)

    try:
        report = _run_bounded(lambda: runner.run(page, on_batch=on_batch))
    finally:
        runner.close()
        cluster.kill(key)
    summary = [e.message for e in report.errors if e.block is None]
    assert len(summary) == 1 and key in summary[0] and "stopped answering" in summary[0], report.errors
    assert report.failed_blocks and all(b.startswith("acc/") for b in report.failed_blocks), report.failed_blocks
    assert report.epochs == [] and not report.lost_target


def test_task_that_hangs_mid_run_ends_in_the_timeout_then_stops_cleanly(cluster: LocalCluster) -> None:
    from enuflow.app.engine.runner import Runner

    _third_task(cluster, via_tf_config=False)
    key = "/job:worker/task:2"
    proc = cluster.procs[key]
    runner = Runner(cluster=load_cluster(cluster.path), timeout=30)

    def on_step(step: int, results) -> None:
        if step == 2:
            os.kill(proc.pid, signal.SIGSTOP)

    try:
        report = _run_bounded(lambda: runner.run(_looping_page(), on_step=on_step))
    finally:
        runner.close()
        os.kill(proc.pid, signal.SIGCONT)
    assert any(e.block is None and key in e.message and "'m'" in e.message for e in report.errors), report.errors
    assert [e.block for e in report.errors if e.block] == ["m"]
    np.testing.assert_array_equal(report.results.get("n", "y"), np.float32([-4, -6]))
    # SIGTERM ends the task cleanly: one more line, exit 0, no traceback
    proc.send_signal(signal.SIGTERM)
    assert read_line(proc, 60).endswith(f"{key} stopped")
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in cluster.stderr(key)


def test_task_lost_mid_step_does_not_run_the_step_s_counter_twice(cluster: LocalCluster) -> None:
    """A counter (AssignAdd on task 0) whose result task 2 negates: task 2 dies after step 3.

    The step that finds task 2 gone is not run again without it (the counter would count that step twice)."""
    from enuflow.app.engine.runner import Runner

    _third_task(cluster, via_tf_config=False)
    page = make_page([("v", "Variable", {"initvalues": 0.0, "dtype": "float32", "shape": []}),
                      ("one", "Const", {"val": 1.0}), ("add", "AssignAdd", {}), ("neg", "Neg", {}),
                      ("session", "ClientSession", {"steps": 10})],
                     [("v", "ref", "add", "ref"), ("one", "output", "add", "value"),
                      ("add", "output_ref", "neg", "x"), ("add", "output_ref", "session", "fetch_outputs"),
                      ("neg", "y", "session", "fetch_outputs")])
    for bid in ("v", "one", "add"):
        page.block(bid).device = "/job:worker/task:0"
    page.block("neg").device = "/job:worker/task:2"
    runner = Runner(cluster=load_cluster(cluster.path), timeout=60)

    def on_step(step: int, results) -> None:
        if step == 3:
            cluster.kill("/job:worker/task:2")

    try:
        report = _run_bounded(lambda: runner.run(page, on_step=on_step))
    finally:
        runner.close()
        cluster.kill("/job:worker/task:2")
    assert report.steps_done == 10
    assert [e.block for e in report.errors if e.block] == ["neg"]
    # 10 steps, one AssignAdd each; 9 when TensorFlow cancelled the counter's part of step 4 before it ran.
    # Running step 4 again without task 2 (as the runner did) gives 11 or 10 with a lost value at step 4.
    history = report.results.history[("add", "output_ref")]
    assert history[:3] == [1.0, 2.0, 3.0]
    assert float(report.results.get("add", "output_ref")) in (9.0, 10.0)
    assert history[-1] == float(report.results.get("add", "output_ref"))
    assert len(history) == 9  # step 4's value is lost with the execution task 2 broke; never fetched twice


def test_a_stop_signal_that_arrives_inside_the_wait_still_stops_the_task() -> None:
    """Python runs a signal handler in the main thread between two bytecodes: possibly inside the task's wait,
    while that holds the stop Event's lock (``threading.Event`` keeps it in ``_cond``). A handler that needed the
    lock would wait for its own thread forever: once in a CI run, a task never printed "stopped" on SIGTERM."""
    from enuflow.app.worker.task_server import StopSignal

    until = StopSignal(threading.Event(), poll=0.01)
    handled = threading.Event()

    def signal_inside_the_wait() -> None:
        with until.stop._cond:  # where the waiting thread is when the signal comes
            until.on_signal(signal.SIGTERM, None)
        handled.set()

    th = threading.Thread(target=signal_inside_the_wait, daemon=True)
    th.start()
    th.join(5)
    assert handled.is_set(), "the signal handler waited for a lock its own thread holds"
    waiter = threading.Thread(target=until.wait, daemon=True)
    waiter.start()
    waiter.join(5)
    assert not waiter.is_alive(), "the task did not stop after the signal"
