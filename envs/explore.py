"""Explore environments (the DKL-BO setting): a full structural image first, then chosen measurements.

``stemtwin/EELSExplore-v0`` takes an EELS spectrum and ``stemtwin/DiffractionExplore-v0`` a diffraction
pattern at the candidate the agent picks. Both share :class:`ExploreEnv`; the two registered classes
fix the modality and document their own arguments.

Candidate grid
--------------
The field of view is the whole periodic sample cell, origin (0, 0) and extent (Lx, Ly) [Å] (the
rounded ``extent`` of the sample). The G × G candidates split it into equal cells and sit at their
centres::

    candidate (i, j)  ->  action  a = i·G + j                 (row-major, i along x, j along y)
    action a          ->  (i, j) = divmod(a, G)
    candidate (i, j)  ->  probe position (x, y) = ((i + ½)·Lx/G, (j + ½)·Ly/G)  [Å]
    candidate (i, j)  ->  image pixel (u, v) = ((i + ½)·P/G, (j + ½)·P/G)      (fractional)

where P is ``image_pixels`` and image pixel (p, q) is the nominal probe position (p·Lx/P, q·Ly/P)
(the scan's pixel (0, 0) sits at the origin). With the default P = 2G, candidate (i, j) lies exactly
on image pixel (2i + 1, 2j + 1). Every (G, G) array (``visited``, ``true_map()``) and the
``image`` are indexed (x, y), like every array of the twin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from stemtwin.twin import Dose, Microscope, Sample
from stemtwin.twin.microscope import EELS_PROBE_SIGMA
from stemtwin.twin.signals.eels import EELSModel
from stemtwin.twin.validation import require_choice

from . import rendering
from ._base import (
    InvalidActionError,
    cached_sample,
    draw_seeds,
    minmax,
)
from .config import (
    FAMILY_PRESETS,
    PROBES,
    check_bool,
    check_engine,
    check_int,
    check_optional_positive,
    check_render_mode,
    check_sample,
    check_sample_params,
    check_scan_noise,
    check_unknown_kwargs,
)
from .measurements import DERIVED_KEYS, DiffractionAnalyser, eels_measurement
from .scalarizers import CallableScalarizer, MeasurementContext, Scalarizer, make_scalarizer

__all__ = ["ExploreEnv", "EELSExploreEnv", "DiffractionExploreEnv", "EXPLORE_ARGUMENTS"]

#: Keyword arguments shared by both Explore environments.
EXPLORE_ARGUMENTS: tuple[str, ...] = (
    "sample",
    "sample_params",
    "engine",
    "grid",
    "image_pixels",
    "budget",
    "dose_budget",
    "time_budget",
    "scalarizer",
    "scalarizer_params",
    "dynamics",
    "scan_noise",
    "dwell_time",
    "render_mode",
)
#: Largest candidate grid side.
MAX_GRID = 256
#: Largest image side [pixels].
MAX_IMAGE_PIXELS = 1024
#: Candidates evaluated per batch when the true map is computed.
TRUE_MAP_CHUNK = 256


class ExploreEnv(gym.Env):
    """Shared implementation of ``EELSExplore`` and ``DiffractionExplore``; use those classes."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    modality: ClassVar[str] = ""
    env_id: ClassVar[str] = ""

    # -- construction ------------------------------------------------------------------------
    def _configure(
        self,
        *,
        sample: str,
        sample_params: Mapping[str, Any] | None,
        engine: str,
        grid: int,
        image_pixels: int | None,
        budget: int,
        dose_budget: float | None,
        time_budget: float | None,
        scalarizer: str | Callable[[Mapping[str, Any]], float] | Scalarizer | None,
        scalarizer_params: Mapping[str, Any] | None,
        dynamics: bool,
        scan_noise: Any,
        dwell_time: float | None,
        render_mode: str | None,
        unknown: Mapping[str, Any],
        valid: tuple[str, ...],
        probe: str | None = None,
        observe_pattern: bool = True,
    ) -> None:
        check_unknown_kwargs(self.env_id, unknown, valid)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.family = check_sample(sample)
        self.preset = FAMILY_PRESETS[self.family]
        self.sample_params = check_sample_params(self.family, sample_params)
        self.engine = check_engine(engine)
        self.grid = check_int("grid", grid, 2, MAX_GRID)
        self.image_pixels = check_int(
            "image_pixels", min(2 * self.grid, 128) if image_pixels is None else image_pixels, 8, MAX_IMAGE_PIXELS
        )
        self.budget = check_int("budget", budget, 1, 10**9)
        self.dose_budget = check_optional_positive("dose_budget", dose_budget, "e⁻")
        self.time_budget = check_optional_positive("time_budget", time_budget, "s")
        self.dynamics = check_bool("dynamics", dynamics)
        self.scan_noise = check_scan_noise(scan_noise)
        self.observe_pattern = check_bool("observe_pattern", observe_pattern)

        if scalarizer is None:
            name, params = (
                self.preset.eels_scalarizer if self.modality == "eels" else self.preset.diffraction_scalarizer
            )
            scalarizer, scalarizer_params = name, {**params, **dict(scalarizer_params or {})}
        self.scalarizer = make_scalarizer(scalarizer, scalarizer_params, self.modality)

        # Instrument.
        self.optics = self.preset.optics
        self.probe = "atomic"
        self.camera = self.preset.camera
        if self.modality == "diffraction":
            wants_nanobeam = getattr(self.scalarizer, "needs_separated_disks", False)
            self.probe = ("nanobeam" if wants_nanobeam else "atomic") if probe is None else probe
            require_choice("probe", self.probe, PROBES)
            if self.probe == "nanobeam":
                self.optics, self.camera = self.preset.nanobeam_optics, self.preset.nanobeam_camera
            default_dwell = self.camera.exposure
        else:
            default_dwell = self.preset.spectrum_dwell
        self.dwell_time = check_optional_positive("dwell_time", dwell_time, "s") or default_dwell
        self.current = Dose().current
        self.electrons = Dose(current=self.current, dwell_time=self.dwell_time).electrons_per_position
        energy = self.preset.spectrometer.energy_axis if self.modality == "eels" else None
        self._analyser = DiffractionAnalyser(self.camera, self.optics) if self.modality == "diffraction" else None
        self._context = MeasurementContext(
            modality=self.modality,
            electrons=self.electrons,
            energy=energy,
            optics=self.optics,
            camera=self.camera,
            lattice_basis=self.preset.lattice_basis,
            d_spacing=self.preset.d_spacing,
        )
        self.scalarizer.prepare(self._context)  # validates windows and disks before any reset

        # Spaces.
        g, p = self.grid, self.image_pixels
        bound = np.float32(self.electrons)
        obs: dict[str, spaces.Space[Any]] = {
            "image": spaces.Box(np.float32(0.0), np.float32(1.0), (p, p), np.float32),
        }
        if self.modality == "eels":
            channels = self.preset.spectrometer.channels
            obs["measurement"] = spaces.Box(np.float32(0.0), bound, (channels,), np.float32)
        else:
            assert self._analyser is not None
            obs["measurement"] = spaces.Box(self._analyser.low, self._analyser.high, (len(DERIVED_KEYS),), np.float32)
            if self.observe_pattern:
                obs["pattern"] = spaces.Box(np.float32(0.0), bound, (self.camera.pixels,) * 2, np.float32)
        obs["visited"] = spaces.Box(np.float32(0.0), np.float32(1.0), (g, g), np.float32)
        obs["last_position"] = spaces.Box(np.float32(-1.0), np.float32(1.0), (2,), np.float32)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Discrete(g * g)

        self._ready = False
        self.microscope: Microscope | None = None
        self.survey_microscope: Microscope | None = None

    # -- public helpers ----------------------------------------------------------------------
    @property
    def extent(self) -> tuple[float, float]:
        """Field of view (x, y) [Å]: the whole sample cell (set at reset)."""
        self._require_reset()
        return self._extent

    def candidate_positions(self) -> np.ndarray:
        """Probe position of every candidate, ndarray of shape (G·G, 2) [Å], row ``a = i·G + j``."""
        self._require_reset()
        return self._positions.copy()

    def candidate_pixels(self) -> np.ndarray:
        """Fractional image pixel (u, v) of every candidate, shape (G·G, 2): ``((i + ½)·P/G, (j + ½)·P/G)``."""
        g, p = self.grid, self.image_pixels
        i, j = np.divmod(np.arange(g * g), g)
        return np.stack([(i + 0.5) * p / g, (j + 0.5) * p / g], axis=1)

    def candidate_patches(self, size: int = 16) -> np.ndarray:
        """Patches of the reset image around every candidate, for deep-kernel agents.

        Patch ``a`` (candidate (i, j), ``a = i·G + j``) is ``image[u0 : u0 + size, v0 : v0 + size]``
        of the normalised observation image, with ``u0 = floor((i + ½)·P/G + ½) − size // 2`` and
        likewise ``v0``; indices wrap around, since the image spans one periodic cell. The patch is
        indexed (x, y) like the image, and the candidate lies at its pixel (size // 2, size // 2).

        Parameters
        ----------
        size
            Patch side [pixels], 1 to ``image_pixels``.

        Returns
        -------
        ndarray of shape (G·G, size, size), float32, values in [0, 1]
        """
        self._require_reset()
        size = check_int("size", size, 1, self.image_pixels)
        g, p = self.grid, self.image_pixels
        centre = np.floor((np.arange(g) + 0.5) * p / g + 0.5).astype(int)
        offsets = np.arange(size) - size // 2
        idx = (centre[:, None] + offsets[None, :]) % p  # (G, size)
        patches = self._image01[idx[:, None, :, None], idx[None, :, None, :]]  # (G, G, size, size)
        return np.ascontiguousarray(patches.reshape(g * g, size, size), dtype=np.float32)

    def true_map(self) -> np.ndarray:
        """The scalarizer of the noise-free measurement at every candidate, shape (G, G), indexed (i, j).

        Evaluated on the sample as it was at the end of ``reset`` (after the survey image), at the
        nominal candidate positions (no scan distortion), in expected counts for the episode's dwell
        time. Ground truth, for scoring only: it never enters an observation. Computed on the first
        call after each reset and cached.
        """
        self._require_reset()
        if self._true_map is None:
            self._true_map = self._compute_true_map()
        return self._true_map.copy()

    @property
    def image(self):  # noqa: ANN201 - stemtwin.twin.Image
        """The survey image record of this episode (counts, sampling, metadata)."""
        self._require_reset()
        return self._image

    # -- Gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        seeds = draw_seeds(self.np_random, ("sample", "survey", "microscope"))
        sample = cached_sample(self.family, self.sample_params, seeds["sample"])
        dynamics: Any = "auto" if self.dynamics else ()
        common = {"scan_noise": self.scan_noise, "engine": self.engine, "dynamics": dynamics}
        if self.probe == "nanobeam":
            # The survey image needs the atomic-resolution probe; the probe is then switched to the
            # nano-beam, modelled as handing the sample (as the survey left it) to a second microscope.
            survey = Microscope(sample, optics=self.preset.optics, rng=seeds["survey"], **common)
            image = survey.acquire_image(pixels=self.image_pixels)
            start = survey.truth().sample
            scope = Microscope(start, optics=self.optics, camera=self.camera, rng=seeds["microscope"], **common)
            self._offsets = (survey.time, survey.total_electrons, survey.event_count)
            self.survey_microscope = survey
        else:
            scope = Microscope(
                sample,
                optics=self.optics,
                camera=self.camera,
                spectrometer=self.preset.spectrometer,
                rng=seeds["microscope"],
                **common,
            )
            image = scope.acquire_image(pixels=self.image_pixels)
            start = scope.truth().sample if self.dynamics else sample
            self._offsets = (0.0, 0.0, 0)
            self.survey_microscope = scope
        self.microscope = scope
        self._image = image
        self._image01 = minmax(image.array)
        self._start_sample: Sample = start
        self._extent = start.extent
        g = self.grid
        i, j = np.divmod(np.arange(g * g), g)
        self._positions = np.stack([(i + 0.5) * self._extent[0] / g, (j + 0.5) * self._extent[1] / g], axis=1)
        self._visited = np.zeros((g, g), dtype=np.float32)
        self._last_position = np.full(2, -1.0, dtype=np.float32)
        self._measurement_obs = np.zeros(self.observation_space["measurement"].shape, dtype=np.float32)
        self._pattern_obs = (
            np.zeros(self.observation_space["pattern"].shape, dtype=np.float32) if "pattern" in self.observation_space.spaces else None
        )
        self._last_measurement: dict[str, Any] | None = None
        self._current: tuple[int, int] | None = None
        self._count = 0
        self._true_map: np.ndarray | None = None
        if self.modality == "diffraction" and hasattr(scope.diffraction_engine, "phase_object"):
            # Build the fast engine's phase object now (the first one in a process also imports abTEM
            # for its scattering factors), so that steps take milliseconds from the first one on.
            scope.diffraction_engine.phase_object(start, self.optics, self.camera)
        if getattr(self.scalarizer, "needs_separated_disks", False):
            centre = np.array([[0.5 * self._extent[0], 0.5 * self._extent[1]]])
            reference = self._noise_free_patterns(start, centre)[0]
            self._context = MeasurementContext(**{**vars(self._context), "reference_pattern": reference})
            self.scalarizer.prepare(self._context)
        self._ready = True
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if not self._ready:
            raise ResetNeeded("Call reset() before step(): the environment has no episode yet.")
        index = self._check_action(action)
        i, j = divmod(index, self.grid)
        position = (float(self._positions[index, 0]), float(self._positions[index, 1]))
        scope = self.microscope
        assert scope is not None
        if self.modality == "eels":
            record = scope.acquire_spectrum(position, dwell_time=self.dwell_time)
            noise_free = np.asarray(scope.last_acquisition.noise_free[0, 0], dtype=np.float64) * self.electrons
            # The noisy and the noise-free spectrum are scored in one vectorised call.
            both = eels_measurement(np.stack([record.array, noise_free]), self._context.energy, self.electrons, position)  # type: ignore[arg-type]
            np.clip(record.array, 0.0, self.electrons, out=self._measurement_obs)
        else:
            assert self._analyser is not None
            record = scope.acquire_diffraction(position, dwell_time=self.dwell_time)
            noise_free = scope.last_acquisition.noise_free[0, 0] * self.electrons
            both = self._analyser.measurement(np.stack([record.array, noise_free]), self.electrons, position)
            self._measurement_obs = self._analyser.vector(both, 0)
            if self._pattern_obs is not None:
                np.clip(record.array, 0.0, self.electrons, out=self._pattern_obs)
        measurement = _pick(both, 0)
        if isinstance(self.scalarizer, CallableScalarizer):
            reward, clean_scalar = self.scalarizer(measurement), self.scalarizer(_pick(both, 1))
        else:
            reward, clean_scalar = (float(v) for v in np.asarray(self.scalarizer.evaluate(both)).reshape(2))
        self._visited[i, j] = 1.0
        self._last_position[:] = ((i + 0.5) / self.grid, (j + 0.5) / self.grid)
        self._current = (i, j)
        self._last_measurement = measurement
        self._count += 1
        info = self._info()
        info.update({"position": position, "candidate": (i, j), "noise_free_scalar": clean_scalar})
        terminated = self._budget_spent(info)
        return self._observation(), float(reward), terminated, False, info

    def render(self) -> np.ndarray | None:
        """The survey image with the visited candidates (red) and the latest (green), beside the latest measurement.

        Returns an (256, 512, 3) uint8 array for ``render_mode="rgb_array"``, None otherwise.
        """
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to make().")
            return None
        self._require_reset()
        m = self._last_measurement
        if self.modality == "eels":
            panel = rendering.spectrum_panel(None if m is None else m["spectrum"])
        else:
            panel = rendering.pattern_panel(None if m is None else m["pattern"])
        return rendering.explore_frame(self._image01, self._visited, self._current, panel)

    # -- internals ---------------------------------------------------------------------------
    def _require_reset(self) -> None:
        if not self._ready:
            raise ResetNeeded("Call reset() first: the environment has no episode yet.")

    def _check_action(self, action: Any) -> int:
        n = self.action_space.n
        value = action
        if isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer):
            value = value.item()
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise InvalidActionError(
                f"The action must be an integer candidate index 0..{n - 1} (Discrete({n}), a = i·{self.grid} + j), "
                f"got {action!r} of type {type(action).__name__}."
            )
        index = int(value)
        if not 0 <= index < n:
            raise InvalidActionError(
                f"Action {index} is outside the action space Discrete({n}): valid candidate indices are 0..{n - 1} "
                f"(a = i·{self.grid} + j for candidate (i, j), 0 <= i, j < {self.grid})."
            )
        return index

    def _observation(self) -> dict[str, np.ndarray]:
        obs = {
            "image": self._image01.copy(),
            "measurement": self._measurement_obs.copy(),
            "visited": self._visited.copy(),
            "last_position": self._last_position.copy(),
        }
        if self._pattern_obs is not None:
            obs["pattern"] = self._pattern_obs.copy()
        return obs

    def _info(self) -> dict[str, Any]:
        scope = self.microscope
        assert scope is not None
        t0, e0, n0 = self._offsets
        return {
            "cumulative_dose": float(e0 + scope.total_electrons),
            "time": float(t0 + scope.time),
            "events": int(n0 + scope.event_count),
            "measurements": self._count,
        }

    def _budget_spent(self, info: Mapping[str, Any]) -> bool:
        if self._count >= self.budget:
            return True
        if self.dose_budget is not None and info["cumulative_dose"] >= self.dose_budget:
            return True
        return self.time_budget is not None and info["time"] >= self.time_budget

    def _noise_free_patterns(self, sample: Sample, positions: np.ndarray) -> np.ndarray:
        scope = self.microscope
        assert scope is not None
        return scope.diffraction_engine.patterns(sample, self.optics, self.camera, positions) * self.electrons

    def _compute_true_map(self) -> np.ndarray:
        sample = self._start_sample
        values = np.empty(len(self._positions))
        if self.modality == "eels":
            model = EELSModel(sample, self.preset.spectrometer, self.optics, probe_sigma=EELS_PROBE_SIGMA)
            energy = self._context.energy
        for start in range(0, len(self._positions), TRUE_MAP_CHUNK):
            chunk = self._positions[start : start + TRUE_MAP_CHUNK]
            if self.modality == "eels":
                signal = model.noise_free(chunk).astype(np.float64) * self.electrons
                batch = eels_measurement(signal, energy, self.electrons, chunk)  # type: ignore[arg-type]
            else:
                assert self._analyser is not None
                batch = self._analyser.measurement(self._noise_free_patterns(sample, chunk), self.electrons, chunk)
            values[start : start + len(chunk)] = self._evaluate_batch(batch, chunk)
        return values.reshape(self.grid, self.grid)

    def _evaluate_batch(self, batch: dict[str, Any], positions: np.ndarray) -> np.ndarray:
        if not isinstance(self.scalarizer, CallableScalarizer):
            return np.asarray(self.scalarizer.evaluate(batch), dtype=np.float64).reshape(-1)
        out = np.empty(len(positions))
        for k in range(len(positions)):
            one = _pick(batch, k)
            one["position"] = (float(positions[k, 0]), float(positions[k, 1]))
            out[k] = self.scalarizer(one)
        return out


