"""Face, 68 facial landmarks and anatomical regions (forehead, cheeks, nose, chin).

The face is found with dlib's HOG face detector [1]_ [2]_ (a linear SVM over histograms of
oriented gradients, five sub-detectors for frontal and turned faces) on a copy of the photo
scaled to a longer side of 800 px. When it finds nothing (three-quarter and profile views
turned past ~45 degrees) the max-margin object detector (MMOD) CNN shipped with
``face-recognition-models`` is tried on a copy scaled to 320 px (about 0.4 s on one CPU
core; at 640 px it takes over 2 s). The 68 landmarks of the iBUG 300-W markup [4]_ (jaw
0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67) are then placed by dlib's shape
predictor, an ensemble of regression trees [3]_. Everything runs offline on the CPU; the
models are loaded lazily once per process.

Left and right are the PATIENT's (clinical convention): in an un-mirrored frontal photo the
patient's left cheek is on the image's right (jaw points 9-16, eye 42-47).

Licences of the models
----------------------
* The 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``) was trained by
  dlib's author on the iBUG 300-W dataset [4]_, whose licence EXCLUDES COMMERCIAL USE
  (see dlib's model README, github.com/davisking/dlib-models). Anyone using this module
  commercially must obtain their own landmark model.
* The 5-point shape predictor (not used here) is CC0 (public domain).
* The HOG face detector is part of dlib itself (Boost Software Licence); the MMOD CNN
  face detector (``mmod_human_face_detector.dat``) was trained by dlib's author on a face
  set he labelled himself; dlib-models lists it as CC0 (to be re-checked before release).

References
----------
.. [1] King D.E. Dlib-ml: a machine learning toolkit. J Mach Learn Res 2009;10:1755-1758.
.. [2] Dalal N., Triggs B. Histograms of oriented gradients for human detection. Proc IEEE
       CVPR 2005;1:886-893.
.. [3] Kazemi V., Sullivan J. One millisecond face alignment with an ensemble of regression
       trees. Proc IEEE CVPR 2014:1867-1874.
.. [4] Sagonas C., Tzimiropoulos G., Zafeiriou S., Pantic M. 300 Faces in-the-Wild
       Challenge: the first facial landmark localization challenge. Proc IEEE ICCV
       Workshops 2013:397-403.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

__all__ = [
    "Face",
    "REGIONS",
    "exclusion_masks",
    "excluded_mask",
    "exclusion_polygons",
    "face_outline_mask",
    "face_outline_polygon",
    "find_face",
    "region_masks",
    "region_polygons",
]

REGIONS = ("forehead", "left_cheek", "right_cheek", "nose", "chin")
EXCLUSIONS = ("eyes", "brows", "lips", "nostrils")

WORK_SIDE = 800  # longer side of the copy the detector and the shape predictor see
CNN_SIDE = 320  # longer side of the copy the CNN fallback sees (~0.4 s per image)
#: At a known scale the CNN fallback's copy is reduced (its time falls with its pixels) until
#: the shortest face the scale allows is this tall in it, nasion to chin, px: twice the
#: height from which the CNN finds nearly every face (60 px: 73 of 75 faces, 50 px: 64),
#: room for a scale given up to twice too fine
CNN_MIN_FACE_HEIGHT_PX = 120.0
#: The HOG detector's copy is upsampled twice (four times the work) only when a face in it
#: may have its eyes closer than this, px: twice those of the smallest face its 80 px
#: window holds (a face's box is about 2.2-4.2 times its interocular distance)
UPSAMPLE_BELOW_INTEROCULAR_PX = 72.0
FRONTAL_MAX = 0.25  # |asymmetry| up to which a face counts as frontal
#: Nose height (landmark 27, the bridge between the eyes, to 33, below the nose) per eye
#: distance (:attr:`Face.interocular`) in a frontal view: the median over the 28 frontal faces
#: (|asymmetry| <= FRONTAL_MAX) of the ACNE04 validation photos (10th-90th percentile
#: 0.68-0.91).
NOSE_PER_EYE_DISTANCE = 0.806
PROFILE_MIN = 0.6  # |asymmetry| from which the far cheek is hidden (profile)
MARGIN_IOD = 0.08  # default exclusion margin, fraction of the inter-ocular distance
FOREHEAD_EXTENT = 1.0  # face outline: forehead height, multiple of the brow-to-nose-tip distance
OUTLINE_GROWTH = 1.2  # face outline: scale about its centre (room for the landmarks' error)

# iBUG 68-point index of each point's mirror image (patient's left <-> right)
MIRROR_68 = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)  # fmt: skip

View = Literal["frontal", "left", "right"]


@dataclass(frozen=True)
class Face:
    """A face found in a photograph.

    Attributes
    ----------
    box : tuple of float
        ``(left, top, right, bottom)`` of the detection in image pixels.
    landmarks : ndarray, shape (68, 2)
        iBUG 300-W landmarks as image ``(x, y)``, float64.
    view : {'frontal', 'left', 'right'}
        Which side of the PATIENT's face is turned towards the camera: ``'left'`` means the
        patient's left cheek is the visible one (head turned to the patient's right);
        ``'frontal'`` when ``abs(asymmetry) <= FRONTAL_MAX``.
    asymmetry : float
        ``(d_left - d_right) / (d_left + d_right)`` with ``d_left`` / ``d_right`` the
        horizontal distance from the nose tip (point 30) to the patient's left / right face
        outline (mean of jaw points 14-16 / 0-2): 0 for a frontal face, towards +1 when the
        patient's left side faces the camera. Roughly ``sin(yaw)``.
    confidence : float
        Detector score (HOG SVM margin, or the CNN's confidence when ``detector == 'cnn'``).
    detector : {'hog', 'cnn'}
        Which detector found the face.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    view: View
    asymmetry: float
    confidence: float
    detector: str

    @property
    def interocular(self) -> float:
        """Distance between the eye centres (mean of points 36-41 and 42-47), pixels."""
        p = self.landmarks
        return float(np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0)))

    @property
    def frontal_interocular(self) -> float:
        """The eye distance a frontal view of this face would show, pixels.

        Turning the head shortens the eye distance seen (:attr:`interocular`), not the
        nose's height (points 27 to 33): in a turned face (``abs(asymmetry) >
        FRONTAL_MAX``) the nose's height over :data:`NOSE_PER_EYE_DISTANCE` when that is
        the larger."""
        if abs(self.asymmetry) <= FRONTAL_MAX:
            return self.interocular
        p = self.landmarks
        return max(self.interocular, float(np.linalg.norm(p[33] - p[27])) / NOSE_PER_EYE_DISTANCE)


