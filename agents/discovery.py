"""The rVAE discovery agent for ``stemtwin/BeamDynamics-v0``: classes, rotations and transitions of atoms.

Every frame (the reset frame and each step's), the agent

1. finds the atom columns (:func:`~stemtwin.agents.atom_finding.find_atoms`: smoothing, peak
   detection, sub-pixel refinement) and cuts an atom-centred patch around each from the lightly
   smoothed frame, scaled so that the median atom peak above the background is 1 (frames are min–max
   normalised by the env, so their scale drifts from frame to frame);
2. updates the rVAE (:class:`~stemtwin.agents.rvae.RVAE`), warm-started: ``initial_steps`` Adam steps
   on the first frame, then ``steps_per_frame`` steps per frame on minibatches drawn from a buffer of
   the latest ``buffer_size`` patches;
3. encodes the patches (content latents, angle, translation) and clusters the content latents with
   a Gaussian mixture (scikit-learn), its size fixed (``n_classes``) or chosen by BIC up to
   ``max_classes``, heavily overlapping components then merged into one class (``merge_distance``);
4. tracks atoms from the previous frame: the two frames are registered (the FOV offset from
   ``info["fov_origin"]`` when the pixel size is known, refined by a cross-correlation search within
   ``max_shift`` pixels), then atoms are matched one-to-one within ``track_distance`` pixels;
5. counts class changes of tracked atoms (the transitions seen) for the imaging policy.

:meth:`RVAEDiscoveryAgent.report` re-encodes every frame with the final model and clusters all atoms
with one mixture, so that the classes are consistent over the episode; the class-transition matrix
counts the class pairs of tracked atoms between consecutive frames.

Imaging policy (``act``)
------------------------
The FOV origin is chosen on a ``explore_grid`` × ``explore_grid`` lattice of the action box
(a_x, a_y ∈ [−1, 1]), starting at the centre (where the env's reset frame is). The agent *watches* a
region while it keeps changing: it stays on the current FOV for at least ``min_frames`` frames, and
for as long as a class transition of a tracked atom was seen within the last ``patience`` frames;
otherwise it *explores*: it moves to the nearest lattice site visited least often. The dwell level
a_d is ``watch_dwell`` while transitions are being seen and ``explore_dwell`` otherwise (both 0, the
env's default dose, by default). Tracking across a FOV move needs the pixel size (``pixel_size``
[Å/pixel], or ``info["pixel_size"]`` / ``info["fov_extent"]`` when the env gives them); without it
the first frame after a move starts new tracks.

Report
------
``positions``: per frame, (n, 2) sub-pixel atom positions (p, q) in *frame pixels* (axis 0, axis 1),
the convention of ``frame_truth()["pixel_positions"]`` (pixel (p, q) at the FOV origin +
(p, q)·pixel size), for the atoms at least ``margin`` pixels inside the frame; ``classes`` (n,)
int; ``angles`` (n,) [rad] in [0, 2π/n) and ``symmetry`` (n,) that order n; ``class_probs`` (n, K);
``latents`` (n, content_dim) rVAE content means; ``translations`` (n, 2) [pixels];
``transition_matrix`` (K, K) row-stochastic (rows of classes never tracked are zero),
``transition_counts`` (K, K); ``tracks``: per frame t ≥ 1, (m, 2) index pairs (atom in t−1, atom
in t); ``fov_origins`` (from ``info``, [Å]) and ``actions`` per frame; ``n_classes``, ``units`` and
``timings``. The agent never reads ``frame_truth()``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from .atom_finding import find_atoms, match_positions, normalised_patches
from .base import Agent, AgentError, IncompatibleEnvError, check_reward

__all__ = ["RVAEDiscoveryAgent", "bhattacharyya_distance", "register_frames"]


def _check_int(name: str, value: Any, low: int, high: int | None = None, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise AgentError(f"`{name}` must be an integer {span}{' or None' if allow_none else ''}, got {value!r}.")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float = math.inf, *, strict_low: bool = False, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if strict_low else v >= low) and v <= high
    if not ok:
        bound = f"{'>' if strict_low else '>='} {low}" + (f" and <= {high}" if high != math.inf else "")
        raise AgentError(f"`{name}` must be a finite number {bound}{' or None' if allow_none else ''}, got {value!r}.")
    return float(value)


def register_frames(a: np.ndarray, b: np.ndarray, max_shift: float, guess: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Shift s (2,) [pixels] such that frame ``b`` at pixel r shows what frame ``a`` shows at r + s.

    Cross-correlation of the mean-free frames (FFT), searched within ``max_shift`` of ``guess``
    only (a lattice correlates with itself at every lattice vector; the search window picks the one
    nearest to the guess), refined to sub-pixel by a parabola through the peak. Points of ``a`` map
    to ``b`` as ``r_b = r_a − s``.
    """
    fa = a - a.mean()
    fb = b - b.mean()
    corr = np.fft.irfft2(np.fft.rfft2(fa) * np.conj(np.fft.rfft2(fb)), s=a.shape)
    n0, n1 = a.shape
    d0 = np.fft.fftfreq(n0, 1.0 / n0)[:, None]
    d1 = np.fft.fftfreq(n1, 1.0 / n1)[None, :]
    window = (d0 - guess[0]) ** 2 + (d1 - guess[1]) ** 2 <= max_shift**2
    # the circular correlation wraps: shifts beyond half the frame are aliases
    masked = np.where(window, corr, -np.inf)
    i, j = np.unravel_index(int(np.argmax(masked)), corr.shape)
    shift = np.array([d0[i, 0], d1[0, j]], dtype=np.float64)
    for axis, (k, n) in enumerate(((i, n0), (j, n1))):
        idx = [i, j]
        vals = []
        for dk in (-1, 0, 1):
            idx[axis] = (k + dk) % n
            vals.append(corr[idx[0], idx[1]])
        denom = vals[0] - 2 * vals[1] + vals[2]
        if denom < 0:
            shift[axis] += float(np.clip(0.5 * (vals[0] - vals[2]) / denom, -0.5, 0.5))
    return shift


