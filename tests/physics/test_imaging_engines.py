"""The fast engine against abTEM on the same small graphene + Si cell (noise-free images)."""

import numpy as np
import pytest

from stemtwin.twin import ABFDetector, HAADFDetector, Optics
from stemtwin.twin.signals import AbtemEngine, FastEngine
from stemtwin.twin.signals.calibration import calibrate_element, element_calibrations


def _grid(sample, step: float = 0.2) -> np.ndarray:
    x = np.arange(0, sample.extent[0], step)
    y = np.arange(0, sample.extent[1], step)
    return np.stack(np.meshgrid(x, y, indexing="ij"), axis=-1)


@pytest.fixture(scope="module")
def haadf_pair(small_graphene, abtem_module):
    optics, detector = Optics(energy=80e3, semiangle_cutoff=30), HAADFDetector()
    points = _grid(small_graphene)
    reference = AbtemEngine().intensity_field(small_graphene, optics, detector).at(points)
    fast = FastEngine().intensity_field(small_graphene, optics, detector).at(points)
    return reference, fast


def test_fast_engine_correlates_with_abtem(haadf_pair) -> None:
    reference, fast = haadf_pair
    pearson = np.corrcoef(reference.ravel(), fast.ravel())[0, 1]
    assert pearson >= 0.98


def test_fast_engine_absolute_scale_matches_abtem(haadf_pair) -> None:
    reference, fast = haadf_pair
    assert fast.mean() == pytest.approx(reference.mean(), rel=0.2)


@pytest.mark.parametrize("engine", ["abtem", "fast"])
def test_si_column_is_brighter_than_c(engine: str, small_graphene, abtem_module) -> None:
    model = AbtemEngine() if engine == "abtem" else FastEngine()
    field = model.intensity_field(small_graphene, Optics(), HAADFDetector())
    xy = small_graphene.positions[:, :2]
    si = field.at(xy[small_graphene.elements == "Si"])
    c = field.at(xy[small_graphene.indices_of("C_pristine")])
    assert si.min() > 2.0 * c.max()


def test_abtem_abf_shows_atoms_dark(small_graphene, abtem_module) -> None:
    optics = Optics(energy=80e3, semiangle_cutoff=22)
    field = AbtemEngine().intensity_field(small_graphene, optics, ABFDetector())
    xy = small_graphene.positions[:, :2]
    on_atoms = field.at(xy).mean()
    assert on_atoms < field.array.mean()  # absorptive contrast: atoms dark on a bright background
    assert 0 < field.array.mean() < 1


def test_shipped_calibration_reproduces_from_abtem(abtem_module) -> None:
    optics, detector = Optics(energy=80e3), HAADFDetector()
    shipped = element_calibrations(["Si"], optics, detector)["Si"]
    fresh = calibrate_element("Si", optics, detector)
    assert shipped.source == "shipped"
    assert fresh.weight == pytest.approx(shipped.weight, rel=0.01)
    assert fresh.blur == pytest.approx(shipped.blur, abs=0.01)


@pytest.mark.slow
def test_prism_interpolation_two_agrees_with_one(abtem_module) -> None:
    """Cells of 20 Å and more use PRISM interpolation 2; it must agree with interpolation 1."""
    from stemtwin.twin import build_graphene
    from stemtwin.twin.signals.abtem_engine import abtem_scan_image

    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=0)
    gpts = (48, 48)
    coarse = abtem_scan_image(sample, Optics(), HAADFDetector(), gpts, interpolation=2)
    fine = abtem_scan_image(sample, Optics(), HAADFDetector(), gpts, interpolation=1)
    assert np.corrcoef(coarse.ravel(), fine.ravel())[0, 1] >= 0.995
    assert np.linalg.norm(coarse - fine) / np.linalg.norm(fine) < 0.05
