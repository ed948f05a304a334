"""Per-sample synthesis: one labelled observation as a pure function of (spec, base seed, index).

Seeds and streams
-----------------
Sample ``index`` belongs to structure ``g = index // frames_per_structure``. The structure (the
builder parameters drawn from ``[sample.ranges]`` and the builder's own randomness) comes from
``SeedSequence(base_seed, spawn_key=(0, g))``; everything drawn for the frame itself (field-of-view
origin, dose, dwell time, distortion multiplier, read noise, the scan-error realisation and the shot
noise) from ``SeedSequence(base_seed, spawn_key=(1, index))``, split into independent child streams.
So the arrays of an index never depend on which other samples are generated, in which order or
process: :func:`generate_sample` and :func:`generate_chunk` give byte-identical arrays. Built
structures and their rendered signals are kept in a small in-process cache keyed by (spec
fingerprint, base seed, g), so the consecutive frames of one structure pay for it once.

The acquisition
---------------
Datasets use no beam dynamics (the sample never changes during a frame), so a frame is what
:meth:`stemtwin.twin.Microscope.acquire_image` (``acquire_spectrum_image``, ``acquire_4dstem``)
records with ``dynamics=()``, built here from the same public pieces so that one structure serves
many frames, each with its own scan distortions: the raster path from :func:`~stemtwin.twin.scan.scan_path`
(nominal positions, calibration errors, shear, flyback), the time-dependent probe error ``d(t)`` from
:class:`~stemtwin.twin.scan.ProbePositionError`, the noise-free signal of the engine evaluated at the
real probe positions, and :func:`~stemtwin.twin.scan.detector_counts`. Two deliberate differences:

* the slow part of ``d(t)`` (drift and the 0.08 Hz random walk) is evaluated every
  ``SLOW_SAMPLE_TIME`` (256 µs) of scan time along each line and interpolated linearly in between
  (the vibrations are evaluated at every pixel). For the typical random walk (2 Å RMS, correlation
  time 2 s) the interpolation misses a Brownian-bridge wiggle of about 0.02 Å RMS, far below the
  pixel; it saves ~5 ms per 256² frame. Frames whose dwell is ≥ 256 µs are evaluated per pixel.
* no dose ledger is kept (the data set has no use for the dose map).

Each frame starts at instrument time 0 (an independent acquisition).

Labels
------
``noise_free``: expected counts (electrons per position × collected fraction) at the real probe
positions. Counts, recorded and expected, are rounded to ``COUNT_KEEPBITS`` (12) significant bits
(relative error ≤ 1.2·10⁻⁴, below the shot noise; :data:`~.layout.COUNT_KEEPBITS`), so that they
compress. ``distortion``: actual − nominal probe position [Å], rounded to multiples of
``DISTORTION_QUANTUM`` (2⁻¹⁰ Å). Atom table: every atom whose
*apparent* position — the scan pixel coordinates ``p`` where the real probe lands on the atom,
``origin + p·step + d(p) = r_atom``, solved by Newton's method on the distortion field — lies
inside the frame (``-0.5 <= p < pixels - 0.5`` on both axes), in the atoms' order in the structure.
Line-to-line jitter larger than a pixel folds the scan (the high vibration frequencies alias along
the slow axis, ~0.1–0.2 Å between lines for the typical distortions): some atoms are then passed
over by no line. Such an atom takes the point where the probe comes nearest, and is listed only if
that is within ``mask_radius``.
``mask``: for each pixel, site class + 1 of the nearest atom whose projected position lies within
``mask_radius`` (0.7 Å by default, half a C–C bond, so graphene disks do not touch) of the real
probe position; 0 elsewhere. Both use the distances in Å at the real probe positions, so they line
up with the recorded image even with scan distortions. ``polarization``: the polarization of the
unit cell (of the ferroelectric's cell grid) under the real probe position [C/m²].
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numcodecs import BitRound
from scipy import constants as _c

from ..detectors import DiffractionCamera, get_detector
from ..dose import Dose
from ..errors import ConfigurationError
from ..microscope import EELS_PROBE_SIGMA
from ..optics import Optics
from ..samples import build_sample
from ..samples.sample import Sample
from ..scan import ProbePositionError, ScanNoise, detector_counts
from ..scan.timing import line_time
from ..signals.diffraction_analysis import center_of_mass, virtual_image
from ..signals.eels import EELSModel
from ..signals.field import PeriodicField
from ..signals.imaging import get_diffraction_engine, get_imaging_engine
from ..spectrometer import Spectrometer
from .kernels import SPLINE_PAD, bspline_at, compose_positions, invert_distortion, paint_mask
from .layout import COUNT_KEEPBITS, DISTORTION_QUANTUM, array_layout
from .spec import DatasetSpec

__all__ = [
    "generate_sample",
    "generate_chunk",
    "chunk_bounds",
    "scaled_scan_noise",
    "structure_seed",
    "frame_seed",
    "SLOW_SAMPLE_TIME",
    "SYNTHESIS_VERSION",
    "STRUCTURE_CACHE_SIZE",
]

#: Scan time between evaluations of the slow probe error (drift, random walk) [s].
SLOW_SAMPLE_TIME = 256e-6
#: Built structures (with their rendered signals) kept per process.
STRUCTURE_CACHE_SIZE = 4
#: Flyback time of the scan [s] (the twin's default, PHYSICS.md).
FLYBACK_TIME = 60e-6
#: Version of the synthesis: changes whenever the same (spec, seed, index) gives other bytes, so that
#: ``--resume`` never mixes chunks of two versions in one store (recorded in the manifest).
SYNTHESIS_VERSION = 3
#: Largest number of Newton steps that invert the distortion field for the atom table.
_INVERSION_STEPS = 20

#: The distortions that ``[instrument].distortion`` multiplies.
_TYPICAL_NOISE = ScanNoise.typical()

_STREAM_STRUCTURE = 0
_STREAM_FRAME = 1


def structure_seed(base_seed: int, structure_index: int) -> np.random.SeedSequence:
    """Seed of structure ``structure_index`` (builder draws and builder randomness)."""
    return np.random.SeedSequence(_check_seed(base_seed), spawn_key=(_STREAM_STRUCTURE, int(structure_index)))


def frame_seed(base_seed: int, index: int) -> np.random.SeedSequence:
    """Seed of sample ``index``'s frame draws (field of view, dose, distortions, noise)."""
    return np.random.SeedSequence(_check_seed(base_seed), spawn_key=(_STREAM_FRAME, int(index)))


