"""What every stage shares: parameter specifications, the image scale and the stage result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Param", "Scale", "StageResult"]


@dataclass(frozen=True)
class Param:
    """Specification of one pipeline parameter: its type, allowed range and meaning.

    The *values* live in the pipeline TOML files; the code holds only what is valid.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    doc: str = ""

    def check(self, value) -> str | None:
        """Return an error text when ``value`` is not valid, else None."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) != (self.kind is bool):
            return f"must be {self.kind.__name__} (got {value!r})"
        if self.low is not None and value < self.low:
            return f"must be >= {self.low} (got {value!r})"
        if self.high is not None and value > self.high:
            return f"must be <= {self.high} (got {value!r})"
        return None


@dataclass(frozen=True)
class Scale:
    """Image scale.

    Attributes
    ----------
    px_per_mm : float or None
        The photo's real scale; None when unknown (then every mm-based metric is None).
    size_px_per_mm : float
        Scale used to turn the pipeline's mm size limits into pixels: the real one when
        known, else the pipeline's ``assumed_px_per_mm``.
    """

    px_per_mm: float | None
    size_px_per_mm: float

    def px(self, length_mm: float) -> float:
        """A length in mm as pixels at :attr:`size_px_per_mm`."""
        return float(length_mm) * self.size_px_per_mm

    def px2(self, area_mm2: float) -> float:
        """An area in mm^2 as pixels at :attr:`size_px_per_mm`."""
        return float(area_mm2) * self.size_px_per_mm**2


@dataclass
class StageResult:
    """A stage's mask, metrics and the unit of every metric (None = not measurable)."""

    mask: np.ndarray
    metrics: dict[str, float | int | None]
    units: dict[str, str] = field(default_factory=dict)