def _pick(batch: Mapping[str, Any], k: int) -> dict[str, Any]:
    """Measurement ``k`` of a batched measurement dict (the energy axis and scalars are shared)."""
    return {
        key: (value[k] if isinstance(value, np.ndarray) and value.ndim and key != "energy" else value)
        for key, value in batch.items()
    }


_COMMON_DOC = """
    Arguments
    ---------
    sample : str
        Sample family: ``"graphene"`` (Si dopants, vacancies; 80 kV), ``"mos2-res2"`` (Mo/Re alloy,
        S vacancies; 80 kV) or ``"ferroelectric"`` (PbTiO3-like domains; 200 kV).
    sample_params : dict
        Builder parameters, merged over the family's defaults
        (:data:`stemtwin.envs.config.FAMILY_PRESETS`); unknown names fail with a hint.
    engine : str
        ``"fast"`` (milliseconds per step) or ``"abtem"`` (reference physics; seconds).
    grid : int
        Candidate grid side G (2–256); the action space is ``Discrete(G·G)``.
    image_pixels : int
        Side P of the survey image (8–1024); ``min(2·G, 128)`` by default.
    budget : int
        Measurements per episode; the episode terminates when they are spent.
    dose_budget : float
        Optional electron budget [e⁻], counting the survey image; terminates once reached.
    time_budget : float
        Optional instrument-time budget [s], counting the survey image; terminates once reached.
    scalarizer : str or callable
        Reward: a name from :data:`stemtwin.envs.scalarizers.SCALARIZERS` for this modality, or a
        callable ``f(measurement: dict) -> float`` (see :mod:`stemtwin.envs.measurements`).
    scalarizer_params : dict
        Parameters of a named scalarizer (for example ``{"window": (280.0, 300.0)}``).
    dynamics : bool
        True (default): the dose of every acquisition acts on the sample through the family's
        beam-dynamics model. False: the "pre-acquired data" mode, the sample never changes.
    scan_noise : str
        ``"typical"`` (drift, jitter, flyback, scale errors of PHYSICS.md) or ``"none"``.
    dwell_time : float
        Exposure of each measurement [s]. The probe current is 30 pA, so N = I·τ/e electrons.
    render_mode : str
        None or ``"rgb_array"``.
"""


