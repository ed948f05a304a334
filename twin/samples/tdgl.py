"""Time-dependent Landau–Ginzburg–Devonshire (TDGL) model of in-plane ferroelectric domains.

Model
-----
The polarization P = (Px, Py) lives on a periodic 2-D grid. Its free energy density is

    f = α1(Px² + Py²) + α11(Px⁴ + Py⁴) + α12·Px²Py² + α111(Px⁶ + Py⁶)
        + α112(Px⁴Py² + Px²Py⁴) + ½G(|∇Px|² + |∇Py|²) − E·P

and P relaxes by ∂P/∂t = −Γ δF/δP. The default coefficients are those of PbTiO3 (SI units,
PHYSICS.md): α1 = 3.8×10⁵ (T − 479 °C) [C⁻²m²N], α11 = −7.3×10⁷ [C⁻⁴m⁶N],
α12 = 7.5×10⁸ [C⁻⁴m⁶N], α111 = 2.6×10⁸ [C⁻⁶m¹⁰N], α112 = 6.1×10⁸ [C⁻⁶m¹⁰N]. Minimising f for a
uniform P along ⟨10⟩ gives the spontaneous polarization Ps = 0.757 C/m² at 25 °C; the four
in-plane variants ±x, ±y are the minima (the ⟨11⟩ direction is a saddle).

Only the Landau and gradient energies are included: there is no elastic or electrostatic
(depolarizing) energy, so wall orientations and domain sizes are not those of a clamped film, and a
random start coarsens with time.

Reduced units
-------------
The solver works in reduced units (a tilde below; every array the solver takes or returns is
reduced):

- polarization  P̃ = P / Ps                         (``Ps`` [C/m²])
- length        x̃ = x / ξ,  ξ = √(G / |α1|)        (``xi`` [nm])
- time          t̃ = t · Γ|α1|
- energy density f̃ = f / (|α1| Ps²)                 (``energy_density_scale`` [J/m³])
- field         Ẽ = E / (|α1| Ps)                   (``field_scale`` [V/m])

so that f̃ = −P̃² + ã11(P̃x⁴ + P̃y⁴) + … + ½|∇̃P̃|² − Ẽ·P̃ with ã11 = α11 Ps²/|α1|,
ã12 = α12 Ps²/|α1|, ã111 = α111 Ps⁴/|α1|, ã112 = α112 Ps⁴/|α1|, and ∂P̃/∂t̃ = −δF̃/δP̃.

The gradient coefficient is set from the wall width: ``wall_width`` w is the full width of a
relaxed 180° wall by the tangent construction (the distance over which the tangent at the wall
centre goes from −Ps to +Ps), which for a profile P = Ps tanh(2x/w) is exactly w. For the
Ising wall of this model, ½G P′² = f(P) − f(Ps) gives P′(0) = Ps √(−2f̃min)/ξ, hence
ξ = w √(−f̃min / 2) with f̃min = f(Ps)/(|α1|Ps²) (−0.7475 for PbTiO3 at 25 °C, so ξ = 0.611 w).
PHYSICS.md puts the PbTiO3 wall width at about 1 nm *(est.)*, which gives G = 6.4×10⁻¹¹ C⁻²m⁴N.

Numerics
--------
The gradient energy is the five-point lattice one, ½ Σ |P(r + h) − P(r)|² / h² over both axes, so
that F̃ is a local sum on the grid (a grid of unit cells) and walls only two or three cells wide do
not ring. Its Laplacian is diagonal in Fourier space with symbol
K(k) = (4/h̃²)[sin²(kx h/2) + sin²(ky h/2)]. One step is semi-implicit spectral:

    P̂ⁿ⁺¹ = [P̂ⁿ − dt · FFT(∂f̃_local/∂P̃(Pⁿ) − Ẽ)] / (1 + dt K)

with the gradient term implicit (unconditionally stable) and the local terms explicit. The scheme
lowers F̃ at every step when dt ≤ 2/L, where L is the largest curvature of the local energy over
the states visited. ``LandauGinzburg2D.stable_dt`` is 2/L over the disk |P̃| ≤ 1.05: 0.101 for
PbTiO3 at 25 °C (the largest curvature is at the ⟨11⟩ directions), and the default step
``DEFAULT_DT`` = 0.1 is within it. In practice F̃ still falls at every step from a random start
up to dt ≈ 0.2 and fails at 0.3. A strong field that pushes |P̃| well past 1 needs a smaller step.
One step of a 128 × 128 grid takes about 0.4 ms (``benchmarks/bench_tdgl.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_choice, require_finite, require_int, require_non_negative, require_positive

__all__ = [
    "LGDParameters",
    "LandauGinzburg2D",
    "DEFAULT_DT",
    "PBTIO3",
    "VARIANTS",
    "polarization_variants",
    "domain_labels",
    "wall_pair_counts",
    "domain_walls",
]

#: Default reduced time step of :meth:`LandauGinzburg2D.relax` (below ``stable_dt`` for PbTiO3).
DEFAULT_DT = 0.1

#: Names of the four in-plane polarization variants, in the order of their indices.
VARIANTS: tuple[str, ...] = ("+x", "-x", "+y", "-y")

_DIRECTIONS = {"+x": (1.0, 0.0), "-x": (-1.0, 0.0), "+y": (0.0, 1.0), "-y": (0.0, -1.0)}


@dataclass(frozen=True)
class LGDParameters:
    """Landau–Ginzburg–Devonshire parameters; the defaults are PbTiO3 (PHYSICS.md).

    Parameters
    ----------
    temperature
        Temperature [°C]; must be below ``curie_temperature``.
    wall_width
        Full width of a relaxed 180° wall by the tangent construction [nm]; sets the gradient
        coefficient G (see the module docstring). About 1 nm for PbTiO3 *(est.)*.
    grid_spacing
        Grid spacing of the solver [nm]; the builder uses the lattice constant, 0.390 nm.
    alpha1_slope
        dα1/dT [C⁻²m²N K⁻¹]; α1 = alpha1_slope · (T − curie_temperature).
    curie_temperature
        Temperature at which α1 changes sign [°C].
    alpha11, alpha12
        Fourth-order coefficients [C⁻⁴m⁶N].
    alpha111, alpha112
        Sixth-order coefficients [C⁻⁶m¹⁰N]; ``alpha111`` must be positive so that f is bounded.

    Raises
    ------
    ConfigurationError
        For a temperature at or above the Curie point (no ferroelectric state), a non-positive
        wall width or grid spacing, or coefficients for which f has no bounded minimum.
    """

    temperature: float = 25.0
    wall_width: float = 1.0
    grid_spacing: float = 0.390
    alpha1_slope: float = 3.8e5
    curie_temperature: float = 479.0
    alpha11: float = -7.3e7
    alpha12: float = 7.5e8
    alpha111: float = 2.6e8
    alpha112: float = 6.1e8

    def __post_init__(self) -> None:
        for name, units in (
            ("alpha11", "C⁻⁴m⁶N"),
            ("alpha12", "C⁻⁴m⁶N"),
            ("alpha112", "C⁻⁶m¹⁰N"),
            ("curie_temperature", "°C"),
        ):
            object.__setattr__(self, name, require_finite(name, getattr(self, name), units))
        temperature = require_finite("temperature", self.temperature, "°C")
        if temperature >= self.curie_temperature:
            raise ConfigurationError(
                f"`temperature` must be below the Curie temperature {self.curie_temperature} [°C], got "
                f"{self.temperature!r}: at or above it α1 ≥ 0 and there is no ferroelectric state. "
                "Lower the temperature."
            )
        object.__setattr__(self, "temperature", temperature)
        object.__setattr__(self, "wall_width", require_positive("wall_width", self.wall_width, "nm"))
        object.__setattr__(self, "grid_spacing", require_positive("grid_spacing", self.grid_spacing, "nm"))
        object.__setattr__(self, "alpha1_slope", require_positive("alpha1_slope", self.alpha1_slope, "C⁻²m²N K⁻¹"))
        object.__setattr__(self, "alpha111", require_positive("alpha111", self.alpha111, "C⁻⁶m¹⁰N"))

    # -- derived quantities ----------------------------------------------------------------------
    @property
    def alpha1(self) -> float:
        """α1 at ``temperature`` [C⁻²m²N] (negative: the ferroelectric phase)."""
        return self.alpha1_slope * (self.temperature - self.curie_temperature)

    @property
    def Ps(self) -> float:  # noqa: N802 (the physics symbol)
        """Spontaneous polarization [C/m²]: the minimum of f for uniform P along ⟨10⟩."""
        a1, a11, a111 = self.alpha1, self.alpha11, self.alpha111
        # ∂f/∂P = 2α1 P + 4α11 P³ + 6α111 P⁵ = 0  →  P² = [−2α11 + √(4α11² − 12 α1 α111)] / (6 α111)
        p2 = (-2.0 * a11 + math.sqrt(4.0 * a11**2 - 12.0 * a1 * a111)) / (6.0 * a111)
        return math.sqrt(p2)

    @property
    def energy_density_scale(self) -> float:
        """|α1| Ps², the unit of the reduced free-energy density [J/m³]."""
        return abs(self.alpha1) * self.Ps**2

    @property
    def field_scale(self) -> float:
        """|α1| Ps, the unit of the reduced field Ẽ = E / field_scale [V/m]."""
        return abs(self.alpha1) * self.Ps

    @property
    def reduced_coefficients(self) -> tuple[float, float, float, float, float]:
        """(ã1, ã11, ã12, ã111, ã112) of the reduced energy density; ã1 = −1."""
        s, p2 = abs(self.alpha1), self.Ps**2
        return (
            self.alpha1 / s,
            self.alpha11 * p2 / s,
            self.alpha12 * p2 / s,
            self.alpha111 * p2**2 / s,
            self.alpha112 * p2**2 / s,
        )

    @property
    def reduced_minimum_energy(self) -> float:
        """f̃min = f(Ps)/(|α1|Ps²) of the uniform ⟨10⟩ state (negative)."""
        a1, a11, _, a111, _ = self.reduced_coefficients
        return a1 + a11 + a111

    @property
    def xi(self) -> float:
        """Length unit ξ = √(G/|α1|) [nm]; ξ = w √(−f̃min/2) for the wall width w."""
        return self.wall_width * math.sqrt(-self.reduced_minimum_energy / 2.0)

    @property
    def gradient_coefficient(self) -> float:
        """G [C⁻²m⁴N] implied by the wall width."""
        return (self.xi * 1e-9) ** 2 * abs(self.alpha1)

    @property
    def reduced_grid_spacing(self) -> float:
        """Grid spacing in units of ξ."""
        return self.grid_spacing / self.xi

    def time_scale(self, gamma: float) -> float:
        """Physical time of one reduced time unit, 1/(Γ|α1|) [s], for the kinetic coefficient Γ [S/m]."""
        gamma = require_positive("gamma", gamma, "S/m")
        return 1.0 / (gamma * abs(self.alpha1))


#: PbTiO3 at 25 °C with a 1 nm wall on the 0.390 nm lattice (the defaults of :class:`LGDParameters`).
PBTIO3 = LGDParameters()


def _as_shape(shape: Any) -> tuple[int, int]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape, shape)
    if not hasattr(shape, "__len__") or len(shape) != 2:
        raise ConfigurationError(f"`shape` must be a pair of integers (nx, ny), got {shape!r}.")
    return (require_int("shape[0]", shape[0], minimum=1), require_int("shape[1]", shape[1], minimum=1))


class LandauGinzburg2D:
    """TDGL solver for the in-plane polarization on a periodic (nx, ny) grid, in reduced units.

    Parameters
    ----------
    params
        Material and grid parameters; ``None`` for PbTiO3 at 25 °C (:class:`LGDParameters`).
    shape
        Grid size (nx, ny), or one integer for a square grid.

    Attributes
    ----------
    params : LGDParameters
    shape : tuple of int
        (nx, ny).
    h : float
        Grid spacing in units of ξ.
    stable_dt : float
        2/L, with L the largest curvature of the local energy over |P̃| ≤ 1.05: steps up to this
        length lower F̃ at every step (0.101 for PbTiO3 at 25 °C).

    Notes
    -----
    Polarization and field arrays are ndarrays of shape (nx, ny, 2) indexed (x, y), holding the
    reduced P̃ = P/Ps and Ẽ = E/field_scale. A field may also be a constant pair (Ẽx, Ẽy).
    Times and steps are reduced (t̃ = tΓ|α1|); see the module docstring.
    """

    def __init__(self, params: LGDParameters | None = None, shape: Any = (64, 64)) -> None:
        if params is None:
            params = LGDParameters()
        if not isinstance(params, LGDParameters):
            raise ConfigurationError(f"`params` must be an LGDParameters, got {type(params).__name__}.")
        self.params = params
        self.shape = _as_shape(shape)
        self.h = params.reduced_grid_spacing
        self._a1, self._a11, self._a12, self._a111, self._a112 = params.reduced_coefficients
        nx, ny = self.shape
        sx = np.sin(np.pi * np.fft.fftfreq(nx)) ** 2
        sy = np.sin(np.pi * np.fft.rfftfreq(ny)) ** 2
        #: Symbol of −∇² (five-point) on the rfft grid, shape (nx, ny//2 + 1).
        self._symbol = (4.0 / self.h**2) * (sx[:, None] + sy[None, :])
        self._cached_dt: float | None = None
        self._denominator: np.ndarray | None = None
        self.stable_dt = 2.0 / self._max_local_curvature(1.05)

    # -- units -----------------------------------------------------------------------------------
    @property
    def Ps(self) -> float:  # noqa: N802
        """Spontaneous polarization [C/m²]; P = P̃ · Ps."""
        return self.params.Ps

    @property
    def area(self) -> float:
        """Reduced area of one grid cell, h̃²."""
        return self.h**2

    def to_physical(self, P: np.ndarray) -> np.ndarray:  # noqa: N803
        """Reduced P̃ → polarization [C/m²]."""
        return np.asarray(P, dtype=float) * self.Ps

    def from_physical(self, P: np.ndarray) -> np.ndarray:  # noqa: N803
        """Polarization [C/m²] → reduced P̃."""
        return np.asarray(P, dtype=float) / self.Ps

    def reduce_field(self, E: Any) -> np.ndarray:  # noqa: N803
        """Field [V/m] (pair or (nx, ny, 2)) → reduced Ẽ."""
        return np.asarray(E, dtype=float) / self.params.field_scale

    # -- validation of arrays --------------------------------------------------------------------
    def _state(self, P: Any, name: str = "P") -> np.ndarray:  # noqa: N803
        arr = np.asarray(P, dtype=float)
        if arr.shape != (*self.shape, 2):
            raise ConfigurationError(
                f"`{name}` must be an ndarray of shape {(*self.shape, 2)} (nx, ny, 2) [P/Ps], got {arr.shape}."
            )
        return arr

    def _field(self, E: Any) -> np.ndarray | None:  # noqa: N803
        if E is None:
            return None
        arr = np.asarray(E, dtype=float)
        if arr.shape == (2,):
            return arr
        if arr.shape != (*self.shape, 2):
            raise ConfigurationError(
                f"`E` must be a pair (Ex, Ey) or an ndarray of shape {(*self.shape, 2)} [reduced field, "
                f"E/field_scale], got shape {arr.shape}."
            )
        return arr

    # -- energy ----------------------------------------------------------------------------------
    def _local_energy(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        x2, y2 = px * px, py * py
        return (
            self._a1 * (x2 + y2)
            + self._a11 * (x2 * x2 + y2 * y2)
            + self._a12 * x2 * y2
            + self._a111 * (x2**3 + y2**3)
            + self._a112 * x2 * y2 * (x2 + y2)
        )

    def _local_force(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂f̃_local/∂P̃ for both components."""
        x2, y2 = px * px, py * py
        a1, a11, a12, a111, a112 = self._a1, self._a11, self._a12, self._a111, self._a112
        common = 2.0 * a1 + 4.0 * a112 * x2 * y2
        gx = px * (common + 4.0 * a11 * x2 + 2.0 * a12 * y2 + 6.0 * a111 * x2 * x2 + 2.0 * a112 * y2 * y2)
        gy = py * (common + 4.0 * a11 * y2 + 2.0 * a12 * x2 + 6.0 * a111 * y2 * y2 + 2.0 * a112 * x2 * x2)
        return gx, gy

    def _max_local_curvature(self, radius: float) -> float:
        r = np.linspace(0.0, radius, 211)
        theta = np.linspace(0.0, np.pi / 2, 181)
        rr, tt = np.meshgrid(r, theta, indexing="ij")
        px, py = rr * np.cos(tt), rr * np.sin(tt)
        x2, y2 = px * px, py * py
        a1, a11, a12, a111, a112 = self._a1, self._a11, self._a12, self._a111, self._a112
        hxx = 2 * a1 + 12 * a11 * x2 + 2 * a12 * y2 + 30 * a111 * x2 * x2 + a112 * (12 * x2 * y2 + 2 * y2 * y2)
        hyy = 2 * a1 + 12 * a11 * y2 + 2 * a12 * x2 + 30 * a111 * y2 * y2 + a112 * (12 * x2 * y2 + 2 * x2 * x2)
        hxy = 4 * px * py * (a12 + 2 * a112 * (x2 + y2))
        top = 0.5 * (hxx + hyy) + np.sqrt(0.25 * (hxx - hyy) ** 2 + hxy**2)
        return float(max(top.max(), 1e-12))

    def free_energy_density(self, P: np.ndarray, E: Any = None) -> np.ndarray:  # noqa: N803
        """Reduced free-energy density f̃ per grid cell, ndarray of shape (nx, ny).

        The gradient energy of a cell is ½ Σ over its +x and +y bonds of |ΔP̃|²/h̃², so
        ``free_energy_density(P).sum() * area == free_energy(P)``.
        """
        P = self._state(P)
        px, py = P[..., 0], P[..., 1]
        f = self._local_energy(px, py)
        for axis in (0, 1):
            d = np.roll(P, -1, axis=axis) - P
            f = f + 0.5 * (d * d).sum(axis=-1) / self.h**2
        field = self._field(E)
        if field is not None:
            f = f - (P * field).sum(axis=-1)
        return f

    def free_energy(self, P: np.ndarray, E: Any = None) -> float:  # noqa: N803
        """Reduced free energy F̃ = Σ f̃ h̃² (per unit thickness, in units of |α1|Ps²ξ²)."""
        return float(self.free_energy_density(P, E).sum() * self.area)

    def laplacian(self, P: np.ndarray) -> np.ndarray:  # noqa: N803
        """Five-point periodic Laplacian ∇̃²P̃, ndarray of shape (nx, ny, 2)."""
        P = self._state(P)
        out = -4.0 * P
        for axis in (0, 1):
            out += np.roll(P, 1, axis=axis) + np.roll(P, -1, axis=axis)
        return out / self.h**2

    def variational_derivative(self, P: np.ndarray, E: Any = None) -> np.ndarray:  # noqa: N803
        """δF̃/δP̃ = ∂f̃_local/∂P̃ − ∇̃²P̃ − Ẽ, ndarray of shape (nx, ny, 2)."""
        P = self._state(P)
        gx, gy = self._local_force(P[..., 0], P[..., 1])
        out = np.stack([gx, gy], axis=-1) - self.laplacian(P)
        field = self._field(E)
        if field is not None:
            out = out - field
        return out

    # -- time stepping ---------------------------------------------------------------------------
    def _denominator_for(self, dt: float) -> np.ndarray:
        if self._cached_dt != dt or self._denominator is None:
            self._denominator = 1.0 / (1.0 + dt * self._symbol)
            self._cached_dt = dt
        return self._denominator

    def step(self, P: np.ndarray, dt: float = DEFAULT_DT, E: Any = None) -> np.ndarray:  # noqa: N803
        """Advance P̃ by one semi-implicit spectral step of reduced length ``dt``.

        Energy decrease is guaranteed for ``dt <= stable_dt`` (while |P̃| ≲ 1.05).

        Returns
        -------
        ndarray of shape (nx, ny, 2)
            The new state (a new array; ``P`` is not modified).
        """
        P = self._state(P)
        dt = require_positive("dt", dt, "reduced time")
        return self._step(P, dt, self._field(E))

    def _step(self, P: np.ndarray, dt: float, field: np.ndarray | None) -> np.ndarray:  # noqa: N803
        px, py = P[..., 0], P[..., 1]
        gx, gy = self._local_force(px, py)
        rhs = np.empty((2, *self.shape))
        rhs[0] = px - dt * gx
        rhs[1] = py - dt * gy
        if field is not None:
            rhs += dt * np.moveaxis(field, -1, 0) if field.ndim == 3 else dt * field[:, None, None]
        spectrum = np.fft.rfft2(rhs, axes=(1, 2))
        spectrum *= self._denominator_for(dt)
        out = np.fft.irfft2(spectrum, s=self.shape, axes=(1, 2))
        return np.moveaxis(out, 0, -1)

    def relax(
        self,
        P: np.ndarray,  # noqa: N803
        steps: int,
        dt: float = DEFAULT_DT,
        E: Any = None,  # noqa: N803
        callback: Callable[[int, np.ndarray], Any] | None = None,
    ) -> np.ndarray:
        """Run ``steps`` steps of length ``dt`` from ``P``.

        Parameters
        ----------
        P
            Start state, ndarray of shape (nx, ny, 2) [P/Ps].
        steps
            Number of steps (>= 0).
        dt
            Reduced time step; see ``stable_dt``.
        E
            Reduced field, constant over the run: None, a pair, or an ndarray of shape (nx, ny, 2).
        callback
            Called as ``callback(i, P)`` after step i (1-based) with the current state; a truthy
            return value stops the run early.

        Returns
        -------
        ndarray of shape (nx, ny, 2)
            The final state.
        """
        P = self._state(P)
        steps = require_int("steps", steps, minimum=0)
        dt = require_positive("dt", dt, "reduced time")
        field = self._field(E)
        for i in range(1, steps + 1):
            P = self._step(P, dt, field)
            if callback is not None and callback(i, P):
                break
        return P

    # -- initial states --------------------------------------------------------------------------
    def random_state(self, rng: RNGLike = None, amplitude: float = 0.05) -> np.ndarray:
        """Gaussian noise of standard deviation ``amplitude`` [P/Ps] on both components (a quench)."""
        rng = as_generator(rng)
        amplitude = require_non_negative("amplitude", amplitude, "P/Ps")
        return amplitude * rng.standard_normal((*self.shape, 2))

    def uniform_state(self, direction: Any = "+x", magnitude: float = 1.0) -> np.ndarray:
        """Uniform P̃ of length ``magnitude`` [P/Ps] along ``direction`` ('+x', '-x', '+y', '-y' or a vector)."""
        magnitude = require_non_negative("magnitude", magnitude, "P/Ps")
        if isinstance(direction, str):
            vec = np.array(_DIRECTIONS[require_choice("direction", direction, _DIRECTIONS)])
        else:
            vec = np.asarray(direction, dtype=float)
            norm = float(np.linalg.norm(vec)) if vec.shape == (2,) else 0.0
            if vec.shape != (2,) or not np.isfinite(norm) or norm == 0:
                raise ConfigurationError(
                    f"`direction` must be '+x', '-x', '+y', '-y' or a non-zero 2-vector, got {direction!r}."
                )
            vec = vec / norm
        return np.broadcast_to(magnitude * vec, (*self.shape, 2)).copy()

    def stripe_state(self, n_domains: int = 2, axis: str = "x") -> np.ndarray:
        """180° stripe domains: P̃ = ±1 along ``axis``, alternating across the other axis.

        The walls are neutral (their normal is perpendicular to P): for ``axis='x'`` the stripes
        are bands of constant y. The walls are seeded site-centred, with P̃ = 0 on the grid line
        k·n // n_domains (k = 0 … n_domains − 1, n the grid size across the stripes), which is the
        registry a wall two or three cells wide relaxes to; equal stripes then hold each wall
        between equal and opposite pulls. ``n_domains`` must be even (the grid is periodic) and
        at most n/2.
        """
        require_choice("axis", axis, ("x", "y"))
        across = 1 if axis == "x" else 0
        n = self.shape[across]
        n_domains = require_int("n_domains", n_domains, minimum=2)
        if n_domains % 2 or 2 * n_domains > n:
            raise ConfigurationError(
                f"`n_domains` must be even and at most half the grid size across the stripes ({n}), "
                f"got {n_domains}."
            )
        walls = (np.arange(n_domains) * n) // n_domains
        index = np.arange(n)
        domain = np.searchsorted(walls, index, side="right") - 1
        sign = np.where(domain % 2 == 0, 1.0, -1.0)
        sign[walls] = 0.0
        P = np.zeros((*self.shape, 2))
        component = 0 if axis == "x" else 1
        P[..., component] = sign[None, :] if across == 1 else sign[:, None]
        return P


