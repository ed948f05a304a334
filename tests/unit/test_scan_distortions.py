"""Unit tests of stemtwin.twin.scan.distortions: ScanNoise, ProbePositionError, scan_path."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest

from stemtwin.twin.dose import Dose
from stemtwin.twin.errors import ConfigurationError
from stemtwin.twin.scan import ProbePositionError, ScanNoise, ScanPath, frame_time, pixel_times, scan_path

DOSE = Dose(current=30.0, dwell_time=16e-6, flyback_time=60e-6)


# --------------------------------------------------------------------------------------------------
# ScanNoise


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"random_walk_amplitude": -1.0}, "random_walk_amplitude"),
        ({"random_walk_frequency": 0.0}, "random_walk_frequency"),
        ({"sinusoid_frequencies": (50.0,), "sinusoid_amplitudes": (-0.1,)}, "sinusoid_amplitudes[0]"),
        ({"sinusoid_frequencies": (50.0, -60.0), "sinusoid_amplitudes": (0.1, 0.1)}, "sinusoid_frequencies[1]"),
        ({"sinusoid_frequencies": (50.0, 60.0), "sinusoid_amplitudes": (0.1,)}, "sinusoid_frequencies"),
        ({"sinusoid_frequencies": 50.0, "sinusoid_amplitudes": 0.1}, "sinusoid_frequencies"),
        ({"drift": (float("nan"), 0.0)}, "drift[0]"),
        ({"drift": (0.0, float("inf"))}, "drift[1]"),
        ({"drift": (1.0, 2.0, 3.0)}, "drift"),
        ({"flyback_amplitude": -2.0}, "flyback_amplitude"),
        ({"flyback_time_constant": 0.0}, "flyback_time_constant"),
        ({"scale_error": (0.01, -1.0)}, "scale_error[1]"),
        ({"shear": 60.0}, "shear"),
    ],
)
def test_scan_noise_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"`{field}`")):
        ScanNoise(**kwargs)


def test_scan_noise_messages_carry_units_and_value() -> None:
    with pytest.raises(ConfigurationError, match=r"`random_walk_amplitude` must be >= 0 \[Å\], got -1\.5"):
        ScanNoise(random_walk_amplitude=-1.5)


def test_scan_noise_stores_lists_as_tuples_and_is_hashable() -> None:
    noise = ScanNoise(drift=[0.1, 0.2], sinusoid_frequencies=[50, 60], sinusoid_amplitudes=np.array([0.1, 0.2]))
    assert noise.drift == (0.1, 0.2)
    assert noise.sinusoid_frequencies == (50.0, 60.0)
    assert noise.sinusoid_amplitudes == (0.1, 0.2)
    assert all(type(v) is float for v in noise.sinusoid_amplitudes)
    same = ScanNoise(drift=(0.1, 0.2), sinusoid_frequencies=(50.0, 60.0), sinusoid_amplitudes=(0.1, 0.2))
    assert noise == same and hash(noise) == hash(same)


def test_none_and_typical() -> None:
    assert ScanNoise.none().is_zero
    assert ScanNoise.none() == ScanNoise()
    typical = ScanNoise.typical()
    assert not typical.is_zero
    # PHYSICS.md: drift 0.1–0.5 nm/min; 1 nm/min = 10/60 Å/s.
    speed_nm_per_min = math.hypot(*typical.drift) * 60.0 / 10.0
    assert 0.1 <= speed_nm_per_min <= 0.5
    assert typical.sinusoid_frequencies == (30.0, 120.0, 160.0, 430.0, 1000.0, 2725.0)
    np.testing.assert_allclose(typical.sinusoid_amplitudes, [0.15, 0.10, 0.07, 0.04, 0.04, 0.04])
    assert 0.004 <= typical.scale_error[0] <= 0.012 and 0.027 <= typical.scale_error[1] <= 0.036
    assert 0.6 <= typical.shear <= 1.2
    assert typical.random_walk_time == pytest.approx(1.0 / (2.0 * math.pi * 0.08))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drift": (0.0, 1e-3)},
        {"random_walk_amplitude": 0.5},
        {"sinusoid_frequencies": (50.0,), "sinusoid_amplitudes": (0.01,)},
        {"flyback_amplitude": 1.0},
        {"scale_error": (0.01, 0.0)},
        {"shear": -0.5},
    ],
)
def test_is_zero_is_false_for_any_single_distortion(kwargs: dict) -> None:
    assert not ScanNoise(**kwargs).is_zero


def test_zero_amplitude_sinusoid_does_not_distort() -> None:
    assert ScanNoise(sinusoid_frequencies=(50.0,), sinusoid_amplitudes=(0.0,)).is_zero


# --------------------------------------------------------------------------------------------------
# ProbePositionError


def test_displacement_shapes() -> None:
    err = ProbePositionError(ScanNoise.typical(), 0)
    assert err.displacement(0.0).shape == (2,)
    assert err.displacement(np.linspace(0.0, 1.0, 7)).shape == (7, 2)
    assert err.displacement(pixel_times((5, 3), DOSE, t0=2.0)).shape == (5, 3, 2)
    assert err.displacement(np.empty((0,))).shape == (0, 2)


def test_deterministic_for_a_seed() -> None:
    times = pixel_times((32, 16), DOSE)
    a = ProbePositionError(ScanNoise.typical(), 1234).displacement(times)
    b = ProbePositionError(ScanNoise.typical(), np.random.default_rng(1234)).displacement(times)
    c = ProbePositionError(ScanNoise.typical(), 1235).displacement(times)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_times_must_not_go_backwards_between_calls() -> None:
    err = ProbePositionError(ScanNoise(random_walk_amplitude=1.0), 5)
    err.displacement(np.array([0.0, 2.0, 1.0]))  # any order within one call
    assert err.last_time == 2.0
    err.displacement(2.0)  # equal to the last time is fine
    with pytest.raises(ConfigurationError, match=r"`times` must not go backwards.*1\.5.*2\.0"):
        err.displacement(np.array([3.0, 1.5]))
    # A rejected call changes nothing.
    assert err.last_time == 2.0
    with pytest.raises(ConfigurationError, match="`times` must be finite"):
        err.displacement(np.array([3.0, np.nan]))


def test_time_order_within_a_call_does_not_matter() -> None:
    noise = ScanNoise.typical()
    times = np.sort(np.random.default_rng(3).uniform(0.0, 10.0, 500))
    perm = np.random.default_rng(4).permutation(times.size)
    sorted_result = ProbePositionError(noise, 9).displacement(times)
    shuffled_result = ProbePositionError(noise, 9).displacement(times[perm])
    np.testing.assert_allclose(shuffled_result, sorted_result[perm], rtol=0, atol=1e-12)


def test_raster_frame_equals_the_same_times_as_a_sorted_list() -> None:
    noise = ScanNoise.typical()
    times = pixel_times((40, 30), DOSE, t0=3.0)
    frame = ProbePositionError(noise, 21).displacement(times)
    listed = ProbePositionError(noise, 21).displacement(times.ravel(order="F"))
    np.testing.assert_allclose(frame.reshape(-1, 2, order="F"), listed, rtol=0, atol=1e-12)


def test_split_calls_continue_the_same_walk() -> None:
    noise = ScanNoise(random_walk_amplitude=2.0, random_walk_frequency=3.0, drift=(0.1, -0.2))
    times = np.linspace(0.0, 5.0, 4001)
    whole = ProbePositionError(noise, 77).displacement(times)
    err = ProbePositionError(noise, 77)
    parts = np.concatenate([err.displacement(times[:1000]), err.displacement(times[1000:])])
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-12)


def test_random_walk_matches_exact_ou_recursion() -> None:
    # Irregular spacing including gaps far longer than the correlation time.
    sigma, f = 1.5, 4.0
    tau = 1.0 / (2.0 * math.pi * f)
    rng = np.random.default_rng(8)
    times = np.concatenate([np.sort(rng.uniform(0.0, 20.0, 3000)), [500.0, 500.0, 1e4]])
    got = ProbePositionError(ScanNoise(random_walk_amplitude=sigma, random_walk_frequency=f), 42).displacement(times)

    ref_rng = np.random.default_rng(42)  # same draw order: no sinusoids, initial state, then N(0, 1) pairs
    state = sigma * ref_rng.standard_normal(2)
    z = ref_rng.standard_normal((times.size, 2))
    expected = np.empty_like(got)
    prev = times[0]
    for k, t in enumerate(times):
        dt = t - prev
        state = state * math.exp(-dt / tau) + sigma * math.sqrt(1.0 - math.exp(-2.0 * dt / tau)) * z[k]
        expected[k] = state
        prev = t
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_random_walk_rms_and_correlation_time() -> None:
    amplitude, f = 2.0, 0.08
    tau = 1.0 / (2.0 * math.pi * f)
    dt = 0.2
    times = np.arange(0.0, 40_000.0, dt)  # about 20 000 correlation times
    d = ProbePositionError(ScanNoise(random_walk_amplitude=amplitude, random_walk_frequency=f), 2024).displacement(
        times
    )
    rms = np.sqrt(np.mean(d**2, axis=0))
    np.testing.assert_allclose(rms, amplitude, rtol=0.05)
    # Autocorrelation at a lag of one correlation time is 1/e for an OU process.
    lag = int(round(tau / dt))
    for axis in range(2):
        x = d[:, axis]
        r = np.mean(x[:-lag] * x[lag:]) / np.mean(x * x)
        assert r == pytest.approx(math.exp(-lag * dt / tau), abs=0.05)
    # Axes are independent.
    assert abs(np.mean(d[:, 0] * d[:, 1])) / amplitude**2 < 0.05


def test_sinusoid_amplitude_recovered_by_fft() -> None:
    freqs, amps = (50.0, 120.0), (0.15, 0.04)
    fs, n = 2000.0, 4000  # 2 s: whole number of periods of every sinusoid, no leakage
    times = np.arange(n) / fs
    err = ProbePositionError(ScanNoise(sinusoid_frequencies=freqs, sinusoid_amplitudes=amps), 11)
    d = err.displacement(times)
    spectrum = np.fft.rfft(d, axis=0) * 2.0 / n  # (n_freq, 2) complex amplitudes per axis
    bins = np.fft.rfftfreq(n, 1.0 / fs)
    power = np.sum(np.abs(spectrum) ** 2, axis=1)
    for f, a in zip(freqs, amps):
        k = int(np.argmin(np.abs(bins - f)))
        assert np.sqrt(power[k]) == pytest.approx(a, rel=1e-9)
        # Direction drawn at construction: the per-axis amplitudes are a·|u|.
        np.testing.assert_allclose(np.abs(spectrum[k]), a * np.abs(err.directions[list(freqs).index(f)]), atol=1e-12)
    others = np.ones(bins.size, dtype=bool)
    others[[int(np.argmin(np.abs(bins - f))) for f in freqs]] = False
    assert np.sqrt(power[others].max()) < 1e-9


def test_sinusoid_phases_are_random() -> None:
    noise = ScanNoise(sinusoid_frequencies=(50.0, 60.0, 70.0), sinusoid_amplitudes=(0.1, 0.1, 0.1))
    p1 = ProbePositionError(noise, 1).phases
    p2 = ProbePositionError(noise, 2).phases
    assert np.all((p1 >= 0) & (p1 < 2 * math.pi))
    assert np.abs(p1 - p2).min() > 1e-6


def test_drift_only_is_exactly_linear() -> None:
    drift = (0.04, -0.03)
    err = ProbePositionError(ScanNoise(drift=drift), 0)
    times = pixel_times((16, 8), DOSE, t0=100.0)
    d = err.displacement(times)
    np.testing.assert_array_equal(d, times[..., None] * np.array(drift))


def test_pickle_round_trip_continues_identically() -> None:
    err = ProbePositionError(ScanNoise.typical(), 31)
    first = pixel_times((24, 24), DOSE)
    err.displacement(first)
    clone = pickle.loads(pickle.dumps(err))
    t0 = float(first.max()) + 1e-3
    following = pixel_times((24, 24), DOSE, t0=t0)
    np.testing.assert_array_equal(clone.displacement(following), err.displacement(following))
    assert clone.last_time == err.last_time


def test_rejects_non_scan_noise() -> None:
    with pytest.raises(ConfigurationError, match="`noise`"):
        ProbePositionError({"drift": (0.1, 0.1)}, 0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# scan_path

ORIGIN, EXTENT, PIXELS = (-3.7, 12.1), (17.3, 9.1), (13, 7)


def test_no_distortion_gives_nominal_positions_exactly() -> None:
    path = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, None, ScanNoise.none(), t0=2.5)
    assert isinstance(path, ScanPath)
    assert path.nominal.shape == (13, 7, 2) and path.times.shape == (13, 7)
    np.testing.assert_array_equal(path.actual, path.nominal)
    i, j = np.meshgrid(np.arange(13), np.arange(7), indexing="ij")
    np.testing.assert_allclose(path.nominal[..., 0], -3.7 + i * 17.3 / 13, rtol=0, atol=1e-12)
    np.testing.assert_allclose(path.nominal[..., 1], 12.1 + j * 9.1 / 7, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(path.times, pixel_times(PIXELS, DOSE, t0=2.5))
    assert path.end_time == pytest.approx(2.5 + frame_time(PIXELS, DOSE), rel=1e-15)
    # A probe error with nothing time-dependent adds exact zeros.
    with_error = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, ProbePositionError(ScanNoise.none(), 0), ScanNoise.none())
    np.testing.assert_array_equal(with_error.actual, with_error.nominal)


def test_scan_path_arrays_are_read_only() -> None:
    path = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, None, ScanNoise.none())
    with pytest.raises(ValueError):
        path.actual[0, 0, 0] = 1.0


def test_flyback_displaces_the_start_of_each_line_along_x() -> None:
    amplitude, tau_c = 3.0, 60e-6
    noise = ScanNoise(flyback_amplitude=amplitude, flyback_time_constant=tau_c)
    nx, ny = 64, 5
    extent = (32.0, 10.0)
    path = scan_path((0.0, 0.0), extent, (nx, ny), DOSE, None, noise)
    d = path.displacement
    px = extent[0] / nx
    np.testing.assert_array_equal(d[..., 1], 0.0)
    expected = amplitude * px * np.exp(-np.arange(nx) * DOSE.dwell_time / tau_c)
    for j in range(ny):  # the same transient on every line
        np.testing.assert_allclose(d[:, j, 0], expected, rtol=0, atol=1e-12)
    assert d[0, 0, 0] == pytest.approx(amplitude * px)
    assert np.all(np.diff(d[:, 0, 0]) < 0)  # decays monotonically
    assert d[30, 0, 0] < 1e-3 * d[0, 0, 0]  # gone after ~8 τc


def test_scale_and_shear_are_applied_about_the_origin() -> None:
    sx, sy, shear_deg = 0.012, -0.03, 1.1
    noise = ScanNoise(scale_error=(sx, sy), shear=shear_deg)
    path = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, None, noise)
    x, y = path.nominal[..., 0], path.nominal[..., 1]
    x0, y0 = ORIGIN
    np.testing.assert_allclose(
        path.actual[..., 0], x0 + (x - x0) * (1 + sx) + (y - y0) * math.tan(math.radians(shear_deg)), atol=1e-12
    )
    np.testing.assert_allclose(path.actual[..., 1], y0 + (y - y0) * (1 + sy), atol=1e-12)
    # The first pixel stays on the origin; the far corner moves by the expected amount.
    np.testing.assert_array_equal(path.actual[0, 0], path.nominal[0, 0])
    corner = path.actual[-1, -1] - path.nominal[-1, -1]
    lx, ly = (13 - 1) * 17.3 / 13, (7 - 1) * 9.1 / 7
    assert corner[0] == pytest.approx(lx * sx + ly * math.tan(math.radians(shear_deg)), rel=1e-9)
    assert corner[1] == pytest.approx(ly * sy, rel=1e-9)


def test_scan_path_adds_the_probe_error_at_the_pixel_times() -> None:
    noise = ScanNoise.typical()
    err_a, err_b = ProbePositionError(noise, 5), ProbePositionError(noise, 5)
    static = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, None, noise, t0=1.0)
    path = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, err_a, noise, t0=1.0)
    np.testing.assert_allclose(path.actual - static.actual, err_b.displacement(path.times), atol=1e-12)
    # The error object advanced: the same frame cannot be scanned again with it.
    with pytest.raises(ConfigurationError, match="`times`"):
        scan_path(ORIGIN, EXTENT, PIXELS, DOSE, err_a, noise, t0=1.0)
    nxt = scan_path(ORIGIN, EXTENT, PIXELS, DOSE, err_a, noise, t0=path.end_time)
    assert nxt.start_time == path.end_time


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"extent": (-1.0, 5.0)}, "extent[0]"),
        ({"origin": (float("nan"), 0.0)}, "origin[0]"),
        ({"pixels": (0, 4)}, "pixels[0]"),
        ({"error": "drift"}, "error"),
        ({"noise": None}, "noise"),
        ({"t0": float("inf")}, "t0"),
    ],
)
def test_scan_path_validation(kwargs: dict, field: str) -> None:
    args = {
        "origin": (0.0, 0.0),
        "extent": (10.0, 10.0),
        "pixels": (8, 8),
        "dose": DOSE,
        "error": None,
        "noise": ScanNoise.none(),
    }
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=re.escape(f"`{field}`")):
        scan_path(**args)
