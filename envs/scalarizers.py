"""Scalarizers: named functions that turn one measurement into the reward of an Explore step.

A scalarizer maps a *measurement dict* to a float. The Explore environments build the dict from each
acquisition (see :mod:`stemtwin.envs.measurements` for its keys and units), and apply the same
scalarizer to the noise-free measurement (for ``info["noise_free_scalar"]``) and to the noise-free
measurement at every candidate (for ``true_map()``).

Pass a name from :data:`SCALARIZERS` with ``scalarizer_params``, or any callable
``f(measurement: dict) -> float``::

    gymnasium.make("stemtwin/EELSExplore-v0", scalarizer="band_mean", scalarizer_params={"window": (280, 300)})
    gymnasium.make("stemtwin/EELSExplore-v0", scalarizer=lambda m: float(m["spectrum"][1500:1600].sum()))

The named scalarizers are vectorised: given a dict whose arrays carry leading batch dimensions they
return an array, which is how ``true_map()`` evaluates every candidate at once. Every named scalarizer
returns finite values; a callable that returns a non-finite value makes the step raise.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from stemtwin.twin import Optics
from stemtwin.twin.detectors import DiffractionCamera
from stemtwin.twin.errors import ConfigurationError, UnknownNameError
from stemtwin.twin.signals.diffraction_analysis import disks_overlap, fit_reciprocal_basis, strain_from_bases
from stemtwin.twin.signals.eels import (
    SI_L23_DELAYED_WINDOW,
    SI_L23_FIT_WINDOW,
    SI_L23_NEAR_WINDOW,
    TI_L23_FIT_WINDOW,
)
from stemtwin.twin.validation import require_choice, require_positive, suggest

__all__ = [
    "MeasurementContext",
    "Scalarizer",
    "CallableScalarizer",
    "SCALARIZERS",
    "MODALITIES",
    "describe_scalarizers",
    "make_scalarizer",
    "PowerLawBackground",
]

#: Measurement modalities of the Explore environments.
MODALITIES: tuple[str, ...] = ("eels", "diffraction")


@dataclass(frozen=True, eq=False)
class MeasurementContext:
    """What a scalarizer may need to know about the instrument, fixed for one episode.

    Parameters
    ----------
    modality
        ``"eels"`` or ``"diffraction"``.
    electrons
        Incident electrons per measurement [e⁻].
    energy
        Energy axis of the spectrometer [eV] (EELS).
    optics, camera
        Probe and camera of the diffraction measurements.
    lattice_basis
        Real-space lattice vectors of the sample family, columns a1, a2 [Å] (diffraction).
    d_spacing
        Largest in-plane lattice-plane spacing [Å], for the disk-overlap test.
    reference_pattern
        Noise-free pattern at the centre of the field of view at reset, in counts; None while the
        environment is being constructed.
    """

    modality: str
    electrons: float
    energy: np.ndarray | None = None
    optics: Optics | None = None
    camera: DiffractionCamera | None = None
    lattice_basis: np.ndarray | None = None
    d_spacing: float | None = None
    reference_pattern: np.ndarray | None = None


class Scalarizer:
    """A named, parametrised, vectorised function of a measurement dict.

    Subclasses set :attr:`name`, :attr:`modality` and :attr:`summary`, validate their parameters in
    ``__init__`` and against the instrument in :meth:`prepare`, and implement :meth:`evaluate`.
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def prepare(self, context: MeasurementContext) -> None:
        """Validate against the instrument and precompute; called at construction and at every reset."""

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        """Values for a measurement whose arrays may carry leading batch dimensions."""
        raise NotImplementedError

    def __call__(self, measurement: Mapping[str, Any]) -> float:
        """The value of one measurement."""
        return float(np.asarray(self.evaluate(measurement)).reshape(-1)[0])

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{self.name}({params})"


class CallableScalarizer(Scalarizer):
    """Wraps a user callable ``f(measurement: dict) -> float`` (evaluated one measurement at a time)."""

    name = "callable"
    summary = "a user-supplied callable f(measurement) -> float"

    def __init__(self, function: Callable[[Mapping[str, Any]], float]) -> None:
        self.function = function
        self.name = getattr(function, "__name__", type(function).__name__)  # type: ignore[misc]

    def __call__(self, measurement: Mapping[str, Any]) -> float:
        value = self.function(measurement)
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"The scalarizer {self.name!r} must return a real number, got {type(value).__name__} {value!r}."
            ) from None
        if not math.isfinite(out):
            raise ConfigurationError(
                f"The scalarizer {self.name!r} returned {out!r} at position {measurement.get('position')}; "
                "scalarizers must return finite values."
            )
        return out

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(self(measurement))


