"""Samples from any ASE-readable structure file, and the Sample container's checks."""

import ase.io
import numpy as np
import pytest
from ase.build import mx2

from stemtwin.twin import ConfigurationError, Sample, StructureFileError, UnknownNameError, build_graphene


def test_round_trip_through_an_extxyz_file(tmp_path) -> None:
    original = build_graphene((12, 12), n_si_3fold=1, rng=0)
    path = tmp_path / "g.xyz"
    ase.io.write(path, original.atoms)
    loaded = Sample.from_file(path)
    assert len(loaded) == len(original)
    assert loaded.site_class_names == ("atom",)
    assert np.allclose(loaded.positions, original.positions)
    assert loaded.name == "g.xyz"


def test_non_orthogonal_cell_is_orthogonalised(tmp_path) -> None:
    atoms = mx2("MoS2", size=(2, 2, 1), vacuum=3)  # hexagonal cell
    path = tmp_path / "mos2.cif"
    ase.io.write(path, atoms)
    sample = Sample.from_file(path)
    cell = sample.atoms.cell.array
    assert abs(cell[0, 1]) < 1e-6 and abs(cell[1, 0]) < 1e-6
    assert set(sample.elements) == {"Mo", "S"}


def test_molecule_without_cell_gets_a_box() -> None:
    from ase.build import molecule

    sample = Sample.from_atoms(molecule("H2O"), vacuum=3.0)
    assert min(sample.extent) > 5.0


def test_unreadable_and_empty_files_name_the_file(tmp_path) -> None:
    bad = tmp_path / "junk.cif"
    bad.write_text("this is not a structure\n")
    with pytest.raises(StructureFileError, match="junk.cif"):
        Sample.from_file(bad)
    empty = tmp_path / "empty.xyz"
    empty.write_text("0\n\n")
    with pytest.raises(StructureFileError, match="empty.xyz"):
        Sample.from_file(empty)
    with pytest.raises(StructureFileError, match="missing.xyz"):
        Sample.from_file(tmp_path / "missing.xyz")


def test_labels_must_match_the_atoms() -> None:
    atoms = build_graphene((10, 10), rng=0).atoms
    with pytest.raises(ConfigurationError, match="site_class"):
        Sample(atoms, np.zeros(3), ("C",), np.full(len(atoms), -1))
    with pytest.raises(ConfigurationError, match="site_class"):
        Sample(atoms, np.full(len(atoms), 4), ("C",), np.full(len(atoms), -1))


def test_sample_labels_are_read_only_and_atoms_are_copied() -> None:
    atoms = build_graphene((10, 10), rng=0).atoms
    sample = Sample(atoms, np.zeros(len(atoms)), ("C",), np.full(len(atoms), -1))
    with pytest.raises(ValueError):
        sample.site_class[0] = 1
    before = sample.content_hash()
    atoms.positions[0] += 1.0  # editing the caller's atoms must not change the sample
    assert sample.content_hash() == before
    other = sample.replace(name="copy")
    assert other.content_hash() == before and other.atoms is not sample.atoms


def test_unknown_site_class_is_named() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'Si_3fold'"):
        build_graphene((10, 10), rng=0).class_of("Si_3folds")
