"""Training enuSpace's ``mnistTrain_softmax10`` page for 1,000 steps, against the same graph by hand.

The page (``../shared/enuspace/mnist/mnistTrain_softmax10.svg``, or ``--page PATH``) is imported and run
for STEPS steps on synthetic MNIST files (separable digits in the real idx format, written to a temporary
data folder) the way ``enuflow run PAGE --allow-io --data-dir DIR`` runs it: through the command's worker
process (``HeadlessRun``: the child's runner with the ``on_step`` the worker passes), kept warm between runs
as the editor keeps its worker. The baseline builds the same graph by hand with ``tf.compat.v1`` in this
process: the two FIFOQueues of file names refilled when empty, the FixedLengthRecordReaderV2/ReaderReadUpToV2
readers, DecodeRaw, the reload counter with its Switches and Assigns, the softmax model with its hand-written
gradient and ApplyGradientDescent, and the gated Saves; its step is one compiled callable (the fastest
way TensorFlow offers to run a fixed fetch list repeatedly) fetching what the page's ClientSession asks
for and running its run targets. Nothing is folded: the readers, queues and Variables change every step.
The sides alternate in pairs after a warm-up pair (``bench/common.py``: each side's first run also builds or
makes its callables); the figure is the median of the pairs' ratios. The last line is
``ratio <page / hand-written>`` (target <= 1.2). A missing page fails.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np

from common import CliWorker, finish, paired, show, timed

from enuflow.app.cli import _load
from enuflow.app.document.formats.native import page_to_doc
from enuflow.blocks.tf import load as load_tf

STEPS = 1000
PAIRS = 8
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
    ap.add_argument("--pairs", type=int, default=PAIRS)
    ns = ap.parse_args()
    if not Path(ns.page).is_file():
        sys.exit(f"mnist_train: the page {ns.page} is not there (pass --page PATH)")
    tf = load_tf()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_data(folder)
        page = _load(ns.page, str(folder))  # what `enuflow run PAGE --data-dir DIR` loads
        consts = {b.id: b for b in page}
        w0 = np.asarray(consts["ID_1eHkzO1491"].pins["val"], np.float32).reshape(10, 784)
        img0 = np.asarray(consts["ID_1eI8tX51"].pins["val"], np.float32).reshape(10, 784)
        lab0 = np.asarray([float(x) for x in str(consts["ID_1eJ8Ph51"].pins["val"]).split(";") if x.strip()],
                          np.float32).reshape(10, 10)
        doc = page_to_doc(page)
        worker = CliWorker("mnist_train")
        sess, step, init = hand_written(tf, folder, w0, img0, lab0)
        costs = {}

        def run_page() -> None:
            rep = worker.run(doc, steps=ns.steps, allow_io=True)
            if rep.steps_done != ns.steps:
                sys.exit(f"mnist_train: the page ran {rep.steps_done} of {ns.steps} steps")
            costs["page"] = float(np.asarray(rep.results[("ID_1eJ8aC61", "output")]).reshape(-1)[0])

        def run_hand() -> None:
            sess.run(init)
            for _ in range(ns.steps):
                out = step()
            costs["hand"] = float(np.asarray(out[3]).reshape(-1)[0])

        try:
            res = paired(timed(run_page), timed(run_hand), pairs=ns.pairs)
        finally:
            worker.close()
            sess.close()
    print(f"steps  {ns.steps}  (last cost: enuflow {costs['page']:.4f}, hand-written {costs['hand']:.4f})")
    show(res, "enuflow run (CLI worker)", "hand-written tf callable")
    finish(res.ratio)


if __name__ == "__main__":
    main()