class EELSExploreEnv(ExploreEnv):
    __doc__ = """Choose where to take EELS spectra on a sample whose structural image you hold.

    Description
    -----------
    At reset the microscope records a HAADF image of the whole sample cell (shot noise, scan
    distortions). The agent then picks, step by step, one of G × G candidate probe positions; the
    microscope parks the beam there for ``dwell_time`` and records a spectrum. The reward is a
    scalarizer of the spectrum (by default per family: ``si_fourfold`` for graphene, the Mo M4,5
    edge for MoS2, the Ti L2,3 edge for the ferroelectric). The dose acts on the sample (Si jumps,
    vacancies, Mo/Re exchange, domain motion) unless ``dynamics=False``.

    Action Space
    ------------
    ``Discrete(G·G)``: candidate (i, j) is action ``a = i·G + j``; its probe position is
    ``((i + ½)·Lx/G, (j + ½)·Ly/G)`` [Å] over the sample cell (Lx, Ly) (module docstring of
    :mod:`stemtwin.envs.explore`). An action outside ``0..G·G−1`` raises ``ValueError``; nothing is
    clipped. A candidate may be measured again: the beam delivers its dose again, the sample may have
    changed, and the new spectrum is returned (``visited`` stays 1).

    Observation Space
    -----------------
    ``Dict`` of float32 Boxes:

    - ``"image"`` (P, P) in [0, 1]: the survey image, min–max normalised, indexed (x, y); the counts
      are in ``env.unwrapped.image``. It does not change during the episode.
    - ``"measurement"`` (channels,) in [0, N]: the latest spectrum in counts (zeros after reset);
      N = I·τ/e is the number of incident electrons, which no channel can exceed (detector saturation).
      Energy axis: the family's spectrometer (``env.unwrapped.preset.spectrometer.energy_axis``).
    - ``"visited"`` (G, G) 0/1: candidates measured so far, indexed (i, j).
    - ``"last_position"`` (2,) in [−1, 1]: the latest candidate as ((i + ½)/G, (j + ½)/G), or (−1, −1)
      before the first measurement.

    Patches for deep-kernel models: ``env.unwrapped.candidate_patches(size)`` returns the (G·G, size,
    size) patches of the survey image around every candidate.

    Rewards
    -------
    ``scalarizer(measurement)`` of the noisy spectrum. ``info["noise_free_scalar"]`` holds the same
    scalarizer of the noise-free spectrum at the real probe position, and
    ``env.unwrapped.true_map()`` the (G, G) map over all candidates on the sample at reset.

    Starting State
    --------------
    A sample of the family drawn from ``np_random`` (every reset a new one, the same for a seed), a
    fresh microscope, and its survey image; ``info`` at reset holds the survey's dose and time.

    Episode End
    -----------
    ``terminated`` once ``budget`` measurements are taken, or the dose or time budget is reached.
    Truncation: ``max_episode_steps`` (100 as registered; pass ``max_episode_steps`` to ``make`` for a
    larger ``budget``).

    Info
    ----
    ``cumulative_dose`` [e⁻], ``time`` [s], ``events`` (beam-induced events so far) and
    ``measurements`` always; after a step also ``position`` (x, y) [Å], ``candidate`` (i, j) and
    ``noise_free_scalar``.
    """ + _COMMON_DOC + """
    Version History
    ---------------
    - v0: initial version.
    """

    modality = "eels"
    env_id = "stemtwin/EELSExplore-v0"

    def __init__(
        self,
        *,
        sample: str = "graphene",
        sample_params: Mapping[str, Any] | None = None,
        engine: str = "fast",
        grid: int = 64,
        image_pixels: int | None = None,
        budget: int = 100,
        dose_budget: float | None = None,
        time_budget: float | None = None,
        scalarizer: str | Callable[[Mapping[str, Any]], float] | None = None,
        scalarizer_params: Mapping[str, Any] | None = None,
        dynamics: bool = True,
        scan_noise: str = "typical",
        dwell_time: float | None = None,
        render_mode: str | None = None,
        **unknown: Any,
    ) -> None:
        self._configure(
            sample=sample,
            sample_params=sample_params,
            engine=engine,
            grid=grid,
            image_pixels=image_pixels,
            budget=budget,
            dose_budget=dose_budget,
            time_budget=time_budget,
            scalarizer=scalarizer,
            scalarizer_params=scalarizer_params,
            dynamics=dynamics,
            scan_noise=scan_noise,
            dwell_time=dwell_time,
            render_mode=render_mode,
            unknown=unknown,
            valid=EXPLORE_ARGUMENTS,
        )