@functools.cache
def _model(name: str):
    """dlib's ``hog`` or ``cnn`` face detector or its 68-point shape ``predictor``, each
    loaded once, when first needed (a photo without a face needs no shape predictor, whose
    loading takes about half a second)."""
    import dlib

    if name == "hog":
        return dlib.get_frontal_face_detector()
    if name == "cnn":
        return dlib.cnn_face_detection_model_v1(_model_file("mmod_human_face_detector.dat"))
    return dlib.shape_predictor(_model_file("shape_predictor_68_face_landmarks.dat"))


def _model_file(filename: str) -> str:
    """The path of a model file of ``face-recognition-models``, found without importing
    that package: its import loads setuptools' deprecated ``pkg_resources``, whose parser
    leaves reference cycles holding the caller's frames (and the photo in them) until the
    next garbage collection."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("face-recognition-models is not installed")
    return str(Path(spec.submodule_search_locations[0]) / "models" / filename)


def _rgb(srgb: np.ndarray) -> np.ndarray:
    """The photo's three colour channels (a grey photo's one, three times)."""
    img = np.asarray(srgb)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def _to_u8(img: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (or already 8-bit) as 8-bit code values."""
    if img.dtype != np.uint8:
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return img


def _resize(img: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Copy scaled so that its longer side is at most ``side``; returns it and the scale."""
    s = min(1.0, side / max(img.shape[:2]))
    if s < 1.0:
        w, h = round(img.shape[1] * s), round(img.shape[0] * s)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img, s


def face_asymmetry(landmarks: np.ndarray) -> float:
    """Horizontal asymmetry of the nose tip between the two face outlines (see :class:`Face`).

    Parameters
    ----------
    landmarks : ndarray, shape (68, 2)
        iBUG 300-W landmarks, image ``(x, y)``.

    Returns
    -------
    float
        In [-1, 1]; positive when the patient's left side faces the camera.
    """
    p = np.asarray(landmarks, float)
    nose = p[30, 0]
    d_right = abs(nose - p[0:3, 0].mean())  # patient's right outline: image left
    d_left = abs(p[14:17, 0].mean() - nose)
    total = d_left + d_right
    return float((d_left - d_right) / total) if total > 0 else 0.0


def _view(asym: float) -> View:
    if abs(asym) <= FRONTAL_MAX:
        return "frontal"
    return "left" if asym > 0 else "right"


def find_face(
    srgb: np.ndarray, *, cnn_fallback: bool = True, mirrored: bool = False,
    min_interocular_px: float | None = None, min_face_height_px: float | None = None,
) -> Face | None:
    """Find the largest face and its 68 landmarks.

    Parameters
    ----------
    srgb : ndarray, shape (H, W, 3)
        sRGB photo, float in [0, 1] (or uint8).
    cnn_fallback : bool
        Try dlib's MMOD CNN detector (on a 320 px copy) when the HOG detector finds nothing.
    mirrored : bool
        The photo is mirrored (e.g. a front camera's selfie preview): the landmarks are
        relabelled (:data:`MIRROR_68`) so that left / right stay the patient's. Mirroring
        cannot be told from the image itself; the shape predictor always puts point 0 on
        the image's left.
    min_interocular_px : float, optional
        The smallest distance between the eyes that a face in this photo can have, px
        (e.g. from its known scale): the detector's copy is upsampled, to find small faces,
        only when that is under :data:`UPSAMPLE_BELOW_INTEROCULAR_PX` in it (unknown: when
        the copy is under 1000 px).
    min_face_height_px : float, optional
        The shortest face (nasion to chin) this photo can hold, px (e.g. from its known
        scale): the CNN fallback's copy is at most as large as puts such a face
        :data:`CNN_MIN_FACE_HEIGHT_PX` tall in it (unknown: :data:`CNN_SIDE`).

    Returns
    -------
    Face or None
        ``None`` when no face is found.

    References
    ----------
    .. [1] King D.E. Dlib-ml: a machine learning toolkit. J Mach Learn Res 2009;10:1755-1758.
    .. [2] Dalal N., Triggs B. Histograms of oriented gradients for human detection. CVPR 2005.
    .. [3] Kazemi V., Sullivan J. One millisecond face alignment with an ensemble of
           regression trees. CVPR 2014.
    """
    import dlib

    full = _rgb(srgb)  # reduced before it is made 8-bit: the full-size photo is not copied
    work, s = _resize(full, WORK_SIDE)
    work = _to_u8(work)
    small = min_interocular_px is None or min_interocular_px * s < UPSAMPLE_BELOW_INTEROCULAR_PX
    upsample = 1 if max(work.shape[:2]) < 1000 and small else 0
    rects, scores, _ = _model("hog").run(work, upsample, 0.0)
    detector = "hog"
    cands = [(r, float(c)) for r, c in zip(rects, scores, strict=True)]
    if not cands and cnn_fallback:
        side = CNN_SIDE if not min_face_height_px else min(
            CNN_SIDE, max(full.shape[:2]) * CNN_MIN_FACE_HEIGHT_PX / min_face_height_px)
        small, s2 = _resize(full, side)
        small = _to_u8(small)
        k = s / s2
        detector = "cnn"
        for d in _model("cnn")(small, 0):
            r = d.rect
            rect = dlib.rectangle(
                round(r.left() * k), round(r.top() * k), round(r.right() * k), round(r.bottom() * k)
            )
            cands.append((rect, float(d.confidence)))
    if not cands:
        return None
    rect, conf = max(cands, key=lambda rc: rc[0].width() * rc[0].height())
    shape = _model("predictor")(work, rect)
    pts = np.array([(q.x, q.y) for q in shape.parts()], float)
    pts = (pts + 0.5) / s - 0.5
    if mirrored:
        pts = pts[MIRROR_68]
    box = tuple((np.array([rect.left(), rect.top(), rect.right(), rect.bottom()]) + 0.5) / s - 0.5)
    asym = face_asymmetry(pts)
    return Face(
        box=tuple(float(v) for v in box),
        landmarks=pts,
        view=_view(asym),
        asymmetry=asym,
        confidence=conf,
        detector=detector,
    )


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + t * (b - a)


def _axes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit 'up' vector of the face (chin to brows), unit image-right vector, and the IOD."""
    up = p[17:27].mean(0) - p[8]
    up = up / (np.linalg.norm(up) or 1.0)
    right = np.array([-up[1], up[0]])  # up rotated by +90 degrees in image coordinates
    if right[0] < 0:
        right = -right
    iod = float(np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0)))
    return up, right, iod


