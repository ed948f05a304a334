"""Relativistic electron wavelength against tabulated values (PHYSICS.md)."""

import pytest

from stemtwin.twin.optics import Optics, electron_wavelength


@pytest.mark.parametrize(
    ("energy_kev", "wavelength_pm"),
    [(60, 4.87), (80, 4.18), (100, 3.70), (200, 2.51), (300, 1.97)],
)
def test_wavelength_matches_table(energy_kev: float, wavelength_pm: float) -> None:
    assert electron_wavelength(energy_kev * 1e3) * 100 == pytest.approx(wavelength_pm, abs=0.006)


def test_nyquist_sampling_of_incoherent_image() -> None:
    optics = Optics(energy=80e3, semiangle_cutoff=30)
    # λ / (4 α) = 0.0418 Å / 0.12 ≈ 0.348 Å
    assert optics.nyquist_sampling == pytest.approx(0.348, abs=0.002)
