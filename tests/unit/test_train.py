"""`stemtwin train rvae`: data loading, training, deterministic atomic saving, and clean errors."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stemtwin.agents.rvae import RVAE
from stemtwin.scenarios.train import add_train_parser, atom_patches, load_images, run_train, train_rvae
from stemtwin.twin.errors import ConfigurationError, TwinError

# small and quick: 16-pixel patches of ~1.3-pixel atoms, 8 pixels apart
FAST = {"patch_size": 16, "atom_sigma": 1.0, "min_distance": 4, "batch_size": 32}
FAST_ARGS = ["--patch-size", "16", "--atom-sigma", "1", "--min-distance", "4", "--batch-size", "32"]


def lattice_image(n: int = 64, spacing: float = 8.0, sigma: float = 1.3, angle: float = 0.0, seed: int = 0) -> np.ndarray:
    """A square lattice of Gaussian atoms, rotated by ``angle`` [rad], with shot noise (counts)."""
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    c, s = np.cos(angle), np.sin(angle)
    img = np.zeros((n, n))
    for i in range(-n // 4, n // 4 + 1):
        for j in range(-n // 4, n // 4 + 1):
            px, py = n / 2 + spacing * (c * i - s * j) + 0.3, n / 2 + spacing * (s * i + c * j) + 0.2
            if -3 * sigma < px < n + 3 * sigma and -3 * sigma < py < n + 3 * sigma:
                img += np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2))
    return np.random.default_rng(seed).poisson(200.0 * img + 10.0).astype(np.float64)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.stack([lattice_image(angle=0.3 * k, seed=k) for k in range(2)])


@pytest.fixture(scope="module")
def trained(images: np.ndarray) -> tuple[RVAE, dict]:
    return train_rvae(images, epochs=4, seed=0, **FAST)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stemtwin")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv: list[str]) -> int:
    return run_train(_parser().parse_args(argv))


def _state_bytes(model: RVAE) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- training -------------------------------------------------------------------------------------


def test_patches_are_atom_centred_and_normalised(images: np.ndarray) -> None:
    patches, pos = atom_patches(images[0], patch_size=16, atom_sigma=1.0, min_distance=4)
    assert patches.shape == (len(pos), 16, 16) and len(pos) >= 20
    centre = patches[:, 7:9, 7:9].mean(axis=(1, 2))
    assert np.median(centre) == pytest.approx(1.0, abs=0.3)  # atoms near 1, background near 0
    assert abs(float(np.median(patches[:, 11:13, 11:13]))) < 0.3  # between four atoms (image 0 is unrotated)


def test_training_lowers_the_loss(trained: tuple[RVAE, dict]) -> None:
    model, info = trained
    assert info["n_images"] == 2 and info["n_patches"] == sum(info["atoms_per_image"]) >= 40
    assert info["epochs"] == len(info["history"]) == 4 == model.epochs_trained
    assert info["loss"] < 0.8 * info["first_loss"]
    assert model.config.patch_size == 16 and model.config.seed == 0
    json.dumps(info["patches"])  # JSON-ready recipe


def test_same_seed_same_bytes_and_threads_restored(images: np.ndarray, trained: tuple[RVAE, dict]) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again, _ = train_rvae(images, epochs=4, seed=0, **FAST)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert _state_bytes(again) == _state_bytes(trained[0])
    other, _ = train_rvae(images, epochs=1, seed=1, **FAST)
    first, _ = train_rvae(images, epochs=1, seed=0, **FAST)
    assert _state_bytes(other) != _state_bytes(first)


def test_images_of_different_sizes_from_python(images: np.ndarray) -> None:
    model, info = train_rvae([images[0], images[1][:48, :56]], epochs=1, seed=0, **FAST)
    assert info["n_images"] == 2 and len(info["atoms_per_image"]) == 2


# -- command line ---------------------------------------------------------------------------------


def test_cli_writes_a_model_that_loads_with_weights_only(tmp_path: Path, images: np.ndarray, trained, capsys) -> None:
    data = tmp_path / "frames.npy"
    np.save(data, images)
    out = tmp_path / "model.pt"
    assert _run(["train", "rvae", "--data", str(data), "--out", str(out), "--epochs", "4", *FAST_ARGS]) == 0
    text = capsys.readouterr().out
    assert "2 image(s)" in text and "4 epochs" in text and str(out) in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.npy", "model.pt", "model.pt.json"]  # no temporaries
    assert out.stat().st_mode & 0o044 == (tmp_path / "frames.npy").stat().st_mode & 0o044  # usual permissions
    state = torch.load(out, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    meta = json.loads((tmp_path / "model.pt.json").read_text())
    assert meta["training"]["n_images"] == 2 and len(meta["training"]["loss"]) == 4
    loaded = RVAE.load(out)
    assert _state_bytes(loaded) == _state_bytes(trained[0])  # same data, seed and settings as the fixture
    reference = trained[0].save(tmp_path / "reference" / "model.pt")
    assert out.read_bytes() == reference.read_bytes()  # the file itself, byte for byte
    patches, _ = atom_patches(images[0], patch_size=16, atom_sigma=1.0, min_distance=4)
    a, b = loaded.encode(patches), trained[0].encode(patches)
    np.testing.assert_array_equal(a.content, b.content)
    np.testing.assert_array_equal(a.angle, b.angle)


def test_force_overwrites(tmp_path: Path, images: np.ndarray) -> None:
    data = tmp_path / "frames.npz"
    np.savez(data, images=images, dark=np.zeros(3))
    out = tmp_path / "model.pt"
    out.write_bytes(b"old")
    assert _run(["train", "rvae", "--data", str(data), "--out", str(out), "--epochs", "1", "--force", *FAST_ARGS]) == 0
    assert RVAE.load(out).epochs_trained == 1


def test_parser_defaults_come_from_rvae_config() -> None:
    from stemtwin.agents.rvae import RVAEConfig
    from stemtwin.scenarios.train import HELP_DEFAULTS

    config = RVAEConfig()
    assert HELP_DEFAULTS == {name: getattr(config, name) for name in HELP_DEFAULTS}
    args = _parser().parse_args(["train", "rvae", "--data", "x.npy", "--out", "m.pt"])
    assert (args.patch_size, args.content_dim, args.symmetry, args.batch_size, args.seed, args.force) == (None, None, None, None, 0, False)
    assert _parser().parse_args(["train", "rvae", "--data", "x", "--out", "m.pt", "--latent-dim", "3"]).content_dim == 3


def test_unknown_model_kind_is_an_argparse_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["train", "vae", "--data", "x.npy", "--out", str(tmp_path / "m.pt")])
    assert exc.value.code == 2


def test_wired_into_the_stemtwin_command(tmp_path: Path, images: np.ndarray, capsys) -> None:
    from stemtwin.scenarios import cli

    actions = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert actions and "train" in actions[0].choices
    data = tmp_path / "frames.npy"
    np.save(data, images[:1])
    out = tmp_path / "model.pt"
    assert cli.main(["train", "rvae", "--data", str(data), "--out", str(out), "--epochs", "1", *FAST_ARGS]) == 0
    assert out.is_file()
    assert cli.main(["train", "rvae", "--data", str(data), "--out", str(out), "--epochs", "1"]) == 2
    assert "stemtwin: error: --out" in capsys.readouterr().err


# -- data formats -----------------------------------------------------------------------------------


def test_load_images_formats(tmp_path: Path) -> None:
    import imageio.v3 as iio
    import tifffile

    a = (np.arange(40 * 50).reshape(40, 50) % 997).astype(np.uint16)
    np.save(tmp_path / "one.npy", a)
    np.save(tmp_path / "stack.npy", np.stack([a, a]))
    np.savez(tmp_path / "any.npz", x=a, y=np.stack([a, a]), label=np.arange(3))
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([a, a, a]), photometric="minisblack")
    tifffile.imwrite(tmp_path / "rgb.tiff", np.stack([a, a, a], axis=-1), photometric="rgb")
    iio.imwrite(tmp_path / "grey.png", a)
    iio.imwrite(tmp_path / "colour.png", np.stack([(a % 256).astype(np.uint8)] * 3, axis=-1))
    expected = {"one.npy": 1, "stack.npy": 2, "any.npz": 3, "pages.tif": 3, "rgb.tiff": 1, "grey.png": 1, "colour.png": 1}
    for name, n in expected.items():
        got = load_images(tmp_path / name)
        assert got.shape == (n, 40, 50) and got.dtype == np.float64, name
    np.testing.assert_allclose(load_images(tmp_path / "rgb.tiff")[0], a, rtol=1e-6)
    np.testing.assert_array_equal(load_images(tmp_path / "grey.png")[0], a)
    assert load_images(tmp_path).shape == (12, 40, 50)  # the folder, sorted by name


# -- bad input ------------------------------------------------------------------------------------


def _bad_data(tmp_path: Path, kind: str) -> Path:
    img = lattice_image()
    if kind == "missing":
        return tmp_path / "nothing.npy"
    if kind == "suffix":
        p = tmp_path / "frames.txt"
        p.write_text("1 2 3")
        return p
    if kind == "rank":
        p = tmp_path / "frames.npy"
        np.save(p, np.zeros((2, 2, 64, 64)))
        return p
    if kind == "nan":
        p = tmp_path / "frames.npy"
        img[10, 10] = np.nan
        np.save(p, img)
        return p
    if kind == "small":
        p = tmp_path / "frames.npy"
        np.save(p, img[:12, :12])
        return p
    if kind == "pickle":
        p = tmp_path / "frames.npy"
        obj = np.empty(2, dtype=object)
        obj[0], obj[1] = img, "x"
        np.save(p, obj, allow_pickle=True)
        return p
    if kind == "zarr":
        p = tmp_path / "frames.zarr"
        p.mkdir()
        return p
    if kind == "empty_folder":
        p = tmp_path / "frames"
        p.mkdir()
        return p
    if kind == "blank":
        p = tmp_path / "frames.npy"
        np.save(p, np.full((64, 64), 5.0))
        return p
    p = tmp_path / "frames.npy"
    np.save(p, img)
    return p


@pytest.mark.parametrize(
    ("kind", "extra", "field", "detail"),
    [
        ("missing", [], "--data", "does not exist"),
        ("suffix", [], "--data", "'.txt'"),
        ("rank", [], "--data", "(2, 2, 64, 64)"),
        ("nan", [], "--data", "NaN"),
        ("pickle", [], "--data", "unpickling"),
        ("zarr", [], "--data", "not a stemtwin data-set store"),
        ("empty_folder", [], "--data", "no image files"),
        ("blank", [], "--data", "found 0 atom"),
        ("small", [], "--patch-size", "12×12"),
        ("ok", ["--epochs", "0"], "--epochs", "got 0"),
        ("ok", ["--epochs", "-3"], "--epochs", "got -3"),
        ("ok", ["--patch-size", "4"], "--patch-size", "[8, 256]"),
        ("ok", ["--symmetry", "three"], "--symmetry", "'three'"),
        ("ok", ["--threshold", "2"], "--threshold", "got 2.0"),
        ("ok", ["--content-dim", "0"], "--content-dim", "got 0"),
        ("ok", ["--existing"], "--out", "--force"),
        ("ok", ["--out-suffix"], "--out", "'.pt'"),
    ],
)
def test_bad_input_names_the_option_and_writes_nothing(tmp_path: Path, kind: str, extra: list[str], field: str, detail: str) -> None:
    data = _bad_data(tmp_path, kind)
    out = tmp_path / "model.pt"
    if "--existing" in extra:
        out.write_bytes(b"old weights")
        (tmp_path / "model.pt.json").write_text("{}")
        extra = []
    if "--out-suffix" in extra:
        out = tmp_path / "model.pth"
        extra = []
    before = _snapshot(tmp_path)
    with pytest.raises(ConfigurationError) as exc:
        _run(["train", "rvae", "--data", str(data), "--out", str(out), "--epochs", "1", *FAST_ARGS[:2], *extra])
    message = str(exc.value)
    assert isinstance(exc.value, TwinError)
    assert field in message and detail in message, message
    assert _snapshot(tmp_path) == before  # existing files untouched, nothing new
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before) + ([data.name] if data.is_dir() else [])


def test_missing_out_folder_is_refused(tmp_path: Path) -> None:
    data = _bad_data(tmp_path, "ok")
    with pytest.raises(ConfigurationError, match="--out: folder"):
        _run(["train", "rvae", "--data", str(data), "--out", str(tmp_path / "no" / "model.pt")])


def test_python_api_validates_too(images: np.ndarray) -> None:
    with pytest.raises(ConfigurationError, match="--epochs"):
        train_rvae(images, epochs=0, **FAST)
    with pytest.raises(ConfigurationError, match=r"rVAE settings: `recon_sigma`"):
        train_rvae(images, epochs=1, rvae={"recon_sigma": -1.0}, **FAST)
    with pytest.raises(ConfigurationError, match="image 0 has shape"):
        train_rvae([images], epochs=1, **FAST)
