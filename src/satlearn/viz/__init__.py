"""Pictures of rasters and results: quicklooks and confusion matrices."""

from satlearn.viz.confusion import write_confusion_png
from satlearn.viz.quicklook import quicklook, to_rgb8

__all__ = ["quicklook", "to_rgb8", "write_confusion_png"]
