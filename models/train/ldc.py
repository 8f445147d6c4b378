"""Facts about the LDC data set shared by the training and evaluation scripts."""

# File groups held out from training; every reported LDC figure is on these.
HELD_OUT_GROUPS = {"cell", "g"}


def ldc_group(name):
    """The file group of an LDC image name: `cell (12).png` -> `cell`."""
    if name.startswith("image_"):
        return "image_"
    if name.startswith("image"):
        return "image"
    return name.split(" ")[0]
