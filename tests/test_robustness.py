"""Random and broken pages never crash the engine: every problem comes back as an error value."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from enuflow.app.engine.analysis import analyse
from enuflow.app.document.formats import PageFileError
from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.document.tensors import format_results, results_json, tensor_from_json
from enuflow.app.engine.runner import Runner
from enuflow.app.worker import shm

TYPES = ["Const", "Placeholder", "ClientSession", "SparseFillEmptyRowsGrad", "SparseFillEmptyRows", "Add", "MatMul",
         "Range", "Split", "AddN", "ConcatV2", "Cast", "Mean", "Reshape", "Variable", "Assign", "ApplyGradientDescent",
         "InputList", "Output", "Operation", "AddSymbolicGradients", "Nope", "Fill", "OneHot", "Unpack", "Switch",
         "StringJoin", "Complex", "LogicalNot", "Equal", "AsString"]
VALUES = [None, 0, 1, -1, 2.5, True, "", "abc", "1,2,3", "{{1,2},{3,4}}", "[2][2]", "DT_FLOAT", "float32", [1, 2],
          [[1], [2, 3]], {"a": 1}, [None], "TRUE", "[100000000][100000000]", "0.5f", "-1", "{1,2", "int64", "1;;2",
          ["a", "bc"], [], [True, False], "string", "bool", "complex64"]
PINS = ["val", "dtype", "shape", "value", "steps", "T", "axis", "num_split", "N", "transpose_a", "x", "y", "Tidx",
        "DstT", "initvalues", "index", "INFINITE_LOOP", "limit", "start", "delta", "depth", "num", "pred", "real",
        "imag", "Tout"]
PORTS = ["output", "z", "product", "d_values", "ref", "output[0]", "output[1]", "sum", "y", "reverse_index_map", "x",
         "a", "b", "inputs", "values", "grad_values", "fetch_outputs", "run_outputs", "initvalues", "value", "nope",
         "output_true", "output_false", "data", "pred", "out", "real", "imag"]


def random_doc(rng: random.Random) -> dict:
    n = rng.randint(1, 6)
    blocks = [{"id": f"b{j}", "type": rng.choice(TYPES),
               "pins": {rng.choice(PINS): rng.choice(VALUES) for _ in range(rng.randint(0, 4))}} for j in range(n)]
    links = [{"from": [f"b{rng.randrange(n)}", rng.choice(PORTS)], "to": [f"b{rng.randrange(n)}", rng.choice(PORTS)]}
             for _ in range(rng.randint(0, 6))]
    return {"blocks": blocks, "links": links}


@pytest.mark.parametrize("seed", range(4))
def test_random_pages_give_errors_not_exceptions(seed: int) -> None:
    rng = random.Random(seed)
    runner = Runner()
    checked = ran = 0
    try:
        for i in range(60):
            doc = random_doc(rng)
            try:
                page = page_from_doc("random.json", doc)
            except PageFileError:
                continue
            an = analyse(page, allow_io=True)
            checked += 1
            for e in an.errors:
                assert e.message and (e.block is None or e.block in page)
            if i % 4 == 0:
                report = runner.run(page, steps=1, allow_io=True)
                ran += 1
                for e in report.errors:
                    assert e.message and "Traceback" not in e.message
                json.dumps(results_json(report.results.values), allow_nan=False)  # every result is JSON-safe
                format_results(page, report.results.values)
    finally:
        runner.close()
    assert checked > 20 and ran > 5


# -- typed random pages: string, bool, complex and empty tensors reach every output form ------------------

STRINGS = ["a", ["ab", "c"], [], "\u00fc", ["x", "", "yz"]]
FLOATS = [1.5, [1.0, -2.0], [], [[1.0], [2.0]], float("nan")]


def typed_doc(rng: random.Random) -> dict:
    """A page whose results are strings, bools, complex numbers or empty tensors, chosen at random."""
    kind = rng.choice(["string", "bool", "complex", "empty"])
    blocks: list[dict] = []
    links: list[dict] = []

    def add(bid: str, btype: str, **pins: object) -> str:
        blocks.append({"id": bid, "type": btype, "pins": pins})
        return bid

    def wire(src: str, sp: str, dst: str, dp: str) -> None:
        links.append({"from": [src, sp], "to": [dst, dp]})

    if kind == "string":
        add("s", "Const", val=rng.choice(STRINGS), dtype="string")
        if rng.random() < 0.7:
            add("p", "Const", val=rng.random() < 0.5)
            add("sw", "Switch")
            wire("s", "output", "sw", "data")
            wire("p", "output", "sw", "pred")
        if rng.random() < 0.5:
            add("t", "Const", val=rng.choice(["x", "\u00e9"]), dtype="string")
            add("j", "StringJoin", separator=rng.choice(["", "-"]))
            wire("s", "output", "j", "inputs")
            wire("t", "output", "j", "inputs")
    elif kind == "bool":
        add("a", "Const", val=rng.choice([True, [True, False], [], [[False]]]), dtype="bool")
        add("n", "LogicalNot")
        wire("a", "output", "n", "x")
        if rng.random() < 0.5:
            add("f", "Const", val=rng.choice(FLOATS))
            add("e", "Equal")
            wire("f", "output", "e", "x")
            wire("f", "output", "e", "y")
    elif kind == "complex":
        val = rng.choice(FLOATS)
        tout, part = rng.choice([("complex64", "float32"), ("complex128", "float64")])
        add("re", "Const", val=val, dtype=part)
        add("im", "Const", val=val, dtype=part)
        add("c", "Complex", Tout=tout)
        wire("re", "output", "c", "real")
        wire("im", "output", "c", "imag")
        if rng.random() < 0.5:
            add("neg", "Neg")
            wire("c", "out", "neg", "x")
    else:
        add("d", "Const", val=rng.choice([[0], [0, 3], [2, 0]]), dtype="int32")
        val, dtype = rng.choice([(1.0, "float32"), ("s", "string"), (True, "bool")])
        add("v", "Const", val=val, dtype=dtype)
        add("fill", "Fill")
        wire("d", "output", "fill", "dims")
        wire("v", "output", "fill", "value")
    return {"blocks": blocks, "links": links}


def kinds_of(values: dict) -> set[str]:
    out = set()
    for v in values.values():
        a = np.asarray(v)
        if a.size == 0:
            out.add("empty")
        out.add({"O": "string", "S": "string", "b": "bool", "c": "complex"}.get(a.dtype.kind, "number"))
    return out


@pytest.mark.parametrize("seed", range(2))
def test_random_typed_pages_reach_json_table_and_shared_memory(seed: int) -> None:
    rng = random.Random(seed)
    runner = Runner()
    seen: set[str] = set()
    try:
        for i in range(24):
            page = page_from_doc("typed.json", typed_doc(rng))
            report = runner.run(page, steps=1)
            assert report.errors == [], (i, [str(e) for e in report.errors])
            values = report.results.values
            seen |= kinds_of(values)
            doc = json.loads(json.dumps(results_json(values), allow_nan=False))  # JSON-safe
            text = format_results(page, values)
            for (b, p), v in values.items():
                back = tensor_from_json(doc[b][p])
                assert back is not None and back.shape == np.shape(v)
                assert p in text
            desc = shm.write_results(values, f"{shm.owner_prefix()}robust-{seed}-{i}")
            got, seg = shm.read_results(desc)
            for k, v in values.items():
                a = np.asarray(v)
                assert got[k].shape == a.shape and str(got[k].dtype) == str(a.dtype)
                if a.dtype.kind == "O":
                    assert got[k].tolist() == a.tolist()
                else:
                    np.testing.assert_array_equal(got[k], a)
            got.clear()
            if seg is not None:
                seg.release()
    finally:
        runner.close()
    assert {"string", "bool", "complex", "empty"} <= seen
