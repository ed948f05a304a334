"""Quantities derived from diffraction patterns: CoM, virtual detectors, disk positions and strain."""

from __future__ import annotations

import numpy as np

from ..detectors import DiffractionCamera
from ..errors import ConfigurationError
from ..optics import Optics

__all__ = [
    "center_of_mass",
    "virtual_detectors",
    "virtual_image",
    "derived_quantities",
    "disks_overlap",
    "measure_disk_positions",
    "fit_reciprocal_basis",
    "strain_from_bases",
]


def center_of_mass(patterns: np.ndarray, camera: DiffractionCamera) -> np.ndarray:
    """Centre of mass of patterns (..., pixels, pixels), ndarray of shape (..., 2) [mrad]."""
    theta = camera.angles()[0]
    patterns = np.asarray(patterns, dtype=np.float64)
    total = patterns.sum(axis=(-2, -1))
    safe = np.where(total > 0, total, 1.0)
    cx = np.tensordot(patterns.sum(axis=-1), theta, axes=([-1], [0])) / safe
    cy = np.tensordot(patterns.sum(axis=-2), theta, axes=([-1], [0])) / safe
    return np.stack([np.where(total > 0, cx, 0.0), np.where(total > 0, cy, 0.0)], axis=-1)


def virtual_detectors(optics: Optics, camera: DiffractionCamera) -> dict[str, tuple[float, float]]:
    """Annular virtual detectors [mrad]: BF (0–α), ABF (α/2–α) and ADF (α to the camera edge)."""
    alpha = optics.semiangle_cutoff
    return {"bf": (0.0, alpha), "abf": (alpha / 2.0, alpha), "adf": (alpha, camera.max_angle)}


def virtual_image(patterns: np.ndarray, camera: DiffractionCamera, inner: float, outer: float) -> np.ndarray:
    """Sum of each pattern over the annulus ``inner <= θ < outer`` [mrad]; shape patterns.shape[:-2]."""
    tx, ty = camera.angles()
    radius = np.hypot(tx[:, None], ty[None, :])
    mask = (radius >= inner) & (radius < outer)
    return np.tensordot(np.asarray(patterns, dtype=np.float64), mask.astype(np.float64), axes=([-2, -1], [0, 1]))


def derived_quantities(patterns: np.ndarray, camera: DiffractionCamera, optics: Optics) -> dict[str, np.ndarray]:
    """CoM (x, y, magnitude [mrad], angle [rad]) and virtual BF/ABF/ADF signals of patterns."""
    com = center_of_mass(patterns, camera)
    out = {
        "com_x": com[..., 0],
        "com_y": com[..., 1],
        "com_magnitude": np.hypot(com[..., 0], com[..., 1]),
        "com_angle": np.arctan2(com[..., 1], com[..., 0]),
    }
    for name, (inner, outer) in virtual_detectors(optics, camera).items():
        out[name] = virtual_image(patterns, camera, inner, outer)
    return out


def disks_overlap(optics: Optics, d_spacing: float) -> bool:
    """Whether diffraction disks of a reflection with spacing ``d_spacing`` [Å] overlap the central disk.

    Disks of radius α do not overlap when ``α < λ/(2d)`` (PHYSICS.md).
    """
    return optics.semiangle_cutoff * 1e-3 >= optics.wavelength / (2.0 * d_spacing)


def measure_disk_positions(
    pattern: np.ndarray,
    camera: DiffractionCamera,
    optics: Optics,
    predicted: np.ndarray,
    iterations: int = 4,
    min_fraction: float = 1e-4,
) -> np.ndarray:
    """Refine disk centres near predicted positions by iterated intensity centroids.

    Parameters
    ----------
    pattern
        One pattern (pixels, pixels), non-overlapping disks (α < λ/(2d)).
    predicted
        Predicted disk centres, ndarray of shape (n, 2) [mrad].
    min_fraction
        A disk holding less than this fraction of the pattern's total intensity counts as absent.

    Returns
    -------
    ndarray of shape (n, 2)
        Measured centres [mrad]; NaN for a disk that falls off the camera or is absent.
    """
    tx, ty = camera.angles()
    gx, gy = np.meshgrid(tx, ty, indexing="ij")
    radius = 1.15 * optics.semiangle_cutoff
    out = np.full((len(predicted), 2), np.nan)
    floor = min_fraction * float(np.sum(pattern))
    for i, centre in enumerate(np.asarray(predicted, dtype=np.float64)):
        if np.hypot(*centre) + radius > camera.max_angle:
            continue
        c = centre.copy()
        for _ in range(iterations):
            mask = (gx - c[0]) ** 2 + (gy - c[1]) ** 2 <= radius**2
            weight = pattern * mask
            total = weight.sum()
            if total <= floor:
                break
            c = np.array([(weight * gx).sum() / total, (weight * gy).sum() / total])
        else:
            out[i] = c
    return out


def fit_reciprocal_basis(
    pattern: np.ndarray,
    camera: DiffractionCamera,
    optics: Optics,
    reference_basis: np.ndarray,
    max_order: int = 2,
) -> np.ndarray:
    """Fit the reciprocal-lattice basis of a pattern from its disk positions.

    Parameters
    ----------
    reference_basis
        Columns are the guessed basis vectors g1, g2 [mrad]; reflections h·g1 + k·g2 are searched
        near their predicted positions.
    max_order
        Largest |h|, |k| searched.

    Returns
    -------
    ndarray of shape (2, 2)
        Fitted basis (columns g1, g2) [mrad], least squares over every disk on the camera.
    """
    reference_basis = np.asarray(reference_basis, dtype=np.float64)
    hk = np.array([(h, k) for h in range(-max_order, max_order + 1) for k in range(-max_order, max_order + 1)])
    predicted = hk @ reference_basis.T
    measured = measure_disk_positions(pattern, camera, optics, predicted)
    ok = np.all(np.isfinite(measured), axis=1)
    if ok.sum() < 3 or np.linalg.matrix_rank(hk[ok].astype(float)) < 2:
        raise ConfigurationError(
            "Too few diffraction disks on the camera to fit a lattice: lengthen `camera_length`'s field "
            "(more pixels or a shorter camera length) or lower `semiangle_cutoff`."
        )
    solution, *_ = np.linalg.lstsq(hk[ok].astype(float), measured[ok], rcond=None)
    return solution.T


def strain_from_bases(reference_basis: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Strain ``ε = (G0 · G⁻¹)ᵀ − I`` from reference and strained reciprocal bases (PHYSICS.md).

    Returns
    -------
    ndarray of shape (2, 2)
        The deformation gradient minus the identity; for small strain its symmetric part is the
        strain tensor (εxx, εxy; εyx, εyy).
    """
    return (np.asarray(reference_basis) @ np.linalg.inv(np.asarray(basis))).T - np.eye(2)