class DiffractionExploreEnv(ExploreEnv):
    __doc__ = """Choose where to record 4D-STEM diffraction patterns on a sample whose structural image you hold.

    Description
    -----------
    As ``EELSExplore``, but each step records a convergent-beam diffraction pattern on a pixelated
    camera and its derived quantities: centre of mass (CoM) and virtual bright-field, annular
    bright-field and annular dark-field signals. The default scalarizer is ``com_magnitude``.
    With ``probe="atomic"`` (default) the probe is the family's atomic-resolution probe (overlapping
    disks, CoM at atomic resolution); with ``probe="nanobeam"`` (the default for
    ``strain_component``) the survey image is still taken with the atomic probe, then the
    convergence is reduced so that the disks separate (α < λ/2d), which strain mapping needs. The
    switch is modelled by handing the sample to a second microscope (``env.unwrapped.microscope``;
    the survey one is ``env.unwrapped.survey_microscope``); ``info`` adds up both.

    Action Space
    ------------
    ``Discrete(G·G)``, as ``EELSExplore``: action ``a = i·G + j`` → probe position
    ``((i + ½)·Lx/G, (j + ½)·Ly/G)`` [Å]. Out of range raises ``ValueError``. Revisiting is allowed.

    Observation Space
    -----------------
    ``Dict`` of float32 Boxes:

    - ``"image"`` (P, P) in [0, 1]: the normalised survey image, indexed (x, y).
    - ``"measurement"`` (7,): ``[com_x, com_y, |com|, com_angle, bf, abf, adf]`` of the latest pattern
      (zeros after reset); CoM in mrad within ±(camera edge), angle in [−π, π] rad, virtual detectors
      as fractions of the incident electrons in [0, 1].
    - ``"pattern"`` (pixels, pixels) in [0, N] (when ``observe_pattern``): the latest pattern in counts,
      axes (θx, θy), beam at pixel ``pixels // 2``; N incident electrons bound every pixel.
    - ``"visited"`` (G, G) and ``"last_position"`` (2,): as ``EELSExplore``.

    Rewards
    -------
    ``scalarizer(measurement)`` of the noisy pattern; ``info["noise_free_scalar"]`` and
    ``env.unwrapped.true_map()`` as in ``EELSExplore``.

    Starting State
    --------------
    As ``EELSExplore``. With a strain scalarizer, the strain reference is fitted to the noise-free
    pattern at the centre of the field of view at reset.

    Episode End
    -----------
    As ``EELSExplore``.

    Info
    ----
    As ``EELSExplore``.
    """ + _COMMON_DOC + """    probe : str
        ``"atomic"`` or ``"nanobeam"``; by default ``"nanobeam"`` for ``strain_component`` and
        ``"atomic"`` otherwise.
    observe_pattern : bool
        Whether the observation carries the pattern itself (default True).

    Version History
    ---------------
    - v0: initial version.
    """

    modality = "diffraction"
    env_id = "stemtwin/DiffractionExplore-v0"

    def __init__(
        self,
        *,
        sample: str = "graphene",
        sample_params: Mapping[str, Any] | None = None,
        engine: str = "fast",
        grid: int = 64,
        image_pixels: int | None = None,
        budget: int = 100,
        dose_budget: float | None = None,
        time_budget: float | None = None,
        scalarizer: str | Callable[[Mapping[str, Any]], float] | None = None,
        scalarizer_params: Mapping[str, Any] | None = None,
        dynamics: bool = True,
        scan_noise: str = "typical",
        dwell_time: float | None = None,
        probe: str | None = None,
        observe_pattern: bool = True,
        render_mode: str | None = None,
        **unknown: Any,
    ) -> None:
        self._configure(
            sample=sample,
            sample_params=sample_params,
            engine=engine,
            grid=grid,
            image_pixels=image_pixels,
            budget=budget,
            dose_budget=dose_budget,
            time_budget=time_budget,
            scalarizer=scalarizer,
            scalarizer_params=scalarizer_params,
            dynamics=dynamics,
            scan_noise=scan_noise,
            dwell_time=dwell_time,
            render_mode=render_mode,
            unknown=unknown,
            valid=(*EXPLORE_ARGUMENTS, "probe", "observe_pattern"),
            probe=probe,
            observe_pattern=observe_pattern,
        )
