"""``stemtwin show``: an at-a-glance figure of a sample, what the microscope records, and the truth."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stemtwin.twin import Microscope, Sample, ScanNoise, build_graphene  # noqa: E402
from stemtwin.twin.observations import Image, Spectrum  # noqa: E402

__all__ = ["ShowSettings", "default_sample", "overview_figure"]

#: Colours of site classes, by name; anything else cycles through the default colours.
CLASS_COLOURS = {
    "C_pristine": "#b0b0b0",
    "C_bonded_Si": "#1f77b4",
    "Si_3fold": "#d62728",
    "Si_4fold": "#ff7f0e",
    "C_vacancy_edge": "#2ca02c",
    "atom": "#555555",
}


@dataclass(frozen=True)
class ShowSettings:
    """What ``stemtwin show`` acquires.

    Parameters
    ----------
    pixels
        Scan size of the HAADF frame.
    engine
        Imaging engine name.
    spectrum_dwell
        Exposure of each spectrum [s]; single-atom core-loss spectra need a long dwell.
    spectrum_binning
        Channels summed per plotted point in the spectrum panels.
    seed
        Seed of the sample and the microscope.
    """

    pixels: int = 256
    engine: str = "fast"
    spectrum_dwell: float = 0.5
    spectrum_binning: int = 5
    seed: int = 0


def default_sample(name: str, seed: int) -> Sample:
    """The sample ``stemtwin show NAME`` draws: a 3 nm graphene sheet with both kinds of Si and vacancies."""
    if name == "graphene":
        return build_graphene(
            (30.0, 30.0), n_si_3fold=2, n_si_4fold=2, n_monovacancies=2, n_divacancies=1, rng=seed
        )
    from stemtwin.twin import build_sample

    return build_sample(name, rng=seed)


def _plot_truth(ax: plt.Axes, sample: Sample) -> None:
    xy = sample.positions[:, :2]
    for index, name in enumerate(sample.site_class_names):
        mask = sample.site_class == index
        if not mask.any():
            continue
        big = not name.startswith("C_pristine")
        ax.scatter(
            xy[mask, 0], xy[mask, 1], s=28 if big else 10, c=CLASS_COLOURS.get(name), label=f"{name} ({mask.sum()})",
            edgecolors="k" if big else "none", linewidths=0.4, zorder=3 if big else 2,
        )
    ax.set_xlim(0, sample.extent[0])
    ax.set_ylim(0, sample.extent[1])
    ax.set_aspect("equal")
    ax.set_xlabel("x [Å]")
    ax.set_ylabel("y [Å]")
    ax.set_title("Ground truth: atoms by site class")
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


def _plot_spectra(
    ax: plt.Axes, spectra: dict[str, Spectrum], window: tuple[float, float], title: str, log: bool, binning: int
) -> None:
    for label, spectrum in spectra.items():
        mask = (spectrum.energy >= window[0]) & (spectrum.energy <= window[1])
        n = mask.sum() // binning * binning
        energy = spectrum.energy[mask][:n].reshape(-1, binning).mean(axis=1)
        counts = spectrum.array[mask][:n].reshape(-1, binning).sum(axis=1)
        ax.step(energy, counts, where="mid", lw=0.9, label=label)
    dispersion = float(next(iter(spectra.values())).energy[1] - next(iter(spectra.values())).energy[0])
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
        return xy[members[0]]
    box = np.array(sample.extent)
    d = np.abs(xy[members][:, None, :] - defects[None, :, :])
    d = np.minimum(d, box - d)
    nearest = np.sqrt((d**2).sum(-1)).min(axis=1)
    return xy[members[np.argmax(nearest)]]


def overview_figure(sample: Sample, settings: ShowSettings) -> Figure:
    """Build the ``stemtwin show`` figure.

    Panels: the ground-truth atoms coloured by site class; a noisy, distorted HAADF frame; and
    EELS spectra at a 3-fold Si, a 4-fold Si and a pristine site (when the sample has them).
    """
    scope = Microscope(sample, engine=settings.engine, scan_noise=ScanNoise.typical(), rng=settings.seed)
    image = scope.acquire_image(pixels=settings.pixels)
    # Spectra are taken with the beam parked on the true sites (no drift), to show each site's signature.
    parked = Microscope(sample, engine=settings.engine, scan_noise=ScanNoise.none(), rng=settings.seed + 1)
    spectra: dict[str, Spectrum] = {}
    for cls in ("Si_3fold", "Si_4fold", "C_pristine", "atom"):
        if cls in sample.site_class_names and len(sample.indices_of(cls)):
            xy = _representative_site(sample, cls)
            spectra[f"{cls} at ({xy[0]:.1f}, {xy[1]:.1f}) Å"] = parked.acquire_spectrum(xy, dwell_time=settings.spectrum_dwell)
    fig, axes = plt.subplots(2, 2, figsize=(13, 11), layout="constrained")
    _plot_truth(axes[0, 0], sample)
    _plot_image(axes[0, 1], fig, image)
    if spectra:
        dwell = f"{settings.spectrum_dwell:g} s parked on each site"
        _plot_spectra(axes[1, 0], spectra, (85.0, 140.0), f"EELS Si L2,3 (onset 99 eV), {dwell}", False, settings.spectrum_binning)
        _plot_spectra(axes[1, 1], spectra, (-5.0, 330.0), "EELS full range: ZLP, plasmons, Si L2,3, C K", True, settings.spectrum_binning)
    fig.suptitle(f"stemtwin: {sample.name}, {scope.optics.energy / 1e3:.0f} kV, engine '{settings.engine}', seed {settings.seed}")
    return fig