def exclusion_polygons(face: Face) -> dict[str, list[np.ndarray]]:
    """Polygons of the eyes, brows, lips and nostrils (image ``x, y``).

    Eyes are the lid contours (36-41, 42-47); brows the brow points (17-21, 22-26) thickened
    to a band 0.06 IOD above and 0.10 IOD below them (the iBUG points follow the brow's
    upper-middle); lips the outer lip contour (48-59); each nostril the triangle-like area
    between the base of the nose (31-33, 33-35) and 45 % of the way up to the nose tip (30).

    Parameters
    ----------
    face : Face

    Returns
    -------
    dict of str to list of ndarray, shape (N, 2)
        Keys ``eyes``, ``brows``, ``lips``, ``nostrils``.
    """
    p = face.landmarks
    up, _, iod = _axes(p)

    def brow(ix: slice) -> np.ndarray:
        b = p[ix]
        return np.vstack([b + 0.06 * iod * up, (b - 0.10 * iod * up)[::-1]])

    def nostril(ix: list[int]) -> np.ndarray:
        base = p[ix]
        top = base + 0.45 * (p[30] - p[33])
        return np.vstack([base, top[::-1]])

    return {
        "eyes": [p[36:42].copy(), p[42:48].copy()],
        "brows": [brow(slice(17, 22)), brow(slice(22, 27))],
        "lips": [p[48:60].copy()],
        "nostrils": [nostril([31, 32, 33]), nostril([33, 34, 35])],
    }


