"""Blocks for stateful pages and the helpers of enuSpace's core library.

``Variable`` is a TensorFlow variable initialised once before the first step of a run (its ``Assign``
initialiser is registered with the page scope), then updated by ``Assign``, ``ApplyGradientDescent``
and friends across the steps. ``Const_ex``, ``InputList``, ``Operation``, ``Output`` and
``AddSymbolicGradients`` are the enuSpace helpers its pages use; ``enuSpace.Inert`` keeps a block that
builds nothing (a symbol of another enuSpace library, such as the ``logic`` trend and LCD blocks) so
that an imported page keeps it, its pins and its wires, and runs without it.
"""

from __future__ import annotations

import math
from typing import Any

from enuflow.blocks.attrs_text import parse_attrs_string
from enuflow.blocks.base import Attr, Block, BuildFailure, Port, register
from enuflow.blocks.core import Const
from enuflow.blocks.tf import attr_value, const_tensor, load

#: a variable larger than this (elements) is refused rather than allocated (the pin-value limit)
MAX_VARIABLE_ELEMENTS = 1 << 27


@register
class Variable(Block):
    """A variable: a tensor that keeps its value across the steps of a run.

    Its initial value comes from ``initvalues`` (a value typed into the pin, or a wired tensor such as a
    Const's output) and is assigned once, before the first step of each run. ``dtype`` and ``shape``
    default to those of the initial value; a single initial value fills the whole ``shape``. ``attrs``
    takes enuSpace's ``container_ = ...;shared_name_ = ...;`` text. Wire ``ref`` into ``Assign``,
    ``ApplyGradientDescent`` and the like to update it.
    """

    name = "Variable"
    category = "state"
    inputs = (Port("initvalues", dtype="dtype", doc="the initial value (typed in, or wired from a Const)"),)
    outputs = (Port("ref", dtype="dtype", kind="ref", doc="the variable"),)
    attrs = (
        Attr("dtype", "type", doc="element type; taken from initvalues when empty"),
        Attr("shape", "shape", doc="shape like [2][2]; taken from initvalues when empty"),
        Attr("attrs", "string", default="", has_default=True,
             doc="enuSpace attrs text: container_ = ...;shared_name_ = ...;"),
    )
    value_pins = ("initvalues",)

    def build(self, scope: Any, initvalues: Any = None) -> dict[str, Any]:
        tf = load()
        want = scope.attrs.get("dtype")
        init = initvalues if initvalues is not None else scope.value("initvalues", dtype=want)
        got = init.dtype.base_dtype.name
        dtype = want or got
        if got != dtype:
            raise BuildFailure(f"initvalues is {got}, but dtype is {dtype}", "initvalues")
        shape = scope.attrs.get("shape")
        init_shape = init.shape
        if shape is None:
            if not init_shape.is_fully_defined():
                raise BuildFailure("the shape of initvalues is not known; set the pin 'shape'", "shape")
            shape = tuple(init_shape.as_list())
        if any(d is None for d in shape):
            raise BuildFailure(f"a variable's shape must be fully known, got {list(shape)}", "shape")
        if math.prod(shape) > MAX_VARIABLE_ELEMENTS:
            raise BuildFailure(f"shape {list(shape)} has {math.prod(shape):,} elements, more than the "
                               f"{MAX_VARIABLE_ELEMENTS:,} a variable may hold here", "shape")
        if init_shape.is_fully_defined() and tuple(init_shape.as_list()) != tuple(shape):
            if init_shape.num_elements() != 1:
                raise BuildFailure(f"initvalues has shape {init_shape.as_list()}, but the variable's shape is "
                                   f"{list(shape)}", "initvalues")
            dims = const_tensor(scope, list(shape), "int32", "shape")
            init = scope.create_op("BroadcastTo", [init, dims], {"T": attr_value(dtype, "type"),
                                                                  "Tidx": attr_value("int32", "type")},
                                   suffix="fill").outputs[0]
        settings = parse_attrs_string(scope.attrs.get("attrs", "") or "")
        var = scope.create_op("VariableV2", [], {
            "shape": attr_value(list(shape), "shape"), "dtype": attr_value(dtype, "type"),
            "container": attr_value(settings.get("container", ""), "string"),
            "shared_name": attr_value(settings.get("shared_name", ""), "string")})
        ref = var.outputs[0]
        assign = scope.create_op("Assign", [ref, init], {"T": attr_value(dtype, "type"),
                                                         "validate_shape": attr_value(True, "bool"),
                                                         "use_locking": attr_value(True, "bool")},
                                 suffix="initialize")
        scope.add_initializer(assign)
        scope.page.add_variable(scope.block_id, ref, trainable=True)  # for checkpoints and ``Minimize``
        del tf
        return {"ref": ref}


