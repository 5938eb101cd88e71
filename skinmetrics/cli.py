"""Command line: a thin Typer layer over the library (it parses, calls and reports; it never
computes a measurement itself)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__

# the library (numpy, OpenCV, scikit-image) is imported by the commands that use it, so that
# --help and --version answer at once

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text shown as written ([x, y] is not markup)
    help="Measure skin in clinic photographs and report change from baseline.",
)

PipelineOpt = Annotated[str, typer.Option(
    "--pipeline", "-p", help="Built-in pipeline name (laser_recovery, acne) or a .toml path.")]
PxPerMmOpt = Annotated[float | None, typer.Option(
    "--px-per-mm", min=1e-6, help="Image scale in pixels per mm; without it mm metrics are empty.")]
ChartOpt = Annotated[str, typer.Option(
    "--chart", help="Colour chart: auto (find a ColorChecker), none, or a JSON file with its "
                    "corners {\"corners\": [[x,y] x4]} (TL, TR, BR, BL).")]


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit with ``code`` (2: usage error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _check_chart(chart: str) -> None:
    """A ``--chart`` that is not auto/none must be a readable corners file (else exit 2)."""
    if chart not in ("auto", "none"):
        from .chart import load_corners_json

        try:
            load_corners_json(chart)
        except ValueError as exc:
            fail(str(exc))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skinmetrics {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """skinmetrics: erythema, microcrusts, pores and pigmentation, with open formulas."""
    from .memory import reuse_freed_memory

    reuse_freed_memory()


@app.command()
def measure(
    photos: Annotated[list[Path], typer.Argument(help="Photographs (JPEG, PNG, TIFF).",
                                                 metavar="PHOTOS...")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("measured"),
    pipeline: PipelineOpt = "laser_recovery",
    px_per_mm: PxPerMmOpt = None,
    chart: ChartOpt = "auto",
) -> None:
    """Measure photographs: OUT/<stem>/metrics.json, masks/*.png and overlay.jpg per photo."""
    from .io import ImageReadError
    from .photo import measure_photo
    from .pipeline import PipelineError, load_pipeline
    from .stages import STAGES

    try:
        pipe = load_pipeline(pipeline)
    except PipelineError as exc:
        fail(str(exc))
    _check_chart(chart)
    stems = [p.stem for p in photos]
    if len(set(stems)) != len(stems):
        fail("two photos share a file name stem; their outputs would collide")
    failed = 0
    for photo in photos:
        try:
            rec, _ = measure_photo(photo, out, pipe, px_per_mm, chart=chart)
        except Exception as exc:  # one bad photo never stops the others
            failed += 1
            text = str(exc) if isinstance(exc, ImageReadError) else (
                f"{photo.name}: {type(exc).__name__}: {exc}")
            typer.echo(f"error: {' '.join(text.split())}", err=True)
            continue
        for warning in rec["warnings"]:
            typer.echo(f"warning: {photo.name}: {warning}", err=True)
        m = rec["metrics"]
        shown = ", ".join(f"{k}={_fmt(m[k])}" for name in pipe.stages
                          for k in STAGES[name].LAYER.headline if k in m)
        typer.echo(f"{photo.name}: {shown} -> {Path(out) / photo.stem}")
    if failed:
        raise typer.Exit(1)


def _fmt(v) -> str:
    return "NA" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


@app.command()
def run(
    visits: Annotated[Path, typer.Argument(
        metavar="VISITS", show_default=False,
        help="Visit folder: <patient>_<visit>[_<view>].jpg photos (or <patient>/ sub-folders), "
             "or a manifest.csv.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("results"),
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="Baseline visit (day0 = d0 = baseline = bl); default: each patient's "
                           "earliest visit.")] = None,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="The one visit to compare with the baseline (e.g. day28); default: "
                          "every follow-up visit.")] = None,
    pipeline: PipelineOpt = "laser_recovery",
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Parallel processes (default: number of CPUs).")] = None,
    px_per_mm: PxPerMmOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the photos and comparisons found; measure and write nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress (a bar on a terminal, else a line per photo).")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Measure every photo again (default: reuse the results in OUT "
                            "made from the same inputs, measure the rest).")] = False,
    chart: ChartOpt = "auto",
    no_register: Annotated[bool, typer.Option(
        "--no-register", help="Do not align follow-up photos to the baseline.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Stop on a manifest line or photo that cannot be resolved (default: "
                         "leave it out with a warning).")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="ADDRESS",
        help="Measure on a Dask distributed cluster (e.g. tcp://host:8786) instead of local "
             "processes; every worker must see VISITS and OUT at the same paths.")] = None,
) -> None:
    """Measure a visit folder and report change from baseline (tables and report.html in
    OUT)."""
    from .batch import BatchError, ProgressBar, describe_plan, plan_batch, run_batch
    from .report import REPORT_FILE

    _check_chart(chart)
    if dry_run:
        try:
            plan = plan_batch(visits, pipeline, baseline=baseline, compare=compare,
                              px_per_mm=px_per_mm, exclude=[out], strict=strict)
        except BatchError as exc:
            fail(str(exc))
        typer.echo(describe_plan(plan))
        if out.is_dir() and any(out.iterdir()):
            typer.echo(f"note: output folder {out} is not empty; a run reuses the photos "
                       "measured there from the same inputs (--overwrite: measure all again)")
        typer.echo("dry run: nothing measured, nothing written")
        return

    with ProgressBar(enabled=not quiet, lines=not sys.stderr.isatty()) as bar:

        def show_plan(plan) -> None:
            for warning in plan.warnings:
                typer.echo(f"warning: {warning}", err=True)
            bar.set_plan(plan)

        try:
            result = run_batch(visits, out, pipeline, baseline=baseline, compare=compare,
                               jobs=jobs, px_per_mm=px_per_mm, overwrite=overwrite,
                               progress=bar, on_plan=show_plan, chart=chart,
                               register=not no_register, strict=strict,
                               scheduler=scheduler)
        except BatchError as exc:
            bar.stop()
            fail(str(exc))
    for warning in result.warnings[len(result.plan.warnings):]:
        typer.echo(f"warning: {warning}", err=True)
    failed = result.failed
    n = len(result.results)
    typer.echo(f"{n} photo(s): {n - len(failed)} measured, {len(failed)} failed "
               f"(pipeline {result.plan.pipeline.name})")
    for r in failed:
        reason = r.message.removeprefix(f"{r.photo.path.name}: ")
        typer.echo(f"  failed: {r.photo.file}: {reason}")
    typer.echo(f"results in {out}: measurements.csv, change_from_baseline.csv, summary.csv, "
               f"cohort_stats.csv, photos.csv, patients/ ({len(result.tables['patients'])}), "
               "photos/, run.json")
    if (out / REPORT_FILE).is_file():
        typer.echo(f"report: {out / REPORT_FILE} (open it in a web browser)")
    raise typer.Exit(result.exit_code)


@app.command()
def report(
    results: Annotated[Path, typer.Argument(
        metavar="RESULTS", show_default=False,
        help="Results folder written by `skinmetrics run`.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Report file (default: RESULTS/report.html).",
        show_default=False)] = None,
) -> None:
    """Rebuild report.html from a results folder, without measuring again."""
    from .report import write_report
    from .results import ReportError

    try:
        path = write_report(results, out)
    except ReportError as exc:
        fail(str(exc))
    typer.echo(f"report: {path}")


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the phantom visit set to.",
                                            metavar="OUT_DIR")],
    patients: Annotated[int, typer.Option(min=1, max=50, help="Number of patients.")] = 3,
    width: Annotated[int, typer.Option(min=128, max=8000, help="Photo width, px.")] = 1200,
    height: Annotated[int, typer.Option(min=128, max=8000, help="Photo height, px.")] = 900,
    px_per_mm: Annotated[float, typer.Option("--px-per-mm", min=5, max=200,
                                             help="Phantom scale.")] = 30.0,
) -> None:
    """Write synthetic cheek close-ups of a laser-recovery course with exact ground truth."""
    from .synthetic import write_visit_set

    rows = write_visit_set(out_dir, patients=patients, shape=(height, width), px_per_mm=px_per_mm,
                           manifest=True)
    typer.echo(f"wrote {len(rows)} phantom photos, manifest.csv and ground_truth.csv to {out_dir}")


@app.command("pipelines")
def list_pipelines() -> None:
    """List the built-in pipelines."""
    from .pipeline import builtin_pipelines, load_pipeline

    for name in builtin_pipelines():
        p = load_pipeline(name)
        typer.echo(f"{name}: {', '.join(p.stages)} - {p.description}")
