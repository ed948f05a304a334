"""stemtwin.envs: Gymnasium environments over the twin.

Every ``gymnasium.register`` call of the project sits in this module. Importing it registers:

- ``stemtwin/EELSExplore-v0`` (:class:`~.explore.EELSExploreEnv`): choose where to take EELS spectra;
  ``Discrete(G·G)`` actions, ``max_episode_steps=100``.
- ``stemtwin/DiffractionExplore-v0`` (:class:`~.explore.DiffractionExploreEnv`): choose where to record
  diffraction patterns; ``Discrete(G·G)`` actions, ``max_episode_steps=100``.
- ``stemtwin/BeamDynamics-v0`` (:class:`~.dynamics_env.BeamDynamicsEnv`): image a sample that the beam
  transforms, choosing field of view and dose; ``Box(-1, 1, (3,))`` actions, ``max_episode_steps=50``.

Example
-------
>>> import gymnasium as gym
>>> import stemtwin.envs  # registers the ids
>>> env = gym.make("stemtwin/EELSExplore-v0", sample="graphene", grid=32)
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Without importing this module, Gymnasium ≥ 1.0 imports it on demand from a module-qualified id:
``gym.make("stemtwin.envs:stemtwin/EELSExplore-v0")`` (Gymnasium 1.0 removed the entry-point plugin
discovery of 0.26–0.29).
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from .dynamics_env import BeamDynamicsEnv
from .explore import DiffractionExploreEnv, EELSExploreEnv, ExploreEnv
from .scalarizers import SCALARIZERS, Scalarizer, describe_scalarizers

__all__ = [
    "ENV_IDS",
    "BeamDynamicsEnv",
    "DiffractionExploreEnv",
    "EELSExploreEnv",
    "ExploreEnv",
    "SCALARIZERS",
    "Scalarizer",
    "describe_scalarizers",
    "register_envs",
]

#: Every environment id this package registers.
ENV_IDS: tuple[str, ...] = (
    "stemtwin/EELSExplore-v0",
    "stemtwin/DiffractionExplore-v0",
    "stemtwin/BeamDynamics-v0",
)


def register_envs() -> None:
    """Register the stemtwin environments with Gymnasium (idempotent; runs on import)."""
    specs = {
        "stemtwin/EELSExplore-v0": ("stemtwin.envs.explore:EELSExploreEnv", 100),
        "stemtwin/DiffractionExplore-v0": ("stemtwin.envs.explore:DiffractionExploreEnv", 100),
        "stemtwin/BeamDynamics-v0": ("stemtwin.envs.dynamics_env:BeamDynamicsEnv", 50),
    }
    for env_id, (entry_point, max_steps) in specs.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps)


register_envs()
