#!/usr/bin/env python3
"""The plain scikit-image pipeline issue 14 compares cellvia against.

Per field: read, flatten the lamp (Gaussian background of a few cell
diameters), Otsu threshold on |contrast|, fill holes, drop specks, distance
transform, peak_local_max seeds, watershed, region properties, and a
mean-intensity rule for live/dead. Fields go to a pool of processes (2 by
default, the cores of the machine the README's figures come from), as
cellvia spreads them over its threads.

    python3 scripts/skimage-baseline.py FIELDS/ [--processes 2] [--diameter 20]

Prints the wall time (reading included) and, where `cellvia synth` wrote a
`<stem>.truth.json` (disc truth) beside a field, detection
precision/recall/F1 against it, matched as `cellvia eval` does (pairs of a
detection inside a true cell's radius, nearest first, each used once), so
speed is compared at a known accuracy. Label masks (`*.labels.png`) are
skipped. Needs numpy, scipy, scikit-image ≥ 0.26 (`max_size` of
`remove_small_objects`) and Pillow; nothing here is part of cellvia.
"""
import argparse
import json
import pathlib
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import feature, filters, measure, morphology, segmentation

EXTENSIONS = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}


def analyse(args):
    path, diameter = args
    img = np.asarray(Image.open(path)).astype(np.float32)
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    background = filters.gaussian(img, sigma=2.0 * diameter, preserve_range=True)
    contrast = np.abs(img / np.maximum(background, 1e-6) - 1.0)
    contrast = filters.gaussian(contrast, sigma=max(diameter / 20.0, 0.5))
    mask = contrast > filters.threshold_otsu(contrast)
    mask = ndi.binary_fill_holes(mask)
    min_area = np.pi * (0.375 * diameter) ** 2
    mask = morphology.remove_small_objects(mask, max_size=int(min_area))
    distance = ndi.distance_transform_edt(mask)
    peaks = feature.peak_local_max(
        distance, min_distance=max(int(0.3 * diameter), 1), labels=measure.label(mask)
    )
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = segmentation.watershed(-distance, markers, mask=mask)
    # Rule: a dead cell takes up the dye, so its interior is darker than
    # the lamp by more than a tenth.
    cells = []
    for region in measure.regionprops(labels, intensity_image=img / np.maximum(background, 1e-6)):
        y, x = region.centroid
        cells.append((x, y, "live" if region.intensity_mean > 0.9 else "dead"))
    return str(path), cells


def score(cells, truth):
    """Matched detections, detections and true cells: candidate pairs of a
    detection within a true cell's radius, taken nearest first, each
    detection and true cell at most once."""
    true = [(c["x"], c["y"], c["region"]["radius"]) for c in truth["cells"]]
    pairs = sorted(
        (np.hypot(x - tx, y - ty), d, t)
        for d, (x, y, _) in enumerate(cells)
        for t, (tx, ty, r) in enumerate(true)
        if np.hypot(x - tx, y - ty) <= r
    )
    used_d, used_t = set(), set()
    for _, d, t in pairs:
        if d not in used_d and t not in used_t:
            used_d.add(d)
            used_t.add(t)
    return len(used_d), len(cells), len(true)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=pathlib.Path)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--diameter", type=float, default=20.0, help="typical cell diameter, px")
    args = ap.parse_args()
    fields = sorted(
        p for p in args.folder.iterdir()
        if p.suffix.lower() in EXTENSIONS and not p.name.endswith(".labels.png")
    )
    start = time.perf_counter()
    with Pool(args.processes) as pool:
        results = pool.map(analyse, [(p, args.diameter) for p in fields], chunksize=1)
    wall = time.perf_counter() - start
    print(f"{len(fields)} fields in {wall:.2f} s ({len(fields) / wall:.2f} fields/s, "
          f"{args.processes} processes)")
    tp = counted = true = 0
    for path, cells in results:
        field = pathlib.Path(path)
        truth_path = field.with_name(field.stem + ".truth.json")
        if truth_path.exists():
            m, c, t = score(cells, json.loads(truth_path.read_text()))
            tp, counted, true = tp + m, counted + c, true + t
    if true:
        precision, recall = tp / max(counted, 1), tp / true
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        print(f"precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f} "
              f"(counted {counted}, true {true})")


if __name__ == "__main__":
    main()
