"""Measurement dicts: what an Explore step measured, in the form scalarizers read.

EELS (``modality="eels"``)
    ``"spectrum"``: counts per channel, ndarray of shape (channels,) (expected counts for the
    noise-free measurement); ``"energy"``: energy loss per channel [eV]; ``"electrons"``: incident
    electrons [e⁻]; ``"position"``: nominal probe position (x, y) [Å].

Diffraction (``modality="diffraction"``)
    ``"pattern"``: counts per camera pixel, ndarray of shape (pixels, pixels), axes (θx, θy), the
    beam on pixel ``pixels // 2``; ``"com_x"``, ``"com_y"``, ``"com_magnitude"`` [mrad] and
    ``"com_angle"`` [rad]: centre of mass of the pattern; ``"bf"``, ``"abf"``, ``"adf"``: virtual
    bright field (0–α), annular bright field (α/2–α) and annular dark field (α to the camera edge),
    as fractions of the incident electrons; ``"electrons"`` and ``"position"`` as for EELS.

The derived quantities equal :func:`stemtwin.twin.signals.diffraction_analysis.derived_quantities`
(the virtual detectors divided by the incident electrons); here they come from one matrix product with
weights computed once per camera.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stemtwin.twin import Optics
from stemtwin.twin.detectors import DiffractionCamera
from stemtwin.twin.signals.diffraction_analysis import virtual_detectors

__all__ = ["DERIVED_KEYS", "DiffractionAnalyser", "eels_measurement"]

#: Order of the derived quantities in the diffraction observation vector.
DERIVED_KEYS: tuple[str, ...] = ("com_x", "com_y", "com_magnitude", "com_angle", "bf", "abf", "adf")


def eels_measurement(spectrum: np.ndarray, energy: np.ndarray, electrons: float, position: tuple[float, float]) -> dict[str, Any]:
    """The measurement dict of one spectrum (or of a batch, with leading dimensions)."""
    return {"spectrum": spectrum, "energy": energy, "electrons": electrons, "position": position}


class DiffractionAnalyser:
    """CoM and virtual detectors of patterns by one matrix product.

    Parameters
    ----------
    camera, optics
        The camera and the probe (α sets the virtual detectors, :func:`virtual_detectors`).
    """

    def __init__(self, camera: DiffractionCamera, optics: Optics) -> None:
        self.camera = camera
        self.optics = optics
        tx, ty = camera.angles()
        gx, gy = np.meshgrid(tx, ty, indexing="ij")
        radius = np.hypot(gx, gy)
        columns = [np.ones_like(gx), gx, gy]
        self.detectors = virtual_detectors(optics, camera)
        for inner, outer in self.detectors.values():
            columns.append(((radius >= inner) & (radius < outer)).astype(np.float64))
        self._weights = np.stack([c.reshape(-1) for c in columns], axis=1)
        #: Bounds of the derived vector (``DERIVED_KEYS`` order): CoM within the camera, fractions in [0, 1].
        m = camera.max_angle
        self.low = np.array([-m, -m, 0.0, -np.pi, 0.0, 0.0, 0.0], dtype=np.float32)
        self.high = np.array([m, m, np.sqrt(2.0) * m, np.pi, 1.0, 1.0, 1.0], dtype=np.float32)

    def measurement(self, patterns: np.ndarray, electrons: float, position: Any) -> dict[str, Any]:
        """The measurement dict of patterns (..., pixels, pixels) in counts."""
        patterns = np.asarray(patterns)
        lead = patterns.shape[:-2]
        sums = patterns.reshape(-1, self._weights.shape[0]).astype(np.float64) @ self._weights
        total = sums[:, 0]
        safe = np.where(total > 0, total, 1.0)
        cx = np.where(total > 0, sums[:, 1] / safe, 0.0)
        cy = np.where(total > 0, sums[:, 2] / safe, 0.0)
        scale = 1.0 / electrons if electrons > 0 else 0.0
        out: dict[str, Any] = {
            "pattern": patterns,
            "com_x": cx.reshape(lead),
            "com_y": cy.reshape(lead),
            "com_magnitude": np.hypot(cx, cy).reshape(lead),
            "com_angle": np.arctan2(cy, cx).reshape(lead),
            "bf": (sums[:, 3] * scale).reshape(lead),
            "abf": (sums[:, 4] * scale).reshape(lead),
            "adf": (sums[:, 5] * scale).reshape(lead),
            "electrons": electrons,
            "position": position,
        }
        return out

    def vector(self, measurement: dict[str, Any], index: int | None = None) -> np.ndarray:
        """The derived quantities of one measurement (entry ``index`` of a batch) as a float32 vector
        within ``[low, high]``."""
        pick = (lambda v: v) if index is None else (lambda v: v[index])
        values = np.array([float(pick(measurement[k])) for k in DERIVED_KEYS], dtype=np.float32)
        return np.clip(values, self.low, self.high)
