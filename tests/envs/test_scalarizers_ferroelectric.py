"""Ferroelectric scalarizers: ``disk_ratio`` (4D-STEM domain walls) and ``ti_splitting`` (Ti L3 t2g–eg)."""

from __future__ import annotations

import numpy as np
import pytest

from stemtwin.envs.config import FAMILY_PRESETS
from stemtwin.envs.scalarizers import SCALARIZERS, MeasurementContext, make_scalarizer
from stemtwin.twin.errors import ConfigurationError
from stemtwin.twin.samples.ferroelectric import PEROVSKITE_A, build_ferroelectric
from stemtwin.twin.signals.diffraction_fast import FastDiffractionEngine
from stemtwin.twin.signals.eels import EELSModel

PRESET = FAMILY_PRESETS["ferroelectric"]
#: The family's 10 × 10-cell stripe sample: +x and −x domains, 180° walls centred on the cell rows j = 0 and 5.
STRIPES = {"extent": (10 * PEROVSKITE_A, 10 * PEROVSKITE_A), "initial": "stripes", "relax_steps": 200}


def _nanobeam_context(optics=None) -> MeasurementContext:
    return MeasurementContext(
        modality="diffraction",
        electrons=1e6,
        optics=optics or PRESET.nanobeam_optics,
        camera=PRESET.nanobeam_camera,
        lattice_basis=PRESET.lattice_basis,
        d_spacing=PRESET.d_spacing,
    )


