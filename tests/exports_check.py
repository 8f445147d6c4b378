"""Opens cellvia's --export files with the tools labs use and checks them
against cells.csv: label TIFFs with tifffile, ImageJ ROI sets with roifile,
GeoJSON with the geojson package. Run by tests/exports.rs with the
interpreter scripts/setup-tests.sh prepares; prints one summary line.

    python3 tests/exports_check.py OUT
"""

import collections
import csv
import json
import pathlib
import sys

import geojson
import numpy
import roifile
import tifffile

out = pathlib.Path(sys.argv[1])
results = json.loads((out / "results.json").read_text())
rows = collections.defaultdict(dict)
with open(out / "cells.csv", newline="") as f:
    for row in csv.DictReader(f):
        rows[row["path"]][int(row["id"])] = row

checked = 0
for index, image in enumerate(results["images"]):
    if image["status"] != "ok":
        continue
    stem = f"{index:05}_{pathlib.Path(image['path']).stem}"
    expected = rows[image["path"]]

    labels = tifffile.imread(out / "exports" / f"{stem}.labels.tif")
    assert labels.shape == (image["height"], image["width"]), (stem, labels.shape)
    assert labels.dtype == numpy.uint16, labels.dtype
    ids, areas = numpy.unique(labels[labels > 0], return_counts=True)
    assert sorted(ids.tolist()) == sorted(expected), (stem, ids, sorted(expected))
    for i, area in zip(ids.tolist(), areas.tolist()):
        assert area == int(expected[i]["area_px"]), (stem, i, area)
        ys, xs = numpy.nonzero(labels == i)
        row = expected[i]
        box = [int(row[k]) for k in ("bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max")]
        assert [xs.min(), ys.min(), xs.max(), ys.max()] == box, (stem, i)

    collection = geojson.loads((out / "exports" / f"{stem}.geojson").read_text())
    pieces = {int(f["properties"]["name"]): len(f["geometry"]["coordinates"]) if f["geometry"]["type"] == "MultiPolygon" else 1 for f in collection["features"]}

    rois = roifile.roiread(out / "exports" / f"{stem}.rois.zip")
    rois = rois if isinstance(rois, list) else [rois]
    assert [int(r.name.split("-")[0]) for r in rois] == sorted(expected), stem
    for roi in rois:
        row = expected[int(roi.name.split("-")[0])]
        assert roi.roitype == roifile.ROI_TYPE.TRACED, roi.roitype
        klass = "gated-out" if row["gated_out"] else row["label"]
        assert roi.name.split("-", 1)[1] == klass, (roi.name, klass)
        if pieces[int(row["id"])] > 1:
            continue  # the ROI is its largest piece
        # Pixel-corner outline: one past the last pixel on the right and bottom.
        box = [int(row[k]) for k in ("bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max")]
        assert [roi.left, roi.top, roi.right - 1, roi.bottom - 1] == box, (roi.name, box)
        xy = roi.coordinates()
        # Shoelace area of a traced outline without holes = the pixel count.
        area = 0.5 * abs(numpy.dot(xy[:, 0], numpy.roll(xy[:, 1], -1)) - numpy.dot(xy[:, 1], numpy.roll(xy[:, 0], -1)))
        assert area >= int(row["area_px"]), (roi.name, area, row["area_px"])

    assert collection.is_valid, collection.errors()
    assert collection["type"] == "FeatureCollection"
    names = [int(f["properties"]["name"]) for f in collection["features"]]
    assert names == sorted(expected), stem
    for feature in collection["features"]:
        props = feature["properties"]
        row = expected[int(props["name"])]
        assert props["objectType"] == "detection"
        assert props["classification"]["name"].lower() == ("gated out" if row["gated_out"] else row["label"])
        assert props["measurements"]["Area px^2"] == int(row["area_px"])
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1], "closed ring"
    checked += len(expected)

print(f"exports ok: {checked} objects")
