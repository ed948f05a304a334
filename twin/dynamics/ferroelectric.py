"""Beam charging switches ferroelectric domains: a dose-activated field drives the TDGL polarization.

Model
-----
PHYSICS.md ("Beam switching"): charging adds a local field E_beam(r) ∝ exp(−|r − r_probe|²/2w²) that
grows with the dose delivered; e-beam domain writing in PZT had a threshold of about 500 µC/cm²,
saturating near 1500 µC/cm², and the sign of switching depended on the beam current.

1. **Trapped charge.** Of the electrons an exposure delivers, a fraction ``charging_rate`` *(est.)*
   stays as trapped charge. It is accumulated per unit cell of the TDGL grid (the cell (i, j) spans
   [i a, (i + 1) a) × [j a, (j + 1) a); the 0.34 Å probe is much smaller than a = 3.90 Å, so each
   probe position charges the cell it lands in) as a signed areal density Q [µC/cm²]
   (1 e/Å² = 1602 µC/cm²) and kept in ``sample.fields["beam_charge"]``, so that
   :meth:`FerroelectricDynamics.evolve` stays a function of (sample, exposure, rng). With
   ``decay_time`` τ the charge leaks as exp(−t/τ); the time of the last update is then kept in
   ``sample.fields["beam_charge_time"]`` (a 0-d array [s]) and the leak between exposures is applied
   at the next dosed exposure. The sign of the trapped charge is ``polarity`` (+1: net positive, the
   secondary-emission regime), reversed for currents above ``current_threshold`` *(est.)*.
2. **Field.** The charge map is smoothed with the periodic Gaussian of standard deviation
   ``field_width`` w (conserving the total), Q_s = Q ⊛ G_w, and the reduced field is

       Ẽ(r) = sign(Q_s) · 2Ẽc · h(|Q_s| / Q_sw) · d̂,      h(q) = qⁿ / (1 + qⁿ),

   along the fixed in-plane direction d̂ = ``direction`` (a simplification: the in-plane component
   of the charging field is taken along one axis, set for instance by the film's electrodes or
   substrate miscut, rather than radial from the probe). Ẽc is the intrinsic (homogeneous) coercive
   field of the sample's Landau model, max over 0 < P̃ < 1 of −∂f̃/∂P̃ along ⟨10⟩ (1.23 for PbTiO3 at
   25 °C, i.e. 1.6×10⁸ V/m). So the field equals Ẽc at Q_s = ``switching_dose`` and reaches
   0.95 · 2Ẽc at ``saturation_dose`` (n = ln 19 / ln(Q_sat/Q_sw), 2.68 for 500 and 1500 µC/cm²). For a
   raster over a region wider than w, Q_s is the dose there; for a parked beam it is the dose spread
   over the Gaussian (about a²/2πw², 2.4 % at w = 10 Å, of the probed cell's).
3. **Pinning.** The Landau model alone pins walls only below about Ẽ = 0.02–0.03 on the 0.39 nm grid,
   and it has no elastic or depolarizing energy to stop an unrelaxed pattern from coarsening. Real
   walls are pinned by defects up to the extrinsic coercive field, and written domains persist. So the
   kinetic coefficient is made local, Γ(r) = Γ · m(r), with the mobility m rising smoothly from 0 at
   ``MOBILITY_ONSET`` · Ẽc (0.8 *(est.)*) to 1 at Ẽc: below the switching dose nothing moves, above
   it walls move and reversed domains nucleate inside the charged region, and the written region
   stays put once the beam has gone. Inside a single domain a reversed region must nucleate, which
   takes more than Ẽc the narrower the field (peak fields of 1.2 Ẽc for w = 20 Å, 1.5 Ẽc for 10 Å,
   2.0 Ẽc for 6 Å on the PbTiO3 grid), so switching there sets in somewhat above ``switching_dose``,
   and a field narrower than about 6 Å (below the 1 nm wall width) never nucleates one.
4. **Evolution.** P̃ then evolves by the semi-implicit TDGL step of :mod:`stemtwin.twin.samples.tdgl`,
   masked by m, for the exposure's duration t / ``tdgl_time_scale`` (reduced time), in at most
   ``max_substeps`` steps of the step that is stable up to the largest |P̃| the saturated field
   induces (0.065 for PbTiO3 at 25 °C), stopping early once P̃ has converged. Switching in PbTiO3 takes
   nanoseconds and an exposure microseconds to seconds, so with the default time scale every exposure
   reaches the cap: the polarization follows the field quasi-statically, scan line by scan line.
   The field is the one at the end of the exposure (a scan line charges the sample in a few ms).
5. **Atoms.** When P changes by more than ``P_TOLERANCE`` (10⁻³ Ps) anywhere, the atoms, labels and
   fields are rebuilt from the new P through
   :func:`stemtwin.twin.samples.ferroelectric.ferroelectric_sample_from_polarization`, the builder's
   own code path, and cells whose polarization variant changed are reported in one
   ``"domain_switch"`` event.

An exposure with no electrons returns the same sample object. Any other exposure returns a new one,
since it carries the new charge map even when P did not move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..samples.ferroelectric import ferroelectric_sample_from_polarization
from ..samples.sample import Sample
from ..samples.tdgl import DEFAULT_DT, VARIANTS, LandauGinzburg2D, LGDParameters, polarization_variants
from ..validation import require_choice, require_int, require_non_negative, require_positive
from .base import Event, Exposure, ProcessSwitches

__all__ = [
    "FerroelectricDynamics",
    "UC_PER_CM2_PER_E_PER_A2",
    "P_TOLERANCE",
    "MOBILITY_ONSET",
    "intrinsic_coercive_field",
]

#: Areal charge density of 1 e/Å² in µC/cm²: 1.602×10⁻¹⁹ C / 10⁻¹⁶ cm².
UC_PER_CM2_PER_E_PER_A2 = 1.602176634e-19 / 1e-16 * 1e6
#: Change of P̃ = P/Ps below which the atoms are not rebuilt [Ps].
P_TOLERANCE = 1e-3
#: Fraction of the coercive field at which walls start to move (the mobility ramps to 1 at Ẽc) *(est.)*.
MOBILITY_ONSET = 0.8
#: Fraction of the saturated field reached at ``saturation_dose``.
_SATURATION_FRACTION = 0.95
#: Per-step change of P̃ below which the TDGL run counts as converged and stops early.
_CONVERGED = 1e-6
#: Steps between convergence checks.
_CHECK_EVERY = 10

_DIRECTIONS = {"+x": (1.0, 0.0), "-x": (-1.0, 0.0), "+y": (0.0, 1.0), "-y": (0.0, -1.0)}


def intrinsic_coercive_field(params: LGDParameters) -> float:
    """Homogeneous coercive field of a Landau model along ⟨10⟩ [reduced field, E/field_scale].

    The largest field a uniform state can resist before it loses stability: max over 0 < P̃ < 1 of
    −∂f̃/∂P̃ = −(2ã1 P̃ + 4ã11 P̃³ + 6ã111 P̃⁵). 1.234 for PbTiO3 at 25 °C.
    """
    return _landau_constants(params)[0]


@lru_cache(maxsize=32)
def _landau_constants(params: LGDParameters) -> tuple[float, float]:
    """(coercive field, |P̃| of the uniform state under twice that field) of a Landau model."""
    a1, a11, _, a111, _ = params.reduced_coefficients
    p = np.linspace(0.0, 3.0, 30001)
    force = 2 * a1 * p + 4 * a11 * p**3 + 6 * a111 * p**5
    inside = p <= 1.0
    coercive = float(-force[inside].min())
    # The largest |P̃| the saturated field (< 2 Ẽc) can induce: the root of ∂f̃/∂P̃ = 2 Ẽc beyond Ps.
    beyond = (p >= 1.0) & (force >= 2.0 * coercive)
    p_max = float(p[np.argmax(beyond)]) if beyond.any() else 3.0
    return coercive, p_max


@dataclass(frozen=True)
class _Grid:
    """The TDGL solver of one sample's grid and its cached constants."""

    model: LandauGinzburg2D
    coercive: float
    dt: float


