"""The arrays of one generated sample: names, shapes, dtypes, dimension names and attributes.

:func:`array_layout` is the contract between the synthesiser (:mod:`.synth`), which returns exactly
these arrays for every sample, and the store writer, which stacks them along a leading ``sample``
axis.

Conventions (those of the twin): image arrays are indexed ``(x, y)``, x being the fast scan axis;
scan pixel ``(i, j)`` is the probe sent to ``fov_origin + (i, j)·fov/pixels`` [Å]. Vector fields put
their component first: ``(2, x, y)`` holding the (x, y) components.

Per modality (``P`` = ``[instrument].pixels``):

==============  ==========================================  ======================================
modality        signal arrays                               noise-free label (``noise_free``)
==============  ==========================================  ======================================
haadf, abf      ``image`` (P, P) float32 counts             ``noise_free`` (P, P)
eels            ``spectrum_image`` (P, P, channels) counts  ``noise_free`` (P, P, channels)
4dstem patterns ``patterns`` (P, P, K, K) float32 counts    ``noise_free`` (P, P, K, K)
4dstem derived  ``com`` (2, P, P) [mrad], ``virtual_bf``,    ``noise_free_com``,
                ``virtual_adf`` (P, P) counts               ``noise_free_virtual_bf``, ``…_adf``
==============  ==========================================  ======================================

Labels (when stored): ``mask`` (P, P) uint8, ``distortion`` (2, P, P) float32 [Å],
``polarization`` (2, P, P) float32 [C/m²], the atom table ``atom_xy`` (A, 2) float32,
``atom_class`` (A,) int16, ``atom_z`` (A,) uint8, ``atom_count`` () int32, with A =
:func:`max_atoms`. Always stored: the per-sample draws ``dose``, ``dwell_time``, ``current``,
``electrons_per_position``, ``distortion_scale``, ``read_noise``, ``fov_origin`` (2,), ``cell_extent``
(2,), ``structure_index`` and ``param_<name>`` for every ``[sample.ranges]`` entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..samples import FERROELECTRIC_SITE_CLASSES, GRAPHENE_SITE_CLASSES, MOS2_RES2_SITE_CLASSES
from ..samples.ferroelectric import PEROVSKITE_A
from ..samples.graphene import GRAPHENE_LATTICE_CONSTANT
from ..samples.mos2_res2 import MOS2_LATTICE_CONSTANT
from ..spectrometer import Spectrometer
from .spec import DatasetSpec

__all__ = ["ArraySpec", "array_layout", "max_atoms", "site_classes", "AREAL_DENSITY", "MASK_BACKGROUND", "DISTORTION_QUANTUM", "COUNT_KEEPBITS"]

#: Projected atoms per area of each family's ideal lattice [Å⁻²] (defects only remove atoms or
#: replace two by one, so these bound the real densities).
AREAL_DENSITY: dict[str, float] = {
    "graphene": 4.0 / (GRAPHENE_LATTICE_CONSTANT * GRAPHENE_LATTICE_CONSTANT * math.sqrt(3.0)),
    "mos2-res2": 3.0 / (MOS2_LATTICE_CONSTANT**2 * math.sqrt(3.0) / 2.0),
    "ferroelectric": 5.0 / PEROVSKITE_A**2,
}
#: Site-class names per family, in the builders' index order.
SITE_CLASSES: dict[str, tuple[str, ...]] = {
    "graphene": GRAPHENE_SITE_CLASSES,
    "mos2-res2": MOS2_RES2_SITE_CLASSES,
    "ferroelectric": FERROELECTRIC_SITE_CLASSES,
}
#: Mask value of pixels that are not within ``mask_radius`` of any atom.
MASK_BACKGROUND = 0
#: Step of the stored distortion label, 2⁻¹⁰ Å ≈ 0.001 Å (0.1 pm; the best STEM position measurements
#: reach ~1 pm): the rounding leaves the low mantissa bits zero, so the label compresses 3.9× (2.2× at full precision).
DISTORTION_QUANTUM = 2.0**-10
#: Significant bits kept of the float32 counts (recorded and expected), as numcodecs' ``BitRound``
#: (Klöwer et al., Nat. Comput. Sci. 1, 713 (2021)) rounds them: a relative error ≤ 2⁻¹³ ≈ 1.2·10⁻⁴,
#: below the shot noise (√N of N counts) for any N < 6.7·10⁷, and integers below 8192 stay exact. The
#: zeroed low mantissa bits make the 256² HAADF frames compress 1.7× instead of 1.1×.
COUNT_KEEPBITS = 12


@dataclass(frozen=True)
class ArraySpec:
    """One per-sample array of the layout.

    Attributes
    ----------
    shape
        Shape of one sample's array (without the leading sample axis).
    dtype
        NumPy dtype name.
    dims
        Names of the per-sample axes (``len(dims) == len(shape)``).
    attrs
        JSON-serialisable attributes: at least ``units`` and ``description``.
    """

    shape: tuple[int, ...]
    dtype: str
    dims: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    def empty(self) -> np.ndarray:
        """A zero (or padding) array of this spec (padding: NaN for floats)."""
        return np.zeros(self.shape, dtype=self.dtype)


def site_classes(family: str) -> tuple[str, ...]:
    """Site-class names of a family (``atom_class`` indexes them; ``mask`` = class + 1)."""
    return SITE_CLASSES[family]


def max_atoms(spec: DatasetSpec) -> int:
    """Rows of the padded atom table: a safe bound on the atoms that can appear in one frame.

    The areal density of the family's ideal lattice × the scanned area (the field of view plus a pixel
    and 3 Å on each side, enlarged by the scale errors of the largest distortion multiplier, 3 % per
    unit along the slow axis and 0.8 % along the fast one, and the flyback) × 1.2, plus 8.
    :func:`~.synth.generate_sample` raises if a frame ever holds more.
    """
    s = spec.distortion[1]
    step = spec.fov / spec.pixels
    side = spec.fov + 2.0 * step + 6.0
    area = side * side * (1.0 + 0.03 * s) * (1.0 + 0.008 * s) + side * (4.0 * s * step + 0.1 * spec.fov * s)
    return int(math.ceil(AREAL_DENSITY[spec.family] * area * 1.2)) + 8


def _scalar(units: str, description: str, dtype: str = "float64") -> ArraySpec:
    return ArraySpec((), dtype, (), {"units": units, "description": description})


def array_layout(spec: DatasetSpec) -> dict[str, ArraySpec]:
    """The arrays :func:`~.synth.generate_sample` returns for ``spec``, in a stable order."""
    p = spec.pixels
    xy = ("x", "y")
    out: dict[str, ArraySpec] = {}
    image_note = "axis 0 is x (fast scan axis), axis 1 is y"
    mod = spec.modality
    if mod in ("haadf", "abf"):
        out["image"] = ArraySpec(
            (p, p), "float32", xy, {"units": "counts", "keepbits": COUNT_KEEPBITS, "description": f"{mod.upper()} detector counts; {image_note}"}
        )
        if spec.store("noise_free"):
            out["noise_free"] = ArraySpec(
                (p, p), "float32", xy, {"units": "counts", "keepbits": COUNT_KEEPBITS, "description": "expected counts (electrons × collected fraction) at the real probe positions"}
            )
    elif mod == "eels":
        sm = spec.spectrometer
        energy = Spectrometer(
            dispersion=sm["dispersion"], offset=sm["offset"], channels=int(sm["channels"]), energy_resolution=sm["energy_resolution"]
        ).energy_axis
        shape = (p, p, int(sm["channels"]))
        attrs = {"units": "counts", "keepbits": COUNT_KEEPBITS, "energy": [float(e) for e in energy], "energy_units": "eV"}
        out["spectrum_image"] = ArraySpec(
            shape, "float32", (*xy, "energy"), {**attrs, "description": f"EELS counts per channel; {image_note}"}
        )
        if spec.store("noise_free"):
            out["noise_free"] = ArraySpec(shape, "float32", (*xy, "energy"), {**attrs, "description": "expected counts per channel"})
    else:
        k = spec.camera_pixels
        camera = {"angular_sampling": spec.camera_sampling, "angular_units": "mrad", "camera_pixels": k}
        if spec.output == "patterns":
            shape = (p, p, k, k)
            dims = (*xy, "kx", "ky")
            out["patterns"] = ArraySpec(
                shape, "float32", dims, {"units": "counts", "keepbits": COUNT_KEEPBITS, **camera, "description": "diffraction patterns; beam on camera pixel K//2"}
            )
            if spec.store("noise_free"):
                out["noise_free"] = ArraySpec(shape, "float32", dims, {"units": "counts", "keepbits": COUNT_KEEPBITS, **camera, "description": "expected counts"})
        else:
            alpha = spec.semiangle_cutoff
            edge = k / 2 * spec.camera_sampling
            derived = {
                "com": ArraySpec(
                    (2, p, p), "float32", ("component", *xy), {"units": "mrad", "description": "centre of mass (θx, θy) of the recorded patterns"}
                ),
                "virtual_bf": ArraySpec(
                    (p, p), "float32", xy, {"units": "counts", "inner": 0.0, "outer": alpha, "description": "virtual bright field (0–α)"}
                ),
                "virtual_adf": ArraySpec(
                    (p, p), "float32", xy, {"units": "counts", "inner": alpha, "outer": edge, "description": "virtual annular dark field (α–camera edge)"}
                ),
            }
            out.update(derived)
            if spec.store("noise_free"):
                for name, a in derived.items():
                    out[f"noise_free_{name}"] = ArraySpec(a.shape, a.dtype, a.dims, {**a.attrs, "description": f"{name} without noise"})
    if spec.store("distortion"):
        out["distortion"] = ArraySpec(
            (2, p, p), "float32", ("component", *xy), {"units": "Å", "description": "actual minus nominal probe position (dx, dy), in steps of `quantum` [Å]", "quantum": DISTORTION_QUANTUM}
        )
    classes = site_classes(spec.family)
    if spec.store("masks"):
        out["mask"] = ArraySpec(
            (p, p),
            "uint8",
            xy,
            {
                "units": "class",
                "classes": ["background", *classes],
                "radius": spec.mask_radius,
                "description": "site class + 1 of the nearest atom within `radius` [Å] of the real probe position; 0 elsewhere",
            },
        )
    if spec.store("polarization"):
        out["polarization"] = ArraySpec(
            (2, p, p), "float32", ("component", *xy), {"units": "C/m²", "description": "polarization (Px, Py) of the unit cell under the real probe position"}
        )
    if spec.store("atoms"):
        n = max_atoms(spec)
        out["atom_xy"] = ArraySpec(
            (n, 2),
            "float32",
            ("atom", "coord"),
            {
                "units": "pixels",
                "description": "apparent position (axis 0, axis 1) in the recorded image, scan distortions included; NaN padding",
            },
        )
        out["atom_class"] = ArraySpec((n,), "int16", ("atom",), {"units": "class", "classes": list(classes), "description": "site class; -1 padding"})
        out["atom_z"] = ArraySpec((n,), "uint8", ("atom",), {"units": "atomic number", "description": "atomic number; 0 padding"})
        out["atom_count"] = ArraySpec((), "int32", (), {"units": "atoms", "description": "rows of the atom table in use"})
    out["dose"] = _scalar("e⁻/Å²", "dose per area of the frame")
    out["dwell_time"] = _scalar("s", "dwell time per probe position")
    out["current"] = _scalar("pA", "probe current (from dose and dwell time)")
    out["electrons_per_position"] = _scalar("e⁻", "mean electrons per probe position")
    out["distortion_scale"] = _scalar("× ScanNoise.typical()", "scan-distortion multiplier (0: ideal scan)")
    out["read_noise"] = _scalar("counts", "Gaussian read-noise standard deviation")
    out["fov_origin"] = ArraySpec((2,), "float64", ("coord",), {"units": "Å", "description": "nominal position (x, y) of scan pixel (0, 0) in the cell"})
    out["cell_extent"] = ArraySpec((2,), "float64", ("coord",), {"units": "Å", "description": "size (x, y) of the periodic sample cell"})
    out["structure_index"] = _scalar("", "index of the built structure (sample index // frames_per_structure)", "int64")
    for name in sorted(spec.ranges):
        note = " (the side of a square cell)" if name == "extent" else ""
        out[f"param_{name}"] = _scalar("", f"builder parameter {name!r}{note} drawn from {list(spec.ranges[name])}")
    return out
