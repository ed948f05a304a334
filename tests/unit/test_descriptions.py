"""Description dataclasses validate their inputs and name the field, units and value."""

import dataclasses

import pytest

from stemtwin.twin import ABFDetector, ConfigurationError, Dose, HAADFDetector, Optics, Spectrometer
from stemtwin.twin.detectors import get_detector
from stemtwin.twin.errors import UnknownNameError


@pytest.mark.parametrize(
    ("factory", "field", "units"),
    [
        (lambda: Optics(energy=-80e3), "energy", "eV"),
        (lambda: Optics(energy=0), "energy", "eV"),
        (lambda: Optics(semiangle_cutoff=0), "semiangle_cutoff", "mrad"),
        (lambda: Optics(defocus=float("nan")), "defocus", "Å"),
        (lambda: Dose(current=-1), "current", "pA"),
        (lambda: Dose(dwell_time=0), "dwell_time", "s"),
        (lambda: Dose(flyback_time=-1e-6), "flyback_time", "s"),
        (lambda: Spectrometer(dispersion=0), "dispersion", "eV/channel"),
        (lambda: Spectrometer(energy_resolution=-0.3), "energy_resolution", "eV"),
        (lambda: HAADFDetector(inner=-5), "inner", "mrad"),
    ],
)
def test_bad_values_raise_named_errors(factory, field: str, units: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        factory()
    message = str(info.value)
    assert f"`{field}`" in message and f"[{units}]" in message and "got" in message


def test_inner_must_be_below_outer() -> None:
    with pytest.raises(ConfigurationError, match="outer"):
        HAADFDetector(inner=200, outer=70)


def test_descriptions_are_frozen_and_hashable() -> None:
    optics = Optics()
    with pytest.raises(dataclasses.FrozenInstanceError):
        optics.energy = 1.0  # type: ignore[misc]
    assert len({Optics(), Optics(), HAADFDetector(), ABFDetector(), Dose()}) == 4


def test_dose_electrons_per_position() -> None:
    # 30 pA × 16 µs / e ≈ 2996 electrons (PHYSICS.md: "≈ 3000 e⁻")
    assert Dose(current=30, dwell_time=16e-6).electrons_per_position == pytest.approx(2996, rel=1e-3)


def test_spectrometer_energy_axis() -> None:
    spec = Spectrometer(dispersion=0.5, offset=-2.0, channels=5)
    assert list(spec.energy_axis) == [-2.0, -1.5, -1.0, -0.5, 0.0]


def test_detector_by_name_with_suggestion() -> None:
    assert isinstance(get_detector("abf"), ABFDetector)
    with pytest.raises(UnknownNameError, match="Did you mean 'haadf'"):
        get_detector("hadf")
