"""``stemtwin train rvae``: train a rotationally invariant VAE on atom-centred patches of images.

Pipeline (the same as the discovery agent's, :mod:`stemtwin.agents.discovery`):

1. :func:`load_images` reads ``--data``: a ``.npy`` file (one image (H, W) or a stack (N, H, W)), a
   ``.npz`` archive (the array called ``images`` or ``frames``, else every 2-D/3-D array in it), a
   ``.tif``/``.tiff`` (tifffile; a multi-page TIFF is a stack) or ``.png`` image (scikit-image;
   colour is turned to grey), a ``.zarr`` store written by ``stemtwin generate`` (its ``image``
   frames), or a folder of such files (sorted by name, not recursive). Nothing is ever unpickled. Arrays are used
   as stored (axis 0 first), as in the twin's images.
2. :func:`atom_patches` finds the atom columns of each image
   (:func:`~stemtwin.agents.atom_finding.find_atoms`: smoothing, peak detection, sub-pixel
   refinement), drops atoms closer than ``patch_size // 2 − 1`` pixels to the edge, and cuts a
   ``patch_size`` patch around each from the lightly smoothed image, normalised per image as
   ``(image − p5) / (median atom peak − p5)`` (p5: the image's 5th percentile, its background), so
   that the background is near 0 and an atom near 1 whatever the dose or detector gain.
3. :func:`train_rvae` fits an :class:`~stemtwin.agents.rvae.RVAE` (defaults from
   :class:`~stemtwin.agents.rvae.RVAEConfig`) for ``epochs`` passes, with one torch thread, so that
   the same data and seed give the same weights, byte for byte.
4. :func:`run_train` saves it atomically: :meth:`RVAE.save` writes to temporary files in the folder
   of ``--out``, which are then renamed to ``<out>.pt`` and ``<out>.pt.json``. The JSON also records
   how the patches were made (``"training"``), so new images can be encoded the same way;
   :meth:`RVAE.load` reads the pair back with ``torch.load(..., weights_only=True)``.

Bad input raises :class:`~stemtwin.twin.errors.ConfigurationError` naming the option, what is allowed
and what was received; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from stemtwin.twin.errors import ConfigurationError

if TYPE_CHECKING:  # torch is imported on first use, so the CLI starts fast
    from stemtwin.agents.rvae import RVAE

__all__ = [
    "MODEL_KINDS",
    "IMAGE_SUFFIXES",
    "add_train_parser",
    "run_train",
    "train_rvae",
    "load_images",
    "atom_patches",
]

#: Model kinds of ``stemtwin train``.
MODEL_KINDS = ("rvae",)
#: Image file suffixes understood by :func:`load_images` (also inside a folder).
IMAGE_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".png")
#: Keys of an ``.npz`` archive taken as the image stack when present (first match wins).
NPZ_KEYS = ("images", "frames")
#: Atom-finding defaults [pixels, fraction] (those of :func:`~stemtwin.agents.atom_finding.find_atoms`).
DEFAULT_ATOM_SIGMA = 2.0
DEFAULT_MIN_DISTANCE = 4
DEFAULT_THRESHOLD = 0.25
DEFAULT_PATCH_SMOOTHING = 1.0
DEFAULT_EPOCHS = 10
MIN_PATCHES = 2


#: RVAEConfig defaults quoted in ``--help`` (the parser itself defaults to None, and :func:`train_rvae`
#: then takes RVAEConfig's values), so that building the parser does not import torch. A test checks
#: that they match RVAEConfig.
HELP_DEFAULTS = {"patch_size": 32, "content_dim": 2, "symmetry": 1, "batch_size": 128}


def _rvae_defaults() -> dict[str, Any]:
    """Defaults of the rVAE hyper-parameters exposed on the command line (from ``RVAEConfig``)."""
    from stemtwin.agents.rvae import RVAEConfig

    return {f.name: f.default for f in fields(RVAEConfig)}


# -- data ---------------------------------------------------------------------------------------


def _check_stack(arr: Any, where: str) -> np.ndarray:
    """A finite real (N, H, W) float64 stack from a 2-D or 3-D array read from ``where``."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ConfigurationError(
            f"--data: {where} holds an array of dtype {arr.dtype}; expected real numbers (integer or float counts)."
        )
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ConfigurationError(
            f"--data: {where} holds an array of shape {arr.shape}; expected one image (H, W) or a stack (N, H, W)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ConfigurationError(f"--data: {where} holds an empty array of shape {arr.shape}; expected (N, H, W) with N, H, W >= 1.")
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = [int(i) for i in np.flatnonzero(~finite.all(axis=(1, 2)))]
        raise ConfigurationError(
            f"--data: {where} holds {int(np.count_nonzero(~finite))} NaN or inf pixels (in image(s) {bad[:10]}); "
            "expected finite values. Clean or drop those images."
        )
    return arr


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle: refused
        raise ConfigurationError(f"--data: {str(path)!r} cannot be read without unpickling ({exc}); save plain numeric arrays.") from None
    except OSError as exc:
        raise ConfigurationError(f"--data: {str(path)!r} is not a readable .npy file ({exc}).") from None
    return _check_stack(arr, repr(str(path)))


def _load_npz(path: Path) -> np.ndarray:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"--data: {str(path)!r} is not a readable .npz archive ({exc}).") from None
    with archive:
        names = list(archive.files)
        try:
            key = next((k for k in NPZ_KEYS if k in names), None)
            if key is not None:
                return _check_stack(archive[key], f"{str(path)!r}[{key!r}]")
            parts = []
            for name in names:
                arr = archive[name]
                if arr.ndim in (2, 3) and arr.dtype.kind in "biuf":
                    parts.append((name, _check_stack(arr, f"{str(path)!r}[{name!r}]")))
        except ValueError as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"--data: {str(path)!r} holds an array that needs unpickling ({exc}); save plain numeric arrays.") from None
    if not parts:
        raise ConfigurationError(
            f"--data: {str(path)!r} holds no 2-D or 3-D numeric array (arrays: {names}); "
            f"expected a key {list(NPZ_KEYS)} or image arrays (H, W) / stacks (N, H, W)."
        )
    return _stack([a for _, a in parts], [f"{str(path)!r}[{n!r}]" for n, _ in parts])


