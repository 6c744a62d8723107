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

The baseline is the fastest fair Keras 3 setup measured on this machine for the same work: a fresh
``keras.Sequential`` of the same two ``Dense`` layers (glorot_uniform kernels, zero biases), compiled with
``Adam(0.001)``, ``SparseCategoricalCrossentropy(from_logits=True)`` and the ``accuracy`` metric, then ``model.fit``
for 30 epochs with ``validation_data``: the same optimizer, batch size (32), epochs, train/test split (the rows
the page's ``data.Dataset`` takes for each, computed here by the same rule) and one evaluation pass over the test
split per epoch, as the page does. Keras runs graph-compiled (``tf.function``) and is fed as fast as it takes data:
a ``tf.data`` pipeline (shuffled anew each epoch, batched, prefetched), about 2.5x faster than handing ``fit``
numpy arrays here; ``steps_per_execution`` is one epoch's batches (faster than 1: several steps per call, the same
arithmetic); XLA (``jit_compile=True``) is off because it was slower at this size (1.4x to 4x). Building and
compiling the model are timed on the Keras side as building the graph is on enuflow's
(``keras.backend.clear_session()`` first, so that each run starts as fresh as the page's).

Pair i uses seed i on both sides (the page's Dense and Dataset ``seed`` pins; ``keras.utils.set_random_seed``),
so the accuracies compared are means over the same number of differently seeded runs (one run's test accuracy
moves by a point or so with the seed). The sides alternate in pairs after a warm-up pair (``bench/common.py``).
Prints both mean test accuracies (they must be within 1 point) and the time ratio; the last line is
``ratio <enuflow / Keras>`` (target <= 1.2).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np

from common import CliWorker, finish, paired, show, timed

PAGE = ROOT / "scenes" / "digits_mlp.json"
PAIRS = 7


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


Arrays = tuple[np.ndarray, np.ndarray]


def split(path: Path, fraction: float, seed: int) -> tuple[Arrays, Arrays]:
    """The train and test rows as ``data.Dataset`` takes them (blocks/training.py ``_splits``): a permutation
    seeded by ``seed``, its first ``round(n * fraction)`` rows for testing, the rest for training."""
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"].astype(np.float32), f["y"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * fraction))
    return (x[order[n_test:]], y[order[n_test:]]), (x[order[:n_test]], y[order[:n_test]])


def keras_run(keras, tf, s: dict, seed: int, data_seed: int) -> float:
    """Build, compile and fit the model for the page's epochs with seed ``seed``; its last test accuracy."""
    (x, y), (xt, yt) = split(s["file"], s["test_fraction"], data_seed)
    keras.backend.clear_session()  # each run a fresh model, without the state of the runs before
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(s["units"], activation="relu"),
                              keras.layers.Dense(int(max(y.max(), yt.max())) + 1)])
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    batch = s["batch_size"]
    model.compile(optimizer=optimizers[s["optimizer"]](s["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile=False, steps_per_execution=-(-len(x) // batch))
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    test = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(batch).prefetch(2)
    history = model.fit(train.batch(batch).prefetch(2), epochs=s["epochs"], validation_data=test, verbose=0,
                        shuffle=False)  # the dataset shuffles itself, anew each epoch
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
    from enuflow.app.document.formats import load
    from enuflow.app.document.formats.native import run_doc

    doc = run_doc(load(PAGE))  # what `enuflow run PAGE` sends its worker (with the page's folder, for the data)
    if ns.epochs:
        next(b for b in doc["blocks"] if b["id"] == "session")["pins"]["epochs"] = ns.epochs
    settings = page_settings(doc)
    data_index = next(i for i, b in enumerate(doc["blocks"]) if b["id"] == "data")
    import keras
    import tensorflow as tf

    worker = CliWorker("train_digits")
    accuracy: dict[str, list[float]] = {"enuflow": [], "keras": []}

    def ours() -> None:  # run i of each side uses seed i: the pairs' seeds match whichever side goes first
        i = len(accuracy["enuflow"]) + 1
        accuracy["enuflow"].append(enuflow_run(worker, seeded(doc, i), settings["epochs"]))

    def base() -> None:
        i = len(accuracy["keras"]) + 1
        accuracy["keras"].append(keras_run(keras, tf, settings, i, i * 10 + data_index))

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
