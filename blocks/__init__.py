"""The block library: hand-declared blocks, and the generated catalogue of every TensorFlow op."""

# importing registers the hand-declared blocks
from enuflow.blocks import (core, enuspace_blocks, graph_function, sparse_ops, training,  # noqa: F401
                            training_layers)  # noqa: F401
from enuflow.blocks.base import REGISTRY, Attr, Block, BuildFailure, Port


def _generated() -> dict:
    from enuflow.blocks import catalogue

    # from the catalogue cache when present (no TensorFlow import); generated and cached otherwise
    return catalogue.load_catalogue()


REGISTRY.generated_loader = _generated

__all__ = ["REGISTRY", "Attr", "Block", "BuildFailure", "Port"]
