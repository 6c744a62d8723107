"""Hand-declared sparse blocks: SparseFillEmptyRowsGrad (the founding block) and SparseFillEmptyRows.

They build the same TensorFlow ops as their generated twins, with declarations that check more
(ranks, numeric dtypes) and documentation written for people.
"""

from __future__ import annotations

from typing import Any

from enuflow.blocks.base import Attr, Block, Port, register
from enuflow.blocks.opblock import build_op

NUMERIC = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "uint16", "uint32", "uint64", "complex64", "complex128")


@register
class SparseFillEmptyRowsGrad(Block):
    """The gradient of SparseFillEmptyRows: sends the incoming gradient back to the original values.

    SparseFillEmptyRows takes a sparse tensor with N values and returns one with N_full >= N values:
    every original value, plus one ``default_value`` for each row that had none. It also returns
    ``reverse_index_map``: for each original value j, where it landed in the filled output.

    Given the gradient of the filled output's values, ``grad_values`` (length N_full), this block splits it:

    - ``d_values[j] = grad_values[reverse_index_map[j]]``: each original value receives the gradient
      of the place it landed in (length N).
    - ``d_default_value`` = the sum of ``grad_values[k]`` over every place k that no original value
      landed in, i.e. the places filled with the default value; since one default value fed all of
      them, its gradient is their sum (a scalar).

    Every element of ``reverse_index_map`` must lie in [0, N_full); TensorFlow reports any other value
    when the page runs.
    """

    name = "SparseFillEmptyRowsGrad"
    op_name = "SparseFillEmptyRowsGrad"
    category = "sparse_ops"
    inputs = (
        Port("reverse_index_map", dtype="int64", rank=1,
             doc="[N] int64: where each original value landed in the filled output"),
        Port("grad_values", dtype="T", rank=1, allowed=NUMERIC,
             doc="[N_full]: the gradient of the filled output's values"),
    )
    outputs = (
        Port("d_values", dtype="T", rank=1, doc="[N]: d_values[j] = grad_values[reverse_index_map[j]]"),
        Port("d_default_value", dtype="T", rank=0,
             doc="scalar: the sum of grad_values at places no original value landed in"),
    )
    attrs = (Attr("T", "type", inferred=True, allowed=NUMERIC, doc="element type of grad_values"),)

    def build(self, scope: Any, reverse_index_map: Any = None, grad_values: Any = None) -> dict[str, Any]:
        return build_op(scope, self, {"reverse_index_map": reverse_index_map, "grad_values": grad_values})


@register
class SparseFillEmptyRows(Block):
    """Fills the empty rows of a sparse tensor with a default value.

    The input sparse tensor is given by ``indices`` ([N, R] int64), ``values`` ([N]) and ``dense_shape``
    ([R] int64). Every row (first index) that holds no value receives one entry ``[row, 0, ..., 0]``
    with ``default_value``. Outputs: the filled sparse tensor (``output_indices``, ``output_values``,
    N_full entries), ``empty_row_indicator`` (true for each row that was empty) and ``reverse_index_map``
    ([N]: where each original value landed), which SparseFillEmptyRowsGrad uses to route gradients back.
    The indices must be in row-major order.
    """

    name = "SparseFillEmptyRows"
    op_name = "SparseFillEmptyRows"
    category = "sparse_ops"
    inputs = (
        Port("indices", dtype="int64", rank=2, doc="[N, R] int64: the positions of the values"),
        Port("values", dtype="T", rank=1, doc="[N]: the values"),
        Port("dense_shape", dtype="int64", rank=1, doc="[R] int64: the dense shape"),
        Port("default_value", dtype="T", rank=0, doc="scalar: the value put into empty rows"),
    )
    outputs = (
        Port("output_indices", dtype="int64", rank=2, doc="[N_full, R] positions of the filled tensor"),
        Port("output_values", dtype="T", rank=1, doc="[N_full] values of the filled tensor"),
        Port("empty_row_indicator", dtype="bool", rank=1, doc="[rows] true where a row was empty"),
        Port("reverse_index_map", dtype="int64", rank=1, doc="[N] where each original value landed"),
    )
    attrs = (Attr("T", "type", inferred=True, doc="element type of the values"),)

    def build(self, scope: Any, **inputs: Any) -> dict[str, Any]:
        return build_op(scope, self, inputs)
