"""enuflow: a visual dataflow editor for TensorFlow."""

__version__ = "0.1.0"
