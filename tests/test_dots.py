"""Crusts and pores are told apart by what they are: crust material (red-brown or brown to
black) against the shadow of a pore (a fraction of the skin's own light, its colour kept)."""

from __future__ import annotations

import numpy as np
import pytest

from skinmetrics.colour import linear_to_srgb
from skinmetrics.pipeline import load_pipeline, measure_image
from skinmetrics.synthetic_b import skin_rgb

PX_PER_MM = 25.0
PITCH_PX = 25  # the laser grid: one crust site per mm
#: linear RGB of crust material and the factor of a pore's shadow
DARK_BROWN = np.array([0.05, 0.025, 0.015])
RED_BROWN = np.array([0.30, 0.10, 0.06])
SHADOW = 0.8


def _dots(skin: np.ndarray, kinds: list[str], seed: int = 0, shadow: float = SHADOW
          ) -> np.ndarray:
    """A skin of one colour with dots 0.24 mm across, some sensor noise, as sRGB: crusts
    (``brown``, ``red-brown``, ``faint-brown``) in turn on a 1 mm laser grid (``shed``: a
    site whose crust has come off), pores (``pore``: the shadow of an opening, which keeps
    ``shadow`` of the skin's light) scattered between them."""
    rng = np.random.default_rng(seed)
    crusts = [k for k in kinds if k != "pore"]
    cols = int(np.ceil(np.sqrt(max(len(kinds), 1)))) + 2
    h = w = (cols + 1) * PITCH_PX
    lin = np.broadcast_to(skin, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    sites = [((1 + k // cols) * PITCH_PX - 0.5, (1 + k % cols) * PITCH_PX - 0.5)
             for k in range(len(crusts))]
    centres = list(zip(sites, crusts, strict=True))
    while len(centres) < len(kinds):  # pores: anywhere at least 0.4 mm from every dot
        c = tuple(rng.uniform(PITCH_PX / 2, h - PITCH_PX / 2, 2))
        if all(np.hypot(c[0] - y, c[1] - x) > 0.4 * PITCH_PX for (y, x), _ in centres):
            centres.append((c, "pore"))
    for (cy, cx), kind in centres:
        alpha = np.clip(3.0 + 0.5 - np.hypot(yy - cy, xx - cx), 0, 1)[..., None]
        if kind == "pore":
            lin *= 1 - (1 - shadow) * alpha
        elif kind != "shed":
            colour = {"brown": DARK_BROWN, "red-brown": RED_BROWN,
                      "faint-brown": 0.4 * DARK_BROWN + 0.6 * skin}[kind]
            lin = lin * (1 - alpha) + alpha * colour
    lin = lin * (1 + rng.normal(0, 0.01, lin.shape))
    return linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def pipes():
    return load_pipeline("laser_recovery"), load_pipeline("acne")


@pytest.mark.parametrize("melanin", [0.02, 0.12])  # light and medium-dark skin
def test_crusts_and_pores_are_told_apart(pipes, melanin):
    laser, acne = pipes
    skin = skin_rgb(np.array(melanin), np.array(0.02))
    kinds = ["brown"] * 12 + ["red-brown"] * 8 + ["pore"] * 16
    photo = _dots(skin, kinds)
    crusts = measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"]
    pores = measure_image(photo, acne, PX_PER_MM).metrics["pore_count"]
    assert crusts == 20  # dark-brown and red-brown crusts, not the pores' shadows
    assert pores == 16  # the shadows, not the crusts


def test_faint_crusts_among_as_many_pores_are_found_on_the_grid_of_the_darker(pipes):
    """100 faint brown crusts on the grid among 100 scattered pore shadows on dark skin:
    among all 200 dots a scattered one has lattice neighbours by chance, and no crust is
    told; searched again among the darker half (``grid_min_objects``), the grid holds the
    crusts. A pore at an empty site of the grid's unfinished last row is on the grid by
    its place (106 found, 2026-12-06)."""
    laser, _ = pipes
    photo = _dots(skin_rgb(np.array(0.2), np.array(0.02)), ["faint-brown"] * 100 + ["pore"] * 100)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == pytest.approx(
        100, abs=8)
    laser.params["microcrust"]["grid_min_objects"] = 0
    try:
        assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] < 10
    finally:
        laser.params["microcrust"]["grid_min_objects"] = 50


def test_single_dark_pixels_are_no_crusts_by_colour(pipes):
    """At 15 px/mm the smallest crust kept (0.06 mm) is a pixel across: 60 scattered single
    pixels of dark-brown crust colour (the beads of a hair too faint to be found, or noise)
    are not crusts by their colour, which is one pixel's (60 counted before 2026-12-06)."""
    laser, _ = pipes
    rng = np.random.default_rng(0)
    lin = np.broadcast_to(skin_rgb(np.array(0.05), np.array(0.02)), (300, 300, 3)).copy()
    lin[rng.integers(10, 290, 60), rng.integers(10, 290, 60)] = DARK_BROWN
    lin = lin * (1 + rng.normal(0, 0.01, lin.shape))
    photo = linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)
    assert measure_image(photo, laser, 15.0).metrics["microcrust_count"] == 0


def test_a_field_of_pores_has_no_crusts(pipes):
    laser, _ = pipes
    photo = _dots(skin_rgb(np.array(0.05), np.array(0.02)), ["pore"] * 24)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == 0


@pytest.mark.parametrize("darkness, counted", [(0.06, 0), (0.09, 30)])
def test_pores_are_counted_from_the_least_texture_level(pipes, darkness, counted):
    # on smooth skin a pore's blob response must reach min_z x level_floor (3.25 x 0.007
    # OD, 0.74 of a uniformly dark pore's density at its best scale): about 7.5 % darker
    # (README, known limits)
    _, acne = pipes
    photo = _dots(skin_rgb(np.array(0.05), np.array(0.02)), ["pore"] * 30, seed=1,
                  shadow=1 - darkness)
    assert measure_image(photo, acne, PX_PER_MM).metrics["pore_count"] == counted


def test_faint_crusts_on_the_laser_grid_are_crusts(pipes):
    """On dark skin a brown crust takes no more light than a pore's shadow: its place on
    the laser's grid tells it (the colour and darkness rules alone find none)."""
    laser, acne = pipes
    skin = skin_rgb(np.array(0.2), np.array(0.02))  # dark skin, CIELAB L* about 40
    photo = _dots(skin, ["faint-brown"] * 36 + ["pore"] * 12)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == pytest.approx(
        36, abs=3)
    assert measure_image(photo, acne, PX_PER_MM).metrics["pore_count"] <= 14


def test_faint_crusts_on_a_healing_grid_are_crusts(pipes):
    """A third of a grid's faint crusts shed (a laser's course healing), on dark skin among
    pore shadows, three captures: a crust left has on average under three of its four side
    neighbours, but more with the diagonals too, which tell it from a scattered dot; and the
    grid found among the darker dots is the photo's grid, against which the fainter ones
    are tested too. Found (2026-12-06): 78, 76 and 80 of 80 (with the sides alone 65, 69
    and 15; with the diagonals but the grid only where it was found, 78, 76 and 46)."""
    laser, _ = pipes
    found = []
    for seed in (1, 2, 3):
        sites = np.random.default_rng(seed).permutation(["faint-brown"] * 80 + ["shed"] * 40)
        photo = _dots(skin_rgb(np.array(0.2), np.array(0.02)), [*sites, *["pore"] * 20],
                      seed=seed)
        found.append(measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"])
    assert 0.95 * 240 <= sum(found) <= 1.05 * 240, found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_half_shed_grid_among_pores_is_taken_at_its_pitch(pipes, seed):
    """Half of a 1 mm grid's faint crusts shed, among 30 pore shadows on dark skin: the
    half-diagonal lattice, whose diagonals are the grid's steps, is not taken for the grid
    (its own steps pair no more dots than chance). Found (2026-12-06): 77, 76 and 73 of 72,
    the pores beside the grid's edge at one of its sites by chance; 55 of 72 for seed 2 with
    the half-diagonal lattice."""
    laser, _ = pipes
    sites = np.random.default_rng(seed).permutation(["faint-brown"] * 72 + ["shed"] * 72)
    photo = _dots(skin_rgb(np.array(0.2), np.array(0.02)), [*sites, *["pore"] * 30], seed=seed)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == pytest.approx(
        72, rel=0.1)


def _spot_under_a_grid(crusts: bool, globules: int, seed: int = 0) -> np.ndarray:
    """Light skin 14 mm square with a pigmented spot 6 mm across in its middle (melanin ten
    times the skin's) holding ``globules`` dark dots 0.2 mm across (at a third of the
    spot's light: a naevus's globules), and, with ``crusts``, a dark-brown crust 0.24 mm
    across on every site of a 1 mm laser grid (144), over the spot too; some sensor noise;
    sRGB."""
    rng = np.random.default_rng(seed)
    side = 14 * PITCH_PX
    skin = skin_rgb(np.array(0.02), np.array(0.02))
    spot = skin_rgb(np.array(0.25), np.array(0.02))
    yy, xx = np.mgrid[0:side, 0:side]
    centre, radius = side / 2 - 0.5, 3 * PITCH_PX

    def disc(lin, y, x, colour, r):
        alpha = np.clip(r + 0.5 - np.hypot(yy - y, xx - x), 0, 1)[..., None]
        return lin * (1 - alpha) + alpha * colour

    lin = disc(np.broadcast_to(skin, (side, side, 3)), centre, centre, spot, radius)
    sites = [((i + 0.5) * PITCH_PX - 0.5, (j + 0.5) * PITCH_PX - 0.5)
             for i in range(1, 13) for j in range(1, 13)]
    dots: list[tuple[float, float]] = []
    while len(dots) < globules:  # inside the spot, away from each other
        r, t = radius * np.sqrt(rng.uniform(0, 0.8)), rng.uniform(0, 2 * np.pi)
        y, x = centre + r * np.sin(t), centre + r * np.cos(t)
        if all(np.hypot(y - v, x - u) > 0.25 * PITCH_PX for v, u in sites + dots):
            dots.append((y, x))
    for y, x in dots:
        lin = disc(lin, y, x, spot / 3, 2.5)
    for y, x in sites if crusts else []:
        lin = disc(lin, y, x, DARK_BROWN, 3.0)
    lin = lin * (1 + rng.normal(0, 0.01, lin.shape))
    return linear_to_srgb(np.clip(lin, 0, 1)).astype(np.float32)


def test_an_untreated_naevus_globules_are_no_crusts(pipes):
    """A naevus's dark globules are as dark as crust material and, by their melanin, as
    red: in a pigmented spot (the pigmentation layer's) that no dot of a laser grid lies
    in, its dots are its own (each of these 40 is a crust by colour alone)."""
    laser, _ = pipes
    untreated = _spot_under_a_grid(crusts=False, globules=40)
    assert measure_image(untreated, laser, PX_PER_MM).metrics["microcrust_count"] <= 2
    laser.params["microcrust"]["host_min_diameter_mm"] = 0.0
    try:
        assert measure_image(untreated, laser, PX_PER_MM).metrics["microcrust_count"] >= 35
    finally:
        laser.params["microcrust"]["host_min_diameter_mm"] = 2.0


def test_crusts_on_a_lasered_lentigo_are_crusts(pipes):
    """A laser's grid crosses a pigmented spot (a lentigo, a common target): the spot is
    treated skin and its crusts count like the others."""
    laser, _ = pipes
    photo = _spot_under_a_grid(crusts=True, globules=0)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == pytest.approx(
        144, abs=3)


def test_globules_of_a_lasered_naevus_are_no_crusts(pipes):
    """A laser's grid crosses a naevus holding 80 dark globules, each a crust by colour
    alone: crust-like dots lie about four times as densely in it as on the skin around,
    so those off the grid are its texture. The grid's 144 crusts are counted, over the
    naevus too; without the texture test (2026-12-06) 224."""
    laser, _ = pipes
    photo = _spot_under_a_grid(crusts=True, globules=80)
    assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] == pytest.approx(
        144, abs=3)
    laser.params["microcrust"]["host_texture_ratio"] = 0.0
    try:
        assert measure_image(photo, laser, PX_PER_MM).metrics["microcrust_count"] >= 200
    finally:
        laser.params["microcrust"]["host_texture_ratio"] = 3.0
