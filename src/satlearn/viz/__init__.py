"""Pictures of rasters: quicklooks now; the HTML report and web viewer later."""

from satlearn.viz.quicklook import quicklook, to_rgb8

__all__ = ["quicklook", "to_rgb8"]
