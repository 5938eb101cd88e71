"""Every layer against the phantoms' exact ground truth, on light, medium and dark skin."""

from __future__ import annotations

import pytest

from .conftest import TONES, dice

TONE_NAMES = list(TONES)


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_roi_dice(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    for pipe in ("laser_recovery", "acne"):
        assert dice(measured[tone, pipe].masks["roi"], ph.masks["roi"]) >= 0.95


@pytest.mark.parametrize("tone", TONE_NAMES)
@pytest.mark.parametrize("layer", ["erythema", "pigment"])
def test_region_dice(tone, layer, phantoms, measured):
    ph, _ = phantoms[tone]
    assert dice(measured[tone, "laser_recovery"].masks[layer], ph.masks[layer]) >= 0.80


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_microcrust_count_and_area(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    m = measured[tone, "laser_recovery"].metrics
    truth = ph.truth
    assert truth["microcrust_count"] > 50
    assert m["microcrust_count"] == pytest.approx(truth["microcrust_count"], rel=0.15)
    assert m["microcrust_area_mm2"] == pytest.approx(truth["microcrust_area_mm2"], rel=0.10)


@pytest.mark.parametrize("tone", TONE_NAMES)
def test_pore_count(tone, phantoms, measured):
    ph, _ = phantoms[tone]
    m = measured[tone, "acne"].metrics
    assert ph.truth["pore_count"] > 50
    assert m["pore_count"] == pytest.approx(ph.truth["pore_count"], rel=0.15)
    roi_cm2 = ph.truth["roi_area_mm2"] / 100.0
    assert m["pore_density_per_cm2"] == pytest.approx(ph.truth["pore_count"] / roi_cm2, rel=0.2)


@pytest.mark.parametrize("tone", TONE_NAMES)
@pytest.mark.parametrize(("metric", "truth_key"), [
    ("erythema_area_mm2", "erythema_area_mm2"),
    ("pigment_spot_area_mm2", "pigment_area_mm2"),
    ("roi_area_mm2", "roi_area_mm2"),
])
def test_areas_mm2(tone, metric, truth_key, phantoms, measured):
    ph, _ = phantoms[tone]
    assert measured[tone, "laser_recovery"].metrics[metric] == pytest.approx(
        ph.truth[truth_key], rel=0.10)


def test_ita_orders_skin_tones(measured):
    """ITA falls from light to dark skin and lies in the published bands [Chardon 1991]."""
    ita = {t: measured[t, "laser_recovery"].metrics["ita_deg_mean"] for t in TONES}
    mi = {t: measured[t, "laser_recovery"].metrics["melanin_index_mean"] for t in TONES}
    assert ita["light"] > 41 > ita["medium"] > -30 > ita["dark"]
    assert mi["light"] < mi["medium"] < mi["dark"]


def test_delta_a_star_positive(measured):
    for tone in TONES:
        assert measured[tone, "laser_recovery"].metrics["delta_a_star"] > 2.0
