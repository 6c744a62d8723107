"""Writing ``blocks/op_classes.tsv``: a proposed class for every op TensorFlow registers, for a person to review.

Run ``python -m enuflow.blocks.op_classes_generate`` after installing a new TensorFlow. Rows already in the
table (reviewed) are kept as they are; an op the table lacks is added with the class ``unreviewed`` and the
class the rules below propose in its note (``proposed: file (attr 'filename')``). An unreviewed op counts as
``file`` (it runs only with ``--allow-io``), and ``tests/test_allowlist.py`` fails until a person has read
each new row, set its class and removed the proposal. Ops TensorFlow no longer registers are dropped.

``--accept-proposals`` writes the proposed classes as they are (how the first table was made, before its
review). The rules only sort ops for the reviewer; the table is what counts. They look, in this order, at:
the io list the catalogue used to keep, function attrs (carries a graph), names of network/process ops
(host), words naming files in the op's name, inputs and attrs (file), ``is_stateful`` and ref or resource
inputs (state).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from enuflow.blocks import op_classes

#: ops the catalogue's former io list named (reviewed then): the process and network ops among them
_WERE_HOST = {"Abort", "PyFunc", "PyFuncStateless", "EagerPyFunc", "DataServiceDataset", "DataServiceDatasetV2",
              "DataServiceDatasetV3", "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2"}
_WERE_FILE = {
    "ReadFile", "WriteFile", "MatchingFiles", "FileSystemSetConfiguration", "ImmutableConst", "RecordInput",
    "Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2", "MergeV2Checkpoints",
    "LoadAndRemapMatrix", "GenerateVocabRemapping", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
    "ImportEvent", "StatsAggregatorSetSummaryWriter", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "FixedUnigramCandidateSampler", "DecodeProtoV2", "EncodeProto", "PrintV2",
}
_HOST_NAME = re.compile(r"Collective|Nccl|_?Send|_?Recv|Rpc|DataService|Remote|Gcs|TPU|Tpu|Infeed|Outfeed|"
                        r"Host|Distributed|Coordination|PyFunc|Abort")
_FILE_WORD = re.compile(r"file|path|pattern|prefix|dir(?:ectory)?$|url|reader|writer|checkpoint|logdir|"
                        r"shard_func|descriptor|snapshot|debug_urls|debug_ops_spec", re.IGNORECASE)
_RESOURCE = 20  # DataType DT_RESOURCE
_FILE_NAME = re.compile(r"Reader|Writer|File|Record|Save|Restore|Checkpoint|Snapshot|Summary|Debug|LMDB|Sql|"
                        r"CSV|TextLine|Load")


def all_op_defs() -> dict[str, Any]:
    """Every OpDef TensorFlow registers (``tf.raw_ops`` and the internal ``_`` ops), by name."""
    from enuflow.blocks.tf import load

    load()
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    buf = c_api.TF_GetAllOpList()
    try:
        ops = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(buf))
    finally:
        c_api.TF_DeleteBuffer(buf)
    return {o.name: o for o in ops.op}


def propose(op_def: Any) -> tuple[str, str]:
    """(class, why) the rules give an op, from its OpDef."""
    name = op_def.name
    if name in _WERE_HOST:
        return "host", "in the former io list"
    if name in _WERE_FILE:
        return "file", "in the former io list"
    funcs = [a.name for a in op_def.attr if a.type in ("func", "list(func)")]
    if funcs:
        return "graph", f"function attrs {', '.join(funcs)}"
    if _HOST_NAME.search(name):
        return "host", "its name"
    words = [a.name for a in op_def.attr] + [a.name for a in op_def.input_arg]
    hits = [w for w in words if _FILE_WORD.search(w)]
    if hits:
        return "file", f"names {', '.join(hits)}"
    if _FILE_NAME.search(name):
        return "file", "its name"
    if op_def.is_stateful:
        return "state", "stateful"
    if any(a.is_ref or a.type == _RESOURCE for a in op_def.input_arg):
        return "state", "takes a ref or resource"
    return "compute", ""


def table_rows(op_defs: dict[str, Any], reviewed: dict[str, tuple[str, str]],
               accept: bool) -> list[tuple[str, str, str]]:
    """The table's rows: reviewed ones kept, new ones proposed (as ``unreviewed`` unless ``accept``)."""
    rows = []
    for name in sorted(op_defs):
        if name in reviewed:
            rows.append((name, *reviewed[name]))
            continue
        cls, why = propose(op_defs[name])
        if accept:
            rows.append((name, cls, why))
        else:
            rows.append((name, op_classes.UNREVIEWED, f"proposed: {cls}" + (f" ({why})" if why else "")))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m enuflow.blocks.op_classes_generate",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--accept-proposals", action="store_true", help="write the rules' classes as reviewed")
    ap.add_argument("--output", type=Path, default=op_classes.TABLE_PATH)
    ns = ap.parse_args(argv)
    reviewed = op_classes.read_table(ns.output) if ns.output.exists() else {}
    op_defs = all_op_defs()
    rows = table_rows(op_defs, reviewed, ns.accept_proposals)
    gone = sorted(set(reviewed) - set(op_defs))
    op_classes.write_table(ns.output, rows)
    new = sum(1 for r in rows if r[1] == op_classes.UNREVIEWED)
    print(f"{len(rows)} ops written to {ns.output}; {new} to review; {len(gone)} dropped: {', '.join(gone)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
