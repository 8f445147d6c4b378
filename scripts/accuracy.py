#!/usr/bin/env python3
"""Regenerates the README's accuracy table: `cellvia analyze` then `cellvia eval`
on every benchmark scene, printed as a Markdown table.

    cargo build --release && python3 scripts/accuracy.py [--ldc ../shared/data/ldc]

Scenes (the synthetic seeds are fixed here and were not used to tune cellvia):
  * synthetic brightfield 1600x1200, ~150 cells, 15 % clumped, 10 % defocused,
    8-bit PNG and the same scenes as 12-bit data in 16-bit TIFFs;
  * synthetic dense 1600x1200, 600 cells, 35 % clumped, 8-bit and 12-bit;
  * the same two kinds of scene as AO/PI fluorescence composites
    (`synth --mode aopi`, analysed with `--assay aopi`), 8-bit and 12-bit;
  * LDC file groups held out from model training (`cell`, `g`) when --ldc is given;
  * sample-images/.
Only the Python standard library is needed.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "models/train"))
from ldc import HELD_OUT_GROUPS, ldc_group  # noqa: E402
SYNTHETIC = [
    # name, target, synth flags, assay
    ("synthetic 1600×1200, 150 cells, 15 % clumped", "F1 ≥ 0.99, count ±1 %",
     ["--count", "10", "--seed", "9000", "--cells", "150", "--clump-fraction", "0.15"], "trypan"),
    ("synthetic dense 1600×1200, 600 cells, 35 % clumped", "F1 ≥ 0.97, count ±3 %",
     ["--count", "5", "--seed", "9100", "--cells", "600", "--clump-fraction", "0.35"], "trypan"),
    ("AO/PI synthetic 1600×1200, 150 cells, 15 % clumped", "count ±2 %, viability ±1 point",
     ["--mode", "aopi", "--count", "10", "--seed", "9200", "--cells", "150", "--clump-fraction", "0.15"],
     "aopi"),
    ("AO/PI synthetic dense 1600×1200, 600 cells, 35 % clumped", "count ±2 %, viability ±1 point",
     ["--mode", "aopi", "--count", "5", "--seed", "9300", "--cells", "600", "--clump-fraction", "0.35"],
     "aopi"),
]


def evaluate(cellvia, images, truth, out, assay="trypan"):
    """Analyse `images` into `out` and return eval's overall report."""
    subprocess.run([str(cellvia), "analyze", "--quiet", "--overlays", "never", "--assay", assay,
                    "--out", str(out), *map(str, images)], check=False, stdout=subprocess.DEVNULL)
    report = subprocess.run([str(cellvia), "eval", "--json", "--truth", str(truth),
                             str(out / "results.json")], check=True, capture_output=True, text=True)
    return json.loads(report.stdout)["overall"]


def row(name, target, o):
    def pct(v, digits=1):
        return "–" if v is None else f"{v:+.{digits}f}".replace("-", "−")

    return (f"| {name} | {o['images_scored']} | {o['tally']['truth_cells']:,} | {o['precision']:.3f} | "
            f"{o['recall']:.3f} | {o['f1']:.3f} | {o['count_mae_per_image']:.2f} | "
            f"{pct(o['total_count_error_pct'], 2)} % | {o['live_dead_accuracy']:.3f} | "
            f"{pct(o['viability_error_points'], 2)} | {target} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cellvia", type=Path, default=REPO / "target/release/cellvia")
    ap.add_argument("--ldc", type=Path, help="LDC folder (Pascal VOC labels beside the images)")
    args = ap.parse_args()
    if not args.cellvia.exists():
        sys.exit(f"{args.cellvia} not found: run `cargo build --release` first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (name, target, flags, assay) in enumerate(SYNTHETIC):
            for depth, label in (("8", "8-bit PNG"), ("12", "12-bit in 16-bit TIFF")):
                scene = tmp / f"scene{i}-{depth}"
                subprocess.run([str(args.cellvia), "synth", "--out", str(scene), "--width", "1600",
                                "--height", "1200", "--depth", depth, *flags],
                               check=True, stderr=subprocess.DEVNULL)
                images = sorted(p for p in scene.iterdir() if p.suffix in (".png", ".tif"))
                o = evaluate(args.cellvia, images, scene, tmp / f"out{i}-{depth}", assay)
                rows.append(row(f"{name}, {label}", target, o))
        if args.ldc:
            images = sorted(p for p in args.ldc.glob("*.png") if ldc_group(p.name) in HELD_OUT_GROUPS)
            o = evaluate(args.cellvia, images, args.ldc, tmp / "out-ldc")
            rows.append(row("LDC groups `cell` + `g` (held out from training)", "F1 ≥ 0.95, MAE ≤ 0.3", o))
        sample = REPO / "sample-images"
        o = evaluate(args.cellvia, [sample], sample, tmp / "out-sample")
        rows.append(row("`sample-images/` (6 LDC + 3 synthetic)", "–", o))
    print("| data | images | true cells | precision | recall | F1 | count MAE / image | "
          "total count error | live/dead accuracy (matched) | viability error (points) | target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
