"""The ``stemtwin`` command line.

Sub-commands: ``list`` (samples, engines, detectors, scenarios, envs, agents and scalarizers),
``show`` (an overview figure of a sample, or with ``--frames`` a movie of the sample evolving under
the beam), ``bench`` (run scenario benchmarks and write a report), ``train`` (train a model) and
``generate`` (write a labelled synthetic data set to a zarr store).
Bad input prints one clear error line and exits with status 2; no partial file is ever written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stemtwin.twin.errors import TwinError

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse already exits 2; keep its wording
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"stemtwin: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``stemtwin`` command."""
    parser = _Parser(prog="stemtwin", description="A digital twin of a scanning transmission electron microscope.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list samples, engines, detectors, scenarios, envs, agents and scalarizers")

    show = sub.add_parser("show", help="draw a figure of a sample: truth, a noisy HAADF frame, EELS spectra")
    show.add_argument("sample", nargs="?", default="graphene", help="sample family (default: graphene)")
    show.add_argument("--structure", type=Path, help="any ASE-readable structure file, instead of a sample family")
    show.add_argument("--out", type=Path, required=True, help="output figure (.png, .pdf or .svg)")
    show.add_argument("--engine", default="fast", help="imaging engine: fast or abtem (default: fast)")
    show.add_argument("--pixels", type=int, default=256, help="scan size of the HAADF frame (default: 256)")
    show.add_argument(
        "--modality", default="all", help="extra panels: all, eels or 4dstem (a CoM vector map) (default: all)"
    )
    show.add_argument("--seed", type=int, default=0, help="seed of the sample and the microscope (default: 0)")
    show.add_argument(
        "--frames", type=int, default=None,
        help="record N frames with beam dynamics on and write a movie (--out .gif) or a strip (--out .png)",
    )
    _add_bench_parser(sub)
    from .generate_cli import add_generate_parser
    from .train import add_train_parser

    add_train_parser(sub)
    add_generate_parser(sub)
    return parser


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench",
        help="run scenario benchmarks: agents × seeds, leaderboard, summary.json, report.md and figures",
        description="Run agents × seeds on scenarios and write records.jsonl, summary.json, report.md and PNG figures.",
    )
    bench.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO",
        help="shipped scenario names (see `stemtwin list`) or .toml files (default: the default subset)",
    )
    bench.add_argument("--agents", help="comma-separated agent names (default: the scenario's agents)")
    bench.add_argument("--seeds", help="comma-separated seeds or a range such as 0-4 (default: the scenario's seeds)")
    bench.add_argument("--budget", type=int, help="steps per episode (default: the scenario's budget)")
    bench.add_argument("--quick", action="store_true", help="use each scenario's quick variant")
    bench.add_argument(
        "--workers", type=int, default=None,
        help="processes of the local Dask cluster (default: one per core; 0: no Dask, run in this process)",
    )
    bench.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    bench.add_argument("--out", type=Path, default=Path("results/bench"), help="results folder (default: results/bench)")
    bench.add_argument("--force", action="store_true", help="replace an existing results folder")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _cmd_list() -> int:
    from stemtwin.twin.detectors import DETECTORS
    from stemtwin.twin.samples import SAMPLE_BUILDERS
    from stemtwin.twin.signals.imaging import IMAGING_ENGINES

    print("samples:")
    for name, builder in SAMPLE_BUILDERS.items():
        doc = (builder.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:<12} {doc}")
    print("engines:")
    for name, text in IMAGING_ENGINES.items():
        print(f"  {name:<12} {text}")
    print("detectors:")
    for name, kind in DETECTORS.items():
        det = kind()
        print(f"  {name:<12} annular {det.inner:g}–{det.outer:g} mrad")
    _list_benchmark_parts()
    return 0


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _list_benchmark_parts() -> None:
    import gymnasium as gym
    import stemtwin.envs
    from stemtwin.agents import describe_agents
    from stemtwin.envs.scalarizers import describe_scalarizers

    from .spec import DEFAULT_BENCH, load_scenario, shipped_scenarios

    print("scenarios:  (* in the default `stemtwin bench` subset)")
    for name in shipped_scenarios():
        scenario = load_scenario(name)
        mark = "*" if name in DEFAULT_BENCH else " "
        print(f" {mark}{name:<26} [{scenario.task}] {scenario.title}")
    print("envs:")
    for env_id in stemtwin.envs.ENV_IDS:
        entry = gym.spec(env_id).entry_point
        module, _, cls = str(entry).partition(":")
        doc = _first_line(getattr(__import__(module, fromlist=[cls]), cls).__doc__)
        print(f"  {env_id:<32} {doc}")
    print("agents:")
    for line in describe_agents().splitlines():
        print(f"  {line}")
    print("scalarizers:")
    for name, text in describe_scalarizers().items():
        print(f"  {name:<18} {text}")
    from .metrics import METRICS

    print("metrics:  (↓ lower is better, ↑ higher is better)")
    for name, metric in METRICS.items():
        arrow = {"lower": "↓", "higher": "↑"}.get(metric.better or "", " ")
        unit = f" [{metric.unit}]" if metric.unit else ""
        print(f"  {name:<18} {arrow} [{metric.task}] {metric.description}{unit}")


