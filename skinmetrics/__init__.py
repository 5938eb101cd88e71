"""skinmetrics: open, cited measurements of skin in standardized clinic photographs.

The library works on numpy arrays (one function per algorithm); the ``skinmetrics``
command line is a thin layer over it. The public API, loaded on first use (so that the
command line starts without the image libraries)::

    import skinmetrics as sm
    pipe = sm.load_pipeline("laser_recovery")
    srgb = sm.read_image("P01_day00.jpg")           # (H, W, 3) float32 sRGB in [0, 1]
    day0 = sm.measure(srgb, pipe, px_per_mm=25.0)   # PhotoMeasurement: masks, metrics ...
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skinmetrics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

#: Public name -> the module that defines it.
_API = {
    "measure": "core",
    "PhotoMeasurement": "core",
    "NoSkinError": "core",
    "measure_image": "pipeline",
    "Measurement": "pipeline",
    "Pipeline": "pipeline",
    "PipelineError": "pipeline",
    "load_pipeline": "pipeline",
    "read_image": "io",
    "SRGBCodes": "colour",
    "ImageReadError": "io",
    "measure_photo": "photo",
    "write_outputs": "photo",
    "run_batch": "batch",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
