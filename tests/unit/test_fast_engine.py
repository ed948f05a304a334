"""The fast imaging engine: probe normalisation, Z contrast, caching and its limits."""

import numpy as np
import pytest

from stemtwin.twin import ABFDetector, HAADFDetector, Optics, UnsupportedError
from stemtwin.twin.signals import FastEngine, PeriodicField, probe_intensity
from stemtwin.twin.signals.calibration import ZN_EXPONENT, element_calibrations, zn_calibration
from stemtwin.twin.signals.incoherent import deposit_bilinear, incoherent_image


def test_probe_intensity_has_unit_integral_and_airy_width() -> None:
    optics = Optics(energy=80e3, semiangle_cutoff=30)
    sampling = (0.05, 0.05)
    probe = probe_intensity(optics, (256, 256), sampling)
    assert probe.sum() * sampling[0] * sampling[1] == pytest.approx(1.0, rel=1e-9)
    # The Airy disk's FWHM is 0.51 λ/α = 0.71 Å at 80 kV and 30 mrad.
    profile = np.fft.fftshift(probe)[128, :]
    above = np.flatnonzero(profile >= profile.max() / 2)
    fwhm = (above[-1] - above[0] + 1) * sampling[1]
    assert fwhm == pytest.approx(0.51 * optics.wavelength / 0.030, abs=0.06)


def test_defocus_widens_the_probe() -> None:
    sampling = (0.05, 0.05)
    focused = probe_intensity(Optics(), (256, 256), sampling).max()
    defocused = probe_intensity(Optics(defocus=50.0), (256, 256), sampling).max()
    assert defocused < 0.5 * focused


def test_bilinear_deposit_conserves_weight_and_wraps() -> None:
    grid = deposit_bilinear(np.array([[0.05, 0.05], [9.97, 4.0]]), (10, 8), (1.0, 1.0), np.array([2.0, 3.0]))
    assert grid.sum() == pytest.approx(5.0)
    assert grid[0, 4] > 0 and grid[9, 4] > 0  # the second point straddles the periodic edge


def test_single_atom_integrates_to_its_weight_and_peaks_at_the_atom() -> None:
    gpts, sampling = (100, 100), (0.1, 0.1)
    image = incoherent_image([np.array([[4.03, 6.51]])], [0.01], [0.1], Optics(), gpts, sampling)
    assert image.sum() * 0.01 == pytest.approx(0.01, rel=1e-6)
    peak = np.unravel_index(np.argmax(image), gpts)
    assert peak == (40, 65)


def test_periodic_field_interpolates_a_band_limited_signal() -> None:
    x = np.arange(64) * 0.25
    array = np.sin(2 * np.pi * x / 16.0)[:, None] * np.cos(2 * np.pi * x / 8.0)[None, :]
    field = PeriodicField(array, (0.25, 0.25))
    pts = np.array([[1.3, 2.7], [15.9, 0.1], [16.0 + 1.3, 2.7]])  # the last wraps onto the first
    expected = np.sin(2 * np.pi * pts[:2, 0] / 16) * np.cos(2 * np.pi * pts[:2, 1] / 8)
    values = field.at(pts)
    assert np.allclose(values[:2], expected, atol=2e-3)
    assert values[2] == pytest.approx(values[0])


def test_si_is_brighter_than_c_and_vacancies_are_dark(defect_graphene) -> None:
    field = FastEngine().intensity_field(defect_graphene, Optics(), HAADFDetector())
    xy = defect_graphene.positions[:, :2]
    si = field.at(xy[defect_graphene.elements == "Si"])
    c = field.at(xy[defect_graphene.indices_of("C_pristine")])
    assert si.min() > 3.0 * np.median(c)


def test_field_is_cached_per_sample_state(defect_graphene) -> None:
    engine = FastEngine()
    a = engine.intensity_field(defect_graphene, Optics(), HAADFDetector())
    assert engine.intensity_field(defect_graphene, Optics(), HAADFDetector()) is a
    assert engine.intensity_field(defect_graphene, Optics(energy=60e3), HAADFDetector()) is not a


def test_abf_is_refused_with_a_clear_message(defect_graphene) -> None:
    with pytest.raises(UnsupportedError, match="engine='abtem'"):
        FastEngine().intensity_field(defect_graphene, Optics(), ABFDetector())


def test_zn_fallback_follows_the_power_law() -> None:
    cal = element_calibrations(["C", "Si"], Optics(), HAADFDetector(), method="zn")
    assert cal["Si"].weight / cal["C"].weight == pytest.approx((14 / 6) ** ZN_EXPONENT)
    assert zn_calibration("Re").source == "zn"


def test_shipped_calibration_is_used_for_default_settings() -> None:
    cal = element_calibrations(["C", "Si"], Optics(energy=80e3), HAADFDetector())
    assert {c.source for c in cal.values()} == {"shipped"}
    # Si/C per atom: PHYSICS.md gives 3.3–5.4 over n = 1.4–2.0.
    assert 3.3 <= cal["Si"].weight / cal["C"].weight <= 5.4


def test_unknown_element_is_named() -> None:
    from stemtwin.twin import UnknownNameError

    with pytest.raises(UnknownNameError, match="'Xq'"):
        element_calibrations(["C", "Xq"], Optics(), HAADFDetector())


def test_fresh_settings_are_calibrated_once_and_cached(abtem_module) -> None:
    from stemtwin.twin.cache import cache_dir

    optics = Optics(energy=120e3, semiangle_cutoff=25)  # not in the shipped table
    first = element_calibrations(["C"], optics, HAADFDetector())["C"]
    assert first.source == "abtem"
    entries = list(cache_dir().glob("haadf-calibration-*.json"))
    assert entries
    again = element_calibrations(["C"], optics, HAADFDetector())["C"]
    assert again == first


def test_alloy_weights_come_from_its_reference_lattice() -> None:
    from stemtwin.twin.samples import build_mos2_res2

    sample = build_mos2_res2((12.6, 16.4), re_fraction=0.3, rng=1)
    cal = FastEngine().calibrations(sample, Optics(energy=80e3), HAADFDetector())
    assert {c.context for c in cal.values()} == {"mos2-res2"}
    assert {c.source for c in cal.values()} == {"shipped"}
    isolated = element_calibrations(["Mo", "Re"], Optics(energy=80e3), HAADFDetector())
    # In the lattice Re/Mo contrast is stronger than for isolated atoms (channelling).
    assert cal["Re"].weight / cal["Mo"].weight > isolated["Re"].weight / isolated["Mo"].weight
