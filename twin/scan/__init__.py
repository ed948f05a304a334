"""The scan: raster timing, scan distortions along the acquisition path, and detector noise."""

from __future__ import annotations

from .distortions import ProbePositionError, ScanNoise, ScanPath, scan_path
from .noise import detector_counts
from .timing import frame_time, line_time, pixel_times

__all__ = [
    "ScanNoise",
    "ProbePositionError",
    "ScanPath",
    "scan_path",
    "pixel_times",
    "frame_time",
    "line_time",
    "detector_counts",
]
