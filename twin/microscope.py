"""The microscope: the one stateful object, which an environment drives.

It owns the evolving sample, the clock, the dose ledger and the probe-position error process.
Every acquisition delivers electrons, advances the clock, and then lets each beam-dynamics process
act on the sample. Observations carry counts and metadata only; the ground truth is in
:meth:`Microscope.truth`.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .detectors import AnnularDetector, DiffractionCamera, get_detector
from .dose import Dose
from .dose_ledger import DoseLedger
from .dynamics import BeamDynamics, Event, Exposure, default_dynamics
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
#: Sample snapshots kept in the ground truth (the oldest are dropped, so memory stays bounded).
MAX_SNAPSHOTS = 64
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
        Beam-dynamics processes that act during every acquisition, or ``"auto"`` for the sample
        family's default model (:func:`stemtwin.twin.dynamics.default_dynamics`). The default,
        no dynamics, is the "pre-acquired data" mode: the sample never changes.
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
        dynamics: Sequence[BeamDynamics] | str = (),
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
        if isinstance(dynamics, str):
            require_choice("dynamics", dynamics, ("auto",))
            dynamics = default_dynamics(sample)
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
        self._snapshots: deque[tuple[float, Sample]] = deque([(0.0, sample)], maxlen=MAX_SNAPSHOTS)
        self._eels: tuple[str, EELSModel] | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the EELS model cache (rebuilt on demand)."""
        state = self.__dict__.copy()
        state["_eels"] = None
        return state

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
            snapshots=tuple(self._snapshots),
        )

    @property
    def last_acquisition(self) -> AcquisitionTruth | None:
        """Noise-free signal and real probe path of the latest acquisition (ground truth), if any."""
        return self._last

    @property
    def event_count(self) -> int:
        """Number of beam-induced events so far."""
        return len(self._events)

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
        self.engine.intensity_field(self._sample, self.optics, det)  # fail early, before any dose
        path = scan_path(fov.origin, fov.extent, shape, dose, self._position_error, self.scan_noise, t0=self._clock)
        start = self._clock
        noise_free = self._measure_along(
            path, lambda sample, xy: self.engine.intensity_field(sample, self.optics, det).at(xy), dose, "image"
        )
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
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
        start = self._clock
        noise_free = self._measure_along(
            self._parked_path(position, dose), lambda sample, p: self._eels_model(sample).noise_free(p), dose, "spectrum"
        )[0, 0]
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
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
        start = self._clock
        noise_free = self._measure_along(
            path, lambda sample, p: self._eels_model(sample).noise_free(p), dose, "spectrum_image"
        )
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
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
        start = self._clock
        noise_free = self._measure_along(self._parked_path(position, dose), self._patterns, dose, "diffraction")[0, 0]
        electrons = dose.electrons_per_position
        counts = detector_counts(noise_free, electrons, self._streams["noise"], self.read_noise)
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
            moments = self._measure_along(path, self._com_moments, dose, "4dstem_com")
            noise_free = moments[..., :2]
            spread = np.sqrt(moments[..., 2:] / max(electrons, 1e-12))
            measured = noise_free + spread * noise.standard_normal(noise_free.shape)
            self._last = dataclasses.replace(self._last, noise_free=noise_free)  # type: ignore[arg-type]
        else:
            patterns = self._measure_along(path, self._patterns, dose, "4dstem")
            counts = detector_counts(patterns, electrons, noise, self.read_noise)
            if output == "patterns":
                return FourDSTEM(
                    array=counts,
                    angular_sampling=self.camera.angular_sampling,
                    sampling=sampling,
                    origin=fov.origin,
                    metadata=self._metadata(dose, electrons, start, camera_pixels=self.camera.pixels),
                )
            measured = center_of_mass(counts, self.camera)
            self._last = dataclasses.replace(  # type: ignore[arg-type]
                self._last, kind="4dstem_com", noise_free=center_of_mass(patterns, self.camera)
            )
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

    def _eels_model(self, sample: Sample) -> EELSModel:
        key = sample.content_hash()
        if self._eels is None or self._eels[0] != key:
            self._eels = (key, EELSModel(sample, self.spectrometer, self.optics, probe_sigma=EELS_PROBE_SIGMA))
        return self._eels[1]

    def _patterns(self, sample: Sample, positions: np.ndarray) -> np.ndarray:
        return self.diffraction_engine.patterns(sample, self.optics, self.camera, positions)

    def _com_moments(self, sample: Sample, positions: np.ndarray) -> np.ndarray:
        fields = self.diffraction_engine.center_of_mass(sample, self.optics, self.camera)  # type: ignore[attr-defined]
        return np.stack([f.at(positions) for f in fields], axis=-1)

    def _parked_path(self, position: np.ndarray, dose: Dose) -> ScanPath:
        """The path of a parked beam: one position for ``dose.dwell_time``, moved by the drift."""
        t = np.full((1, 1), self._clock)
        actual = position[None, None, :] + self._position_error.displacement(t)
        return ScanPath(nominal=position[None, None, :], actual=actual, times=t, end_time=self._clock + dose.dwell_time)

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

    def _measure_along(
        self,
        path: ScanPath,
        measure: Callable[[Sample, np.ndarray], np.ndarray],
        dose: Dose,
        kind: str,
    ) -> np.ndarray:
        """Evaluate a noise-free signal along a scan path while the beam acts on the sample.

        Without dynamics the whole path is evaluated at once. With dynamics it is evaluated one
        scan line at a time (one position for a parked beam); after each line the dynamics receive
        that line's exposure, so an event mid-scan shows from the next line on. Every electron is
        entered in the dose ledger, the clock moves to the end of the path, and the noise-free
        signal and real probe path become the latest acquisition's ground truth.

        Parameters
        ----------
        measure
            ``measure(sample, positions (..., 2)) -> ndarray (..., *signal_shape)``.
        """
        electrons = dose.electrons_per_position
        if not self.dynamics:
            noise_free = measure(self._sample, path.actual)
        else:
            lines = []
            for j in range(path.actual.shape[1]):
                positions = path.actual[:, j : j + 1]
                lines.append(measure(self._sample, positions))
                exposure = Exposure(
                    positions=positions[:, 0],
                    electrons=np.full(positions.shape[0], electrons),
                    times=path.times[:, j],
                    dwell_time=dose.dwell_time,
                    energy=self.optics.energy,
                    current=dose.current,
                    kind=kind,
                )
                self._apply_dynamics(exposure)
            noise_free = np.concatenate(lines, axis=1)
        self._ledger.add(path.actual.reshape(-1, 2), electrons)
        self._clock = float(path.end_time)
        self._last = AcquisitionTruth(
            kind=kind,
            noise_free=noise_free,
            nominal_positions=path.nominal,
            actual_positions=path.actual,
            times=path.times,
        )
        return noise_free

    def _apply_dynamics(self, exposure: Exposure) -> None:
        before = self._sample
        for process in self.dynamics:
            self._sample, events = process.evolve(self._sample, exposure, self._streams["dynamics"])
            self._events.extend(events)
        # Snapshot when the structure changed (not when only a field such as trapped charge did).
        if self._sample is not before and self._sample.content_hash() != self._snapshots[-1][1].content_hash():
            self._snapshots.append((float(exposure.times[-1] + exposure.dwell_time), self._sample))
