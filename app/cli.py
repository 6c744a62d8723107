"""The ``enuflow`` command: open the editor, run pages headless, list blocks, import and export.

A thin face over ``app.document.formats``, ``app.engine.builder`` and ``app.engine.runner``. Mistakes in a page or on the
command line print a message naming the file, block and port, and set the exit status (0 all ran,
1 a block failed, 2 the file could not be read); no Python traceback reaches the user for them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enuflow.app import __version__, bundled
from enuflow.app.document.formats import PageFileError
# results as JSON and text: one encoding shared with the worker and the editor (results over SUMMARY_LIMIT elements
# that the ClientSession does not fetch are summarised; fetched ones over JSON_FULL_LIMIT give their head)
from enuflow.app.document.tensors import JSON_FULL_LIMIT, SUMMARY_LIMIT, format_results, results_json
from enuflow.app.worker.limits import CONNECT_TIMEOUT_S, DEFAULT_LITERAL_LIMIT_MB, LITERAL_LIMIT_ENV, MEMORY_LIMIT_ENV

SUBCOMMANDS = ("run", "check", "blocks", "import", "export", "worker")

EPILOG = """\
commands:
  enuflow                      open the editor on the default page (headless run without a display)
  enuflow PAGE                 open the editor on PAGE (or a model: .pb, .pbtxt, SavedModel folder)
  enuflow run PAGE             run PAGE headless and print its results (see: enuflow run --help)
  enuflow run --scene NAME     run one of the example pages that ship with enuflow (e.g. xor)
  enuflow run PAGE --to B[,B]  run only what blocks B need (their inputs, and theirs, ...); nothing else runs
  enuflow run PAGE --epochs N  train in N epochs over the page's data.Dataset, each followed by a test pass
                               (--keep-best PATH, --save-weights PATH: the Variables as TF2 checkpoints)
  enuflow check PAGE           the dtype and static shape of every output, and every problem, without
                               running (see: enuflow check --help)
  enuflow blocks [NAME]        list the block types, or show one block's doc
  enuflow import PAGE -o OUT   convert an enuSpace page (.json/.svg) or a TensorFlow model (.pb, .pbtxt,
                               SavedModel folder) to enuflow's format
  enuflow export PAGE ...      export a page as Python, a GraphDef, a SavedModel, or a PNG/SVG picture
                               (of a page that trains: its inference part, x -> y; --weights CKPT)
  enuflow worker --cluster F --job NAME --task N
                               serve one task of a TensorFlow cluster (for run --cluster)