def _check_seed(base_seed: Any) -> int:
    if isinstance(base_seed, bool) or not isinstance(base_seed, (int, np.integer)) or base_seed < 0:
        raise ConfigurationError(f"`base_seed` must be an integer >= 0, got {base_seed!r}.")
    return int(base_seed)


def scaled_scan_noise(scale: float) -> ScanNoise:
    """``ScanNoise.typical()`` with every amplitude multiplied by ``scale`` (0: the ideal scan).

    Drift velocity, random-walk RMS, vibration amplitudes, flyback amplitude, calibration (scale)
    errors and shear scale linearly; frequencies and time constants are kept.
    """
    if not scale >= 0.0 or not math.isfinite(scale):
        raise ConfigurationError(f"`distortion` scale must be a finite number >= 0, got {scale!r}.")
    if scale == 0.0:
        return ScanNoise.none()
    t = ScanNoise.typical()
    return ScanNoise(
        drift=(t.drift[0] * scale, t.drift[1] * scale),
        random_walk_amplitude=t.random_walk_amplitude * scale,
        random_walk_frequency=t.random_walk_frequency,
        sinusoid_frequencies=t.sinusoid_frequencies,
        sinusoid_amplitudes=tuple(a * scale for a in t.sinusoid_amplitudes),
        flyback_amplitude=t.flyback_amplitude * scale,
        flyback_time_constant=t.flyback_time_constant,
        scale_error=(t.scale_error[0] * scale, t.scale_error[1] * scale),
        shear=t.shear * scale,
    )


# -- structures ---------------------------------------------------------------------------------------
@dataclass
class _Structure:
    """A built sample and what every frame of it reuses."""

    sample: Sample
    drawn: dict[str, float]
    extent: np.ndarray  # (2,) cell size [Å]
    xy: np.ndarray  # (n, 2) projected positions [Å]
    z: np.ndarray  # (n,) uint8
    site_class: np.ndarray  # (n,) int16
    measure: Callable[[np.ndarray], np.ndarray]  # positions (nx, ny, 2) -> noise-free fraction
    polarization: np.ndarray | None  # (ncx, ncy, 2) [C/m²]


