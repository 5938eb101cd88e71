"""Pipeline files: the shipped ones load, and every kind of mistake fails in one clear line."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from skinmetrics import roi
from skinmetrics.pipeline import (
    STAGES,
    PipelineError,
    builtin_pipelines,
    detection_order,
    load_pipeline,
)


def _builtin_text(name: str) -> str:
    return resources.files("skinmetrics.pipelines").joinpath(f"{name}.toml").read_text()


def test_builtins_load_with_every_parameter():
    assert builtin_pipelines() == ["acne", "laser_recovery"]
    lr = load_pipeline("laser_recovery")
    assert lr.stages == ("erythema", "microcrust", "pigmentation")
    assert load_pipeline("acne").stages == ("pore", "pigmentation", "erythema", "acne_lesion")
    assert set(lr.params["roi"]) == set(roi.PARAMS)
    for stage in lr.stages:
        assert set(lr.params[stage]) == set(STAGES[stage].PARAMS)


def test_every_parameter_has_a_comment():
    for name in builtin_pipelines():
        for line in _builtin_text(name).splitlines():
            if "=" in line and not line.lstrip().startswith("#") and not line.startswith(
                    ("name", "description", "stages", "regions")):
                assert "#" in line, f"{name}.toml: no comment on {line!r}"


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(_builtin_text("acne").replace('name = "acne"', 'name = "mine"'))
    assert load_pipeline(path).name == "mine"
    assert load_pipeline(str(path)).source == str(path)


def _broken(tmp_path, old, new):
    text = _builtin_text("laser_recovery")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ("split_depth_mm = 0.03", "split_depht_mm = 0.03",
     r"\[microcrust\]: unknown key 'split_depht_mm'"),
    ("split_depth_mm = 0.03", "", r"\[microcrust\]: missing key 'split_depth_mm'"),
    ('stages = ["erythema", "microcrust", "pigmentation"]',
     'stages = ["erythema", "microcrust", "pigmentation", "wrinkles"]',
     r"unknown stage 'wrinkles'"),
    ('stages = ["erythema", "microcrust", "pigmentation"]',
     'stages = ["erythema", "microcrust", "pigmentation", "pore"]',
     r"stage 'pore' is listed but has no \[pore\] section"),
    ('stages = ["erythema", "microcrust", "pigmentation"]',
     'stages = ["erythema", "pigmentation"]', r"section \[microcrust\] is not in 'stages'"),
    ("min_roundness = 0.4", "min_roundness = 1.5",
     r"\[microcrust\]\.min_roundness must be <= 1\.0"),
    ("min_roundness = 0.4", 'min_roundness = "round"', r"min_roundness must be float"),
    ("threshold = 0.07", "threshold = -1", r"\[erythema\]\.threshold must be >= 0"),
    ("assumed_px_per_mm = 25.0", "assumed_px_per_mm = 0", r"assumed_px_per_mm must be >="),
    ("[roi]", "[roi\n", r"invalid TOML"),
    ('regions = ["left_cheek", "right_cheek"]', 'regions = ["left_ear"]',
     r"unknown region 'left_ear'"),
])
def test_bad_files_fail_in_one_line(tmp_path, old, new, message):
    path = _broken(tmp_path, old, new)
    with pytest.raises(PipelineError, match=message) as exc:
        load_pipeline(path)
    assert "\n" not in str(exc.value)
    assert str(path) in str(exc.value)


def test_unknown_name_and_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="unknown pipeline 'nope'.*acne, laser_recovery"):
        load_pipeline("nope")
    with pytest.raises(PipelineError, match="not found"):
        load_pipeline(tmp_path / "absent.toml")


def test_integer_accepted_for_float(tmp_path):
    path = _broken(tmp_path, "assumed_px_per_mm = 25.0", "assumed_px_per_mm = 25")
    assert load_pipeline(path).params["scale"]["assumed_px_per_mm"] == 25.0
    assert isinstance(tomllib.loads(path.read_text())["scale"]["assumed_px_per_mm"], int)


def test_a_layer_the_resolution_cannot_resolve_gives_no_number():
    """Pores need about 10 px/mm: at 4 px/mm (a whole face) the layer's metrics are None, its
    mask empty and a warning names the resolution needed and the photo's; the colour layers
    are still measured. At 25 px/mm, and without any scale, pores are counted."""
    import numpy as np

    from skinmetrics.pipeline import measure_image
    from skinmetrics.synthetic import make_phantom

    photo = make_phantom((240, 320), 25.0, 60.0, seed=3).image / 255.0
    acne = load_pipeline("acne")
    coarse = measure_image(photo, acne, 4.0)
    pores = {k: v for k, v in coarse.metrics.items() if k.startswith("pore_")}
    assert pores and all(v is None for v in pores.values())
    assert not coarse.masks["pore"].any()
    assert coarse.warnings == ["pore not measured: it needs 10 px/mm, this photo has 4.0 px/mm"]
    assert coarse.metrics["erythema_index_mean"] is not None
    estimated = measure_image(photo, acne, size_px_per_mm=4.0)
    assert estimated.metrics["pore_count"] is None and estimated.warnings
    for fine in (measure_image(photo, acne, 25.0), measure_image(photo, acne)):
        assert fine.metrics["pore_count"] > 10 and not fine.warnings
    assert np.array_equal(measure_image(photo, acne, 25.0).masks["pore"],
                          measure_image(photo, acne).masks["pore"])


def test_a_layer_is_found_after_the_layers_it_uses():
    """The crust layer uses the pigmentation layer's spots: it is found after them whatever
    the order the pipeline lists them in, which stays the order of its outputs."""
    assert detection_order(["erythema", "microcrust", "pigmentation"]) == [
        "erythema", "pigmentation", "microcrust"]
    assert detection_order(["microcrust", "erythema"]) == ["microcrust", "erythema"]
    lr = load_pipeline("laser_recovery")
    assert lr.stages == ("erythema", "microcrust", "pigmentation")