@lru_cache(maxsize=16)
def _grid(params: LGDParameters, shape: tuple[int, int]) -> _Grid:
    model = LandauGinzburg2D(params, shape)
    coercive, p_max = _landau_constants(params)
    # The step that lowers F̃ up to the largest |P̃| the field induces (tdgl module docstring).
    curvature = model._max_local_curvature(p_max + 0.02)  # noqa: SLF001 (same package, same model)
    return _Grid(model=model, coercive=coercive, dt=min(DEFAULT_DT, model.stable_dt, 2.0 / curvature))


def _direction(direction: Any) -> np.ndarray:
    if isinstance(direction, str):
        return np.array(_DIRECTIONS[require_choice("direction", direction, _DIRECTIONS)])
    vec = np.asarray(direction, dtype=float) if isinstance(direction, (Sequence, np.ndarray)) else np.zeros(0)
    norm = float(np.linalg.norm(vec)) if vec.shape == (2,) else 0.0
    if vec.shape != (2,) or not math.isfinite(norm) or norm == 0:
        raise ConfigurationError(
            f"`direction` must be '+x', '-x', '+y', '-y' or a non-zero in-plane vector (dx, dy), got {direction!r}."
        )
    return vec / norm


class FerroelectricDynamics:
    """Beam charging writes ferroelectric domains (see the module docstring for the model).

    Parameters
    ----------
    processes
        Processes to switch on: ``None`` (all), names, or a mapping name -> bool. The only process is
        ``"beam_charging"``.
    charging_rate
        Fraction of the delivered electrons that stays as trapped charge [dimensionless], >= 0.
        Default 10⁻⁶ *(est.)*: in a thin film at 200–300 kV nearly all electrons pass through and the
        secondary-emission charge mostly drains away, unlike the thick PZT films written with an SEM
        (where the trapped charge is the dose). With it, the 500 µC/cm² threshold needs
        3×10⁵ e/Å² in an area wider than ``field_width`` (one high-dose atomic-resolution frame; a
        10⁴ e/Å² frame adds 16 µC/cm²), and a beam parked at 30 pA in a single −x domain
        switches nothing in 1.5 s, 29 cells (about 2.4 nm across) in 2 s and 69 cells in 5 s.
    field_width
        Standard deviation w of the Gaussian spread of the charging field [Å]. Default 10 Å
        *(est.; the nm range of secondary-electron escape, and the 1 nm wall width below which a
        reversed region cannot nucleate)*.
    decay_time
        Time constant of the leak of the trapped charge [s], or ``None`` (default) for charge that
        stays, as written domains in PZT do.
    tdgl_time_scale
        Physical time of one reduced TDGL time unit, 1/(Γ|α1|) [s]. Default 10⁻⁹ s *(est.; domain
        switching in PbTiO3 takes about a nanosecond)*.
    switching_dose
        Trapped charge density, averaged over the field width, at which the field reaches the
        coercive field [µC/cm²]. Default 500 (the e-beam writing threshold in PZT, PHYSICS.md).
    saturation_dose
        Trapped charge density at which the field reaches 95 % of its saturation, 2Ẽc [µC/cm²]; more
        than ``switching_dose``. Default 1500 (PHYSICS.md).
    polarity
        Sign of the trapped charge, +1 (net positive: secondary emission wins) or −1; the field
        points along ``direction`` for positive charge.
    direction
        In-plane direction of the charging field for positive charge: ``"+x"`` (default), ``"-x"``,
        ``"+y"``, ``"-y"`` or a vector (dx, dy).
    current_threshold
        Probe current above which the trapped charge takes the opposite sign, −``polarity`` [pA]
        (the sign of switching depended on the current, PHYSICS.md; at a high dose rate injected
        electrons outpace the secondary emission), or ``None`` (default) for no dependence.
    max_substeps
        Most TDGL steps per exposure (>= 1); at about 60 µs per step on a 10 × 10 grid the default
        200 caps an exposure at 12 ms (a field well above threshold switches within 100 steps).

    Raises
    ------
    ConfigurationError
        For a parameter out of range (naming it, with its units), and ``UnknownNameError`` for an
        unknown process or direction name.
    """

    name = "ferroelectric"
    PROCESSES: tuple[str, ...] = ("beam_charging",)

    def __init__(
        self,
        processes: Any = None,
        *,
        charging_rate: float = 1e-6,
        field_width: float = 10.0,
        decay_time: float | None = None,
        tdgl_time_scale: float = 1e-9,
        switching_dose: float = 500.0,
        saturation_dose: float = 1500.0,
        polarity: int = 1,
        direction: Any = "+x",
        current_threshold: float | None = None,
        max_substeps: int = 200,
    ) -> None:
        self.processes = ProcessSwitches(self.PROCESSES, processes)
        self.charging_rate = require_non_negative("charging_rate", charging_rate, "trapped fraction of the dose")
        self.field_width = require_positive("field_width", field_width, "Å")
        self.decay_time = None if decay_time is None else require_positive("decay_time", decay_time, "s")
        self.tdgl_time_scale = require_positive("tdgl_time_scale", tdgl_time_scale, "s per reduced time unit")
        self.switching_dose = require_positive("switching_dose", switching_dose, "µC/cm²")
        self.saturation_dose = require_positive("saturation_dose", saturation_dose, "µC/cm²")
        if self.saturation_dose <= self.switching_dose:
            raise ConfigurationError(
                f"`saturation_dose` must exceed `switching_dose` ({self.switching_dose!r}) [µC/cm²], got "
                f"{saturation_dose!r}."
            )
        if isinstance(polarity, bool) or polarity not in (1, -1):
            raise ConfigurationError(f"`polarity` must be +1 or -1 (the sign of the trapped charge), got {polarity!r}.")
        self.polarity = int(polarity)
        self.direction = _direction(direction)
        self.current_threshold = (
            None if current_threshold is None else require_positive("current_threshold", current_threshold, "pA")
        )
        self.max_substeps = require_int("max_substeps", max_substeps, minimum=1)
        #: Hill exponent n of the field's rise: h(Q_sat/Q_sw) = 0.95.
        self.hill_exponent = math.log(_SATURATION_FRACTION / (1 - _SATURATION_FRACTION)) / math.log(
            self.saturation_dose / self.switching_dose
        )

    def __repr__(self) -> str:
        return (
            f"FerroelectricDynamics(processes={list(self.processes.enabled)}, charging_rate={self.charging_rate!r}, "
            f"field_width={self.field_width!r}, switching_dose={self.switching_dose!r}, "
            f"saturation_dose={self.saturation_dose!r}, polarity={self.polarity!r})"
        )

    # -- the model pieces (public for inspection and tests) --------------------------------------
    def charge_sign(self, current: float) -> int:
        """Sign of the charge trapped at probe current ``current`` [pA]."""
        if self.current_threshold is not None and current > self.current_threshold:
            return -self.polarity
        return self.polarity

    def field_magnitude(self, smoothed_charge: np.ndarray, coercive_field: float) -> np.ndarray:
        """|Ẽ| [reduced] for a smoothed charge density [µC/cm²] and the model's coercive field [reduced]."""
        q = np.abs(np.asarray(smoothed_charge, dtype=float)) / self.switching_dose
        qn = q**self.hill_exponent
        return 2.0 * coercive_field * qn / (1.0 + qn)

    def beam_field(self, sample: Sample, charge: np.ndarray | None = None) -> np.ndarray:
        """The reduced beam field Ẽ on the sample's grid, ndarray of shape (nx, ny, 2).

        Parameters
        ----------
        sample
            A ferroelectric sample.
        charge
            Trapped charge density per unit cell [µC/cm²], ndarray of shape (nx, ny); by default the
            sample's ``fields["beam_charge"]`` (zero if it has none).
        """
        grid, shape, a = self._grid_of(sample)
        if charge is None:
            charge = sample.fields.get("beam_charge", np.zeros(shape))
        return self._field(np.asarray(charge, dtype=float), grid.coercive, a)[0]

    # -- the contract ------------------------------------------------------------------------------
    def evolve(self, sample: Sample, exposure: Exposure, rng: np.random.Generator) -> tuple[Sample, list[Event]]:
        """Charge the sample with ``exposure`` and let the polarization follow the field.

        ``rng`` is not used: the model is deterministic. Returns the same ``sample`` for an exposure
        without electrons or with the process switched off; otherwise a new sample carrying the
        updated ``fields["beam_charge"]``, with atoms rebuilt if P moved by more than
        ``P_TOLERANCE``, and at most one ``"domain_switch"`` event.
        """
        if "beam_charging" not in self.processes or exposure.total_electrons <= 0:
            return sample, []
        grid, shape, a = self._grid_of(sample)
        nx, ny = shape
        t_start = float(exposure.times[0])
        t_end = float(exposure.times[-1]) + float(exposure.dwell_time)

        # 1. trapped charge
        charge = np.array(sample.fields.get("beam_charge", np.zeros(shape)), dtype=float)
        if charge.shape != shape:
            raise ConfigurationError(
                f"`sample.fields['beam_charge']` must have shape {shape} (one value per unit cell) [µC/cm²], "
                f"got {charge.shape}."
            )
        electrons = np.asarray(exposure.electrons, dtype=float)
        if self.decay_time is not None:
            last = sample.fields.get("beam_charge_time")
            elapsed = t_end - (t_start if last is None else float(last))
            charge *= math.exp(-max(elapsed, 0.0) / self.decay_time)
            age = t_end - (np.asarray(exposure.times, dtype=float) + 0.5 * exposure.dwell_time)
            electrons = electrons * np.exp(-np.maximum(age, 0.0) / self.decay_time)
        cells = np.floor(np.mod(np.asarray(exposure.positions, dtype=float), (nx * a, ny * a)) / a).astype(np.int64)
        flat = np.minimum(cells[:, 0], nx - 1) * ny + np.minimum(cells[:, 1], ny - 1)
        per_cell = np.bincount(flat, weights=electrons, minlength=nx * ny).reshape(shape)
        sign = self.charge_sign(float(exposure.current))
        charge += sign * self.charging_rate * UC_PER_CM2_PER_E_PER_A2 * per_cell / a**2

        # 2. field, 3. mobility, 4. TDGL
        field, magnitude = self._field(charge, grid.coercive, a)
        P0 = sample.fields["polarization"] / sample.parameters["Ps"]  # noqa: N806
        P1 = P0  # noqa: N806
        onset = MOBILITY_ONSET * grid.coercive
        if magnitude.max() > onset:
            mobility = np.clip((magnitude - onset) / (grid.coercive - onset), 0.0, 1.0)[..., None]
            duration = max(t_end - t_start, 0.0) / self.tdgl_time_scale
            steps = min(self.max_substeps, max(1, math.ceil(duration / grid.dt)))
            P1 = self._relax(grid, P0, field, mobility, steps)  # noqa: N806

        extra = {"beam_charge": charge, "beam_field": field * grid.model.params.field_scale}
        if self.decay_time is not None:
            extra["beam_charge_time"] = np.array(t_end)
        if np.abs(P1 - P0).max() <= P_TOLERANCE:
            fields = dict(sample.fields)
            fields.update(extra)
            return sample.replace(fields=fields), []

        # 5. atoms and events
        new = ferroelectric_sample_from_polarization(sample, P1 * sample.parameters["Ps"], fields=extra)
        before, after = polarization_variants(P0), polarization_variants(P1)
        switched = np.argwhere(before != after)
        if len(switched) == 0:
            return new, []
        centre = [_periodic_mean((switched[:, k] + 0.5) * a, n * a) for k, n in enumerate(shape)]
        event = Event(
            time=t_end,
            kind="domain_switch",
            atoms=tuple(int(5 * (i * ny + j) + 1) for i, j in switched),  # the Ti of each switched cell
            details={
                "count": len(switched),
                "cells": [(int(i), int(j)) for i, j in switched],
                "variants_before": [VARIANTS[before[i, j]] for i, j in switched],
                "variants_after": [VARIANTS[after[i, j]] for i, j in switched],
                "centre": (centre[0], centre[1]),
                "max_field": float(magnitude.max()),
                "max_charge": float(np.abs(charge).max()),
            },
        )
        return new, [event]

    # -- internals ---------------------------------------------------------------------------------
    def _grid_of(self, sample: Sample) -> tuple[_Grid, tuple[int, int], float]:
        params = sample.parameters
        if "polarization" not in sample.fields or any(
            key not in params for key in ("n_cells", "lattice_constant", "temperature", "wall_width", "Ps")
        ):
            raise ConfigurationError(
                f"FerroelectricDynamics needs a sample from build_ferroelectric (a polarization field and its "
                f"builder parameters), got a {sample.name!r} sample."
            )
        shape = (int(params["n_cells"][0]), int(params["n_cells"][1]))
        a = float(params["lattice_constant"])
        lgd = LGDParameters(temperature=params["temperature"], wall_width=params["wall_width"], grid_spacing=a / 10.0)
        return _grid(lgd, shape), shape, a

    def _field(self, charge: np.ndarray, coercive: float, a: float) -> tuple[np.ndarray, np.ndarray]:
        """(Ẽ of shape (nx, ny, 2), |Ẽ| of shape (nx, ny)) of a charge map [µC/cm²]."""
        nx, ny = charge.shape
        if not charge.any():
            return np.zeros((nx, ny, 2)), np.zeros((nx, ny))
        kx = 2 * np.pi * np.fft.fftfreq(nx, d=a)
        ky = 2 * np.pi * np.fft.rfftfreq(ny, d=a)
        kernel = np.exp(-0.5 * self.field_width**2 * (kx[:, None] ** 2 + ky[None, :] ** 2))
        smoothed = np.fft.irfft2(np.fft.rfft2(charge) * kernel, s=(nx, ny))
        magnitude = self.field_magnitude(smoothed, coercive)
        field = (np.sign(smoothed) * magnitude)[..., None] * self.direction
        return field, magnitude

    @staticmethod
    def _relax(
        grid: _Grid,
        P: np.ndarray,  # noqa: N803
        field: np.ndarray,
        mobility: np.ndarray,
        steps: int,
    ) -> np.ndarray:
        """Masked TDGL: P ← P + m·(step(P) − P), i.e. the kinetic coefficient Γ·m(r)."""
        model, dt = grid.model, grid.dt
        for k in range(steps):
            change = mobility * (model.step(P, dt, E=field) - P)
            P = P + change  # noqa: N806
            if (k + 1) % _CHECK_EVERY == 0 and np.abs(change).max() < _CONVERGED:
                break
        return P


def _periodic_mean(values: np.ndarray, period: float) -> float:
    """Mean of coordinates on a circle of circumference ``period`` (the centre of a wrapped region) [Å]."""
    angle = 2 * np.pi * np.asarray(values) / period
    mean = math.atan2(float(np.sin(angle).mean()), float(np.cos(angle).mean()))
    return float((mean % (2 * np.pi)) * period / (2 * np.pi))
