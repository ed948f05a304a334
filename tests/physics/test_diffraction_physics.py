"""4D-STEM physics: CoM against abTEM, strain recovery, and the disk-overlap criterion."""

import numpy as np
import pytest

from stemtwin.twin import Optics, build_graphene
from stemtwin.twin.detectors import DiffractionCamera
from stemtwin.twin.samples.graphene import GRAPHENE_LATTICE_CONSTANT
from stemtwin.twin.samples.sample import Sample
from stemtwin.twin.signals.diffraction_abtem import AbtemDiffractionEngine
from stemtwin.twin.signals.diffraction_analysis import (
    center_of_mass,
    disks_overlap,
    fit_reciprocal_basis,
    strain_from_bases,
)
from stemtwin.twin.signals.diffraction_fast import FastDiffractionEngine


def _vector_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def test_fast_com_agrees_with_abtem(small_graphene, abtem_module) -> None:
    optics, camera = Optics(energy=80e3, semiangle_cutoff=30), DiffractionCamera()
    x = np.linspace(0.3, small_graphene.extent[0] - 0.3, 9)
    y = np.linspace(0.3, small_graphene.extent[1] - 0.3, 9)
    positions = np.stack(np.meshgrid(x, y, indexing="ij"), axis=-1)
    reference = center_of_mass(AbtemDiffractionEngine().patterns(small_graphene, optics, camera, positions), camera)
    mx, my, _, _ = FastDiffractionEngine().center_of_mass(small_graphene, optics, camera)
    fast = np.stack([mx.at(positions), my.at(positions)], axis=-1)
    assert _vector_correlation(fast, reference) >= 0.9
    assert np.linalg.norm(fast) == pytest.approx(np.linalg.norm(reference), rel=0.15)


def test_com_points_towards_the_atom(small_graphene) -> None:
    optics, camera = Optics(), DiffractionCamera()
    si = small_graphene.positions[small_graphene.elements == "Si"][0, :2]
    mx, my, _, _ = FastDiffractionEngine().center_of_mass(small_graphene, optics, camera)
    assert mx.at((si - [0.3, 0.0])[None])[0] > 0 > mx.at((si + [0.3, 0.0])[None])[0]


def _strained(sample: Sample, exx: float) -> Sample:
    atoms = sample.atoms.copy()
    cell = atoms.cell.array.copy()
    cell[0] *= 1 + exx
    atoms.set_cell(cell, scale_atoms=True)
    return sample.replace(atoms=atoms)


def test_one_percent_strain_is_recovered() -> None:
    optics = Optics(energy=80e3, semiangle_cutoff=3.0)  # non-overlapping disks for d = 2.13 Å
    camera = DiffractionCamera(pixels=256, pixel_size=55.0, camera_length=220.0)  # 0.25 mrad/px
    sample = build_graphene((30, 30), rng=0)
    a = GRAPHENE_LATTICE_CONSTANT
    # Real-space a1 = (a, 0), a2 = (a/2, a√3/2); reciprocal b1 = (1/a, −1/(a√3)), b2 = (0, 2/(a√3)).
    b_star = np.array([[1 / a, -1 / (a * np.sqrt(3))], [0.0, 2 / (a * np.sqrt(3))]]).T  # columns b1, b2 [1/Å]
    guess = b_star * optics.wavelength * 1e3  # [mrad]
    engine = FastDiffractionEngine()
    centre = np.array([[15.0, 15.0]])
    reference = fit_reciprocal_basis(engine.patterns(sample, optics, camera, centre)[0], camera, optics, guess)
    strained = engine.patterns(_strained(sample, 0.01), optics, camera, centre)[0]
    strain = strain_from_bases(reference, fit_reciprocal_basis(strained, camera, optics, reference))
    assert strain[0, 0] == pytest.approx(0.01, abs=0.001)
    assert abs(strain[1, 1]) < 0.001 and abs(strain[0, 1]) < 0.001 and abs(strain[1, 0]) < 0.001


@pytest.mark.parametrize("alpha", [5.0, 15.0])
def test_disks_overlap_according_to_alpha_and_bragg_angle(alpha: float) -> None:
    optics = Optics(energy=80e3, semiangle_cutoff=alpha)
    camera = DiffractionCamera(pixels=128, pixel_size=55.0, camera_length=110.0)  # 0.5 mrad/px
    sample = build_graphene((30, 30), rng=0)
    d = GRAPHENE_LATTICE_CONSTANT * np.sqrt(3) / 2  # {100} spacing, 2.13 Å
    bragg = optics.wavelength / d * 1e3  # [mrad]: the first-order disk centre along +y
    pattern = FastDiffractionEngine().patterns(sample, optics, camera, np.array([[15.0, 15.0]]))[0]
    theta = camera.angles()[0]
    column = pattern[camera.pixels // 2, :]  # along θy through the beam
    between = column[np.abs(theta - bragg / 2) < 0.3].mean()
    inside = column[np.abs(theta) < 0.3].mean()
    predicted = disks_overlap(optics, d)
    assert predicted == (alpha > 9.8)
    if predicted:
        assert between > 0.05 * inside
    else:
        assert between < 1e-4 * inside


def test_abtem_patterns_are_cached_per_position(small_graphene, abtem_module, monkeypatch) -> None:
    import stemtwin.twin.signals.diffraction_abtem as module

    optics, camera = Optics(), DiffractionCamera(pixels=32)
    positions = np.array([[1.0, 2.0], [3.0, 4.0]])
    first = AbtemDiffractionEngine().patterns(small_graphene, optics, camera, positions)

    def refuse(*args, **kwargs):
        raise AssertionError("a cached position was simulated again")

    monkeypatch.setattr(module, "abtem_patterns", refuse)
    again = AbtemDiffractionEngine().patterns(small_graphene, optics, camera, positions[::-1])
    assert np.array_equal(again, first[::-1])
