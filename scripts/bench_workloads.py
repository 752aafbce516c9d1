"""Per-workload speed on synthetic data: train-step time and eval throughput.

Generic over the workload registry: every workload with a JAX or PyTorch
class is measured, so workloads added later appear without changes here.
The train step is what a plain submission does (forward, the workload's
masked loss, backward, an SGD update), jitted in JAX; eval throughput runs
the workload's own eval batch function. Batches are synthetic (the real
shapes and dtypes, ``data_mode="synthetic"``), so no dataset is needed.

Batch size: ``--batch-size``, else the NadamW baseline's global batch for
the workload divided by 8 (the per-device batch on the 8-GPU benchmark
hardware). ``--reduced`` builds each workload with its family's
``REDUCED_SIZE_KWARGS`` (CPU-sized models).

    python scripts/bench_workloads.py --workloads digits,mnist --reduced

``--decode`` instead times one eval batch of each workload with an option
``decode_cache`` (wmt: beam search) with the key/value cache on and off,
and prints both and the speedup:

    python scripts/bench_workloads.py --workloads wmt --reduced --decode --eval-batch 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from algoperf_ray import spec  # noqa: E402
from algoperf_ray.benchmark import registry  # noqa: E402

BENCHMARK_DEVICES = 8


def reduced_kwargs(name: str) -> dict[str, Any]:
    return registry.reduced_size_kwargs(name)


def default_batch_size(name: str, framework: str) -> int:
    """The NadamW baseline's global batch / 8 (per-device), else 32."""
    try:
        from algoperf_ray.submission.loader import load_submission

        sub = load_submission(str(REPO / "submissions" / "nadamw" / framework / "submission.py"))
        return max(1, sub.get_batch_size(name) // BENCHMARK_DEVICES)
    except Exception:  # noqa: BLE001 - a missing baseline just means the fallback
        return 32


def _jax_step(workload: Any, params: Any, state: Any, batch: dict, lr: float = 1e-3):
    import jax

    def loss(p, s):
        logits, new_s = workload.model_fn(p, batch, s, spec.ForwardPassMode.TRAIN,
                                          jax.random.PRNGKey(0), update_batch_norm=True)
        d = workload.loss_fn(batch["targets"], logits, batch.get("weights"))
        return d["summed"] / d["n_valid_examples"], new_s

    @jax.jit
    def step(p, s):
        (_, new_s), g = jax.value_and_grad(loss, has_aux=True)(p, s)
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), new_s

    def run():
        nonlocal params, state
        params, state = step(params, state)
        jax.block_until_ready(params)

    return run


def _torch_step(workload: Any, model: Any, state: Any, batch: dict, lr: float = 1e-3):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def run():
        opt.zero_grad(set_to_none=True)
        logits, _ = workload.model_fn(model, batch, state, spec.ForwardPassMode.TRAIN, None,
                                      update_batch_norm=True)
        d = workload.loss_fn(batch["targets"], logits, batch.get("weights"))
        (d["summed"] / d["n_valid_examples"]).backward()
        opt.step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    return run


def _median_time(fn, warmup: int, steps: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_one(name: str, framework: str, reduced: bool, batch_size: int | None,
              steps: int, eval_batch: int) -> dict[str, Any]:
    kwargs = reduced_kwargs(name) if reduced else {}
    workload = registry.load_workload(name, framework, data_mode="synthetic", **kwargs)
    bs = batch_size or default_batch_size(name, framework)
    key = np.array([0, 0], np.uint32)
    t0 = time.perf_counter()
    params, state = workload.init_model_fn(key)
    init_s = time.perf_counter() - t0
    batch = next(workload._build_input_queue(key, "train", None, bs))
    make = _jax_step if framework == "jax" else _torch_step
    step_s = _median_time(make(workload, params, state, batch), warmup=2, steps=steps)
    ebs = min(eval_batch, workload.eval_batch_size)
    host = next(workload.host_batches("validation", 0, None, ebs, train=False))
    dev = workload._to_device(host, train=False)
    eval_s = _median_time(lambda: workload._eval_one_batch(params, state, dev, key), 1, 3)
    return {"workload": name, "framework": framework, "reduced": reduced, "batch_size": bs,
            "init_s": round(init_s, 3), "train_step_ms": round(1e3 * step_s, 3),
            "train_examples_per_s": round(bs / step_s, 1),
            "eval_batch_size": ebs, "eval_examples_per_s": round(ebs / eval_s, 1)}


def bench_decode(name: str, framework: str, reduced: bool, eval_batch: int,
                 options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Seconds for one eval batch (beam search) with the decoder cache on and off."""
    kwargs = {**(reduced_kwargs(name) if reduced else {}), **(options or {})}
    row: dict[str, Any] = {"workload": name, "framework": framework, "reduced": reduced,
                           **(options or {})}
    key = np.array([0, 0], np.uint32)
    for cached in (True, False):
        workload = registry.load_workload(name, framework, data_mode="synthetic",
                                          decode_cache=cached, **kwargs)
        params, state = workload.init_model_fn(key)
        ebs = min(eval_batch, workload.eval_batch_size)
        host = next(workload.host_batches("validation", 0, None, ebs, train=False))
        dev = workload._to_device(host, train=False)
        secs = _median_time(lambda w=workload, d=dev, p=params, s=state:
                            w._eval_one_batch(p, s, d, key), 1, 3)
        row.update({"eval_batch_size": ebs,
                    ("cached_s" if cached else "uncached_s"): round(secs, 3)})
    row["speedup"] = round(row["uncached_s"] / row["cached_s"], 2)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default="", help="comma-separated names (default: all)")
    ap.add_argument("--frameworks", default="jax,pytorch")
    ap.add_argument("--reduced", action="store_true", help="use REDUCED_SIZE_KWARGS models")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--eval-batch", type=int, default=1024, help="cap on the eval batch size")
    ap.add_argument("--steps", type=int, default=10, help="timed train steps (median)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--decode", action="store_true",
                    help="time one eval batch with the decoder cache on and off (wmt)")
    ap.add_argument("--options", type=json.loads, default=None,
                    help='--decode: JSON workload options over --reduced, e.g. \'{"seq_len": 128}\'')
    args = ap.parse_args(argv)
    names = [n for n in args.workloads.split(",") if n] or sorted(registry.all_workloads())
    try:
        for name in names:
            registry.get_meta(name)
    except registry.UnknownWorkloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        meta = registry.get_meta(name)
        for fw in args.frameworks.split(","):
            if fw not in meta.frameworks:
                continue
            try:
                rows.append(bench_decode(name, fw, args.reduced, args.eval_batch, args.options)
                            if args.decode else
                            bench_one(name, fw, args.reduced, args.batch_size, args.steps,
                                      args.eval_batch))
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                rows.append({"workload": name, "framework": fw, "error": f"{type(e).__name__}: {e}"})
            print(json.dumps(rows[-1]), flush=True)
    if not args.decode:  # --decode rows are the JSON lines printed above
        _print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if any("error" in r for r in rows) else 0


def _print_table(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = ["workload", "framework", "batch_size", "init_s", "train_step_ms",
            "train_examples_per_s", "eval_examples_per_s", "error"]
    table = Table(title="bench_workloads (synthetic data)")
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in cols))
    Console().print(table)


if __name__ == "__main__":
    raise SystemExit(main())
