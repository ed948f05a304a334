"""`stemtwin generate`'s store: layout, manifest, refusals, resume after a fault, readers, and the CLI.

Every store here is tiny (16² fast-engine HAADF frames, a few chunks). The Dask runs live in
test_store_dask.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from stemtwin.twin.datasets import readers
from stemtwin.twin.datasets import store as st
from stemtwin.twin.datasets.generate import InjectedFault, generate
from stemtwin.twin.datasets.spec import DatasetSpecError, parse_spec
from stemtwin.twin.errors import ConfigurationError, TwinError

N = 10  # chunks of 4, 4 and 2 samples
SEED = 3


def tiny_spec(name: str = "tiny-haadf", pixels: int = 16, per_chunk: int = 4, modality: str = "haadf", **inst):
    data = {
        "dataset": {"name": name, "samples_per_chunk": per_chunk},
        "sample": {"family": "graphene", "frames_per_structure": 2, "params": {"extent": [14.0, 14.0]}},
        "instrument": {"engine": "fast", "modality": modality, "pixels": pixels, "fov": 7.0, "dose": [1e4, 1e5], "distortion": [0.0, 1.0], **inst},
        "labels": {"store": ["atoms", "masks"]},
    }
    return parse_spec(data, source="<tiny>")


def arrays(path: Path) -> dict[str, np.ndarray]:
    group = zarr.open_group(str(path), mode="r", zarr_format=3)
    return {name: group[name][...] for name in st.read_manifest(path)["arrays"]}


def chunk_sums(path: Path) -> list:
    return [(c["status"], c.get("sha256")) for c in st.read_manifest(path)["chunks"]]


def listing(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}


@pytest.fixture(scope="module")
def spec():
    return tiny_spec()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, spec) -> Path:
    """An uninterrupted serial run."""
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    assert generate(spec, N, out, seed=SEED, workers=0, progress=False) == out
    return out


def test_store_layout_manifest_and_permissions(reference: Path, spec) -> None:
    from stemtwin.twin.datasets.layout import array_layout

    man = st.read_manifest(reference)
    layout = array_layout(spec)
    assert man["format"] == st.FORMAT and man["format_version"] == st.FORMAT_VERSION
    assert man["spec"] == spec.to_dict() and man["spec_fingerprint"] == spec.fingerprint()
    assert (man["seed"], man["n"], man["samples_per_chunk"], man["n_chunks"]) == (SEED, N, 4, 3)
    assert man["complete"] and man["chunks_done"] == 3
    for key in ("python", "numpy", "zarr", "dask", "distributed", "stemtwin", "abtem"):
        assert key in man["versions"]
    assert man["versions"]["zarr"] == zarr.__version__
    assert [c["samples"] for c in man["chunks"]] == [[0, 4], [4, 8], [8, 10]]
    assert all(c["status"] == "done" and set(c["sha256"]) == set(layout) for c in man["chunks"])
    assert man["runs"][-1]["status"] == "complete" and man["runs"][-1]["chunks_computed"] == 3
    group = zarr.open_group(str(reference), mode="r", zarr_format=3)
    for name, a in layout.items():
        arr = group[name]
        assert arr.shape == (N, *a.shape) and arr.chunks == (4, *a.shape)
        assert arr.dtype == np.dtype(a.dtype)
        assert arr.metadata.dimension_names == ("sample", *a.dims)
        assert dict(arr.attrs) == a.attrs
        assert arr.compressors  # compressed (zarr's default codec)
    assert st.verify_store(reference) == {}
    # the marker's checksums are those of the stored bytes, and the manifest repeats them
    for k, marker in st.read_markers(reference, man).items():
        assert marker["sha256"] == man["chunks"][k]["sha256"]
    umask = os.umask(0)
    os.umask(umask)
    for f in [reference / st.MANIFEST, *(reference / st.MARKERS).glob("*.json")]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask
    assert not list(reference.rglob("*.tmp")) and not (reference / ".stemtwin" / "lock").exists()


def test_same_seed_same_bytes_other_seed_other_bytes(reference: Path, spec, tmp_path: Path) -> None:
    again = generate(spec, N, tmp_path / "again.zarr", seed=SEED, workers=0, progress=False)
    assert chunk_sums(again) == chunk_sums(reference)
    other = generate(spec, N, tmp_path / "other.zarr", seed=SEED + 1, workers=0, progress=False)
    assert chunk_sums(other) != chunk_sums(reference)


def test_interrupted_then_resumed_is_byte_identical(reference: Path, spec, tmp_path: Path) -> None:
    out = tmp_path / "cut.zarr"
    with pytest.raises(InjectedFault):
        generate(spec, N, out, seed=SEED, workers=0, progress=False, fault_after=1)
    man = st.read_manifest(out)
    assert [c["status"] for c in man["chunks"]] == ["done", "missing", "missing"]
    assert not man["complete"] and man["runs"][-1]["status"] == "interrupted"
    assert not (out / ".stemtwin" / "lock").exists()
    with pytest.raises(st.StoreError, match="incomplete: 2 of 3 chunks are missing"):
        readers.open(out)
    partial = readers.open(out, allow_incomplete=True)
    assert partial["written"].values.tolist() == [True] * 4 + [False] * 6
    generate(spec, N, out, seed=SEED, workers=0, progress=False, resume=True)
    man = st.read_manifest(out)
    assert man["complete"] and man["runs"][-1]["chunks_computed"] == 2 and man["runs"][-1]["resume"]
    assert chunk_sums(out) == chunk_sums(reference)
    ref, got = arrays(reference), arrays(out)
    assert all(np.array_equal(ref[k], got[k], equal_nan=True) and ref[k].dtype == got[k].dtype for k in ref)
    # resuming a complete store computes nothing
    generate(spec, N, out, seed=SEED, workers=0, progress=False, resume=True)
    assert st.read_manifest(out)["runs"][-1]["chunks_computed"] == 0


def test_resume_recomputes_a_chunk_killed_mid_write(reference: Path, spec, tmp_path: Path) -> None:
    """A chunk whose data was half written and whose marker is absent is recomputed; a damaged one is caught by verify."""
    import shutil

    out = tmp_path / "killed.zarr"
    shutil.copytree(reference, out)
    # chunk 1: data garbled, no marker (as a worker killed between the data and the marker leaves it)
    (out / st.MARKERS / "1.json").unlink()
    (out / "image" / "c.1.0.0").write_bytes(b"garbage")
    # chunk 2: marker present but its data file lost: the cheap check rejects the marker
    (out / "mask" / "c.2.0.0").unlink()
    # a torn temporary marker file is ignored
    (out / st.MARKERS / ".0.json.abc.tmp").write_text("{")
    assert sorted(st.read_markers(out, st.read_manifest(out))) == [0]
    generate(spec, N, out, seed=SEED, workers=0, progress=False, resume=True)
    assert st.read_manifest(out)["runs"][-1]["chunks_computed"] == 2
    assert chunk_sums(out) == chunk_sums(reference) and st.verify_store(out) == {}
    # silent corruption under a valid marker: verify=True finds and recomputes it
    (out / "image" / "c.0.0.0").write_bytes((reference / "image" / "c.1.0.0").read_bytes())
    assert list(st.verify_store(out)) == [0]
    generate(spec, N, out, seed=SEED, workers=0, progress=False, resume=True, verify=True)
    assert st.read_manifest(out)["runs"][-1]["chunks_computed"] == 1 and st.verify_store(out) == {}
    assert np.array_equal(arrays(out)["image"], arrays(reference)["image"])


def test_a_store_with_nested_chunk_keys_still_resumes(reference: Path, spec, tmp_path: Path) -> None:
    """Stores made before the flat chunk keys (zarr's default c/<k>/0/0) are read, checked and finished."""
    out = tmp_path / "nested.zarr"
    shutil.copytree(reference, out)
    for meta_path in out.glob("*/zarr.json"):
        meta = json.loads(meta_path.read_text())
        if meta.get("node_type") != "array":
            continue
        meta["chunk_key_encoding"] = {"name": "default", "configuration": {"separator": "/"}}
        meta_path.write_text(json.dumps(meta))
        for flat in list(meta_path.parent.glob("c.*")):
            nested = meta_path.parent.joinpath(*flat.name.split("."))
            nested.parent.mkdir(parents=True, exist_ok=True)
            flat.rename(nested)
    assert (out / "image" / "c" / "1" / "0" / "0").is_file() and not list((out / "image").glob("c.*"))
    assert sorted(st.read_markers(out, st.read_manifest(out))) == list(range(st.read_manifest(out)["n_chunks"]))
    (out / st.MARKERS / "1.json").unlink()
    (out / "image" / "c" / "1" / "0" / "0").unlink()
    generate(spec, N, out, seed=SEED, workers=0, progress=False, resume=True)
    assert st.read_manifest(out)["runs"][-1]["chunks_computed"] == 1
    assert (out / "image" / "c" / "1" / "0" / "0").is_file() and not list((out / "image").glob("c.*"))
    assert st.verify_store(out) == {} and chunk_sums(out) == chunk_sums(reference)


def test_refusals_touch_nothing(reference: Path, spec, tmp_path: Path) -> None:
    before = listing(reference)
    with pytest.raises(ConfigurationError, match="--out: .* already exists and is not empty.*--resume"):
        generate(spec, N, reference, seed=SEED, workers=0)
    with pytest.raises(DatasetSpecError, match="--seed 3; this run asks for --seed 4"):
        generate(spec, N, reference, seed=SEED + 1, resume=True, workers=0)
    with pytest.raises(DatasetSpecError, match="holds --n 10 samples; this run asks for --n 11"):
        generate(spec, N + 1, reference, seed=SEED, resume=True, workers=0)
    with pytest.raises(DatasetSpecError, match=r"another spec .*instrument\.pixels: store 16, now 24"):
        generate(tiny_spec(pixels=24), N, reference, seed=SEED, resume=True, workers=0)
    assert listing(reference) == before
    # A store begun by another synthesis version (older stemtwin) is not finished with this one.
    older = tmp_path / "older.zarr"
    shutil.copytree(reference, older)
    manifest = json.loads((older / st.MANIFEST).read_text())
    del manifest["synthesis_version"]
    (older / st.MANIFEST).write_text(json.dumps(manifest))
    kept = listing(older)
    with pytest.raises(DatasetSpecError, match="written by synthesis version 1; this stemtwin synthesizes version"):
        generate(spec, N, older, seed=SEED, resume=True, workers=0)
    assert listing(older) == kept
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(st.StoreError, match="not a stemtwin data-set store: it has no manifest.json"):
        generate(spec, N, stranger, resume=True, workers=0)
    with pytest.raises(ConfigurationError, match="already exists and is not empty"):
        generate(spec, N, stranger, workers=0)
    assert [p.name for p in stranger.iterdir()] == ["notes.txt"]
    with pytest.raises(st.StoreError, match="not a stemtwin data-set store"):
        generate(spec, N, tmp_path / "absent.zarr", resume=True, workers=0)
    for bad, match in ((0, "--n: expected an integer >= 1, got 0"), (2.5, "--n"), (True, "--n")):
        with pytest.raises(ConfigurationError, match=match):
            generate(spec, bad, tmp_path / "bad.zarr", workers=0)
    with pytest.raises(ConfigurationError, match="--workers"):
        generate(spec, N, tmp_path / "bad.zarr", workers=-1)
    assert not (tmp_path / "bad.zarr").exists() and not (tmp_path / "absent.zarr").exists()
    # an empty folder is fine
    (tmp_path / "empty.zarr").mkdir()
    generate(spec, 4, tmp_path / "empty.zarr", seed=SEED, workers=0, progress=False)
    assert st.read_manifest(tmp_path / "empty.zarr")["complete"]


def test_a_live_lock_refuses_a_second_writer(reference: Path, spec, tmp_path: Path) -> None:
    import shutil
    import socket

    out = tmp_path / "locked.zarr"
    shutil.copytree(reference, out)
    (out / ".stemtwin" / "lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")  # this live process
    with pytest.raises(st.StoreError, match="being written by another run"):
        generate(spec, N, out, seed=SEED, resume=True, workers=0)
    (out / ".stemtwin" / "lock").write_text(f"{socket.gethostname()} 999999999\n")  # a dead one: taken over
    generate(spec, N, out, seed=SEED, resume=True, workers=0, progress=False)
    assert not (out / ".stemtwin" / "lock").exists()


def test_xarray_reader_is_lazy_and_calibrated(reference: Path, spec) -> None:
    import warnings

    import dask.array as da

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = readers.open(reference)
    assert ds["image"].dims == ("sample", "x", "y") and ds["image"].shape == (N, 16, 16)
    assert isinstance(ds["image"].data, da.Array) and ds["image"].data.chunks[0] == (4, 4, 2)
    assert ds["image"].attrs["units"] == "counts"
    assert ds.attrs["stemtwin_spec_fingerprint"] == spec.fingerprint() and ds.attrs["stemtwin_complete"]
    assert ds.attrs["stemtwin_pixel_size"] == pytest.approx(7.0 / 16)
    assert np.array_equal(ds["image"][5:7].values, arrays(reference)["image"][5:7])
    axes = readers.hyperspy_axes(ds, "image")
    assert axes[0] == {"name": "sample", "size": N, "navigate": True}
    assert axes[1]["scale"] == pytest.approx(7.0 / 16) and axes[1]["units"] == "Å" and not axes[1]["navigate"]
    with pytest.raises(st.StoreError, match="not a stemtwin data-set store"):
        readers.open(reference / "image")


def test_torch_dataset_reads_chunkwise(reference: Path) -> None:
    import torch
    from torch.utils.data import DataLoader

    from stemtwin.twin.datasets.readers import ChunkSampler, StemtwinDataset

    data = StemtwinDataset(reference, inputs="image", labels=["mask", "atom_count"])
    ref = arrays(reference)
    assert len(data) == N
    sample = data[5]
    assert set(sample) == {"image", "mask", "atom_count"}
    assert sample["image"].dtype == torch.float32 and torch.equal(sample["image"], torch.from_numpy(ref["image"][5]))
    assert int(sample["atom_count"]) == int(ref["atom_count"][5]) and torch.equal(data[-1]["mask"], torch.from_numpy(ref["mask"][-1]))
    fresh = StemtwinDataset(reference, labels=[])
    for i in range(N):
        fresh[i]
    assert fresh.chunk_reads == 3  # one read per chunk in order
    order = list(ChunkSampler(fresh, shuffle=True, seed=1))
    assert sorted(order) == list(range(N)) and order != list(range(N))
    assert [i // 4 for i in order] == sorted([i // 4 for i in order], key=[i // 4 for i in order].index)  # chunk by chunk
    loader = DataLoader(StemtwinDataset(reference), batch_size=4, num_workers=2, sampler=ChunkSampler(fresh, shuffle=False))
    batches = list(loader)
    assert torch.equal(torch.cat([b["image"] for b in batches]), torch.from_numpy(ref["image"]))
    assert set(batches[0]) == set(st.read_manifest(reference)["arrays"])
    with pytest.raises(st.StoreError, match="no array 'frames'"):
        StemtwinDataset(reference, inputs="frames")


def test_twin_import_does_not_import_torch_or_xarray() -> None:
    code = (
        "import sys, stemtwin.twin.datasets.readers, stemtwin.twin.datasets.generate, stemtwin.twin.datasets.store;"
        "print('torch' in sys.modules, 'xarray' in sys.modules, 'distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


# -- the command line ---------------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    from stemtwin.scenarios.generate_cli import add_generate_parser, run_generate

    parser = argparse.ArgumentParser(prog="stemtwin")
    add_generate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return run_generate(args)
    except TwinError as exc:  # as stemtwin.scenarios.cli.main does
        print(f"stemtwin: error: {exc}", file=sys.stderr)
        return 2


def tiny_spec_toml() -> str:
    """:func:`tiny_spec` as a spec file."""
    return (
        '[dataset]\nname = "tiny-haadf"\nsamples_per_chunk = 4\n'
        '[sample]\nfamily = "graphene"\nframes_per_structure = 2\n[sample.params]\nextent = [14.0, 14.0]\n'
        '[instrument]\nengine = "fast"\nmodality = "haadf"\npixels = 16\nfov = 7.0\ndose = [1e4, 1e5]\ndistortion = [0.0, 1.0]\n'
        '[labels]\nstore = ["atoms", "masks"]\n'
    )


def test_cli_generates_resumes_and_refuses(reference: Path, spec, tmp_path: Path, capsys) -> None:
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny_spec_toml())
    out = tmp_path / "cli.zarr"
    assert _cli(["generate", str(spec_file), "--n", str(N), "--out", str(out), "--seed", str(SEED), "--workers", "0", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "10 samples of 'tiny-haadf' in 3 chunks of 4 (3 computed now)" in captured.out and "samples/s" in captured.out
    assert captured.err == ""  # --no-progress
    assert chunk_sums(out) == chunk_sums(reference)
    assert _cli(["generate", str(spec_file), "--n", str(N), "--out", str(out), "--seed", str(SEED), "--workers", "0"]) == 2
    assert "stemtwin: error: --out:" in capsys.readouterr().err
    assert _cli(["generate", str(spec_file), "--n", str(N), "--out", str(out), "--seed", "9", "--resume", "--workers", "0"]) == 2
    assert "--seed 3; this run asks for --seed 9" in capsys.readouterr().err
    assert _cli(["generate", str(spec_file), "--n", str(N), "--out", str(out), "--seed", str(SEED), "--resume", "--workers", "0"]) == 0
    assert "(0 computed now, 3 already done)" in capsys.readouterr().out
    assert _cli(["generate", "no-such-spec", "--n", "4", "--out", str(tmp_path / "x.zarr"), "--workers", "0"]) == 2
    assert "stemtwin: error:" in capsys.readouterr().err and not (tmp_path / "x.zarr").exists()
    # progress lines on a non-terminal stderr
    assert _cli(["generate", str(spec_file), "--n", "8", "--out", str(tmp_path / "p.zarr"), "--workers", "0"]) == 0
    assert "generate: 2/2 chunks, 8/8 samples" in capsys.readouterr().err


def test_cli_ctrl_c_says_what_is_written_and_resume_finishes(reference: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    generate_module = sys.modules["stemtwin.twin.datasets.generate"]  # the package's `generate` is the function
    real = generate_module.generate

    def interrupted_after_one_chunk(*args, **kwargs):  # Ctrl-C as the second chunk starts
        try:
            return real(*args, fault_after=1, **kwargs)
        except InjectedFault:
            raise KeyboardInterrupt from None

    out = tmp_path / "c.zarr"
    argv = ["generate", "tiny.toml", "--n", str(N), "--out", str(out), "--seed", str(SEED), "--workers", "0", "--no-progress"]
    (tmp_path / "tiny.toml").write_text(tiny_spec_toml())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(generate_module, "generate", interrupted_after_one_chunk)
    try:
        status = _cli(argv)
    except KeyboardInterrupt:  # would stop the whole pytest session
        pytest.fail("Ctrl-C escaped run_generate as a traceback")
    assert status == 130
    err = capsys.readouterr().err
    assert "stemtwin generate: interrupted; 1 of 3 chunks (4 of 10 samples) are written" in err and "with --resume" in err
    assert st.read_manifest(out)["runs"][-1]["status"] == "interrupted"
    monkeypatch.setattr(generate_module, "generate", real)
    assert _cli([*argv, "--resume"]) == 0
    assert "(2 computed now, 1 already done)" in capsys.readouterr().out
    assert chunk_sums(out) == chunk_sums(reference)

    # Ctrl-C before the store exists: run again, without --resume (which needs a store)
    def interrupted_at_once(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_module, "generate", interrupted_at_once)
    assert _cli([*argv[:5], str(tmp_path / "new.zarr"), *argv[6:]]) == 130
    assert "interrupted before the store was made; run the same command again." in capsys.readouterr().err


def test_cli_is_wired_into_stemtwin_main(tmp_path: Path, capsys) -> None:
    from stemtwin.scenarios import cli

    assert cli.main(["generate", "no-such-spec", "--n", "4", "--out", str(tmp_path / "x.zarr")]) == 2
    assert "stemtwin: error:" in capsys.readouterr().err


# -- train --data STORE.zarr --------------------------------------------------------------------------


def test_train_reads_frames_from_a_store(reference: Path, tmp_path: Path) -> None:
    from stemtwin.scenarios.train import load_images

    frames = load_images(reference)
    assert frames.shape == (N, 16, 16) and frames.dtype == np.float64
    assert np.array_equal(frames, arrays(reference)["image"].astype(np.float64))
    eels = generate(tiny_spec(name="tiny-eels", pixels=8, modality="eels", channels=16), 2, tmp_path / "eels.zarr", workers=0, progress=False)
    with pytest.raises(ConfigurationError, match="holds no 2-D frames.*spectrum_image"):
        load_images(eels)
    ds = readers.open(eels).transpose("sample", "y", "x", ...)
    axes = readers.hyperspy_axes(ds, "spectrum_image")
    assert [(a["name"], a["navigate"]) for a in axes] == [("sample", True), ("y", True), ("x", True), ("energy", False)]
    energy = ds["spectrum_image"].attrs["energy"]
    assert axes[3]["offset"] == energy[0] and axes[3]["scale"] == pytest.approx(energy[1] - energy[0]) and axes[3]["units"] == "eV"
    with pytest.raises(InjectedFault):
        generate(tiny_spec(), 8, tmp_path / "cut.zarr", workers=0, progress=False, fault_after=1)
    with pytest.raises(ConfigurationError, match="incomplete"):
        load_images(tmp_path / "cut.zarr")


def test_train_rvae_one_epoch_on_a_generated_store(tmp_path: Path, capsys) -> None:
    from stemtwin.scenarios.train import add_train_parser, run_train

    spec = parse_spec(
        {
            "dataset": {"name": "train-haadf", "samples_per_chunk": 2},
            "sample": {"family": "graphene", "params": {"extent": [32.0, 32.0]}},
            "instrument": {"engine": "fast", "modality": "haadf", "pixels": 64, "fov": 16.0, "dose": 1e6},
        },
        source="<train>",
    )
    store = generate(spec, 2, tmp_path / "frames.zarr", workers=0, progress=False)
    parser = argparse.ArgumentParser(prog="stemtwin")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "rvae.pt"
    args = parser.parse_args(
        ["train", "rvae", "--data", str(store), "--out", str(out), "--epochs", "1",
         "--patch-size", "16", "--atom-sigma", "1", "--min-distance", "4", "--batch-size", "32"]
    )
    assert run_train(args) == 0
    assert "2 image(s)" in capsys.readouterr().out
    meta = json.loads((tmp_path / "rvae.pt.json").read_text())
    assert meta["training"]["n_images"] == 2 and len(meta["training"]["loss"]) == 1 and out.is_file()
