"""``stemtwin show``: an at-a-glance figure of a sample, what the microscope records, and the truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stemtwin.twin import Microscope, Optics, Sample, ScanNoise, Spectrometer, build_sample  # noqa: E402
from stemtwin.twin.observations import CenterOfMassMap, Image, Spectrum  # noqa: E402

__all__ = ["ShowSettings", "ShowPreset", "PRESETS", "MODALITIES", "default_sample", "overview_figure"]

#: What ``--modality`` selects: the panels drawn besides the ground truth and the HAADF frame.
MODALITIES = ("all", "eels", "4dstem")

#: Colours of site classes, by name; anything else cycles through the default colours.
CLASS_COLOURS = {
    "C_pristine": "#b0b0b0",
    "C_bonded_Si": "#1f77b4",
    "Si_3fold": "#d62728",
    "Si_4fold": "#ff7f0e",
    "C_vacancy_edge": "#2ca02c",
    "Mo": "#1f77b4",
    "Re": "#d62728",
    "S2": "#e0c000",
    "S1": "#8c564b",
    "Pb": "#555555",
    "Ti": "#1f77b4",
    "O_apical": "#d62728",
    "O_equatorial": "#ff9896",
    "atom": "#555555",
}


@dataclass(frozen=True)
class ShowPreset:
    """Instrument settings and sites that suit one sample family.

    Parameters
    ----------
    optics
        Probe-forming optics.
    spectrometer
        Spectrometer covering the family's edges.
    sites
        Site classes whose spectra are drawn, in order.
    edge_window
        Energy window of the edge panel [eV].
    edge_title
        Title of the edge panel.
    parameters
        Builder parameters of the default sample.
    spectrum_dwell
        Exposure of each spectrum [s]; single-atom core-loss spectra need a long dwell.
    """

    optics: Optics
    spectrometer: Spectrometer
    sites: tuple[str, ...]
    edge_window: tuple[float, float]
    edge_title: str
    parameters: dict = field(default_factory=dict)
    spectrum_dwell: float = 0.5


#: Per-family presets: 2-D materials at 80 kV (below the C knock-on threshold), oxides at 200 kV.
PRESETS: dict[str, ShowPreset] = {
    "graphene": ShowPreset(
        Optics(energy=80e3, semiangle_cutoff=30),
        Spectrometer(),
        ("Si_3fold", "Si_4fold", "C_pristine"),
        (85.0, 140.0),
        "Si L2,3 (onset 99 eV)",
        {"extent": (30.0, 30.0), "n_si_3fold": 2, "n_si_4fold": 2, "n_monovacancies": 2, "n_divacancies": 1},
    ),
    "mos2-res2": ShowPreset(
        Optics(energy=80e3, semiangle_cutoff=30),
        Spectrometer(),
        ("Mo", "Re", "S2"),
        (150.0, 300.0),
        "S L2,3 (165 eV) and Mo M4,5 (227 eV)",
        {"extent": (30.0, 30.0), "re_fraction": 0.3, "w1": 1.0, "n_s_vacancies": 3},
    ),
    "ferroelectric": ShowPreset(
        Optics(energy=200e3, semiangle_cutoff=25),
        Spectrometer(offset=420.0, dispersion=0.1, channels=2048),
        ("Ti", "O_equatorial", "Pb"),
        (450.0, 475.0),
        "Ti L2,3 (t2g/eg)",
        {"extent": (39.0, 39.0), "initial": "stripes"},
        spectrum_dwell=5.0,  # the slab is one unit cell thick
    ),
}
_GENERIC = ShowPreset(Optics(), Spectrometer(), ("atom",), (-5.0, 330.0), "spectrum")


@dataclass(frozen=True)
class ShowSettings:
    """What ``stemtwin show`` acquires.

    Parameters
    ----------
    pixels
        Scan size of the HAADF frame.
    engine
        Signal engine name.
    modality
        ``"all"`` (EELS and 4D-STEM panels), ``"eels"`` or ``"4dstem"``.
    spectrum_binning
        Channels summed per plotted point in the spectrum panels.
    seed
        Seed of the sample and the microscope.
    """

    pixels: int = 256
    engine: str = "fast"
    modality: str = "all"
    spectrum_binning: int = 5
    seed: int = 0


def default_sample(name: str, seed: int) -> Sample:
    """The sample ``stemtwin show NAME`` draws, with the family's preset parameters."""
    preset = PRESETS.get(name)
    return build_sample(name, rng=seed, **(preset.parameters if preset else {}))


