"""The TensorFlow session options of a page run: above all, whether TensorFlow's graph optimizer runs.

TensorFlow rewrites every graph before its first run with its graph optimizer (grappler: constant
folding, arithmetic simplification, op fusion, layout changes, pruning). That pays off on pages whose
steps do heavy work, but its own cost grows faster than the page: on a chain of scalar ``Neg`` blocks it
took 0.4 s at 300 blocks, 1.2-1.7 s at 1,000, 16 s at 3,000 and more than ten minutes at 100,000, while
the first step without it took under a second up to 10,000 blocks (figures from a loaded 2-core machine).
The ClientSession pin ``optimize`` decides:

- ``on``: always optimize (what plain TensorFlow does);
- ``off``: never (``RewriterConfig.disable_meta_optimizer``); results are the same, only speed differs;
- ``auto`` (the default, also for pages without a ClientSession and for pages saved before the pin
  existed): optimize when the graph has at most ``SMALL_OPS`` ops (the optimizer's cost stays within a
  few tenths of a second), never above ``LARGE_OPS`` ops (its cost runs into minutes), and in between
  only when the page is compute-heavy: its ops produce on average at least ``HEAVY_ELEMENTS`` elements
  per step (read from the static shapes of a sample of up to ``SAMPLE`` ops; an unknown dimension counts
  as 1). Such a step costs about a millisecond per op, so what the optimizer saves on each step soon
  outweighs its cost.
"""

from __future__ import annotations

from typing import Any

#: ``optimize`` pin values
OPTIMIZE_CHOICES = ("auto", "on", "off")
#: auto optimizes graphs of at most this many ops
SMALL_OPS = 300
#: auto never optimizes graphs of more than this many ops
LARGE_OPS = 20_000
#: auto optimizes graphs in between when their ops average at least this many elements per output
HEAVY_ELEMENTS = 100_000
#: ops whose shapes are read to estimate the average
SAMPLE = 1_000


def average_elements(ops: list[Any], sample: int = SAMPLE) -> float:
    """Mean number of elements of the first output of up to ``sample`` ops spread evenly over ``ops``."""
    with_outputs = [op for op in ops[:: max(1, len(ops) // sample)] if op.outputs]
    if not with_outputs:
        return 0.0
    total = 0
    for op in with_outputs:
        dims = op.outputs[0].shape.as_list() if op.outputs[0].shape.rank is not None else []
        n = 1
        for d in dims:
            n *= 1 if d is None else d
        total += n
    return total / len(with_outputs)


def should_optimize(setting: str, graph: Any) -> bool:
    """Whether the graph optimizer runs for ``graph`` under the ``optimize`` pin value ``setting``."""
    if setting == "on":
        return True
    if setting == "off":
        return False
    ops = graph.get_operations()
    if len(ops) <= SMALL_OPS:
        return True
    if len(ops) > LARGE_OPS:
        return False
    return average_elements(ops) >= HEAVY_ELEMENTS


def session_config(setting: str, graph: Any) -> Any:
    """The ``ConfigProto`` for a session on ``graph``: soft placement, and the optimizer as decided."""
    from tensorflow.core.protobuf import config_pb2

    config = config_pb2.ConfigProto(allow_soft_placement=True)
    if not should_optimize(setting, graph):
        config.graph_options.rewrite_options.disable_meta_optimizer = True
    return config