exit status: 0 every block ran; 1 the page loaded but a block failed to build or run;
2 the file could not be read as a page (or the command line was wrong: e.g. --to names no block of the page).
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enuflow`` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            return _subcommand(args)
        return _editor(args)
    except KeyboardInterrupt:
        print("enuflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a fault of enuflow itself, not of the user's page: say so, briefly
        if os.environ.get("ENUFLOW_DEBUG"):
            raise
        print(f"enuflow: internal error ({type(e).__name__}: {e}); set ENUFLOW_DEBUG=1 to see where, and please "
              "report it", file=sys.stderr)
        return 1


# -- the editor ---------------------------------------------------------------------------------

def _has_display() -> bool:
    """Whether a window can be shown: a Qt platform chosen by the user, a Wayland or X display that is
    there (a local X display whose socket is missing would make Qt abort), or Windows/macOS."""
    if os.environ.get("QT_QPA_PLATFORM", "") not in ("", "xcb", "wayland"):
        return True
    if sys.platform in ("win32", "darwin") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    display = os.environ.get("DISPLAY", "")
    if not display:
        return False
    host, _, rest = display.rpartition(":")
    if host in ("", "unix"):  # a local display: its socket must exist
        number = rest.split(".", 1)[0]
        return number.isdigit() and Path(f"/tmp/.X11-unix/X{number}").exists()
    return True


def _editor(args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="enuflow", description="A visual dataflow editor for TensorFlow.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    parser.add_argument("page", nargs="?", help="page to open (default: the SparseFillEmptyRowsGrad page)")
    parser.add_argument("--headless", action="store_true",
                        help="do not open a window: run the page and print its results")
    parser.add_argument("--version", action="version", version=f"enuflow {__version__}")
    ns = parser.parse_args(args)
    if ns.page:
        page = ns.page
    else:
        try:
            page = str(bundled.default_page())
        except bundled.UnknownScene as e:
            print(f"enuflow: the default page is missing from this installation ({e})", file=sys.stderr)
            return 2
    if ns.headless or not _has_display():
        if not ns.headless:
            print("enuflow: no display found; running the page headless instead of opening the editor.",
                  file=sys.stderr)
        return _run_headless(page)
    try:
        from enuflow.app.gui.main import run_editor
    except ImportError as e:
        print(f"enuflow: the editor is not available ({e}); running the page headless.", file=sys.stderr)
        return _run_headless(page)
    return run_editor(page)


def _run_headless(page: str) -> int:
    """Run ``page`` as ``enuflow run`` does; a TensorFlow model (GraphDef, SavedModel) is imported first, as the
    editor would open it (into a temporary page and data file), and that page runs."""
    ns = argparse.Namespace(page=page, steps=None, json=False, allow_io=False, data_dir=None, device="", target="",
                            cluster=None, save_results=None, timeout=None)
    from enuflow.app.engine.import_model import is_model

    if not is_model(page):
        return cmd_run(ns)
    import tempfile

    from enuflow.app.engine.import_model import import_model

    with tempfile.TemporaryDirectory(prefix="enuflow-model-") as folder:
        ns.page = str(Path(folder) / ((Path(page).stem or "model") + ".json"))
        try:
            imported = import_model(page, ns.page)
        except PageFileError as e:
            print(f"enuflow: {e}", file=sys.stderr)
            return 2
        for w in imported.extra.get("import_warnings", []) or []:
            print(f"warning: {w}", file=sys.stderr)
        print(f"enuflow: imported {page} ({len(imported)} blocks); running it", file=sys.stderr)
        return cmd_run(ns)


# -- sub-commands ---------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    """The ``enuflow`` command's parser: one sub-parser per sub-command."""
    parser = argparse.ArgumentParser(prog="enuflow", description="A visual dataflow editor for TensorFlow.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_check, _add_worker, _add_blocks, _add_import, _add_export):
        add(sub)
    return parser


def _add_run(sub: Any) -> None:
    """``enuflow run``'s arguments."""
    r = sub.add_parser("run", help="run a page headless and print its results",
                       description="Build and run PAGE (enuflow .json, or an enuSpace .json/.svg page), then "
                                   "print every fetched result as a table. Exit status 0 when every block "
                                   "ran, 1 when a block failed (the others' results are still printed), "
                                   "2 when the file could not be read as a page. The page runs in a worker "
                                   "process: an op that crashes or hangs (see --timeout) is an error on its "
                                   "block with exit 1, never a dead command; Ctrl+C stops after the current "
                                   "step, or ends the run within a second (exit 130).")
    r.add_argument("page", nargs="?", help="the page file")
    r.add_argument("--scene", metavar="NAME",
                   help="run the example page NAME that ships with enuflow instead of a file: "
                        + ", ".join(bundled.scene_names()))
    r.add_argument("--steps", type=int, default=None, metavar="N",
                   help="session runs (overrides the ClientSession's steps and INFINITE_LOOP; 0 runs until "
                        "stopped with Ctrl+C)")
    r.add_argument("--json", action="store_true",
                   help="print exactly one JSON object {ok, page, results, errors} on stdout; a result of more "
                        f"than {SUMMARY_LIMIT:,} elements that the ClientSession does not fetch (on a page without "
                        "one: every result) is {dtype, shape, summary: {min, max, mean, nan, inf}} instead of its "
                        f"value; a fetched one of more than {JSON_FULL_LIMIT:,} gives its first values in 'head' "
                        "and 'truncated': true")
    r.add_argument("--all", action="store_true", dest="whole",
                   help="write every result's value whole in --json (and in --save-results PAGE.json), "
                        "however large")
    r.add_argument("--allow-io", action="store_true",
                   help="allow blocks that read or write files or act on the process")
    r.add_argument("--data-dir", metavar="DIR",
                   help="the page's data folder: data files and checkpoints named by absolute Windows paths "
                        "(in imported enuSpace pages) are read and written there (overrides the page's own)")
    r.add_argument("--device", default="", metavar="D", help="device for the page's ops, e.g. /cpu:0")
    r.add_argument("--target", default="", metavar="grpc://host:port",
                   help="run on a TensorFlow cluster (a grpc session target)")
    r.add_argument("--cluster", metavar="CLUSTER.json",
                   help="run on a TensorFlow cluster: a cluster spec ({\"worker\": [\"host:port\", ...]}) or a "
                        "TF_CONFIG object; the first chief or worker task is the session target (unless --target), "
                        "blocks run on the task their device names (/job:worker/task:1), only the tasks the page "
                        "uses are waited for, and a task that is down is an error naming it and its blocks")
    r.add_argument("--save-results", metavar="DIR",
                   help="also write every result as DIR/BLOCK.PORT.npy (np.save without pickle; DIR is made if "
                        "missing; in BLOCK and PORT every character but ASCII letters, digits, _ - ~ is written "
                        "%%XX, its UTF-8 bytes: block d1/mm, port y is d1%%2Fmm.y.npy). A path ending in .json "
                        "saves the page with its results there instead (format v1; large results as in --json)")
    r.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop the run when building and running the page take longer than SECONDS (counted "
                        "once TensorFlow is loaded): it stops between steps, after a full last step, and reports "
                        "the steps done and every result with a 'timed out after N steps' error (exit 1). A step "
                        "that hangs is aborted SECONDS after it started (the results are those of the step "
                        "before); a worker that still has not ended is killed, and the error says the step hung. "
                        "Default: no limit for a local run; with --target, connecting gives up after "
                        f"{CONNECT_TIMEOUT_S:g} s; with --cluster, a task that stops answering is named with its "
                        "blocks within SECONDS (each session call is bounded by 120 s without it)")
    r.add_argument("--max-literal-mb", type=float, default=None, metavar="MB",
                   help="refuse a page whose typed-in tensor values (Const pins) take more than MB MiB in all, "
                        f"before building it (default {DEFAULT_LITERAL_LIMIT_MB}, or ${LITERAL_LIMIT_ENV})")
    r.add_argument("--max-memory-mb", type=float, default=None, metavar="MB",
                   help="let the worker process use at most MB MiB of memory more than it holds once TensorFlow is "
                        f"loaded (or ${MEMORY_LIMIT_ENV}); a page that needs more fails with an 'out of memory' "
                        "error naming the block, where it is known")
    r.add_argument("--feed", action="append", default=[], metavar="BLOCK=FILE.npy",
                   help="fill the Placeholder BLOCK with the array in FILE.npy: numbers, booleans, or text "
                        "for a string Placeholder (repeatable)")
    r.add_argument("--logdir", metavar="DIR",
                   help="write TensorBoard event files to DIR: every scalar result per step, and the graph")
    r.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="train in N epochs over the page's data.Dataset (overrides the ClientSession's epochs pin; "
                        "0 runs steps): each epoch runs every train.Minimize over the train split in batches, then "
                        "an evaluation pass over the test split (no update, Dropout off, BatchNorm on its moving "
                        "statistics). A line per epoch gives each loss and metric block's mean (weighted by batch "
                        "size) over both passes; the results are those of the last evaluation pass (a loss or "
                        "metric: its mean). --json adds \"epochs\": [{epoch, train, test, seconds}, ...]. "
                        "Ctrl+C stops after the current batch")
    r.add_argument("--keep-best", metavar="PATH",
                   help="with epochs: write the Variables of the best epoch (the first metric's highest test mean, "
                        "else the first loss's lowest) as a TensorFlow 2 checkpoint PATH (PATH.index and its data "
                        "file; tf.train.load_checkpoint(PATH) reads it, a Variable d1/kernel under the key "
                        "d1/kernel/.ATTRIBUTES/VARIABLE_VALUE)")
    r.add_argument("--save-weights", metavar="PATH",
                   help="write the Variables' values at the end of the run as a TensorFlow 2 checkpoint PATH "
                        "(as --keep-best; enuflow export --weights PATH reads it)")
    r.add_argument("--to", action="append", default=[], metavar="BLOCK[,BLOCK]",
                   help="run only these blocks and what they need (their inputs, and the inputs of those, ...): "
                        "nothing else is built or run, Variables and other stateful ops elsewhere included, and only "
                        "the blocks that run report results (and need --allow-io). A ClientSession's steps still "
                        "apply. BLOCK is a block id, a block inside a composite by its path (d1/mm), or a composite "
                        "instance (its exposed outputs). A name that is no block of the page exits with status 2")


def _add_check(sub: Any) -> None:
    """``enuflow check``'s arguments."""
    c = sub.add_parser("check", help="dtype and static shape of every output, and every problem, without running",
                       description="Build PAGE's graph without running it (in a worker process) and print the dtype "
                                   "and static shape TensorFlow infers for every block output (f32[?,784]: ? is a "
                                   "dimension TensorFlow cannot infer, [...] a shape of unknown rank), then the "
                                   "errors (type clashes naming both dtypes, shapes that cannot meet naming both "
                                   "shapes, and what enuflow run would refuse) and the warnings (a variable "
                                   "assigned and read in the same step with nothing ordering the two, an output "
                                   "nothing uses on a page with a ClientSession, a Placeholder without a value). "
                                   "Exit status 0 when there is no error, 1 when there is one (or, with --strict, a "
                                   "warning), 2 when the file could not be read as a page.")
    c.add_argument("page", help="the page file")
    c.add_argument("--json", action="store_true",
                   help='print exactly one JSON object {"ok", "page", "outputs": {BLOCK: {PORT: {"dtype", '
                        '"shape"}}}, "errors", "warnings"} on stdout (a shape is a list with null for an unknown '
                        'dimension, or null when its rank is unknown; a variable\'s reference adds "ref": true)')
    c.add_argument("--allow-io", action="store_true",
                   help="allow blocks that read or write files or act on the process (as enuflow run --allow-io)")
    c.add_argument("--data-dir", metavar="DIR", help="the page's data folder (as enuflow run --data-dir)")
    c.add_argument("--strict", action="store_true", help="warnings are problems too: exit status 1")


def _add_worker(sub: Any) -> None:
    """``enuflow worker``'s arguments."""
    w = sub.add_parser("worker", help="serve one task of a TensorFlow cluster",
                       description="Start the TensorFlow server of one task of a cluster and serve until Ctrl+C "
                                   "or SIGTERM. CLUSTER.json is a cluster spec ({\"worker\": [\"host:port\", ...], "
                                   "\"ps\": [...]}) or a TF_CONFIG object; without --cluster, the TF_CONFIG "
                                   "environment variable gives the cluster (and the task, when it names one). "
                                   "Prints one line when it listens. Exit status 2 for a cluster file or task "
                                   "that cannot be used, 1 when the server cannot start.")
    w.add_argument("--cluster", metavar="CLUSTER.json", help="the cluster spec or TF_CONFIG file")
    w.add_argument("--job", metavar="NAME", help="the task's job (worker, ps, chief, ...)")
    w.add_argument("--task", type=int, metavar="N", help="the task's index in its job (default 0)")


def _add_blocks(sub: Any) -> None:
    """``enuflow blocks``'s arguments."""
    b = sub.add_parser("blocks", help="list block types",
                       description="List block types (every TensorFlow op, and the hand-declared blocks) with "
                                   "category, ports, settable attrs and a one-line summary, or show one block's "
                                   "full doc, ports and attrs. Marks: [unavailable] cannot run here, [io] runs "
                                   "only with --allow-io, [dangerous] may crash or hang the process. An unknown "
                                   "NAME exits with status 2 and suggestions.")
    b.add_argument("name", nargs="?", help="show this block's full declaration and doc")
    b.add_argument("--category", metavar="C", help="only blocks of category C (math, nn, array_ops, ...)")
    b.add_argument("--search", metavar="TEXT",
                   help="only blocks whose name or doc contain every word of TEXT (name matches first)")
    b.add_argument("--json", action="store_true",
                   help="print JSON: a list of declarations, or one declaration with its doc")


def _add_import(sub: Any) -> None:
    """``enuflow import``'s arguments."""
    i = sub.add_parser("import", help="convert an enuSpace page or a TensorFlow model to enuflow's format",
                       description="Read an enuSpace page (.svg page, or .json task export), a frozen TensorFlow "
                                   "GraphDef (.pb binary, .pbtxt text) or a SavedModel folder, and write it in "
                                   "enuflow's page format v1. A model's large constants go to OUT's data file "
                                   "(NAME.npz beside NAME.json). A model is folded by its name scopes into "
                                   "nested composite blocks (its ops keep their names when the page is built); "
                                   "--flat writes one block per node instead.")
    i.add_argument("source", help="the enuSpace page, GraphDef file or SavedModel folder")
    i.add_argument("-o", "--output", required=True, help="the page file to write")
    i.add_argument("--data-dir", metavar="DIR",
                   help="look for the page's .dat and data files in DIR, and remember DIR as its data folder")
    i.add_argument("--signature", metavar="NAME", help="the SavedModel signature to import (default serving_default)")
    i.add_argument("--freeze", action="store_true", help="a SavedModel's variables become Consts, not Variables")
    i.add_argument("--flat", action="store_true",
                   help="a model's page has one block per node, not folded by name scope into composites")


def _add_export(sub: Any) -> None:
    """``enuflow export``'s arguments."""
    e = sub.add_parser("export", help="export a page as Python, a GraphDef or a picture",
                       description="Export PAGE in another form. Of a page that trains (one with a data.Dataset), "
                                   "--savedmodel and --python write its inference part: x -> y.")
    e.add_argument("page")
    g = e.add_mutually_exclusive_group(required=True)
    g.add_argument("--python", metavar="FILE",
                   help="a Python script that builds and runs the same graph; of a page that trains (one with a "
                        "data.Dataset): a script of its inference part, predict(x) -> y (as --savedmodel serves), "
                        "its weights in FILE_weights.npz beside it")
    g.add_argument("--graphdef", metavar="FILE", help="the TensorFlow GraphDef (binary protobuf; .pbtxt for text)")
    g.add_argument("--savedmodel", metavar="DIR",
                   help="a TensorFlow SavedModel: serving_default takes the Placeholders keyed by block id and "
                        "returns the fetched outputs keyed block.port; of a page that trains (one with a "
                        "data.Dataset), its inference part: serving_default takes x (a batch of the dataset's "
                        "features, [None, ...]) and returns y, the output wired into the first loss's logits or "
                        "prediction, with Dropout off and BatchNorm on its moving statistics")
    g.add_argument("--png", metavar="FILE", help="a picture of the page with its results")
    g.add_argument("--svg", metavar="FILE", help="a picture of the page with its results (SVG)")
    e.add_argument("--allow-io", action="store_true", help="allow IO blocks when building")
    e.add_argument("--weights", metavar="CKPT",
                   help="with --savedmodel or --python of a page that trains (one with a data.Dataset): the "
                        "Variables' values from the checkpoint CKPT (enuflow run --save-weights or --keep-best), "
                        "else their initial values")
    e.add_argument("--after-run", type=int, metavar="N",
                   help="with --savedmodel: save the Variables' values after running the page N steps "
                        "(default: their initial values)")


def _subcommand(args: list[str]) -> int:
    parser = _parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 2
    if ns.command == "run":
        return cmd_run(ns)
    if ns.command == "check":
        return cmd_check(ns)
    if ns.command == "blocks":
        return cmd_blocks(ns)
    if ns.command == "import":
        return cmd_import(ns)
    if ns.command == "worker":
        return cmd_worker(ns)
    return cmd_export(ns)


def _load(path: str, data_dir: str | None = None) -> Any:
    from enuflow.app.document.data_folder import set_data_folder
    from enuflow.app.document.formats import load

    page = load(path, data_dir=data_dir)
    if page.composites:  # an inner block of an unknown type is the file's fault, as a misspelt link end is
        from enuflow.app.document.composites import check_types
        from enuflow.blocks.base import REGISTRY

        check_types(path, page.composites, REGISTRY.get)
    if data_dir:
        set_data_folder(page, Path(data_dir).resolve())  # overrides the folder the page remembers
    return page


def cmd_run(ns: argparse.Namespace) -> int:
    """``enuflow run``: build and run a page in a worker process, print results; returns the exit status.

    The page runs in a child process (``app.worker``), so an op that aborts, segfaults or hangs ends in an
    error naming the blocks, never in a dead command without its JSON.
    """
    if getattr(ns, "scene", None):
        if ns.page:
            return _fail(ns, "give either PAGE or --scene NAME, not both", 2)
        try:
            ns.page = str(bundled.scene_path(ns.scene))
        except bundled.UnknownScene as e:
            return _fail(ns, str(e), 2)
    elif not ns.page:
        return _fail(ns, "name a page file, or --scene NAME (" + ", ".join(bundled.scene_names()) + ")", 2)
    from enuflow.app.engine.run_to import part
    from enuflow.app.worker.limits import check_literals, literal_limit_bytes

    timeout = getattr(ns, "timeout", None)
    if timeout is not None and not timeout > 0:
        return _fail(ns, "--timeout must be a positive number of seconds", 2)
    if ns.steps is not None and ns.steps < 0:
        return _fail(ns, "--steps must be 0 or more", 2)
    if getattr(ns, "epochs", None) is not None and ns.epochs < 0:
        return _fail(ns, "--epochs must be 0 (run steps) or more", 2)
    try:
        page = _load(ns.page, ns.data_dir)
    except PageFileError as e:
        return _fail(ns, str(e), 2)
    if getattr(ns, "feed", None):
        from enuflow.app.engine.feeds import apply_feeds

        problems = apply_feeds(page, ns.feed)
        if problems:
            return _fail(ns, "; ".join(str(p) for p in problems), 2, problems)
    to, problem = _run_to(ns, page)
    problem = problem or _check_save_dir(ns)
    if problem:
        return _fail(ns, problem, 2)
    mb = getattr(ns, "max_literal_mb", None)
    try:  # (of what runs: a run to some blocks leaves the others' values out)
        too_large = check_literals(part(page, to) if to else page, literal_limit_bytes(mb))
    except ValueError as e:
        return _fail(ns, str(e), 2)
    if too_large:  # refused before any TensorFlow is loaded
        return _report(ns, page, None, too_large)
    cluster = getattr(ns, "cluster", None) or ""
    if cluster:
        from enuflow.app.document.cluster import ClusterError, load_cluster

        try:
            load_cluster(cluster).default_task()
        except ClusterError as e:
            return _fail(ns, str(e), 2)

    from enuflow.app.document.formats.native import run_doc
    from enuflow.app.worker.headless import HeadlessRun

    memory = getattr(ns, "max_memory_mb", None)
    if memory is not None and not memory > 0:
        return _fail(ns, "--max-memory-mb must be a positive number of MiB", 2)
    worker = HeadlessRun(env={MEMORY_LIMIT_ENV: f"{memory:g}"} if memory is not None else None,
                         on_epoch=None if ns.json else _print_epoch)
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        worker.interrupt()  # (nothing printed here: the main thread may be inside a print to stderr)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        report = worker.run(run_doc(page), steps=ns.steps, allow_io=ns.allow_io,
                            target=getattr(ns, "target", "") or "", device=getattr(ns, "device", "") or "",
                            timeout=timeout, max_literal_mb=mb, logdir=getattr(ns, "logdir", None),
                            cluster=cluster, to=to, training=_training(ns))
        return _report(ns, page, report, report.errors)  # before close(): results are views of its memory
    finally:
        worker.close()
        signal.signal(signal.SIGINT, previous)


def _training(ns: argparse.Namespace) -> dict[str, Any]:
    """--epochs, --keep-best and --save-weights as the worker takes them (paths made absolute)."""
    out: dict[str, Any] = {}
    if getattr(ns, "epochs", None) is not None:
        out["epochs"] = ns.epochs
    for name in ("keep_best", "save_weights"):
        if getattr(ns, name, None):
            out[name] = str(Path(getattr(ns, name)).expanduser().resolve())
    return out


def _figures_text(figures: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v:.6g}" if isinstance(v, (int, float)) else f"{k} nan" for k, v in figures.items())


def epoch_line(epoch: int, epochs: int, train: dict[str, Any], test: dict[str, Any], seconds: float,
               best: bool = False) -> str:
    """A line of ``enuflow run --epochs``: ``epoch 2/5  train loss.loss 0.41  test loss.loss 0.39  (1.2 s)``."""
    parts = [f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"]
    if train:
        parts.append("train " + _figures_text(train))
    if test:
        parts.append("test " + _figures_text(test))
    return "  ".join(parts) + f"  ({seconds:.2f} s)" + ("  best" if best else "")


def _print_epoch(ev: Any) -> None:
    print(epoch_line(ev.epoch, ev.epochs_total, ev.train, ev.test, ev.seconds, ev.best), flush=True)


def _epochs_json(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-epoch figures for --json (a figure that is not a finite number is null)."""
    def num(v: Any) -> Any:
        return v if isinstance(v, (int, float)) and math.isfinite(v) else None
    return [{"epoch": int(e.get("epoch", 0)), "train": {k: num(v) for k, v in (e.get("train") or {}).items()},
             "test": {k: num(v) for k, v in (e.get("test") or {}).items()}, "seconds": num(e.get("seconds"))}
            for e in epochs]


def _run_to(ns: argparse.Namespace, page: Any) -> tuple[list[str] | None, str]:
    """--to's block names (None: run the whole page) and the problem with them ("" when none): a name that is no
    block, inner block nor composite instance of the page is a mistake on the command line."""
    given = getattr(ns, "to", None) or []
    if not given:
        return None, ""
    from enuflow.app.engine.run_to import missing_words, parse_names, unknown

    names = parse_names(given)
    if not names:
        return None, "--to names no block: give block ids, separated by commas"
    missing = unknown(page, names)
    if missing:
        return None, f"--to: {ns.page}: " + "; ".join(missing_words(page, n) for n in missing)
    return names, ""


def cmd_check(ns: argparse.Namespace) -> int:
    """``enuflow check``: static dtypes and shapes of every output and the page's problems, built in a worker
    process and never run; returns the exit status (0 no error, 1 errors, 2 not a page)."""
    try:
        page = _load(ns.page, ns.data_dir)
    except PageFileError as e:
        if ns.json:
            sys.stdout.write(json.dumps({"ok": False, "page": ns.page, "outputs": {}, "warnings": [],
                                         "errors": [{"block": e.block, "port": None, "message": str(e)}]}) + "\n")
        else:
            print(f"enuflow: {e}", file=sys.stderr)
        return 2
    from enuflow.app.document.formats.native import run_doc
    from enuflow.app.engine.flatten import display_order
    from enuflow.app.worker.headless import check_page

    found = check_page(run_doc(page), allow_io=ns.allow_io)
    order = [b.id for b in display_order(page)]
    outputs: dict[str, dict[str, Any]] = {b: {} for b in order}
    for (b, p), st in found.types.items():
        outputs.setdefault(b, {})[p] = st
    outputs = {b: ports for b, ports in outputs.items() if ports}
    errors = [_error_json(e) for e in found.errors]
    warnings = [_error_json(w) for w in found.warnings]
    status = 1 if errors or (ns.strict and warnings) else 0
    if ns.json:
        sys.stdout.write(json.dumps({"ok": status == 0, "page": ns.page, "outputs": outputs, "errors": errors,
                                     "warnings": warnings}) + "\n")
    else:
        print(_check_table(outputs))
        for e in errors:
            print(f"error: {_error_text(e)}")
        for w in warnings:
            print(f"warning: {_error_text(w)}")
        print(f"{len(errors)} error{'s' if len(errors) != 1 else ''}, {len(warnings)} "
              f"warning{'s' if len(warnings) != 1 else ''}")
    return status


def _check_table(outputs: dict[str, dict[str, Any]]) -> str:
    """The rows of ``enuflow check``: block, port, static type (``f32[?,784]``), aligned."""
    from enuflow.app.document.static_types import type_text

    rows = [("block", "port", "type")]
    rows += [(b, p, type_text(st["dtype"], st["shape"]) + (" (ref)" if st.get("ref") else ""))
             for b, ports in outputs.items() for p, st in ports.items()]
    if len(rows) == 1:
        return "(no outputs)"
    w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
    return "\n".join(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}".rstrip() for r in rows)


def _saves_page(ns: argparse.Namespace) -> bool:
    """--save-results names a page file (PAGE.json: the page with its results) rather than a folder of .npy."""
    to = getattr(ns, "save_results", None) or ""
    return to.lower().endswith(".json") and not Path(to).is_dir()


def _check_save_dir(ns: argparse.Namespace) -> str | None:
    """Make --save-results DIR before the run; the problem when it cannot be written, else None."""
    if not getattr(ns, "save_results", None) or _saves_page(ns):
        return None
    from enuflow.app.document.result_files import prepare_dir

    return prepare_dir(ns.save_results)


def _fetched(page: Any) -> set[tuple[str, str]]:
    """The (block, port) wired into a ClientSession's fetch_outputs (empty for a page without one)."""
    return {(ln.src, ln.src_port) for ln in page.links if ln.dst_port == "fetch_outputs"
            and (b := page.get(ln.dst)) is not None and b.type == "ClientSession"}


def _save_results(ns: argparse.Namespace, page: Any, values: dict[tuple[str, str], Any],
                  fetched: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """--save-results: every result as DIR/BLOCK.PORT.npy, or the page with its results; returns the errors."""
    if not _saves_page(ns):
        from enuflow.app.document.result_files import save_results

        return save_results(values, ns.save_results)
    from enuflow.app.document.formats import save

    page.results = results_json(values, fetched=fetched, whole=getattr(ns, "whole", False))
    try:
        save(page, ns.save_results)
    except PageFileError as e:
        return [{"block": None, "port": None, "message": str(e)}]
    return []


def _report(ns: argparse.Namespace, page: Any, report: Any, errors: list[dict[str, Any]]) -> int:
    """Print a run's results and errors (a table, or the JSON object); returns the exit status."""
    values = report.results if report is not None else {}
    fetched = _fetched(page)
    if getattr(ns, "save_results", None):
        errors = list(errors) + _save_results(ns, page, values, fetched)
    status = 1 if errors else 0
    if report is not None and report.interrupted:
        status = 130
    if ns.json:
        results = results_json(values, fetched=fetched, whole=getattr(ns, "whole", False))
        doc: dict[str, Any] = {"ok": not errors, "page": ns.page, "results": results,
                               "errors": [_error_json(e) for e in errors]}
        if getattr(ns, "to", None):
            from enuflow.app.engine.run_to import parse_names

            doc["to"] = parse_names(ns.to)  # what was asked for: the results are of the blocks that ran for it
        if report is not None:
            if report.stopped:
                doc["stopped"] = True
            if report.warnings:
                doc["warnings"] = [_error_json(w) for w in report.warnings]
            if report.crash is not None:
                doc["crash"] = report.crash
            if report.timeout is not None:
                doc["timeout"] = {k: report.timeout[k] for k in ("seconds", "while", "blocks") if k in report.timeout}
            doc["steps"] = report.steps_done
            if _in_epochs(ns, page, report):
                doc["epochs"] = _epochs_json(report.epochs)
        else:
            doc["steps"] = 0
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    else:
        _print_results(ns, page, report, values, fetched, errors)
        for w in report.warnings if report is not None else []:
            print(f"warning: {_error_text(w)}", file=sys.stderr)
        for e in errors:
            print(f"error: {_error_text(e)}", file=sys.stderr)
        if report is not None and report.crash is not None:
            print(f"(the worker's log is {report.crash['log']})", file=sys.stderr)
    return status


def _print_results(ns: argparse.Namespace, page: Any, report: Any, values: Any, fetched: Any,
                   errors: list[dict[str, Any]]) -> None:
    """The results table and the count of steps or epochs done; nothing when a run in epochs trained none for an
    error (its build failed, its first batch did): the errors alone say what happened."""
    from enuflow.app.engine.flatten import display_order

    in_epochs = _in_epochs(ns, page, report)
    if in_epochs and errors and not report.epochs and not report.stopped and not report.interrupted:
        return
    print(format_results(display_order(page), values, fetched=fetched))
    steps_done = report.steps_done if report is not None else 0
    stopped = " (stopped)" if report is not None and report.stopped else ""
    if in_epochs:
        print(f"\n{len(report.epochs)} epoch{'s' if len(report.epochs) != 1 else ''}{stopped}")
    elif steps_done != 1:
        print(f"\n{steps_done} steps{stopped}")


def _in_epochs(ns: argparse.Namespace, page: Any, report: Any) -> bool:
    """Whether a run is reported as one in epochs (an epoch count, the JSON's "epochs"): it trained epochs, or was
    asked to (``_epochs_asked``), even when an error stopped it before the first."""
    return report is not None and (bool(report.epochs) or _epochs_asked(ns, page))


def _epochs_asked(ns: argparse.Namespace, page: Any) -> bool:
    """Whether the run was to train in epochs: --epochs N above 0, else the ClientSession's epochs pin."""
    n = getattr(ns, "epochs", None)
    if n is None:
        n = next((b.pins.get("epochs", 0) for b in page if b.type == "ClientSession"), 0)
    try:
        return int(n) > 0
    except (TypeError, ValueError):
        return False


def _error_json(e: dict[str, Any]) -> dict[str, Any]:
    return {"block": e.get("block"), "port": e.get("port"), "message": str(e.get("message", ""))}


def _error_text(e: dict[str, Any]) -> str:
    """An error as the runner's ``BuildError`` prints it: "block 'x' port 'y': message"."""
    where = []
    if e.get("block") is not None:
        where.append(f"block '{e['block']}'")
    if e.get("port") is not None:
        where.append(f"port '{e['port']}'")
    return (", ".join(where) + ": " if where else "") + str(e.get("message", ""))


def _fail(ns: argparse.Namespace, message: str, status: int, errors: list[Any] | None = None) -> int:
    if getattr(ns, "json", False):
        listed = [e.to_json() for e in errors] if errors else [{"block": None, "port": None, "message": message}]
        sys.stdout.write(json.dumps({"ok": False, "page": getattr(ns, "page", None), "results": {},
                                     "errors": listed}) + "\n")
    else:
        print(f"enuflow: {message}", file=sys.stderr)
    return status


def cmd_blocks(ns: argparse.Namespace) -> int:
    """``enuflow blocks``: list block types and the library's composites (or show one)."""
    from enuflow.app.document.composite_files import library
    from enuflow.blocks import catalogue_index

    lib = library()
    for problem in lib.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return catalogue_index.cli(ns, [_composite_entry(c, lib.origin[n], lib.paths[n], lib.composites)
                                    for n, c in sorted(lib.composites.items())])


def _composite_entry(comp: Any, origin: str, path: Path, known: dict[str, Any]) -> dict[str, Any]:
    """A library composite as ``enuflow blocks`` lists it (the keys of its ``--json`` objects, its table row and
    the text of ``enuflow blocks NAME``); ``io`` when an inner block, at any depth (composites it uses looked up in
    ``known``), reads or writes files or acts beyond the process."""
    from enuflow.app.document.composite_files import io_blocks

    io = io_blocks(comp, known)
    summary = (comp.doc or "").split(". ")[0].strip()
    ins = ", ".join(p.name for p in comp.inputs)
    outs = ", ".join(p.name for p in comp.outputs)
    pins = ", ".join(p.name for p in comp.pins)
    row = (f"{comp.name}  (composite, {origin})" + ("  [io]" if io else "") + f"  {summary}\n    ({ins}) -> ({outs})"
           + (f"   pins: {pins}" if pins else ""))
    text = "\n".join([f"{comp.name}  (composite from the {origin} library: {path})", "", comp.doc or "", "",
                      "inputs:  " + (", ".join(f"{p.name} -> {', '.join(f'{b}.{q}' for b, q in p.to)}"
                                                for p in comp.inputs) or "none"),
                      "outputs: " + (", ".join(f"{p.name} <- {p.src[0]}.{p.src[1]}" for p in comp.outputs) or "none"),
                      "pins:    " + (", ".join(f"{p.name} = {p.block}.{p.pin}" for p in comp.pins) or "none"),
                      "blocks:  " + ", ".join(f"{b.id} ({b.type})" for b in comp.blocks)]
                     + ([f"io:      runs only with --allow-io: {', '.join(io)} may read or write files or act beyond "
                         "the process"] if io else []))
    return {"name": comp.name, "category": "composite", "summary": summary, "origin": origin, "io": bool(io),
            "dangerous": False, "unavailable": "", "inputs": [{"name": p.name} for p in comp.inputs],
            "outputs": [{"name": p.name} for p in comp.outputs],
            "attrs": [{"name": p.name, "default": comp.pin_default(p.name)} for p in comp.pins],
            "doc": comp.doc or "", "path": str(path), "row": row, "text": text}


def cmd_import(ns: argparse.Namespace) -> int:
    """``enuflow import``: read an enuSpace page and write it as format v1."""
    from enuflow.app.document.formats import save

    made = _missing_folders(Path(ns.output).parent)
    try:
        from enuflow.app.engine.import_model import import_model, is_model

        for folder in reversed(made):
            folder.mkdir()
        if is_model(ns.source):
            page = import_model(ns.source, ns.output, signature=ns.signature, freeze=ns.freeze, fold=not ns.flat)
        else:
            page = _load(ns.source, ns.data_dir)
            save(page, ns.output)
    except OSError as e:
        _remove_empty(made)
        print(f"enuflow: {e.filename or ns.output}: cannot be created ({e.strerror or e})", file=sys.stderr)
        return 2
    except PageFileError as e:
        _remove_empty(made)
        print(f"enuflow: {e}", file=sys.stderr)
        return 2
    if made:
        print(f"created folder {made[0]}", file=sys.stderr)
    for w in page.extra.get("import_warnings", []) if isinstance(page.extra.get("import_warnings"), list) else []:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {ns.output} ({len(page)} blocks, {len(page.links)} links)")
    return 0


def _missing_folders(folder: Path) -> list[Path]:
    """The folders from ``folder`` up that do not exist yet, innermost first (what ``-o`` must create)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Take back the folders an import made when it failed, innermost first, if nothing was written in them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def cmd_worker(ns: argparse.Namespace) -> int:
    """``enuflow worker``: serve one task of a TensorFlow cluster until Ctrl+C or SIGTERM."""
    from enuflow.app.document.cluster import ClusterError, cluster_from_env, load_cluster

    try:
        cluster = load_cluster(ns.cluster) if ns.cluster else cluster_from_env(dict(os.environ))
        if cluster is None:
            print("enuflow worker: give the cluster with --cluster CLUSTER.json (or set TF_CONFIG)", file=sys.stderr)
            return 2
        from enuflow.app.worker.task_server import check_task, exit_now, serve

        job, task = check_task(cluster, ns.job, ns.task)
    except ClusterError as e:
        print(f"enuflow worker: {e}", file=sys.stderr)
        return 2
    exit_now(serve(cluster, job, task))
    return 0  # pragma: no cover - exit_now does not return


def cmd_export(ns: argparse.Namespace) -> int:
    """``enuflow export``: write the page as a GraphDef, Python, or a picture."""
    try:
        page = _load(ns.page)
    except PageFileError as e:
        print(f"enuflow: {e}", file=sys.stderr)
        return 2
    if ns.graphdef:
        from enuflow.app.engine.builder import build

        built = build(page, allow_io=ns.allow_io)
        for e in built.errors:
            print(f"error: {e}", file=sys.stderr)
        gd = built.graph.as_graph_def()
        from enuflow.app.document.formats.native import write_atomic

        try:
            text = str(gd) if ns.graphdef.endswith((".pbtxt", ".txt")) else gd.SerializeToString()
            write_atomic(ns.graphdef, text)
        except PageFileError as e:
            print(f"enuflow: {e}", file=sys.stderr)
            return 2
        print(f"wrote {ns.graphdef} ({len(gd.node)} nodes)")
        return 1 if built.errors else 0
    if (ns.savedmodel or ns.python) and (ns.weights or _trains(page)):
        return _export_inference(ns, page)
    if ns.savedmodel:
        from enuflow.app.engine.export_savedmodel import export_savedmodel

        if ns.after_run is not None and ns.after_run < 1:
            print("enuflow: --after-run must be 1 or more", file=sys.stderr)
            return 2
        ins, outs, problems = export_savedmodel(page, ns.savedmodel, after_run=ns.after_run, allow_io=ns.allow_io)
        for e in problems:
            print(f"error: {e}", file=sys.stderr)
        if problems:
            return 1
        print(f"wrote {ns.savedmodel} (serving_default: inputs {', '.join(ins) or 'none'}; "
              f"outputs {', '.join(outs) or 'none'})")
        return 0
    if ns.python:
        from enuflow.app.engine.export_python import export_python

        return export_python(page, ns.python)
    try:
        from enuflow.app.gui.export import export_picture
    except ImportError as e:
        print(f"enuflow: pictures need the editor's Qt libraries ({e})", file=sys.stderr)
        return 2
    return export_picture(page, ns.png or ns.svg, "png" if ns.png else "svg")


def _trains(page: Any) -> bool:
    """Whether ``page`` has a data.Dataset (at any depth): its export is of its inference part."""
    from enuflow.app.engine.epochs import instance_types

    return "data.Dataset" in instance_types(page).values()


def _export_inference(ns: argparse.Namespace, page: Any) -> int:
    """``enuflow export PAGE --savedmodel DIR`` or ``--python FILE`` of a page that trains: its inference part."""
    from enuflow.app.engine.export_inference import export_inference, inference_python

    if ns.after_run is not None:
        print("enuflow: --after-run does not apply to a page that trains: give --weights CKPT "
              "(enuflow run --epochs N --save-weights CKPT)", file=sys.stderr)
        return 2
    if ns.weights and not Path(ns.weights + ".index").is_file():
        print(f"enuflow: --weights {ns.weights}: no checkpoint there ({ns.weights}.index is missing)", file=sys.stderr)
        return 2
    if ns.savedmodel:
        problems = export_inference(page, ns.savedmodel, weights=ns.weights, allow_io=ns.allow_io)
    else:
        problems = inference_python(page, ns.python, weights=ns.weights, source=ns.page, allow_io=ns.allow_io)
    for e in problems:
        print(f"error: {e}", file=sys.stderr)
    if problems:
        return 1
    print(f"wrote {ns.savedmodel or ns.python} (the inference part: x -> y"
          + (f", weights from {ns.weights})" if ns.weights else ", initial weights)"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
