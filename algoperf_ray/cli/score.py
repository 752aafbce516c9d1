"""``algoperf-ray score`` and ``algoperf-ray speedup``: leaderboards from the store."""

from __future__ import annotations

import os

import typer

from algoperf_ray.cli.common import err_console, user_errors

_STORE = typer.Option(..., "--store", help="Store path or URI.")
_RULESET = typer.Option(..., "--ruleset", help="external or self.")
_VERSION = typer.Option(None, "--version", help="Benchmark version: 0.5 or 0.6 "
                                                "(default: the current version).")
_SUBMISSIONS = typer.Option(None, "--submissions", help="Comma-separated submissions "
                                                        "(default: all in the store).")
_RULE = typer.Option("published", "--rule",
                     help="Winning trial per study: 'published' (earliest eval index, as the "
                          "reference code) or 'documented' (fastest time, as the rules say).")


def _errors():
    from algoperf_ray.benchmark.versions import UnknownVersionError, UnknownVersionWorkloadError
    from algoperf_ray.scoring.scoring import ScoringError
    from algoperf_ray.store import SchemaError, StoreError

    return (ScoringError, SchemaError, StoreError, UnknownVersionError,
            UnknownVersionWorkloadError, ValueError)


def _score(store: str, ruleset: str, version: str | None, submissions: str | None,
           strict: bool, rule: str):
    import warnings

    from algoperf_ray.scoring.scoring import ScoringWarning, score_store
    from algoperf_ray.store import Store

    subs = [s.strip() for s in submissions.split(",") if s.strip()] if submissions else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoringWarning)
        result = score_store(Store(store), ruleset, version, submissions=subs, strict=strict,
                             rule=rule)
    if result.warnings:
        err_console.print(f"[yellow]warning:[/] {len(result.warnings)} count(s) differ from the "
                          f"rules (pass --strict to fail); first: {result.warnings[0]}")
    return result


def score_cmd(
    store: str = _STORE, ruleset: str = _RULESET, version: str = _VERSION,
    submissions: str = _SUBMISSIONS,
    strict: bool = typer.Option(False, "--strict", help="Fail when workload, study or trial "
                                                        "counts differ from the rules."),
    rule: str = _RULE,
    out: str = typer.Option("scores.parquet", "--out", help="Scores Parquet file."),
    profiles: str = typer.Option(None, "--profiles", help="Profile curves Parquet "
                                                          "(default: <out>_profiles.parquet)."),
    plot: str = typer.Option(None, "--plot", help="Profile plot PNG "
                                                  "(default: <out>_profiles.png)."),
) -> None:
    """Score submissions: time-to-target, performance profiles and the benchmark score."""
    from algoperf_ray.scoring import report

    with user_errors(*_errors()):
        result = _score(store, ruleset, version, submissions, strict, rule)
    stem = os.path.splitext(out)[0]
    report.write_scores(result, out)
    report.write_profiles(result, profiles or f"{stem}_profiles.parquet")
    report.plot_profiles(result, plot or f"{stem}_profiles.png")
    report.print_leaderboard(result)
    typer.echo(f"wrote {out}, {profiles or stem + '_profiles.parquet'}, "
               f"{plot or stem + '_profiles.png'}")


def speedup_cmd(
    reference: str = typer.Option(..., "--reference", help="Submission to compare against."),
    store: str = _STORE, ruleset: str = _RULESET, version: str = _VERSION,
    submissions: str = _SUBMISSIONS, rule: str = _RULE,
    out: str = typer.Option(None, "--out", help="Optional Parquet file of the speedups."),
) -> None:
    """Geometric-mean speedup per submission; a miss counts as max_runtime + 1 s."""
    import pyarrow.parquet as pq
    from rich.console import Console

    from algoperf_ray.scoring import report
    from algoperf_ray.scoring.scoring import speedups

    with user_errors(*_errors()):
        result = _score(store, ruleset, version, submissions, False, rule)
        table = speedups(result, reference)
    Console().print(report.speedup_table(table, reference))
    if out:
        pq.write_table(table, out)


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
    app.command("speedup")(speedup_cmd)
