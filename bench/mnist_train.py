"""Training enuSpace's ``mnistTrain_softmax10`` page for 1,000 steps, against the same graph by hand.

The page (``../shared/enuspace/mnist/mnistTrain_softmax10.svg``, or ``--page PATH``) is imported and run
for STEPS steps on synthetic MNIST files (separable digits in the real idx format, written to a temporary
data folder). The baseline builds the same graph by hand with ``tf.compat.v1`` in the same process: the
two FIFOQueues of file names refilled when empty, the FixedLengthRecordReaderV2/ReaderReadUpToV2 readers,
DecodeRaw, the reload counter with its Switches and Assigns, the softmax model with its hand-written
gradient and ApplyGradientDescent, and the gated Saves; its step is one compiled callable (the fastest
way TensorFlow offers to run a fixed fetch list repeatedly) fetching what the page's ClientSession asks
for and running its run targets. Each side runs the 1,000 steps REPEATS times, alternating. The first pair
is a warm-up (each side's first run also builds or makes its callables). Each later pair runs back to back, so
both of its runs meet the machine in the same state; the median of their ratios is the figure. (A step is a
fraction of a millisecond, and on a shared VM the same run's time varies by a factor of two from one moment to
the next: the fastest run of each side, also printed, can pair a quiet moment of one side with a busy one of
the other.) The last line is ``ratio <page / hand-written>`` (target <= 1.2). A missing page fails.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

from enuflow.app.document.formats import load
from enuflow.app.engine.runner import Runner
from enuflow.blocks.tf import load as load_tf

STEPS = 1000
REPEATS = 9
RECORDS = 6000  # whole batches; the readers go round the files as the page's refill logic asks


def write_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, RECORDS).astype(np.uint8)
    images = rng.integers(0, 40, (RECORDS, 784)).astype(np.uint8)
    for i, d in enumerate(labels.tolist()):
        images[i, d * 78:(d + 1) * 78] = 255
    (folder / "train-images.idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, RECORDS, 28, 28) + images.tobytes())
    (folder / "train-labels.idx1-ubyte").write_bytes(struct.pack(">II", 2049, RECORDS) + labels.tobytes())


def hand_written(tf, folder: Path, w0: np.ndarray, img0: np.ndarray, lab0: np.ndarray):
    """The page's graph written by hand; returns (session, step callable, init op)."""
    raw = tf.raw_ops
    g = tf.Graph()
    with g.as_default():
        def reader(record: int, header: int, name: str):
            q = raw.FIFOQueueV2(component_types=[tf.string], shapes=[], capacity=-1)
            r = raw.FixedLengthRecordReaderV2(record_bytes=record, header_bytes=header)
            empty = tf.equal(raw.QueueSizeV2(handle=q), 0) if name == "images" else None
            return q, r, empty

        q_img, r_img, empty = reader(784, 16, "images")
        q_lab, r_lab, _ = reader(1, 8, "labels")
        targets = []
        for q, fname in ((q_img, "train-images.idx3-ubyte"), (q_lab, "train-labels.idx1-ubyte")):
            _, take = raw.Switch(data=tf.constant(str(folder / fname)), pred=empty)
            targets.append(raw.QueueEnqueueV2(handle=q, components=[take]))
        _, img_bytes = raw.ReaderReadUpToV2(reader_handle=r_img, queue_handle=q_img, num_records=10)
        _, lab_bytes = raw.ReaderReadUpToV2(reader_handle=r_lab, queue_handle=q_lab, num_records=10)

        def variable(value):
            v = tf.compat.v1.Variable(value, use_resource=False)
            return v

        counter = variable(np.int32(9))
        count = tf.compat.v1.assign(counter, counter + 1)
        reload = tf.equal(tf.math.floormod(count, 20), 0)
        targets.append(reload.op)
        w, b = variable(w0), variable(np.zeros((1, 10), np.float32))
        image, label = variable(img0), variable(lab0)
        pixels = tf.cast(raw.DecodeRaw(bytes=img_bytes, out_type=tf.uint8), tf.float32) / 255.0
        _, new_img = raw.Switch(data=pixels, pred=reload)
        targets.append(tf.compat.v1.assign(image, new_img).op)
        digits = raw.DecodeRaw(bytes=lab_bytes, out_type=tf.uint8)
        onehot = tf.cast(tf.reshape(tf.one_hot(digits, 10, 1, 0, axis=-1, dtype=tf.int32), [10, 10]), tf.float32)
        _, new_lab = raw.Switch(data=onehot, pred=reload)
        targets.append(tf.compat.v1.assign(label, new_lab).op)
        logits = tf.matmul(image, w, transpose_b=True) + b
        loss, backprop = raw.SoftmaxCrossEntropyWithLogits(features=logits, labels=label)
        alpha = tf.constant(0.001, tf.float32)
        gd_w = raw.ApplyGradientDescent(var=w._variable, alpha=alpha, delta=tf.matmul(backprop, image,
                                                                                        transpose_a=True))
        gd_b = raw.ApplyGradientDescent(var=b._variable, alpha=alpha,
                                        delta=tf.reduce_mean(backprop, axis=0, keepdims=True))
        cost = tf.reduce_mean(tf.square(loss), axis=0, keepdims=True)
        saves = variable(np.int32(0))
        _, inc = raw.Switch(data=saves + 1, pred=reload)
        save_now = tf.equal(tf.compat.v1.assign(saves, inc), 100)
        for var, name in ((w, "W"), (b, "B")):
            _, val = raw.Switch(data=var, pred=save_now)
            targets.append(raw.Save(filename=str(folder / f"train{name}.t"), tensor_names=[name], data=[val]))
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=g)
    step = sess.make_callable([gd_b, gd_w, saves._variable, cost] + targets)
    return sess, step, init


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--page", default=str(ROOT.parent / "shared" / "enuspace" / "mnist" / "mnistTrain_softmax10.svg"))
    ap.add_argument("--steps", type=int, default=STEPS)
    ns = ap.parse_args()
    if not Path(ns.page).is_file():
        sys.exit(f"mnist_train: the page {ns.page} is not there (pass --page PATH)")
    tf = load_tf()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_data(folder)
        page = load(ns.page, data_dir=folder)
        consts = {b.id: b for b in page}
        w0 = np.asarray(consts["ID_1eHkzO1491"].pins["val"], np.float32).reshape(10, 784)
        img0 = np.asarray(consts["ID_1eI8tX51"].pins["val"], np.float32).reshape(10, 784)
        lab0 = np.asarray([float(x) for x in str(consts["ID_1eJ8Ph51"].pins["val"]).split(";") if x.strip()],
                          np.float32).reshape(10, 10)
        runner = Runner()
        sess, step, init = hand_written(tf, folder, w0, img0, lab0)

        def run_page() -> tuple[float, float]:
            t = time.perf_counter()
            rep = runner.run(page, steps=ns.steps, allow_io=True)
            dt = time.perf_counter() - t
            if rep.errors or rep.steps_done != ns.steps:
                sys.exit(f"mnist_train: the page failed: {[str(e) for e in rep.errors]}")
            return dt, float(rep.results.get("ID_1eJ8aC61", "output").reshape(-1)[0])

        def run_hand() -> tuple[float, float]:
            t = time.perf_counter()
            sess.run(init)
            for _ in range(ns.steps):
                out = step()
            return time.perf_counter() - t, float(np.asarray(out[3]).reshape(-1)[0])

        t_page, t_hand = [], []
        for _ in range(REPEATS):
            dt, cost_page = run_page()
            t_page.append(dt)
            dt, cost_hand = run_hand()
            t_hand.append(dt)
        runner.close()
        sess.close()
    print(f"steps               {ns.steps}  (each side {REPEATS} times, alternating)")
    print("enuflow runs        " + " ".join(f"{t:.3f}" for t in t_page))
    print("hand-written runs   " + " ".join(f"{t:.3f}" for t in t_hand))
    paired = sorted(p / h for p, h in zip(t_page[1:], t_hand[1:]))
    print(f"enuflow page        {statistics.median(t_page[1:]):.3f} s median, {min(t_page):.3f} s fastest  "
          f"(last cost {cost_page:.4f})")
    print(f"hand-written tf     {statistics.median(t_hand[1:]):.3f} s median, {min(t_hand):.3f} s fastest  "
          f"(last cost {cost_hand:.4f})")
    print(f"fastest / fastest   {min(t_page) / min(t_hand):.3f}")
    print("paired ratios       " + " ".join(f"{r:.2f}" for r in paired))
    print(f"ratio {statistics.median(paired):.3f}")


if __name__ == "__main__":
    main()
