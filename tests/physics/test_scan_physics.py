"""Physics checks of the scan: a known drift recovered by registration, and Poisson shot noise.

PHYSICS.md, "Scan distortions" and "Dose and shot noise".
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.filters import window
from skimage.registration import phase_cross_correlation

from stemtwin.twin.dose import Dose
from stemtwin.twin.errors import ConfigurationError
from stemtwin.twin.scan import ProbePositionError, ScanNoise, detector_counts, frame_time, scan_path

# --------------------------------------------------------------------------------------------------
# Drift between consecutive frames


class _BlobField:
    """An analytic, non-periodic test object: Gaussian blobs of several widths at random points."""

    def __init__(self, extent: float, n: int = 900, margin: float = 8.0, seed: int = 20240611) -> None:
        rng = np.random.default_rng(seed)
        self.centres = rng.uniform(-margin, extent + margin, size=(n, 2))
        self.widths = rng.choice([0.5, 0.8, 1.5, 3.0], size=n, p=[0.4, 0.3, 0.2, 0.1])
        self.heights = rng.uniform(0.5, 1.5, size=n)

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """Intensity at ``positions`` of shape (nx, ny, 2) [Å]; returns shape (nx, ny)."""
        p = positions.reshape(-1, 2)
        image = np.zeros(p.shape[0])
        for (cx, cy), w, h in zip(self.centres, self.widths, self.heights):
            image += h * np.exp(-((p[:, 0] - cx) ** 2 + (p[:, 1] - cy) ** 2) / (2.0 * w * w))
        return image.reshape(positions.shape[:2])


def _register(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Shift (in pixels, (x, y)) that registers ``moving`` onto ``reference``: moving[r] ≈ reference[r + s].

    The images are not periodic, so both are Hann-windowed to keep the wrap-around edges from
    pinning the correlation peak at zero.
    """
    win = window("hann", reference.shape)
    shift, _, _ = phase_cross_correlation(
        (reference - reference.mean()) * win, (moving - moving.mean()) * win, upsample_factor=100
    )
    # skimage returns the shift that moves `moving` onto `reference`: reference[r] = moving[r - shift],
    # i.e. moving[r] = reference[r + shift].
    return np.asarray(shift, dtype=np.float64)


@pytest.mark.parametrize("target_px", [(1.37, -0.83), (-0.62, 1.18)])
def test_known_drift_recovered_between_consecutive_frames(target_px: tuple[float, float]) -> None:
    nx = ny = 128
    pixel_size = 0.5  # [Å]
    extent = nx * pixel_size
    dose = Dose(current=30.0, dwell_time=1e-3, flyback_time=60e-6)
    period = frame_time((nx, ny), dose)  # about 16.4 s
    # A realistic drift of about 0.3 nm/min that moves the probe by `target_px` pixels per frame.
    drift = tuple(float(s) * pixel_size / period for s in target_px)
    assert 0.1 <= np.hypot(*drift) * 6.0 <= 0.5  # [nm/min]

    noise = ScanNoise(drift=drift)
    error = ProbePositionError(noise, 0)
    frame1 = scan_path((0.0, 0.0), (extent, extent), (nx, ny), dose, error, noise, t0=0.0)
    frame2 = scan_path((0.0, 0.0), (extent, extent), (nx, ny), dose, error, noise, t0=frame1.end_time)
    assert frame2.times[0, 0] == frame1.end_time

    sample = _BlobField(extent)
    image1, image2 = sample(frame1.actual), sample(frame2.actual)
    # The probe drifts by +v·T, so frame 2 samples the object at r + v·T: image2[r] = image1[r + v·T/px],
    # the sample appearing to move by −v·T.
    shift = _register(image1, image2)
    expected = np.array(drift) * period / pixel_size
    np.testing.assert_allclose(expected, target_px, rtol=1e-12)
    assert np.all(np.abs(shift - expected) < 0.1), (shift, expected)

    # Tighter: drift during the frame also stretches and shears the image (the scan moves with the
    # drift), so the shift in pixels of the distorted raster solves the affine map exactly.
    tau, line = dose.dwell_time, nx * dose.dwell_time + dose.flyback_time
    vx, vy = drift
    raster = np.array([[pixel_size + vx * tau, vx * line], [vy * tau, pixel_size + vy * line]])
    exact = np.linalg.solve(raster, np.array(drift) * period)
    assert np.all(np.abs(shift - exact) < 0.04), (shift, exact)


def test_without_drift_consecutive_frames_are_identical() -> None:
    noise = ScanNoise.none()
    error = ProbePositionError(noise, 0)
    dose = Dose(dwell_time=1e-3)
    f1 = scan_path((0.0, 0.0), (16.0, 16.0), (32, 32), dose, error, noise)
    f2 = scan_path((0.0, 0.0), (16.0, 16.0), (32, 32), dose, error, noise, t0=f1.end_time)
    np.testing.assert_array_equal(f1.actual, f2.actual)


# --------------------------------------------------------------------------------------------------
# Shot noise


