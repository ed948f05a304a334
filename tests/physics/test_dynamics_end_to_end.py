"""Beam dynamics seen through the microscope: later observations show the changed sample."""

import numpy as np
import pytest

from stemtwin.twin import Dose, Microscope, Optics, ScanNoise
from stemtwin.twin.samples import build_ferroelectric
from stemtwin.twin.samples.ferroelectric import a_site_centre_offsets

OXIDE = Optics(energy=200e3, semiangle_cutoff=25)


def _com_x_at_b_sites(scope: Microscope, sample, cells: np.ndarray) -> np.ndarray:
    """Noise-free CoM_x at the paraelectric B-site positions of the given Ti atoms [mrad]."""
    mx, _, _, _ = scope.diffraction_engine.center_of_mass(sample, scope.optics, scope.camera)
    ti = sample.indices_of("Ti")
    centres = sample.positions[ti, :2] - a_site_centre_offsets(sample)
    return mx.at(centres[cells])


def test_a_switching_dose_reverses_the_com_in_the_dosed_region() -> None:
    sample = build_ferroelectric((39.0, 39.0), initial="stripes", rng=0)
    ti = sample.indices_of("Ti")
    px = sample.atom_labels["Px"][ti]
    y = sample.positions[ti, 1]
    # The −x domain: a band in y. Dose a 12 Å square in its middle.
    band = y[px < -0.5]
    y0 = float(np.median(band)) - 6.0
    region = (13.5, y0, 12.0, 12.0)
    xy = sample.positions[ti, :2] - a_site_centre_offsets(sample)
    inside = (xy[:, 0] > 15.0) & (xy[:, 0] < 24.0) & (xy[:, 1] > y0 + 1.5) & (xy[:, 1] < y0 + 10.5) & (px < -0.5)
    far = px > 0.5  # the +x domain is not touched
    assert inside.sum() >= 4

    scope = Microscope(sample, optics=OXIDE, dynamics="auto", scan_noise=ScanNoise.none(), rng=0)
    before = _com_x_at_b_sites(scope, sample, inside)
    assert np.all(before < 0)
    # Below the switching dose nothing switches: one light frame.
    scope.acquire_image(fov=region, pixels=32, dose=Dose(current=30, dwell_time=16e-6))
    assert not any(e.kind == "domain_switch" for e in scope.truth().events)
    # A writing dose (≈ 10⁶ e/Å², well above 500 µC/cm² ≈ 3×10⁵ e/Å² of trapped charge) switches the region.
    scope.acquire_image(fov=region, pixels=48, dose=Dose(current=30, dwell_time=1e-3))
    after_sample = scope.truth().sample
    after = _com_x_at_b_sites(scope, after_sample, inside)
    assert np.all(after > 0), after
    assert any(e.kind == "domain_switch" for e in scope.truth().events)
    # Far from the beam the +x domain keeps its polarization.
    assert np.all(after_sample.atom_labels["Px"][after_sample.indices_of("Ti")][far] > 0.5)
