"""``stemtwin/BeamDynamics-v0`` (the rVAE setting): image a sample that transforms under the beam.

Action mapping
--------------
The action ``a = (a_x, a_y, a_d)`` in ``Box(-1, 1, (3,))`` sets the next frame::

    t_x = (a_x + 1) / 2,  t_y = (a_y + 1) / 2,  t_d = (a_d + 1) / 2          (each in [0, 1])
    field-of-view origin  (x0, y0) = (t_x·(Lx − F), t_y·(Ly − F))              [Å]
    dwell time per pixel  τ = 10^(log10 τ_min + t_d·(log10 τ_max − log10 τ_min))   [s]

where (Lx, Ly) is the sample cell and F the field-of-view side (``fov``): the square frame always lies
inside the cell, and ``a_d`` moves the dwell (hence the dose, N = I·τ/e electrons per pixel at 30 pA)
log-uniformly between ``dwell_range``. ``a = (0, 0, 0)`` images the centre of the cell at the
geometric mean dwell.

Local fragment rotation
-----------------------
``frame_truth()["rotation"]`` gives, for every atom in the frame, the orientation of its local
fragment: the angle of the projected vector from the atom to its nearest neighbouring column
(another atom farther than 0.5 Å in projection, so atoms of the same column, such as the two S of an
MoS2 column or the Ti–O apical column, do not count; periodic cell), taken modulo 2π/n, where n is
the rotational order of the fragment (3 for graphene and MoS2 sites, 4 for 4-fold Si and for the
perovskite). It lies in [0, 2π/n) [rad]. In pristine graphene the two sublattices read π/2 mod 2π/3
= π/2 and π/6; a Si jump or a rotated fragment changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from scipy.spatial import cKDTree

from stemtwin.twin import Dose, FieldOfView, Microscope, Sample
from stemtwin.twin.errors import ConfigurationError

from . import rendering
from ._base import InvalidActionError, cached_sample, draw_seeds, minmax
from .config import (
    FAMILY_PRESETS,
    check_bool,
    check_engine,
    check_int,
    check_optional_positive,
    check_positive,
    check_range_pair,
    check_render_mode,
    check_sample,
    check_sample_params,
    check_scan_noise,
    check_unknown_kwargs,
)

__all__ = ["BeamDynamicsEnv", "BEAM_DYNAMICS_ARGUMENTS", "fragment_rotation"]

#: Keyword arguments of ``BeamDynamics``.
BEAM_DYNAMICS_ARGUMENTS: tuple[str, ...] = (
    "sample",
    "sample_params",
    "engine",
    "pixels",
    "fov",
    "dwell_range",
    "dose_budget",
    "time_budget",
    "dynamics",
    "scan_noise",
    "render_mode",
)
#: Projected distance below which two atoms count as one column [Å].
SAME_COLUMN = 0.5


def fragment_rotation(sample: Sample, indices: np.ndarray, symmetry: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Local fragment rotation of atoms (module docstring): ``(angle [rad] in [0, 2π/n), n)``.

    Parameters
    ----------
    sample
        The sample.
    indices
        Atoms to evaluate, ndarray of shape (k,).
    symmetry
        Rotational order by site-class name, ``"*"`` for the others.
    """
    box = np.asarray(sample.extent)
    xy = np.mod(sample.positions[:, :2], box)
    # Columns: merge atoms closer than SAME_COLUMN in projection so that the nearest neighbour is another column.
    tree = cKDTree(xy, boxsize=box)
    k = min(len(xy), 8)
    dist, nbr = tree.query(xy[indices], k=k)
    dist = np.atleast_2d(dist)
    nbr = np.atleast_2d(nbr)
    far = dist > SAME_COLUMN
    first = np.argmax(far, axis=1)
    found = far[np.arange(len(indices)), first]
    partner = nbr[np.arange(len(indices)), first]
    vec = xy[partner] - xy[indices]
    vec -= box * np.round(vec / box)
    default = symmetry.get("*", 1)
    names = np.asarray(sample.site_class_names, dtype=object)
    order = np.array([symmetry.get(str(names[c]), default) for c in sample.site_class[indices]], dtype=np.int64)
    angle = np.mod(np.arctan2(vec[:, 1], vec[:, 0]), 2 * np.pi / order)
    angle = np.where(found, angle, 0.0)
    return angle, order