def region_polygons(face: Face) -> dict[str, np.ndarray]:
    """Anatomical regions built from the 68 iBUG 300-W landmarks [1]_.

    * ``forehead``: from the brows up to 0.6 of the brow-to-nose-tip distance (brow
      midpoint to point 30), along the face's up axis; hair is left to the skin mask.
    * ``right_cheek`` / ``left_cheek`` (the PATIENT's): face outline (jaw 1-4 / 12-15) up
      to below the lower lid (points 36, 41, 40, 39 / 42, 47, 46, 45 moved down by
      0.15 IOD), the side of the nose (halfway between the inner eye corner and the nose
      bridge, then the nose wing 31 / 35) and the mouth corner (48 / 54).
    * ``nose``: bridge and body, from point 27 (half the width to the inner eye corners)
      down to the nose base 31-35; the nostrils are subtracted by :func:`region_masks`.
    * ``chin``: between the lower lip (55-59) and the jaw (6-10).

    When the face is turned far (``abs(face.asymmetry) >= PROFILE_MIN``: most three-quarter
    and all profile views, where the far jaw outline lies next to the nose) the cheek turned
    away from the camera is left out.

    Parameters
    ----------
    face : Face

    Returns
    -------
    dict of str to ndarray, shape (N, 2)
        Polygons in image ``(x, y)``; the regions in :data:`REGIONS` that are visible.

    References
    ----------
    .. [1] Sagonas C., Tzimiropoulos G., Zafeiriou S., Pantic M. 300 Faces in-the-Wild
           Challenge: the first facial landmark localization challenge. ICCV Workshops 2013.
    """
    p = face.landmarks
    up, _, iod = _axes(p)
    brow_mid = p[17:27].mean(0)
    height = 0.6 * float(np.linalg.norm(brow_mid - p[30]))
    brows = p[17:27]
    forehead = np.vstack([brows, (brows + height * up)[::-1]])

    lid = 0.15 * iod
    right_cheek = np.vstack(
        [
            p[1:5],
            p[48],
            p[31],
            _lerp(p[39], p[28], 0.5) - lid * up,
            p[[39, 40, 41, 36]] - lid * up,
        ]
    )
    left_cheek = np.vstack(
        [
            p[12:16][::-1],
            p[54],
            p[35],
            _lerp(p[42], p[28], 0.5) - lid * up,
            p[[42, 47, 46, 45]] - lid * up,
        ]
    )
    nose = np.vstack([p[27], _lerp(p[27], p[42], 0.5), p[35:30:-1], _lerp(p[27], p[39], 0.5)])
    chin = np.vstack([p[6:11], p[55:60]])

    out = {
        "forehead": forehead,
        "left_cheek": left_cheek,
        "right_cheek": right_cheek,
        "nose": nose,
        "chin": chin,
    }
    if face.asymmetry >= PROFILE_MIN:
        del out["right_cheek"]
    elif face.asymmetry <= -PROFILE_MIN:
        del out["left_cheek"]
    return out


def face_outline_polygon(face: Face) -> np.ndarray:
    """The face's outline: the convex hull of the jaw line (iBUG points 0-16) and of the
    brows (17-26) raised by :data:`FOREHEAD_EXTENT` times the brow-to-nose-tip distance
    (brow midpoint to point 30; the forehead up to about the hairline), scaled by
    :data:`OUTLINE_GROWTH` about its centre (room for the landmarks' placement error at the
    jaw and temples).

    Everything outside it (neck, ears, hair, clothes, backdrop) is no part of the face, even
    where it passes as skin colour.

    Parameters
    ----------
    face : Face

    Returns
    -------
    ndarray, shape (N, 2)
        Convex polygon in image ``(x, y)``.
    """
    p = face.landmarks
    raise_by = FOREHEAD_EXTENT * (p[17:27].mean(0) - p[30])
    pts = np.vstack([p[0:17], p[17:27] + raise_by])
    centre = pts.mean(0)
    pts = centre + OUTLINE_GROWTH * (pts - centre)
    return cv2.convexHull(pts.astype(np.float32))[:, 0, :].astype(float)