@register
class ConstEx(Const):
    """enuSpace's Const_ex: a constant whose ``dtype`` defaults to float64 (DT_DOUBLE)."""

    name = "Const_ex"

    def build(self, scope: Any) -> dict[str, Any]:
        return {"output": scope.value("val", dtype=scope.attrs.get("dtype") or "float64")}


@register
class InputList(Block):
    """Gathers every tensor wired into ``outputlist`` (in link order) into one list output.

    Wire ``output`` into a port that takes several tensors (AddN ``inputs``, QueueEnqueue
    ``components``, ...): it receives the gathered tensors in order.
    """

    name = "InputList"
    category = "core"
    inputs = (Port("outputlist", list_of="any", doc="the tensors to gather, in link order"),)
    outputs = (Port("output", doc="the list of gathered tensors"),)

    def build(self, scope: Any, outputlist: list[Any]) -> dict[str, Any]:
        return {"output": list(outputlist)}


@register
class Operation(Block):
    """The op behind a wired output, to wire into ``ClientSession.run_outputs`` (run, not fetched)."""

    name = "Operation"
    category = "core"
    inputs = (Port("operation", doc="an output (or op) whose op is run"),)
    outputs = (Port("output", kind="operation", doc="the op"),)

    def build(self, scope: Any, operation: Any) -> dict[str, Any]:
        return {"output": getattr(operation, "op", operation)}


@register
class Output(Block):
    """Output number ``index`` of the op behind a wired output."""

    name = "Output"
    category = "core"
    inputs = (Port("output_op", doc="any output of the op"),)
    outputs = (Port("output", doc="the op's output number index"),)
    attrs = (Attr("index", "int", default=0, has_default=True, minimum=0, doc="which output of the op"),)

    def build(self, scope: Any, output_op: Any) -> dict[str, Any]:
        op = getattr(output_op, "op", output_op)
        index = int(scope.attrs.get("index", 0))
        if index >= len(op.outputs):
            raise BuildFailure(f"{op.type} has {len(op.outputs)} outputs; index {index} is past them", "index")
        return {"output": op.outputs[index]}


@register
class AddSymbolicGradients(Block):
    """Symbolic gradients of the sum of ``outputs`` with respect to each of ``inputs``.

    ``grad_outputs[i]`` is the gradient for the i-th link into ``inputs`` (in link order); an input
    the outputs do not depend on gets zeros. Wire them by their indexed names (``grad_outputs[0]``).
    """

    name = "AddSymbolicGradients"
    category = "training"
    inputs = (Port("outputs", list_of="any", doc="the tensors to differentiate (e.g. a loss)"),
              Port("inputs", list_of="any", doc="the tensors (e.g. variables) to differentiate by"))
    outputs = (Port("grad_outputs", list_of="any", doc="one gradient per link into inputs"),)

    def build(self, scope: Any, outputs: list[Any], inputs: list[Any]) -> dict[str, Any]:
        tf = load()
        with tf.compat.v1.name_scope(scope.name + "/"):
            try:
                grads = tf.compat.v1.gradients(list(outputs), list(inputs))
            except (LookupError, ValueError, TypeError) as e:
                raise BuildFailure(f"no gradient: {e}") from None
            out = {}
            for i, (g, x) in enumerate(zip(grads, inputs)):
                if g is None:
                    g = tf.zeros_like(x)
                elif isinstance(g, tf.IndexedSlices):
                    g = tf.convert_to_tensor(g)
                out[f"grad_outputs[{i}]"] = g
        return out


@register
class Inert(Block):
    """A block kept from an imported page that builds nothing (e.g. an enuSpace ``logic`` block).

    Its pins and wires are kept so a save keeps them; a run skips it with a warning. Blocks that take
    an input from it cannot build.
    """

    name = "enuSpace.Inert"
    category = "core"
    inert = True

    def build(self, scope: Any, **inputs: Any) -> dict[str, Any]:
        return {}
