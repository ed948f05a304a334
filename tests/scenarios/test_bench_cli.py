"""`stemtwin bench` end to end on tiny scenarios: outputs, determinism, Dask = serial, clean refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stemtwin.scenarios.cli import main
from stemtwin.scenarios.runner import run
from stemtwin.scenarios.spec import load_scenario


def _metrics(summary_path: Path) -> dict:
    summary = json.loads(summary_path.read_text())
    return {name: {agent: entry["metrics"] for agent, entry in sc["agents"].items()} for name, sc in summary["scenarios"].items()}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_bench_writes_every_output_and_prints_the_leaderboard(tmp_path: Path, tiny_explore: Path, tiny_discovery: Path, capsys) -> None:
    out = tmp_path / "results"
    code = main(["bench", str(tiny_explore), str(tiny_discovery), "--workers", "0", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    for word in ("Tiny graphene EELS", "dkl_bo", "random", "rvae_discovery", "normalised_regret", "ari"):
        assert word in printed
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"records.jsonl", "summary.json", "report.md"} <= names
    assert "figures/tiny-eels_regret.png" in names
    assert any(n.startswith("figures/tiny-eels_") and n.endswith("_maps.png") for n in names)
    assert any(n.startswith("figures/tiny-dynamics_") and n.endswith("_latent.png") for n in names)
    for name in names:
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:4] == b"\x89PNG"
    lines = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    kinds = {(r["kind"], r["scenario"]) for r in lines}
    assert kinds == {("step", "tiny-eels"), ("episode", "tiny-eels"), ("episode", "tiny-dynamics")}
    assert sum(1 for r in lines if r["kind"] == "step" and r["agent"] == "random" and r["seed"] == 0) == 6
    report = (out / "report.md").read_text()
    for figure in (n for n in names if n.startswith("figures/")):
        assert f"({figure})" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"]["numpy"] == np.__version__
    assert set(summary["scenarios"]["tiny-eels"]["agents"]) == {"dkl_bo", "random"}
    npz = next((out / "artifacts" / "tiny-eels").glob("dkl_bo_seed0.npz"))
    with np.load(npz, allow_pickle=False) as arrays:
        assert arrays["true_map"].shape == (4, 4) and arrays["visited"].shape == (6,)


def test_rerun_with_the_same_seeds_gives_identical_metrics(tiny_explore: Path) -> None:
    sc = load_scenario(tiny_explore)
    first = [r["metrics"] for r in run([sc], workers=0, progress=False) if r["kind"] == "episode"]
    second = [r["metrics"] for r in run([sc], workers=0, progress=False) if r["kind"] == "episode"]
    assert first == second
    assert len(first) == 4


def test_two_dask_workers_give_the_serial_summary(tmp_path: Path, tiny_explore: Path) -> None:
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    assert main(["bench", str(tiny_explore), "--workers", "0", "--out", str(serial), "--no-progress"]) == 0
    assert main(["bench", str(tiny_explore), "--workers", "2", "--out", str(dask), "--no-progress"]) == 0
    assert _metrics(serial / "summary.json") == _metrics(dask / "summary.json")
    strip = lambda path: [  # noqa: E731
        {k: v for k, v in json.loads(line).items() if not k.endswith("seconds")} for line in path.read_text().splitlines()
    ]
    assert strip(serial / "records.jsonl") == strip(dask / "records.jsonl")


def test_existing_results_are_refused_without_force_and_replaced_with_it(tmp_path: Path, tiny_explore: Path, capsys) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    args = ["bench", str(tiny_explore), "--agents", "random", "--seeds", "0", "--budget", "2", "--workers", "0", "--out", str(out), "--no-progress"]
    assert main(args) == 2
    assert "already holds results; pass --force" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main([*args, "--force"]) == 0
    assert not (out / "keep.txt").exists() and (out / "summary.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tiny-eels.toml"]  # no staging folder left behind


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["no-such-scenario"], "Unknown scenario 'no-such-scenario'"),
        (["{tiny}", "--agents", "dkl_boo"], "did you mean 'dkl_bo'"),
        (["{tiny}", "--seeds", "a,b"], "--seeds: expected comma-separated integers"),
        (["{tiny}", "--budget", "0"], "--budget: expected an integer in 1..100000"),
        (["{tiny}", "--workers", "-1"], "--workers: expected an integer >= 0"),
        (["{bad}"], r"bad.toml: [budget].steps: expected an integer in 1..100000, got -1"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, tiny_explore: Path, tiny_explore_text: str, extra, message, capsys) -> None:
    bad = _write(tmp_path, "bad.toml", tiny_explore_text.replace("steps = 6", "steps = -1"))
    out = tmp_path / "results"
    argv = ["bench", "--workers", "0", "--out", str(out), *[a.replace("{tiny}", str(tiny_explore)).replace("{bad}", str(bad)) for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one clear line, no traceback
    assert not out.exists()
