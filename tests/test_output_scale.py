"""`enuflow run` at model scale: large results not fetched by the ClientSession are summarised in `--json` and in
the table, `--all` writes every value whole, `--save-results DIR` writes every result as BLOCK.PORT.npy.

Expected values come from numpy (the same formulas, or numpy's reductions over the values TensorFlow returned,
read from the .npy files), never from enuflow's own summary code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from test_cli import enuflow

from enuflow.app.document.result_files import result_file_name, result_key, save_results
from enuflow.app.document.tensors import handle_array, tensor_summary

LOG = "net/log.1"  # an id with characters a file name cannot hold as they are


def scale_page(tmp_path: Path, session: bool = True) -> str:
    """r = Range(-3, 1997) (2,000 float32), LOG = log(r) (3 NaN, one -inf), neg = -LOG and small = [1, 2, 3]; the
    ClientSession (when there is one) fetches neg and small."""
    blocks = [{"id": "r", "type": "Range", "pins": {"start": -3.0, "limit": 1997.0, "delta": 1.0}},
              {"id": LOG, "type": "Log"}, {"id": "neg", "type": "Neg"},
              {"id": "small", "type": "Const", "pins": {"val": [1, 2, 3], "dtype": "int32"}}]
    links = [{"from": ["r", "output"], "to": [LOG, "x"]}, {"from": [LOG, "y"], "to": ["neg", "x"]}]
    if session:
        blocks.append({"id": "s", "type": "ClientSession", "pins": {"steps": 1}})
        links += [{"from": ["neg", "y"], "to": ["s", "fetch_outputs"]},
                  {"from": ["small", "output"], "to": ["s", "fetch_outputs"]}]
    p = tmp_path / ("scale.json" if session else "scale_nosession.json")
    p.write_text(json.dumps({"format": "enuflow.page", "version": 1, "name": "scale", "blocks": blocks,
                             "links": links}))
    return str(p)


def json_number(v: object) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)  # type: ignore[arg-type]


def numpy_summary(a: np.ndarray) -> dict:
    """min and max without NaN, mean of the finite elements in float64, NaN and infinity counts: numpy's own."""
    finite = a[np.isfinite(a)]
    return {"min": float(np.nanmin(a)), "max": float(np.nanmax(a)), "mean": pytest.approx(float(np.mean(finite,
            dtype=np.float64)), rel=1e-12), "nan": int(np.isnan(a).sum()), "inf": int(np.isinf(a).sum())}


def r_values() -> np.ndarray:
    return np.arange(-3, 1997, dtype=np.float32)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """`run --json --save-results DIR` of the page with a ClientSession: (the JSON, DIR)."""
    tmp = tmp_path_factory.mktemp("scale")
    out = tmp / "results" / "deeper"  # made by the command
    r = enuflow("run", scale_page(tmp), "--json", "--save-results", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout), out


def test_save_results_writes_every_result_as_npy(saved_run: tuple[dict, Path]) -> None:
    _, out = saved_run
    names = sorted(f.name for f in out.iterdir())
    assert names == ["neg.y.npy", "net%2Flog%2E1.y.npy", "r.output.npy", "small.output.npy"]  # no temporaries
    assert [unquote(n[:-4].split(".")[0]) for n in names] == ["neg", LOG, "r", "small"]
    r = np.load(out / "r.output.npy", allow_pickle=False)
    assert r.dtype == np.float32 and np.array_equal(r, r_values())
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.log(r_values())
    log = np.load(out / "net%2Flog%2E1.y.npy", allow_pickle=False)
    assert log.dtype == np.float32 and log.shape == (2000,)
    np.testing.assert_allclose(log, want, rtol=1e-6)  # NaN and -inf in the same places
    np.testing.assert_array_equal(np.load(out / "neg.y.npy", allow_pickle=False), -log)
    small = np.load(out / "small.output.npy", allow_pickle=False)
    assert small.dtype == np.int32 and small.tolist() == [1, 2, 3]


def test_unfetched_large_results_are_summaries(saved_run: tuple[dict, Path]) -> None:
    doc, out = saved_run
    res = doc["results"]
    log = np.load(out / "net%2Flog%2E1.y.npy", allow_pickle=False)  # the values TensorFlow gave
    for block, port, values in (("r", "output", r_values()), (LOG, "y", log)):
        got = res[block][port]
        assert set(got) == {"dtype", "shape", "summary"} and got["dtype"] == "float32" and got["shape"] == [2000]
        assert {k: json_number(v) for k, v in got["summary"].items()} == numpy_summary(values)
    assert res[LOG]["y"]["summary"]["min"] == "-Infinity" and res[LOG]["y"]["summary"]["nan"] == 3


def test_fetched_results_are_whole(saved_run: tuple[dict, Path]) -> None:
    doc, out = saved_run
    neg = doc["results"]["neg"]["y"]
    assert "summary" not in neg and neg["shape"] == [2000]
    values = np.array([json_number(v) for v in neg["value"]], dtype=np.float64)
    want = -np.load(out / "net%2Flog%2E1.y.npy", allow_pickle=False).astype(np.float64)
    np.testing.assert_array_equal(values, want)
    assert doc["results"]["small"]["output"] == {"dtype": "int32", "shape": [3], "value": [1, 2, 3]}


