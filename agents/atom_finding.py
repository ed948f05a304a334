"""Atom finding and atom-centred patches from noisy frames.

Functions take arrays in and give arrays out. Frames are indexed (x, y) like the twin's images
(axis 0 = x); positions are fractional pixel coordinates ``(p, q)`` along (axis 0, axis 1), pixel
``(p, q)`` being the centre of array element ``[p, q]`` — the convention of
``frame_truth()["pixel_positions"]`` of ``stemtwin/BeamDynamics-v0``.

1. :func:`find_atoms`: Gaussian smoothing (σ about the atom size) against the shot noise, peak
   detection with :func:`skimage.feature.peak_local_max` above a threshold set between the frame's
   background and its bright atoms (thinned to ``min_distance`` by non-maximum suppression), then sub-pixel refinement of each peak by a Gaussian
   (log-quadratic) fit of its 3×3 neighbourhood on the smoothed frame, optionally followed by a few
   background-subtracted centroid iterations.
2. :func:`extract_patches`: square patches centred on the sub-pixel positions, cut by
   :func:`scipy.ndimage.map_coordinates` (bilinear by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max

__all__ = ["find_atoms", "extract_patches", "normalised_patches", "refine_positions", "match_positions", "AtomFindingError"]

REFINEMENTS = ("quadratic", "centroid", "none")


class AtomFindingError(ValueError):
    """Bad input to atom finding or patch extraction."""


def _as_frame(frame: Any) -> np.ndarray:
    arr = np.asarray(frame, dtype=np.float64)
    if arr.ndim != 2 or min(arr.shape) < 3:
        raise AtomFindingError(f"`frame` must be a 2-D array of at least 3×3 pixels, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise AtomFindingError(f"`frame` holds {int(np.count_nonzero(~np.isfinite(arr)))} NaN or inf pixels; clean it first.")
    return arr


def find_atoms(
    frame: Any,
    *,
    sigma: float = 2.0,
    min_distance: int = 4,
    threshold: float = 0.25,
    refine: str = "quadratic",
    centroid_radius: float | None = None,
    border: int = 0,
) -> np.ndarray:
    """Sub-pixel positions of the atom columns in a (noisy) frame.

    Parameters
    ----------
    frame
        ndarray of shape (nx, ny): counts or intensities, atoms bright (HAADF).
    sigma
        Gaussian smoothing [pixels] applied before the peak search; about the atom's σ.
    min_distance
        Minimum separation of two peaks [pixels]: local maxima (:func:`peak_local_max`) are thinned by
        greedy non-maximum suppression, brightest first.
    threshold
        Peaks must exceed ``lo + threshold·(hi − lo)`` of the smoothed frame, with lo and hi its 5th
        and 99.5th percentiles; 0 keeps every local maximum.
    refine
        ``"quadratic"`` (default): log-quadratic (Gaussian) fit of the 3×3 neighbourhood on the
        smoothed frame; ``"centroid"``: that, then three background-subtracted centroid iterations
        within ``centroid_radius``; ``"none"``: integer peaks.
    centroid_radius
        Radius of the centroid window [pixels]; default ``max(2, min_distance / 2)``.
    border
        Drop atoms closer than this to the frame edge [pixels].

    Returns
    -------
    ndarray of shape (n, 2)
        Positions (p, q) [pixels], sorted by p then q.
    """
    arr = _as_frame(frame)
    if not (np.isfinite(sigma) and sigma >= 0):
        raise AtomFindingError(f"`sigma` must be a non-negative smoothing width [pixels], got {sigma!r}.")
    if not (isinstance(min_distance, (int, np.integer)) and min_distance >= 1):
        raise AtomFindingError(f"`min_distance` must be an integer >= 1 [pixels], got {min_distance!r}.")
    if not (0.0 <= threshold <= 1.0):
        raise AtomFindingError(f"`threshold` must lie in [0, 1] (a fraction of the frame's range), got {threshold!r}.")
    if refine not in REFINEMENTS:
        raise AtomFindingError(f"`refine` must be one of {list(REFINEMENTS)}, got {refine!r}.")
    smooth = ndimage.gaussian_filter(arr, sigma, mode="nearest") if sigma > 0 else arr
    lo, hi = np.percentile(smooth, [5.0, 99.5])
    if hi <= lo:
        return np.zeros((0, 2))
    peaks = peak_local_max(smooth, min_distance=1, threshold_abs=lo + threshold * (hi - lo), exclude_border=False)
    if len(peaks) == 0:
        return np.zeros((0, 2))
    peaks = _suppress(peaks, smooth[peaks[:, 0], peaks[:, 1]], float(min_distance))
    pos = refine_positions(smooth, peaks, method=refine, radius=centroid_radius if centroid_radius is not None else max(2.0, min_distance / 2.0))
    if border > 0:
        keep = np.all((pos >= border) & (pos <= np.array(arr.shape) - 1 - border), axis=1)
        pos = pos[keep]
    order = np.lexsort((pos[:, 1], pos[:, 0]))
    return pos[order]


def _suppress(peaks: np.ndarray, values: np.ndarray, radius: float) -> np.ndarray:
    """Greedy non-maximum suppression: keep the brightest peak, drop the others within ``radius``, repeat.

    Unlike a square max-filter footprint, a dim atom next to a bright one survives as long as its own
    local maximum lies ``radius`` or more away.
    """
    from scipy.spatial import cKDTree

    order = np.argsort(-values, kind="stable")
    peaks = peaks[order]
    tree = cKDTree(peaks)
    alive = np.ones(len(peaks), bool)
    for i in range(len(peaks)):
        if alive[i]:
            for j in tree.query_ball_point(peaks[i], radius - 1e-9):
                if j > i:
                    alive[j] = False
    return peaks[alive]


def refine_positions(smooth: np.ndarray, peaks: np.ndarray, *, method: str = "quadratic", radius: float = 3.0) -> np.ndarray:
    """Sub-pixel refinement of integer peaks (n, 2) on a smoothed frame (see :func:`find_atoms`)."""
    peaks = np.asarray(peaks, dtype=np.int64).reshape(-1, 2)
    pos = peaks.astype(np.float64)
    if method == "none" or len(peaks) == 0:
        return pos
    nx, ny = smooth.shape
    floor = smooth.min()
    logf = np.log(np.maximum(smooth - floor, 0.0) + 1e-6 * (np.ptp(smooth) + 1e-12))
    for axis, n in ((0, nx), (1, ny)):
        c = peaks[:, axis]
        ok = (c > 0) & (c < n - 1)
        lo = peaks.copy()
        hi = peaks.copy()
        lo[ok, axis] -= 1
        hi[ok, axis] += 1
        f0 = logf[peaks[:, 0], peaks[:, 1]]
        fm = logf[lo[:, 0], lo[:, 1]]
        fp = logf[hi[:, 0], hi[:, 1]]
        curv = fm - 2.0 * f0 + fp
        delta = np.where(ok & (curv < 0), 0.5 * (fm - fp) / np.where(curv < 0, curv, -1.0), 0.0)
        pos[:, axis] += np.clip(delta, -0.5, 0.5)
    if method == "centroid":
        pos = _centroid(smooth, pos, radius)
    return pos


def _centroid(smooth: np.ndarray, pos: np.ndarray, radius: float, iterations: int = 3) -> np.ndarray:
    r = int(np.ceil(radius))
    offs = np.arange(-r, r + 1, dtype=np.float64)
    ox, oy = np.meshgrid(offs, offs, indexing="ij")
    ox, oy = ox.ravel(), oy.ravel()
    inside = ox**2 + oy**2 <= radius**2
    ox, oy = ox[inside], oy[inside]
    out = pos.copy()
    for _ in range(iterations):
        cx = out[:, :1] + ox[None, :]
        cy = out[:, 1:] + oy[None, :]
        vals = ndimage.map_coordinates(smooth, [cx.ravel(), cy.ravel()], order=1, mode="nearest").reshape(cx.shape)
        vals = np.maximum(vals - vals.min(axis=1, keepdims=True), 0.0)
        w = vals.sum(axis=1)
        ok = w > 0
        shift = np.zeros_like(out)
        shift[ok, 0] = (vals[ok] * ox).sum(1) / w[ok]
        shift[ok, 1] = (vals[ok] * oy).sum(1) / w[ok]
        out = out + np.clip(shift, -1.0, 1.0)
    # never move a peak by more than the window
    moved = np.linalg.norm(out - pos, axis=1) > radius
    out[moved] = pos[moved]
    return out


def extract_patches(
    frame: Any,
    positions: Any,
    size: int,
    *,
    order: int = 1,
    mode: str = "constant",
    cval: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Square patches centred (sub-pixel) on positions.

    Parameters
    ----------
    frame
        ndarray of shape (nx, ny).
    positions
        ndarray of shape (n, 2): centres (p, q) [pixels].
    size
        Patch side [pixels]; patch element ``[i, j]`` samples the frame at
        ``(p + i − (size − 1)/2, q + j − (size − 1)/2)``.
    order
        Spline order of :func:`scipy.ndimage.map_coordinates` (1 = bilinear).
    mode, cval
        Outside the frame: ``mode`` of map_coordinates; with ``"constant"``, ``cval`` (default: the
        frame's median, its background).

    Returns
    -------
    patches : ndarray of shape (n, size, size), float32
    inside : ndarray of shape (n,), bool
        Whether the whole patch lies inside the frame.
    """
    arr = _as_frame(frame)
    pos = np.asarray(positions, dtype=np.float64)
    if pos.size == 0:
        return np.zeros((0, size, size), np.float32), np.zeros(0, bool)
    if pos.ndim != 2 or pos.shape[1] != 2 or not np.all(np.isfinite(pos)):
        raise AtomFindingError(f"`positions` must be a finite array of shape (n, 2), got shape {pos.shape}.")
    if not (isinstance(size, (int, np.integer)) and size >= 2):
        raise AtomFindingError(f"`size` must be an integer >= 2 [pixels], got {size!r}.")
    half = (size - 1) / 2.0
    offs = np.arange(size, dtype=np.float64) - half
    cx = pos[:, 0, None, None] + offs[None, :, None] + np.zeros((1, 1, size))
    cy = pos[:, 1, None, None] + offs[None, None, :] + np.zeros((1, size, 1))
    fill = float(np.median(arr)) if cval is None else float(cval)
    vals = ndimage.map_coordinates(arr, [cx.ravel(), cy.ravel()], order=order, mode=mode, cval=fill)
    patches = vals.reshape(len(pos), size, size).astype(np.float32)
    nx, ny = arr.shape
    inside = (pos[:, 0] - half >= 0) & (pos[:, 0] + half <= nx - 1) & (pos[:, 1] - half >= 0) & (pos[:, 1] + half <= ny - 1)
    return patches, inside


