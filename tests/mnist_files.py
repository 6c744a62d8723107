"""Small MNIST-format files and an enuSpace page shaped like enuSpace's MNIST softmax samples, for tests.

``write_mnist`` writes the idx files MNIST ships (``train-images.idx3-ubyte``: a 16-byte big-endian header
then one byte per pixel; ``train-labels.idx1-ubyte``: an 8-byte header then one byte per label).
``synthetic_digits`` makes separable ones: digit d lights its own band of 78 pixels.
``softmax_page`` writes, with ``fixtures_enuspace.EnuPage``, the construction of
``mnistTrain_softmax10.svg`` as enuSpace saved it: two FIFOQueues of file names refilled through
QueueSize/Equal/Switch/InputList/QueueEnqueue, FixedLengthRecordReaders and ReaderReadUpTo, DecodeRaw,
Cast, Div by 255, the reload counter (Variable, Add, Assign, Mod, Equal) whose Switches assign a batch
to the image and label Variables every ``reload_every`` steps, OneHot labels, softmax cross-entropy with
the hand-written gradient and ApplyGradientDescent, and Save of W and B (braced paths and names) after
``save_after`` reloads; initial W, image and label values in the page's ``.dat``, data files named by
absolute Windows paths.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from fixtures_enuspace import EnuPage, EnuPin, out_pin, write_utf16

IMAGES = "train-images.idx3-ubyte"
LABELS = "train-labels.idx1-ubyte"
WIN_DATA = "C:\\\\Users\\\\someone\\\\Desktop\\\\lesson5_x64\\\\picture\\\\dataset\\\\"
WIN_RESULT = "C:\\\\Users\\\\someone\\\\Desktop\\\\lesson5_x64\\\\picture\\\\train_result\\\\"


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` separable 28x28 "digits" (uint8 [n, 784]) and their labels (uint8 [n])."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 784)).astype(np.uint8)
    for i, d in enumerate(labels.tolist()):
        images[i, d * 78:(d + 1) * 78] = 255
    return images, labels


def write_mnist(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """The two idx files of MNIST, with these contents."""
    n = len(labels)
    (folder / IMAGES).write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.astype(np.uint8).tobytes())
    (folder / LABELS).write_bytes(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


def softmax_page(folder: Path, batch: int = 10, reload_every: int = 20, counter_start: int = 19,
                 save_after: int = 100, name: str = "mnist_softmax") -> Path:
    """Write the softmax page (and its ``.dat``) into ``folder``; returns the page's path."""
    pg = EnuPage()
    attrs_v = "container_ =;shared_name_ =;"
    assign = "validate_shape_ = true;use_locking_ = true;"
    for kind, record, header in (("IMG", 784, 16), ("LAB", 1, 8)):
        pg.block(f"Q_{kind}", "FIFOQueue", component_types="DT_STRING",
                 attrs="shapes_ = {};capacity_ = -1;container_ =;shared_name_ =;", handle=out_pin())
        pg.block(f"R_{kind}", "FixedLengthRecordReader", record_bytes=str(record),
                 attrs=f"header_bytes_ = {header};footer_bytes_ = 0;hop_bytes_ = 0;container_ =;shared_name_ =;",
                 reader_handle=out_pin())
        pg.block(f"RD_{kind}", "ReaderReadUpTo", reader_handle="", queue_handle="", num_records=str(batch),
                 keys=out_pin(), values=out_pin())
        pg.block(f"F_{kind}", "Const_ex", val=WIN_DATA + (IMAGES if kind == "IMG" else LABELS), dtype="DT_STRING",
                 output=out_pin())
        pg.block(f"SWF_{kind}", "Switch", data="", pred="")
        pg.block(f"IL_{kind}", "InputList", outputlist="")
        pg.block(f"ENQ_{kind}", "QueueEnqueue", handle="", components="", attrs="timeout_ms_ = -1;",
                 operation=out_pin())
        pg.link(f"R_{kind}", "reader_handle", f"RD_{kind}", "reader_handle")
        pg.link(f"Q_{kind}", "handle", f"RD_{kind}", "queue_handle")
        pg.link("EQ_EMPTY", "z", f"SWF_{kind}", "pred")
        pg.link(f"F_{kind}", "output", f"SWF_{kind}", "data")
        pg.link(f"SWF_{kind}", "output_true", f"IL_{kind}", "outputlist")
        pg.link(f"IL_{kind}", "output", f"ENQ_{kind}", "components")
        pg.link(f"Q_{kind}", "handle", f"ENQ_{kind}", "handle")
    pg.block("QS", "QueueSize", handle="", size=out_pin())
    pg.block("EQ_EMPTY", "Equal", x="", y="0")
    pg.link("Q_IMG", "handle", "QS", "handle")
    pg.link("QS", "size", "EQ_EMPTY", "x")
    # the reload counter: a batch is assigned when (counter + 1) % reload_every == 0
    pg.block("CNT", "Variable", attrs=attrs_v, shape="{}", dtype="DT_INT32", initvalues=str(counter_start))
    pg.block("INC", "Add", x="", y="1")
    pg.block("ASG_CNT", "Assign", ref="", value="", attrs=assign)
    pg.block("MOD", "Mod", x="", y=str(reload_every))
    pg.block("RELOAD", "Equal", x="", y="0")
    pg.block("OP_RELOAD", "Operation", operation="")
    for a, ap, b, bp in (("CNT", "ref", "INC", "x"), ("CNT", "ref", "ASG_CNT", "ref"), ("INC", "z", "ASG_CNT", "value"),
                         ("ASG_CNT", "output_ref", "MOD", "x"), ("MOD", "z", "RELOAD", "x"),
                         ("RELOAD", "z", "OP_RELOAD", "operation")):
        pg.link(a, ap, b, bp)
    # Variables initialised from the .dat: W [10][784], the image batch, the label batch; B inline
    img_pos, lab_pos = 31360, 31360 + batch * 784 * 4
    for bid, shape, pos in (("W", "[10][784]", 0), ("IMAGE", f"[{batch}][784]", img_pos),
                            ("LABELS", f"[{batch}][10]", lab_pos)):
        pg.block(f"{bid}_INIT", "Const_ex", val=EnuPin("", "float", shape, binary_pos=pos), dtype="DT_FLOAT",
                 output=out_pin())
        pg.block(bid, "Variable", attrs=attrs_v, shape="{" + shape[1:-1].replace("][", ",") + "}",
                 dtype="DT_FLOAT", initvalues="")
        pg.link(f"{bid}_INIT", "output", bid, "initvalues")
    pg.block("B_INIT", "Const_ex", val=(";".join(["0.000000"] * 10), "float", "[1][10]"), dtype="DT_FLOAT")
    pg.block("B", "Variable", attrs=attrs_v, shape="{1,10}", dtype="DT_FLOAT", initvalues="")
    pg.link("B_INIT", "output", "B", "initvalues")
    # images: DecodeRaw -> Cast -> /255 -> Switch(reload) -> Assign IMAGE
    pg.block("DEC_IMG", "DecodeRaw", bytes="", out_type="DT_UINT8", attrs="little_endian_ = true;")
    pg.block("CAST_IMG", "Cast", x="", DstT="DT_FLOAT")
    pg.block("DIV", "Div", x="", y="255.0f")
    pg.block("DEC_LAB", "DecodeRaw", bytes="", out_type="DT_UINT8", attrs="little_endian_ = true;")
    pg.block("ONEHOT", "OneHot", indices="", depth="10", on_value="1", off_value="0", attrs="axis_=-1")
    pg.block("RESHAPE", "Reshape", tensor="", shape="{%d,10}" % batch)
    pg.block("CAST_LAB", "Cast", x="", DstT="DT_FLOAT")
    for a, ap, b, bp in (("RD_IMG", "values", "DEC_IMG", "bytes"), ("DEC_IMG", "output", "CAST_IMG", "x"),
                         ("CAST_IMG", "y", "DIV", "x"), ("RD_LAB", "values", "DEC_LAB", "bytes"),
                         ("DEC_LAB", "output", "ONEHOT", "indices"), ("ONEHOT", "output", "RESHAPE", "tensor"),
                         ("RESHAPE", "output", "CAST_LAB", "x")):
        pg.link(a, ap, b, bp)
    for kind, var, src in (("IMG", "IMAGE", ("DIV", "z")), ("LAB", "LABELS", ("CAST_LAB", "y"))):
        pg.block(f"SW_{kind}", "Switch", data="", pred="")
        pg.block(f"ASG_{kind}", "Assign", ref="", value="", attrs=assign)
        pg.block(f"OP_{kind}", "Operation", operation="")
        pg.link(src[0], src[1], f"SW_{kind}", "data")
        pg.link("RELOAD", "z", f"SW_{kind}", "pred")
        pg.link(var, "ref", f"ASG_{kind}", "ref")
        pg.link(f"SW_{kind}", "output_true", f"ASG_{kind}", "value")
        pg.link(f"ASG_{kind}", "output_ref", f"OP_{kind}", "operation")
    # the model and its hand-written gradient
    pg.block("MM", "MatMul", a="", b="", attrs="transpose_a_ = false;transpose_b_ = true;")
    pg.block("LOGITS", "Add", x="", y="")
    pg.block("XENT", "SoftmaxCrossEntropyWithLogits", features="", labels="")
    pg.block("GRAD_W", "MatMul", a="", b="", attrs="transpose_a_ = true;transpose_b_ = false;")
    pg.block("ALPHA", "Const_ex", val="0.001000", dtype="DT_FLOAT")
    pg.block("GD_W", "ApplyGradientDescent", var="", alpha="", delta="", attrs="use_locking_ = false;")
    pg.block("MEAN_B", "Mean", input="", axis="0", attrs="keep_dims_ =true;")
    pg.block("GD_B", "ApplyGradientDescent", var="", alpha="", delta="", attrs="use_locking_ = false;")
    pg.block("SQ", "Square", x="")
    pg.block("COST", "Mean", input="", axis="0", attrs="keep_dims_ =true;")
    for a, ap, b, bp in (("IMAGE", "ref", "MM", "a"), ("W", "ref", "MM", "b"), ("MM", "product", "LOGITS", "x"),
                         ("B", "ref", "LOGITS", "y"), ("LOGITS", "z", "XENT", "features"),
                         ("LABELS", "ref", "XENT", "labels"), ("XENT", "backprop", "GRAD_W", "a"),
                         ("IMAGE", "ref", "GRAD_W", "b"), ("W", "ref", "GD_W", "var"), ("ALPHA", "output", "GD_W", "alpha"),
                         ("GRAD_W", "product", "GD_W", "delta"), ("XENT", "backprop", "MEAN_B", "input"),
                         ("B", "ref", "GD_B", "var"), ("ALPHA", "output", "GD_B", "alpha"),
                         ("MEAN_B", "output", "GD_B", "delta"), ("XENT", "loss", "SQ", "x"),
                         ("SQ", "y", "COST", "input")):
        pg.link(a, ap, b, bp)
    # Save W and B after save_after reloads
    pg.block("CNT2", "Variable", attrs=attrs_v, shape="{}", dtype="DT_INT32", initvalues="0")
    pg.block("INC2", "Add", x="", y="1")
    pg.block("SW_CNT2", "Switch", data="", pred="")
    pg.block("ASG_CNT2", "Assign", ref="", value="", attrs=assign)
    pg.block("EQ_SAVE", "Equal", x="", y=str(save_after))
    for a, ap, b, bp in (("CNT2", "ref", "INC2", "x"), ("INC2", "z", "SW_CNT2", "data"), ("RELOAD", "z", "SW_CNT2", "pred"),
                         ("CNT2", "ref", "ASG_CNT2", "ref"), ("SW_CNT2", "output_true", "ASG_CNT2", "value"),
                         ("ASG_CNT2", "output_ref", "EQ_SAVE", "x")):
        pg.link(a, ap, b, bp)
    for var in ("W", "B"):
        pg.block(f"SW_{var}", "Switch", data="", pred="")
        pg.block(f"IL_{var}", "InputList", outputlist="")
        pg.block(f"SAVE_{var}", "Save", filename="{" + WIN_RESULT + f"train{var}.t" + "}",
                 tensor_names="{" + var + "}", data="", operation=out_pin())
        pg.link(var, "ref", f"SW_{var}", "data")
        pg.link("EQ_SAVE", "z", f"SW_{var}", "pred")
        pg.link(f"SW_{var}", "output_true", f"IL_{var}", "outputlist")
        pg.link(f"IL_{var}", "output", f"SAVE_{var}", "data")
    pg.block("SESSION", "ClientSession", device="/cpu:0", fetch_outputs="", run_outputs="", inputs="",
             SHOW_DEBUG=("FALSE", "bool"), INFINITE_LOOP=("FALSE", "bool"))
    for src, port, pin in (("ENQ_IMG", "operation", "run_outputs"), ("ENQ_LAB", "operation", "run_outputs"),
                           ("OP_LAB", "output", "run_outputs"), ("OP_RELOAD", "output", "run_outputs"),
                           ("OP_IMG", "output", "run_outputs"), ("GD_B", "out", "fetch_outputs"),
                           ("SAVE_W", "operation", "run_outputs"), ("SAVE_B", "operation", "run_outputs"),
                           ("GD_W", "out", "fetch_outputs"), ("CNT2", "ref", "fetch_outputs"),
                           ("COST", "output", "fetch_outputs")):
        pg.link(src, port, "SESSION", pin)
    path = write_utf16(folder / f"{name}.svg", pg.svg(3))
    (folder / f"{name}.dat").write_bytes(np.zeros(10 * 784 + batch * 784 + batch * 10, "<f4").tobytes())
    return path
