"""Tiny scenarios for the runner and CLI tests (seconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_EXPLORE = """
[scenario]
name = "tiny-eels"
title = "Tiny graphene EELS"
description = "A 12 Å graphene cell with one 4-fold Si; a 4 × 4 candidate grid."
task = "explore"
modality = "eels"

[sample]
family = "graphene"
[sample.params]
extent = [12.0, 12.0]
n_si_3fold = 0
n_si_4fold = 1
n_monovacancies = 0
n_divacancies = 0

[instrument]
engine = "fast"
scan_noise = "typical"
dynamics = false
dwell_time = 0.5

[objective]
scalarizer = "si_fourfold"

[env]
grid = 4
image_pixels = 16

[budget]
steps = 6

[agents.dkl_bo]
patch_size = 4
fit_iterations = 15
warm_iterations = 5
n_seed = 2
[agents.random]

[metrics]
report = ["normalised_regret", "top_found", "nrmse", "dose"]
primary = "normalised_regret"

[seeds]
default = [0, 1]

[quick]
budget = { steps = 4 }
seeds = { default = [0] }
"""

TINY_DISCOVERY = """
[scenario]
name = "tiny-dynamics"
title = "Tiny graphene beam dynamics"
task = "discovery"
modality = "haadf"

[sample]
family = "graphene"
[sample.params]
extent = [20.0, 20.0]
n_si_3fold = 1
n_si_4fold = 1
n_monovacancies = 0
n_divacancies = 0

[instrument]
engine = "fast"
scan_noise = "none"
dynamics = true
pixels = 64
fov = 12.0

[budget]
steps = 2

[agents.rvae_discovery]
patch_size = 16
initial_steps = 20
steps_per_frame = 2

[metrics]
primary = "ari"

[seeds]
default = [0]
"""


@pytest.fixture()
def tiny_explore(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-eels.toml"
    path.write_text(TINY_EXPLORE)
    return path


@pytest.fixture()
def tiny_discovery(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-dynamics.toml"
    path.write_text(TINY_DISCOVERY)
    return path


@pytest.fixture()
def tiny_explore_text() -> str:
    return TINY_EXPLORE