# -- domain analysis -----------------------------------------------------------------------------
def polarization_variants(P: np.ndarray) -> np.ndarray:  # noqa: N803
    """Variant index per cell (see ``VARIANTS``: 0 '+x', 1 '-x', 2 '+y', 3 '-y').

    The variant is the sign of the dominant component (|Px| ≥ |Py| counts as x).
    """
    P = np.asarray(P, dtype=float)
    if P.ndim != 3 or P.shape[-1] != 2:
        raise ConfigurationError(f"`P` must be an ndarray of shape (nx, ny, 2), got {P.shape}.")
    px, py = P[..., 0], P[..., 1]
    along_x = np.abs(px) >= np.abs(py)
    return np.where(along_x, np.where(px >= 0, 0, 1), np.where(py >= 0, 2, 3)).astype(np.int64)


def _periodic_components(variant: np.ndarray) -> np.ndarray:
    """Connected regions of equal variant (4-connectivity, periodic), numbered in raster order."""
    nx, ny = variant.shape
    labels = np.zeros(variant.shape, dtype=np.int64)
    offset = 0
    for v in np.unique(variant):
        lab, n = ndimage.label(variant == v)
        labels[lab > 0] = lab[lab > 0] + offset - 1
        offset += n
    # Merge the regions that touch across the periodic boundaries.
    a = np.concatenate([labels[-1, :], labels[:, -1]])
    b = np.concatenate([labels[0, :], labels[:, 0]])
    same = np.concatenate([variant[-1, :] == variant[0, :], variant[:, -1] == variant[:, 0]])
    graph = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(offset, offset))
    _, root = connected_components(graph, directed=False)
    merged = root[labels]
    # Renumber 0..n-1 in order of first appearance (raster order over (x, y)).
    _, first, inverse = np.unique(merged.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].reshape(nx, ny)


