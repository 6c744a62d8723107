"""enuflow: a visual dataflow editor for TensorFlow."""

from importlib.metadata import PackageNotFoundError, version

try:
    #: the installed distribution's version; pyproject.toml is its one source
    __version__ = version("enuflow")
except PackageNotFoundError:  # the folders imported without installing the distribution
    __version__ = "0+unknown"