# ---------------------------------------------------------------------------------------------
# EELS
# ---------------------------------------------------------------------------------------------
def _window(name: str, window: Any) -> tuple[float, float]:
    if not isinstance(window, (tuple, list, np.ndarray)) or len(window) != 2:
        raise ConfigurationError(f"`{name}` must be an energy window (low, high) [eV], got {window!r}.")
    lo, hi = float(window[0]), float(window[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ConfigurationError(f"`{name}` must be an energy window with low < high [eV], got {window!r}.")
    return (lo, hi)


def _window_mask(energy: np.ndarray, window: tuple[float, float], name: str) -> np.ndarray:
    """Channels ``low <= E < high``, at least two of them (as :mod:`stemtwin.twin.signals.eels`)."""
    mask = (energy >= window[0]) & (energy < window[1])
    if np.count_nonzero(mask) < 2:
        raise ConfigurationError(
            f"`{name}` {window!r} [eV] must cover at least 2 channels of the spectrometer's energy axis "
            f"({energy[0]:.2f}–{energy[-1]:.2f} eV)."
        )
    return mask


def _energy(context: MeasurementContext) -> np.ndarray:
    if context.energy is None:
        raise ConfigurationError("This scalarizer needs an EELS energy axis.")
    return np.asarray(context.energy, dtype=np.float64)


class PowerLawBackground:
    """Vectorised power-law background ``A·E^−r`` fitted to a pre-edge window.

    The same algorithm as :func:`stemtwin.twin.signals.eels.power_law_background` (channel groups,
    iterated effective energies, a straight-line fit in log–log space), evaluated for many spectra at
    once with the channel bookkeeping done once per energy axis.

    Parameters
    ----------
    energy
        Energy axis [eV].
    fit_window
        Pre-edge window (low, high) [eV].
    n_bins
        Number of channel groups in the fit.
    """

    def __init__(self, energy: np.ndarray, fit_window: tuple[float, float], n_bins: int = 4) -> None:
        self.energy = np.asarray(energy, dtype=np.float64)
        idx = np.flatnonzero(_window_mask(self.energy, fit_window, "fit_window"))
        groups = np.array_split(idx, min(n_bins, idx.size))
        self.valid = bool(np.all(self.energy[idx] > 0))
        self._channels = np.concatenate(groups)
        self._starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
        self._sizes = np.array([len(g) for g in groups], dtype=np.float64)
        self._log_energy = np.log(np.where(self.energy[self._channels] > 0, self.energy[self._channels], 1.0))

    def fit(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit each spectrum (n, channels): ``(log A, slope, ok)``, each of shape (n,).

        ``ok`` is False where the window holds no positive signal (the background is then zero).
        """
        means = np.add.reduceat(spectra[:, self._channels], self._starts, axis=1) / self._sizes
        ok = (means.max(axis=1) > 0) & self.valid
        positive = np.where(means > 0, means, np.inf).min(axis=1)
        positive[~np.isfinite(positive)] = 1.0
        log_means = np.log(np.maximum(means, positive[:, None]))
        y = log_means - log_means.mean(axis=1, keepdims=True)
        slope = np.full(len(spectra), -3.0)
        for _ in range(6):
            q = np.where(np.abs(slope) > 1e-6, slope, -1e-6)[:, None]
            sums = np.add.reduceat(np.exp(q * self._log_energy), self._starts, axis=1)
            x = np.log(sums / self._sizes) / q  # log of the effective energy of each group
            x -= x.mean(axis=1, keepdims=True)
            slope = np.einsum("ij,ij->i", x, y) / np.einsum("ij,ij->i", x, x)
            x_mean = (np.log(sums / self._sizes) / q).mean(axis=1)
        intercept = log_means.mean(axis=1) - slope * x_mean
        return intercept, slope, ok

    def window_sum(self, spectra: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Sum over the channels of ``mask`` of spectrum minus background, shape (n,)."""
        intercept, slope, ok = self.fit(spectra)
        e = self.energy[mask]
        positive = e > 0
        log_e = np.log(np.where(positive, e, 1.0))
        bg = np.exp(intercept[:, None] + slope[:, None] * log_e[None]) * positive[None]
        bg_sum = np.where(ok, bg.sum(axis=1), 0.0)
        return spectra[:, mask].sum(axis=1) - bg_sum


def _spectra(measurement: Mapping[str, Any]) -> tuple[np.ndarray, tuple[int, ...]]:
    spectrum = np.asarray(measurement["spectrum"], dtype=np.float64)
    return spectrum.reshape(-1, spectrum.shape[-1]), spectrum.shape[:-1]


class _EELSScalarizer(Scalarizer):
    modality = "eels"


class BandMean(_EELSScalarizer):
    """Mean counts per channel over an energy window."""

    name = "band_mean"
    summary = "mean counts per channel over `window` (low, high) [eV]"

    def __init__(self, window: tuple[float, float] = (284.0, 300.0)) -> None:
        self.window = _window("window", window)

    def prepare(self, context: MeasurementContext) -> None:
        self._mask = _window_mask(_energy(context), self.window, "window")

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        return spectra[:, self._mask].mean(axis=1).reshape(lead)


class PeakMax(_EELSScalarizer):
    """Largest counts in one channel within an energy window."""

    name = "peak_max"
    summary = "largest counts in one channel within `window` (low, high) [eV]"

    def __init__(self, window: tuple[float, float] = (284.0, 300.0)) -> None:
        self.window = _window("window", window)

    def prepare(self, context: MeasurementContext) -> None:
        self._mask = _window_mask(_energy(context), self.window, "window")

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        return spectra[:, self._mask].max(axis=1).reshape(lead)


class _TwoWindows(_EELSScalarizer):
    def __init__(self, window_a: tuple[float, float] = (284.0, 290.0), window_b: tuple[float, float] = (290.0, 310.0)) -> None:
        self.window_a = _window("window_a", window_a)
        self.window_b = _window("window_b", window_b)

    def prepare(self, context: MeasurementContext) -> None:
        energy = _energy(context)
        self._mask_a = _window_mask(energy, self.window_a, "window_a")
        self._mask_b = _window_mask(energy, self.window_b, "window_b")

    @staticmethod
    def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        safe = np.where(b > 0, b, 1.0)
        return np.where(b > 0, a / safe, 0.0)


class PeakRatio(_TwoWindows):
    """Ratio of the peak (largest channel) of two energy windows."""

    name = "peak_ratio"
    summary = "max counts in `window_a` / max counts in `window_b` [eV windows]; 0 where the latter is 0"

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        return self._ratio(spectra[:, self._mask_a].max(axis=1), spectra[:, self._mask_b].max(axis=1)).reshape(lead)


class BandRatio(_TwoWindows):
    """Ratio of the summed counts of two energy windows."""

    name = "band_ratio"
    summary = "summed counts in `window_a` / summed counts in `window_b` [eV windows]; 0 where the latter is 0"

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        return self._ratio(spectra[:, self._mask_a].sum(axis=1), spectra[:, self._mask_b].sum(axis=1)).reshape(lead)


class EdgeSignal(_EELSScalarizer):
    """Background-subtracted core-loss signal (as :func:`stemtwin.twin.signals.eels.edge_signal`)."""

    name = "edge_signal"
    summary = (
        "counts in `signal_window` above a power law fitted over `fit_window` [eV windows] "
        "(twin.signals.eels.edge_signal)"
    )

    def __init__(self, signal_window: tuple[float, float] = (99.0, 120.0), fit_window: tuple[float, float] = (75.0, 97.0)) -> None:
        self.signal_window = _window("signal_window", signal_window)
        self.fit_window = _window("fit_window", fit_window)

    def prepare(self, context: MeasurementContext) -> None:
        energy = _energy(context)
        self._background = PowerLawBackground(energy, self.fit_window)
        self._mask = _window_mask(energy, self.signal_window, "signal_window")

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        return self._background.window_sum(spectra, self._mask).reshape(lead)


class SiFourfold(_EELSScalarizer):
    """Si L2,3 near-onset fraction where a Si edge is present: high on 4-fold Si, low on 3-fold, 0 off Si."""

    name = "si_fourfold"
    summary = (
        "Si L2,3 near-onset fraction f (twin.signals.eels.si_l23_fine_structure_ratio), clipped to [0, 1], "
        "where the Si edge exceeds `min_significance` Poisson σ; else 0 (≈0.45 on 4-fold Si, ≈0.18 on 3-fold)"
    )

    def __init__(self, min_significance: float = 5.0) -> None:
        self.min_significance = require_positive("min_significance", min_significance, "σ")

    def prepare(self, context: MeasurementContext) -> None:
        energy = _energy(context)
        self._background = PowerLawBackground(energy, SI_L23_FIT_WINDOW)
        self._near = _window_mask(energy, SI_L23_NEAR_WINDOW, "SI_L23_NEAR_WINDOW")
        self._late = _window_mask(energy, SI_L23_DELAYED_WINDOW, "SI_L23_DELAYED_WINDOW")

    def ratio_and_significance(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unclipped f (NaN where the edge has no positive signal) and the edge significance [σ]."""
        intercept, slope, ok = self._background.fit(spectra)
        sums = []
        for mask in (self._near, self._late):
            e = self._background.energy[mask]
            bg = np.exp(intercept[:, None] + slope[:, None] * np.log(e)[None])
            sums.append(spectra[:, mask].sum(axis=1) - np.where(ok, bg.sum(axis=1), 0.0))
        near, late = sums
        total = near + late
        safe = np.where(total > 0, total, 1.0)
        ratio = np.where(total > 0, near / safe, np.nan)
        raw = spectra[:, self._near | self._late].sum(axis=1)
        significance = total / np.sqrt(np.maximum(raw, 1.0))
        return ratio, significance

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        ratio, significance = self.ratio_and_significance(spectra)
        present = (significance > self.min_significance) & np.isfinite(ratio)
        return np.where(present, np.clip(np.nan_to_num(ratio), 0.0, 1.0), 0.0).reshape(lead)


class TiSplitting(_EELSScalarizer):
    """t2g–eg splitting of the Ti L3 white line [eV], from the centroids of its two peaks.

    A power law fitted over ``fit_window`` is subtracted (:class:`PowerLawBackground`, as
    :func:`stemtwin.twin.signals.eels.edge_signal`); the value is the distance between the
    count-weighted mean energies (centroids) of the background-subtracted signal in ``eg_window``
    and in ``t2g_window``. Being linear in the counts, the centroids tolerate Poisson noise far
    better than the two-peak fit of :func:`stemtwin.twin.signals.eels.ti_l23_splitting`, and the
    evaluation is vectorised. With the default windows and the *(est.)* PbTiO3 templates, the
    noise-free value tracks the model splitting :func:`~stemtwin.twin.signals.eels_templates.ti_crystal_field_splitting`
    (2.0 eV at zero off-centring, 2.0 − u[Å] eV) nearly linearly (correlation 0.999 with the two-peak
    fit over a ferroelectric field of view) but reads slightly low (1.77–1.96 eV for fitted
    splittings 1.72–2.00 eV), because the eg peak is cut by the window edge.

    In the ferroelectric family the splitting is largest where the Ti is centred, at the domain
    walls, and smallest inside the domains (|u| ≈ 0.28 Å).

    Parameters
    ----------
    t2g_window
        Window (low, high) [eV] around the L3 t2g peak (457 eV in the model).
    eg_window
        Window (low, high) [eV] around the L3 eg peak (≈458.7–459 eV); must start at or above the end
        of ``t2g_window``.
    fit_window
        Pre-edge window (low, high) [eV] of the power-law background; must end at or below the start
        of ``t2g_window``.

    Returns
    -------
    Splitting [eV], clipped to [0, eg_window[1] − t2g_window[0]]; 0 where either window holds no
    positive signal above the background.
    """

    name = "ti_splitting"
    summary = (
        "Ti L3 t2g–eg splitting [eV]: centroid of `eg_window` minus centroid of `t2g_window` after a power "
        "law fitted over `fit_window` [eV windows] is subtracted; 0 where a window holds no signal"
    )

    def __init__(
        self,
        t2g_window: tuple[float, float] = (456.0, 457.9),
        eg_window: tuple[float, float] = (457.9, 460.0),
        fit_window: tuple[float, float] = TI_L23_FIT_WINDOW,
    ) -> None:
        self.t2g_window = _window("t2g_window", t2g_window)
        self.eg_window = _window("eg_window", eg_window)
        self.fit_window = _window("fit_window", fit_window)
        if self.eg_window[0] < self.t2g_window[1]:
            raise ConfigurationError(
                f"`eg_window` {eg_window!r} [eV] must start at or above the end of `t2g_window` {t2g_window!r}."
            )
        if self.fit_window[1] > self.t2g_window[0]:
            raise ConfigurationError(
                f"`fit_window` {fit_window!r} [eV] must end at or below the start of `t2g_window` {t2g_window!r}."
            )

    def prepare(self, context: MeasurementContext) -> None:
        energy = _energy(context)
        self._background = PowerLawBackground(energy, self.fit_window)
        self._masks = (
            _window_mask(energy, self.t2g_window, "t2g_window"),
            _window_mask(energy, self.eg_window, "eg_window"),
        )

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        spectra, lead = _spectra(measurement)
        intercept, slope, ok = self._background.fit(spectra)
        energy = self._background.energy
        centroids, present = [], np.ones(len(spectra), dtype=bool)
        for mask in self._masks:
            e = energy[mask]
            bg = np.exp(intercept[:, None] + slope[:, None] * np.log(np.where(e > 0, e, 1.0))[None]) * (e > 0)[None]
            signal = spectra[:, mask] - np.where(ok[:, None], bg, 0.0)
            total = signal.sum(axis=1)
            present &= total > 0
            safe = np.where(total > 0, total, 1.0)
            centroids.append(signal @ e / safe)
        span = self.eg_window[1] - self.t2g_window[0]
        value = np.where(present, np.clip(centroids[1] - centroids[0], 0.0, span), 0.0)
        return np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0).reshape(lead)


# ---------------------------------------------------------------------------------------------
# Diffraction
# ---------------------------------------------------------------------------------------------
class _DiffractionScalarizer(Scalarizer):
    modality = "diffraction"
    key: ClassVar[str] = ""

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(measurement[self.key], dtype=np.float64)


class ComMagnitude(_DiffractionScalarizer):
    """|CoM| of the pattern [mrad]."""

    name = "com_magnitude"
    summary = "magnitude of the pattern's centre of mass |CoM| [mrad]"
    key = "com_magnitude"


class ComAngle(_DiffractionScalarizer):
    """Direction of the CoM [rad]."""

    name = "com_angle"
    summary = "direction of the centre of mass, atan2(CoM_y, CoM_x) in [−π, π] [rad]"
    key = "com_angle"


class ComComponent(_DiffractionScalarizer):
    """One component of the CoM [mrad]."""

    name = "com_component"
    summary = "one component of the centre of mass, `axis` 'x' or 'y' [mrad]"

    def __init__(self, axis: str = "x") -> None:
        self.axis = require_choice("axis", axis, ("x", "y"))
        self.key = f"com_{self.axis}"  # type: ignore[misc]


class VirtualBF(_DiffractionScalarizer):
    """Virtual bright field: fraction of the beam within the bright-field disk (0–α)."""

    name = "virtual_bf"
    summary = "virtual bright field, 0–α [fraction of the incident electrons]"
    key = "bf"


class VirtualABF(_DiffractionScalarizer):
    """Virtual annular bright field: fraction of the beam within α/2–α."""

    name = "virtual_abf"
    summary = "virtual annular bright field, α/2–α [fraction of the incident electrons]"
    key = "abf"


class VirtualADF(_DiffractionScalarizer):
    """Virtual annular dark field: fraction of the beam from α to the camera edge."""

    name = "virtual_adf"
    summary = "virtual annular dark field, α to the camera edge [fraction of the incident electrons]"
    key = "adf"


#: Strain components of :class:`StrainComponent`.
STRAIN_COMPONENTS: tuple[str, ...] = ("xx", "yy", "xy", "rotation", "dilatation")


class StrainComponent(_DiffractionScalarizer):
    """One component of the strain from the diffraction-disk lattice against a reference.

    The reference reciprocal basis is fitted, at every reset, to the noise-free pattern at the centre
    of the field of view (starting from the family's ideal lattice), so the strain reads 0 there. Each
    measured pattern's basis is fitted from its disks (:func:`fit_reciprocal_basis`) and compared
    (:func:`strain_from_bases`). ``"xy"`` is the symmetric shear (εxy + εyx)/2 and ``"rotation"`` the
    antisymmetric part (εyx − εxy)/2 [rad]; ``"dilatation"`` the mean normal strain (εxx + εyy)/2.
    A pattern whose disks cannot be fitted scores 0.

    It needs separated disks (α < λ/2d): in ``DiffractionExplore`` use ``probe="nanobeam"`` (the
    default when this scalarizer is chosen).
    """

    name = "strain_component"
    summary = (
        "strain component `component` ('xx', 'yy', 'xy', 'rotation' or 'dilatation') of the disk lattice against a reference "
        "fitted at reset at the field's centre [dimensionless]; needs probe='nanobeam'"
    )
    needs_separated_disks: ClassVar[bool] = True

    def __init__(self, component: str = "xx") -> None:
        self.component = require_choice("strain component", component, STRAIN_COMPONENTS)
        self._reference: np.ndarray | None = None

    def prepare(self, context: MeasurementContext) -> None:
        if context.optics is None or context.camera is None or context.lattice_basis is None:
            raise ConfigurationError("`strain_component` needs the probe, the camera and the lattice of the sample.")
        if context.d_spacing is not None and disks_overlap(context.optics, context.d_spacing):
            raise ConfigurationError(
                f"`strain_component` needs separated diffraction disks, but a {context.optics.semiangle_cutoff:g} mrad "
                f"probe overlaps them (α must be below λ/2d = "
                f"{context.optics.wavelength / (2 * context.d_spacing) * 1e3:.1f} mrad); use probe='nanobeam'."
            )
        if context.reference_pattern is None:
            self._reference = None
            return
        optics, camera = context.optics, context.camera
        guess = np.linalg.inv(np.asarray(context.lattice_basis, dtype=np.float64)).T * optics.wavelength * 1e3
        self._context = context
        self._reference = fit_reciprocal_basis(context.reference_pattern, camera, optics, guess)

    def _one(self, pattern: np.ndarray) -> float:
        assert self._reference is not None
        try:
            basis = fit_reciprocal_basis(pattern, self._context.camera, self._context.optics, self._reference)
            eps = strain_from_bases(self._reference, basis)
        except (ConfigurationError, np.linalg.LinAlgError):
            return 0.0
        value = {
            "xx": eps[0, 0],
            "yy": eps[1, 1],
            "xy": 0.5 * (eps[0, 1] + eps[1, 0]),
            "rotation": 0.5 * (eps[1, 0] - eps[0, 1]),
            "dilatation": 0.5 * (eps[0, 0] + eps[1, 1]),
        }[self.component]
        return float(value) if np.isfinite(value) else 0.0

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        if self._reference is None:
            raise ConfigurationError("`strain_component` has no reference lattice yet: call reset() first.")
        patterns = np.asarray(measurement["pattern"], dtype=np.float64)
        lead = patterns.shape[:-2]
        flat = patterns.reshape(-1, *patterns.shape[-2:])
        return np.array([self._one(p) for p in flat]).reshape(lead)


def _reflections(name: str, value: Any) -> tuple[tuple[int, int], ...]:
    """Validate a non-empty sequence of distinct (h, k) integer pairs."""
    message = (
        f"`{name}` must be a non-empty list of distinct (h, k) integer reflections of the sample lattice "
        f"(for example [(1, 0), (-1, 0)]), got {value!r}."
    )
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)) or len(value) == 0:
        raise ConfigurationError(message)
    out = []
    for item in value:
        if isinstance(item, (str, bytes)) or not isinstance(item, (tuple, list, np.ndarray)) or len(item) != 2:
            raise ConfigurationError(message)
        pair = []
        for v in item:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)):
                raise ConfigurationError(message)
            if not float(v).is_integer():
                raise ConfigurationError(message)
            pair.append(int(v))
        out.append((pair[0], pair[1]))
    if len(set(out)) != len(out):
        raise ConfigurationError(message)
    return tuple(out)


class DiskRatio(_DiffractionScalarizer):
    """Ratio of the integrated intensities of two sets of Bragg disks of a nano-beam pattern.

    Each reflection (h, k) is the disk of radius ``disk_radius`` · α centred on the scattering angle
    λ·(h b1 + k b2) [mrad], with b1, b2 the reciprocal vectors of the family's ideal lattice
    (:attr:`MeasurementContext.lattice_basis`); (0, 0) is the direct beam. The value is the summed
    counts of the ``numerator`` disks over the summed counts of the ``denominator`` disks.

    In the ferroelectric family the {100} disks carry the polar Ti off-centring: |F(100)|² grows
    with u² (the Ti column leaves the O column it sits on in the centred cell), while the {110}
    disks hardly change. So the default {110}/{100} ratio peaks on the domain walls, where the
    polarization passes through zero, and is smallest inside the domains (about 13.2 against 9.5
    with the default PbTiO3 stripes). Unlike the centre of mass, which the Ehrenfest theorem pins
    near 0 for a probe wider than a unit cell, the disk intensities keep the signal.

    It needs separated disks (α < λ/2d): in ``DiffractionExplore`` use ``probe="nanobeam"`` (the
    default when this scalarizer is chosen). Every disk must lie within the camera.

    Parameters
    ----------
    numerator, denominator
        Lists of distinct (h, k) integer reflections; the default {110}/{100}.
    disk_radius
        Radius of the integration disks as a fraction of the probe semiangle α, within (0, 1.5].

    Returns
    -------
    Ratio [dimensionless], ≥ 0; 0 where the denominator disks hold no counts.
    """

    name = "disk_ratio"
    summary = (
        "summed counts in the Bragg disks `numerator` / in the disks `denominator` (lists of (h, k) reflections; "
        "default {110}/{100}, which peaks on ferroelectric domain walls) [dimensionless]; needs probe='nanobeam'"
    )
    needs_separated_disks: ClassVar[bool] = True

    def __init__(
        self,
        numerator: Any = ((1, 1), (1, -1), (-1, 1), (-1, -1)),
        denominator: Any = ((1, 0), (-1, 0), (0, 1), (0, -1)),
        disk_radius: float = 1.0,
    ) -> None:
        self.numerator = _reflections("numerator", numerator)
        self.denominator = _reflections("denominator", denominator)
        self.disk_radius = require_positive("disk_radius", disk_radius, "fraction of α")
        if self.disk_radius > 1.5:
            raise ConfigurationError(f"`disk_radius` must be within (0, 1.5] [fraction of α], got {disk_radius!r}.")
        self._weights: np.ndarray | None = None

    def prepare(self, context: MeasurementContext) -> None:
        if context.optics is None or context.camera is None or context.lattice_basis is None:
            raise ConfigurationError("`disk_ratio` needs the probe, the camera and the lattice of the sample.")
        optics, camera = context.optics, context.camera
        if context.d_spacing is not None and disks_overlap(optics, context.d_spacing):
            raise ConfigurationError(
                f"`disk_ratio` needs separated diffraction disks, but a {optics.semiangle_cutoff:g} mrad probe "
                f"overlaps them (α must be below λ/2d = "
                f"{optics.wavelength / (2 * context.d_spacing) * 1e3:.1f} mrad); use probe='nanobeam'."
            )
        reciprocal = np.linalg.inv(np.asarray(context.lattice_basis, dtype=np.float64)).T * optics.wavelength * 1e3
        radius = self.disk_radius * optics.semiangle_cutoff
        tx, ty = camera.angles()
        gx, gy = np.meshgrid(tx, ty, indexing="ij")
        half = 0.5 * camera.angular_sampling
        columns = []
        for name, reflections in (("numerator", self.numerator), ("denominator", self.denominator)):
            mask = np.zeros(gx.shape, dtype=bool)
            for h, k in reflections:
                centre = reciprocal @ np.array([h, k], dtype=np.float64)
                if np.any(np.abs(centre) + radius > camera.max_angle - half):
                    raise ConfigurationError(
                        f"The disk of reflection {(h, k)} of `{name}` (centre ({centre[0]:.2f}, {centre[1]:.2f}) mrad, "
                        f"radius {radius:.2f} mrad) does not fit on the camera (edge at ±{camera.max_angle:g} mrad); "
                        "choose lower-order reflections or a smaller `disk_radius`."
                    )
                mask |= np.hypot(gx - centre[0], gy - centre[1]) < radius
            columns.append(mask.reshape(-1).astype(np.float64))
        self._weights = np.stack(columns, axis=1)

    def evaluate(self, measurement: Mapping[str, Any]) -> np.ndarray:
        if self._weights is None:
            raise ConfigurationError("`disk_ratio` is not prepared: build it through an environment or call prepare().")
        patterns = np.asarray(measurement["pattern"], dtype=np.float64)
        lead = patterns.shape[:-2]
        if patterns.shape[-2] * patterns.shape[-1] != self._weights.shape[0]:
            raise ConfigurationError(
                f"`disk_ratio` was prepared for a {int(np.sqrt(self._weights.shape[0]))}-pixel camera, "
                f"got patterns of shape {patterns.shape[-2:]}."
            )
        sums = patterns.reshape(-1, self._weights.shape[0]) @ self._weights
        num, den = sums[:, 0], sums[:, 1]
        safe = np.where(den > 0, den, 1.0)
        return np.where(den > 0, num / safe, 0.0).reshape(lead)


#: Named scalarizers, by name.
SCALARIZERS: dict[str, type[Scalarizer]] = {
    cls.name: cls
    for cls in (
        BandMean,
        PeakMax,
        PeakRatio,
        BandRatio,
        EdgeSignal,
        SiFourfold,
        TiSplitting,
        ComMagnitude,
        ComAngle,
        ComComponent,
        VirtualBF,
        VirtualABF,
        VirtualADF,
        StrainComponent,
        DiskRatio,
    )
}


def describe_scalarizers(modality: str | None = None) -> dict[str, str]:
    """One-line description of each named scalarizer (of one modality, or all)."""
    return {
        name: f"[{cls.modality}] {cls.summary}"
        for name, cls in SCALARIZERS.items()
        if modality is None or cls.modality == modality
    }


def make_scalarizer(
    scalarizer: str | Callable[[Mapping[str, Any]], float] | Scalarizer,
    params: Mapping[str, Any] | None,
    modality: str,
) -> Scalarizer:
    """Build a scalarizer from a name and parameters, or wrap a callable.

    Raises
    ------
    UnknownNameError
        For an unknown name or parameter (with a did-you-mean hint and the valid names).
    ConfigurationError
        For a scalarizer of the other modality, parameters given with a callable, or bad values.
    """
    require_choice("modality", modality, MODALITIES)
    if params is not None and not isinstance(params, Mapping):
        raise ConfigurationError(f"`scalarizer_params` must be a dict, got {type(params).__name__}.")
    params = dict(params or {})
    if isinstance(scalarizer, Scalarizer):
        if params:
            raise ConfigurationError("`scalarizer_params` applies to named scalarizers only; configure the instance.")
        if scalarizer.modality not in ("", modality):
            raise ConfigurationError(f"Scalarizer {scalarizer.name!r} is for {scalarizer.modality}, not {modality}.")
        return scalarizer
    if isinstance(scalarizer, str):
        name = require_choice("scalarizer", scalarizer, SCALARIZERS)
        cls = SCALARIZERS[name]
        if cls.modality != modality:
            valid = sorted(n for n, c in SCALARIZERS.items() if c.modality == modality)
            raise ConfigurationError(
                f"Scalarizer {name!r} works on {cls.modality} measurements, not {modality}. "
                f"Scalarizers for {modality}: {valid}"
            )
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        for key in params:
            if key not in accepted:
                hint = suggest(str(key), accepted)
                raise UnknownNameError(
                    f"Unknown parameter {key!r} of scalarizer {name!r}.{hint} Available: {sorted(accepted)}"
                )
        return cls(**params)
    if callable(scalarizer):
        if params:
            raise ConfigurationError("`scalarizer_params` applies to named scalarizers only, not to a callable.")
        return CallableScalarizer(scalarizer)
    raise ConfigurationError(
        f"`scalarizer` must be a name from {sorted(SCALARIZERS)} or a callable f(measurement) -> float, "
        f"got {type(scalarizer).__name__}."
    )