def domain_labels(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """Label the domains of a polarization state and the distance of each cell to the nearest wall.

    Parameters
    ----------
    P
        Polarization, ndarray of shape (nx, ny, 2), reduced or physical (only directions count).

    Returns
    -------
    domain_id : ndarray of shape (nx, ny) of int
        Domains are connected regions (4-connectivity, across the periodic boundaries) of one
        variant (:func:`polarization_variants`), numbered 0, 1, … in raster order of first cell.
    wall_distance : ndarray of shape (nx, ny) of float [grid units]
        Distance from the cell centre to the nearest wall, periodic: the Euclidean distance
        (``scipy.ndimage.distance_transform_edt``) to the nearest cell of another variant, less
        half a cell, so that a wall lies midway between the cells it separates and a cell next to a
        wall is at 0.5. Multiply by the grid spacing for a length. ``inf`` everywhere for a
        single-domain state.
    """
    variant = polarization_variants(P)
    domain_id = _periodic_components(variant)
    nx, ny = variant.shape
    distance = np.full(variant.shape, np.inf)
    if np.unique(variant).size > 1:
        tiled = np.tile(variant, (3, 3))  # exact minimum-image distances for a periodic grid
        for v in np.unique(variant):
            d = ndimage.distance_transform_edt(tiled == v)[nx : 2 * nx, ny : 2 * ny]
            mask = variant == v
            distance[mask] = d[mask] - 0.5
    return domain_id, distance


def wall_pair_counts(P: np.ndarray) -> dict[int, int]:  # noqa: N803
    """Number of neighbouring cell pairs (4-connectivity, periodic) across 90° and 180° walls.

    Returns
    -------
    dict
        ``{90: n_perpendicular_pairs, 180: n_antiparallel_pairs}``.
    """
    variant = polarization_variants(P)
    axis_of = variant // 2  # 0 for ±x, 1 for ±y
    counts = {90: 0, 180: 0}
    for ax in (0, 1):
        other = np.roll(variant, -1, axis=ax)
        differ = other != variant
        perpendicular = differ & (np.roll(axis_of, -1, axis=ax) != axis_of)
        counts[90] += int(perpendicular.sum())
        counts[180] += int((differ & ~perpendicular).sum())
    return counts


def domain_walls(P: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:  # noqa: N803
    """The walls between neighbouring domains.

    Returns
    -------
    dict
        ``{(domain_a, domain_b): (angle, n_bonds)}`` with ``domain_a < domain_b`` (ids of
        :func:`domain_labels`), ``angle`` 90 or 180 [°] between the two variants, and ``n_bonds``
        the number of neighbouring cell pairs (4-connectivity, periodic) across the wall, a
        measure of its length [grid units].
    """
    domain_id, _ = domain_labels(P)
    variant = polarization_variants(P)
    a_list, b_list, angle_list = [], [], []
    for ax in (0, 1):
        other_id = np.roll(domain_id, -1, axis=ax)
        other_variant = np.roll(variant, -1, axis=ax)
        cross = other_id != domain_id
        a_list.append(np.minimum(domain_id, other_id)[cross])
        b_list.append(np.maximum(domain_id, other_id)[cross])
        angle_list.append(np.where(variant[cross] // 2 == other_variant[cross] // 2, 180, 90))
    if not a_list or sum(len(a) for a in a_list) == 0:
        return {}
    keys = np.stack([np.concatenate(a_list), np.concatenate(b_list), np.concatenate(angle_list)], axis=1)
    unique, counts = np.unique(keys, axis=0, return_counts=True)
    return {(int(a), int(b)): (int(angle), int(n)) for (a, b, angle), n in zip(unique, counts, strict=True)}
