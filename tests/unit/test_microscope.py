"""The Microscope facade: acquisitions, clock, dose ledger, truth and input validation."""

import numpy as np
import pytest

from stemtwin.twin import (
    ConfigurationError,
    Dose,
    Event,
    FieldOfView,
    FieldOfViewError,
    Microscope,
    ScanNoise,
    UnknownNameError,
)


@pytest.fixture()
def scope(defect_graphene) -> Microscope:
    return Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=0)


def test_image_shape_units_and_metadata(scope: Microscope) -> None:
    image = scope.acquire_image(fov=(2.0, 3.0, 20.0, 16.0), pixels=(40, 32))
    assert image.array.shape == (40, 32) and image.array.dtype == np.float32
    assert image.sampling == pytest.approx((0.5, 0.5)) and image.origin == (2.0, 3.0)
    assert image.metadata["detector"] == "haadf" and image.metadata["engine"] == "fast"
    assert not image.array.flags.writeable


def test_clock_advances_by_the_frame_time(scope: Microscope) -> None:
    dose = Dose(current=30, dwell_time=10e-6, flyback_time=50e-6)
    scope.acquire_image(pixels=(20, 10), dose=dose)
    assert scope.time == pytest.approx(10 * (20 * 10e-6 + 50e-6))
    scope.acquire_spectrum((5.0, 5.0), dwell_time=0.01)
    assert scope.time == pytest.approx(10 * (20 * 10e-6 + 50e-6) + 0.01)


def test_dose_ledger_counts_every_electron(scope: Microscope) -> None:
    dose = Dose(current=30, dwell_time=16e-6)
    scope.acquire_image(pixels=128, dose=dose)  # a 0.23 Å step, finer than the probe
    expected = 128 * 128 * dose.electrons_per_position
    assert scope.total_electrons == pytest.approx(expected)
    dose_map = scope.dose_map()
    assert dose_map.total_electrons == pytest.approx(expected, rel=1e-6)
    # A uniform raster over the cell gives a near-uniform dose D = N_e N_px / area.
    area = scope.sample_extent[0] * scope.sample_extent[1]
    assert np.median(dose_map.array) == pytest.approx(expected / area, rel=0.05)


def test_parked_beam_dose_is_local(scope: Microscope) -> None:
    scope.acquire_spectrum((10.0, 10.0), dwell_time=0.01)
    dose_map = scope.dose_map()
    peak = np.unravel_index(np.argmax(dose_map.array), dose_map.array.shape)
    assert np.allclose(np.array(peak) * dose_map.sampling, (10.0, 10.0), atol=0.3)


def test_zero_distortion_gives_the_noise_free_image(defect_graphene) -> None:
    scope = Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=0)
    image = scope.acquire_image(fov=(0, 0, 20, 20), pixels=40)
    truth = scope.truth().last_acquisition
    assert np.array_equal(truth.actual_positions, truth.nominal_positions)
    field = scope.engine.intensity_field(defect_graphene, scope.optics, scope.detector)
    assert np.array_equal(truth.noise_free, field.at(truth.nominal_positions))
    electrons = image.metadata["electrons_per_position"]
    # Counts are Poisson around the noise-free signal.
    z = (image.array - electrons * truth.noise_free) / np.sqrt(electrons * truth.noise_free + 1e-9)
    assert abs(z.mean()) < 0.1 and 0.8 < z.std() < 1.2


def test_distortions_move_the_probe(defect_graphene) -> None:
    scope = Microscope(defect_graphene, scan_noise=ScanNoise.typical(), rng=0)
    scope.acquire_image(pixels=32)
    distortion = scope.truth().last_acquisition.distortion
    assert np.abs(distortion).max() > 0.05


def test_same_seed_gives_identical_observations(defect_graphene) -> None:
    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        scope = Microscope(defect_graphene, rng=seed)
        return scope.acquire_image(pixels=32).array, scope.acquire_spectrum((7.0, 7.0)).array

    a, b, c = run(5), run(5), run(6)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[0].tobytes() != c[0].tobytes()


def test_spectrum_and_spectrum_image(scope: Microscope) -> None:
    spectrum = scope.acquire_spectrum((5.0, 5.0))
    assert spectrum.array.shape == spectrum.energy.shape == (scope.spectrometer.channels,)
    cube = scope.acquire_spectrum_image(fov=(0, 0, 8, 8), pixels=(4, 3), dwell_time=1e-3)
    assert cube.array.shape == (4, 3, scope.spectrometer.channels)
    assert cube.sampling == pytest.approx((2.0, 8 / 3))


def test_truth_is_separate_from_observations(scope: Microscope) -> None:
    image = scope.acquire_image(pixels=16)
    truth = scope.truth()
    assert truth.sample.name == "graphene" and truth.time == scope.time
    assert "positions" not in image.metadata and "noise_free" not in image.metadata


class _CountingDynamics:
    """A toy process that logs one event per acquisition, to exercise the seam."""

    name = "counting"

    def evolve(self, sample, exposure, rng):
        return sample, [Event(time=float(exposure.times[-1]), kind="exposed", details={"n": len(exposure.positions)})]


def test_dynamics_receive_every_scan_line(defect_graphene) -> None:
    scope = Microscope(defect_graphene, dynamics=[_CountingDynamics()], rng=0)
    scope.acquire_image(pixels=8)
    scope.acquire_spectrum((3.0, 3.0))
    events = scope.truth().events
    assert [e.details["n"] for e in events] == [8] * 8 + [1]  # one exposure per scan line
    assert all(a.time < b.time for a, b in zip(events, events[1:]))