def face_outline_mask(face: Face, shape: tuple[int, ...]) -> np.ndarray:
    """Rasterised :func:`face_outline_polygon`: (H, W) bool, True inside the face."""
    return _fill([face_outline_polygon(face)], _shape2(shape))


def _shape2(shape: tuple[int, ...]) -> tuple[int, int]:
    return int(shape[0]), int(shape[1])


def _fill(polys: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    pts = [np.round(q * 16).astype(np.int32) for q in polys]
    cv2.fillPoly(m, pts, 1, lineType=cv2.LINE_8, shift=4)
    return m.astype(bool)


def _dilate(mask: np.ndarray, r: float) -> np.ndarray:
    r = int(round(r))
    if r <= 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def default_margin(face: Face) -> float:
    """Default exclusion margin: 0.08 of the inter-ocular distance (pixels).

    The adult inter-ocular distance is about 63 mm (Dodgson 2004), so the margin is about
    5 mm: it covers lashes, lid folds, the vermilion border and the alar crease that the
    landmarks (which follow the openings) leave outside.
    """
    return MARGIN_IOD * face.interocular


def exclusion_masks(
    face: Face, shape: tuple[int, ...], margin_px: float = 0.0
) -> dict[str, np.ndarray]:
    """Rasterised :func:`exclusion_polygons` (eyes, brows, lips, nostrils).

    Parameters
    ----------
    face : Face
    shape : tuple
        Image shape; only the first two entries are used.
    margin_px : float
        Dilate each mask by a disk of this radius (0: the bare polygons).

    Returns
    -------
    dict of str to ndarray of bool
    """
    hw = _shape2(shape)
    return {k: _dilate(_fill(v, hw), margin_px) for k, v in exclusion_polygons(face).items()}


def excluded_mask(face: Face, shape: tuple[int, ...], margin_px: float | None = None
                  ) -> np.ndarray:
    """Union of the eyes, brows, lips and nostrils, each dilated by ``margin_px``.

    Parameters
    ----------
    face : Face
    shape : tuple
        Image shape; only ``shape[:2]`` is used.
    margin_px : float, optional
        Exclusion margin in pixels; default :func:`default_margin` (0.08 IOD, ~5 mm).

    Returns
    -------
    ndarray of bool, shape (H, W)
        Pixels that are no region's skin (e.g. removed from a face photo's ``whole``).
    """
    hw = _shape2(shape)
    excl = np.zeros(hw, bool)
    for m in exclusion_masks(face, hw, default_margin(face) if margin_px is None
                             else margin_px).values():
        excl |= m
    return excl


def region_masks(
    face: Face,
    shape: tuple[int, ...],
    skin: np.ndarray | None = None,
    margin_px: float | None = None,
) -> dict[str, np.ndarray]:
    """Boolean masks of the anatomical regions.

    The :func:`region_polygons` are rasterised (``cv2.fillPoly``), the eyes, brows, lips
    and nostrils dilated by ``margin_px`` are removed, and the regions are made disjoint
    (priority nose, chin, forehead, then the cheeks). With ``skin`` they are intersected
    with that mask (e.g. :func:`skinmetrics.roi` output, which removes hair and shadow).

    Parameters
    ----------
    face : Face
    shape : tuple
        Image shape; only ``shape[:2]`` is used.
    skin : ndarray of bool, shape (H, W), optional
    margin_px : float, optional
        Exclusion margin in pixels; default :func:`default_margin` (0.08 IOD, ~5 mm).

    Returns
    -------
    dict of str to ndarray of bool, shape (H, W)
        One mask per visible region (see :func:`region_polygons`).
    """
    hw = _shape2(shape)
    keep = ~excluded_mask(face, hw, margin_px)
    if skin is not None:
        keep &= np.asarray(skin, bool)
    polys = region_polygons(face)
    taken = np.zeros(hw, bool)
    out: dict[str, np.ndarray] = {}
    for name in ("nose", "chin", "forehead", "right_cheek", "left_cheek"):
        if name not in polys:
            continue
        m = _fill([polys[name]], hw) & keep & ~taken
        taken |= m
        out[name] = m
    return {k: out[k] for k in REGIONS if k in out}
