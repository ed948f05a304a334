"""The sample: an ``ase.Atoms`` plus per-atom labels and optional continuous fields."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import ase
import ase.io
import numpy as np
from ase.data import atomic_numbers

from ..errors import ConfigurationError, StructureFileError, UnknownNameError
from ..validation import suggest

__all__ = ["Sample", "GENERIC_SITE_CLASSES", "validate_element"]

#: Site classes of a structure read from a file, which carries no defect labels.
GENERIC_SITE_CLASSES: tuple[str, ...] = ("atom",)


def validate_element(symbol: str, name: str = "element") -> str:
    """Return ``symbol`` if it is a chemical element symbol; otherwise raise :class:`UnknownNameError`."""
    if not isinstance(symbol, str) or symbol not in atomic_numbers or symbol == "X":
        hint = suggest(symbol, atomic_numbers) if isinstance(symbol, str) else ""
        raise UnknownNameError(f"Unknown {name} {symbol!r}: not a chemical symbol such as 'C' or 'Si'.{hint}")
    return symbol


@dataclass(frozen=True, eq=False)
class Sample:
    """A sample the microscope can look at.

    Treat a ``Sample`` as immutable: dynamics return a new one rather than editing this one.

    Parameters
    ----------
    atoms
        The structure. The cell must be orthogonal in x and y; x and y are the scan plane [Å].
    site_class
        Site-class index per atom, ndarray of shape (n_atoms,), indexing ``site_class_names``.
    site_class_names
        Names of the site classes, for example ``("C", "C-Si", "Si3", "Si4", "C-vac")``.
    defect_id
        Defect each atom belongs to, ndarray of shape (n_atoms,); -1 for none.
    name
        Sample family or file name.
    fields
        Continuous fields on a grid over the cell, for example a polarization field.
    atom_labels
        Further per-atom labels, each an ndarray of shape (n_atoms,), for example the local
        configuration class of a cation (-1 where a label does not apply).
    parameters
        The builder parameters, for provenance.
    """

    atoms: ase.Atoms
    site_class: np.ndarray
    site_class_names: tuple[str, ...]
    defect_id: np.ndarray
    name: str = "sample"
    fields: Mapping[str, np.ndarray] = field(default_factory=dict)
    atom_labels: Mapping[str, np.ndarray] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.atoms)
        if n == 0:
            raise ConfigurationError("`atoms` must hold at least one atom, got an empty structure.")
        site_class = np.asarray(self.site_class, dtype=np.int16).copy()
        defect_id = np.asarray(self.defect_id, dtype=np.int32).copy()
        for label, arr in (("site_class", site_class), ("defect_id", defect_id)):
            if arr.shape != (n,):
                raise ConfigurationError(f"`{label}` must have shape ({n},), one entry per atom, got {arr.shape}.")
        if site_class.min() < 0 or site_class.max() >= len(self.site_class_names):
            raise ConfigurationError(
                f"`site_class` values must index `site_class_names` (0..{len(self.site_class_names) - 1}), "
                f"got range {site_class.min()}..{site_class.max()}."
            )
        cell = np.asarray(self.atoms.cell.array)
        if not np.all(self.atoms.cell.lengths()[:2] > 0):
            raise ConfigurationError("`atoms.cell` must have non-zero x and y lengths [Å].")
        if abs(cell[0, 1]) > 1e-6 or abs(cell[1, 0]) > 1e-6 or np.any(np.abs(cell[:2, 2]) > 1e-6):
            raise ConfigurationError(
                "`atoms.cell` must be orthogonal in the scan plane; use abtem.orthogonalize_cell(atoms) first."
            )
        atom_labels = {}
        for label, values in dict(self.atom_labels).items():
            arr = np.array(values)
            if arr.shape != (n,):
                raise ConfigurationError(f"atom label `{label}` must have shape ({n},), got {arr.shape}.")
            atom_labels[label] = arr
        fields = {}
        for name, values in dict(self.fields).items():
            fields[name] = np.array(values)
        for arr in (site_class, defect_id, *atom_labels.values(), *fields.values()):
            arr.setflags(write=False)
        atoms = self.atoms.copy()
        atoms.wrap(eps=1e-9)
        object.__setattr__(self, "atoms", atoms)
        object.__setattr__(self, "site_class", site_class)
        object.__setattr__(self, "defect_id", defect_id)
        object.__setattr__(self, "site_class_names", tuple(self.site_class_names))
        object.__setattr__(self, "fields", MappingProxyType(fields))
        object.__setattr__(self, "atom_labels", MappingProxyType(atom_labels))
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as plain arguments (the read-only mapping views themselves do not pickle)."""
        return (
            Sample,
            (
                self.atoms,
                self.site_class,
                self.site_class_names,
                self.defect_id,
                self.name,
                dict(self.fields),
                dict(self.atom_labels),
                dict(self.parameters),
            ),
        )

    # -- views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.atoms)

    @property
    def positions(self) -> np.ndarray:
        """Atom positions, ndarray of shape (n_atoms, 3) [Å]."""
        return self.atoms.positions

    @property
    def numbers(self) -> np.ndarray:
        """Atomic numbers, ndarray of shape (n_atoms,)."""
        return self.atoms.numbers

    @property
    def elements(self) -> np.ndarray:
        """Chemical symbols, ndarray of shape (n_atoms,) of str."""
        return np.array(self.atoms.get_chemical_symbols())

    @property
    def extent(self) -> tuple[float, float]:
        """Size of the periodic cell in the scan plane (x, y) [Å]."""
        lengths = self.atoms.cell.lengths()
        return (float(lengths[0]), float(lengths[1]))

    def class_of(self, name: str) -> int:
        """Index of the site class called ``name``."""
        if name not in self.site_class_names:
            raise UnknownNameError(
                f"Unknown site class {name!r}.{suggest(name, self.site_class_names)} "
                f"Available: {list(self.site_class_names)}"
            )
        return self.site_class_names.index(name)

    def indices_of(self, name: str) -> np.ndarray:
        """Indices of the atoms in site class ``name``."""
        return np.flatnonzero(self.site_class == self.class_of(name))

    def content_hash(self) -> str:
        """A stable hash of the structure and labels, used to key caches."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.atoms.numbers, dtype=np.int64).tobytes())
        h.update(np.round(self.atoms.positions, 6).astype(np.float64).tobytes())
        h.update(np.round(self.atoms.cell.array, 6).astype(np.float64).tobytes())
        h.update(np.asarray(self.site_class, dtype=np.int64).tobytes())
        for label in sorted(self.atom_labels):
            h.update(label.encode())
            h.update(np.ascontiguousarray(self.atom_labels[label]).tobytes())
        return h.hexdigest()[:32]

    # -- construction ------------------------------------------------------------------------
    def replace(self, **changes: Any) -> Sample:
        """Return a copy with some attributes replaced (the dynamics use this)."""
        values = {
            "atoms": self.atoms,
            "site_class": self.site_class,
            "site_class_names": self.site_class_names,
            "defect_id": self.defect_id,
            "name": self.name,
            "fields": self.fields,
            "atom_labels": self.atom_labels,
            "parameters": self.parameters,
        }
        values.update(changes)
        return Sample(**values)

    @classmethod
    def from_atoms(
        cls,
        atoms: ase.Atoms,
        name: str = "structure",
        vacuum: float = 2.0,
    ) -> Sample:
        """Wrap any ``ase.Atoms`` as a sample with one generic site class.

        A structure without a periodic cell in x and y gets a box with ``vacuum`` [Å] of padding.
        A non-orthogonal cell is orthogonalised with abTEM.
        """
        if len(atoms) == 0:
            raise ConfigurationError(f"Structure {name!r} holds no atoms.")
        atoms = atoms.copy()
        lengths = atoms.cell.lengths()
        if np.any(lengths[:2] <= 0) or not np.all(atoms.pbc[:2]):
            atoms.center(vacuum=vacuum)
            atoms.pbc = True
        cell = atoms.cell.array
        if abs(cell[0, 1]) > 1e-6 or abs(cell[1, 0]) > 1e-6:
            import abtem  # local import: abTEM is slow to import and only needed here

            atoms = abtem.orthogonalize_cell(atoms)
        if atoms.cell.lengths()[2] <= 0:
            atoms.center(vacuum=vacuum, axis=2)
        n = len(atoms)
        return cls(
            atoms=atoms,
            site_class=np.zeros(n, dtype=np.int16),
            site_class_names=GENERIC_SITE_CLASSES,
            defect_id=np.full(n, -1, dtype=np.int32),
            name=name,
        )

    @classmethod
    def from_file(cls, path: str | Path, index: int | str = -1) -> Sample:
        """Read a sample from any ASE-readable structure file (CIF, XYZ, POSCAR, ...).

        Raises
        ------
        StructureFileError
            If ASE cannot read the file, or the structure holds no atoms.
        """
        path = Path(path)
        if not path.is_file():
            raise StructureFileError(f"Structure file {str(path)!r} does not exist.")
        try:
            atoms = ase.io.read(path, index=index)
        except Exception as exc:  # ASE raises many types for unreadable files
            raise StructureFileError(
                f"Structure file {str(path)!r} cannot be read by ASE: {type(exc).__name__}: {exc}"
            ) from None
        if isinstance(atoms, Sequence):  # an index slice gives a list of frames
            atoms = atoms[-1] if atoms else ase.Atoms()
        if len(atoms) == 0:
            raise StructureFileError(f"Structure file {str(path)!r} holds no atoms.")
        return cls.from_atoms(atoms, name=path.name)
