"""Dataset specs: validation naming each bad field, canonical form, fingerprints and the shipped examples."""

from __future__ import annotations

import copy
import pickle

import pytest

from stemtwin.twin.datasets import DatasetSpec, DatasetSpecError, list_examples, load_spec, parse_spec
from stemtwin.twin.errors import ConfigurationError

BASE = {
    "dataset": {"name": "tiny", "samples_per_chunk": 4},
    "sample": {"family": "graphene", "frames_per_structure": 2, "params": {"extent": [24.0, 24.0]}, "ranges": {"si_3fold_density": [0.0, 0.1]}},
    "instrument": {"modality": "haadf", "pixels": 32, "fov": 12.0, "dose": [1e4, 1e5], "distortion": [0.0, 1.0]},
    "labels": {"store": ["atoms", "masks", "noise_free", "distortion"]},
}


def with_change(section: str, key: str, value: object, base: dict = BASE) -> dict:
    data = copy.deepcopy(base)
    node = data
    for part in section.split("."):
        node = node.setdefault(part, {})
    if value is None:
        node.pop(key, None)
    else:
        node[key] = value
    return data


def test_base_parses_with_family_defaults() -> None:
    spec = parse_spec(BASE, "tiny.toml")
    assert isinstance(spec, DatasetSpec)
    assert spec.energy == 80e3 and spec.semiangle_cutoff == 30.0
    assert spec.dose == (1e4, 1e5) and spec.read_noise == (0.0, 0.0)
    assert spec.labels == ("atoms", "masks", "noise_free", "distortion")
    assert issubclass(DatasetSpecError, ConfigurationError)


@pytest.mark.parametrize(
    ("section", "key", "value", "where"),
    [
        ("dataset", "samples_per_chunk", 0, "[dataset].samples_per_chunk"),
        ("dataset", "name", "Bad Name", "[dataset].name"),
        ("sample", "family", "graphite", "[sample].family"),
        ("sample", "frames_per_structure", 1.5, "[sample].frames_per_structure"),
        ("sample.params", "n_si_5fold", 1, "[sample.params].n_si_5fold"),
        ("sample.ranges", "si_3fold_density", [0.2, 0.1], "[sample.ranges].si_3fold_density"),
        ("sample.ranges", "monovacancy_density", 0.1, "[sample.ranges].monovacancy_density"),
        ("sample.ranges", "extent", [30.0, 40.0], "[sample.ranges].extent"),  # fine alone, clash below
        ("instrument", "engine", "fats", "[instrument].engine"),
        ("instrument", "modality", "ebic", "[instrument].modality"),
        ("instrument", "pixels", 0, "[instrument].pixels"),
        ("instrument", "fov", -1.0, "[instrument].fov"),
        ("instrument", "dose", [1e5, 1e4], "[instrument].dose"),
        ("instrument", "dose", 0.0, "[instrument].dose"),
        ("instrument", "distortion", [-1.0, 1.0], "[instrument].distortion[0]"),
        ("instrument", "read_noise", "low", "[instrument].read_noise"),
        ("instrument", "channels", 512, "[instrument].channels"),
        ("instrument", "output", "com", "[instrument].output"),
        ("labels", "store", ["atoms", "polarization"], "[labels].store"),
        ("labels", "store", ["atom"], "[labels].store[0]"),
        ("labels", "mask_radius", 0.0, "[labels].mask_radius"),
    ],
)
def test_bad_field_is_named(section: str, key: str, value: object, where: str) -> None:
    data = with_change(section, key, value)
    if key == "extent" and section == "sample.ranges":  # extent both fixed and drawn
        with pytest.raises(DatasetSpecError, match=r"tiny\.toml: \[sample\.ranges\]\.extent: .*also fixed"):
            parse_spec(data, "tiny.toml")
        return
    with pytest.raises(DatasetSpecError) as err:
        parse_spec(data, "tiny.toml")
    assert str(err.value).startswith(f"tiny.toml: {where}:"), str(err.value)


