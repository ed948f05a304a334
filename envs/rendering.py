"""``rgb_array`` rendering with numpy only (no figure, no matplotlib): a few hundred microseconds.

Every array inside the twin is indexed (x, y). Images drawn here are in display order: row = y
(growing downwards), column = x, as ``matplotlib.pyplot.imshow(array.T)`` would show them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PANEL", "to_display", "grey_panel", "explore_frame", "spectrum_panel", "pattern_panel"]

#: Side of one rendered panel [pixels].
PANEL = 256

_VISITED = np.array([230, 60, 50], dtype=np.uint8)
_CURRENT = np.array([60, 220, 90], dtype=np.uint8)
_LINE = np.array([250, 200, 80], dtype=np.uint8)
_BACKGROUND = np.array([20, 20, 28], dtype=np.uint8)


def _resample_index(n_in: int, n_out: int) -> np.ndarray:
    """Nearest-neighbour source index of each output pixel."""
    return np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)


def to_display(array_xy: np.ndarray, side: int = PANEL) -> np.ndarray:
    """An (nx, ny) array in [0, 1] as a (side, side, 3) uint8 grey image, rows = y."""
    a = np.asarray(array_xy, dtype=np.float32)
    rows = _resample_index(a.shape[1], side)
    cols = _resample_index(a.shape[0], side)
    grey = (np.clip(a.T[rows][:, cols], 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def grey_panel(array_xy: np.ndarray, side: int = PANEL) -> np.ndarray:
    """Alias of :func:`to_display` for a normalised frame."""
    return to_display(array_xy, side)


def _normalise(values: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(values)), float(np.max(values))
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def _square(canvas: np.ndarray, row: float, col: float, half: int, colour: np.ndarray, hollow: bool = False) -> None:
    r, c = int(row), int(col)
    r0, r1 = max(r - half, 0), min(r + half + 1, canvas.shape[0])
    c0, c1 = max(c - half, 0), min(c + half + 1, canvas.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    if not hollow:
        canvas[r0:r1, c0:c1] = colour
        return
    canvas[r0, c0:c1] = colour
    canvas[r1 - 1, c0:c1] = colour
    canvas[r0:r1, c0] = colour
    canvas[r0:r1, c1 - 1] = colour


def spectrum_panel(spectrum: np.ndarray | None, side: int = PANEL) -> np.ndarray:
    """A spectrum as a line on a dark panel, log10(counts + 1) scaled to the panel height."""
    panel = np.empty((side, side, 3), dtype=np.uint8)
    panel[:] = _BACKGROUND
    if spectrum is None or np.size(spectrum) < 2:
        return panel
    y = _normalise(np.log10(np.clip(np.asarray(spectrum, dtype=np.float64), 0.0, None) + 1.0))
    x = np.linspace(0.0, 1.0, y.size)
    column_values = np.interp(np.linspace(0.0, 1.0, side + 1), x, y)
    rows = ((1.0 - column_values) * (side - 1)).astype(int)
    for col in range(side):
        a, b = sorted((rows[col], rows[col + 1]))
        panel[a : b + 1, col] = _LINE
    return panel


def pattern_panel(pattern: np.ndarray | None, side: int = PANEL) -> np.ndarray:
    """A diffraction pattern (θx, θy) on a log scale."""
    if pattern is None:
        panel = np.empty((side, side, 3), dtype=np.uint8)
        panel[:] = _BACKGROUND
        return panel
    return to_display(_normalise(np.log10(np.clip(np.asarray(pattern, dtype=np.float64), 0.0, None) + 1.0)), side)


def explore_frame(
    image01: np.ndarray,
    visited: np.ndarray,
    current: tuple[int, int] | None,
    measurement_panel: np.ndarray,
    side: int = PANEL,
) -> np.ndarray:
    """The structural image with visited candidates (red) and the current one (green), beside a panel.

    Parameters
    ----------
    image01
        Normalised image (nx, ny) in [0, 1].
    visited
        (G, G) visited map, indexed (i, j) like the candidates.
    current
        Candidate (i, j) of the latest measurement, or None.
    measurement_panel
        (side, side, 3) uint8 drawing of the latest measurement.

    Returns
    -------
    ndarray of shape (side, 2·side, 3), uint8
    """
    left = to_display(image01, side)
    grid = visited.shape[0]
    cell = side / grid
    half = max(int(cell // 4), 0)
    for i, j in np.argwhere(visited > 0):
        _square(left, (j + 0.5) * cell, (i + 0.5) * cell, half, _VISITED)
    if current is not None:
        _square(left, (current[1] + 0.5) * cell, (current[0] + 0.5) * cell, max(half + 2, 3), _CURRENT, hollow=True)
    return np.concatenate([left, measurement_panel], axis=1)
