"""Command line: a thin Typer layer over the library (it parses, calls and reports; it never
computes a measurement itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .io import ImageReadError
from .pipeline import PipelineError, builtin_pipelines, load_pipeline

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure skin in clinic photographs and report change from baseline.",
)

PipelineOpt = Annotated[str, typer.Option(
    "--pipeline", "-p", help="Built-in pipeline name (laser_recovery, acne) or a .toml path.")]
PxPerMmOpt = Annotated[float | None, typer.Option(
    "--px-per-mm", min=1e-6, help="Image scale in pixels per mm; without it mm metrics are empty.")]


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit with ``code`` (2: usage error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


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


@app.command()
def measure(
    photos: Annotated[list[Path], typer.Argument(help="Photographs (JPEG, PNG, TIFF).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("measured"),
    pipeline: PipelineOpt = "laser_recovery",
    px_per_mm: PxPerMmOpt = None,
) -> None:
    """Measure photographs: OUT/<stem>/metrics.json, masks/*.png and overlay.jpg per photo."""
    from .photo import measure_photo

    try:
        pipe = load_pipeline(pipeline)
    except PipelineError as exc:
        fail(str(exc))
    stems = [p.stem for p in photos]
    if len(set(stems)) != len(stems):
        fail("two photos share a file name stem; their outputs would collide")
    failed = 0
    for photo in photos:
        try:
            rec = measure_photo(photo, out, pipe, px_per_mm)
        except ImageReadError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
            continue
        m = rec["metrics"]
        shown = ", ".join(f"{k}={_fmt(m[k])}" for k in (
            "erythema_area_pct", "microcrust_count", "pore_count", "pigment_spot_count") if k in m)
        typer.echo(f"{photo.name}: {shown} -> {Path(out) / photo.stem}")
    if failed:
        raise typer.Exit(1)


def _fmt(v) -> str:
    return "NA" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the phantom visit set to.")],
    patients: Annotated[int, typer.Option(min=1, max=50, help="Number of patients.")] = 3,
    width: Annotated[int, typer.Option(min=128, max=8000, help="Photo width, px.")] = 1200,
    height: Annotated[int, typer.Option(min=128, max=8000, help="Photo height, px.")] = 900,
    px_per_mm: Annotated[float, typer.Option("--px-per-mm", min=5, max=200,
                                             help="Phantom scale.")] = 30.0,
) -> None:
    """Write synthetic cheek close-ups of a laser-recovery course with exact ground truth."""
    from .synthetic import write_visit_set

    rows = write_visit_set(out_dir, patients=patients, shape=(height, width), px_per_mm=px_per_mm)
    typer.echo(f"wrote {len(rows)} phantom photos and ground_truth.csv to {out_dir}")


@app.command("pipelines")
def list_pipelines() -> None:
    """List the built-in pipelines."""
    for name in builtin_pipelines():
        p = load_pipeline(name)
        typer.echo(f"{name}: {', '.join(p.stages)} - {p.description}")
