"""Compiled per-pixel loops of the data-set synthesis (numba, ``nogil``, cached on disk).

Each kernel is a plain loop over pixels or atoms that numpy would run as several whole-array passes
with temporaries; fused, a 256² frame costs a fraction of a millisecond per step. The kernels are
pure (they write only into the arrays they are given) and deterministic; ``tests/datasets`` check
each against a direct numpy evaluation.

Kernels
-------
:func:`bspline_at`
    Periodic cubic B-spline (the spline of :class:`~stemtwin.twin.signals.field.PeriodicField`) at
    arbitrary positions.
:func:`compose_positions`
    Actual probe positions of a raster frame from its separable parts (calibration and shear,
    flyback, the slow error interpolated between coarse rows, the vibrations).
:func:`invert_distortion`
    Newton's method for the scan pixel at which the real probe lands on a given point (with a
    nearest-pixel search where line jitter folds the scan).
:func:`paint_mask`
    Per-pixel class of the nearest atom within a radius of the real probe position.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["SPLINE_PAD", "bspline_at", "compose_positions", "invert_distortion", "paint_mask"]

#: Padding of the spline coefficients for periodic evaluation without wrap mode [grid points].
SPLINE_PAD = 3

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False}
#: Half-width of the first, local nearest-pixel search of :func:`invert_distortion` [pixels].
_NEAR_WINDOW = 8


@numba.njit(**_JIT)
def bspline_at(coeffs, positions, extent, step, out):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    """Periodic cubic B-spline at ``positions`` (m, 2) [Å] into ``out`` (m,).

    ``coeffs`` are the B-spline coefficients of one periodic cell (``ndimage.spline_filter(...,
    mode="grid-wrap")``), padded periodically by :data:`SPLINE_PAD` on every side; grid point
    (i, j) sits at ``(i·step[0], j·step[1])`` and the cell is ``extent`` [Å].
    """
    ex, ey = extent[0], extent[1]
    isx, isy = 1.0 / step[0], 1.0 / step[1]
    sixth = 1.0 / 6.0
    for k in range(positions.shape[0]):
        px = positions[k, 0]
        py = positions[k, 1]
        x = (px - np.floor(px / ex) * ex) * isx + SPLINE_PAD
        y = (py - np.floor(py / ey) * ey) * isy + SPLINE_PAD
        ix = int(x)  # x > 0: truncation is floor
        iy = int(y)
        tx = x - ix
        ty = y - iy
        tx2 = tx * tx
        ty2 = ty * ty
        ux = 1.0 - tx
        uy = 1.0 - ty
        wy0 = uy * uy * uy * sixth
        wy1 = (3.0 * ty2 * ty - 6.0 * ty2 + 4.0) * sixth
        wy2 = (-3.0 * ty2 * ty + 3.0 * ty2 + 3.0 * ty + 1.0) * sixth
        wy3 = ty2 * ty * sixth
        total = 0.0
        for a in range(4):
            if a == 0:
                w = ux * ux * ux * sixth
            elif a == 1:
                w = (3.0 * tx2 * tx - 6.0 * tx2 + 4.0) * sixth
            elif a == 2:
                w = (-3.0 * tx2 * tx + 3.0 * tx2 + 3.0 * tx + 1.0) * sixth
            else:
                w = tx2 * tx * sixth
            row = ix - 1 + a
            total += w * (
                wy0 * coeffs[row, iy - 1] + wy1 * coeffs[row, iy] + wy2 * coeffs[row, iy + 1] + wy3 * coeffs[row, iy + 2]
            )
        out[k] = total


@numba.njit(**_JIT)
def compose_positions(  # type: ignore[no-untyped-def]  # noqa: ANN201
    origin, rel_x, rel_y, scale_x, scale_y, shear, kick, slow, slow_row, slow_weight, vib, gain, quantum, actual, distortion  # noqa: ANN001
):
    """Actual probe positions and their distortion for a raster frame (x fast).

    For pixel (i, j), with nominal position ``origin + (rel_x[i], rel_y[j])`` [Å]::

        actual_x = x0 + rel_x[i]·(1 + scale_x) + rel_y[j]·shear + kick[i] + gain·(s_x + v_x)
        actual_y = y0 + rel_y[j]·(1 + scale_y) + gain·(s_y + v_y)

    as :func:`~stemtwin.twin.scan.scan_path` composes them, where ``s`` is the slow error
    interpolated linearly between the coarse rows ``slow[slow_row[i]]`` and ``slow[slow_row[i] + 1]``
    with weight ``slow_weight[i]`` (``slow`` of shape (nc, ny, 2); nc = 0 for none), and ``v`` is
    ``vib[i, j]`` (shape (nx, ny, 2), or (0, 0, 2) for none). Writes ``actual`` (nx, ny, 2) and
    ``distortion`` (actual − nominal, component first: (2, nx, ny), e.g. float32) [Å], rounded to
    a multiple of ``quantum`` [Å] when ``quantum > 0``.
    """
    nx = rel_x.shape[0]
    ny = rel_y.shape[0]
    x0 = origin[0]
    y0 = origin[1]
    has_slow = slow.shape[0] > 0
    has_vib = vib.shape[0] > 0
    for i in range(nx):
        bx = rel_x[i] * (1.0 + scale_x) + kick[i]
        k = slow_row[i] if has_slow else 0
        w = slow_weight[i] if has_slow else 0.0
        for j in range(ny):
            ax = x0 + bx + rel_y[j] * shear
            ay = y0 + rel_y[j] * (1.0 + scale_y)
            ex = 0.0
            ey = 0.0
            if has_slow:
                ex += slow[k, j, 0] * (1.0 - w) + slow[k + 1, j, 0] * w
                ey += slow[k, j, 1] * (1.0 - w) + slow[k + 1, j, 1] * w
            if has_vib:
                ex += vib[i, j, 0]
                ey += vib[i, j, 1]
            ax += gain * ex
            ay += gain * ey
            actual[i, j, 0] = ax
            actual[i, j, 1] = ay
            dx = ax - (x0 + rel_x[i])
            dy = ay - (y0 + rel_y[j])
            if quantum > 0.0:
                dx = np.round(dx / quantum) * quantum
                dy = np.round(dy / quantum) * quantum
            distortion[0, i, j] = dx
            distortion[1, i, j] = dy


@numba.njit(**_JIT)
def _landing(distortion, origin, step, target_x, target_y, qx, qy):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
    """Where the probe lands at pixel coordinates (qx, qy), minus the target, and the Jacobian.

    Returns ``(fx, fy, a, b, c, e)``: ``f = origin + q·step + D(q) − target`` [Å] and
    ``J = [[a, b], [c, e]] = ∂f/∂q`` [Å/px], with ``D`` bilinear between pixels and clamped to the
    grid (constant outside it, so the derivative there is ``step`` along a clamped axis).
    """
    nx = distortion.shape[1]
    ny = distortion.shape[2]
    cx = min(max(qx, 0.0), nx - 1.0)
    cy = min(max(qy, 0.0), ny - 1.0)
    i = min(int(cx), nx - 2)
    j = min(int(cy), ny - 2)
    tx = cx - i
    ty = cy - j
    inside_x = 1.0 if 0.0 <= qx <= nx - 1.0 else 0.0
    inside_y = 1.0 if 0.0 <= qy <= ny - 1.0 else 0.0
    g00, g10, g01, g11 = distortion[0, i, j], distortion[0, i + 1, j], distortion[0, i, j + 1], distortion[0, i + 1, j + 1]
    fx = origin[0] + qx * step - target_x
    fx += g00 * (1 - tx) * (1 - ty) + g10 * tx * (1 - ty) + g01 * (1 - tx) * ty + g11 * tx * ty
    a = step + ((g10 - g00) * (1 - ty) + (g11 - g01) * ty) * inside_x
    b = ((g01 - g00) * (1 - tx) + (g11 - g10) * tx) * inside_y
    g00, g10, g01, g11 = distortion[1, i, j], distortion[1, i + 1, j], distortion[1, i, j + 1], distortion[1, i + 1, j + 1]
    fy = origin[1] + qy * step - target_y
    fy += g00 * (1 - tx) * (1 - ty) + g10 * tx * (1 - ty) + g01 * (1 - tx) * ty + g11 * tx * ty
    c = ((g10 - g00) * (1 - ty) + (g11 - g01) * ty) * inside_x
    e = step + ((g01 - g00) * (1 - tx) + (g11 - g10) * tx) * inside_y
    return fx, fy, a, b, c, e


@numba.njit(**_JIT)
def _newton(distortion, origin, step, target_x, target_y, qx, qy, max_steps, tol):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
    """Newton's method from (qx, qy); returns ``(qx, qy, converged)``."""
    for _ in range(max_steps):
        fx, fy, a, b, c, e = _landing(distortion, origin, step, target_x, target_y, qx, qy)
        det = a * e - b * c
        if not det != 0.0:  # zero or NaN: a fold of the scan
            return qx, qy, False
        dx = (e * fx - b * fy) / det
        dy = (a * fy - c * fx) / det
        qx -= dx
        qy -= dy
        if not (np.isfinite(qx) and np.isfinite(qy)):
            return qx, qy, False
        if max(abs(dx), abs(dy)) <= tol:
            return qx, qy, True
    return qx, qy, False


