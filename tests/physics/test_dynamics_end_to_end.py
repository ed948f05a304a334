"""Beam dynamics seen through the microscope: later observations show the changed sample."""

import numpy as np

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


def test_a_vacancy_shows_in_the_next_haadf_frame_and_eels() -> None:
    from stemtwin.twin import build_graphene
    from stemtwin.twin.dynamics.graphene import GrapheneDynamics
    from stemtwin.twin.signals.eels import edge_signal

    sample = build_graphene((15.0, 15.0), rng=0)
    centre = np.array(sample.extent) / 2
    target = sample.positions[np.argmin(np.linalg.norm(sample.positions[:, :2] - centre, axis=1)), :2]
    # A displacement threshold below E_max (15.8 eV at 80 kV) makes knock-on likely within the dwell.
    dynamics = GrapheneDynamics(processes=["knock_on"], knock_on_threshold=14.0, vacancy_edge_threshold=None)
    scope = Microscope(sample, dynamics=[dynamics], scan_noise=ScanNoise.none(), rng=1)
    fov = (target[0] - 3.0, target[1] - 3.0, 6.0, 6.0)
    scope.acquire_image(fov=fov, pixels=24)
    before = scope.truth().last_acquisition.noise_free
    for _ in range(50):  # park on the atom until it is knocked out
        scope.acquire_spectrum(target, dwell_time=0.1)
        if any(e.kind == "knock_on" for e in scope.truth().events):
            break
    knocked = [e for e in scope.truth().events if e.kind == "knock_on"]
    assert knocked, "no knock-on event at a dose of several 1e9 e/Å² with a 14 eV threshold"
    assert len(scope.truth().sample) < len(sample)
    scope.acquire_image(fov=fov, pixels=24)
    after = scope.truth().last_acquisition.noise_free
    energy = scope.spectrometer.energy_axis
    scope.acquire_spectrum(target, dwell_time=1e-3)
    # The HAADF signal at the site drops where the atom went missing.
    assert after[12, 12] < 0.7 * before[12, 12]
    # So does the C K edge under the probe (noise-free comparison through the truth).
    c_k = lambda s: edge_signal(energy, s, (285.0, 320.0), (250.0, 280.0))  # noqa: E731
    pristine = Microscope(sample, scan_noise=ScanNoise.none(), rng=1)
    pristine.acquire_spectrum(target, dwell_time=1e-3)
    assert c_k(scope.truth().last_acquisition.noise_free[0, 0]) < 0.8 * c_k(pristine.truth().last_acquisition.noise_free[0, 0])
