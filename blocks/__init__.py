"""The block library: hand-declared blocks, and the generated catalogue of every TensorFlow op."""

from blocks import core, enuspace_blocks, sparse_ops  # noqa: F401 - importing registers the hand-declared blocks
from blocks.base import REGISTRY, Attr, Block, BuildFailure, Port


def _generated() -> dict:
    from blocks import catalogue

    # from the catalogue cache when present (no TensorFlow import); generated and cached otherwise
    return catalogue.load_catalogue()


REGISTRY.generated_loader = _generated

__all__ = ["REGISTRY", "Attr", "Block", "BuildFailure", "Port"]
