"""The allowlist: the reviewed class of every TensorFlow op, and checking a graph's ops against it.

``op_classes.tsv`` (beside this module) gives each op type TensorFlow registers one class, read by a person:

- ``compute``: a pure function of its inputs;
- ``state``: keeps state in the process's memory (Variables, queues, TensorArrays, iterators, random seeds);
- ``file``: may read or write files (paths, patterns, prefixes, readers, writers, summaries, checkpoints);
- ``host``: acts beyond the process's memory otherwise (network, other tasks or devices, the process itself);
- ``graph``: runs a graph it carries (function attrs such as While's ``body``, a serialized graph): it is as
  safe as the ops of that graph, checked by ``graph_finding``.

An op not in the table (``unknown``) or not reviewed yet (``unreviewed``, written by
``op_classes_generate`` for a new TensorFlow's ops) counts as ``file``. ``file`` and ``host`` ops run only when
the user allows it (``enuflow run --allow-io``, or a yes in the editor). Reads no TensorFlow: the table is data,
and ``graph_finding`` reads GraphDef messages through their field names (TensorFlow's own, or those of
``app.document.formats.graphdef``).
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enuflow.blocks import atomic

CLASSES = ("compute", "state", "file", "host", "graph")
UNREVIEWED = "unreviewed"
#: the classes that need ``--allow-io``
NEEDS_IO = frozenset({"file", "host"})
#: "graph" ops whose graph comes from an input at run time, not from a function attr (checked by the page)
GRAPH_FROM_INPUT = {"DatasetFromGraph": "graph_def"}

TABLE_NAME = "op_classes.tsv"
TABLE_PATH = Path(__file__).with_name(TABLE_NAME)
_HEADER = """\
# The allowlist of TensorFlow ops: one op per line, its class, and why (blocks/op_classes.py says what the
# classes mean). Generated from the OpDefs by `python -m enuflow.blocks.op_classes_generate`, then reviewed
# by a person; an op missing here, or marked unreviewed, counts as file (runs only with --allow-io).
# "why" gives the generator's rule that proposed the class, or "reviewed: ..." where the review set another.
# op\tclass\twhy
"""


def read_table(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """{op: (class, why)} from the table file (default: the one shipped with the package)."""
    if path is None:
        text = importlib.resources.files(__package__).joinpath(TABLE_NAME).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    out: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, rest = line.partition("\t")
        cls, _, why = rest.partition("\t")
        out[name.strip()] = (cls.strip(), why.strip())
    return out


def write_table(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Write the table atomically (a temporary file in the same folder, then rename)."""
    atomic.write_text(path, _HEADER + "".join(f"{n}\t{c}\t{w}".rstrip("\t") + "\n" for n, c, w in rows))


@functools.cache
def table() -> dict[str, str]:
    """{op: class} of the shipped table (unreviewed rows left out: they count as file)."""
    return {name: cls for name, (cls, _) in read_table().items() if cls in CLASSES}


def op_class(op_type: str) -> str:
    """The reviewed class of ``op_type``; ``file`` for an op the table does not know or has not reviewed."""
    return table().get(op_type, "file")


def needs_io(op_type: str) -> bool:
    """Whether ``op_type`` runs only with ``--allow-io`` (a file or host op, or one not reviewed)."""
    return op_class(op_type) in NEEDS_IO


# -- the ops of a graph --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """An op of a carried graph that needs ``--allow-io``: which node, of which op, where, and why."""

    node: str
    op: str
    #: "file", "host", or "graph" (a graph that cannot be checked: a function not in the library, a graph
    #: made at run time)
    cls: str
    #: the library function the node belongs to ("" for the graph's own nodes)
    function: str = ""
    #: a function a node calls that the library lacks
    missing: str = ""

    def describe(self) -> str:
        """``node 'r', ReadFile, in function 'inner'`` for a message."""
        where = f", in function '{self.function}'" if self.function else ""
        what = f", which calls '{self.missing}', not in the graph's library" if self.missing else ""
        return f"node '{self.node}', {self.op}{where}{what}"

    def verb(self) -> str:
        """What the graph does, for a message: "reads or writes files", ..."""
        if self.cls == "host":
            return "uses the network or acts on the process"
        if self.cls == "graph":
            return "runs a graph that cannot be checked before running"
        return "reads or writes files"


def function_names(attr_value: Any) -> list[str]:
    """The function names an AttrValue holds (``func``, ``list(func)``, and those nested in their attrs)."""
    which = attr_value.WhichOneof("value")
    if which == "func":
        funcs = [attr_value.func]
    elif which == "list":
        funcs = list(attr_value.list.func)
    else:
        return []
    out: list[str] = []
    for f in funcs:
        out.append(f.name)
        for inner in f.attr.values():
            out.extend(function_names(inner))
    return out


def node_finding(node: Any, library: set[str] | dict[str, Any], function: str = "") -> Finding | None:
    """Why ``node`` (a NodeDef) needs ``--allow-io``, or None. A call of a function of ``library`` passes (the
    library's functions are checked on their own); a function it names outside the library counts as file."""
    op = node.op
    if op in library and op not in table():  # a function (TensorFlow refuses one named as an op)
        return None
    cls = op_class(op)
    if cls in NEEDS_IO:
        return Finding(node.name, op, cls, function)
    if op in GRAPH_FROM_INPUT:  # its graph comes from a tensor computed at run time
        return Finding(node.name, op, "graph", function)
    for av in node.attr.values():
        for name in function_names(av):
            if (name not in library or name in table()) and op_class(name) not in ("compute", "state"):
                return Finding(node.name, op, "file", function, missing=name)
    return None


def graph_finding(graph_def: Any) -> Finding | None:
    """The first op of ``graph_def`` or of its function library (every function, whether called or not) that
    needs ``--allow-io``; None when every node passes."""
    functions = list(graph_def.library.function) if graph_def.HasField("library") else []
    names = {f.signature.name for f in functions}
    for node in graph_def.node:
        found = node_finding(node, names)
        if found is not None:
            return found
    for f in functions:
        for node in f.node_def:
            found = node_finding(node, names, f.signature.name)
            if found is not None:
                return found
    return None


__all__ = ["CLASSES", "Finding", "GRAPH_FROM_INPUT", "NEEDS_IO", "UNREVIEWED", "graph_finding", "needs_io",
           "node_finding", "op_class", "read_table", "table", "write_table"]
