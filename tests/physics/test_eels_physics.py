"""Physics checks of the EELS model against tabulated values (PHYSICS.md, "EELS")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import argrelmax

from stemtwin.twin.optics import Optics
from stemtwin.twin.samples.graphene import build_graphene
from stemtwin.twin.samples.sample import Sample
from stemtwin.twin.signals.eels import (
    EDGE_ONSETS,
    SI_L23_4FOLD_THRESHOLD,
    SI_L23_FIT_WINDOW,
    EELSModel,
    edge_signal,
    poisson_counts,
    power_law_background,
    si_l23_fine_structure_ratio,
)
from stemtwin.twin.signals.eels_templates import BARN
from stemtwin.twin.spectrometer import Spectrometer

C_K_FIT = (250.0, 281.0)
SI_SIGNAL = (99.0, 130.0)


@pytest.fixture(scope="module")
def sample() -> Sample:
    return build_graphene(30.0, n_si_3fold=2, n_si_4fold=2, rng=1)


@pytest.fixture(scope="module")
def model(sample: Sample) -> EELSModel:
    return EELSModel(sample, Spectrometer(), Optics())


def _si_positions(sample: Sample) -> np.ndarray:
    return sample.positions[np.isin(sample.elements, ["Si"]), :2]


def _distance_to_si(sample: Sample, p: np.ndarray) -> float:
    box = np.asarray(sample.extent)
    d = np.abs(_si_positions(sample) - p)
    d = np.minimum(d, box - d)
    return float(np.hypot(d[:, 0], d[:, 1]).min())


def _far_carbon(sample: Sample, distance: float) -> np.ndarray:
    for p in sample.positions[sample.indices_of("C_pristine"), :2]:
        if _distance_to_si(sample, p) > distance:
            return p
    raise AssertionError("no pristine C that far from every Si")


Window = tuple[float, float]


def _detected_onset(
    energy: np.ndarray, spectrum: np.ndarray, fit: Window, search: Window, fraction: float = 0.2
) -> float:
    """Energy where the background-subtracted signal first exceeds ``fraction`` of its maximum."""
    signal = spectrum - power_law_background(energy, spectrum, fit)
    mask = (energy >= search[0]) & (energy < search[1])
    level = fraction * signal[mask].max()
    i = np.flatnonzero(mask & (signal > level))[0]
    return float(energy[i - 1] + (level - signal[i - 1]) / (signal[i] - signal[i - 1]) * (energy[i] - energy[i - 1]))


def _steepest_rise(energy: np.ndarray, spectrum: np.ndarray, fit: Window, search: Window) -> float:
    """Energy of the largest slope of the background-subtracted signal."""
    signal = spectrum - power_law_background(energy, spectrum, fit)
    mask = (energy >= search[0]) & (energy < search[1])
    slope = np.gradient(signal, energy)
    return float(energy[mask][np.argmax(slope[mask])])


# --- (a) edge onsets ------------------------------------------------------------------------------
def test_c_k_onset_within_1_ev(model: EELSModel, sample: Sample) -> None:
    e = model.energy_axis
    spectrum = model.noise_free(_far_carbon(sample, 8.0))
    onset = EDGE_ONSETS["C"]["K"]
    assert abs(_detected_onset(e, spectrum, C_K_FIT, (270.0, 320.0)) - onset) < 1.0
    assert abs(_steepest_rise(e, spectrum, C_K_FIT, (270.0, 320.0)) - onset) < 1.0


@pytest.mark.parametrize("site", ["Si_3fold", "Si_4fold"])
def test_si_l23_onset_within_1_ev(model: EELSModel, sample: Sample, site: str) -> None:
    e = model.energy_axis
    onset = EDGE_ONSETS["Si"]["L2,3"]
    for i in sample.indices_of(site):
        spectrum = model.noise_free(sample.positions[i, :2])
        assert abs(_detected_onset(e, spectrum, SI_L23_FIT_WINDOW, (90.0, 130.0)) - onset) < 1.0
        assert abs(_steepest_rise(e, spectrum, SI_L23_FIT_WINDOW, (90.0, 130.0)) - onset) < 1.0


# --- (b) localisation of the Si signal -----------------------------------------------------------
def test_si_signal_is_localised(model: EELSModel, sample: Sample) -> None:
    e = model.energy_axis
    si = sample.positions[sample.indices_of("Si_3fold")[0], :2]
    on = edge_signal(e, model.noise_free(si), SI_SIGNAL, SI_L23_FIT_WINDOW)
    assert on > 0
    angles = np.linspace(0.0, 2 * np.pi, 36, endpoint=False)
    ring = [si + 8.0 * np.array([np.cos(a), np.sin(a)]) for a in angles]
    ring = [p for p in ring if _distance_to_si(sample, p) >= 8.0 - 1e-9]
    assert ring, "no position 8 Å from every Si"
    for p in ring:
        off = edge_signal(e, model.noise_free(p), SI_SIGNAL, SI_L23_FIT_WINDOW)
        assert on > 20.0 * abs(off)
    far = edge_signal(e, model.noise_free(_far_carbon(sample, 12.0)), SI_SIGNAL, SI_L23_FIT_WINDOW)
    assert abs(far) < 0.01 * on


def test_si_signal_falls_off_as_the_core_loss_gaussian(model: EELSModel, sample: Sample) -> None:
    """The Si L2,3 signal at distance r follows exp(−r²/2σ²), σ² = probe_sigma² + 1 Å² (PHYSICS.md)."""
    e = model.energy_axis
    si = sample.positions[sample.indices_of("Si_4fold")[0], :2]
    on = edge_signal(e, model.noise_free(si), SI_SIGNAL, SI_L23_FIT_WINDOW)
    sigma2 = 0.34**2 + 1.0**2
    for r in (0.5, 1.0, 2.0):
        got = edge_signal(e, model.noise_free(si + np.array([r, 0.0])), SI_SIGNAL, SI_L23_FIT_WINDOW) / on
        assert got == pytest.approx(np.exp(-(r**2) / (2 * sigma2)), rel=0.03)


# --- (c) 3-fold versus 4-fold Si -----------------------------------------------------------------
def test_fine_structure_ratio_separates_3fold_and_4fold(model: EELSModel, sample: Sample) -> None:
    e = model.energy_axis
    def feature(site: str) -> list[float]:
        return [si_l23_fine_structure_ratio(e, model.noise_free(sample.positions[i, :2])) for i in sample.indices_of(site)]

    f3, f4 = feature("Si_3fold"), feature("Si_4fold")
    assert max(f3) < SI_L23_4FOLD_THRESHOLD < min(f4)
    assert min(f4) - max(f3) > 0.2
    assert min(f4) / max(f3) > 2.0


def test_fine_structure_ratio_separates_with_poisson_noise(model: EELSModel, sample: Sample) -> None:
    """At 1e7 incident electrons (≈50 ms at 30 pA) the feature still separates the two sites."""
    e = model.energy_axis
    s3 = model.noise_free(sample.positions[sample.indices_of("Si_3fold")[0], :2])
    s4 = model.noise_free(sample.positions[sample.indices_of("Si_4fold")[0], :2])
    rng = np.random.default_rng(2024)
    f3 = np.array([si_l23_fine_structure_ratio(e, poisson_counts(s3, 1e7, rng)) for _ in range(12)])
    f4 = np.array([si_l23_fine_structure_ratio(e, poisson_counts(s4, 1e7, rng)) for _ in range(12)])
    assert f3.max() < SI_L23_4FOLD_THRESHOLD < f4.min()
    assert f4.mean() - f3.mean() > 3.0 * np.hypot(f3.std(), f4.std())


def test_noise_at_low_dose_blurs_the_feature(model: EELSModel, sample: Sample) -> None:
    """At 1e5 electrons the classes overlap: the separation above is a property of the dose."""
    e = model.energy_axis
    s3 = model.noise_free(sample.positions[sample.indices_of("Si_3fold")[0], :2])
    s4 = model.noise_free(sample.positions[sample.indices_of("Si_4fold")[0], :2])
    rng = np.random.default_rng(5)
    f3 = np.array([si_l23_fine_structure_ratio(e, poisson_counts(s3, 1e5, rng)) for _ in range(40)])
    f4 = np.array([si_l23_fine_structure_ratio(e, poisson_counts(s4, 1e5, rng)) for _ in range(40)])
    f3, f4 = f3[np.isfinite(f3)], f4[np.isfinite(f4)]
    assert f4.mean() - f3.mean() < 3.0 * np.hypot(f3.std(), f4.std())


# --- (d) C K fine structure ------------------------------------------------------------------------
def test_c_k_pi_star_and_sigma_star(model: EELSModel, sample: Sample) -> None:
    e = model.energy_axis
    spectrum = model.noise_free(_far_carbon(sample, 8.0))
    signal = spectrum - power_law_background(e, spectrum, C_K_FIT)
    maxima = e[argrelmax(signal)[0]]
    pi_star = maxima[(maxima > 283.0) & (maxima < 288.0)]
    sigma_star = maxima[(maxima > 288.0) & (maxima < 297.0)]
    assert pi_star.size == 1 and abs(pi_star[0] - 285.0) < 0.5
    assert sigma_star.size == 1 and abs(sigma_star[0] - 292.0) < 1.0
    trough = signal[(e > 286.0) & (e < 290.0)].min()
    assert signal[np.argmin(np.abs(e - pi_star[0]))] > 1.5 * trough
    assert signal[np.argmin(np.abs(e - sigma_star[0]))] > 1.2 * trough


# --- magnitudes --------------------------------------------------------------------------------------
def test_c_k_cross_section_is_about_1e4_barn(model: EELSModel) -> None:
    """PHYSICS.md: C K-edge ionisation about 10⁴ b; the table quotes it for 80 keV and 30 mrad."""
    e = model.energy_axis
    window = (e >= 284.0) & (e < 334.0)
    sigma = model.class_templates["C_pristine"][window].sum() / BARN
    assert sigma == pytest.approx(1.0e4, rel=0.05)


def test_areal_sum_rule(model: EELSModel, sample: Sample) -> None:
    """Averaged over the cell, the core loss is Σ_atoms template / area (the weights are normalised)."""
    n = 48
    lx, ly = sample.extent
    grid = np.stack(np.meshgrid((np.arange(n) + 0.5) * lx / n, (np.arange(n) + 0.5) * ly / n, indexing="ij"), -1)
    mean = model.core_loss(grid).astype(np.float64).mean(axis=(0, 1))
    labels = model.template_labels
    counts = np.bincount([labels.index(sample.site_class_names[c]) for c in sample.site_class], minlength=len(labels))
    expected = counts @ model.template_matrix / (lx * ly)
    k = model.energy_axis > 95.0
    np.testing.assert_allclose(mean[k], expected[k], rtol=0.01, atol=1e-3 * expected.max())


def test_low_loss(model: EELSModel) -> None:
    e = model.energy_axis
    low = model.low_loss
    tau = model.t_over_lambda
    # Monolayer graphene: t/λ of a few 1e-3 (0.335 nm over a mean free path of order 100 nm).
    assert 0.002 < tau < 0.01
    # Poisson weight of the zero-loss peak.
    assert low[np.abs(e) < 1.5].sum() == pytest.approx(np.exp(-tau), rel=2e-4)
    # π plasmon near 5 eV and π+σ near 15 eV (PHYSICS.md).
    k = (e > 1.5) & (e < 30.0)
    peaks = e[k][argrelmax(low[k])[0]]
    assert peaks.size == 2
    assert abs(peaks[0] - 4.7) < 0.6 and abs(peaks[1] - 14.6) < 0.6
    # Power-law background E^−r with r ≈ 3 under the Si L2,3 edge.
    fit = (e > 75) & (e < 97)
    r = -np.polyfit(np.log(e[fit]), np.log(low[fit]), 1)[0]
    assert r == pytest.approx(3.0, abs=0.2)


def test_poisson_counts_mean_equals_variance(model: EELSModel) -> None:
    spectrum = model.noise_free(np.array([4.0, 4.0]))
    e = model.energy_axis
    k = np.argmin(np.abs(e - 100.0))
    counts = np.stack([poisson_counts(spectrum, 1e7, rng=seed) for seed in range(400)])[:, k]
    assert counts.mean() == pytest.approx(1e7 * spectrum[k], rel=0.05)
    assert counts.var() == pytest.approx(counts.mean(), rel=0.2)
