"""The training examples in scenes/ (digits_mlp, digits_cnn, regression, autoencoder) and their data (scenes/data).

Each page holds the standard library's composites as placing them does (``scenes/data/make_pages.py`` writes the
pages), loads, and trains with ``enuflow run --epochs`` to a figure set by something independent of enuflow:
the digits' known make-up, a numpy least-squares fit, the error of predicting the mean image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

SCENES = ROOT / "scenes"
DATA = SCENES / "data"
EXAMPLES = ("digits_mlp", "digits_cnn", "regression", "autoencoder")
#: images per digit 0..9 in the UCI test set that scikit-learn's load_digits ships (its documented make-up)
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def enuflow_run(*args: str, cwd: Path = ROOT, timeout: int = 300) -> dict:
    """``enuflow run ARGS --json`` as a person runs it (a subprocess); its JSON object."""
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "run", *args, "--json"], cwd=cwd,
                       capture_output=True, text=True, timeout=timeout, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout)


def arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA / name, allow_pickle=False) as f:
        assert sorted(f.files) == ["x", "y"]
        return f["x"], f["y"]


def split(x: np.ndarray, y: np.ndarray, seed: int, fraction: float = 0.2) -> tuple:
    """The rows data.Dataset tests on, and those it trains on (the rule its doc states: a permutation seeded by
    ``seed``, its first ``round(n * fraction)`` rows held out)."""
    order = np.random.default_rng(seed).permutation(len(x))
    n = int(round(len(x) * fraction))
    return (x[order[n:]], y[order[n:]]), (x[order[:n]], y[order[:n]])


def pins(page: str) -> dict[str, dict]:
    doc = json.loads((SCENES / f"{page}.json").read_text(encoding="utf-8"))
    return {b["id"]: b.get("pins", {}) for b in doc["blocks"]}


def test_digits_data_is_the_uci_set() -> None:
    x, y = arrays("digits.npz")
    assert x.dtype == np.float32 and x.shape == (1797, 64) and y.dtype == np.int64 and y.shape == (1797,)
    assert np.bincount(y).tolist() == DIGIT_COUNTS
    counts = x * 16  # the pixels are counts of 0..16 set bits in 4x4 blocks, scaled by 1/16
    assert np.array_equal(counts, np.round(counts)) and counts.min() == 0 and counts.max() == 16
    # the first image is a zero: its middle columns are empty in the middle rows, its ring is not
    first = counts[0].reshape(8, 8)
    assert y[0] == 0 and first[3:5, 3:5].sum() == 0 and first[1:7, 1].sum() + first[1:7, 6].sum() > 0


def test_regression_data_follows_its_formula() -> None:
    x, y = arrays("regression.npz")
    assert x.shape == (1000, 3) and y.shape == (1000, 1) and x.dtype == y.dtype == np.float32
    formula = np.sin(np.pi * x[:, 0]) + 0.5 * x[:, 1] ** 2 - 0.8 * x[:, 2]
    noise = y[:, 0] - formula
    assert abs(noise.mean()) < 0.01 and 0.04 < noise.std() < 0.06  # the documented noise: sd 0.05


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_holds_the_library_composites(name: str) -> None:
    """The page's composites are the standard library's definitions (a change to the library asks for
    ``python scenes/data/make_pages.py``), and the page loads."""
    from enuflow.app.document.composite_files import library
    from enuflow.app.document.composites import composite_to_doc
    from enuflow.app.document.formats import load

    page = load(SCENES / f"{name}.json")
    lib = library(user=Path("/nonexistent-user-composites")).composites
    assert page.composites, name
    for type_name, definition in page.composites.items():
        assert composite_to_doc(definition) == composite_to_doc(lib[type_name]), type_name
    assert {b.type for b in page if "." in b.type} <= set(page.composites)
    assert page.frames and page.notes


def figures(doc: dict, epochs: int) -> dict[str, float]:
    """The run's last test figures (``"acc.accuracy"``: mean over the test split), after checking the run trained
    ``epochs`` epochs and that the results are the last epoch's test means."""
    assert doc["ok"] is True and doc["errors"] == [], doc["errors"]
    assert [e["epoch"] for e in doc["epochs"]] == list(range(1, epochs + 1))
    test = doc["epochs"][-1]["test"]
    for key, value in test.items():
        block, port = key.split(".")
        assert doc["results"][block][port]["value"] == pytest.approx(value, rel=1e-6)
    return test


def test_digits_mlp_reaches_95_percent_and_exports_what_it_learnt(tmp_path: Path) -> None:
    """The page as it ships (its ClientSession's 30 epochs), run by name from another folder (its data is found
    beside it), reaches 95 %; its exported SavedModel, with the saved weights, classifies the test split (the rows
    by the Dataset's rule, numpy) as well as the run said."""
    epochs = int(pins("digits_mlp")["session"]["epochs"])
    assert epochs == 30
    weights = tmp_path / "weights"
    test = figures(enuflow_run("--scene", "digits_mlp", "--save-weights", str(weights), cwd=tmp_path), epochs)
    assert test["acc.accuracy"] >= 0.95
    assert test["loss.loss"] < 0.2
    r = subprocess.run([sys.executable, "-m", "enuflow.app.cli", "export", str(SCENES / "digits_mlp.json"),
                        "--savedmodel", str(tmp_path / "model"), "--weights", str(weights)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    from enuflow.blocks.tf import load as load_tf

    tf = load_tf()
    x, y = arrays("digits.npz")
    _, (xv, yv) = split(x, y, int(pins("digits_mlp")["data"]["seed"]))
    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    logits = serve(x=tf.constant(xv))["y"].numpy()
    assert logits.shape == (len(xv), 10)
    assert float(np.mean(logits.argmax(axis=1) == yv)) == pytest.approx(test["acc.accuracy"], abs=1e-6)


def test_digits_cnn_learns_the_digits() -> None:
    test = figures(enuflow_run(str(SCENES / "digits_cnn.json"), "--epochs", "5"), 5)
    assert test["acc.accuracy"] >= 0.9


def test_regression_beats_the_best_linear_fit() -> None:
    """The network's test error is well below that of the least-squares plane (numpy) on the same split: the
    function is not linear."""
    x, y = arrays("regression.npz")
    (xt, yt), (xv, yv) = split(x, y, int(pins("regression")["data"]["seed"]))
    design = np.hstack([xt, np.ones((len(xt), 1), np.float32)])
    coef, *_ = np.linalg.lstsq(design, yt, rcond=None)
    linear = float(np.mean((np.hstack([xv, np.ones((len(xv), 1), np.float32)]) @ coef - yv) ** 2))
    test = figures(enuflow_run(str(SCENES / "regression.json"), "--epochs", "20"), 20)
    assert test["mse.loss"] < 0.25 * linear


def test_autoencoder_beats_the_mean_image() -> None:
    """The reconstruction error on the test digits is well below that of drawing the train split's mean digit."""
    x, y = arrays("digits.npz")
    (xt, _), (xv, _) = split(x, y, int(pins("autoencoder")["data"]["seed"]))
    mean_image = float(np.mean((xv - xt.mean(axis=0)) ** 2))
    test = figures(enuflow_run(str(SCENES / "autoencoder.json"), "--epochs", "10"), 10)
    assert test["mse.loss"] < 0.5 * mean_image
