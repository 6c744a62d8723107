"""Random and broken pages never crash the engine: every problem comes back as an error value."""

from __future__ import annotations

import random

import pytest

from enuflow.app.engine.analysis import analyse
from enuflow.app.document.formats import PageFileError
from enuflow.app.document.formats.native import page_from_doc
from enuflow.app.engine.runner import Runner

TYPES = ["Const", "Placeholder", "ClientSession", "SparseFillEmptyRowsGrad", "SparseFillEmptyRows", "Add", "MatMul",
         "Range", "Split", "AddN", "ConcatV2", "Cast", "Mean", "Reshape", "Variable", "Assign", "ApplyGradientDescent",
         "InputList", "Output", "Operation", "AddSymbolicGradients", "Nope", "Fill", "OneHot", "Unpack"]
VALUES = [None, 0, 1, -1, 2.5, True, "", "abc", "1,2,3", "{{1,2},{3,4}}", "[2][2]", "DT_FLOAT", "float32", [1, 2],
          [[1], [2, 3]], {"a": 1}, [None], "TRUE", "[100000000][100000000]", "0.5f", "-1", "{1,2", "int64", "1;;2"]
PINS = ["val", "dtype", "shape", "value", "steps", "T", "axis", "num_split", "N", "transpose_a", "x", "y", "Tidx",
        "DstT", "initvalues", "index", "INFINITE_LOOP", "limit", "start", "delta", "depth", "num"]
PORTS = ["output", "z", "product", "d_values", "ref", "output[0]", "output[1]", "sum", "y", "reverse_index_map", "x",
         "a", "b", "inputs", "values", "grad_values", "fetch_outputs", "run_outputs", "initvalues", "value", "nope"]


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
    finally:
        runner.close()
    assert checked > 20 and ran > 5