def normalised_patches(smooth: np.ndarray, positions: np.ndarray, patch_size: int) -> np.ndarray:
    """Atom-centred patches scaled so that the background is 0 and the median atom peak is 1.

    The background is the 5th percentile of ``smooth``; the peak is ``smooth`` interpolated at each
    position. Used for the rVAE's input, by the discovery agent and ``stemtwin train rvae``.

    Parameters
    ----------
    smooth
        The (lightly smoothed) image, (H, W).
    positions
        Atom positions (p, q) [pixels], (n, 2).
    patch_size
        Patch side [pixels].

    Returns
    -------
    ndarray of shape (n, patch_size, patch_size), float32
    """
    from scipy import ndimage

    bg = float(np.percentile(smooth, 5.0))
    if len(positions) == 0:
        return np.zeros((0, patch_size, patch_size), np.float32)
    peaks = ndimage.map_coordinates(smooth, [positions[:, 0], positions[:, 1]], order=1)
    scale = float(np.median(peaks) - bg)
    if not scale > 0:
        scale = float(np.ptp(smooth)) or 1.0
    patches, _ = extract_patches(smooth, positions, patch_size, cval=bg)
    return ((patches - bg) / scale).astype(np.float32)


def match_positions(a: Any, b: Any, max_distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one nearest-neighbour matching of two point sets within ``max_distance``.

    Pairs are taken greedily by increasing distance (mutual nearest neighbours first), so each point
    is used at most once.

    Returns
    -------
    ia, ib : ndarray of shape (m,)
        Indices into ``a`` and ``b`` of the matched pairs.
    distance : ndarray of shape (m,)
    """
    from scipy.spatial import cKDTree

    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), max_distance, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pairs = np.sort(pairs, order="v")
    used_a = np.zeros(len(a), bool)
    used_b = np.zeros(len(b), bool)
    ia, ib, dist = [], [], []
    for i, j, d in zip(pairs["i"], pairs["j"], pairs["v"], strict=True):
        if not used_a[i] and not used_b[j]:
            used_a[i] = used_b[j] = True
            ia.append(i)
            ib.append(j)
            dist.append(d)
    return np.array(ia, np.int64), np.array(ib, np.int64), np.array(dist)
