"""The microscope: the one stateful object, which an environment drives.

It owns the evolving sample, the clock, the dose ledger and the probe-position error process.
Every acquisition delivers electrons, advances the clock, and then lets each beam-dynamics process
act on the sample. Observations carry counts and metadata only; the ground truth is in
:meth:`Microscope.truth`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .detectors import AnnularDetector, DiffractionCamera, get_detector
from .dose import Dose
from .dose_ledger import DoseLedger
from .dynamics import BeamDynamics, Event, Exposure
from .errors import ConfigurationError, FieldOfViewError
from .observations import CenterOfMassMap, DiffractionPattern, FourDSTEM, Image, Spectrum, SpectrumImage
from .optics import Optics
from .rng import RNGLike, spawn_streams
from .samples.sample import Sample
from .scan import ProbePositionError, ScanNoise, ScanPath, detector_counts, scan_path
from .signals.calibration import CALIBRATION_METHODS
from .signals.eels import EELSModel
from .signals.diffraction_analysis import center_of_mass
from .signals.diffraction_fast import FastDiffractionEngine
from .signals.imaging import DiffractionEngine, ImagingEngine, get_diffraction_engine, get_imaging_engine
from .spectrometer import Spectrometer
from .truth import AcquisitionTruth, DoseMap, Truth
from .validation import require_choice, require_finite, require_int, require_non_negative, require_positive

__all__ = ["Microscope", "FieldOfView"]

#: Largest scan side accepted [pixels].
MAX_PIXELS = 4096
#: Largest 4D-STEM array returned as patterns [values]; beyond it, ask for ``output="com"``.
MAX_4DSTEM_VALUES = 1 << 28
#: Outputs of :meth:`Microscope.acquire_4dstem`.
FOURD_OUTPUTS = ("patterns", "com")
#: Gaussian σ of the probe intensity used by the EELS model [Å] (FWHM 0.8 Å, PHYSICS.md).
EELS_PROBE_SIGMA = 0.8 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass(frozen=True)
class FieldOfView:
    """A rectangular scan area inside the sample.

    Parameters
    ----------
    origin
        Position of the first pixel (x, y) [Å].
    extent
        Size (width along x, height along y) [Å].
    """

    origin: tuple[float, float]
    extent: tuple[float, float]

    def __post_init__(self) -> None:
        if len(self.origin) != 2 or len(self.extent) != 2:
            raise ConfigurationError(f"`fov` needs a 2-D origin and extent [Å], got {self.origin!r}, {self.extent!r}.")
        object.__setattr__(
            self, "origin", (require_finite("fov.origin[0]", self.origin[0], "Å"), require_finite("fov.origin[1]", self.origin[1], "Å"))
        )
        object.__setattr__(
            self,
            "extent",
            (require_positive("fov.extent[0]", self.extent[0], "Å"), require_positive("fov.extent[1]", self.extent[1], "Å")),
        )


def _as_fov(fov: FieldOfView | Sequence[float] | None, sample_extent: tuple[float, float]) -> FieldOfView:
    if fov is None:
        return FieldOfView((0.0, 0.0), sample_extent)
    if isinstance(fov, FieldOfView):
        out = fov
    else:
        values = list(fov) if isinstance(fov, Iterable) else []
        if len(values) != 4:
            raise ConfigurationError(
                f"`fov` must be a FieldOfView or (x0, y0, width, height) [Å], got {fov!r}."
            )
        out = FieldOfView((values[0], values[1]), (values[2], values[3]))
    tol = 1e-6
    for axis, name in enumerate("xy"):
        lo, hi = out.origin[axis], out.origin[axis] + out.extent[axis]
        if lo < -tol or hi > sample_extent[axis] + tol:
            raise FieldOfViewError(
                f"`fov` spans {name} = {lo:.3f}..{hi:.3f} Å, outside the sample "
                f"(0..{sample_extent[axis]:.3f} Å along {name})."
            )
    return out


def _as_pixels(pixels: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(pixels, (int, np.integer)) and not isinstance(pixels, bool):
        n = require_int("pixels", pixels, minimum=1, maximum=MAX_PIXELS)
        return (n, n)
    if not isinstance(pixels, Sequence) or len(pixels) != 2:
        raise ConfigurationError(f"`pixels` must be an integer or a pair (nx, ny), got {pixels!r}.")
    return (
        require_int("pixels[0]", pixels[0], minimum=1, maximum=MAX_PIXELS),
        require_int("pixels[1]", pixels[1], minimum=1, maximum=MAX_PIXELS),
    )


class Microscope:
    """A simulated STEM looking at one sample.

    Parameters
    ----------
    sample
        The sample; the microscope keeps its own evolving copy.
    optics
        Probe-forming optics.
    detector
        Default imaging detector: ``"haadf"``, ``"abf"`` or an :class:`AnnularDetector`.
    spectrometer
        EELS spectrometer.
    dose
        Probe current and scan timing for imaging.
    scan_noise
        Scan distortions; ``ScanNoise.typical()`` by default, ``ScanNoise.none()`` for an ideal scan.
    camera
        Pixelated diffraction camera for 4D-STEM; its disks must fit (checked here).
    engine
        Signal engine, ``"fast"`` (default) or ``"abtem"``, for images and diffraction.
    calibration
        Fast-engine element weights: ``"abtem"`` (calibrated, default) or ``"zn"`` (Z^1.7 fallback).
    read_noise
        Gaussian read noise of the detectors [counts].
    dynamics
        Beam-dynamics processes applied after every acquisition.
    rng
        Seed or generator; split into independent streams for the scan, noise and dynamics.
    """

    def __init__(
        self,
        sample: Sample,
        *,
        optics: Optics | None = None,
        detector: str | AnnularDetector = "haadf",
        spectrometer: Spectrometer | None = None,
        dose: Dose | None = None,
        scan_noise: ScanNoise | None = None,
        camera: DiffractionCamera | None = None,
        engine: str | ImagingEngine = "fast",
        calibration: str = "abtem",
        read_noise: float = 0.0,
        dynamics: Sequence[BeamDynamics] = (),
        rng: RNGLike = None,
    ) -> None:
        if not isinstance(sample, Sample):
            raise ConfigurationError(f"`sample` must be a stemtwin Sample, got {type(sample).__name__}.")
        for name, value, kind in (
            ("optics", optics, Optics),
            ("spectrometer", spectrometer, Spectrometer),
            ("dose", dose, Dose),
            ("scan_noise", scan_noise, ScanNoise),
            ("camera", camera, DiffractionCamera),
        ):
            if value is not None and not isinstance(value, kind):
                raise ConfigurationError(f"`{name}` must be a {kind.__name__}, got {type(value).__name__}.")
        require_choice("calibration method", calibration, CALIBRATION_METHODS)
        self.optics = optics or Optics()
        self.detector = get_detector(detector)
        self.spectrometer = spectrometer or Spectrometer()
        self.dose = dose or Dose()
        self.scan_noise = ScanNoise.typical() if scan_noise is None else scan_noise
        self.camera = camera or DiffractionCamera()
        self.camera.check_fits(self.optics.semiangle_cutoff)
        self.engine = get_imaging_engine(engine, calibration=calibration)
        self.diffraction_engine: DiffractionEngine = get_diffraction_engine(engine if isinstance(engine, str) else "fast")
        self.read_noise = require_non_negative("read_noise", read_noise, "counts")
        for process in dynamics:
            if not isinstance(process, BeamDynamics):
                raise ConfigurationError(
                    f"`dynamics` entries must implement BeamDynamics (name, evolve), got {type(process).__name__}."
                )
        self.dynamics: tuple[BeamDynamics, ...] = tuple(dynamics)
        self._streams = spawn_streams(rng, ("scan", "noise", "dynamics"))
        self._position_error = ProbePositionError(self.scan_noise, self._streams["scan"])
        self._sample = sample
        self._clock = 0.0
        self._events: list[Event] = []
        self._ledger = DoseLedger(sample.extent, self.optics)
        self._last: AcquisitionTruth | None = None
        self._eels: tuple[str, EELSModel] | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        """Instrument clock [s]."""
        return self._clock

    @property
    def sample_extent(self) -> tuple[float, float]:
        """Size of the sample cell (x, y) [Å] (not ground truth: the user chose the sample)."""
        return self._sample.extent

    def truth(self) -> Truth:
        """The full ground truth now. Never put any of it into an agent's observation."""
        return Truth(
            sample=self._sample,
            time=self._clock,
            events=tuple(self._events),
            dose_map=self._ledger.dose_map(),
            last_acquisition=self._last,
        )

    def dose_map(self) -> DoseMap:
        """Electron dose delivered so far, spread by the probe profile [e/Å²]."""
        return self._ledger.dose_map()

    @property
    def total_electrons(self) -> float:
        """Electrons delivered so far [e⁻]."""
        return self._ledger.total_electrons

    # -- acquisitions ------------------------------------------------------------------------
    def acquire_image(
        self,
        fov: FieldOfView | Sequence[float] | None = None,
        pixels: int | Sequence[int] = 128,
        detector: str | AnnularDetector | None = None,
        dose: Dose | None = None,
    ) -> Image:
        """Scan a field of view and record an image.

        Parameters
        ----------
        fov
            :class:`FieldOfView` or ``(x0, y0, width, height)`` [Å]; the whole cell by default.
        pixels
            Scan size, an integer or (nx, ny).
        detector
            ``"haadf"``, ``"abf"`` or an :class:`AnnularDetector`; the microscope's default if None.
        dose
            Current and timing for this frame; the microscope's default if None.

        Returns
        -------
        Image
            Counts of shape (nx, ny), float32, with the nominal sampling and origin.
        """
        fov = _as_fov(fov, self._sample.extent)
        shape = _as_pixels(pixels)
        det = self.detector if detector is None else get_detector(detector)
        dose = self.dose if dose is None else dose
        if not isinstance(dose, Dose):
            raise ConfigurationError(f"`dose` must be a Dose, got {type(dose).__name__}.")
        field = self.engine.intensity_field(self._sample, self.optics, det)
        path = scan_path(fov.origin, fov.extent, shape, dose, self._position_error, self.scan_noise, t0=self._clock)
        noise_free = field.at(path.actual)
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
        start = self._clock
        self._record(path, noise_free, "image", dose, electrons)
        return Image(
            array=counts,
            sampling=(fov.extent[0] / shape[0], fov.extent[1] / shape[1]),
            origin=fov.origin,
            metadata=self._metadata(dose, electrons, start, detector=det.kind, inner=det.inner, outer=det.outer),
        )

    def acquire_spectrum(self, xy: Sequence[float], dwell_time: float | None = None) -> Spectrum:
        """Park the probe at ``xy`` [Å] and record an EELS spectrum.

        Parameters
        ----------
        xy
            Nominal probe position (x, y) [Å], inside the sample.
        dwell_time
            Exposure [s]; ``spectrometer.exposure`` if None.
        """
        position = self._as_position(xy)
        dose = self._exposure_dose(dwell_time, self.spectrometer.exposure)
        t = np.full((1, 1), self._clock)
        actual = position[None, None, :] + self._position_error.displacement(t)
        model = self._eels_model()
        noise_free = model.noise_free(actual)[0, 0]
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
        start = self._clock
        path = ScanPath(nominal=position[None, None, :], actual=actual, times=t, end_time=start + dose.dwell_time)
        self._record(path, noise_free, "spectrum", dose, electrons)
        return Spectrum(
            array=counts,
            energy=self.spectrometer.energy_axis,
            position=(float(position[0]), float(position[1])),
            metadata=self._metadata(dose, electrons, start),
        )

    def acquire_spectrum_image(
        self,
        fov: FieldOfView | Sequence[float] | None = None,
        pixels: int | Sequence[int] = 32,
        dwell_time: float | None = None,
    ) -> SpectrumImage:
        """Scan a field of view recording a spectrum at every pixel.

        Returns
        -------
        SpectrumImage
            Counts of shape (nx, ny, channels), float32.
        """
        fov = _as_fov(fov, self._sample.extent)
        shape = _as_pixels(pixels)
        dose = self._exposure_dose(dwell_time, self.spectrometer.exposure)
        path = scan_path(fov.origin, fov.extent, shape, dose, self._position_error, self.scan_noise, t0=self._clock)
        noise_free = self._eels_model().noise_free(path.actual)
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
        start = self._clock
        self._record(path, noise_free, "spectrum_image", dose, electrons)
        return SpectrumImage(
            array=counts,
            energy=self.spectrometer.energy_axis,
            sampling=(fov.extent[0] / shape[0], fov.extent[1] / shape[1]),
            origin=fov.origin,
            metadata=self._metadata(dose, electrons, start),
        )

    def acquire_diffraction(self, xy: Sequence[float], dwell_time: float | None = None) -> DiffractionPattern:
        """Park the probe at ``xy`` [Å] and record a diffraction pattern on the camera.

        Parameters
        ----------
        xy
            Nominal probe position (x, y) [Å], inside the sample.
        dwell_time
            Exposure [s]; ``camera.exposure`` if None.
        """
        position = self._as_position(xy)
        dose = self._exposure_dose(dwell_time, self.camera.exposure)
        t = np.full((1, 1), self._clock)
        actual = position[None, None, :] + self._position_error.displacement(t)
        noise_free = self.diffraction_engine.patterns(self._sample, self.optics, self.camera, actual)[0, 0]
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
        start = self._clock
        path = ScanPath(nominal=position[None, None, :], actual=actual, times=t, end_time=start + dose.dwell_time)
        self._record(path, noise_free, "diffraction", dose, electrons)
        return DiffractionPattern(
            array=counts,
            angular_sampling=self.camera.angular_sampling,
            position=(float(position[0]), float(position[1])),
            metadata=self._metadata(dose, electrons, start, camera_pixels=self.camera.pixels),
        )

    def acquire_4dstem(
        self,
        fov: FieldOfView | Sequence[float] | None = None,
        pixels: int | Sequence[int] = 32,
        output: str = "patterns",
        dwell_time: float | None = None,
    ) -> FourDSTEM | CenterOfMassMap:
        """Scan a field of view recording a diffraction pattern at every position.

        Parameters
        ----------
        fov, pixels
            Field of view and scan size, as for :meth:`acquire_image`.
        output
            ``"patterns"``: the full 4D data set (:class:`FourDSTEM`). ``"com"``: only the
            centre-of-mass map (:class:`CenterOfMassMap`). With the fast engine, ``"com"`` uses the
            exact phase-object CoM and adds shot noise from its per-electron variance (the central
            limit of N electrons), without forming patterns.
        dwell_time
            Exposure per position [s]; ``camera.exposure`` if None.
        """
        require_choice("4D-STEM output", output, FOURD_OUTPUTS)
        fov = _as_fov(fov, self._sample.extent)
        shape = _as_pixels(pixels)
        if output == "patterns" and shape[0] * shape[1] * self.camera.pixels**2 > MAX_4DSTEM_VALUES:
            raise ConfigurationError(
                f"A {shape[0]}×{shape[1]} scan of {self.camera.pixels}² patterns holds more than "
                f"{MAX_4DSTEM_VALUES:,} values; use output='com', fewer `pixels` or a smaller camera."
            )
        dose = self._exposure_dose(dwell_time, self.camera.exposure)
        path = scan_path(fov.origin, fov.extent, shape, dose, self._position_error, self.scan_noise, t0=self._clock)
        electrons = dose.electrons_per_position
        noise = self._streams["noise"]
        sampling = (fov.extent[0] / shape[0], fov.extent[1] / shape[1])
        start = self._clock
        if output == "com" and isinstance(self.diffraction_engine, FastDiffractionEngine):
            mx, my, vx, vy = self.diffraction_engine.center_of_mass(self._sample, self.optics, self.camera)
            noise_free = np.stack([mx.at(path.actual), my.at(path.actual)], axis=-1)
            spread = np.sqrt(np.stack([vx.at(path.actual), vy.at(path.actual)], axis=-1) / max(electrons, 1e-12))
            measured = noise_free + spread * noise.standard_normal(noise_free.shape)
            self._record(path, noise_free, "4dstem_com", dose, electrons)
        else:
            patterns = self.diffraction_engine.patterns(self._sample, self.optics, self.camera, path.actual)
            counts = detector_counts(patterns, electrons, noise, self.read_noise)
            if output == "patterns":
                self._record(path, patterns, "4dstem", dose, electrons)
                return FourDSTEM(
                    array=counts,
                    angular_sampling=self.camera.angular_sampling,
                    sampling=sampling,
                    origin=fov.origin,
                    metadata=self._metadata(dose, electrons, start, camera_pixels=self.camera.pixels),
                )
            measured = center_of_mass(counts, self.camera)
            self._record(path, center_of_mass(patterns, self.camera), "4dstem_com", dose, electrons)
        return CenterOfMassMap(
            array=measured.astype(np.float32),
            sampling=sampling,
            origin=fov.origin,
            metadata=self._metadata(dose, electrons, start),
        )

    # -- internals ---------------------------------------------------------------------------
    def _as_position(self, xy: Sequence[float]) -> np.ndarray:
        if not isinstance(xy, (Sequence, np.ndarray)) or len(xy) != 2:
            raise ConfigurationError(f"`xy` must be a probe position (x, y) [Å], got {xy!r}.")
        position = np.array([require_finite("xy[0]", xy[0], "Å"), require_finite("xy[1]", xy[1], "Å")])
        extent = self._sample.extent
        if not (0 <= position[0] <= extent[0] and 0 <= position[1] <= extent[1]):
            raise FieldOfViewError(
                f"`xy` = ({position[0]:.3f}, {position[1]:.3f}) Å is outside the sample "
                f"(0..{extent[0]:.3f} × 0..{extent[1]:.3f} Å)."
            )
        return position

    def _exposure_dose(self, dwell_time: float | None, default: float) -> Dose:
        dwell = default if dwell_time is None else require_positive("dwell_time", dwell_time, "s")
        return Dose(current=self.dose.current, dwell_time=dwell, flyback_time=self.dose.flyback_time)

    def _eels_model(self) -> EELSModel:
        key = self._sample.content_hash()
        if self._eels is None or self._eels[0] != key:
            self._eels = (key, EELSModel(self._sample, self.spectrometer, self.optics, probe_sigma=EELS_PROBE_SIGMA))
        return self._eels[1]

    def _metadata(self, dose: Dose, electrons: float, start: float, **extra: Any) -> dict[str, Any]:
        return {
            "engine": self.engine.name,
            "energy": self.optics.energy,
            "semiangle_cutoff": self.optics.semiangle_cutoff,
            "current": dose.current,
            "dwell_time": dose.dwell_time,
            "flyback_time": dose.flyback_time,
            "electrons_per_position": electrons,
            "time_start": start,
            "time_end": self._clock,
            **extra,
        }

    def _record(self, path: ScanPath, noise_free: np.ndarray, kind: str, dose: Dose, electrons: float) -> None:
        positions = path.actual.reshape(-1, 2)
        self._ledger.add(positions, electrons)
        self._clock = float(path.end_time)
        self._last = AcquisitionTruth(
            kind=kind,
            noise_free=noise_free,
            nominal_positions=path.nominal,
            actual_positions=path.actual,
            times=path.times,
        )
        if not self.dynamics:
            return
        order = np.argsort(path.times, axis=None, kind="stable")
        exposure = Exposure(
            positions=positions[order],
            electrons=np.full(len(positions), electrons),
            times=path.times.reshape(-1)[order],
            dwell_time=dose.dwell_time,
            energy=self.optics.energy,
            current=dose.current,
            kind=kind,
        )
        for process in self.dynamics:
            self._sample, events = process.evolve(self._sample, exposure, self._streams["dynamics"])
            self._events.extend(events)
