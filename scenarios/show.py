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
        Exposure of each spectrum [s].
    seed
        Seed of the sample and the microscope.
    """

    pixels: int = 256
    engine: str = "fast"
    spectrum_dwell: float = 0.05
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
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)


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


def _plot_spectra(ax: plt.Axes, spectra: dict[str, Spectrum], window: tuple[float, float], title: str, log: bool) -> None:
    for label, spectrum in spectra.items():
        mask = (spectrum.energy >= window[0]) & (spectrum.energy <= window[1])
        ax.plot(spectrum.energy[mask], spectrum.array[mask], lw=0.9, label=label)
    ax.set_xlabel("energy loss [eV]")
    ax.set_ylabel("counts")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)


def overview_figure(sample: Sample, settings: ShowSettings) -> Figure:
    """Build the ``stemtwin show`` figure.

    Panels: the ground-truth atoms coloured by site class; a noisy, distorted HAADF frame; and
    EELS spectra at a 3-fold Si, a 4-fold Si and a pristine site (when the sample has them).
    """
    scope = Microscope(sample, engine=settings.engine, scan_noise=ScanNoise.typical(), rng=settings.seed)
    image = scope.acquire_image(pixels=settings.pixels)
    spectra: dict[str, Spectrum] = {}
    for cls in ("Si_3fold", "Si_4fold", "C_pristine", "atom"):
        if cls not in sample.site_class_names:
            continue
        members = sample.indices_of(cls)
        if len(members):
            xy = sample.positions[members[0], :2]
            spectra[f"{cls} at ({xy[0]:.1f}, {xy[1]:.1f}) Å"] = scope.acquire_spectrum(xy, dwell_time=settings.spectrum_dwell)
    fig, axes = plt.subplots(2, 2, figsize=(13, 11), layout="constrained")
    _plot_truth(axes[0, 0], sample)
    _plot_image(axes[0, 1], fig, image)
    if spectra:
        _plot_spectra(axes[1, 0], spectra, (90.0, 140.0), "EELS: Si L2,3 edge (onset 99 eV)", log=False)
        _plot_spectra(axes[1, 1], spectra, (-5.0, 330.0), "EELS: full range (ZLP, plasmons, Si L2,3, C K)", log=True)
    fig.suptitle(f"stemtwin: {sample.name}, {scope.optics.energy / 1e3:.0f} kV, engine '{settings.engine}', seed {settings.seed}")
    return fig