_CACHE: OrderedDict[tuple[str, int, int], _Structure] = OrderedDict()


def _optics(spec: DatasetSpec) -> Optics:
    return Optics(energy=spec.energy, semiangle_cutoff=spec.semiangle_cutoff, defocus=spec.defocus, Cs=spec.Cs)


def _camera(spec: DatasetSpec) -> DiffractionCamera:
    return DiffractionCamera(pixels=spec.camera_pixels, pixel_size=150.0, camera_length=150.0 / spec.camera_sampling)


def _draw_params(spec: DatasetSpec, rng: np.random.Generator) -> dict[str, Any]:
    """Builder arguments of ``[sample.ranges]``, drawn in sorted name order (one draw each)."""
    drawn: dict[str, Any] = {}
    for name in sorted(spec.ranges):
        low, high = spec.ranges[name]
        if isinstance(low, int) and isinstance(high, int):
            drawn[name] = int(rng.integers(low, high + 1))
        else:
            u = float(rng.uniform(float(low), float(high)))
            drawn[name] = float(low) if low == high else u
    return drawn


def _spline_measure(field: PeriodicField, extent: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Evaluate ``field`` as :meth:`PeriodicField.at` does (periodic cubic B-spline), faster.

    The field's own spline coefficients, padded periodically, evaluated by a compiled loop over the
    positions (:func:`.kernels.bspline_at`) instead of ``ndimage.map_coordinates``; the values agree
    to rounding (``tests/datasets/test_synth.py``).
    """
    coeffs = np.ascontiguousarray(np.pad(field.coefficients, SPLINE_PAD, mode="wrap"))
    step = np.asarray(field.sampling, dtype=np.float64)
    box = np.asarray(extent, dtype=np.float64)

    def measure(positions: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(positions.reshape(-1, 2), dtype=np.float64)
        out = np.empty(len(flat), dtype=np.float64)
        bspline_at(coeffs, flat, box, step, out)
        return out.reshape(positions.shape[:-1])

    return measure


def _build_structure(spec: DatasetSpec, base_seed: int, g: int) -> _Structure:
    params_rng, build_rng = np.random.default_rng(structure_seed(base_seed, g)).spawn(2)
    drawn = _draw_params(spec, params_rng)
    kwargs: dict[str, Any] = dict(spec.params)
    kwargs.update(drawn)
    if "extent" not in kwargs:
        kwargs["extent"] = (2.0 * spec.fov, 2.0 * spec.fov)
    try:
        sample = build_sample(spec.family, rng=build_rng, **kwargs)
    except ConfigurationError as err:
        raise ConfigurationError(f"{spec.name}: structure {g} (builder arguments {kwargs}): {err}") from None
    extent = np.array(sample.extent, dtype=np.float64)
    if np.any(extent < spec.fov):
        raise ConfigurationError(
            f"{spec.name}: the {spec.family} cell ({extent[0]:.2f} × {extent[1]:.2f} Å after rounding to whole unit cells) "
            f"is smaller than the field of view ({spec.fov:g} Å); enlarge [sample.params].extent."
        )
    optics = _optics(spec)
    if spec.modality in ("haadf", "abf"):
        engine = get_imaging_engine(spec.engine, calibration=spec.calibration)
        field = engine.intensity_field(sample, optics, get_detector(spec.modality))
        measure = _spline_measure(field, extent)
    elif spec.modality == "eels":
        sm = spec.spectrometer
        spectrometer = Spectrometer(
            dispersion=sm["dispersion"], offset=sm["offset"], channels=int(sm["channels"]), energy_resolution=sm["energy_resolution"]
        )
        model = EELSModel(sample, spectrometer, optics, probe_sigma=EELS_PROBE_SIGMA)
        measure = model.noise_free
    else:
        camera = _camera(spec)
        camera.check_fits(optics.semiangle_cutoff)
        engine4d = get_diffraction_engine(spec.engine)

        def measure(positions: np.ndarray) -> np.ndarray:
            return engine4d.patterns(sample, optics, camera, positions)

    polarization = None
    if spec.store("polarization"):
        polarization = np.asarray(sample.fields["polarization"], dtype=np.float64)
    return _Structure(
        sample=sample,
        drawn={k: float(v) for k, v in drawn.items()},
        extent=extent,
        xy=np.ascontiguousarray(sample.positions[:, :2], dtype=np.float64),
        z=np.asarray(sample.numbers, dtype=np.uint8),
        site_class=np.asarray(sample.site_class, dtype=np.int16),
        measure=measure,
        polarization=polarization,
    )


def _structure(spec: DatasetSpec, base_seed: int, g: int) -> _Structure:
    key = (spec.fingerprint(), base_seed, g)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    built = _build_structure(spec, base_seed, g)
    _CACHE[key] = built
    while len(_CACHE) > STRUCTURE_CACHE_SIZE:
        _CACHE.popitem(last=False)
    return built


# -- the scan ------------------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, bounds: tuple[float, float], log: bool = False) -> float:
    low, high = bounds
    u = float(rng.uniform(math.log(low), math.log(high))) if log else float(rng.uniform(low, high))
    if low == high:
        return float(low)
    return math.exp(u) if log else u


@functools.lru_cache(maxsize=8)
def _split_noise(noise: ScanNoise) -> tuple[ScanNoise, ScanNoise]:
    """The slow part (drift, random walk) and the vibrations of ``noise``, as two ScanNoise."""
    slow = ScanNoise(drift=noise.drift, random_walk_amplitude=noise.random_walk_amplitude, random_walk_frequency=noise.random_walk_frequency)
    vib = ScanNoise(sinusoid_frequencies=noise.sinusoid_frequencies, sinusoid_amplitudes=noise.sinusoid_amplitudes)
    return slow, vib


def _probe_positions(
    origin: tuple[float, float],
    fov: float,
    pixels: int,
    dose: Dose,
    noise: ScanNoise,
    slow_rng: np.random.Generator,
    vib_rng: np.random.Generator,
    scale: float = 1.0,
    distortion: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Actual probe positions and their distortion (actual − nominal) of one frame starting at t = 0.

    The positions of :func:`~stemtwin.twin.scan.scan_path` with the error ``d(t)`` of
    ``scaled(noise, scale)`` (every amplitude times ``scale``, as :func:`scaled_scan_noise`;
    ``tests/datasets/test_synth.py`` compares them). Every distortion is linear in its amplitude
    for the same draws, so the parts of ``noise`` are evaluated and then scaled, and ``noise``
    itself (typically ``ScanNoise.typical()``) is built once. They are composed from separable
    parts in one pass (:func:`.kernels.compose_positions`): the slow error on every
    ``SLOW_SAMPLE_TIME``-th pixel of a line, interpolated in between, and the vibrations by
    :meth:`ProbePositionError.raster_vibrations`. The distortion is written into ``distortion``
    when given (C-contiguous float32 of shape (2, pixels, pixels)).

    Returns
    -------
    actual : ndarray of shape (pixels, pixels, 2)
        Probe positions [Å], float64.
    distortion : ndarray of shape (2, pixels, pixels)
        actual − nominal [Å] to the nearest multiple of ``DISTORTION_QUANTUM``, float32 (the stored
        label's layout).
    """
    step = fov / pixels
    rel = np.arange(pixels, dtype=np.float64) * step
    actual = np.empty((pixels, pixels, 2), dtype=np.float64)
    if distortion is None:
        distortion = np.empty((2, pixels, pixels), dtype=np.float32)
    empty = np.zeros((0, pixels, 2))
    rows, weights, kick = np.zeros(pixels, dtype=np.int64), np.zeros(pixels), np.zeros(pixels)
    o = np.asarray(origin, dtype=np.float64)
    if noise.is_zero or scale == 0.0:
        compose_positions(o, rel, rel, 0.0, 0.0, 0.0, kick, empty, rows, weights, empty, 1.0, DISTORTION_QUANTUM, actual, distortion)
        return actual, distortion
    sx, sy = noise.scale_error
    shear = math.tan(math.radians(noise.shear * scale))
    in_line = np.arange(pixels, dtype=np.float64) * dose.dwell_time  # t(i, j) = in_line[i] + line_start[j]
    if noise.flyback_amplitude != 0.0:
        kick = (noise.flyback_amplitude * scale) * step * np.exp(-in_line / noise.flyback_time_constant)
    line_start = np.arange(pixels, dtype=np.float64) * line_time(pixels, dose)
    slow_noise, vib_noise = _split_noise(noise)
    slow = vib = empty
    if slow_noise.has_time_dependence:
        every = max(1, int(SLOW_SAMPLE_TIME // dose.dwell_time))
        coarse = np.arange(0, pixels, every)
        if coarse[-1] != pixels - 1:
            coarse = np.append(coarse, pixels - 1)
        i = np.arange(pixels)
        rows = np.clip(np.searchsorted(coarse, i, side="right") - 1, 0, len(coarse) - 2)
        weights = (i - coarse[rows]) / (coarse[rows + 1] - coarse[rows])
        slow = ProbePositionError(slow_noise, slow_rng).displacement(in_line[coarse, None] + line_start[None, :])
    if vib_noise.has_time_dependence:
        vib = ProbePositionError(vib_noise, vib_rng).raster_vibrations(in_line, line_start)
    compose_positions(o, rel, rel, float(sx * scale), float(sy * scale), shear, kick, slow, rows, weights, vib, float(scale),
                      DISTORTION_QUANTUM, actual, distortion)  # fmt: skip
    return actual, distortion


# -- labels --------------------------------------------------------------------------------------------
def _apparent_atoms(
    struct: _Structure, origin: np.ndarray, step: float, pixels: int, distortion: np.ndarray, margin_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Atoms near the frame: indices, unwrapped positions [Å], apparent pixel coordinates, and the
    distance [Å] by which the probe misses the atom there (0 unless line jitter folds the scan;
    :func:`.kernels.invert_distortion`)."""
    fov = step * pixels
    low = np.array([float(distortion[c].min()) for c in range(2)])
    high = np.array([float(distortion[c].max()) for c in range(2)])
    mean = (low + high) / 2.0
    centre = origin + fov / 2.0 + mean
    spread = float(np.max(high - low)) / 2.0
    half = fov / 2.0 + spread + (margin_px + 2.0) * step
    box = struct.extent
    rel = np.mod(struct.xy - centre + box / 2.0, box) - box / 2.0
    near = np.flatnonzero(np.all(np.abs(rel) <= half, axis=1))
    r = centre + rel[near]
    p = np.ascontiguousarray((r - origin - mean) / step)
    miss = np.zeros(len(near))
    if spread > 0.0 or np.any(mean != 0.0):
        # Newton's method on F(p) = origin + p·step + D(p) − r, D bilinear between pixels.
        # Any solution lies within spread/step pixels of the starting guess (per axis).
        window = int(math.ceil(spread / step)) + 2
        invert_distortion(
            distortion, np.asarray(origin, dtype=np.float64), float(step), np.ascontiguousarray(r), p, miss, window, _INVERSION_STEPS, 1e-4
        )
    return near, r, p, miss


@functools.lru_cache(maxsize=8)
def _mask_stencil(radius: float, step: float) -> np.ndarray:
    """Pixel offsets (m, 2) within radius/step·1.25 + 1 of an atom's apparent pixel (local scan
    compression by the flyback or the scale errors can bring more pixels within the radius)."""
    h = radius / step * 1.25 + 1.0
    k = int(math.ceil(h))
    ox, oy = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij")
    keep = ox**2 + oy**2 <= h * h
    offsets = np.ascontiguousarray(np.stack([ox[keep], oy[keep]], axis=1), dtype=np.int64)
    offsets.setflags(write=False)
    return offsets


def _render_mask(
    struct: _Structure, near: np.ndarray, r: np.ndarray, p: np.ndarray, actual: np.ndarray, step: float, radius: float, out: np.ndarray
) -> None:
    """Per-pixel site class + 1 of the nearest atom within ``radius`` of the real probe position,
    into ``out`` (uint8, shape (pixels, pixels))."""
    n = actual.shape[0]
    out.fill(0)
    if len(near) == 0:
        return
    offsets = _mask_stencil(radius, step)
    k = int(np.abs(offsets).max())
    centre = np.rint(p).astype(np.int64)
    inside = np.all((centre >= -k) & (centre < n + k), axis=1)
    paint_mask(
        np.ascontiguousarray(actual, dtype=np.float64),
        np.ascontiguousarray(centre[inside]),
        np.ascontiguousarray(r[inside], dtype=np.float64),
        np.ascontiguousarray(struct.site_class[near][inside], dtype=np.int64),
        offsets,
        float(radius),
        out,
    )


@functools.lru_cache(maxsize=1)
def _count_rounding() -> BitRound:
    return BitRound(keepbits=COUNT_KEEPBITS)


def _keep_count_bits(counts: np.ndarray) -> None:
    """Round float32 ``counts`` in place to ``COUNT_KEEPBITS`` significant bits (numcodecs' BitRound,
    round half to even on the mantissa)."""
    counts[...] = _count_rounding().encode(counts).view(counts.dtype)


def _polarization(struct: _Structure, actual: np.ndarray) -> np.ndarray:
    grid = struct.polarization
    assert grid is not None
    cells = np.array(grid.shape[:2])
    a = struct.extent / cells
    idx = np.floor(np.mod(actual, struct.extent) / a).astype(np.int64) % cells
    values = grid[idx[..., 0], idx[..., 1]]  # (nx, ny, 2)
    return np.moveaxis(values, -1, 0).astype(np.float32)


# -- samples -------------------------------------------------------------------------------------------
def generate_sample(spec: DatasetSpec, base_seed: int, index: int) -> dict[str, np.ndarray]:
    """Synthesize sample ``index`` of the data set ``(spec, base_seed)``.

    A pure function: the same arguments give byte-identical arrays in any process and order.

    Returns
    -------
    dict of str to ndarray
        Exactly the arrays of :func:`~.layout.array_layout` (shapes and dtypes as listed there).

    Raises
    ------
    ConfigurationError
        For a negative seed or index, a builder that rejects its drawn arguments, a cell smaller than
        the field of view, or more atoms in the frame than the atom table holds.
    """
    base_seed = _check_seed(base_seed)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ConfigurationError(f"`index` must be an integer >= 0, got {index!r}.")
    out = {name: np.empty(a.shape, dtype=a.dtype) for name, a in array_layout(spec).items()}
    _fill_sample(spec, base_seed, int(index), out)
    return out


def _fill_sample(spec: DatasetSpec, base_seed: int, index: int, out: dict[str, np.ndarray]) -> None:
    """Write sample ``index`` into ``out``: C-contiguous arrays of the layout's shapes and dtypes
    (rows of a chunk's stacks, or a sample's own arrays), every element of each written."""
    layout = array_layout(spec)
    g = index // spec.frames_per_structure
    struct = _structure(spec, base_seed, g)

    draws, slow_rng, vib_rng, noise_rng = np.random.default_rng(frame_seed(base_seed, index)).spawn(4)
    fov, pixels = spec.fov, spec.pixels
    origin = np.array([_uniform(draws, (0.0, float(struct.extent[0] - fov))), _uniform(draws, (0.0, float(struct.extent[1] - fov)))])
    dose_per_area = _uniform(draws, spec.dose, log=True)
    dwell = _uniform(draws, spec.dwell_time, log=True)
    scale = _uniform(draws, spec.distortion)
    read_noise = _uniform(draws, spec.read_noise)
    step = fov / pixels
    electrons = dose_per_area * step * step
    current = electrons * _c.e / dwell * 1e12
    dose = Dose(current=current, dwell_time=dwell, flyback_time=FLYBACK_TIME)
    if not scale >= 0.0 or not math.isfinite(scale):
        raise ConfigurationError(f"`distortion` scale must be a finite number >= 0, got {scale!r}.")

    actual, distortion = _probe_positions(
        (float(origin[0]), float(origin[1])), fov, pixels, dose, _TYPICAL_NOISE, slow_rng, vib_rng, scale, out.get("distortion")
    )
    fraction = struct.measure(actual)
    store_nf = spec.store("noise_free")
    if spec.modality in ("haadf", "abf", "eels") or spec.output == "patterns":
        counts_name = {"haadf": "image", "abf": "image", "eels": "spectrum_image"}.get(spec.modality, "patterns")
        _keep_count_bits(detector_counts(fraction, electrons, noise_rng, read_noise, out=out[counts_name]))
        if store_nf:  # the product in the dtype of the fraction (float64 for EELS), rounded to float32 once
            product_of = np.asarray(fraction, dtype=np.float64) if spec.modality == "eels" else fraction
            _keep_count_bits(np.multiply(product_of, electrons, out=out["noise_free"], casting="same_kind"))
    else:
        counts = detector_counts(fraction, electrons, noise_rng, read_noise)
        camera, optics = _camera(spec), _optics(spec)
        edge = camera.max_angle
        for prefix, patterns in (("", counts), ("noise_free_", fraction * electrons)):
            if prefix and not store_nf:
                continue
            out[f"{prefix}com"][...] = np.moveaxis(center_of_mass(patterns, camera), -1, 0)
            out[f"{prefix}virtual_bf"][...] = virtual_image(patterns, camera, 0.0, optics.semiangle_cutoff)
            out[f"{prefix}virtual_adf"][...] = virtual_image(patterns, camera, optics.semiangle_cutoff, edge)

    if spec.store("atoms") or spec.store("masks"):
        margin = spec.mask_radius / step + 2.0
        near, r, p, miss = _apparent_atoms(struct, origin, step, pixels, distortion, margin)
        if spec.store("masks"):
            _render_mask(struct, near, r, p, actual, step, spec.mask_radius, out["mask"])
        if spec.store("atoms"):
            inside = np.all((p >= -0.5) & (p < pixels - 0.5), axis=1) & (miss <= spec.mask_radius)
            rows = near[inside]
            limit = layout["atom_xy"].shape[0]
            if len(rows) > limit:
                raise ConfigurationError(
                    f"{spec.name}: sample {index} holds {len(rows)} atoms in its frame, more than the atom table's "
                    f"{limit} rows (layout.max_atoms); please report this with the spec."
                )
            count = len(rows)
            out["atom_xy"][:count] = p[inside]
            out["atom_xy"][count:] = np.nan
            out["atom_class"][:count] = struct.site_class[rows]
            out["atom_class"][count:] = -1
            out["atom_z"][:count] = struct.z[rows]
            out["atom_z"][count:] = 0
            out["atom_count"][...] = count
    if spec.store("polarization"):
        out["polarization"][...] = _polarization(struct, actual)

    scalars: dict[str, Any] = {
        "dose": dose_per_area,
        "dwell_time": dwell,
        "current": current,
        "electrons_per_position": electrons,
        "distortion_scale": scale,
        "read_noise": read_noise,
        "fov_origin": origin,
        "cell_extent": struct.extent,
        "structure_index": g,
    }
    scalars.update((f"param_{name}", value) for name, value in struct.drawn.items())
    for name, value in scalars.items():
        out[name][...] = value


def chunk_bounds(spec: DatasetSpec, chunk_index: int, n_total: int) -> tuple[int, int]:
    """Sample range ``[k·B, min((k+1)·B, n_total))`` of chunk ``k`` (B = ``spec.samples_per_chunk``)."""
    if isinstance(n_total, bool) or not isinstance(n_total, (int, np.integer)) or n_total < 1:
        raise ConfigurationError(f"`n_total` must be an integer >= 1, got {n_total!r}.")
    b = spec.samples_per_chunk
    count = -(-int(n_total) // b)
    if isinstance(chunk_index, bool) or not isinstance(chunk_index, (int, np.integer)) or not 0 <= chunk_index < count:
        raise ConfigurationError(f"`chunk_index` must be an integer in 0..{count - 1} for {n_total} samples, got {chunk_index!r}.")
    start = int(chunk_index) * b
    return start, min(start + b, int(n_total))


def generate_chunk(spec: DatasetSpec, base_seed: int, chunk_index: int, n_total: int) -> dict[str, np.ndarray]:
    """The samples of chunk ``chunk_index``, stacked along a new leading axis.

    Equal to ``np.stack`` of :func:`generate_sample` over :func:`chunk_bounds` (byte for byte).
    """
    base_seed = _check_seed(base_seed)
    start, stop = chunk_bounds(spec, chunk_index, n_total)
    out = {name: np.empty((stop - start, *a.shape), dtype=a.dtype) for name, a in array_layout(spec).items()}
    for row, index in enumerate(range(start, stop)):
        _fill_sample(spec, base_seed, index, {name: stack[row, ...] for name, stack in out.items()})  # views, 0-d too
    return out
