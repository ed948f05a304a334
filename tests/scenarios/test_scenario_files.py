"""Scenario files: every shipped file loads (full and quick); bad fields are named with their section."""

from __future__ import annotations

from pathlib import Path

import pytest

from stemtwin.scenarios.metrics import METRICS
from stemtwin.scenarios.spec import DEFAULT_BENCH, ScenarioError, load_scenario, shipped_scenarios

SHIPPED = sorted(shipped_scenarios())


def test_at_least_eight_scenarios_ship_and_the_default_subset_is_among_them() -> None:
    assert len(SHIPPED) >= 8
    assert set(DEFAULT_BENCH) <= set(SHIPPED)
    tasks = {load_scenario(n).task for n in DEFAULT_BENCH}
    assert tasks == {"explore", "discovery"}


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("quick", [False, True])
def test_every_shipped_scenario_loads_and_validates(name: str, quick: bool) -> None:
    sc = load_scenario(name, quick=quick)
    assert sc.name == name
    assert sc.agents and sc.seeds and sc.budget >= 1
    assert sc.primary in sc.metrics
    assert all(METRICS[m].task == sc.task for m in sc.metrics)
    if quick:
        full = load_scenario(name)
        assert sc.budget <= full.budget and len(sc.seeds) <= len(full.seeds)


def test_quick_overrides_merge_over_the_file(tiny_explore: Path) -> None:
    full, quick = load_scenario(tiny_explore), load_scenario(tiny_explore, quick=True)
    assert (full.budget, full.seeds) == (6, (0, 1))
    assert (quick.budget, quick.seeds) == (4, (0,))
    assert quick.env_kwargs["grid"] == full.env_kwargs["grid"] == 4


def test_a_file_by_path_and_overrides(tiny_explore: Path) -> None:
    sc = load_scenario(str(tiny_explore)).with_overrides(agents=["random", "raster"], seeds=[3], budget=2)
    assert [a.name for a in sc.agents] == ["random", "raster"]
    assert sc.seeds == (3,) and sc.budget == 2


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('steps = 6', 'steps = 0', r"tiny-eels.toml: \[budget\].steps: expected an integer in 1..100000, got 0"),
        ('grid = 4', 'grid = "four"', r"\[env\].grid: expected an integer in 2..256, got 'four'"),
        ('scalarizer = "si_fourfold"', 'scalarizer = "si_fourfld"', r"\[objective\].scalarizer: .*did you mean 'si_fourfold'"),
        ('family = "graphene"', 'family = "graphite"', r"\[sample\].family: expected one of"),
        ('n_si_4fold = 1', 'n_si_4fold = 1\nn_si_5fold = 1', r"\[sample.params\]: .*n_si_5fold"),
        ("[agents.random]", "[agents.randm]", r"\[agents.randm\]: expected one of .*did you mean 'random'"),
        ("fit_iterations = 15", "fit_iterations = -3", r"\[agents.dkl_bo\]: .*fit_iterations"),
        ('primary = "normalised_regret"', 'primary = "ari"', r"\[metrics\].primary: expected one of"),
        ("default = [0, 1]", "default = [0, 0]", r"\[seeds\].default: expected distinct seeds"),
        ('dwell_time = 0.5', 'dwell_time = -1.0', r"\[instrument\].dwell_time: expected a finite number > 0 \[s\]"),
        ('dwell_time = 0.5', 'dwel_time = 0.5', r"\[instrument\].dwel_time: unknown field \(did you mean 'dwell_time'\?\)"),
        ('task = "explore"', 'task = "discovery"', r"\[scenario\].modality: expected one of \['haadf'\]"),
        ("[agents.random]", "[agents.rvae_discovery]", r"agent 'rvae_discovery' handles \['dynamics'\] tasks, not 'explore'"),
        ("[budget]", "[budgett]", r"top level\]?.budgett: unknown field"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, tiny_explore_text: str, old: str, new: str, message: str) -> None:
    assert old in tiny_explore_text
    path = tmp_path / "tiny-eels.toml"
    path.write_text(tiny_explore_text.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_bad_toml_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[scenario\nname = 1")
    with pytest.raises(ScenarioError, match="broken.toml: not valid TOML"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="Unknown scenario 'graphene-eels-si4'. Did you mean 'graphene-eels-si4fold'"):
        load_scenario("graphene-eels-si4")
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "missing.toml")