def _cmd_show(args: argparse.Namespace) -> int:
    from stemtwin.twin.errors import ConfigurationError
    from stemtwin.twin.samples import Sample
    from stemtwin.twin.signals.imaging import IMAGING_ENGINES
    from stemtwin.twin.validation import require_choice, require_int

    from stemtwin.twin.files import atomic_write_path
    from .movie import MOVIE_SUFFIXES, MovieSettings, record_movie, save_movie
    from .show import MODALITIES, ShowSettings, default_sample, overview_figure

    out: Path = args.out
    suffixes = FIGURE_SUFFIXES if args.frames is None else MOVIE_SUFFIXES
    if out.suffix.lower() not in suffixes:
        raise ConfigurationError(f"--out must end in one of {list(suffixes)}, got {str(out)!r}.")
    if not out.parent.resolve().is_dir():
        raise ConfigurationError(f"--out: folder {str(out.parent)!r} does not exist.")
    require_choice("engine", args.engine, IMAGING_ENGINES)
    pixels = require_int("--pixels", args.pixels, minimum=8, maximum=2048)
    modality = require_choice("modality", args.modality, MODALITIES)
    settings = ShowSettings(pixels=pixels, engine=args.engine, modality=modality, seed=args.seed)
    sample = Sample.from_file(args.structure) if args.structure else default_sample(args.sample, args.seed)
    if args.frames is not None:
        frames = require_int("--frames", args.frames, minimum=1, maximum=500)
        movie = MovieSettings(frames=frames, engine=args.engine, seed=args.seed)
        images, events, scope = record_movie(sample, movie)
        total = sum(len(e) for e in events)
        dose = images[0].metadata["electrons_per_position"] * movie.pixels**2 / (images[0].extent[0] * images[0].extent[1])
        title = (
            f"{sample.name} under the beam: {frames} frames, {dose:.2g} e/Å² per frame, "
            f"{scope.optics.energy / 1e3:.0f} kV, {total} events"
        )
        atomic_write_path(out, lambda path: save_movie(images, events, path, title))
    else:
        fig = overview_figure(sample, settings)
        atomic_write_path(out, lambda path: fig.savefig(path, dpi=110))
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``stemtwin`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "bench":
            from .bench import run_bench

            return run_bench(args)
        if args.command == "generate":
            from .generate_cli import run_generate

            return run_generate(args)
        if args.command == "train":
            from .train import run_train

            return run_train(args)
        return _cmd_show(args)
    except TwinError as exc:
        print(f"stemtwin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