class _RemoveSiAt:
    """A toy process that removes every Si the first time the clock passes ``when``."""

    name = "remove_si"

    def __init__(self, when: float) -> None:
        self.when = when

    def evolve(self, sample, exposure, rng):
        silicon = np.flatnonzero(sample.elements == "Si")
        if exposure.times[-1] < self.when or len(silicon) == 0:
            return sample, []
        keep = np.setdiff1d(np.arange(len(sample)), silicon)
        changed = sample.replace(
            atoms=sample.atoms[keep], site_class=sample.site_class[keep], defect_id=sample.defect_id[keep]
        )
        return changed, [Event(time=float(exposure.times[-1]), kind="remove_si", atoms=tuple(silicon))]


def test_an_event_mid_scan_shows_from_that_line_on(defect_graphene) -> None:
    dose = Dose(current=30, dwell_time=10e-6, flyback_time=0.0)
    line_time = 40 * 10e-6
    scope = Microscope(
        defect_graphene, dynamics=[_RemoveSiAt(when=20.5 * line_time)], scan_noise=ScanNoise.none(), dose=dose, rng=0
    )
    scope.acquire_image(pixels=40, dose=dose)
    truth = scope.truth()
    (event,) = truth.events
    assert 20 * line_time <= event.time < 21 * line_time  # the event happened during line 20
    before = scope.engine.intensity_field(defect_graphene, scope.optics, scope.detector)
    after = scope.engine.intensity_field(truth.sample, scope.optics, scope.detector)
    acquired = truth.last_acquisition
    positions = acquired.nominal_positions
    assert np.allclose(acquired.noise_free[:, :21], before.at(positions[:, :21]))
    assert np.allclose(acquired.noise_free[:, 21:], after.at(positions[:, 21:]))
    assert not np.allclose(before.at(positions[:, 21:]), after.at(positions[:, 21:]))
    assert [t for t, _ in truth.snapshots][0] == 0.0 and len(truth.snapshots) == 2


def test_snapshots_are_bounded(defect_graphene) -> None:
    from stemtwin.twin.microscope import MAX_SNAPSHOTS

    class _Jiggle:
        name = "jiggle"

        def evolve(self, sample, exposure, rng):
            atoms = sample.atoms.copy()
            atoms.positions[0, 0] += 1e-3  # a new structure every line
            return sample.replace(atoms=atoms), []

    scope = Microscope(defect_graphene, dynamics=[_Jiggle()], rng=0)
    for _ in range(3):
        scope.acquire_image(pixels=(4, MAX_SNAPSHOTS))
    assert len(scope.truth().snapshots) == MAX_SNAPSHOTS


def test_a_field_only_change_is_not_a_snapshot(defect_graphene) -> None:
    class _Charge:
        name = "charge"

        def evolve(self, sample, exposure, rng):
            return sample.replace(fields={"beam_charge": np.ones(2)}), []

    scope = Microscope(defect_graphene, dynamics=[_Charge()], rng=0)
    scope.acquire_image(pixels=8)
    assert len(scope.truth().snapshots) == 1


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: s.acquire_image(fov=(-1, 0, 10, 10)), FieldOfViewError, "outside the sample"),
        (lambda s: s.acquire_image(fov=(0, 0, 1000, 10)), FieldOfViewError, "outside the sample"),
        (lambda s: s.acquire_image(fov=(0, 0, -5, 10)), ConfigurationError, "fov.extent"),
        (lambda s: s.acquire_image(fov=(0, 0, 5)), ConfigurationError, "fov"),
        (lambda s: s.acquire_image(pixels=0), ConfigurationError, "pixels"),
        (lambda s: s.acquire_image(detector="hadf"), UnknownNameError, "Did you mean 'haadf'"),
        (lambda s: s.acquire_spectrum((500.0, 1.0)), FieldOfViewError, "xy"),
        (lambda s: s.acquire_spectrum((1.0, 1.0), dwell_time=-1), ConfigurationError, "dwell_time"),
    ],
)
def test_bad_acquisitions_are_rejected(scope: Microscope, call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call(scope)
    assert scope.time == 0.0 and scope.total_electrons == 0.0  # nothing happened


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"engine": "fastest"}, UnknownNameError, "Did you mean 'fast'"),
        ({"calibration": "z^n"}, UnknownNameError, "calibration"),
        ({"read_noise": -1}, ConfigurationError, "read_noise"),
        ({"dose": 30}, ConfigurationError, "dose"),
        ({"dynamics": [object()]}, ConfigurationError, "BeamDynamics"),
        ({"dynamics": "automatic"}, UnknownNameError, "Did you mean 'auto'"),
    ],
)
def test_bad_constructor_arguments(defect_graphene, kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        Microscope(defect_graphene, **kwargs)


def test_field_of_view_object(scope: Microscope) -> None:
    image = scope.acquire_image(fov=FieldOfView((1.0, 2.0), (10.0, 5.0)), pixels=(20, 10))
    assert image.extent == pytest.approx((10.0, 5.0))


def test_microscope_and_observations_pickle_and_continue_identically(defect_graphene) -> None:
    import pickle

    scope = Microscope(defect_graphene, dynamics="auto", rng=3)
    image = scope.acquire_image(pixels=8)
    scope.acquire_spectrum((3.0, 3.0))
    clone = pickle.loads(pickle.dumps(scope))
    assert np.array_equal(clone.acquire_image(pixels=8).array, scope.acquire_image(pixels=8).array)
    assert np.array_equal(clone.acquire_spectrum((4.0, 4.0)).array, scope.acquire_spectrum((4.0, 4.0)).array)
    copy = pickle.loads(pickle.dumps(image))
    assert np.array_equal(copy.array, image.array) and copy.metadata["engine"] == "fast"
    assert clone.event_count == scope.event_count and clone.last_acquisition.kind == "spectrum"
