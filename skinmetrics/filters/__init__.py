"""Shared image operations used by the stages: local skin reference, scale, clean-up, objects.

Every name is importable from here; the code lives in submodules by topic:

- :mod:`~skinmetrics.filters.footprints`: structuring elements (disk, square);
- :mod:`~skinmetrics.filters.reference`: the skin's local reference level by normalised
  convolution, the contrast to it, robust spreads and the noise level function;
- :mod:`~skinmetrics.filters.morphology`: top-hats, line and path openings, clean-up of
  masks, connected parts, h-maxima, grey reconstruction, distance transform;
- :mod:`~skinmetrics.filters.segmentation`: objects outlined at a local half maximum,
  touching objects split, small dark objects from an optical density;
- :mod:`~skinmetrics.filters.blobs`: dark blobs by the scale-normalised Laplacian of
  Gaussian;
- :mod:`~skinmetrics.filters.measure`: per-object means, contrast and shape, labels, areas.
"""

from .blobs import blob_objects, blob_responses, gaussian_laplace, iter_blob_responses
from .footprints import disk, square
from .measure import (
    area_metrics,
    compact_labels,
    edge_step,
    label_type,
    masked_mean,
    object_contrast,
    object_means,
    object_table,
    renumbered,
)
from .morphology import (
    black_tophat_od,
    bridge_gaps,
    clean_mask,
    connected_parts,
    distance_to_background,
    h_maxima,
    hysteresis,
    keep_seeded,
    levels_above,
    line_opening,
    path_opening,
    reconstruct_by_dilation,
    small_dots,
    thin_parts,
)
from .reference import (
    LocalReference,
    NoiseLevel,
    below_spread,
    contrast_to_reference,
    from_cells,
    local_median,
    local_reference,
    median,
    noise_level,
    robust_spread,
)
from .segmentation import (
    dark_objects,
    flood_from_markers,
    label_peaks,
    local_half_maximum,
    split_touching,
)

__all__ = [
    "disk",
    "square",
    "local_reference",
    "local_median",
    "LocalReference",
    "from_cells",
    "below_spread",
    "contrast_to_reference",
    "robust_spread",
    "median",
    "small_dots",
    "dark_objects",
    "blob_objects",
    "blob_responses",
    "iter_blob_responses",
    "gaussian_laplace",
    "object_means",
    "edge_step",
    "object_contrast",
    "black_tophat_od",
    "bridge_gaps",
    "thin_parts",
    "clean_mask",
    "hysteresis",
    "keep_seeded",
    "connected_parts",
    "h_maxima",
    "reconstruct_by_dilation",
    "split_touching",
    "flood_from_markers",
    "distance_to_background",
    "noise_level",
    "NoiseLevel",
    "label_peaks",
    "levels_above",
    "line_opening",
    "path_opening",
    "local_half_maximum",
    "object_table",
    "renumbered",
    "compact_labels",
    "label_type",
    "masked_mean",
    "area_metrics",
]
