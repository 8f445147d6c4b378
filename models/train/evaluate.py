#!/usr/bin/env python3
"""End-to-end evaluation: ``cellvia analyze`` then ``cellvia eval`` on images
that have ground truth (Pascal VOC ``STEM.xml`` or ``STEM.truth.json``).

    python3 models/train/evaluate.py --ldc ../shared/data/ldc --groups cell,g
    python3 models/train/evaluate.py --folder sample-images
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ldc import ldc_group  # noqa: E402

IMAGE_EXTENSIONS = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cellvia", type=Path, default=Path("target/release/cellvia"))
    ap.add_argument("--ldc", type=Path, help="LDC folder; evaluate the file groups in --groups")
    ap.add_argument("--groups", default="cell,g")
    ap.add_argument("--folder", type=Path, help="evaluate every image under this folder")
    ap.add_argument("--json", type=Path, help="also write the full report here")
    args = ap.parse_args()
    if args.ldc:
        groups = set(args.groups.split(","))
        images = sorted(p for p in args.ldc.glob("*.png") if ldc_group(p.name) in groups)
        truth = args.ldc
    else:
        images = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        truth = args.folder
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(args.cellvia), "analyze", "--quiet", "--overlays", "never", "--out", out,
                        *map(str, images)], check=False)
        report = subprocess.run([str(args.cellvia), "eval", "--json", "--truth", str(truth),
                                 str(Path(out) / "results.json")], check=True, capture_output=True, text=True).stdout
    if args.json:
        args.json.write_text(report)
    print(json.dumps(json.loads(report)["overall"], indent=2))


if __name__ == "__main__":
    main()
