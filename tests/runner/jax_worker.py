"""digits + NadamW in JAX on 2 fake CPU devices (run by test_jax_sharded.py).

Must run in a fresh process whose ``XLA_FLAGS`` fakes 2 devices (the test's
``host_devices_env(2)``): XLA reads them when jax is imported.
Usage: python jax_worker.py OUT_DIR; prints one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import jax

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.runner import RunnerHooks, TrialConfig, run_loaded_trial
from algoperf_ray.submission.loader import load_submission

HP = {"learning_rate": 3e-3, "one_minus_beta1": 0.1, "beta2": 0.999, "weight_decay": 0.01,
      "warmup_factor": 0.05, "label_smoothing": 0.0, "dropout_rate": 0.0}


class Preempted(Exception):
    pass


class PreemptAt(RunnerHooks):
    def on_eval(self, row, checkpoint_dir):
        if row["global_step"] == 6:
            raise Preempted


def recording(sub, seen):
    def update_params(**kw):
        batch = kw["batch"]["inputs"]
        seen.append({"step": kw["global_step"], "devices": len(batch.sharding.device_set),
                     "shards": [s.data.shape[0] for s in batch.addressable_shards],
                     "global": batch.shape[0],
                     "param_devices": len(jax.tree_util.tree_leaves(
                         kw["current_param_container"])[0].sharding.device_set)})
        return sub.update_params(**kw)
    return dataclasses.replace(sub, update_params=update_params)


def run(out, hooks=None):
    config = TrialConfig.build(workload="digits", framework="jax", submission_path="submissions/nadamw",
                               hparams=HP, max_global_steps=12, eval_period_sec=0.0,
                               checkpoint_dir=os.path.join(out, "ckpt"))
    seen: list = []
    sub = recording(load_submission("submissions/nadamw", "jax"), seen)
    result = run_loaded_trial(config, load_workload("digits", "jax", data_mode="real"), sub,
                              hooks=hooks)
    return result, seen


def main(out):
    try:
        run(out, PreemptAt())
    except Preempted:
        pass
    result, seen = run(out)
    print(json.dumps({"devices": jax.local_device_count(), "first": seen[0],
                      "steps": [r["global_step"] for r in result.eval_rows],
                      "preemptions": [r["preemption_count"] for r in result.eval_rows],
                      "loss": [r["validation/loss"] for r in result.eval_rows],
                      "scores": [r["accumulated_submission_time"] for r in result.eval_rows],
                      "files": sorted(os.listdir(os.path.join(out, "ckpt")))}))


if __name__ == "__main__":
    main(sys.argv[1])