class RVAEDiscoveryAgent(Agent):
    """rVAE discovery agent for ``stemtwin/BeamDynamics-v0`` (module docstring).

    Parameters
    ----------
    n_classes
        Number of classes K of the Gaussian mixture; None (default) chooses K in 1..``max_classes``
        by the Bayesian information criterion.
    max_classes
        Largest K tried by BIC.
    patch_size
        Side of the atom-centred patches [pixels] (default 32: for the env's default 128-pixel, 16 Å
        frame, 4 Å, an atom and its nearest neighbours).
    content_dim
        rVAE content latents (default 2).
    symmetry
        Rotational order n of the angle latent (angles reported modulo 2π/n), or ``"auto"`` (default):
        per atom, the order (1, 2, 3, 4 or 6) with the largest angular Fourier power of its patch
        (:class:`~stemtwin.agents.rvae.RVAEConfig`), reported as ``symmetry`` per atom.
    atom_sigma, min_distance, threshold
        Atom finding (:func:`~stemtwin.agents.atom_finding.find_atoms`): smoothing [pixels], minimum
        separation [pixels], relative threshold.
    patch_smoothing
        Gaussian σ [pixels] of the frame the patches are cut from (0: the raw frame).
    margin
        Atoms closer than this to the frame edge [pixels] are not reported; default
        ``patch_size // 2 − 1``, so that every patch lies (almost) inside the frame: an atom whose
        neighbours are cut off by the edge looks like a vacancy-edge atom, and with a 32-pixel patch
        on the env's 128-pixel frame a margin of 8 put 12 % of pristine graphene atoms in the
        vacancy-edge class.
    initial_steps, steps_per_frame
        rVAE Adam steps on the first frame, and per later frame.
    batch_size
        rVAE minibatch size.
    buffer_size
        Patches kept for training (the most recent ones).
    rvae
        Extra :class:`~stemtwin.agents.rvae.RVAEConfig` fields (e.g. ``{"recon_sigma": 0.2}``).
    track_distance
        Largest distance [pixels] of an atom match between consecutive frames.
    max_shift
        Largest frame-to-frame image shift [pixels] searched by the registration.
    pixel_size
        Frame pixel size [Å/pixel] for tracking across FOV moves (None: from ``info`` if given there).
    min_frames, patience
        Imaging policy: frames at least on a FOV, and frames without a transition before moving on.
    explore_grid
        Side of the lattice of FOV positions the agent explores.
    explore_dwell, watch_dwell
        Dwell level a_d ∈ [−1, 1] while exploring and while watching transitions.
    min_confidence
        A tracked atom counts as a transition for the policy only when both of its class posteriors
        exceed this.
    merge_distance
        Mixture components closer than this Bhattacharyya distance are merged into one class
        (:class:`_ClassMixture`); 0 disables merging. Not applied when ``n_classes`` is given.
    num_threads
        torch threads while the agent computes (None: unchanged).
    seed
        Seed of the rVAE, the minibatches and the mixture.
    """

    name = "rvae_discovery"
    tasks = ("dynamics",)

    def __init__(
        self,
        *,
        n_classes: int | None = None,
        max_classes: int = 5,
        patch_size: int = 32,
        content_dim: int = 2,
        symmetry: int | str = "auto",
        atom_sigma: float = 2.0,
        min_distance: int = 5,
        threshold: float = 0.25,
        patch_smoothing: float = 1.0,
        margin: int | None = None,
        initial_steps: int = 150,
        steps_per_frame: int = 10,
        batch_size: int = 64,
        buffer_size: int = 3000,
        rvae: Mapping[str, Any] | None = None,
        track_distance: float = 4.0,
        max_shift: float = 10.0,
        pixel_size: float | None = None,
        min_frames: int = 3,
        patience: int = 3,
        explore_grid: int = 3,
        explore_dwell: float = 0.0,
        watch_dwell: float = 0.0,
        min_confidence: float = 0.8,
        merge_distance: float = 1.0,
        num_threads: int | None = None,
        seed: int | None = 0,
    ) -> None:
        self.n_classes = _check_int("n_classes", n_classes, 1, 32, allow_none=True)
        self.max_classes = _check_int("max_classes", max_classes, 1, 32)
        self.patch_size = _check_int("patch_size", patch_size, 8, 256)
        self.content_dim = _check_int("content_dim", content_dim, 1, 64)
        if symmetry != "auto":
            _check_int("symmetry", symmetry, 1, 12)
        self.symmetry_setting = symmetry
        self.atom_sigma = _check_float("atom_sigma", atom_sigma, 0.0)
        self.min_distance = _check_int("min_distance", min_distance, 1)
        self.threshold = _check_float("threshold", threshold, 0.0, 1.0)
        self.patch_smoothing = _check_float("patch_smoothing", patch_smoothing, 0.0)
        self.margin = _check_int("margin", max(patch_size // 2 - 1, 0) if margin is None else margin, 0)
        self.initial_steps = _check_int("initial_steps", initial_steps, 0)
        self.steps_per_frame = _check_int("steps_per_frame", steps_per_frame, 0)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.buffer_size = _check_int("buffer_size", buffer_size, 1)
        self.rvae_overrides = dict(rvae or {})
        self.track_distance = _check_float("track_distance", track_distance, 0.0, strict_low=True)
        self.max_shift = _check_float("max_shift", max_shift, 0.0)
        self.pixel_size = _check_float("pixel_size", pixel_size, 0.0, strict_low=True, allow_none=True)
        self.min_frames = _check_int("min_frames", min_frames, 1)
        self.patience = _check_int("patience", patience, 1)
        self.explore_grid = _check_int("explore_grid", explore_grid, 1, 64)
        self.explore_dwell = _check_float("explore_dwell", explore_dwell, -1.0, 1.0)
        self.watch_dwell = _check_float("watch_dwell", watch_dwell, -1.0, 1.0)
        self.min_confidence = _check_float("min_confidence", min_confidence, 0.0, 1.0)
        self.merge_distance = _check_float("merge_distance", merge_distance, 0.0)
        self.num_threads = _check_int("num_threads", num_threads, 1, allow_none=True)
        if seed is not None:
            _check_int("seed", seed, 0)
        self.seed = seed
        self._episode = -1
        self.model: Any = None
        self._clear()

    # -- protocol ---------------------------------------------------------------------------------
    def reset(self, observation: Any, info: Mapping[str, Any]) -> None:
        self._episode += 1
        self._clear()
        self.rng = np.random.default_rng(None if self.seed is None else [self.seed, self._episode])
        frame = self._frame_of(observation, "reset")
        self._action = np.zeros(3, dtype=np.float32)  # the env's reset frame: centre, mean dwell
        self._site = self._nearest_site(self._action[:2])
        with _threads(self.num_threads):
            self._process(frame, info)

    def act(self, observation: Any) -> np.ndarray:
        if self.model is None:
            raise AgentError(f"{self.label}: call reset(observation, info) before act().")
        watching = self._recent_transitions() > 0
        stay = self._frames_here < self.min_frames or watching
        if not stay:
            self._site = self._next_site()
            self._frames_here = 0
        xy = self._sites[self._site]
        dwell = self.watch_dwell if watching else self.explore_dwell
        self._action = np.array([xy[0], xy[1], dwell], dtype=np.float32)
        self._pending = True
        return self._action.copy()

    def observe(self, observation: Any, reward: float, info: Mapping[str, Any]) -> None:
        step = len(self._frames)
        check_reward(reward, step)
        if not self._pending:
            raise AgentError(f"{self.label}: observe() at step {step} without a preceding act().")
        self._pending = False
        frame = self._frame_of(observation, f"step {step}")
        with _threads(self.num_threads):
            self._process(frame, info)

    def report(self) -> dict[str, Any]:
        """Final predictions (module docstring, "Report")."""
        if self.model is None:
            raise AgentError(f"{self.label}: nothing to report before reset().")
        t0 = time.perf_counter()
        with _threads(self.num_threads):
            encodings = [self.model.encode(p) if len(p) else None for p in self._patches]
        feats = [e.content if e is not None else np.zeros((0, self.content_dim)) for e in encodings]
        mixture = self._fit_mixture(np.concatenate(feats, axis=0))
        classes, probs = [], []
        for f in feats:
            c, pr = self._classify(mixture, f)
            classes.append(c)
            probs.append(pr)
        k = mixture.n_classes if mixture is not None else 1
        counts = np.zeros((k, k))
        for t, pairs in enumerate(self._tracks):
            if t == 0 or len(pairs) == 0:
                continue
            np.add.at(counts, (classes[t - 1][pairs[:, 0]], classes[t][pairs[:, 1]]), 1)
        rows = counts.sum(axis=1, keepdims=True)
        matrix = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        empty = np.zeros(0)
        self.timings["report"] = time.perf_counter() - t0
        return {
            "positions": [p.copy() for p in self._positions],
            "classes": classes,
            "angles": [e.angle if e is not None else empty for e in encodings],
            "class_probs": probs,
            "latents": feats,
            "translations": [e.translation if e is not None else np.zeros((0, 2)) for e in encodings],
            "transition_matrix": matrix,
            "transition_counts": counts,
            "tracks": [t.copy() for t in self._tracks],
            "fov_origins": list(self._origins),
            "actions": [a.copy() for a in self._actions],
            "symmetry": [e.order if e is not None else np.zeros(0, np.int64) for e in encodings],
            "n_classes": int(k),
            "units": {"positions": "frame pixels (p, q) along (axis 0, axis 1)", "angles": "rad", "fov_origins": "Å"},
            "timings": {key: (list(v) if isinstance(v, list) else v) for key, v in self.timings.items()},
        }

    # -- per frame --------------------------------------------------------------------------------
    def _clear(self) -> None:
        self._frames: list[np.ndarray] = []
        self._positions: list[np.ndarray] = []
        self._patches: list[np.ndarray] = []
        self._tracks: list[np.ndarray] = []
        self._origins: list[Any] = []
        self._actions: list[np.ndarray] = []
        self._changes: list[int] = []
        self._frames_here = 0
        self._pending = False
        self._visits: np.ndarray = np.zeros(self.explore_grid**2, dtype=np.int64)
        self._sites = self._site_lattice()
        self._site = 0
        self._action = np.zeros(3, dtype=np.float32)
        self.model = None
        self._scale_pixel: float | None = None
        self.timings: dict[str, Any] = {"frame": [], "train": []}

    def _frame_of(self, observation: Any, where: str) -> np.ndarray:
        if isinstance(observation, Mapping):
            raise IncompatibleEnvError(
                f"Agent {self.label!r} cannot run on this env: it handles 'dynamics' tasks (stemtwin/BeamDynamics-v0, an "
                f"image observation and a Box(-1, 1, (3,)) action), but got an Explore observation (a dict with keys "
                f"{sorted(observation)}) at {where}. Use 'dkl_bo' or 'rvae_explorer' on Explore envs."
            )
        frame = np.asarray(observation, dtype=np.float64)
        if frame.ndim != 2 or min(frame.shape) < self.patch_size // 2:
            raise IncompatibleEnvError(
                f"Agent {self.label!r} needs a 2-D frame of at least {self.patch_size // 2} pixels a side (the "
                f"BeamDynamics-v0 observation), got shape {frame.shape} at {where}."
            )
        if not np.all(np.isfinite(frame)):
            raise AgentError(f"{self.label}: the frame at {where} holds NaN or inf pixels.")
        return frame

    def _process(self, frame: np.ndarray, info: Mapping[str, Any]) -> None:
        t0 = time.perf_counter()
        pos = find_atoms(frame, sigma=self.atom_sigma, min_distance=self.min_distance, threshold=self.threshold, border=self.margin)
        smooth = ndimage.gaussian_filter(frame, self.patch_smoothing, mode="nearest") if self.patch_smoothing > 0 else frame
        patches = self._normalised_patches(smooth, pos)
        origin = info.get("fov_origin") if isinstance(info, Mapping) else None
        self._update_pixel_size(info, frame.shape)
        if self.model is None:
            self._start_model(patches)
        # tracks from the previous frame
        pairs = np.zeros((0, 2), np.int64)
        if self._frames:
            pairs = self._track(self._frames[-1], self._positions[-1], self._origins[-1], smooth, pos, origin)
        self._frames.append(smooth)
        self._positions.append(pos)
        self._patches.append(patches)
        self._tracks.append(pairs)
        self._origins.append(None if origin is None else tuple(float(v) for v in origin))
        self._actions.append(self._action.copy())
        self._frames_here += 1
        self._visits[self._site] += 1
        # learn
        t1 = time.perf_counter()
        steps = self.initial_steps if len(self._frames) == 1 else self.steps_per_frame
        self._train(steps)
        self.timings["train"].append(time.perf_counter() - t1)
        # transitions seen (for the policy): both frames encoded with the current model
        changes = 0
        if len(pairs) and len(self._patches[-2]) and len(patches):
            changes = self._count_changes(self._patches[-2], patches, pairs)
        self._changes.append(changes)
        self.timings["frame"].append(time.perf_counter() - t0)

    def _normalised_patches(self, smooth: np.ndarray, pos: np.ndarray) -> np.ndarray:
        return normalised_patches(smooth, pos, self.patch_size)

    def _start_model(self, patches: np.ndarray) -> None:
        from .rvae import RVAE

        seed = int(self.rng.integers(2**31 - 1))
        params: dict[str, Any] = {"patch_size": self.patch_size, "content_dim": self.content_dim, "symmetry": self.symmetry_setting, "recon_sigma": 0.2, "seed": seed}
        params.update(self.rvae_overrides)
        try:
            self.model = RVAE(**params)
        except ValueError as err:
            raise AgentError(f"{self.label}: bad rVAE settings: {err}") from None

    def _train(self, steps: int) -> None:
        if steps <= 0:
            return
        pool = self._buffer()
        if len(pool) == 0:
            return
        # `steps` minibatches: whole passes over a shuffled pool, topped up by a random draw
        reps, rest = divmod(steps * self.batch_size, len(pool))
        idx = np.concatenate([self.rng.permutation(len(pool)) for _ in range(reps)] + [self.rng.choice(len(pool), size=rest, replace=False)])
        self.model.fit(pool[idx], epochs=1, batch_size=self.batch_size)

    def _buffer(self) -> np.ndarray:
        parts: list[np.ndarray] = []
        total = 0
        for p in reversed(self._patches):
            if total >= self.buffer_size:
                break
            parts.append(p[: self.buffer_size - total])
            total += len(parts[-1])
        if not parts:
            return np.zeros((0, self.patch_size, self.patch_size), np.float32)
        return np.concatenate(parts[::-1], axis=0)

    # -- classes ------------------------------------------------------------------------------------
    def _fit_mixture(self, feats: np.ndarray, *, max_points: int = 5000, n_init: int = 3) -> _ClassMixture | None:
        """Classes of the content latents: a Gaussian mixture (K = ``n_classes``, or chosen by BIC in
        1..``max_classes``), whose heavily overlapping components are then merged (``merge_distance``)."""
        from sklearn.mixture import GaussianMixture
        from threadpoolctl import threadpool_limits

        if len(feats) < 2:
            return None
        seed = 0 if self.seed is None else int(self.seed)
        x = feats
        if len(x) > max_points:
            x = x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]
        ks = [self.n_classes] if self.n_classes is not None else list(range(1, self.max_classes + 1))
        best, best_bic = None, np.inf
        # one BLAS/OpenMP thread: these fits are tiny, and on a busy machine threads oversubscribe (50× slower)
        with threadpool_limits(1):
            for k in ks:
                k = min(k, len(x))
                gm = GaussianMixture(n_components=k, covariance_type="full", n_init=n_init, reg_covar=1e-4, random_state=seed).fit(x)
                bic = gm.bic(x)
                if bic < best_bic:
                    best, best_bic = gm, bic
        assert best is not None
        merge = self.merge_distance if self.n_classes is None else 0.0
        return _ClassMixture(best, merge)

    @staticmethod
    def _classify(mixture: _ClassMixture | None, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if mixture is None:
            return np.zeros(len(feats), np.int64), np.ones((len(feats), 1))
        probs = mixture.predict_proba(feats)
        return probs.argmax(axis=1).astype(np.int64), probs

    def _count_changes(self, before: np.ndarray, after: np.ndarray, pairs: np.ndarray) -> int:
        pool = self._buffer()
        if len(pool) > 1000:
            pool = pool[self.rng.choice(len(pool), 1000, replace=False)]
        mixture = self._fit_mixture(self.model.encode(pool).content, n_init=1)
        if mixture is None:
            return 0
        _, pa = self._classify(mixture, self.model.encode(before[pairs[:, 0]]).content)
        _, pb = self._classify(mixture, self.model.encode(after[pairs[:, 1]]).content)
        ca, cb = pa.argmax(1), pb.argmax(1)
        sure = (pa.max(1) >= self.min_confidence) & (pb.max(1) >= self.min_confidence)
        return int(np.count_nonzero((ca != cb) & sure))

    # -- tracking ------------------------------------------------------------------------------------
    def _update_pixel_size(self, info: Mapping[str, Any], shape: tuple[int, ...]) -> None:
        if self.pixel_size is not None:
            self._scale_pixel = self.pixel_size
            return
        if not isinstance(info, Mapping):
            return
        if info.get("pixel_size") is not None:
            self._scale_pixel = float(np.mean(np.atleast_1d(info["pixel_size"])))
        elif info.get("fov_extent") is not None:
            self._scale_pixel = float(np.mean(np.atleast_1d(info["fov_extent"]))) / float(shape[0])

    def _track(self, prev: np.ndarray, prev_pos: np.ndarray, prev_origin: Any, cur: np.ndarray, cur_pos: np.ndarray, origin: Any) -> np.ndarray:
        if len(prev_pos) == 0 or len(cur_pos) == 0 or prev.shape != cur.shape:
            return np.zeros((0, 2), np.int64)
        guess = np.zeros(2)
        if prev_origin is not None and origin is not None:
            delta = np.asarray(origin, dtype=np.float64) - np.asarray(prev_origin, dtype=np.float64)
            if np.any(np.abs(delta) > 1e-9):
                if self._scale_pixel is None:
                    return np.zeros((0, 2), np.int64)  # a FOV move of unknown size in pixels: new tracks
                guess = delta / self._scale_pixel
        # frame b shows at r what frame a shows at r + s  ⇒  a point r_a of the previous frame is at r_a − s now
        s = register_frames(prev, cur, self.max_shift, guess=(float(guess[0]), float(guess[1])))
        ia, ib, _ = match_positions(prev_pos - s, cur_pos, self.track_distance)
        return np.stack([ia, ib], axis=1) if len(ia) else np.zeros((0, 2), np.int64)

    # -- policy --------------------------------------------------------------------------------------
    def _site_lattice(self) -> np.ndarray:
        g = self.explore_grid
        ticks = np.zeros(1) if g == 1 else np.linspace(-1.0, 1.0, g)
        ax, ay = np.meshgrid(ticks, ticks, indexing="ij")
        return np.stack([ax.ravel(), ay.ravel()], axis=1)

    def _nearest_site(self, xy: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(self._sites - xy[None, :], axis=1)))

    def _next_site(self) -> int:
        here = self._sites[self._site]
        dist = np.linalg.norm(self._sites - here[None, :], axis=1)
        order = np.lexsort((dist, self._visits))  # least visited first, then nearest
        for k in order:
            if k != self._site or len(order) == 1:
                return int(k)
        return self._site

    def _recent_transitions(self) -> int:
        recent = self._changes[-self.patience :] if self._frames_here > 0 else []
        return int(sum(recent[-self._frames_here :])) if recent else 0


def bhattacharyya_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """Bhattacharyya distance of two Gaussians; ``exp(−D)`` is their overlap coefficient (1 for identical ones)."""
    cov = 0.5 * (cov1 + cov2)
    d = mean1 - mean2
    _, logdet = np.linalg.slogdet(cov)
    _, logdet1 = np.linalg.slogdet(cov1)
    _, logdet2 = np.linalg.slogdet(cov2)
    return float(0.125 * d @ np.linalg.solve(cov, d) + 0.5 * (logdet - 0.5 * (logdet1 + logdet2)))


class _ClassMixture:
    """A fitted Gaussian mixture whose components are grouped into classes.

    BIC often models one broad, non-Gaussian cloud (pristine graphene under shot noise) with two or
    more heavily overlapping Gaussians, which would split the majority class. Components are merged by
    single linkage while the smallest Bhattacharyya distance between two groups is below
    ``merge_distance`` (after Baudry et al., "Combining mixture components for clustering", J. Comput.
    Graph. Stat. 19, 332 (2010), with an overlap criterion); a class's probability is the sum of its
    components'. On the env's graphene series the two halves of the pristine cloud lay at D ≈ 0.2 and
    the nearest real class (vacancy-edge carbon) at D ≈ 2.3.
    """

    def __init__(self, mixture: Any, merge_distance: float) -> None:
        self.mixture = mixture
        k = mixture.n_components
        groups = [[i] for i in range(k)]
        if merge_distance > 0 and k > 1:
            m, c = mixture.means_, mixture.covariances_
            dist = np.full((k, k), np.inf)
            for i in range(k):
                for j in range(i + 1, k):
                    dist[i, j] = dist[j, i] = bhattacharyya_distance(m[i], c[i], m[j], c[j])
            while len(groups) > 1:
                pairs = [(min(dist[i, j] for i in ga for j in gb), a, b) for a, ga in enumerate(groups) for b, gb in enumerate(groups) if a < b]
                d, a, b = min(pairs)
                if d >= merge_distance:
                    break
                groups[a] = groups[a] + groups[b]
                del groups[b]
        self.groups = groups

    @property
    def n_classes(self) -> int:
        return len(self.groups)

    def predict_proba(self, feats: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        if len(feats) == 0:
            return np.zeros((0, self.n_classes))
        with threadpool_limits(1):
            probs = self.mixture.predict_proba(feats)
        return np.stack([probs[:, g].sum(axis=1) for g in self.groups], axis=1)


class _threads:
    """Set ``torch.set_num_threads`` inside the block (None: leave it alone)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old: int | None = None

    def __enter__(self) -> None:
        if self.n is not None:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            import torch

            torch.set_num_threads(self.old)
