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
  * sample-images/;
and the generalisation suite (`--generalisation`):
  * domain-randomised synthetic fields of unseen optics (fresh seeds);
  * size swap: synthetic fields whose dead cells are smaller than, as large
    as, or larger than live ones, in each of the seven live/dead looks;
  * the held-out LDC groups resampled x0.5, x1.5, x2, x3, with the default
    `--diameter auto` and with the LDC range scaled by hand;
  * a `--diameter` sweep on the held-out LDC groups.
The generalisation suite needs Pillow (models/train/requirements.txt).
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


def evaluate_with(cellvia, images, truth, out, flags):
    subprocess.run([str(cellvia), "analyze", "--quiet", "--overlays", "never", "--no-html", "--out", str(out),
                    *flags, *map(str, images)], check=False, stdout=subprocess.DEVNULL)
    report = subprocess.run([str(cellvia), "eval", "--json", "--truth", str(truth),
                             str(out / "results.json")], check=True, capture_output=True, text=True)
    return json.loads(report.stdout)["overall"]


def resample(images, truth_dir, folder, factor):
    """LDC images resized by `factor` (bilinear) with their VOC boxes scaled."""
    import re
    from PIL import Image
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    box = re.compile(r"<(xmin|ymin|xmax|ymax)>(\d+)</\1>")
    for p in images:
        im = Image.open(p)
        a = np.asarray(im.convert("I") if im.mode.startswith("I") else im.convert("L"), dtype=np.float64)
        if a.max() > 255:
            a = a / 257.0
        im = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), mode="L")
        size = (max(8, round(im.size[0] * factor)), max(8, round(im.size[1] * factor)))
        im.resize(size, Image.BILINEAR).save(folder / p.name)
        xml = (truth_dir / (p.stem + ".xml")).read_text()
        (folder / (p.stem + ".xml")).write_text(
            box.sub(lambda m: f"<{m[1]}>{round(int(m[2]) * factor)}</{m[1]}>", xml))
    return sorted(folder.glob("*.png"))


LOOKS = [("refractile", "dark"), ("halo-bright", "textured"), ("halo-dark", "pale"), ("dim", "dark"),
         ("refractile", "pale"), ("halo-bright", "dark"), ("dim", "textured")]


def generalisation(cellvia, ldc, tmp):
    rows = []
    scene = tmp / "unseen"
    # Each randomised field is its own optics: a folder (sample) of its own,
    # so --diameter auto measures it alone.
    for i in range(40):
        subprocess.run([str(cellvia), "synth", "--out", str(scene / f"f{i:02d}"), "--seed", str(9500 + i),
                        "--width", "768", "--height", "768", "--cells", "60", "--randomize"],
                       check=True, stderr=subprocess.DEVNULL)
    o = evaluate_with(cellvia, [scene], scene, tmp / "out-unseen", [])
    rows.append(row("domain-randomised synthetic, unseen seeds (40 fields, 8-150 px cells)",
                    "viability ±2, live/dead ≥ 0.97, count ±2 %", o))
    for ratio, what in ((0.6, "smaller"), (1.0, "as large as"), (1.6, "larger")):
        for i, (live, dead) in enumerate(LOOKS):
            folder = tmp / f"swap-{ratio}-{i}"
            subprocess.run([str(cellvia), "synth", "--out", str(folder), "--count", "3", "--seed",
                            str(9600 + 10 * i + int(ratio * 100)), "--width", "1000", "--height", "800",
                            "--cells", "120", "--dead-fraction", "0.4", "--diameter", "24",
                            "--dead-size-ratio", str(ratio), "--live-looks", live, "--dead-looks", dead,
                            "--prefix", f"swap{ratio}-{i}"],
                           check=True, stderr=subprocess.DEVNULL)
        o = evaluate_with(cellvia, [tmp / f"swap-{ratio}-{i}" for i in range(len(LOOKS))], tmp,
                          tmp / f"out-swap-{ratio}", [])
        rows.append(row(f"size swap: dead cells {what} live (×{ratio}), 7 looks × 3 fields",
                        "viability ±2 points", o))
    if ldc:
        held_out = sorted(p for p in ldc.glob("*.png") if ldc_group(p.name) in HELD_OUT_GROUPS)
        for factor in (0.5, 1.5, 2.0, 3.0):
            images = resample(held_out, ldc, tmp / f"ldc-x{factor}", factor)
            o = evaluate_with(cellvia, images, tmp / f"ldc-x{factor}", tmp / f"out-x{factor}", [])
            rows.append(row(f"LDC held out, resampled ×{factor}, --diameter auto", "viability ±1.5 points", o))
            d = f"{12 * factor:g},{40 * factor:g}"
            o = evaluate_with(cellvia, images, tmp / f"ldc-x{factor}", tmp / f"out-x{factor}-d",
                              ["--diameter", d])
            rows.append(row(f"LDC held out, resampled ×{factor}, --diameter {d}", "viability ±1.5 points", o))
        for d in ("8,30", "10,35", "12,40", "14,48", "16,60"):
            o = evaluate_with(cellvia, held_out, ldc, tmp / f"out-d{d}", ["--diameter", d])
            rows.append(row(f"LDC held out, --diameter {d}", "viability within 1 point of auto", o))
    return rows


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
    ap.add_argument("--generalisation", action="store_true", help="also run the generalisation suite")
    ap.add_argument("--only-generalisation", action="store_true", help="run only the generalisation suite")
    args = ap.parse_args()
    if not args.cellvia.exists():
        sys.exit(f"{args.cellvia} not found: run `cargo build --release` first")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (name, target, flags, assay) in enumerate([] if args.only_generalisation else SYNTHETIC):
            for depth, label in (("8", "8-bit PNG"), ("12", "12-bit in 16-bit TIFF")):
                scene = tmp / f"scene{i}-{depth}"
                subprocess.run([str(args.cellvia), "synth", "--out", str(scene), "--width", "1600",
                                "--height", "1200", "--depth", depth, *flags],
                               check=True, stderr=subprocess.DEVNULL)
                images = sorted(p for p in scene.iterdir() if p.suffix in (".png", ".tif"))
                o = evaluate(args.cellvia, images, scene, tmp / f"out{i}-{depth}", assay)
                rows.append(row(f"{name}, {label}", target, o))
        if args.ldc and not args.only_generalisation:
            images = sorted(p for p in args.ldc.glob("*.png") if ldc_group(p.name) in HELD_OUT_GROUPS)
            o = evaluate(args.cellvia, images, args.ldc, tmp / "out-ldc")
            rows.append(row("LDC groups `cell` + `g` (held out from training)", "F1 ≥ 0.95, MAE ≤ 0.3", o))
        if not args.only_generalisation:
            sample = REPO / "sample-images"
            o = evaluate(args.cellvia, [sample], sample, tmp / "out-sample")
            rows.append(row("`sample-images/` (6 LDC + 3 synthetic)", "–", o))
        if args.generalisation or args.only_generalisation:
            rows += generalisation(args.cellvia, args.ldc, tmp)
    print("| data | images | true cells | precision | recall | F1 | count MAE / image | "
          "total count error | live/dead accuracy (matched) | viability error (points) | target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
