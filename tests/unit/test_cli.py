"""The stemtwin command line: list, show, and clean errors with exit status 2."""

import subprocess
import sys

import ase.io
import pytest

from stemtwin.scenarios.cli import main
from stemtwin.twin import build_graphene


def test_list_names_samples_engines_detectors(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("graphene", "mos2-res2", "ferroelectric", "fast", "abtem", "haadf", "abf"):
        assert word in out
    for section in ("scenarios:", "envs:", "agents:", "scalarizers:", "metrics:"):
        assert section in out
    for word in ("graphene-eels-si4fold", "stemtwin/BeamDynamics-v0", "dkl_bo", "rvae_discovery", "si_fourfold", "normalised_regret"):
        assert word in out


def test_show_writes_a_png(tmp_path) -> None:
    out = tmp_path / "graphene.png"
    assert main(["show", "graphene", "--out", str(out), "--pixels", "64"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name != "graphene.png"]  # no temporary left behind


@pytest.mark.parametrize(
    ("sample", "modality"), [("mos2-res2", "all"), ("ferroelectric", "all"), ("graphene", "4dstem")]
)
def test_show_every_family_and_modality(tmp_path, sample: str, modality: str) -> None:
    out = tmp_path / f"{sample}.png"
    assert main(["show", sample, "--modality", modality, "--out", str(out), "--pixels", "32"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_show_frames_writes_a_movie_or_strip(tmp_path, suffix: str) -> None:
    out = tmp_path / f"movie{suffix}"
    assert main(["show", "graphene", "--frames", "2", "--out", str(out)]) == 0
    magic = b"GIF8" if suffix == ".gif" else b"\x89PNG"
    assert out.read_bytes()[:4] == magic
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_show_a_structure_file(tmp_path) -> None:
    structure = tmp_path / "sheet.xyz"
    ase.io.write(structure, build_graphene((12, 12), n_si_3fold=1, rng=0).atoms)
    out = tmp_path / "sheet.png"
    assert main(["show", "--structure", str(structure), "--out", str(out), "--pixels", "32"]) == 0
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "graphite", "--out", "{tmp}/x.png"], "Did you mean 'graphene'"),
        (["show", "--engine", "fastt", "--out", "{tmp}/x.png"], "Did you mean 'fast'"),
        (["show", "--pixels", "0", "--out", "{tmp}/x.png"], "--pixels"),
        (["show", "--modality", "cbed", "--out", "{tmp}/x.png"], "Unknown modality"),
        (["show", "--frames", "0", "--out", "{tmp}/x.png"], "--frames"),
        (["show", "--frames", "3", "--out", "{tmp}/x.pdf"], "--out"),
        (["show", "--out", "{tmp}/x.jpgg"], "--out"),
        (["show", "--out", "{tmp}/missing/x.png"], "does not exist"),
        (["show", "--structure", "{tmp}/none.cif", "--out", "{tmp}/x.png"], "none.cif"),
    ],
)
def test_bad_input_exits_2_without_writing(tmp_path, capsys, args, message: str) -> None:
    existing = tmp_path / "x.png"
    existing.write_bytes(b"keep me")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert existing.read_bytes() == b"keep me"


def test_console_script_exit_status(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stemtwin.scenarios.cli", "show", "nothing", "--out", str(tmp_path / "a.png")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Unknown sample 'nothing'" in result.stderr
    assert not (tmp_path / "a.png").exists()


def test_argparse_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["show"])  # --out is required
    assert info.value.code == 2
