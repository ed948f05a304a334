"""Toy problems for the agent tests: a small fake Explore env with the real env's spaces."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces


class ToyExploreEnv(gym.Env):
    """A fake Explore env: a synthetic image with bright features; the reward depends on the patch content.

    The image (P = 2G pixels, indexed (x, y)) holds ``n_plain`` small sharp blobs (amplitude 1) and
    ``n_rings`` rings (radius 3 px, amplitude 0.8). The true map at candidate (i, j), which sits at
    image pixel (2i + 1, 2j + 1) as in the real envs, is Σ_rings exp(−d²/2s²) over the distance d [px]
    to every ring centre (s = 2 px): only rings light up, wherever they are. The reward is the true
    value plus Gaussian noise (``noise``). Same spaces as ``stemtwin/EELSExplore-v0`` (a one-channel
    measurement); ``budget`` steps terminate the episode.
    """

    metadata = {"render_modes": []}

    def __init__(self, grid: int = 24, budget: int = 30, n_plain: int = 10, n_rings: int = 3, noise: float = 0.02) -> None:
        self.grid, self.budget, self.n_plain, self.n_rings, self.noise = grid, budget, n_plain, n_rings, noise
        p = 2 * grid
        self.pixels = p
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(np.float32(0.0), np.float32(1.0), (p, p), np.float32),
                "measurement": spaces.Box(np.float32(-10.0), np.float32(10.0), (1,), np.float32),
                "visited": spaces.Box(np.float32(0.0), np.float32(1.0), (grid, grid), np.float32),
                "last_position": spaces.Box(np.float32(-1.0), np.float32(1.0), (2,), np.float32),
            }
        )
        self.action_space = spaces.Discrete(grid * grid)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        p, g = self.pixels, self.grid
        u, v = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        centres = rng.uniform(4, p - 4, size=(self.n_plain + self.n_rings, 2))
        image = np.zeros((p, p))
        for k, (cx, cy) in enumerate(centres):
            d = np.hypot(u - cx, v - cy)
            if k < self.n_plain:
                image += np.exp(-(d**2) / (2 * 1.2**2))
            else:
                image += 0.8 * np.exp(-((d - 3.0) ** 2) / (2 * 0.8**2))
        image += rng.normal(0, 0.03, image.shape)
        image = (image - image.min()) / (image.max() - image.min())
        self._image = image.astype(np.float32)
        ci = 2 * np.arange(g) + 1.0
        cu, cv = np.meshgrid(ci, ci, indexing="ij")
        truth = np.zeros((g, g))
        for cx, cy in centres[self.n_plain :]:
            truth += np.exp(-((cu - cx) ** 2 + (cv - cy) ** 2) / (2 * 2.0**2))
        self._truth = truth
        self._visited = np.zeros((g, g), dtype=np.float32)
        self._last = np.full(2, -1.0, dtype=np.float32)
        self._measurement = np.zeros(1, dtype=np.float32)
        self._count = 0
        return self._obs(), {"cumulative_dose": 0.0, "time": 0.0, "measurements": 0}

    def true_map(self) -> np.ndarray:
        return self._truth.copy()

    def step(self, action: Any):
        a = int(action)
        i, j = divmod(a, self.grid)
        reward = float(self._truth[i, j] + self.np_random.normal(0, self.noise))
        self._visited[i, j] = 1.0
        self._last[:] = ((i + 0.5) / self.grid, (j + 0.5) / self.grid)
        self._measurement[0] = reward
        self._count += 1
        info = {"cumulative_dose": 1e4 * self._count, "time": 0.1 * self._count, "measurements": self._count, "candidate": (i, j)}
        return self._obs(), reward, self._count >= self.budget, False, info

    def _obs(self) -> dict[str, np.ndarray]:
        return {"image": self._image.copy(), "measurement": self._measurement.copy(), "visited": self._visited.copy(), "last_position": self._last.copy()}


@pytest.fixture
def toy_env_class() -> type[ToyExploreEnv]:
    """:class:`ToyExploreEnv`."""
    return ToyExploreEnv


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Run the agent tests on one torch thread, restored afterwards.

    The models here are tiny (tens of points, 2-D embeddings): one thread is as fast as two, and it
    avoids OpenMP oversubscription when other processes share the cores (which made two threads
    10–50× slower on a loaded 2-core machine).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
