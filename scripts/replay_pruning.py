"""Replay score-preserving pruning (``tune --prune-dominated``) on a results store.

The rule: stop a trial at its first eval whose accumulated submission time has
passed the best time-to-target a sibling in its study already reached. The
study's time is the minimum over its trials, so a stopped trial could never
have changed the score. The replay assumes the trials of a study run side by
side (as ``algoperf-ray tune`` runs them), so a sibling's time-to-target is
known once the other trials' clocks pass it.

Usage (real v0.5 external-tuning logs)::

    tar xJf ../shared/data/algoperf_v05_logs.tar.xz -C /tmp/v05
    algoperf-ray ingest /tmp/v05/algoperf_v05/logs/external_tuning --store /tmp/v05store \\
        --ruleset external --version 0.5
    python scripts/replay_pruning.py --store /tmp/v05store --version 0.5

Prints the compute each submission would have saved, measured in
accumulated submission time and in total wall time (``total_duration``, which
includes evals), and checks that no study's time changes.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

STUDY = ["submission", "framework", "workload", "study"]
TRIAL = [*STUDY, "trial"]


def _reached(df: pd.DataFrame, version: str) -> np.ndarray:
    """Row mask: the row's validation target metric meets its workload's target."""
    from algoperf_ray.benchmark.versions import get_version

    v = get_version(version)
    out = np.zeros(len(df), dtype=bool)
    for workload, idx in df.groupby("workload").indices.items():
        t = v.target(workload)
        if t.metric_column in df.columns:  # the version's one inclusive rule, per column
            out[idx] = t.is_met(df[t.metric_column].to_numpy(dtype=float)[idx])
    return out


def replay(evals: pd.DataFrame, version: str) -> pd.DataFrame:
    """Per trial: full and pruned compute (submission time and wall time)."""
    df = evals.sort_values([*TRIAL, "eval_index"]).reset_index(drop=True)
    score = df["accumulated_submission_time"].to_numpy(dtype=float)
    df["ttt_row"] = np.where(_reached(df, version), score, np.inf)
    df["ttt"] = df.groupby(TRIAL)["ttt_row"].transform("min")
    df["best"] = df.groupby(STUDY)["ttt"].transform("min")
    # Pruned at the first eval past the study's best, unless it is the winner.
    df["stop"] = (score > df["best"].to_numpy()) & (df["ttt"].to_numpy() > df["best"].to_numpy())
    df["stop_rank"] = df["stop"].astype(int).groupby([df[c] for c in TRIAL]).cumsum()
    kept = df[(df["stop_rank"] == 0) | (df["stop"] & (df["stop_rank"] == 1))]
    g_all, g_kept = df.groupby(TRIAL), kept.groupby(TRIAL)
    out = pd.DataFrame({
        "ttt": g_all["ttt"].first(), "best": g_all["best"].first(),
        "pruned": g_all["stop"].any(),
        "full_submission_time": g_all["accumulated_submission_time"].max(),
        "pruned_submission_time": g_kept["accumulated_submission_time"].max(),
        "full_wall_time": g_all["total_duration"].max(),
        "pruned_wall_time": g_kept["total_duration"].max(),
    })
    return out.reset_index()


def study_times(trials: pd.DataFrame, col: str) -> pd.Series:
    return trials.groupby(STUDY)[col].min()


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """Saving per submission and overall, in both compute measures."""
    def frame(g: pd.DataFrame) -> pd.Series:
        return pd.Series({
            "trials": len(g), "pruned": int(g["pruned"].sum()),
            "saved_submission_time_%": 100 * (1 - g["pruned_submission_time"].sum()
                                              / g["full_submission_time"].sum()),
            "saved_wall_time_%": 100 * (1 - g["pruned_wall_time"].sum()
                                        / g["full_wall_time"].sum()),
        })
    per = trials.groupby("submission")[list(trials.columns)].apply(frame)
    per.loc["ALL"] = frame(trials)
    return per


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", required=True, help="results store (path or URI)")
    p.add_argument("--version", default="0.5")
    p.add_argument("--ruleset", default="external")
    args = p.parse_args(argv)
    from algoperf_ray.store import Store

    evals = Store(args.store).read_evals(
        filters={"version": args.version, "ruleset": args.ruleset}).to_pandas()
    if evals.empty:
        print(f"no eval rows for version {args.version} / {args.ruleset} in {args.store}",
              file=sys.stderr)
        return 2
    trials = replay(evals, args.version)
    # Score-preserving: a pruned trial never held its study's best time.
    assert (trials.loc[trials["pruned"], "ttt"] > trials.loc[trials["pruned"], "best"]).all()
    table = summarize(trials)
    pd.set_option("display.width", 120)
    print(table.to_string(float_format=lambda x: f"{x:.1f}"))
    all_row = table.loc["ALL"]
    print(f"\nPruning would have saved {all_row['saved_submission_time_%']:.1f}% of the "
          f"accumulated submission time and {all_row['saved_wall_time_%']:.1f}% of the "
          f"wall time ({int(all_row['pruned'])} of {int(all_row['trials'])} trials stopped); "
          f"every study's time is unchanged.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
