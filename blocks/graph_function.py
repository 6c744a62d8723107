"""``GraphFunction``: an imported op that calls TensorFlow functions, kept whole as one block.

A model may hold ops whose work lives in function bodies (``While``, ``If``, ``StatefulPartitionedCall``
that could not be inlined, ...). The page cannot show or edit those bodies, so the importer keeps such an
op as one ``GraphFunction`` block: its pin ``graph`` names a small serialized GraphDef in the page's data
file (the op, placeholders for its inputs, and the function library it needs), which is imported into
the page's graph when the page is built.
"""

from __future__ import annotations

from typing import Any

from enuflow.blocks.base import Attr, Block, BuildFailure, Port, register
from enuflow.blocks.tf import load


@register
class GraphFunction(Block):
    """An op of an imported model that calls TensorFlow functions (While, If, ...): not editable here.

    The op and its function bodies are kept as they were in the model (pin ``graph``, stored in the
    page's data file) and run as they are; wire its inputs in the model's order into ``input`` and take
    its results from ``output[0]``, ``output[1]``, ... To change what it does, change the model and import
    it again.
    """

    name = "GraphFunction"
    category = "functional"
    inputs = (Port("input", list_of="any", optional=True, doc="the op's inputs, in the model's order"),)
    outputs = (Port("output", list_of="number", number_attr="num_outputs", doc="the op's outputs"),)
    attrs = (
        Attr("op", "string", default="", has_default=True, doc="the op it runs (e.g. While); for reading only"),
        Attr("num_outputs", "int", default=0, has_default=True, minimum=0, doc="how many outputs the op has"),
        Attr("graph", "value", required=True, doc="the serialized op and function library (a data entry)"),
        Attr("note", "string", default="", has_default=True, doc="why this block is not editable here"),
    )

    def build(self, scope: Any, input: list[Any] | None = None) -> dict[str, Any]:
        tf = load()
        raw = scope.array("graph")
        try:
            gd = tf.compat.v1.GraphDef.FromString(raw.tobytes())
        except Exception as e:  # noqa: BLE001 - a damaged entry is this block's error
            raise BuildFailure(f"pin 'graph' does not hold a GraphDef ({e})", "graph") from None
        inputs = list(input or [])
        holes = [n.name for n in gd.node if n.name.startswith("input_")]
        if len(holes) != len(inputs):
            raise BuildFailure(f"the op takes {len(holes)} inputs, but {len(inputs)} are wired", "input")
        n = int(scope.attrs.get("num_outputs", 0))
        try:
            outs = tf.compat.v1.import_graph_def(
                gd, input_map={f"input_{i}:0": t for i, t in enumerate(inputs)},
                return_elements=[f"call:{i}" for i in range(n)], name=scope.name)
        except (ValueError, TypeError, tf.errors.OpError) as e:
            raise BuildFailure(f"cannot build the op: {e}") from None
        return {f"output[{i}]": t for i, t in enumerate(outs)}