def _disk_pixel(hk: tuple[int, int]) -> tuple[int, int]:
    """Camera pixel nearest the centre of reflection (h, k) of the perovskite lattice."""
    camera, optics = PRESET.nanobeam_camera, PRESET.nanobeam_optics
    g = np.array(hk, dtype=float) * optics.wavelength / PEROVSKITE_A * 1e3  # [mrad]
    return tuple(int(v) for v in np.round(g / camera.angular_sampling).astype(int) + camera.pixels // 2)


# ---------------------------------------------------------------------------------------------
# disk_ratio
# ---------------------------------------------------------------------------------------------
def test_disk_ratio_known_values_and_batch_shape() -> None:
    scalarizer = make_scalarizer("disk_ratio", None, "diffraction")
    scalarizer.prepare(_nanobeam_context())
    n = PRESET.nanobeam_camera.pixels
    patterns = np.zeros((2, 3, n, n))
    for hk in ((1, 1), (1, -1), (-1, 1), (-1, -1)):  # numerator {110}: 5 counts each
        patterns[(0, 0, *_disk_pixel(hk))] = 5.0
    for hk in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # denominator {100}: 2 counts each
        patterns[(0, 0, *_disk_pixel(hk))] = 2.0
    patterns[(0, 1, *_disk_pixel((1, 0)))] = 8.0  # no numerator counts: ratio 0
    patterns[(0, 1, n // 2, n // 2)] = 1e6  # the direct beam is in neither set
    patterns[(1, 2, *_disk_pixel((1, 1)))] = 3.0  # no denominator counts: 0, not inf
    values = scalarizer.evaluate({"pattern": patterns})
    assert values.shape == (2, 3)
    expected = np.zeros((2, 3))
    expected[0, 0] = 20.0 / 8.0
    np.testing.assert_allclose(values, expected)
    assert scalarizer({"pattern": patterns[0, 0]}) == pytest.approx(2.5)

    direct = make_scalarizer("disk_ratio", {"numerator": [(0, 0)], "denominator": [(1, 0), (-1, 0)]}, "diffraction")
    direct.prepare(_nanobeam_context())
    assert direct({"pattern": patterns[0, 1]}) == pytest.approx(1e6 / 8.0)


def test_disk_ratio_validates_its_parameters_and_the_instrument() -> None:
    for bad in ([], "10", [(1, 0, 0)], [(1.5, 0)], [(1, 0), (1, 0)], [("a", 0)]):
        with pytest.raises(ConfigurationError, match="`numerator` must be a non-empty list of distinct"):
            make_scalarizer("disk_ratio", {"numerator": bad}, "diffraction")
    with pytest.raises(ConfigurationError, match="`disk_radius` must be within"):
        make_scalarizer("disk_ratio", {"disk_radius": 2.0}, "diffraction")
    with pytest.raises(ConfigurationError, match=r"Did you mean 'numerator'"):
        make_scalarizer("disk_ratio", {"numerators": [(1, 0)]}, "diffraction")
    with pytest.raises(ConfigurationError, match="needs separated diffraction disks"):
        make_scalarizer("disk_ratio", None, "diffraction").prepare(_nanobeam_context(PRESET.optics))
    with pytest.raises(ConfigurationError, match=r"reflection \(2, 0\) of `denominator` .* does not fit on the camera"):
        make_scalarizer("disk_ratio", {"denominator": [(2, 0)]}, "diffraction").prepare(_nanobeam_context())
    with pytest.raises(ConfigurationError, match="not prepared"):
        make_scalarizer("disk_ratio", None, "diffraction").evaluate({"pattern": np.zeros((96, 96))})
    assert SCALARIZERS["disk_ratio"].needs_separated_disks


def test_disk_ratio_peaks_on_the_domain_walls() -> None:
    """{110}/{100} is largest where P passes through 0 (cell rows 0 and 5) and smallest mid-domain."""
    sample = build_ferroelectric(**STRIPES, rng=0)
    px = sample.fields["polarization"][..., 0].mean(axis=0) / sample.parameters["Ps"]
    assert abs(px[0]) < 0.05 and abs(px[5]) < 0.05 and abs(px[[2, 3, 7, 8]]).min() > 0.9
    a = PEROVSKITE_A
    rows = np.array([0.5, 3.0, 5.5, 8.0, 1.5]) * a  # y: wall (Ti row 0), mid-domain, wall (row 5), mid-domain, flank
    positions = np.stack([np.full_like(rows, 2.3 * a), rows], axis=1)
    patterns = FastDiffractionEngine().patterns(sample, PRESET.nanobeam_optics, PRESET.nanobeam_camera, positions)
    scalarizer = make_scalarizer("disk_ratio", None, "diffraction")
    scalarizer.prepare(_nanobeam_context())
    values = scalarizer.evaluate({"pattern": patterns * 1e6})
    wall, domain = values[[0, 2]], values[[1, 3]]
    assert wall.min() > 1.2 * domain.max(), values
    assert domain.max() < values[4] < wall.min(), values
    assert np.all(values > 5.0) and np.all(values < 20.0), values


# ---------------------------------------------------------------------------------------------
# ti_splitting
# ---------------------------------------------------------------------------------------------
def _eels_context() -> MeasurementContext:
    return MeasurementContext(modality="eels", electrons=1e9, energy=PRESET.spectrometer.energy_axis)


def _two_peaks(t2g: float, eg: float, width: float = 0.25) -> np.ndarray:
    energy = PRESET.spectrometer.energy_axis
    background = 2e9 * energy**-3.0
    peaks = 50.0 * np.exp(-0.5 * ((energy - t2g) / width) ** 2) + 40.0 * np.exp(-0.5 * ((energy - eg) / width) ** 2)
    return background + peaks


def test_ti_splitting_known_values_and_batch_shape() -> None:
    scalarizer = make_scalarizer("ti_splitting", None, "eels")
    scalarizer.prepare(_eels_context())
    spectra = np.stack([_two_peaks(457.0, 459.0), _two_peaks(457.0, 458.7), _two_peaks(456.9, 459.3)])
    spectra = np.stack([spectra, np.zeros_like(spectra)])  # (2, 3, channels); the second row holds no signal
    values = scalarizer.evaluate({"spectrum": spectra})
    assert values.shape == (2, 3)
    np.testing.assert_allclose(values[0], [2.0, 1.7, 2.4], atol=0.03)
    np.testing.assert_array_equal(values[1], 0.0)
    assert scalarizer({"spectrum": spectra[0, 1]}) == pytest.approx(values[0, 1])


def test_ti_splitting_validates_its_windows() -> None:
    with pytest.raises(ConfigurationError, match="`eg_window` .* must start at or above the end of `t2g_window`"):
        make_scalarizer("ti_splitting", {"eg_window": (457.0, 460.0)}, "eels")
    with pytest.raises(ConfigurationError, match="`fit_window` .* must end at or below the start of `t2g_window`"):
        make_scalarizer("ti_splitting", {"fit_window": (425.0, 457.0)}, "eels")
    with pytest.raises(ConfigurationError, match="low < high"):
        make_scalarizer("ti_splitting", {"t2g_window": (458.0, 456.0)}, "eels")
    with pytest.raises(ConfigurationError, match="must cover at least 2 channels"):
        make_scalarizer("ti_splitting", {"t2g_window": (2000.0, 2001.0), "eg_window": (2001.0, 2002.0)}, "eels").prepare(
            _eels_context()
        )


def test_ti_splitting_is_largest_on_the_domain_walls() -> None:
    """The model splitting is 2.0 − u[Å] eV: ≈2.0 eV on the centred Ti of a wall, ≈1.7 eV mid-domain."""
    sample = build_ferroelectric(**STRIPES, rng=0)
    a = PEROVSKITE_A
    ti_rows = (np.array([0, 2, 5, 7]) + 0.5) * a  # Ti rows: wall, domain, wall, domain
    positions = np.stack([np.full_like(ti_rows, 2.5 * a), ti_rows], axis=1)
    model = EELSModel(sample, PRESET.spectrometer, PRESET.optics)
    spectra = model.noise_free(positions).astype(np.float64) * 1e9
    scalarizer = make_scalarizer("ti_splitting", None, "eels")
    scalarizer.prepare(_eels_context())
    values = scalarizer.evaluate({"spectrum": spectra})
    wall, domain = values[[0, 2]], values[[1, 3]]
    assert np.all((values > 1.6) & (values < 2.1)), values
    assert wall.min() > domain.max() + 0.1, values


# ---------------------------------------------------------------------------------------------
# In the environments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "name", "kwargs"),
    [
        ("stemtwin/DiffractionExplore-v0", "disk_ratio", {"dwell_time": 0.01}),
        ("stemtwin/EELSExplore-v0", "ti_splitting", {"dwell_time": 20.0}),
    ],
)
def test_ferroelectric_scalarizers_run_in_the_explore_envs(env_id: str, name: str, kwargs: dict, make_small) -> None:
    env = make_small(
        env_id,
        sample="ferroelectric",
        sample_params={"relax_steps": 200},
        scalarizer=name,
        grid=4,
        image_pixels=8,
        scan_noise="none",
        dynamics=False,
        **kwargs,
    )
    env.reset(seed=0)
    assert env.unwrapped.probe == ("nanobeam" if name == "disk_ratio" else "atomic")
    truth = env.unwrapped.true_map()
    _, reward, _, _, info = env.step(5)
    assert np.isfinite(reward) and info["noise_free_scalar"] == pytest.approx(truth[1, 1], rel=1e-9)
    assert np.all(np.isfinite(truth)) and truth.std() > 0