def test_all_writes_every_value_whole(tmp_path: Path) -> None:
    r = enuflow("run", scale_page(tmp_path), "--json", "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)["results"]
    assert res["r"]["output"] == {"dtype": "float32", "shape": [2000], "value": r_values().tolist()}
    log = np.array([json_number(v) for v in res[LOG]["y"]["value"]], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(log, np.log(r_values().astype(np.float64)), rtol=1e-6)
    assert "summary" not in res["neg"]["y"] and len(res["neg"]["y"]["value"]) == 2000


def test_page_without_session_summarises_and_tabulates_briefly(tmp_path: Path) -> None:
    page = scale_page(tmp_path, session=False)
    r = enuflow("run", page, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)["results"]
    for block, port in (("r", "output"), (LOG, "y"), ("neg", "y")):  # every output is fetched, none by a session
        assert "value" not in res[block][port] and res[block][port]["shape"] == [2000]
    assert res["r"]["output"]["summary"] == {"min": -3.0, "max": 1996.0, "mean": 996.5, "nan": 0, "inf": 0}
    assert res["small"]["output"]["value"] == [1, 2, 3]
    table = enuflow("run", page)
    assert table.returncode == 0, table.stderr
    assert "r  [Range]\n  output  float32 [2000]  min -3 max 1996 mean 996.5\n" in table.stdout
    assert "(3 NaN, 1 inf)" in table.stdout and "min -inf max 7.5989" in table.stdout
    assert len(table.stdout) < 600


def test_unwritable_save_dir_is_an_error_before_running(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    r = enuflow("run", scale_page(tmp_path), "--json", "--save-results", str(blocker / "out"))
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["results"] == {}
    (e,) = doc["errors"]
    assert e["message"].startswith(f"cannot write results to {blocker / 'out'}")
    plain = enuflow("run", scale_page(tmp_path), "--save-results", str(blocker))
    assert plain.returncode == 2 and str(blocker) in plain.stderr and "Traceback" not in plain.stderr


def test_help_names_the_options() -> None:
    r = enuflow("run", "--help")
    assert "--all" in r.stdout and "--save-results DIR" in r.stdout and "BLOCK.PORT.npy" in r.stdout


# -- in-process: names, a failed write, summaries of other dtypes -------------------------------------

@pytest.mark.parametrize("block,port", [("d1/mm", "y"), ("a.b", "out.1"), ("x y:z%", "p"), ("ünï/..", "q"),
                                        ("-", "~")])
def test_file_names_escape_reversibly(block: str, port: str) -> None:
    name = result_file_name(block, port)
    assert name.endswith(".npy") and name.count(".") == 2 and "/" not in name and " " not in name
    assert all(c.isascii() for c in name)
    assert result_key(name) == (block, port)


def test_a_failed_write_names_the_file_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.y.npy").mkdir()  # a folder where the file should go
    values = {("a", "y"): np.arange(3), ("b", "y"): np.array([b"x", b"\xff"], dtype=object),
              ("h", "resource"): handle_array("resource")}
    (e,) = save_results(values, tmp_path)
    assert e["block"] == "a" and e["port"] == "y" and str(tmp_path / "a.y.npy") in e["message"]
    strings = np.load(tmp_path / "b.y.npy", allow_pickle=False)
    assert strings.tolist() == [b"x", b"\xff"]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.y.npy", "b.y.npy"]  # no handle file, no temporary


def test_summaries_of_other_dtypes() -> None:
    import ml_dtypes

    b = np.arange(2001) % 3 == 0
    assert tensor_summary(b) == {"min": False, "max": True, "mean": pytest.approx(b.sum() / b.size), "nan": 0,
                                 "inf": 0}
    i = (np.arange(3000, dtype=np.int64) - 1000) * 7
    assert tensor_summary(i) == {"min": int(i.min()), "max": int(i.max()), "mean": pytest.approx(i.mean()),
                                 "nan": 0, "inf": 0}
    c = np.array([1 + 2j, np.nan, 3 - 1j, np.inf], dtype=np.complex64)
    s = tensor_summary(c)
    assert s["min"] is None and s["max"] is None and (s["nan"], s["inf"]) == (1, 1)
    assert s["mean"] == pytest.approx([2.0, 0.5])
    bf = np.array([1.5, -2.0, np.inf], dtype=ml_dtypes.bfloat16)
    assert tensor_summary(bf) == {"min": -2.0, "max": "Infinity", "mean": -0.25, "nan": 0, "inf": 1}
    assert tensor_summary(np.full(5, np.nan))["min"] is None
    text = np.array([b"", b"a", b""] * 400, dtype=object)
    assert tensor_summary(text) == {"min": None, "max": None, "mean": None, "nan": 0, "inf": 0, "empty": 800}
