"""What a layer is: its method, metrics (name, unit, definition, formula, references) and
overlay colour, declared by the module that measures it (``LAYER``).

:mod:`skinmetrics.stages` collects the stage modules' declarations: the pipeline, the
overlay, the report's methods section and the command line read them from there, so adding a
layer is one new module in ``skinmetrics/stages`` (with ``LAYER``, ``PARAMS``, ``detect`` and
``summarise``) and its section in a pipeline's TOML file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["MetricDefinition", "Layer", "area_definitions"]


@dataclass(frozen=True)
class MetricDefinition:
    """What one metric is.

    Attributes
    ----------
    name : str
        As in the tables' ``metric`` column.
    label : str
        A short name for a reader (the ``label`` column of ``patients/<id>.csv``).
    unit : str
        As in the tables' ``unit`` column.
    definition : str
    formula : str
    references : tuple of str
        Keys of the citations of the layer declaring it (or of another layer's).
    """

    name: str
    label: str
    unit: str
    definition: str
    formula: str
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layer:
    """A measured layer: how it is found, the metrics it gives and how it is drawn.

    Attributes
    ----------
    name : str
        The stage's name in a pipeline (``stages = [...]`` and its TOML section).
    title : str
    method : str
        How the layer is segmented or computed (as in README.md, "How each layer is
        measured"); thresholds are the pipeline's parameters, listed in the report.
    references : tuple of str
        Keys of ``citations`` (or of another layer's).
    metrics : tuple of MetricDefinition
    citations : mapping of str -> str
        Full citation of each reference key this layer introduces.
    mask : str or None
        Name of its mask (``masks/<mask>.png``); None: no mask.
    colour : tuple of int or None
        RGB of its outline on the overlay (Okabe-Ito colour-blind-safe palette).
    headline : tuple of str
        Metrics the ``measure`` command prints for it.
    uses : tuple of str
        Layers whose lesions its ``detect`` is given (``found``: name -> the lesions found
        on the whole skin region), found before it when the pipeline has them.
    """

    name: str
    title: str
    method: str
    references: tuple[str, ...]
    metrics: tuple[MetricDefinition, ...] = ()
    citations: Mapping[str, str] = field(default_factory=dict)
    mask: str | None = None
    colour: tuple[int, int, int] | None = None
    headline: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()


def area_definitions(prefix: str, what: str, suffixes: Sequence[str] = ("px", "mm2", "pct"),
                     references: tuple[str, ...] = (), share: tuple[str, str] | None = None,
                     skin: str = "skin region") -> tuple[MetricDefinition, ...]:
    """The ``<prefix>_area_px``, ``_mm2`` and ``_pct`` definitions of a mask (the metrics of
    :func:`skinmetrics.filters.area_metrics`); ``what`` names it (plural where it is);
    ``share``: the ``_pct``'s definition and formula when not the plain share of the skin
    region; ``skin``: what that share is of (its unit: % of ``skin``)."""
    forms = {
        "px": (f"{what.capitalize()} area (px)", "px", f"Area of {what} in the photo's pixels",
               f"number of pixels of the {what} mask"),
        "mm2": (f"{what.capitalize()} area (mm\u00b2)", "mm2", f"Area of {what}",
                f"{prefix}_area_px / px_per_mm^2 (empty without a scale)"),
        "pct": (f"{what.capitalize()} area (% of skin)", f"% of {skin}",
                *(share or (f"Share of the skin region covered by {what}",
                            f"100 * {prefix}_area_px / roi_area_px"))),
    }
    return tuple(MetricDefinition(f"{prefix}_area_{s}", *forms[s], references)
                 for s in suffixes)
