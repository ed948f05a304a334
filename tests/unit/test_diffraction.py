"""4D-STEM: camera description, derived quantities and the microscope's diffraction acquisitions."""

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError, Microscope, Optics, ScanNoise, UnknownNameError
from stemtwin.twin.detectors import DiffractionCamera
from stemtwin.twin.observations import CenterOfMassMap, FourDSTEM
from stemtwin.twin.signals.diffraction_analysis import center_of_mass, derived_quantities, virtual_image


def test_camera_angles_and_sampling() -> None:
    camera = DiffractionCamera(pixels=64, pixel_size=150.0, camera_length=75.0)
    assert camera.angular_sampling == pytest.approx(2.0)  # 150 µm / 75 mm = 2 mrad
    assert camera.max_angle == pytest.approx(64.0)
    theta, _ = camera.angles()
    assert theta[32] == 0.0 and theta[0] == pytest.approx(-64.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"pixels": 63}, "even"), ({"pixels": 4}, "pixels"), ({"camera_length": 0}, "camera_length"), ({"pixel_size": -1}, "pixel_size")],
)
def test_bad_camera(kwargs, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        DiffractionCamera(**kwargs)


def test_disks_off_the_camera_are_refused(defect_graphene) -> None:
    camera = DiffractionCamera(pixels=32, camera_length=300.0)  # 0.5 mrad/px: edge at 8 mrad
    with pytest.raises(ConfigurationError, match="does not fit on the camera"):
        Microscope(defect_graphene, optics=Optics(semiangle_cutoff=30), camera=camera)


def test_center_of_mass_of_a_shifted_spot() -> None:
    camera = DiffractionCamera(pixels=16)
    pattern = np.zeros((16, 16))
    pattern[8 + 3, 8 - 2] = 5.0
    assert center_of_mass(pattern, camera) == pytest.approx([3 * 2.0, -2 * 2.0])


def test_virtual_detectors_partition_the_camera() -> None:
    camera = DiffractionCamera(pixels=32)
    pattern = np.ones((32, 32))
    pattern[0, :] = pattern[:, 0] = 0.0  # symmetric about the beam pixel (16, 16)
    optics = Optics(semiangle_cutoff=20)
    q = derived_quantities(pattern, camera, optics)
    full = virtual_image(pattern, camera, 0.0, 1e9)
    assert q["bf"] + virtual_image(pattern, camera, 20.0, 1e9) == pytest.approx(full)
    assert q["abf"] < q["bf"]
    assert q["com_magnitude"] == pytest.approx(0.0, abs=1e-9)


@pytest.fixture()
def scope(defect_graphene) -> Microscope:
    return Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=0)


def test_diffraction_pattern_counts_all_electrons(scope: Microscope) -> None:
    pattern = scope.acquire_diffraction((5.0, 5.0))
    electrons = pattern.metadata["electrons_per_position"]
    assert pattern.array.shape == (64, 64) and pattern.array.dtype == np.float32
    assert pattern.array.sum() == pytest.approx(electrons, rel=0.01)  # almost nothing leaves the camera
    assert scope.time == pytest.approx(scope.camera.exposure)


def test_4dstem_patterns_and_com_outputs(scope: Microscope) -> None:
    data = scope.acquire_4dstem(fov=(0, 0, 6, 6), pixels=(4, 3))
    assert isinstance(data, FourDSTEM) and data.array.shape == (4, 3, 64, 64)
    com = scope.acquire_4dstem(fov=(0, 0, 6, 6), pixels=(4, 3), output="com")
    assert isinstance(com, CenterOfMassMap) and com.array.shape == (4, 3, 2)
    assert com.magnitude.shape == (4, 3)
    truth = scope.truth().last_acquisition
    assert truth.kind == "4dstem_com" and truth.noise_free.shape == (4, 3, 2)


def test_com_shot_noise_shrinks_with_dose(defect_graphene) -> None:
    def scatter(dwell: float) -> float:
        scope = Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=1)
        measured = scope.acquire_4dstem(fov=(0, 0, 8, 8), pixels=16, output="com", dwell_time=dwell).array
        return float(np.std(measured - scope.truth().last_acquisition.noise_free))

    assert scatter(1e-6) > 5 * scatter(1e-4)  # 100× dose: 10× less noise


def test_com_from_patterns_matches_the_analytic_com(defect_graphene) -> None:
    scope = Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=2)
    patterns = scope.acquire_4dstem(fov=(2, 2, 6, 6), pixels=6, dwell_time=1.0)
    measured = center_of_mass(patterns.array, scope.camera)
    scope2 = Microscope(defect_graphene, scan_noise=ScanNoise.none(), rng=2)
    analytic = scope2.acquire_4dstem(fov=(2, 2, 6, 6), pixels=6, output="com")
    expected = scope2.truth().last_acquisition.noise_free
    corr = np.sum(measured * expected) / np.sqrt(np.sum(measured**2) * np.sum(expected**2))
    assert corr > 0.99
    assert analytic.array.shape == measured.shape


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: s.acquire_4dstem(output="cbed"), UnknownNameError, "output"),
        (lambda s: s.acquire_4dstem(pixels=512), ConfigurationError, "output='com'"),
        (lambda s: s.acquire_diffraction((-3.0, 1.0)), ConfigurationError, "outside the sample"),
        (lambda s: s.acquire_diffraction((3.0, 1.0), dwell_time=0), ConfigurationError, "dwell_time"),
    ],
)
def test_bad_diffraction_requests(scope: Microscope, call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call(scope)