def _plot_truth(ax: plt.Axes, sample: Sample) -> None:
    xy = sample.positions[:, :2]
    for index, name in enumerate(sample.site_class_names):
        mask = sample.site_class == index
        if not mask.any():
            continue
        big = name not in ("C_pristine", "S2", "O_apical", "O_equatorial", "atom")
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=26 if big else 9, c=CLASS_COLOURS.get(name), label=f"{name} ({mask.sum()})",
            edgecolors="k" if big else "none", linewidths=0.4, zorder=3 if big else 2,
        )
    title = "Ground truth: atoms by site class"
    if "Px" in sample.atom_labels and "Ti" in sample.site_class_names:
        ti = sample.indices_of("Ti")
        ax.quiver(
            xy[ti, 0], xy[ti, 1], sample.atom_labels["Px"][ti], sample.atom_labels["Py"][ti],
            color="k", angles="xy", pivot="mid", width=0.004, zorder=4,
        )
        title += " and polarization P"
    ax.set_xlim(0, sample.extent[0])
    ax.set_ylim(0, sample.extent[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x [Å]")
    ax.set_ylabel("y [Å]")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8, frameon=False)


def _plot_image(ax: plt.Axes, fig: Figure, image: Image) -> None:
    x0, y0 = image.origin
    w, h = image.extent
    # Arrays are indexed (x, y); imshow wants (row = y, column = x).
    shown = ax.imshow(image.array.T, origin="lower", extent=(x0, x0 + w, y0, y0 + h), cmap="gray")
    ax.set_xlabel("x [Å]")
    ax.set_ylabel("y [Å]")
    meta = image.metadata
    ax.set_title(
        f"HAADF {image.array.shape[0]}×{image.array.shape[1]}, {meta['current']:.0f} pA, "
        f"{meta['dwell_time'] * 1e6:.0f} µs (noise + distortions)"
    )
    fig.colorbar(shown, ax=ax, label="counts", fraction=0.046)


def _plot_com(ax: plt.Axes, fig: Figure, com: CenterOfMassMap) -> None:
    """DPC-style colour wheel: hue is the CoM direction, brightness its magnitude."""
    from matplotlib.colors import hsv_to_rgb

    x0, y0 = com.origin
    nx, ny = com.array.shape[:2]
    extent = (x0, x0 + nx * com.sampling[0], y0, y0 + ny * com.sampling[1])
    scale = float(np.percentile(com.magnitude, 99)) or 1.0
    hsv = np.stack(
        [(com.angle.T + np.pi) / (2 * np.pi), np.ones((ny, nx)), np.clip(com.magnitude.T / scale, 0, 1)], axis=-1
    )
    ax.imshow(hsv_to_rgb(hsv), origin="lower", extent=extent)
    ax.set_xlabel("x [Å]")
    ax.set_ylabel("y [Å]")
    ax.set_title(f"4D-STEM CoM {nx}×{ny}: hue = direction, brightness = |CoM| (≤ {scale:.2g} mrad)")
    wheel = ax.inset_axes((0.80, 0.80, 0.18, 0.18))
    t = np.linspace(-1, 1, 64)
    gx, gy = np.meshgrid(t, t, indexing="xy")
    r = np.hypot(gx, gy)
    hue = (np.arctan2(gy, gx) + np.pi) / (2 * np.pi)
    disc = hsv_to_rgb(np.stack([hue, np.ones_like(r), np.clip(r, 0, 1)], axis=-1))
    disc[r > 1] = 1.0
    wheel.imshow(disc, origin="lower")
    wheel.set_axis_off()


def _plot_spectra(
    ax: plt.Axes, spectra: dict[str, Spectrum], window: tuple[float, float], title: str, log: bool, binning: int
) -> None:
    first = next(iter(spectra.values()))
    dispersion = float(first.energy[1] - first.energy[0])
    for label, spectrum in spectra.items():
        mask = (spectrum.energy >= window[0]) & (spectrum.energy <= window[1])
        n = mask.sum() // binning * binning
        energy = spectrum.energy[mask][:n].reshape(-1, binning).mean(axis=1)
        counts = spectrum.array[mask][:n].reshape(-1, binning).sum(axis=1)
        ax.step(energy, counts, where="mid", lw=0.9, label=label)
    ax.set_xlabel("energy loss [eV]")
    ax.set_ylabel(f"counts per {binning * dispersion:g} eV")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)