class BeamDynamicsEnv(gym.Env):
    """Image, frame by frame, a sample that the beam transforms; choose where to look and how hard.

    Description
    -----------
    Each step acquires one HAADF frame (``pixels`` × ``pixels``, shot noise and scan distortions)
    of a square field of view inside the sample, with the dynamics of the sample family acting
    during the scan, line by line: Si jumps, 3↔4-fold conversions and knock-on in graphene, Mo/Re
    exchange and S sputtering in MoS2, polarization-domain motion in the ferroelectric. The agent
    chooses the field of view and the dwell time (dose) of every frame. Over an episode of K frames
    (``max_episode_steps``) rVAE-style agents learn the fragment classes, rotations and transition
    rates, scored against ``frame_truth()``.

    Action Space
    ------------
    ``Box(-1, 1, (3,), float32)``: ``(a_x, a_y, a_d)`` → field-of-view origin
    ``((a_x + 1)/2·(Lx − F), (a_y + 1)/2·(Ly − F))`` [Å] and dwell per pixel
    ``10^(lerp(log10 τ_min, log10 τ_max, (a_d + 1)/2))`` [s] (module docstring of
    :mod:`stemtwin.envs.dynamics_env`). An action outside the box (or not finite) raises
    ``ValueError``; nothing is clipped.

    Observation Space
    -----------------
    ``Box(0, 1, (pixels, pixels), float32)``: the frame just acquired, min–max normalised, indexed
    (x, y) like the twin's arrays (row = x). The counts are in ``env.unwrapped.frame``. At reset,
    the observation is a frame of the centre of the cell at the geometric-mean dwell.

    Rewards
    -------
    0 for every frame: this is a discovery task, scored after the episode from the agent's report
    against the ground truth (``frame_truth()``, ``microscope.truth()``), not by a reward.

    Starting State
    --------------
    A sample of the family drawn from ``np_random`` and a first frame at the centre of the cell;
    that frame's dose already acts on the sample.

    Episode End
    -----------
    ``terminated`` once the dose budget [e⁻] or the time budget [s] is reached (never, if neither is
    given). Truncation: ``max_episode_steps`` = K frames (50 as registered).

    Info
    ----
    ``time`` [s], ``cumulative_dose`` [e⁻], ``events`` (beam-induced events so far),
    ``frame_events`` (events during this frame), ``fov_origin`` (x0, y0) [Å] and ``dwell_time``
    [s]. Full per-frame ground truth: ``env.unwrapped.frame_truth()``.

    Arguments
    ---------
    sample : str
        ``"graphene"``, ``"mos2-res2"`` or ``"ferroelectric"``.
    sample_params : dict
        Builder parameters, merged over the family's defaults.
    engine : str
        ``"fast"`` (default) or ``"abtem"``.
    pixels : int
        Frame side (8–1024), default 128.
    fov : float
        Field-of-view side F [Å]; per family by default (16 Å for graphene and MoS2, 20 Å for the
        ferroelectric), at most the smaller side of the cell.
    dwell_range : tuple of float
        (τ_min, τ_max) dwell time per pixel [s], default (2e-6, 32e-6).
    dose_budget : float
        Optional electron budget of the episode [e⁻], counting the reset frame.
    time_budget : float
        Optional instrument-time budget [s], counting the reset frame.
    dynamics : bool
        True (default): the beam acts on the sample. False: a static sample.
    scan_noise : str
        ``"typical"`` or ``"none"``.
    render_mode : str
        None or ``"rgb_array"``: the latest frame, (256, 256, 3) uint8 for frames up to 256 pixels.

    Version History
    ---------------
    - v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}
    env_id: ClassVar[str] = "stemtwin/BeamDynamics-v0"

    def __init__(
        self,
        *,
        sample: str = "graphene",
        sample_params: Mapping[str, Any] | None = None,
        engine: str = "fast",
        pixels: int = 128,
        fov: float | None = None,
        dwell_range: tuple[float, float] = (2e-6, 32e-6),
        dose_budget: float | None = None,
        time_budget: float | None = None,
        dynamics: bool = True,
        scan_noise: str = "typical",
        render_mode: str | None = None,
        **unknown: Any,
    ) -> None:
        check_unknown_kwargs(self.env_id, unknown, BEAM_DYNAMICS_ARGUMENTS)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.family = check_sample(sample)
        self.preset = FAMILY_PRESETS[self.family]
        self.sample_params = check_sample_params(self.family, sample_params)
        self.engine = check_engine(engine)
        self.pixels = check_int("pixels", pixels, 8, 1024)
        self.fov = check_positive("fov", self.preset.fov if fov is None else fov, "Å")
        self.dwell_range = check_range_pair("dwell_range", dwell_range, "s")
        self.dose_budget = check_optional_positive("dose_budget", dose_budget, "e⁻")
        self.time_budget = check_optional_positive("time_budget", time_budget, "s")
        self.dynamics = check_bool("dynamics", dynamics)
        self.scan_noise = check_scan_noise(scan_noise)
        # The cell size depends only on the builder parameters (rounded to whole unit cells).
        extent = cached_sample(self.family, self.sample_params, 0).extent
        if self.fov > min(extent) + 1e-9:
            raise ConfigurationError(
                f"`fov` must fit in the {extent[0]:.2f} × {extent[1]:.2f} Å {self.family} cell [Å], got {self.fov}; "
                "lower `fov` or enlarge `sample_params['extent']`."
            )
        self.optics = self.preset.optics
        self.current = Dose().current
        self.observation_space = spaces.Box(np.float32(0.0), np.float32(1.0), (self.pixels, self.pixels), np.float32)
        self.action_space = spaces.Box(np.float32(-1.0), np.float32(1.0), (3,), np.float32)
        self._log_dwell = (float(np.log10(self.dwell_range[0])), float(np.log10(self.dwell_range[1])))
        self._ready = False
        self.microscope: Microscope | None = None

    # -- public helpers ----------------------------------------------------------------------
    def action_to_settings(self, action: Any) -> tuple[tuple[float, float], float]:
        """The field-of-view origin (x0, y0) [Å] and dwell [s] an action selects (after validation)."""
        self._require_reset()
        a = self._check_action(action)
        t = (a.astype(np.float64) + 1.0) / 2.0
        free = (self._extent[0] - self.fov, self._extent[1] - self.fov)
        origin = (float(t[0] * free[0]), float(t[1] * free[1]))
        dwell = float(10.0 ** (self._log_dwell[0] + t[2] * (self._log_dwell[1] - self._log_dwell[0])))
        return origin, dwell

    @property
    def frame(self):  # noqa: ANN201 - stemtwin.twin.Image
        """The latest frame record (counts, sampling, origin, metadata)."""
        self._require_reset()
        return self._frame

    def frame_truth(self) -> dict[str, Any]:
        """Ground truth of the latest frame, for scoring (never part of an observation).

        The sample state is the one at the end of the frame.

        Returns
        -------
        dict
            ``"positions"`` (k, 2) [Å] and ``"pixel_positions"`` (k, 2) (fractional frame pixels (p, q),
            pixel (p, q) at the nominal position origin + (p, q)·F/pixels) of the k atoms inside the
            field of view; ``"atom_index"`` (k,) into the sample; ``"elements"`` (k,) str;
            ``"site_class"`` (k,) int and ``"site_class_names"``; ``"rotation"`` (k,) [rad] and
            ``"symmetry"`` (k,) (module docstring); ``"fov_origin"``, ``"fov_extent"`` [Å];
            ``"time"`` [s]; ``"frame_events"``: the :class:`~stemtwin.twin.Event` objects logged
            during the frame; ``"sample"``: the whole :class:`~stemtwin.twin.Sample`.
        """
        self._require_reset()
        if self._frame_truth is None:
            self._frame_truth = self._compute_frame_truth()
        return dict(self._frame_truth)

    # -- Gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        seeds = draw_seeds(self.np_random, ("sample", "microscope"))
        sample = cached_sample(self.family, self.sample_params, seeds["sample"])
        extent = sample.extent
        self.microscope = Microscope(
            sample,
            optics=self.optics,
            scan_noise=self.scan_noise,
            engine=self.engine,
            dynamics="auto" if self.dynamics else (),
            rng=seeds["microscope"],
        )
        self._extent = extent
        self._ready = True
        return self._acquire(np.zeros(3, dtype=np.float32))

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._ready:
            raise ResetNeeded("Call reset() before step(): the environment has no episode yet.")
        obs, info = self._acquire(action)
        terminated = (self.dose_budget is not None and info["cumulative_dose"] >= self.dose_budget) or (
            self.time_budget is not None and info["time"] >= self.time_budget
        )
        return obs, 0.0, bool(terminated), False, info

    def render(self) -> np.ndarray | None:
        """The latest frame as an RGB image (rows = y), for ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to make().")
            return None
        self._require_reset()
        return rendering.grey_panel(self._frame01, max(rendering.PANEL, self.pixels))

    # -- internals ---------------------------------------------------------------------------
    def _require_reset(self) -> None:
        if not self._ready:
            raise ResetNeeded("Call reset() first: the environment has no episode yet.")

    def _check_action(self, action: Any) -> np.ndarray:
        try:
            a = np.asarray(action, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidActionError(
                f"The action must be 3 numbers in [-1, 1] (Box(-1, 1, (3,))), got {action!r}."
            ) from None
        if a.shape != (3,) or not np.all(np.isfinite(a)) or np.any(a < -1.0) or np.any(a > 1.0):
            raise InvalidActionError(
                f"Action {action!r} is outside the action space Box(-1, 1, (3,)): give (a_x, a_y, a_d), each "
                "finite and within [-1, 1] (field-of-view x, y and log dwell)."
            )
        return a

    def _acquire(self, action: Any) -> tuple[np.ndarray, dict[str, Any]]:
        scope = self.microscope
        assert scope is not None
        origin, dwell = self.action_to_settings(action)
        events_before = scope.event_count
        frame = scope.acquire_image(
            FieldOfView(origin, (self.fov, self.fov)),
            pixels=self.pixels,
            dose=Dose(current=self.current, dwell_time=dwell),
        )
        self._frame = frame
        self._frame01 = minmax(frame.array)
        self._frame_truth: dict[str, Any] | None = None
        self._frame_events = (events_before, scope.event_count)
        info = {
            "time": float(scope.time),
            "cumulative_dose": float(scope.total_electrons),
            "events": self._frame_events[1],
            "frame_events": self._frame_events[1] - self._frame_events[0],
            "fov_origin": origin,
            "dwell_time": dwell,
        }
        return self._frame01.copy(), info

    def _compute_frame_truth(self) -> dict[str, Any]:
        scope = self.microscope
        assert scope is not None
        truth = scope.truth()
        sample = truth.sample
        x0, y0 = self._frame.origin
        box = np.asarray(sample.extent)
        xy = np.mod(sample.positions[:, :2], box)
        inside = (xy[:, 0] >= x0) & (xy[:, 0] < x0 + self.fov) & (xy[:, 1] >= y0) & (xy[:, 1] < y0 + self.fov)
        indices = np.flatnonzero(inside)
        rotation, order = fragment_rotation(sample, indices, self.preset.symmetry)
        step = self.fov / self.pixels
        first, last = self._frame_events
        return {
            "positions": xy[indices],
            "pixel_positions": (xy[indices] - np.array([x0, y0])) / step,
            "atom_index": indices,
            "elements": sample.elements[indices],
            "site_class": sample.site_class[indices].astype(np.int64),
            "site_class_names": sample.site_class_names,
            "rotation": rotation,
            "symmetry": order,
            "fov_origin": (float(x0), float(y0)),
            "fov_extent": (self.fov, self.fov),
            "time": truth.time,
            "frame_events": truth.events[first:last],
            "sample": sample,
        }
