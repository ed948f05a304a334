"""The compiled loops of the data-set synthesis against direct numpy evaluations."""

from __future__ import annotations

import numpy as np
import pytest

from stemtwin.twin.datasets.kernels import invert_distortion, paint_mask

STEP = 0.125  # Å per pixel
N = 48


def landing(distortion: np.ndarray, origin: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Where the probe lands at pixel coordinates p (m, 2), D bilinear and clamped (numpy)."""
    q = np.clip(p, 0.0, N - 1.0)
    i = np.minimum(q.astype(int), N - 2)
    t = q - i
    tx, ty = t[:, 0], t[:, 1]
    i0, j0 = i[:, 0], i[:, 1]
    out = np.empty_like(p)
    for c in range(2):
        g = distortion[c]
        d = (
            g[i0, j0] * (1 - tx) * (1 - ty)
            + g[i0 + 1, j0] * tx * (1 - ty)
            + g[i0, j0 + 1] * (1 - tx) * ty
            + g[i0 + 1, j0 + 1] * tx * ty
        )
        out[:, c] = origin[c] + p[:, c] * STEP + d
    return out


def field(jitter: float) -> np.ndarray:
    """A smooth drift-like distortion (2, N, N) [Å] plus a line-to-line jitter along the slow axis."""
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    rng = np.random.default_rng(4)
    line = rng.normal(0.0, jitter, size=(2, 1, N))
    smooth = np.stack([0.3 * np.sin(j / 9.0) + 0.002 * i, 0.2 * np.cos(i / 11.0) + 0.004 * j])
    return np.ascontiguousarray((smooth + line).astype(np.float32))


def solve(distortion: np.ndarray, origin: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([(distortion[c].min() + distortion[c].max()) / 2 for c in range(2)])
    spread = float(max(distortion[c].max() - distortion[c].min() for c in range(2))) / 2
    p = np.ascontiguousarray((targets - origin - mean) / STEP)
    miss = np.zeros(len(targets))
    invert_distortion(distortion, origin, STEP, np.ascontiguousarray(targets), p, miss, int(np.ceil(spread / STEP)) + 2, 20, 1e-4)
    return p, miss


def test_inversion_lands_on_the_targets_of_a_smooth_scan() -> None:
    distortion, origin = field(jitter=0.0), np.array([2.0, -1.0])
    targets = origin + np.random.default_rng(0).uniform(0.5, (N - 2) * STEP, size=(200, 2))
    p, miss = solve(distortion, origin, targets)
    assert np.all(miss == 0.0)
    np.testing.assert_allclose(landing(distortion, origin, p), targets, atol=1e-5)


def test_inversion_of_a_folded_scan_reports_the_nearest_approach() -> None:
    # Line jitter of 0.3 Å against a 0.125 Å line spacing folds the scan.
    distortion, origin = field(jitter=0.3), np.array([0.0, 0.0])
    targets = origin + np.random.default_rng(1).uniform(1.0, (N - 3) * STEP, size=(300, 2))
    p, miss = solve(distortion, origin, targets)
    assert np.all(np.isfinite(p)) and np.all(miss >= 0.0)
    assert np.any(miss > 0.0)  # some targets are passed over by no line
    reached = np.linalg.norm(landing(distortion, origin, p) - targets, axis=1)
    np.testing.assert_allclose(reached, miss, atol=1e-6)  # miss is the distance actually left
    # No pixel lands nearer to a target than the reported approach.
    pix = np.stack(np.meshgrid(np.arange(N), np.arange(N), indexing="ij"), -1).reshape(-1, 2).astype(float)
    landed = landing(distortion, origin, pix)
    nearest = np.min(np.linalg.norm(landed[None, :, :] - targets[:, None, :], axis=2), axis=1)
    assert np.all(miss <= nearest + 1e-6)
    # Targets placed exactly where a probe landed are found with no miss.
    on = landed[np.random.default_rng(2).choice(len(landed), 50, replace=False)]
    p_on, miss_on = solve(distortion, origin, on)
    assert np.all(miss_on < 1e-4)


@pytest.mark.parametrize("radius", [0.3, 0.7])
def test_mask_paints_the_nearest_atom_within_the_radius(radius: float) -> None:
    rng = np.random.default_rng(3)
    actual = np.stack(np.meshgrid(np.arange(N), np.arange(N), indexing="ij"), -1) * STEP + rng.normal(0, 0.02, (N, N, 2))
    atoms = rng.uniform(0.0, N * STEP, size=(60, 2))
    classes = rng.integers(0, 4, size=60)
    centre = np.rint(atoms / STEP).astype(np.int64)
    h = radius / STEP * 1.25 + 1.0
    k = int(np.ceil(h))
    ox, oy = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij")
    keep = ox**2 + oy**2 <= h * h
    offsets = np.ascontiguousarray(np.stack([ox[keep], oy[keep]], axis=1), dtype=np.int64)
    mask = np.zeros((N, N), dtype=np.uint8)
    paint_mask(np.ascontiguousarray(actual), centre, np.ascontiguousarray(atoms), classes.astype(np.int64), offsets, radius, mask)
    d = np.linalg.norm(actual[:, :, None, :] - atoms[None, None, :, :], axis=-1)  # (N, N, atoms)
    nearest = np.argmin(d, axis=-1)
    want = np.where(np.min(d, axis=-1) < radius, classes[nearest] + 1, 0)
    assert np.array_equal(mask, want)
    assert 0 < (mask > 0).mean() < 1
