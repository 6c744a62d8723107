"""The core blocks: Const, Placeholder, ClientSession (session control) and Initializer (run once).

Const and Placeholder values are fed at run time, never baked into the graph, so editing a value does
not rebuild the TensorFlow graph. ClientSession is not an op: the builder reads its links and pins to
decide what each run fetches, which ops it runs and how many steps.
"""

from __future__ import annotations

from typing import Any

from enuflow.blocks.base import Attr, Block, BuildFailure, Port, register


@register
class Const(Block):
    """A constant tensor from a pin value.

    ``val`` is a number, a nested list, or text such as ``"1,2,3,4"`` (with ``shape`` ``[2][2]``) or
    ``"{{1,2},{3,4}}"``; ``dtype`` defaults to int32 for whole numbers and float32 otherwise. A single
    value fills the whole ``shape``. The value is fed when the page runs, so editing it is instant.
    """

    name = "Const"
    category = "core"
    outputs = (Port("output", dtype="dtype", doc="the constant tensor"),)
    attrs = (
        Attr("val", "value", doc="the value: number, list, or text like 1,2,3,4", dtype_pin="dtype",
             shape_pin="shape", required=True),
        Attr("dtype", "type", doc="element type (float32, int64, ...); inferred from val when empty"),
        Attr("shape", "shape", doc="shape like [2][2]; taken from val when empty"),
    )
    value_pins = ("val",)
    fed_output = ("output", "val")

    def build(self, scope: Any) -> dict[str, Any]:
        return {"output": scope.value("val")}


@register
class Placeholder(Block):
    """A tensor fed at run time from the pin ``value``, with a declared ``dtype`` and ``shape``.

    ``shape`` may leave dimensions unknown (``[-1][3]``); the fed value must fit it.
    """

    name = "Placeholder"
    category = "core"
    outputs = (Port("output", dtype="dtype", doc="the fed tensor"),)
    attrs = (
        Attr("dtype", "type", doc="element type of the fed tensor", required=True),
        Attr("shape", "shape", doc="declared shape; -1 for an unknown dimension, empty for any shape"),
        Attr("value", "value", doc="the value fed at each run", dtype_pin="dtype", required=True),
    )
    value_pins = ("value",)

    def build(self, scope: Any) -> dict[str, Any]:
        shape = scope.attrs.get("shape")
        t = scope.value("value", dtype=scope.attrs["dtype"], shape=shape)
        return {"output": t}


@register
class ClientSession(Block):
    """Session control: which outputs a run fetches, which ops it runs, and how many times.

    Wire outputs into ``fetch_outputs`` (several links, in order) and ops into ``run_outputs``. Each
    page run then runs them ``steps`` times (``INFINITE_LOOP`` = until stopped), and every block the
    fetches depend on shows its result. Without a ClientSession a page runs once and fetches every
    output. ``device`` places the page's ops (``/cpu:0``, ``/gpu:0``). ``optimize`` (auto, on, off) says
    whether TensorFlow's graph optimizer rewrites the graph before the first run: ``auto`` (also for
    pages without a ClientSession, or saved without the pin) runs it on pages of at most 300 ops and
    on compute-heavy pages of up to 20,000 ops, and skips it on big pages of small tensors, where it
    would take longer than the run (rule and figures in ``app.engine.session_options``). ``epochs`` (0: steps)
    trains the page in that many epochs over its ``data.Dataset``, each followed by an evaluation pass over the
    test split (``app.engine.epochs``); ``steps`` and ``INFINITE_LOOP`` then do not apply.
    """

    name = "ClientSession"
    category = "core"
    inputs = (
        Port("fetch_outputs", list_of="any", optional=True, doc="outputs to fetch at each step"),
        Port("run_outputs", list_of="any", optional=True, doc="ops to run at each step (e.g. training)"),
    )
    outputs = ()
    attrs = (
        Attr("device", "string", default="", has_default=True, doc="device for the page's ops"),
        Attr("steps", "int", default=1, has_default=True, minimum=1, doc="session runs per page run"),
        Attr("INFINITE_LOOP", "bool", default=False, has_default=True, doc="run until stopped"),
        Attr("SHOW_DEBUG", "bool", default=False, has_default=True, doc="print fetched values each step"),
        Attr("optimize", "string", default="auto", has_default=True, allowed=("auto", "on", "off"),
             doc="TensorFlow's graph optimizer: on, off, or auto (on for small or compute-heavy pages)"),
        Attr("epochs", "int", default=0, has_default=True, minimum=0,
             doc="train in this many epochs over the page's data.Dataset (each followed by a test pass); "
                 "0 runs steps"),
    )

    def build(self, scope: Any, **inputs: Any) -> dict[str, Any]:
        raise BuildFailure("ClientSession is session control and builds no op")


@register
class Initializer(Block):
    """Runs the ops wired into ``ops`` once, before the first step of each run (as a Variable's initial
    value is assigned): a SavedModel's initialisers, such as filling a lookup table, are imported as one.

    Wire an output (its op is run) or an op's ``operation`` port into ``ops``, several links allowed.
    """

    name = "Initializer"
    category = "core"
    inputs = (Port("ops", list_of="any", doc="outputs or ops to run once before the first step"),)
    outputs = ()

    def build(self, scope: Any, ops: list[Any]) -> dict[str, Any]:
        for x in ops:
            scope.add_initializer(getattr(x, "op", x))
        return {}
