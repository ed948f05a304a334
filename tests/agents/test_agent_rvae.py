"""rVAE, atom finding and the rVAE-feature explorer: toy problems with thresholds (fixed seeds).

The rVAE is trained once (module fixture) on rotated, shifted, noisy copies of two synthetic
fragments: an asymmetric four-atom fragment "A" and a bent three-atom chain "B" (neither has a rotational symmetry).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import torch

from stemtwin.agents import metrics
from stemtwin.agents.atom_finding import AtomFindingError, extract_patches, find_atoms, match_positions
from stemtwin.agents.rvae import RVAE, RVAEConfig, RVAEConfigError, rotate_patches

P = 32
#: (x, y, amplitude) of the atoms of the two fragments [pixels from the patch centre]
FRAGMENTS = {
    "A": [(0.0, 0.0, 1.0), (8.0, 0.0, 0.8), (-4.0, 7.0, 0.5), (-3.0, -9.0, 0.3)],
    "B": [(0.0, 0.0, 1.0), (9.0, 2.0, 0.9), (-6.0, -6.0, 0.6)],
}


def render(kind: str, angle: float, shift: tuple[float, float] = (0.0, 0.0), p: int = P, sigma: float = 2.0) -> np.ndarray:
    """Fragment ``kind`` rotated counter-clockwise (axis 0 towards axis 1) by ``angle`` [rad], noise-free."""
    c = (p - 1) / 2.0
    x, y = np.meshgrid(np.arange(p) - c, np.arange(p) - c, indexing="ij")
    img = np.zeros((p, p))
    cs, sn = np.cos(angle), np.sin(angle)
    for ax, ay, amp in FRAGMENTS[kind]:
        px = cs * ax - sn * ay + shift[0]
        py = sn * ax + cs * ay + shift[1]
        img += amp * np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2))
    return img


def dataset(n: int, rng: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gen = np.random.default_rng(rng)
    kinds = gen.integers(0, 2, n)
    angles = gen.uniform(0.0, 2 * np.pi, n)
    shifts = gen.normal(0.0, 0.5, (n, 2))
    x = np.stack([render("AB"[k], a, tuple(s)) for k, a, s in zip(kinds, angles, shifts, strict=True)])
    x += gen.normal(0.0, 0.05, x.shape)
    return x.astype(np.float32), kinds, angles


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread: these models are small, and on a busy 2-core machine two threads oversubscribe."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def trained() -> tuple[RVAE, np.ndarray, np.ndarray, np.ndarray]:
    x, kinds, angles = dataset(400, rng=0)
    model = RVAE(patch_size=P, seed=0, batch_size=32, learning_rate=3e-3)
    model.fit(x, epochs=8)
    return model, x, kinds, angles


def circular_association(true: np.ndarray, predicted: np.ndarray, period: float = 2 * np.pi) -> float:
    """``max_s |⟨exp(i(θ̂ − s·θ))⟩|`` over the sign s = ±1, angles scaled to 2π/period.

    A circular correlation that is invariant to the global offset and sign the rVAE leaves free: 1 when
    ``θ̂ = ±θ + c`` exactly, about 0 for unrelated angles. (The Jammalamadaka–SenGupta coefficient of
    :func:`metrics.circular_correlation` needs the circular means of both sets, which are undefined for
    angles spread uniformly over the circle, as here.)
    """
    a = np.asarray(true) * (2 * np.pi / period)
    b = np.asarray(predicted) * (2 * np.pi / period)
    return float(max(abs(np.mean(np.exp(1j * (b - s * a)))) for s in (1, -1)))


# -- rVAE -------------------------------------------------------------------------------------------------
def test_latent_angle_tracks_true_rotation(trained) -> None:
    model, x, kinds, angles = trained
    enc = model.encode(x)
    for k in (0, 1):
        sel = kinds == k
        r = circular_association(angles[sel], enc.angle[sel])
        err = metrics.circular_error(angles[sel], enc.angle[sel], reflection=True)
        # the canonical orientation is learned: compare after the best global offset (and sign)
        assert r >= 0.9, f"fragment {'AB'[k]}: circular correlation {r:.3f} < 0.9"
        assert err["error"] < 0.15, f"fragment {'AB'[k]}: mean angular error {err['error']:.3f} rad after the best offset"


def test_decoder_uses_the_angle(trained) -> None:
    """Reconstructions beat the best rotation-blind image (the mean patch) by far (noise variance 0.05² aside)."""
    model, x, kinds, _ = trained
    sel = kinds == 0
    recon = model.reconstruct(x[sel])
    noise = 0.05**2
    mse = float(np.mean((recon - x[sel]) ** 2)) - noise
    blind = float(np.mean((x[sel] - x[sel].mean(axis=0)) ** 2)) - noise
    assert mse < 0.6 * blind, f"reconstruction excess MSE {mse:.4f} vs {blind:.4f} for the mean patch"
    # decoding at θ̂ + α gives the fragment rotated by α
    enc = model.encode(x[sel][:20])
    turned = model.decode(enc.content, enc.angle + 0.7, enc.translation)
    target = rotate_patches(torch.from_numpy(model.reconstruct(x[sel][:20])), torch.full((20,), 0.7)).numpy()
    inner = np.hypot(*np.meshgrid(np.arange(P) - 15.5, np.arange(P) - 15.5, indexing="ij")) < 12
    assert np.mean((turned - target)[:, inner] ** 2) < 0.1 * np.mean(target[:, inner] ** 2)


def test_content_latents_invariant_to_rotation(trained) -> None:
    model, *_ = trained
    gen = np.random.default_rng(5)
    turns = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
    means, spreads = {}, []
    for kind in "AB":
        per_instance = []
        for start in gen.uniform(0, 2 * np.pi, 4):
            x = np.stack([render(kind, start + t) for t in turns]).astype(np.float32)
            z = model.encode(x).content
            spreads.append(np.linalg.norm(z - z.mean(axis=0), axis=1).mean())
            per_instance.append(z.mean(axis=0))
        means[kind] = np.mean(per_instance, axis=0)
    gap = float(np.linalg.norm(means["A"] - means["B"]))
    assert max(spreads) < 0.2 * gap, f"content spread over rotations {max(spreads):.3f} vs the A–B gap {gap:.3f}"


def test_save_load_gives_identical_encodings(trained, tmp_path) -> None:
    model, x, *_ = trained
    path = model.save(tmp_path / "rvae.pt")
    meta = json.loads((tmp_path / "rvae.pt.json").read_text())
    assert meta["config"]["patch_size"] == P and meta["format"] == "stemtwin.rvae/1"
    state = torch.load(path, weights_only=True)  # a plain state dict: no pickled objects
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    same = RVAE.load(path)
    a, b = model.encode(x[:50]), same.encode(x[:50])
    for field in ("angle", "translation", "content", "content_std", "angle_std", "order"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_training_is_deterministic_for_a_seed() -> None:
    x, _, _ = dataset(96, rng=3)
    encs = []
    for _ in range(2):
        model = RVAE(patch_size=P, seed=11, batch_size=32)
        hist = model.fit(x, epochs=1)
        encs.append((model.encode(x).content, hist[-1]["loss"]))
    np.testing.assert_array_equal(encs[0][0], encs[1][0])
    assert encs[0][1] == encs[1][1]
    other = RVAE(patch_size=P, seed=12, batch_size=32)
    other.fit(x, epochs=1)
    assert not np.array_equal(other.encode(x).content, encs[0][0])


def test_symmetry_auto_reads_each_fragment_modulo_its_order() -> None:
    """A 3-fold and a 4-fold motif get orders 3 and 4; their angles follow the rotation modulo 2π/n."""
    model = RVAE(patch_size=P, symmetry="auto", seed=0)
    c = (P - 1) / 2.0
    x, y = np.meshgrid(np.arange(P) - c, np.arange(P) - c, indexing="ij")

    def motif(n: int, a: float) -> np.ndarray:
        img = np.exp(-(x**2 + y**2) / 8.0)
        for j in range(n):
            ph = a + 2 * np.pi * j / n
            img += 0.6 * np.exp(-((x - 10 * np.cos(ph)) ** 2 + (y - 10 * np.sin(ph)) ** 2) / 8.0)
        return img

    turns = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)
    for n in (3, 4):
        enc = model.encode(np.stack([motif(n, t) for t in turns]).astype(np.float32))
        assert np.all(enc.order == n)
        assert np.all(enc.angle < 2 * np.pi / n)
        # equivariant by construction, even untrained: the angle turns with the motif
        assert circular_association(turns, enc.angle, period=2 * np.pi / n) > 0.99
        assert metrics.circular_error(turns, enc.angle, period=2 * np.pi / n)["error"] < 0.05


def test_rotate_patches_matches_rendering() -> None:
    base = torch.from_numpy(render("A", 0.0)[None].astype(np.float32))
    turned = rotate_patches(base, torch.tensor([0.6]))[0].numpy()
    inner = np.hypot(*np.meshgrid(np.arange(P) - 15.5, np.arange(P) - 15.5, indexing="ij")) < 14
    assert np.abs(turned - render("A", 0.6))[inner].max() < 0.05


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"patch_size": 7}, "patch_size"), ({"content_dim": 0}, "content_dim"), ({"recon_sigma": -1.0}, "recon_sigma"), ({"activation": "gelu"}, "activation"), ({"symmetry": 0}, "symmetry"), ({"encoder": "cnn", "symmetry": "auto"}, "symmetry"), ({"beta_content": float("nan")}, "beta_content")],
)
def test_bad_hyper_parameters_name_the_field(kwargs, name) -> None:
    with pytest.raises(RVAEConfigError, match=f"`{name}`"):
        RVAE(**kwargs)


def test_bad_patches_are_refused() -> None:
    model = RVAE(patch_size=16)
    with pytest.raises(RVAEConfigError, match=r"shape \(N, 16, 16\)"):
        model.encode(np.zeros((3, 20, 20)))
    bad = np.zeros((4, 16, 16), np.float32)
    bad[2, 3, 3] = np.nan
    with pytest.raises(RVAEConfigError, match="NaN or inf"):
        model.fit(bad, epochs=1)
    with pytest.raises(RVAEConfigError, match="Unknown rVAE hyper-parameters"):
        RVAE(content_dims=3)
    assert RVAEConfig.from_json(RVAEConfig(symmetry="auto").to_json()) == RVAEConfig(symmetry="auto")


def test_plain_cnn_encoder_trains() -> None:
    x, _, _ = dataset(64, rng=4)
    model = RVAE(patch_size=P, encoder="cnn", seed=0, batch_size=32)
    hist = model.fit(x, epochs=2)
    assert np.isfinite(hist[-1]["loss"]) and hist[-1]["loss"] < hist[0]["loss"] * 1.5
    assert model.encode(x).content.shape == (64, 2)


# -- atom finding -----------------------------------------------------------------------------------------
def honeycomb(n: int = 128, bond: float = 11.4, offset: tuple[float, float] = (3.3, 2.7)) -> np.ndarray:
    a1 = np.array([bond * np.sqrt(3), 0.0])
    a2 = np.array([bond * np.sqrt(3) / 2, 1.5 * bond])
    basis = [np.zeros(2), np.array([bond * np.sqrt(3) / 2, bond / 2])]
    pts = np.array([i * a1 + j * a2 + b for i in range(-8, 12) for j in range(-2, 12) for b in basis]) + np.array(offset)
    return pts[np.all((pts > -3) & (pts < n + 2), axis=1)]


def test_atom_finding_recall_and_subpixel_error() -> None:
    n, sigma = 128, 2.5
    truth = honeycomb(n)
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    img = sum(np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma**2)) for px, py in truth)
    frame = np.random.default_rng(0).poisson(30.0 * img + 1.0).astype(np.float64)  # peak ≈ 30 counts
    found = find_atoms(frame, sigma=2.0, min_distance=5)
    inside = truth[np.all((truth >= 3) & (truth <= n - 4), axis=1)]
    ia, ib, dist = match_positions(inside, found, 3.0)
    recall = len(ia) / len(inside)
    assert recall >= 0.95, f"recall {recall:.3f}"
    assert dist.mean() < 0.3, f"mean position error {dist.mean():.3f} px"
    assert len(found) <= len(truth)  # no spurious peaks in the holes
    # patches are centred on the sub-pixel positions
    centre = inside[np.all((inside >= 8) & (inside <= n - 9), axis=1)][:10]
    clean_patches, inside_mask = extract_patches(img, centre, 15)
    assert inside_mask.all()
    c = np.arange(15) - 7.0
    w = clean_patches * (np.hypot(*np.meshgrid(c, c, indexing="ij")) < 4)
    cx = (w.sum(axis=2) * c).sum(axis=1) / w.sum(axis=(1, 2))
    cy = (w.sum(axis=1) * c).sum(axis=1) / w.sum(axis=(1, 2))
    assert np.abs(cx).max() < 0.05 and np.abs(cy).max() < 0.05


def test_atom_finding_keeps_dim_atoms_next_to_bright_ones() -> None:
    n = 64
    x, y = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    img = np.exp(-((x - 30) ** 2 + (y - 30) ** 2) / 12.5) + 0.4 * np.exp(-((x - 30) ** 2 + (y - 40.5) ** 2) / 12.5)
    found = find_atoms(img, sigma=1.0, min_distance=5)
    assert len(found) == 2
    np.testing.assert_allclose(found[np.argsort(found[:, 1])], [[30.0, 30.0], [30.0, 40.5]], atol=0.15)


def test_atom_finding_bad_input() -> None:
    with pytest.raises(AtomFindingError, match="2-D"):
        find_atoms(np.zeros(10))
    with pytest.raises(AtomFindingError, match="NaN or inf"):
        find_atoms(np.full((8, 8), np.inf))
    with pytest.raises(AtomFindingError, match="`refine`"):
        find_atoms(np.zeros((8, 8)), refine="gauss")


# -- the rVAE-feature explorer ----------------------------------------------------------------------------
def test_rvae_explorer_runs_on_an_explore_env(toy_env_class) -> None:
    from stemtwin.agents.base import IncompatibleEnvError, check_compatible, run_episode
    from stemtwin.agents.rvae_explorer import RVAEExplorerAgent

    env = toy_env_class(grid=16, budget=12)
    agent = RVAEExplorerAgent(seed=0, n_seed=4, rvae_epochs=3, acquisition="ucb", num_threads=1)
    result = run_episode(env, agent, seed=0)
    report = result["report"]
    assert result["steps"] == 12 and len(set(report["visited"].tolist())) == 12
    assert report["mean"].shape == (256,) and np.all(report["std"] > 0)
    assert report["rvae_content"].shape == (256, 2) and np.all(np.isfinite(report["rvae_content"]))
    # the same seed gives the same episode
    again = run_episode(toy_env_class(grid=16, budget=12), RVAEExplorerAgent(seed=0, n_seed=4, rvae_epochs=3, acquisition="ucb", num_threads=1), seed=0)
    assert again["actions"] == result["actions"]

    class FakeDynamics:
        from gymnasium import spaces

        observation_space = spaces.Box(0.0, 1.0, (32, 32))
        action_space = spaces.Box(-1.0, 1.0, (3,))

    with pytest.raises(IncompatibleEnvError, match="rvae_explorer"):
        check_compatible(agent, FakeDynamics())