def test_counts_are_poisson_with_mean_n_f() -> None:
    electrons, fraction = 1000.0, 0.05  # N·f = 50
    n = 100_000
    counts = detector_counts(np.full(n, fraction), electrons, rng=12345)
    assert counts.dtype == np.float32 and counts.shape == (n,)
    assert np.array_equal(counts, np.round(counts))  # integers without read noise
    mu = electrons * fraction
    se_mean = np.sqrt(mu / n)
    se_var = np.sqrt((mu + 2.0 * mu**2) / n)  # Var(s²) for a Poisson variable
    c = counts.astype(np.float64)
    assert abs(c.mean() - mu) < 4 * se_mean
    assert abs(c.var(ddof=1) - mu) < 4 * se_var
    # Poisson skewness 1/√μ, which a Gaussian approximation would lack.
    skew = np.mean((c - c.mean()) ** 3) / c.std() ** 3
    assert abs(skew - 1.0 / np.sqrt(mu)) < 4 * np.sqrt(6.0 / n)


def test_read_noise_adds_its_variance() -> None:
    n, mu, sigma = 100_000, 20.0, 3.0
    counts = detector_counts(np.full(n, 0.5), 40.0, rng=7, read_noise=sigma).astype(np.float64)
    expected_var = mu + sigma**2
    assert abs(counts.mean() - mu) < 4 * np.sqrt(expected_var / n)
    assert abs(counts.var(ddof=1) - expected_var) < 4 * np.sqrt(2.0 * expected_var**2 / n + mu / n)


def test_zero_electrons_give_exactly_zero_counts() -> None:
    fraction = np.random.default_rng(0).uniform(0.0, 1.0, size=(64, 64))
    counts = detector_counts(fraction, 0.0, rng=1)
    assert counts.shape == (64, 64) and counts.dtype == np.float32
    assert np.all(counts == 0.0)
    # Per-position electrons: zero where the beam was blanked.
    electrons = np.where(np.arange(64)[:, None] < 32, 0.0, 500.0) * np.ones((64, 64))
    counts = detector_counts(fraction, electrons, rng=2)
    assert np.all(counts[:32] == 0.0) and counts[32:].sum() > 0


def test_counts_are_reproducible_for_a_seed() -> None:
    fraction = np.linspace(0.0, 0.2, 1000)
    a = detector_counts(fraction, 3000.0, rng=99, read_noise=1.0)
    b = detector_counts(fraction, 3000.0, rng=np.random.default_rng(99), read_noise=1.0)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("read_noise", [0.0, 0.8])
def test_counts_are_numpys_poisson_then_normal_draws(read_noise: float) -> None:
    # The compiled sampler draws exactly what rng.poisson(λ) then rng.normal(0, σ, size) draw,
    # over small means (inversion) and large ones (numpy's PTRS rejection, λ >= 10).
    lam = np.random.default_rng(3).lognormal(0.0, 2.0, size=(40, 50))
    assert lam.min() < 1.0 and lam.max() > 100.0
    rng = np.random.default_rng(17)
    want = rng.poisson(lam).astype(np.float64)
    if read_noise:
        want += rng.normal(0.0, read_noise, size=lam.shape)
    got = detector_counts(lam, 1.0, rng=17, read_noise=read_noise)
    assert got.dtype == np.float32 and got.tobytes() == want.astype(np.float32).tobytes()
    stack = np.full((3, *lam.shape), -7.0, dtype=np.float32)  # into a row of a preallocated stack
    into = detector_counts(lam, 1.0, rng=17, read_noise=read_noise, out=stack[1])
    assert np.shares_memory(into, stack) and stack[1].tobytes() == got.tobytes()
    assert np.all(stack[0] == -7.0) and np.all(stack[2] == -7.0)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"fraction": np.array([0.1, -0.2])}, r"`fraction` must be finite and >= 0.*-0\.2"),
        ({"fraction": np.array([0.1, np.nan])}, r"`fraction` must be finite"),
        ({"electrons": -5.0}, r"`electrons` must be finite and >= 0 \[e⁻\], got -5\.0"),
        ({"electrons": np.inf}, r"`electrons` must be finite"),
        ({"read_noise": -1.0}, r"`read_noise` must be >= 0 \[counts\]"),
        ({"electrons": np.ones(3)}, r"`electrons` of shape \(3,\) does not broadcast"),
        ({"fraction": np.array([0.1, np.inf])}, r"`fraction` must be finite and >= 0, got inf at index \(1,\)"),
        ({"out": np.empty(2)}, r"`out` must be a writable C-contiguous float32 array of shape \(2,\), got float64 \(2,\)"),
        ({"out": np.empty(3, dtype=np.float32)}, r"`out` must be .* of shape \(2,\), got float32 \(3,\)"),
        ({"out": np.empty((2, 2), dtype=np.float32)[:, 0]}, r"`out` must be a writable C-contiguous"),
        ({"out": [0.0, 0.0]}, r"`out` must be .*, got list"),
    ],
)
def test_detector_counts_validation(kwargs: dict, pattern: str) -> None:
    args = {"fraction": np.array([0.1, 0.2]), "electrons": 100.0, "rng": 0}
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=pattern):
        detector_counts(**args)
