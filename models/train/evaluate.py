#!/usr/bin/env python3
"""End-to-end evaluation of cellvia against ground truth.

Runs ``cellvia analyze`` on images that have truth beside them (Pascal VOC
``STEM.xml`` or ``STEM.truth.json``) and reports detection precision / recall
/ F1 (a detected centroid matches a true cell whose box or disc contains it,
one-to-one, nearest first), count error, live/dead accuracy on matched cells,
and viability error. Used for the figures in the model card.

    python3 models/train/evaluate.py --ldc ../shared/data/ldc --groups cell,g
    python3 models/train/evaluate.py --folder sample-images
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from train import ldc_group  # noqa: E402

IMAGE_EXTENSIONS = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}


def read_truth(image):
    xml = image.with_suffix(".xml")
    if xml.exists():
        cells = []
        for o in ET.parse(xml).findall("object"):
            b = o.find("bndbox")
            box = [float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            label = "live" if o.find("name").text == "Living Cell" else "dead"
            cells.append(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, ("box", box), label))
        return cells
    truth = json.loads(image.with_name(image.stem + ".truth.json").read_text())
    return [(c["x"], c["y"], ("disc", c["region"]["radius"]), c["label"]) for c in truth["cells"]]


def contains(cell, x, y):
    cx, cy, (kind, extent), _ = cell
    if kind == "box":
        return extent[0] <= x <= extent[2] and extent[1] <= y <= extent[3]
    return (x - cx) ** 2 + (y - cy) ** 2 <= extent ** 2


def match(detections, truth):
    pairs = sorted(
        ((x - c[0]) ** 2 + (y - c[1]) ** 2, d, t)
        for d, (x, y) in enumerate(detections)
        for t, c in enumerate(truth)
        if contains(c, x, y)
    )
    used_d, used_t, out = set(), set(), []
    for _, d, t in pairs:
        if d not in used_d and t not in used_t:
            used_d.add(d)
            used_t.add(t)
            out.append((d, t))
    return out


def evaluate(results):
    tp = fp = fn = 0
    abs_err = []
    found_total = truth_total = 0
    ld_right = ld_total = 0
    live_found = live_truth = 0
    per_image = []
    for image in results["images"]:
        path = Path(image["path"])
        truth = read_truth(path)
        if image["status"] != "ok":
            per_image.append({"path": str(path), "status": "error"})
            fn += len(truth)
            continue
        cells = image["cells"]
        pairs = match([(c["x"], c["y"]) for c in cells], truth)
        tp += len(pairs)
        fp += len(cells) - len(pairs)
        fn += len(truth) - len(pairs)
        for d, t in pairs:
            ld_total += 1
            ld_right += cells[d]["label"] == truth[t][3]
        n_found, n_truth = len(cells), len(truth)
        abs_err.append(abs(n_found - n_truth))
        found_total += n_found
        truth_total += n_truth
        live_found += sum(c["label"] == "live" for c in cells)
        live_truth += sum(c[3] == "live" for c in truth)
        per_image.append({"path": str(path), "counted": n_found, "truth": n_truth,
                          "live": sum(c["label"] == "live" for c in cells), "truth_live": sum(c[3] == "live" for c in truth)})
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    return {
        "images": len(results["images"]),
        "truth_cells": truth_total,
        "counted_cells": found_total,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "count_mae_per_image": round(sum(abs_err) / max(len(abs_err), 1), 3),
        "total_count_error_pct": round(100 * (found_total - truth_total) / max(truth_total, 1), 2),
        "live_dead_accuracy_matched": round(ld_right / max(ld_total, 1), 4),
        "viability_counted_pct": round(100 * live_found / max(found_total, 1), 2),
        "viability_truth_pct": round(100 * live_truth / max(truth_total, 1), 2),
        "viability_error_points": round(100 * (live_found / max(found_total, 1) - live_truth / max(truth_total, 1)), 2),
        "per_image": per_image,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cellvia", type=Path, default=Path("target/release/cellvia"))
    ap.add_argument("--ldc", type=Path, help="LDC folder; with --groups, evaluate those file groups")
    ap.add_argument("--groups", default="cell,g")
    ap.add_argument("--folder", type=Path, help="evaluate every image with truth under this folder")
    ap.add_argument("--json", type=Path, help="write the full report here")
    args = ap.parse_args()
    if args.ldc:
        groups = set(args.groups.split(","))
        images = sorted(p for p in args.ldc.glob("*.png") if ldc_group(p.name) in groups)
    else:
        images = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(args.cellvia), "analyze", "--quiet", "--overlays", "never", "--out", out, *map(str, images)],
                       check=False)
        results = json.loads((Path(out) / "results.json").read_text())
    report = evaluate(results)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k != "per_image"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
