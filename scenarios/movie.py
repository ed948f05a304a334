"""``stemtwin show --frames N``: the sample evolving under repeated imaging, with events annotated."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from stemtwin.twin import Dose, Microscope, Sample, ScanNoise  # noqa: E402
from stemtwin.twin.dynamics import Event  # noqa: E402
from stemtwin.twin.observations import Image  # noqa: E402

from .show import PRESETS  # noqa: E402

__all__ = ["MovieSettings", "record_movie", "movie_figure", "save_movie", "MOVIE_SUFFIXES"]

#: Output formats: an animated GIF, or a PNG strip of all frames.
MOVIE_SUFFIXES = (".gif", ".png")
#: Marker colour per event kind.
EVENT_COLOURS = {
    "si_jump": "#ff7f0e",
    "si_conversion": "#d62728",
    "knock_on": "#2ca02c",
    "vacancy_migration": "#17becf",
    "vacancy_coalescence": "#9467bd",
    "s_sputtering": "#2ca02c",
    "cation_exchange": "#ff7f0e",
    "domain_switch": "#d62728",
}


@dataclass(frozen=True)
class MovieSettings:
    """What ``stemtwin show --frames`` records.

    Parameters
    ----------
    frames
        Number of HAADF frames.
    pixels
        Scan size of each frame.
    fov_size
        Side of the square field of view, centred on a defect when the sample has one [Å].
    current
        Probe current [pA]. With the default small field of view around a defect, 100 pA and 1 ms
        per pixel (about 4×10⁷ e/Å² per frame), a Si jumps about once every five frames under the
        parked-beam model of PHYSICS.md; the dose per frame is printed on the figure.
    dwell_time
        Dwell per pixel [s].
    engine
        Imaging engine.
    seed
        Seed of the microscope (scan, noise and dynamics).
    """

    frames: int = 20
    pixels: int = 64
    fov_size: float = 8.0
    current: float = 100.0
    dwell_time: float = 1e-3
    engine: str = "fast"
    seed: int = 0


def _fov(sample: Sample, size: float) -> tuple[float, float, float, float]:
    extent = np.array(sample.extent)
    size = float(min(size, extent.min()))
    centre = extent / 2
    # Prefer a mobile dopant (3-fold Si jumps under the beam), else any defect.
    preferred = [sample.indices_of(c) for c in ("Si_3fold", "Re", "Ti") if c in sample.site_class_names]
    candidates = [i for group in preferred for i in group] or list(np.flatnonzero(sample.defect_id >= 0))
    if candidates:
        centre = sample.positions[candidates[0], :2]
    origin = np.clip(centre - size / 2, 0.0, extent - size)
    return (float(origin[0]), float(origin[1]), size, size)


def record_movie(sample: Sample, settings: MovieSettings) -> tuple[list[Image], list[list[Event]], Microscope]:
    """Acquire ``settings.frames`` frames of one field of view with the family's beam dynamics on.

    Returns
    -------
    frames, events, microscope
        The frames, the events that happened during each frame, and the microscope (for truth).
    """
    preset = PRESETS.get(sample.name)
    optics = preset.optics if preset else None
    # Frames take seconds, so the stage is taken as drift-corrected: the slow random walk is
    # reduced to 0.3 Å; drift, vibrations and the flyback transient stay as typical.
    noise = dataclasses.replace(ScanNoise.typical(), random_walk_amplitude=0.3)
    scope = Microscope(sample, optics=optics, engine=settings.engine, dynamics="auto", scan_noise=noise, rng=settings.seed)
    dose = Dose(current=settings.current, dwell_time=settings.dwell_time)
    fov = _fov(sample, settings.fov_size)
    frames, events = [], []
    for _ in range(settings.frames):
        seen = len(scope.truth().events)
        frames.append(scope.acquire_image(fov=fov, pixels=settings.pixels, dose=dose))
        events.append(list(scope.truth().events[seen:]))
    return frames, events, scope


def _event_xy(event: Event) -> np.ndarray | None:
    for key in ("position", "xy", "to_position", "centre"):
        if key in event.details:
            xy = np.asarray(event.details[key], dtype=float).reshape(-1)
            if xy.size >= 2:
                return xy[:2]
    return None


def _draw_frame(ax: plt.Axes, image: Image, events: Sequence[Event], index: int, vmax: float) -> None:
    x0, y0 = image.origin
    w, h = image.extent
    ax.imshow(image.array.T, origin="lower", extent=(x0, x0 + w, y0, y0 + h), cmap="gray", vmin=0, vmax=vmax)
    for event in events:
        xy = _event_xy(event)
        if xy is not None:
            ax.scatter(*xy, s=120, facecolors="none", edgecolors=EVENT_COLOURS.get(event.kind, "cyan"), linewidths=1.5)
    kinds = sorted({e.kind for e in events})
    label = f"frame {index}, t = {image.metadata['time_end']:.2f} s"
    if kinds:
        label += "\n" + ", ".join(f"{k} ×{sum(e.kind == k for e in events)}" for k in kinds)
    ax.set_title(label, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def movie_figure(frames: Sequence[Image], events: Sequence[Sequence[Event]], title: str) -> Figure:
    """A PNG strip: every frame in a grid, events circled and counted."""
    columns = min(5, len(frames))
    rows = -(-len(frames) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.2 * rows + 0.6), squeeze=False, layout="constrained")
    vmax = float(np.percentile(np.stack([f.array for f in frames]), 99.8))
    for index, ax in enumerate(axes.ravel()):
        if index < len(frames):
            _draw_frame(ax, frames[index], events[index], index, vmax)
        else:
            ax.set_visible(False)
    fig.suptitle(title)
    return fig


def save_movie(frames: Sequence[Image], events: Sequence[Sequence[Event]], out: Path, title: str) -> None:
    """Write an animated GIF (``.gif``) or a PNG strip (``.png``) to ``out``."""
    if out.suffix.lower() == ".png":
        movie_figure(frames, events, title).savefig(out, dpi=100)
        return
    fig, ax = plt.subplots(figsize=(5, 5.4), layout="constrained")
    vmax = float(np.percentile(np.stack([f.array for f in frames]), 99.8))

    def update(index: int) -> None:
        ax.clear()
        _draw_frame(ax, frames[index], events[index], index, vmax)
        fig.suptitle(title, fontsize=8)

    FuncAnimation(fig, update, frames=len(frames)).save(out, writer=PillowWriter(fps=4))
