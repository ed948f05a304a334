"""Per-sample synthesis: layout, determinism, chunks, and labels that match the images."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stemtwin.twin.datasets import array_layout, generate_chunk, generate_sample, parse_spec
from stemtwin.twin.datasets.synth import _fill_sample, _spline_measure, scaled_scan_noise
from stemtwin.twin.detectors import HAADFDetector
from stemtwin.twin.errors import ConfigurationError
from stemtwin.twin.optics import Optics
from stemtwin.twin.samples import build_sample
from stemtwin.twin.scan import ScanNoise
from stemtwin.twin.signals.fast_engine import FastEngine

GRAPHENE = {
    "dataset": {"name": "tiny-haadf", "samples_per_chunk": 3},
    "sample": {
        "family": "graphene",
        "frames_per_structure": 2,
        "params": {"extent": [24.0, 24.0], "min_separation": 4.0},
        "ranges": {"si_3fold_density": [0.5, 1.0], "n_monovacancies": [0, 2]},
    },
    "instrument": {"modality": "haadf", "pixels": 48, "fov": 12.0, "dose": [1e5, 1e6], "distortion": [0.5, 1.5], "read_noise": [0.0, 1.0]},
    "labels": {"store": ["atoms", "masks", "noise_free", "distortion"]},
}
EELS = {
    "dataset": {"name": "tiny-eels"},
    "sample": {"family": "mos2-res2", "params": {"extent": [16.0, 20.0], "sweeps": 5}, "ranges": {"re_fraction": [0.1, 0.5]}},
    "instrument": {"modality": "eels", "pixels": 8, "fov": 8.0, "channels": 64, "offset": 150.0, "dispersion": 2.0, "distortion": 1.0},
    "labels": {"store": ["atoms", "masks", "noise_free", "distortion"]},
}
FOURD = {
    "dataset": {"name": "tiny-4d"},
    "sample": {"family": "ferroelectric", "params": {"extent": [16.0, 16.0], "initial": "stripes", "relax_steps": 5}},
    "instrument": {"modality": "4dstem", "pixels": 8, "fov": 6.0, "camera_pixels": 16, "camera_sampling": 4.0},
    "labels": {"store": ["atoms", "masks", "polarization", "noise_free", "distortion"]},
}


def spec_of(data: dict, **instrument: object):  # noqa: ANN201
    data = copy.deepcopy(data)
    data["instrument"].update(instrument)
    return parse_spec(data, "test.toml")


SPECS = {
    "haadf": spec_of(GRAPHENE),
    "eels": spec_of(EELS),
    "4dstem-derived": spec_of(FOURD),
    "4dstem-patterns": spec_of(FOURD, output="patterns"),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_layout_matches_generated_arrays(kind: str) -> None:
    spec = SPECS[kind]
    layout = array_layout(spec)
    sample = generate_sample(spec, 7, 1)
    assert list(sample) == list(layout)
    for name, aspec in layout.items():
        arr = sample[name]
        assert arr.shape == aspec.shape, name
        assert arr.dtype == np.dtype(aspec.dtype), name
        assert len(aspec.dims) == len(aspec.shape), name
        assert "units" in aspec.attrs and "description" in aspec.attrs, name
        if "keepbits" in aspec.attrs:  # counts rounded to their significant bits: the rest of the mantissa is zero
            dropped = 23 - int(aspec.attrs["keepbits"])
            assert arr.dtype == np.float32 and np.all(arr.view(np.uint32) & np.uint32((1 << dropped) - 1) == 0), name
            if name == "noise_free" or spec.read_noise[1] > 0:  # not whole numbers, so the check bites
                assert np.any(arr != np.round(arr)), name
    assert np.all(np.isfinite(sample["fov_origin"]))
    if "atom_count" in sample:
        n = int(sample["atom_count"])
        assert n > 0
        assert np.all(np.isfinite(sample["atom_xy"][:n])) and np.all(np.isnan(sample["atom_xy"][n:]))
        assert np.all(sample["atom_class"][n:] == -1) and np.all(sample["atom_class"][:n] >= 0)
        assert np.all(sample["atom_z"][:n] > 0) and np.all(sample["atom_z"][n:] == 0)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_element_is_written(kind: str) -> None:
    # Samples are written into preallocated (uninitialised) rows of a chunk: whatever those held
    # before, the sample's bytes are the same.
    spec = SPECS[kind]
    results = []
    for byte in (0x00, 0xFF, 0x5A):
        out = {}
        for name, a in array_layout(spec).items():
            raw = np.full(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize, byte, dtype=np.uint8)
            out[name] = raw.view(a.dtype).reshape(a.shape)
        _fill_sample(spec, 5, 2, out)
        results.append({name: arr.tobytes() for name, arr in out.items()})
    assert results[0] == results[1] == results[2]
    assert results[0] == {name: arr.tobytes() for name, arr in generate_sample(spec, 5, 2).items()}


def test_determinism_and_chunks_are_stacks() -> None:
    spec = SPECS["haadf"]
    later = generate_sample(spec, 3, 4)  # out of order, before its chunk mates
    chunk = generate_chunk(spec, 3, 1, 5)  # samples 3, 4 (n_total = 5 cuts the chunk)
    again = generate_sample(spec, 3, 4)
    for name in later:
        assert later[name].tobytes() == again[name].tobytes(), name
        assert chunk[name].shape[0] == 2
        assert chunk[name][1].tobytes() == later[name].tobytes(), name
    other = generate_sample(spec, 4, 4)
    assert other["image"].tobytes() != later["image"].tobytes()
    # Frames of one structure share the drawn builder parameters; the next structure draws anew.
    s2, s3 = generate_sample(spec, 3, 2), generate_sample(spec, 3, 3)
    assert s2["param_si_3fold_density"] == s3["param_si_3fold_density"]
    assert s3["param_si_3fold_density"] != later["param_si_3fold_density"]
    assert isinstance(int(later["param_n_monovacancies"]), int) and float(later["param_n_monovacancies"]).is_integer()
    with pytest.raises(ConfigurationError, match="chunk_index"):
        generate_chunk(spec, 3, 2, 5)
    with pytest.raises(ConfigurationError, match="base_seed"):
        generate_sample(spec, -1, 0)


def test_ideal_scan_has_zero_distortion_and_matches_the_engine() -> None:
    spec = spec_of(GRAPHENE, distortion=0.0)
    sample = generate_sample(spec, 1, 0)
    assert float(sample["distortion_scale"]) == 0.0
    assert np.all(sample["distortion"] == 0.0)
    assert scaled_scan_noise(0.0).is_zero and scaled_scan_noise(1.0) == ScanNoise.typical()
    # The fast spline evaluator agrees with the engine's PeriodicField.at, including over the cell edge.
    cell = build_sample("graphene", rng=0, extent=(12.0, 12.0), n_si_3fold=1)
    field = FastEngine().intensity_field(cell, Optics(), HAADFDetector())
    rng = np.random.default_rng(0)
    positions = rng.uniform(-5.0, 20.0, size=(40, 30, 2))
    fast = _spline_measure(field, np.array(cell.extent))(positions)
    np.testing.assert_allclose(fast, field.at(positions), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("distortion", [0.0, 1.0])
def test_atoms_sit_on_noise_free_maxima(distortion: float) -> None:
    data = copy.deepcopy(GRAPHENE)
    data["sample"]["ranges"] = {}
    data["sample"]["params"].update(n_si_3fold=2)
    spec = parse_spec({**data, "instrument": {**data["instrument"], "pixels": 96, "distortion": distortion}}, "t.toml")
    hits = total = 0
    heavy_hits = heavy = 0
    for index in range(2):
        s = generate_sample(spec, 11, index)
        img = s["noise_free"]
        n = int(s["atom_count"])
        xy = s["atom_xy"][:n]
        z = s["atom_z"][:n]
        p = np.rint(xy).astype(int)
        inner = np.all((p >= 2) & (p < img.shape[0] - 2), axis=1)
        for (i, j), zz in zip(p[inner], z[inner], strict=True):
            window = img[i - 1 : i + 2, j - 1 : j + 2]
            # A local maximum within 1 px: the window's peak is not on its border by more than rounding.
            ok = img[i, j] >= np.max(window) or np.max(img[i - 2 : i + 3, j - 2 : j + 3]) == np.max(window)
            total += 1
            hits += bool(ok)
            if zz > 6:
                heavy += 1
                heavy_hits += bool(img[i - 1 : i + 2, j - 1 : j + 2].max() == img[i - 2 : i + 3, j - 2 : j + 3].max())
    assert total > 50
    assert hits / total > 0.9, (hits, total)
    assert heavy > 0 and heavy_hits == heavy


def test_masks_agree_with_atom_classes() -> None:
    spec = spec_of(GRAPHENE, distortion=1.0, pixels=96)
    s = generate_sample(spec, 5, 0)
    mask, n = s["mask"], int(s["atom_count"])
    p = np.rint(s["atom_xy"][:n]).astype(int)
    cls = s["atom_class"][:n]
    classes = array_layout(spec)["mask"].attrs["classes"]
    assert classes[0] == "background" and mask.max() < len(classes)
    inside = np.all((p >= 0) & (p < mask.shape[0]), axis=1)
    agree = mask[p[inside, 0], p[inside, 1]] == cls[inside] + 1
    assert agree.mean() > 0.95
    # Every labelled class appears in the mask, and the background is most of the image.
    assert set(np.unique(mask)) - {0} == set((cls[inside] + 1).tolist())
    assert 0.05 < (mask > 0).mean() < 0.6


def test_polarization_and_derived_4dstem() -> None:
    spec = SPECS["4dstem-derived"]
    s = generate_sample(spec, 2, 0)
    pol = s["polarization"]
    assert pol.shape == (2, 8, 8) and np.all(np.isfinite(pol)) and np.abs(pol).max() > 0.1  # C/m²
    assert np.all(s["virtual_bf"] > s["virtual_adf"])
    assert np.abs(s["com"] - s["noise_free_com"]).mean() < np.abs(s["noise_free_com"]).mean() + 1.0


def test_too_many_atoms_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from stemtwin.twin.datasets import layout as layout_module

    spec = spec_of(GRAPHENE, distortion=0.0)
    monkeypatch.setattr(layout_module, "max_atoms", lambda spec: 5)
    with pytest.raises(ConfigurationError, match="more than the atom table's 5 rows"):
        generate_sample(spec, 1, 0)


@pytest.mark.parametrize(("dwell", "walk", "scaled"), [(300e-6, True, False), (300e-6, True, True), (4e-6, False, False)])
def test_probe_positions_are_the_scan_path_with_its_error(dwell: float, walk: bool, scaled: bool) -> None:
    # The fused composition equals scan_path (calibration, shear, flyback) plus the slow error and
    # the vibrations of ProbePositionError at every pixel time, to rounding. With a dwell below
    # SLOW_SAMPLE_TIME the slow error is sampled on coarse rows (so its random walk is another
    # realisation of the same process); without the walk, the linear drift interpolates exactly.
    import dataclasses

    from stemtwin.twin.dose import Dose
    from stemtwin.twin.scan import ProbePositionError, scan_path
    from stemtwin.twin.datasets.layout import DISTORTION_QUANTUM
    from stemtwin.twin.datasets.synth import _probe_positions

    noise = scaled_scan_noise(1.5)
    if not walk:
        noise = dataclasses.replace(noise, random_walk_amplitude=0.0)
    dose = Dose(current=20.0, dwell_time=dwell, flyback_time=60e-6)
    origin, fov, pixels = (3.0, -2.0), 20.0, 64
    if scaled:  # the typical distortions times 1.5, scaled after evaluation
        actual, distortion = _probe_positions(origin, fov, pixels, dose, ScanNoise.typical(), np.random.default_rng(1), np.random.default_rng(2), 1.5)
    else:
        actual, distortion = _probe_positions(origin, fov, pixels, dose, noise, np.random.default_rng(1), np.random.default_rng(2))
    path = scan_path(origin, (fov, fov), (pixels, pixels), dose, None, noise)
    slow = ScanNoise(drift=noise.drift, random_walk_amplitude=noise.random_walk_amplitude, random_walk_frequency=noise.random_walk_frequency)
    vib = ScanNoise(sinusoid_frequencies=noise.sinusoid_frequencies, sinusoid_amplitudes=noise.sinusoid_amplitudes)
    want = path.actual + ProbePositionError(slow, np.random.default_rng(1)).displacement(path.times)
    want = want + ProbePositionError(vib, np.random.default_rng(2)).displacement(path.times)
    assert np.abs(want - path.nominal).max() > 1.0  # Å: a real distortion
    np.testing.assert_allclose(actual, want, rtol=0, atol=1e-9)
    assert distortion.dtype == np.float32 and distortion.shape == (2, pixels, pixels)
    # The label: actual − nominal in whole steps of DISTORTION_QUANTUM (exact in float32).
    steps = distortion.astype(np.float64) / DISTORTION_QUANTUM
    assert np.array_equal(steps, np.rint(steps))
    np.testing.assert_allclose(np.moveaxis(distortion, 0, -1), actual - path.nominal, rtol=0, atol=DISTORTION_QUANTUM / 2 + 1e-9)