@numba.njit(**_JIT)
def invert_distortion(distortion, origin, step, targets, p, miss, window, max_steps, tol):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    """Pixel coordinates ``p`` at which the real probe lands on each target, and by how much it misses.

    Solves ``origin + p·step + D(p) = target`` by Newton's method, where ``D`` is the distortion
    field (2, nx, ny) [Å] (component first) interpolated bilinearly between pixels and clamped to the
    grid; ``p`` (m, 2) holds the starting guesses and receives the solutions. Each target takes
    Newton steps until a step is at most ``tol`` pixels, and ``miss[m] = 0``.

    Line-to-line jitter larger than a pixel folds the scan: some points are passed over by several
    lines, others by none, and Newton's method may then fail. Such a target takes the point of
    nearest approach instead: the pixel whose probe position lies nearest to it, searched near where
    Newton's method ended and, unless a pixel there lands within one pixel step of the target, within
    ``window`` pixels of the starting guess (which must bound how far the distortion can move a
    solution); then refined by Gauss–Newton steps kept within one pixel of it; ``miss[m]`` is the
    remaining distance between the target and the probe position there [Å] (0 up to rounding when
    the probe does pass over the target).
    """
    nx = distortion.shape[1]
    ny = distortion.shape[2]
    for m in range(targets.shape[0]):
        tx_, ty_ = targets[m, 0], targets[m, 1]
        qx, qy, ok = _newton(distortion, origin, step, tx_, ty_, p[m, 0], p[m, 1], max_steps, tol)
        if ok:
            p[m, 0] = qx
            p[m, 1] = qy
            miss[m] = 0.0
            continue
        # Nearest pixel: first near where Newton's method ended (it wanders about a fold), then,
        # unless a pixel there lands within one pixel step, within the window around the guess.
        best = np.inf
        bi = min(max(int(np.floor(p[m, 0])), 0), nx - 1)
        bj = min(max(int(np.floor(p[m, 1])), 0), ny - 1)
        for stage in range(2):
            if stage == 0:
                if not (np.isfinite(qx) and np.isfinite(qy)):
                    continue
                ci = min(max(int(np.floor(qx)), 0), nx - 1)
                cj = min(max(int(np.floor(qy)), 0), ny - 1)
                half = _NEAR_WINDOW
            else:
                if best <= step * step:
                    break
                ci = int(np.floor(p[m, 0]))
                cj = int(np.floor(p[m, 1]))
                half = window
            for i in range(max(0, ci - half), min(nx - 1, ci + half + 1) + 1):
                for j in range(max(0, cj - half), min(ny - 1, cj + half + 1) + 1):
                    dx = origin[0] + i * step + distortion[0, i, j] - tx_
                    dy = origin[1] + j * step + distortion[1, i, j] - ty_
                    d2 = dx * dx + dy * dy
                    if d2 < best:
                        best = d2
                        bi = i
                        bj = j
        # Gauss–Newton from there, each step clamped to the pixel's neighbourhood, while it improves.
        lo_x, hi_x = max(bi - 1.0, 0.0), min(bi + 1.0, nx - 1.0)
        lo_y, hi_y = max(bj - 1.0, 0.0), min(bj + 1.0, ny - 1.0)
        qx, qy = float(bi), float(bj)
        for _ in range(max_steps):
            fx, fy, a, b, c, e = _landing(distortion, origin, step, tx_, ty_, qx, qy)
            det = a * e - b * c
            if not det != 0.0:
                break
            nxq = min(max(qx - (e * fx - b * fy) / det, lo_x), hi_x)
            nyq = min(max(qy - (a * fy - c * fx) / det, lo_y), hi_y)
            gx, gy, _a, _b, _c, _e = _landing(distortion, origin, step, tx_, ty_, nxq, nyq)
            d2 = gx * gx + gy * gy
            if not d2 < best:
                break
            moved = max(abs(nxq - qx), abs(nyq - qy))
            best = d2
            qx, qy = nxq, nyq
            if moved <= tol:
                break
        p[m, 0] = qx
        p[m, 1] = qy
        miss[m] = np.sqrt(best)


@numba.njit(**_JIT)
def paint_mask(actual, centres, targets, classes, offsets, radius, mask):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    """Paint ``classes[a] + 1`` of the nearest atom within ``radius`` [Å] of each real probe position.

    Atom ``a`` at ``targets[a]`` [Å] is tried on the pixels ``centres[a] + offsets`` (its apparent
    pixel and a stencil around it); a pixel takes the atom at the smallest distance from
    ``actual[i, j]``, the first in order on ties. ``mask`` (n, n) uint8 must start at 0.
    """
    n = actual.shape[0]
    best = np.full((n, n), np.inf)
    r2 = radius * radius
    for a in range(centres.shape[0]):
        for s in range(offsets.shape[0]):
            px = centres[a, 0] + offsets[s, 0]
            py = centres[a, 1] + offsets[s, 1]
            if px < 0 or px >= n or py < 0 or py >= n:
                continue
            dx = actual[px, py, 0] - targets[a, 0]
            dy = actual[px, py, 1] - targets[a, 1]
            d2 = dx * dx + dy * dy
            if d2 < r2 and d2 < best[px, py]:
                best[px, py] = d2
                mask[px, py] = classes[a] + 1
