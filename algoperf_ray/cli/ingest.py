"""``algoperf-ray ingest LOGS_DIR``: import reference AlgoPerf logs into the store."""

from __future__ import annotations

from typing import Annotated

import typer

from algoperf_ray.cli.common import VersionOption, err_console, user_errors


def ingest_cmd(
    logs_dir: Annotated[str, typer.Argument(
        help="Folder of <submission>/study_<k>/<workload>_<fw>/trial_<n>/eval_measurements.csv")],
    store: Annotated[str, typer.Option(help="Store path or URI (file://, s3://, ...).")],
    ruleset: Annotated[str, typer.Option(help="external or self.")],
    version: VersionOption = None,
    skip_bad: Annotated[bool, typer.Option(
        help="Skip malformed files and list them, instead of failing.")] = False,
    workers: Annotated[int, typer.Option(help="Threads reading files.")] = 8,
) -> None:
    """Import eval_measurements.csv + hparams.json of every trial (replaces each submission).

    All or nothing: every file is checked first and the submissions are
    published in one store transaction.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from algoperf_ray.benchmark.versions import UnknownVersionError, check_ruleset, get_version
    from algoperf_ray.store import SchemaError, Store, StoreError
    from algoperf_ray.store.ingest import IngestError, ingest

    with user_errors(IngestError, SchemaError, StoreError, UnknownVersionError, ValueError):
        check_ruleset(ruleset)
        version_name = get_version(version).name
        target = Store(store)  # a --store that is a file fails here, before any reading
        start = time.perf_counter()
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                      transient=True) as bar:
            task = bar.add_task("reading logs", total=None)
            report = ingest(logs_dir, target, ruleset, version_name, skip_bad=skip_bad,
                            workers=workers,
                            progress=lambda done, total: bar.update(task, completed=done,
                                                                    total=total))
    elapsed = time.perf_counter() - start
    for _path, reason in report.skipped:
        err_console.print(f"[yellow]skipped[/] {reason}", soft_wrap=True)
    if report.missing_csv:
        err_console.print(f"{len(report.missing_csv)} trial folder(s) have no "
                          f"eval_measurements.csv and were left out (as the reference does).")
    if report.missing_hparams:
        err_console.print(f"{len(report.missing_hparams)} trial folder(s) have no hparams.json "
                          f"(expected for self-tuning submissions); their trial rows have no "
                          f"hyperparameters, e.g. {report.missing_hparams[0]}", soft_wrap=True)
    typer.echo(f"ingested {report.trials} trials, {report.rows} eval rows of "
               f"{len(report.submissions)} submissions (v{version_name}, {ruleset}) into "
               f"{store} in {elapsed:.2f} s; skipped {len(report.skipped)} bad file(s)")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
