"""The built wheel holds the four sub-packages and the package data, under the stemtwin namespace."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("stemtwin-*.whl")
    return path


def test_wheel_holds_the_four_subpackages_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("twin", "agents", "envs", "scenarios"):
        assert f"stemtwin/{package}/__init__.py" in names
    assert "stemtwin/twin/data/haadf_calibration.json" in names
    shipped = {Path(n).name for n in names if n.startswith("stemtwin/scenarios/catalog/") and n.endswith(".toml")}
    assert shipped == {p.name for p in (ROOT / "scenarios" / "catalog").glob("*.toml")} and len(shipped) >= 8
    assert "stemtwin/twin/signals/fast_engine.py" in names


def test_wheel_claims_no_top_level_names_but_stemtwin(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"stemtwin"}
    assert "stemtwin/__init__.py" not in names  # a namespace package


def test_wheel_declares_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(n for n in zf.namelist() if n.endswith("entry_points.txt"))
        assert "stemtwin = stemtwin.scenarios.cli:main" in zf.read(entry_points).decode()


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("twin", ("stemtwin.agents", "stemtwin.envs", "stemtwin.scenarios")),
        ("agents", ("stemtwin.twin", "stemtwin.envs", "stemtwin.scenarios")),
        ("envs", ("stemtwin.agents", "stemtwin.scenarios")),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    for path in (ROOT / package).rglob("*.py"):
        for module in _imported_modules(path):
            assert not module.startswith(forbidden), f"{path.relative_to(ROOT)} imports {module}"
