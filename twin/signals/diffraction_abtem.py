"""The ``abtem`` diffraction engine: multislice CBED patterns at any probe position.

The periodic cell is tiled until its reciprocal sampling is at least as fine as the camera's,
abTEM runs a multislice with a pixelated detector at the requested positions (``CustomScan``),
and each pattern is resampled onto the camera pixels. Every pattern is cached on disk, keyed by
the sample's content hash, the position, the optics and the camera, so a position is simulated
once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..cache import cache_dir, cache_key, cached_array
from ..detectors import DiffractionCamera
from ..optics import Optics
from ..samples.sample import Sample
from .abtem_engine import ABTEM_METHOD_VERSION, import_abtem
from .probe import fft_friendly

__all__ = ["AbtemDiffractionEngine", "abtem_patterns"]


def abtem_patterns(sample: Sample, optics: Optics, camera: DiffractionCamera, positions: np.ndarray) -> np.ndarray:
    """Multislice diffraction patterns at ``positions`` (n, 2) [Å], on the camera's pixels.

    Returns
    -------
    ndarray of shape (n, pixels, pixels), float64
        Fraction of the incident electrons per camera pixel, beam on pixel ``pixels // 2``.
    """
    abtem = import_abtem()
    lx, ly = sample.extent
    side = optics.wavelength / (camera.angular_sampling * 1e-3)
    reps = (max(1, math.ceil(side / lx)), max(1, math.ceil(side / ly)))
    atoms = sample.atoms * (reps[0], reps[1], 1)
    extent = (lx * reps[0], ly * reps[1])
    # abTEM simulates angles up to 2/3 of the grid's Nyquist frequency; cover the camera's corners.
    dx = optics.wavelength / (3.0 * math.sqrt(2.0) * camera.max_angle * 1e-3) * 0.98
    gpts = tuple(fft_friendly(math.ceil(length / dx)) for length in extent)
    potential = abtem.Potential(atoms, gpts=gpts, projection="infinite", parametrization="lobato", slice_thickness=1.0)
    probe = abtem.Probe(
        energy=optics.energy,
        semiangle_cutoff=optics.semiangle_cutoff,
        aberrations={"C10": -optics.defocus, "C30": optics.Cs},
    )
    scan = abtem.CustomScan(np.asarray(positions, dtype=np.float64).reshape(-1, 2))
    measured = probe.scan(potential, scan=scan, detectors=abtem.PixelatedDetector(max_angle="cutoff")).compute()
    array = np.asarray(measured.array, dtype=np.float64).reshape(-1, *measured.array.shape[-2:])
    sampling = measured.angular_sampling  # [mrad/pixel] along kx, ky
    theta = camera.angles()[0]
    out = np.empty((len(array), camera.pixels, camera.pixels))
    ix = theta / sampling[0] + array.shape[-2] // 2
    iy = theta / sampling[1] + array.shape[-1] // 2
    grid = np.stack(np.meshgrid(ix, iy, indexing="ij"))
    scale = camera.angular_sampling**2 / (sampling[0] * sampling[1])
    for i, pattern in enumerate(array):
        out[i] = ndimage.map_coordinates(pattern, grid, order=1, mode="constant", cval=0.0) * scale
    return out


class AbtemDiffractionEngine:
    """Diffraction engine backed by abTEM multislice; patterns cached per position on disk."""

    name = "abtem"

    def patterns(self, sample: Sample, optics: Optics, camera: DiffractionCamera, positions: np.ndarray) -> np.ndarray:
        """Noise-free patterns at positions (..., 2) [Å]; shape positions.shape[:-1] + (pixels, pixels)."""
        positions = np.asarray(positions, dtype=np.float64)
        flat = positions.reshape(-1, 2)
        common = {
            "sample": sample.content_hash(),
            "optics": [optics.energy, optics.semiangle_cutoff, optics.defocus, optics.Cs],
            "camera": [camera.pixels, camera.pixel_size, camera.camera_length],
            "method": ABTEM_METHOD_VERSION,
        }
        keys = [cache_key("abtem-cbed", {**common, "xy": [round(float(x), 4), round(float(y), 4)]}) for x, y in flat]
        missing = [i for i, key in enumerate(keys) if not (cache_dir() / f"{key}.npy").is_file()]
        fresh = abtem_patterns(sample, optics, camera, flat[missing]) if missing else np.empty((0,))
        computed = dict(zip(missing, fresh, strict=True))
        out = np.stack([cached_array(key, lambda i=i: computed[i]) for i, key in enumerate(keys)])
        return out.reshape(positions.shape[:-1] + (camera.pixels, camera.pixels))
