"""Training ``scenes/digits_mlp.json`` for 30 epochs in enuflow, against the same model in Keras (``model.fit``).

The page: ``data.Dataset`` (``scenes/data/digits.npz``, 1,797 8x8 digits; batches of 32, shuffled, a fifth held
out for testing) -> ``layers.Dense`` 64 relu -> ``layers.Dense`` 10 -> ``losses.SoftmaxCrossEntropy`` and
``metrics.Accuracy``, ``train.Minimize`` with Adam (learning rate 0.001); its ClientSession's ``epochs`` is 30:
30 training epochs, each followed by an evaluation pass over the test split.

enuflow's side runs the page as ``enuflow run scenes/digits_mlp.json`` does: through the command's worker process
(``HeadlessRun``: the child's runner, the epoch loop and its per-epoch and per-batch messages), kept warm between
runs as the editor keeps its worker, so neither side pays for starting Python or importing TensorFlow (the Keras
side runs in this process, TensorFlow imported once). Each enuflow run builds the page's graph, initialises its
Variables and dataset, and trains.

The baseline is the fastest fair Keras 3 setup found on this machine for the same work: a fresh
``keras.Sequential`` of the same two ``Dense`` layers (glorot_uniform kernels, zero biases), compiled with
``Adam(0.001)``, ``SparseCategoricalCrossentropy(from_logits=True)`` and the ``accuracy`` metric, then
``model.fit(x_train, y_train, batch_size=32, epochs=30, shuffle=True, validation_data=(x_test, y_test),
verbose=0)``: the same optimizer, batch size, epochs, train/test split (the rows the page's ``data.Dataset``
takes for each, computed here by the same rule) and one evaluation pass per epoch, as the page does. Keras runs
graph-compiled (``tf.function``); ``steps_per_execution`` is one epoch's batches (measured faster here than 1:
several steps in one call, the same arithmetic); XLA (``jit_compile=True``) is left off because it was slower
at this size (measured: about 2.5x). Model building and compiling are timed on the Keras side as graph building
is on enuflow's.

Pair i uses seed i on both sides (the page's Dense and Dataset ``seed`` pins; ``keras.utils.set_random_seed``),
so the accuracies compared are means over the same number of differently seeded runs (one run's test accuracy
moves by a point or so with the seed). The sides alternate in pairs after a warm-up pair (``bench/common.py``).
Prints both mean test accuracies (they must be within 1 point) and the time ratio; the last line is
``ratio <enuflow / Keras>`` (target <= 1.2).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np

from common import CliWorker, finish, paired, show, timed

PAGE = ROOT / "scenes" / "digits_mlp.json"
PAIRS = 5


def page_settings(doc: dict) -> dict:
    """What the Keras side copies from the page: epochs, batch size, learning rate, test fraction, data file."""
    pins = {b["id"]: b.get("pins", {}) for b in doc["blocks"]}
    return {"epochs": int(pins["session"]["epochs"]), "batch_size": int(pins["data"]["batch_size"]),
            "learning_rate": float(pins["train"]["learning_rate"]), "optimizer": pins["train"]["optimizer"],
            "test_fraction": float(pins["data"]["test_fraction"]),
            "file": PAGE.parent / pins["data"]["file"], "units": int(pins["dense1"]["units"])}


def seeded(doc: dict, seed: int) -> dict:
    """The page with every ``seed`` pin (the Dataset's shuffle and split, the layers' initialisers) set from
    ``seed``."""
    out = copy.deepcopy(doc)
    for i, b in enumerate(out["blocks"]):
        if "seed" in b.get("pins", {}):
            b["pins"]["seed"] = seed * 10 + i
    return out


def split(path: Path, fraction: float, seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The train and test rows as ``data.Dataset`` takes them (blocks/training.py ``_splits``): a permutation
    seeded by ``seed``, its first ``round(n * fraction)`` rows for testing, the rest for training."""
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"].astype(np.float32), f["y"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * fraction))
    return (x[order[n_test:]], y[order[n_test:]]), (x[order[:n_test]], y[order[:n_test]])


def keras_run(keras, s: dict, seed: int, data_seed: int) -> float:
    """Build, compile and fit the model for the page's epochs with seed ``seed``; its last test accuracy."""
    (x, y), (xt, yt) = split(s["file"], s["test_fraction"], data_seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(s["units"], activation="relu"),
                              keras.layers.Dense(int(max(y.max(), yt.max())) + 1)])
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    batches = -(-len(x) // s["batch_size"])
    model.compile(optimizer=optimizers[s["optimizer"]](s["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile=False, steps_per_execution=batches)
    history = model.fit(x, y, batch_size=s["batch_size"], epochs=s["epochs"], shuffle=True,
                        validation_data=(xt, yt), verbose=0)
    return float(history.history["val_accuracy"][-1])


def enuflow_run(worker: CliWorker, doc: dict, epochs: int) -> float:
    """Run the page (its ClientSession trains ``epochs`` epochs); the accuracy block's mean over the last test
    pass."""
    report = worker.run(doc)
    done = getattr(report, "epochs", None) or []
    if len(done) != epochs:
        sys.exit(f"train_digits: the page ran {len(done)} of {epochs} epochs")
    return float(np.asarray(report.results[("acc", "accuracy")]).reshape(-1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=PAIRS)
    ap.add_argument("--epochs", type=int, default=None, help="instead of the page's 30 (for a quick look)")
    ns = ap.parse_args()
    doc = json.loads(PAGE.read_text(encoding="utf-8"))
    if ns.epochs:
        next(b for b in doc["blocks"] if b["id"] == "session")["pins"]["epochs"] = ns.epochs
    settings = page_settings(doc)
    data_index = next(i for i, b in enumerate(doc["blocks"]) if b["id"] == "data")
    import keras

    worker = CliWorker("train_digits")
    accuracy: dict[str, list[float]] = {"enuflow": [], "keras": []}

    def ours() -> None:  # run i of each side uses seed i: the pairs' seeds match whichever side goes first
        i = len(accuracy["enuflow"]) + 1
        accuracy["enuflow"].append(enuflow_run(worker, seeded(doc, i), settings["epochs"]))

    def base() -> None:
        i = len(accuracy["keras"]) + 1
        accuracy["keras"].append(keras_run(keras, settings, i, i * 10 + data_index))

    try:
        res = paired(timed(ours), timed(base), pairs=ns.pairs)
    finally:
        worker.close()
    report(settings, accuracy, ns.pairs)
    show(res, "enuflow run (CLI worker)", "keras model.fit")
    finish(res.ratio)


def report(settings: dict, accuracy: dict[str, list[float]], pairs: int) -> None:
    """Print the mean test accuracy of each side over the timed pairs, and whether they are within 1 point."""
    means = {k: 100 * statistics.mean(v[-pairs:]) for k, v in accuracy.items()}
    gap = abs(means["enuflow"] - means["keras"])
    print(f"digits_mlp: {settings['epochs']} epochs, batch {settings['batch_size']}, {settings['optimizer']} "
          f"{settings['learning_rate']}")
    for k, v in accuracy.items():
        print(f"test accuracy {k:<8} mean {means[k]:.2f} %  (runs: {' '.join(f'{100 * a:.1f}' for a in v)})")
    print(f"accuracy gap {gap:.2f} points ({'within' if gap <= 1.0 else 'NOT within'} 1 point)")


if __name__ == "__main__":
    main()
