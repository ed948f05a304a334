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
    Newton's method for the scan pixel at which the real probe lands on a given point.
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
    origin, rel_x, rel_y, scale_x, scale_y, shear, kick, slow, slow_row, slow_weight, vib, actual, distortion  # noqa: ANN001
):
    """Actual probe positions and their distortion for a raster frame (x fast).

    For pixel (i, j), with nominal position ``origin + (rel_x[i], rel_y[j])`` [Å]::

        actual_x = x0 + rel_x[i]·(1 + scale_x) + rel_y[j]·shear + kick[i] + s_x + v_x
        actual_y = y0 + rel_y[j]·(1 + scale_y) + s_y + v_y

    as :func:`~stemtwin.twin.scan.scan_path` composes them, where ``s`` is the slow error
    interpolated linearly between the coarse rows ``slow[slow_row[i]]`` and ``slow[slow_row[i] + 1]``
    with weight ``slow_weight[i]`` (``slow`` of shape (nc, ny, 2); nc = 0 for none), and ``v`` is
    ``vib[i, j]`` (shape (nx, ny, 2), or (0, 0, 2) for none). Writes ``actual`` (nx, ny, 2) and
    ``distortion`` (actual − nominal, component first: (2, nx, ny), e.g. float32) [Å].
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
            if has_slow:
                ax += slow[k, j, 0] * (1.0 - w) + slow[k + 1, j, 0] * w
                ay += slow[k, j, 1] * (1.0 - w) + slow[k + 1, j, 1] * w
            if has_vib:
                ax += vib[i, j, 0]
                ay += vib[i, j, 1]
            actual[i, j, 0] = ax
            actual[i, j, 1] = ay
            distortion[0, i, j] = ax - (x0 + rel_x[i])
            distortion[1, i, j] = ay - (y0 + rel_y[j])


@numba.njit(**_JIT)
def invert_distortion(distortion, origin, step, targets, p, max_steps, tol):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
    """Solve ``origin + p·step + D(p) = target`` for the scan pixel coordinates ``p`` of each target.

    ``D`` is the distortion field (2, nx, ny) [Å] (component first) interpolated bilinearly between pixels and clamped
    to the grid (constant outside it). ``p`` (m, 2) holds the starting guesses and receives the
    solutions; each target takes Newton steps until a step is at most ``tol`` pixels or
    ``max_steps`` were taken.
    """
    nx = distortion.shape[1]
    ny = distortion.shape[2]
    for m in range(targets.shape[0]):
        qx = p[m, 0]
        qy = p[m, 1]
        for _ in range(max_steps):
            cx = min(max(qx, 0.0), nx - 1.0)
            cy = min(max(qy, 0.0), ny - 1.0)
            i = min(int(cx), nx - 2)
            j = min(int(cy), ny - 2)
            tx = cx - i
            ty = cy - j
            inside_x = 1.0 if 0.0 <= qx <= nx - 1.0 else 0.0
            inside_y = 1.0 if 0.0 <= qy <= ny - 1.0 else 0.0
            # x component of D, then y (bilinear value and its derivatives along both axes)
            g00, g10, g01, g11 = distortion[0, i, j], distortion[0, i + 1, j], distortion[0, i, j + 1], distortion[0, i + 1, j + 1]
            fx = origin[0] + qx * step - targets[m, 0]
            fx += g00 * (1 - tx) * (1 - ty) + g10 * tx * (1 - ty) + g01 * (1 - tx) * ty + g11 * tx * ty
            a = step + ((g10 - g00) * (1 - ty) + (g11 - g01) * ty) * inside_x
            b = ((g01 - g00) * (1 - tx) + (g11 - g10) * tx) * inside_y
            g00, g10, g01, g11 = distortion[1, i, j], distortion[1, i + 1, j], distortion[1, i, j + 1], distortion[1, i + 1, j + 1]
            fy = origin[1] + qy * step - targets[m, 1]
            fy += g00 * (1 - tx) * (1 - ty) + g10 * tx * (1 - ty) + g01 * (1 - tx) * ty + g11 * tx * ty
            c = ((g10 - g00) * (1 - ty) + (g11 - g01) * ty) * inside_x
            e = step + ((g01 - g00) * (1 - tx) + (g11 - g10) * tx) * inside_y
            det = a * e - b * c
            dx = (e * fx - b * fy) / det
            dy = (a * fy - c * fx) / det
            qx -= dx
            qy -= dy
            if max(abs(dx), abs(dy)) <= tol:
                break
        p[m, 0] = qx
        p[m, 1] = qy


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