def _representative_site(sample: Sample, cls: str) -> np.ndarray:
    """Position of the atom of class ``cls`` farthest from any defect atom (periodic distances)."""
    members = sample.indices_of(cls)
    xy = sample.positions[:, :2]
    defects = xy[sample.defect_id >= 0]
    if len(defects) == 0 or sample.defect_id[members[0]] >= 0:
        return xy[members[len(members) // 2]]
    box = np.array(sample.extent)
    d = np.abs(xy[members][:, None, :] - defects[None, :, :])
    d = np.minimum(d, box - d)
    nearest = np.sqrt((d**2).sum(-1)).min(axis=1)
    return xy[members[np.argmax(nearest)]]


def overview_figure(sample: Sample, settings: ShowSettings) -> Figure:
    """Build the ``stemtwin show`` figure.

    Panels: the ground-truth atoms coloured by site class; a noisy, distorted HAADF frame; with
    ``modality`` ``"all"`` or ``"4dstem"`` a 4D-STEM centre-of-mass vector map; with ``"all"`` or
    ``"eels"`` EELS spectra at representative sites (for graphene: a 3-fold Si, a 4-fold Si and a
    pristine site).
    """
    preset = PRESETS.get(sample.name, _GENERIC)
    kwargs = {"optics": preset.optics, "spectrometer": preset.spectrometer, "engine": settings.engine}
    scope = Microscope(sample, scan_noise=ScanNoise.typical(), rng=settings.seed, **kwargs)
    image = scope.acquire_image(pixels=settings.pixels)
    panels = ["truth", "image"]
    com = None
    if settings.modality in ("all", "4dstem"):
        com = scope.acquire_4dstem(pixels=min(settings.pixels, 96), output="com")
        panels.append("com")
    spectra: dict[str, Spectrum] = {}
    if settings.modality in ("all", "eels"):
        # Spectra are taken with the beam parked on the true sites (no drift), to show each site's signature.
        parked = Microscope(sample, scan_noise=ScanNoise.none(), rng=settings.seed + 1, **kwargs)
        for cls in preset.sites:
            if cls in sample.site_class_names and len(sample.indices_of(cls)):
                xy = _representative_site(sample, cls)
                spectra[f"{cls} at ({xy[0]:.1f}, {xy[1]:.1f}) Å"] = parked.acquire_spectrum(
                    xy, dwell_time=preset.spectrum_dwell
                )
        if spectra:
            panels += ["edge", "full"]
    columns = 2 if len(panels) <= 4 else 3
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.5 * columns, 5.5 * rows), layout="constrained", squeeze=False)
    flat = list(axes.ravel())
    for ax, panel in zip(flat, panels, strict=False):
        if panel == "truth":
            _plot_truth(ax, sample)
        elif panel == "image":
            _plot_image(ax, fig, image)
        elif panel == "com" and com is not None:
            _plot_com(ax, fig, com)
        elif panel == "edge":
            dwell = f"{preset.spectrum_dwell:g} s parked on each site"
            _plot_spectra(ax, spectra, preset.edge_window, f"EELS {preset.edge_title}, {dwell}", False, settings.spectrum_binning)
        elif panel == "full":
            lo, hi = preset.spectrometer.energy_range
            _plot_spectra(ax, spectra, (lo, hi), "EELS full range", True, settings.spectrum_binning)
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"stemtwin: {sample.name}, {scope.optics.energy / 1e3:.0f} kV, {scope.optics.semiangle_cutoff:g} mrad, "
        f"engine '{settings.engine}', seed {settings.seed}"
    )
    return fig
