"""Face detection, landmarks and regions on the ACNE04 validation photos; prints Markdown.

    python benchmarks/face_regions.py [--data ../shared/data/acne04_valid] [--sheet 24]

For every photo: whether a face was found (and by which detector), the landmark view, the
time per image, and the checks that no region covers an eye, lip or nostril polygon and that
each cheek lies on its side of the nose tip. Detection rates are reported by view from a
hand labelling of the thumbnails (``VIEWS`` below: near-frontal, profile and close-ups with
no whole face; everything else is three-quarter). A contact sheet with the regions drawn on
a sample of the photos is written to ``benchmarks/output/face_regions.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from skinmetrics.face import exclusion_masks, find_face, region_masks
from skinmetrics.io import read_image

# Hand labels of the 283 ACNE04 validation photos (by file-name prefix, from thumbnails).
_VIEWS = json.loads((Path(__file__).with_name("acne04_views.json")).read_text())
FRONTAL, PROFILE, CLOSEUP = (set(_VIEWS[k]) for k in ("frontal", "profile", "closeup"))
COLOURS = {  # BGR
    "forehead": (255, 160, 0),
    "left_cheek": (0, 200, 0),
    "right_cheek": (0, 0, 255),
    "nose": (0, 255, 255),
    "chin": (255, 0, 255),
}


def stem(path: Path) -> str:
    return path.name.split("_jpg")[0]


def hand_view(path: Path) -> str:
    s = stem(path)
    if s in FRONTAL:
        return "frontal"
    if s in PROFILE:
        return "profile"
    if s in CLOSEUP:
        return "close-up"
    return "three-quarter"


def check(face, shape) -> tuple[bool, bool]:
    """(no region pixel in an eye/lip/nostril polygon, cheeks on their side of the nose)."""
    masks = region_masks(face, shape)
    ex = exclusion_masks(face, shape)
    bad = ex["eyes"] | ex["lips"] | ex["nostrils"]
    clean = not any((m & bad).any() for m in masks.values())
    nose_x = face.landmarks[30, 0]
    sides = True
    for name, sign in (("left_cheek", 1), ("right_cheek", -1)):
        if name in masks and masks[name].any():
            sides &= bool(sign * (np.nonzero(masks[name])[1].mean() - nose_x) > 0)
    return clean, sides


def draw(img: np.ndarray, face, size: int = 240) -> np.ndarray:
    out = np.ascontiguousarray((np.clip(img, 0, 1) * 255).astype(np.uint8)[..., ::-1])
    if face is not None:
        for name, m in region_masks(face, img.shape).items():
            out[m] = (0.55 * out[m] + 0.45 * np.array(COLOURS[name])).astype(np.uint8)
        for x, y in face.landmarks:
            cv2.circle(out, (int(x), int(y)), 2, (255, 255, 255), -1)
        label = f"{face.view} {face.asymmetry:+.2f} {face.detector}"
    else:
        label = "no face"
    out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    cv2.putText(out, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
    return out


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data", type=Path, default=here.parent / ".." / "shared" / "data" / "acne04_valid"
    )
    ap.add_argument("--sheet", type=int, default=24, help="photos on the contact sheet")
    args = ap.parse_args()
    files = sorted((args.data / "images").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no photos under {args.data / 'images'}")
    find_face(np.zeros((64, 64, 3), np.float32))  # load the models outside the timing
    rows, tiles = [], []
    pick = set(np.linspace(0, len(files) - 1, args.sheet).round().astype(int).tolist())
    for i, f in enumerate(files):
        img = read_image(f)
        img = img[0] if isinstance(img, tuple) else img
        t0 = time.perf_counter()
        face = find_face(img)
        dt = time.perf_counter() - t0
        clean, sides = check(face, img.shape) if face is not None else (True, True)
        rows.append((hand_view(f), face, dt, clean, sides))
        if i in pick:
            tiles.append(draw(img, face))
    print(f"{len(files)} photos, {args.data}\n")
    print(
        "| view (hand) | photos | found | HOG | CNN | landmark view F/L/R | regions clean | "
        "cheek sides | s/image |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for view in ("frontal", "three-quarter", "profile", "close-up", "all"):
        sel = [r for r in rows if view == "all" or r[0] == view]
        found = [r for r in sel if r[1] is not None]
        n_hog = sum(r[1].detector == "hog" for r in found)
        lv = [sum(r[1].view == v for r in found) for v in ("frontal", "left", "right")]
        print(
            f"| {view} | {len(sel)} | {len(found)} ({100 * len(found) / len(sel):.0f} %) | "
            f"{n_hog} | {len(found) - n_hog} | {lv[0]}/{lv[1]}/{lv[2]} | "
            f"{sum(r[3] for r in found)}/{len(found)} | {sum(r[4] for r in found)}/{len(found)} | "
            f"{np.mean([r[2] for r in sel]):.2f} |"
        )
    out = here / "output"
    out.mkdir(exist_ok=True)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 6)
    sheet = np.vstack([np.hstack(tiles[r : r + 6]) for r in range(0, len(tiles), 6)])
    cv2.imwrite(str(out / "face_regions.png"), sheet)
    print(f"\ncontact sheet: {out / 'face_regions.png'}")


if __name__ == "__main__":
    main()
