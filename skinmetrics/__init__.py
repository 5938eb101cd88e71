"""skinmetrics: open, cited measurements of skin in standardized clinic photographs.

The library works on numpy arrays (one function per algorithm); the ``skinmetrics``
command line is a thin layer over it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skinmetrics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