def test_unknown_keys_get_did_you_mean() -> None:
    with pytest.raises(DatasetSpecError, match=r"\[instrument\]\.pixel: unknown field \(did you mean 'pixels'\?\)"):
        parse_spec(with_change("instrument", "pixel", 64), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[top level\]\.label: unknown field \(did you mean 'labels'\?\)"):
        parse_spec({**BASE, "label": {}}, "x.toml")
    with pytest.raises(DatasetSpecError, match=r"did you mean 'si_3fold_density'"):
        parse_spec(with_change("sample.params", "si_3fold_densty", 0.1), "x.toml")


def test_combinations_are_checked() -> None:
    with pytest.raises(DatasetSpecError, match=r"\[instrument\]\.modality: ABF needs engine"):
        parse_spec(with_change("instrument", "modality", "abf"), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[labels\]\.store: 'polarization' is a label of the ferroelectric"):
        parse_spec(with_change("labels", "store", ["polarization"]), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[sample\.params\]\.extent: expected a cell of at least"):
        parse_spec(with_change("sample.params", "extent", [12.0, 12.0]), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[sample\]\.family: missing field"):
        parse_spec(with_change("sample", "family", None), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[instrument\]: missing section"):
        parse_spec({k: v for k, v in BASE.items() if k != "instrument"}, "x.toml")
    eels = with_change("instrument", "modality", "eels")
    assert parse_spec(with_change("instrument", "channels", 64, eels), "x.toml").spectrometer["channels"] == 64
    fourd = with_change("instrument", "modality", "4dstem")
    with pytest.raises(DatasetSpecError, match=r"\[instrument\]\.camera_sampling: expected a camera whose edge"):
        parse_spec(with_change("instrument", "camera_sampling", 0.5, fourd), "x.toml")
    with pytest.raises(DatasetSpecError, match=r"\[sample\.params\]\.extent: the abtem engine"):
        parse_spec(with_change("sample", "params", {}, with_change("instrument", "engine", "abtem")), "x.toml")


def test_integer_ranges_stay_integers() -> None:
    data = with_change("sample.ranges", "n_si_4fold", [0, 3])
    spec = parse_spec(data, "x.toml")
    assert spec.ranges["n_si_4fold"] == (0, 3) and all(isinstance(v, int) for v in spec.ranges["n_si_4fold"])
    assert all(isinstance(v, float) for v in spec.ranges["si_3fold_density"])


def test_fingerprint_is_stable_and_sensitive() -> None:
    a = parse_spec(BASE, "a.toml")
    reordered = {k: BASE[k] for k in reversed(list(BASE))}
    b = parse_spec(copy.deepcopy(reordered), "b.toml")
    assert a.fingerprint() == b.fingerprint() and a == b
    assert len(a.fingerprint()) == 64
    # Filling in a default explicitly does not change the data, so not the fingerprint.
    explicit = with_change("instrument", "energy", 80e3)
    assert parse_spec(explicit, "c.toml").fingerprint() == a.fingerprint()
    assert parse_spec(with_change("instrument", "pixels", 33), "d.toml").fingerprint() != a.fingerprint()
    assert parse_spec(with_change("sample", "frames_per_structure", 3), "e.toml").fingerprint() != a.fingerprint()
    # Canonical dict is JSON-able, and the spec pickles (for Dask workers).
    import json

    assert json.loads(json.dumps(a.to_dict())) == a.to_dict()
    assert pickle.loads(pickle.dumps(a)).fingerprint() == a.fingerprint()


@pytest.mark.parametrize("name", sorted(list_examples()))
def test_examples_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert load_spec(list_examples()[name]).fingerprint() == spec.fingerprint()


def test_example_set_and_unknown_names(tmp_path) -> None:  # noqa: ANN001
    assert {"graphene-haadf", "mos2-eels", "ferroelectric-4dstem"} <= set(list_examples())
    with pytest.raises(DatasetSpecError, match="Did you mean 'graphene-haadf'"):
        load_spec("graphene-hadf")
    bad = tmp_path / "bad.toml"
    bad.write_text("[dataset\nname = 1\n")
    with pytest.raises(DatasetSpecError, match="bad.toml: not valid TOML"):
        load_spec(bad)
