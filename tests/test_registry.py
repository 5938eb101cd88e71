"""The stage registry: every layer declares its metrics, units and colour, and a new layer is
one module plus its pipeline section."""

from __future__ import annotations

import tomllib
from importlib import resources
from types import ModuleType

import numpy as np
import pytest

from skinmetrics.colour import ColourPlanes
from skinmetrics.filters import area_metrics
from skinmetrics.io import decode_image
from skinmetrics.methods import Layer, area_definitions
from skinmetrics.overlay import layer_colours, outline_overlay
from skinmetrics.pipeline import load_pipeline, measure_image, parse_pipeline
from skinmetrics.report import methods, references
from skinmetrics.stages import STAGES
from skinmetrics.stages.base import Param, StageResult
from skinmetrics.synthetic import make_phantom

PPM = 25.0


@pytest.fixture(scope="module")
def photo():
    return decode_image(make_phantom((240, 320), PPM, 60.0, seed=3).jpeg)[0]


def test_stages_are_the_modules_that_declare_a_layer():
    assert set(STAGES) == {"acne_lesion", "erythema", "microcrust", "pore", "pigmentation"}
    for name, module in STAGES.items():
        assert module.LAYER.name == name and module.LAYER.mask and module.LAYER.colour
        assert set(module.LAYER.headline) <= {m.name for m in module.LAYER.metrics}
    colours = layer_colours()
    assert len(set(colours.values())) == len(colours) == 6  # roi and five layers
    # every metric has its own short label for the patient tables
    labels = [m.label for layer in methods() for m in layer.metrics]
    assert all(labels) and len(set(labels)) == len(labels)


@pytest.mark.parametrize("pipeline", ["laser_recovery", "acne"])
def test_declared_units_are_the_measured_ones(photo, pipeline):
    result = measure_image(photo, load_pipeline(pipeline), PPM)
    declared = {m.name: m.unit for layer in methods() for m in layer.metrics}
    assert {k: declared[k] for k in result.units} == result.units


def _toy_module() -> ModuleType:
    """A layer written as a user would add one: pixels redder than the skin's median."""
    toy = ModuleType("toy")
    toy.LAYER = Layer("toy", "Toy redness", "a* above the skin's median a* + margin",
                      ("Toy 2026",), area_definitions("toy", "toy redness"),
                      citations={"Toy 2026": "A. Toy. Redness for tests. 2026."},
                      mask="toy", colour=(0, 114, 178), headline=("toy_area_pct",))
    toy.PARAMS = {"margin": Param(float, 0.0, 100, "a* above the median, CIELAB units")}

    def detect(planes, roi, params, scale, fringe=None):
        a = planes.lab[..., 1]
        return roi & (a > np.median(a[roi]) + params["margin"]), {}

    def summarise(planes, roi, found, params, scale, region=None):
        here = roi if region is None else roi & region
        metrics, units = area_metrics("toy", found & here, int(here.sum()), scale.px_per_mm)
        return StageResult(found & here, metrics, units)

    toy.detect, toy.summarise = detect, summarise
    return toy


def test_a_new_layer_is_one_module_and_its_pipeline_section(photo, monkeypatch):
    monkeypatch.setitem(STAGES, "toy", _toy_module())
    text = resources.files("skinmetrics.pipelines").joinpath("laser_recovery.toml").read_text()
    data = {k: v for k, v in tomllib.loads(text).items() if k not in STAGES}
    pipe = parse_pipeline({**data, "stages": ["toy"], "toy": {"margin": 4.0}}, "toy.toml")
    result = measure_image(photo, pipe, PPM)
    a_star = ColourPlanes(photo).lab[..., 1]
    roi = result.masks["roi"]
    expected = roi & (a_star > np.median(a_star[roi]) + 4.0)
    assert np.array_equal(result.masks["toy"], expected)
    assert result.metrics["toy_area_pct"] == pytest.approx(100 * expected.sum() / roi.sum())
    assert result.units["toy_area_mm2"] == "mm2"
    # drawn on the overlay in its colour, described (with its reference) in the report
    assert layer_colours()["toy"] == (0, 114, 178)
    overlay = outline_overlay(photo, {"toy": result.masks["toy"]})
    assert (overlay == (0, 114, 178)).all(axis=-1).any()
    assert methods()[-1].name == "toy" and references()["Toy 2026"].startswith("A. Toy")
    # a section for a stage that does not exist is still refused
    with pytest.raises(ValueError, match="unknown"):
        parse_pipeline({**data, "stages": ["toy"], "toy": {"margin": 4.0}, "toy2": {}}, "x")