def _grey(arr: np.ndarray) -> np.ndarray:
    """Colour samples on the last axis (grey+alpha, RGB, RGBA) to grey (ITU-R 709 luma), as float."""
    arr = arr.astype(np.float64)
    if arr.shape[-1] >= 3:
        return arr[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    return arr[..., 0]


def _load_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            arr, axes = np.asarray(series.asarray()), series.axes
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise ConfigurationError(f"--data: {str(path)!r} is not a readable TIFF image ({type(exc).__name__}: {exc}).") from None
    if "S" in axes:  # colour samples (RGB, ...): to grey
        arr = _grey(np.moveaxis(arr, axes.index("S"), -1))
    if arr.ndim > 3:  # pages × time × ...: one stack of 2-D images
        arr = arr.reshape(-1, *arr.shape[-2:])
    return _check_stack(arr, repr(str(path)))


def _load_png(path: Path) -> np.ndarray:
    import skimage.io

    try:
        arr = np.asarray(skimage.io.imread(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise ConfigurationError(f"--data: {str(path)!r} is not a readable PNG image ({type(exc).__name__}: {exc}).") from None
    if arr.ndim == 3:  # (H, W, channels)
        arr = _grey(arr)
    return _check_stack(arr, repr(str(path)))


def _load_zarr(path: Path) -> np.ndarray:
    """The ``image`` frames (sample, H, W) of a store written by ``stemtwin generate``."""
    from stemtwin.twin.datasets.readers import open as open_store
    from stemtwin.twin.datasets.store import StoreError

    try:
        ds = open_store(path)
    except StoreError as exc:  # not a stemtwin store, or an incomplete one
        raise ConfigurationError(f"--data: {exc}") from None
    image = ds.variables.get("image")
    if image is None or image.ndim != 3:
        found = ", ".join(f"{name} {tuple(ds[name].dims)}" for name in ds.data_vars)
        raise ConfigurationError(
            f"--data: the store {str(path)!r} holds no 2-D frames (an array 'image' (sample, x, y)); it holds {found}. "
            "Train on a store of a HAADF or ABF spec."
        )
    return _check_stack(image.values, f"{str(path)!r}['image']")


#: Readers by file suffix (lower case). Add a reader here to support a new format.
LOADERS: dict[str, Callable[[Path], np.ndarray]] = {
    ".npy": _load_npy,
    ".npz": _load_npz,
    ".tif": _load_tiff,
    ".tiff": _load_tiff,
    ".png": _load_png,
    ".zarr": _load_zarr,
}


def _stack(arrays: Sequence[np.ndarray], names: Sequence[str]) -> np.ndarray:
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        listing = ", ".join(f"{n}: {a.shape[1]}×{a.shape[2]}" for n, a in zip(names, arrays, strict=True))
        raise ConfigurationError(
            f"--data: the images differ in size ({listing}); expected images of one size. "
            "Train on each size separately or crop them to one size."
        )
    return np.concatenate(arrays, axis=0)


def load_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Images of ``path`` as a float64 array of shape (N, H, W).

    Parameters
    ----------
    path
        A ``.npy`` file (one image (H, W) or a stack (N, H, W)); an ``.npz`` archive (the array
        ``images`` or ``frames`` if there is one, else every 2-D or 3-D numeric array, in archive
        order); a ``.tif``, ``.tiff`` or ``.png`` image (a multi-page TIFF gives a stack, colour is
        turned to grey); or a folder of such files (sorted by name, not recursive). Dispatch is on
        the suffix (:data:`LOADERS`); or a ``.zarr`` store written by ``stemtwin generate`` (its
        ``image`` frames). Nothing is unpickled.

    Raises
    ------
    ConfigurationError
        Missing path, unknown suffix, unreadable file, wrong rank, non-numeric or non-finite values,
        or images of different sizes.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigurationError(f"--data: {str(p)!r} does not exist; expected a file {list(IMAGE_SUFFIXES)} or a folder of them.")
    suffix = p.suffix.lower()
    if p.is_dir() and (p / "manifest.json").is_file():  # a `stemtwin generate` store, whatever its name
        return _load_zarr(p)
    if p.is_dir() and suffix not in LOADERS:
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."))
        if not files:
            raise ConfigurationError(f"--data: folder {str(p)!r} holds no image files; expected files ending in {list(IMAGE_SUFFIXES)}.")
        return _stack([LOADERS[f.suffix.lower()](f) for f in files], [repr(f.name) for f in files])
    loader = LOADERS.get(suffix)
    if loader is None:
        raise ConfigurationError(
            f"--data: {str(p)!r} has the suffix {p.suffix!r}; expected one of {list(IMAGE_SUFFIXES)} or a folder of such files."
        )
    return loader(p)


# -- patches --------------------------------------------------------------------------------------


def atom_patches(
    image: Any,
    *,
    patch_size: int,
    atom_sigma: float = DEFAULT_ATOM_SIGMA,
    min_distance: int = DEFAULT_MIN_DISTANCE,
    threshold: float = DEFAULT_THRESHOLD,
    smoothing: float = DEFAULT_PATCH_SMOOTHING,
    margin: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised atom-centred patches of one image (the discovery agent's recipe; module docstring).

    Returns
    -------
    patches : ndarray of shape (n, patch_size, patch_size), float32
    positions : ndarray of shape (n, 2)
        Atom positions (p, q) [pixels] along (axis 0, axis 1).
    """
    from scipy import ndimage
    from stemtwin.agents.atom_finding import find_atoms, normalised_patches

    frame = np.asarray(image, dtype=np.float64)
    border = max(patch_size // 2 - 1, 0) if margin is None else int(margin)
    pos = find_atoms(frame, sigma=atom_sigma, min_distance=min_distance, threshold=threshold, border=border)
    smooth = ndimage.gaussian_filter(frame, smoothing, mode="nearest") if smoothing > 0 else frame
    return normalised_patches(smooth, pos, patch_size), pos


# -- training -------------------------------------------------------------------------------------


def _int_option(option: str, value: Any, low: int, high: int | None, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ConfigurationError(f"{option} must be {allowed} ({what}), got {value!r}.")
    return int(value)


def _float_option(option: str, value: Any, low: float, high: float | None, what: str) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and float(value) >= low and (high is None or float(value) <= high)
    if not ok:
        allowed = f"a number >= {low:g}" if high is None else f"a number in [{low:g}, {high:g}]"
        raise ConfigurationError(f"{option} must be {allowed} ({what}), got {value!r}.")
    return float(value)


def _as_images(images: Any, patch_size: int) -> list[np.ndarray]:
    images = getattr(images, "array", images)  # a twin Image (or anything with an ``array``)
    if isinstance(images, (list, tuple)):
        if not images:
            raise ConfigurationError("--data: no images given; expected at least one image (H, W).")
        frames = []
        for i, im in enumerate(images):
            arr = np.asarray(getattr(im, "array", im))
            if arr.ndim != 2:
                raise ConfigurationError(f"--data: image {i} has shape {arr.shape}; expected a 2-D image (H, W).")
            frames.append(_check_stack(arr, f"image {i}")[0])
    else:
        frames = list(_check_stack(images, "the images"))
    for i, frame in enumerate(frames):
        if min(frame.shape) < patch_size:
            raise ConfigurationError(
                f"--patch-size {patch_size} [pixels] is larger than image {i} ({frame.shape[0]}×{frame.shape[1]} pixels); "
                f"expected images of at least {patch_size}×{patch_size} pixels, or a smaller --patch-size."
            )
    return frames


class _OneThread:
    """torch with ``n`` threads inside the block (deterministic sums), restored afterwards."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)


def train_rvae(
    images: Any,
    *,
    patch_size: int | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    content_dim: int | None = None,
    symmetry: int | str | None = None,
    batch_size: int | None = None,
    atom_sigma: float = DEFAULT_ATOM_SIGMA,
    min_distance: int = DEFAULT_MIN_DISTANCE,
    threshold: float = DEFAULT_THRESHOLD,
    patch_smoothing: float = DEFAULT_PATCH_SMOOTHING,
    margin: int | None = None,
    rvae: Mapping[str, Any] | None = None,
    num_threads: int = 1,
) -> tuple[RVAE, dict[str, Any]]:
    """Train an rVAE on the atom-centred patches of ``images`` (module docstring).

    Parameters
    ----------
    images
        ndarray (H, W) or (N, H, W), or a sequence of 2-D arrays (sizes may differ) or of twin
        :class:`~stemtwin.twin.observations.Image` s: counts or intensities, atoms bright (HAADF),
        finite.
    patch_size, content_dim, symmetry, batch_size
        rVAE hyper-parameters (None: the :class:`~stemtwin.agents.rvae.RVAEConfig` default);
        ``patch_size`` is the side of the square patches [pixels], 8–256, and at most the image side.
    epochs
        Passes over the patches, >= 1.
    seed
        Seed of the weights, minibatches and reparametrisation noise (>= 0).
    atom_sigma, min_distance, threshold
        Atom finding (:func:`~stemtwin.agents.atom_finding.find_atoms`): smoothing σ [pixels], minimum
        separation [pixels], relative peak threshold in [0, 1].
    patch_smoothing
        Gaussian σ [pixels] of the image the patches are cut from (0: raw).
    margin
        Atoms closer than this to the edge [pixels] are left out (default ``patch_size // 2 − 1``).
    rvae
        Further :class:`~stemtwin.agents.rvae.RVAEConfig` fields (e.g. ``{"recon_sigma": 0.2}``).
    num_threads
        torch threads during training (restored afterwards); 1 makes the weights reproducible.

    Returns
    -------
    model : RVAE
        The trained model (eval mode).
    info : dict
        ``n_images``, ``n_patches``, ``atoms_per_image``, ``epochs``, ``history`` (per-epoch loss
        dicts from :meth:`RVAE.fit`), ``loss`` (last epoch's mean loss), ``first_loss``, ``seconds``
        and ``patches`` (how patches were made: JSON-ready, for encoding new images the same way).

    Raises
    ------
    ConfigurationError
        Any bad setting or image, or no atoms found; messages name the ``stemtwin train`` option.
    """
    from stemtwin.agents.rvae import RVAE, RVAEConfig, RVAEConfigError

    defaults = _rvae_defaults()
    patch_size = defaults["patch_size"] if patch_size is None else patch_size
    content_dim = defaults["content_dim"] if content_dim is None else content_dim
    symmetry = defaults["symmetry"] if symmetry is None else symmetry
    batch_size = defaults["batch_size"] if batch_size is None else batch_size
    patch_size = _int_option("--patch-size", patch_size, 8, 256, "side of the square atom-centred patches [pixels]")
    epochs = _int_option("--epochs", epochs, 1, None, "passes over the patches")
    seed = _int_option("--seed", seed, 0, None, "random seed")
    content_dim = _int_option("--content-dim", content_dim, 1, 64, "number of content latents")
    if symmetry != "auto":
        symmetry = _int_option("--symmetry", symmetry, 1, 12, "rotational order n of the angle latent, or 'auto'")
    batch_size = _int_option("--batch-size", batch_size, 1, None, "patches per optimisation step")
    atom_sigma = _float_option("--atom-sigma", atom_sigma, 0.0, None, "atom-finding smoothing σ [pixels]")
    min_distance = _int_option("--min-distance", min_distance, 1, None, "minimum separation of two atoms [pixels]")
    threshold = _float_option("--threshold", threshold, 0.0, 1.0, "peak threshold, a fraction of the image's range")
    patch_smoothing = _float_option("--patch-smoothing", patch_smoothing, 0.0, None, "Gaussian σ of the image patches are cut from [pixels]")
    margin = max(patch_size // 2 - 1, 0) if margin is None else _int_option("--margin", margin, 0, None, "atoms nearer the edge are left out [pixels]")
    num_threads = _int_option("num_threads", num_threads, 1, None, "torch threads")

    params: dict[str, Any] = dict(rvae or {})
    params.update(patch_size=patch_size, content_dim=content_dim, symmetry=symmetry, batch_size=batch_size, seed=seed)
    try:
        config = RVAEConfig.from_json({**RVAEConfig().to_json(), **params})
    except (RVAEConfigError, TypeError) as exc:
        raise ConfigurationError(f"rVAE settings: {exc}") from None

    frames = _as_images(images, patch_size)
    parts, counts = [], []
    for frame in frames:
        patches, _ = atom_patches(
            frame, patch_size=patch_size, atom_sigma=atom_sigma, min_distance=min_distance,
            threshold=threshold, smoothing=patch_smoothing, margin=margin,
        )
        parts.append(patches)
        counts.append(len(patches))
    n_patches = sum(counts)
    if n_patches < MIN_PATCHES:
        raise ConfigurationError(
            f"--data: found {n_patches} atom(s) at least --margin {margin} pixels from the edge in {len(frames)} image(s); "
            f"expected at least {MIN_PATCHES}. Check that atoms are bright, or lower --threshold ({threshold:g}), "
            f"--atom-sigma ({atom_sigma:g} px) or --patch-size ({patch_size} px)."
        )
    data = np.concatenate(parts, axis=0)

    t0 = time.perf_counter()
    with _OneThread(num_threads):
        model = RVAE(config)
        history = model.fit(data, epochs=epochs)
    seconds = time.perf_counter() - t0
    info: dict[str, Any] = {
        "n_images": len(frames),
        "n_patches": int(n_patches),
        "atoms_per_image": counts,
        "epochs": epochs,
        "history": history,
        "first_loss": float(history[0]["loss"]),
        "loss": float(history[-1]["loss"]),
        "seconds": seconds,
        "patches": {
            "method": "atom-centred (stemtwin.scenarios.train.atom_patches)",
            "patch_size": patch_size,
            "atom_sigma": atom_sigma,
            "min_distance": min_distance,
            "threshold": threshold,
            "smoothing": patch_smoothing,
            "margin": margin,
            "normalisation": "(smoothed image - its 5th percentile) / (median atom peak - 5th percentile), per image",
        },
    }
    return model, info


# -- command line ---------------------------------------------------------------------------------


def add_train_parser(subparsers: Any) -> None:
    """Add the ``train`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    d = HELP_DEFAULTS
    p = subparsers.add_parser(
        "train",
        help="train a model on images (rvae: a rotationally invariant VAE on atom-centred patches)",
        description="Train a rotationally invariant VAE on atom-centred patches of HAADF images and save it (.pt + .pt.json).",
    )
    p.add_argument("model", choices=MODEL_KINDS, help="model kind: rvae")
    p.add_argument("--data", type=Path, required=True, metavar="PATH",
                   help=f"images: {', '.join(IMAGE_SUFFIXES)} file or a folder of them (.npy/.npz hold (H, W) or (N, H, W)), "
                        "or a .zarr store from `stemtwin generate` (its 'image' frames)")
    p.add_argument("--out", type=Path, required=True, metavar="PATH", help="model file (.pt); its settings go to PATH.json")
    p.add_argument("--epochs", type=int, metavar="N", default=DEFAULT_EPOCHS, help=f"passes over the patches (default: {DEFAULT_EPOCHS})")
    p.add_argument("--patch-size", type=int, metavar="PIXELS", help=f"side of the atom-centred patches [pixels] (default: {d['patch_size']})")
    p.add_argument("--content-dim", "--latent-dim", dest="content_dim", type=int, metavar="N",
                   help=f"number of content latents, besides angle and shift (default: {d['content_dim']})")
    p.add_argument("--symmetry", metavar="N|auto",
                   help=f"rotational order n of the angle latent (1-12), or 'auto' per atom (default: {d['symmetry']})")
    p.add_argument("--batch-size", type=int, metavar="N", help=f"patches per optimisation step (default: {d['batch_size']})")
    p.add_argument("--atom-sigma", type=float, metavar="PIXELS", default=DEFAULT_ATOM_SIGMA,
                   help=f"atom finding: smoothing σ, about the atom size [pixels] (default: {DEFAULT_ATOM_SIGMA:g})")
    p.add_argument("--min-distance", type=int, metavar="PIXELS", default=DEFAULT_MIN_DISTANCE,
                   help=f"atom finding: minimum separation of two atoms [pixels] (default: {DEFAULT_MIN_DISTANCE})")
    p.add_argument("--threshold", type=float, metavar="FRACTION", default=DEFAULT_THRESHOLD,
                   help=f"atom finding: peak threshold, a fraction of the image's range, 0-1 (default: {DEFAULT_THRESHOLD:g})")
    p.add_argument("--seed", type=int, metavar="N", default=0, help="seed of the weights and minibatches (default: 0)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")


def _companion(out: Path) -> Path:
    return Path(str(out) + ".json")


def _check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() != ".pt":
        raise ConfigurationError(f"--out must end in '.pt' (a PyTorch weights file), got {str(out)!r}.")
    if not out.parent.resolve().is_dir():
        raise ConfigurationError(f"--out: folder {str(out.parent)!r} does not exist; create it first.")
    if out.is_dir():
        raise ConfigurationError(f"--out: {str(out)!r} is a folder; expected a file name ending in '.pt'.")
    if not force:
        existing = [repr(str(p)) for p in (out, _companion(out)) if p.exists()]
        if existing:
            raise ConfigurationError(
                f"--out: {' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                "give --force to overwrite, or another --out."
            )


def _save_atomic(model: RVAE, out: Path, training: Mapping[str, Any]) -> None:
    """``model.save`` into a temporary folder beside ``out`` (with ``training`` added to the JSON), then
    rename both files into place: never a partial ``out``. (A folder rather than ``mkstemp`` files, so
    the files get the usual permissions, not 0600.)"""
    import shutil

    tmpdir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        tmp = tmpdir / out.name
        model.save(tmp)
        tmp_json = _companion(tmp)
        meta = json.loads(tmp_json.read_text())
        meta["training"] = dict(training)
        tmp_json.write_text(json.dumps(meta, indent=2, sort_keys=True))
        os.replace(tmp_json, _companion(out))
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def run_train(args: argparse.Namespace) -> int:
    """Run ``stemtwin train`` for parsed ``args`` (see :func:`add_train_parser`); return the exit status 0.

    Raises :class:`~stemtwin.twin.errors.ConfigurationError` on bad input, before anything is written.
    """
    if args.model not in MODEL_KINDS:  # argparse's choices already refuse it on the command line
        raise ConfigurationError(f"model kind must be one of {list(MODEL_KINDS)}, got {args.model!r}.")
    out = Path(args.out)
    _check_out(out, bool(args.force))
    symmetry: int | str | None = args.symmetry
    if isinstance(symmetry, str) and symmetry != "auto":
        try:
            symmetry = int(symmetry)
        except ValueError:
            raise ConfigurationError(f"--symmetry must be an integer in [1, 12] (rotational order) or 'auto', got {args.symmetry!r}.") from None
    # cheap checks before reading the data
    _int_option("--epochs", args.epochs, 1, None, "passes over the patches")
    if args.patch_size is not None:
        _int_option("--patch-size", args.patch_size, 8, 256, "side of the square atom-centred patches [pixels]")
    images = load_images(args.data)
    model, info = train_rvae(
        images,
        patch_size=args.patch_size,
        epochs=args.epochs,
        seed=args.seed,
        content_dim=args.content_dim,
        symmetry=symmetry,
        batch_size=args.batch_size,
        atom_sigma=args.atom_sigma,
        min_distance=args.min_distance,
        threshold=args.threshold,
    )
    training = {
        "data": str(args.data),
        "n_images": info["n_images"],
        "n_patches": info["n_patches"],
        "epochs": info["epochs"],
        "loss": [h["loss"] for h in info["history"]],
        "seconds": round(info["seconds"], 3),
        "patches": info["patches"],
    }
    _check_out(out, bool(args.force))  # nothing appeared there while training
    _save_atomic(model, out, training)
    p = info["patches"]["patch_size"]
    print(
        f"trained rvae on {info['n_images']} image(s), {info['n_patches']} patches of {p}×{p} px, "
        f"{info['epochs']} epochs in {info['seconds']:.1f} s: loss {info['first_loss']:.4g} -> {info['loss']:.4g}"
    )
    print(f"wrote {out} and {_companion(out)}")
    sys.stdout.flush()
    return 0
