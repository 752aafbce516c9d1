"""Train-step time of our workloads next to the reference's own workload code.

Why: a score is comparable with the AlgoPerf leaderboard only if a step here
costs what it costs in the reference harness. This script runs the same model
size, the same batch (one ``.npz`` written once, read by both sides) and the
same optimizer step (plain SGD: ``optax.sgd`` / ``torch.optim.SGD``) through
our workload class and through the class of a checkout of
``mlcommons/algorithmic-efficiency``. Each side runs in its own subprocess (its
own interpreter, so the reference can have its own environment); the two are
interleaved round by round, the first side alternating, so machine load hits
both alike. With ``--same-process`` one subprocess per round builds both sides
(the reference's package is ``algoperf``, ours ``algoperf_ray``: they import
side by side) and alternates them step by step, which also removes
process-level effects (imports, allocator state). It prints, per workload and
framework, the median step time of each side and their ratio (ours /
reference; <= 1.0 means ours is no slower).

    python scripts/bench_vs_reference.py --reference-repo /tmp/algoperf_ref \\
        --reference-python /tmp/pinned/bin/python --reference-path /tmp/refdeps \\
        --workloads mnist,ogbg --frameworks jax,pytorch --rounds 2

Model size: workloads whose reference class takes size options (as class
properties) run at our ``REDUCED_SIZE_KWARGS`` with the same values forced
onto the reference class; the others run at full size with a small batch.
This module imports only the standard library and numpy at the top, because
the reference side runs it under the reference's interpreter.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULT_TAG = "BENCH_RESULT "
FRAMEWORK_DIRS = {"jax": "jax", "pytorch": "pytorch"}


@dataclasses.dataclass(frozen=True)
class Case:
    """How one of our workloads maps onto the reference's code.

    ``ref_dir``/``ref_leaf``: ``algoperf/workloads/<ref_dir>/<ref_leaf>_<fw>/workload.py``.
    ``sizes``: model-size options given to our class as keyword arguments and
    forced onto the reference class as properties (its classes take sizes
    only that way); empty means both sides run at full size.
    """

    ref_dir: str
    ref_leaf: str
    ref_class: str
    sizes: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: int = 32
    graph: bool = False  # ogbg: inputs are a jraph GraphsTuple on the reference side
    speech: bool = False  # librispeech: the reference pairs inputs and targets with paddings
    nchw_torch: bool = False  # imagenet: the reference's PyTorch models take NCHW images

    def module(self, framework: str) -> str:
        leaf = f"{self.ref_leaf}_{FRAMEWORK_DIRS[framework]}"
        return f"algoperf.workloads.{self.ref_dir}.{leaf}.workload"


CASES: dict[str, Case] = {
    "mnist": Case("mnist", "mnist", "MnistWorkload", batch_size=128),
    "ogbg": Case("ogbg", "ogbg", "OgbgWorkload", graph=True, batch_size=32,
                 sizes={"latent_dim": 32, "hidden_dims": (32,), "num_message_passing_steps": 2}),
    "criteo1tb": Case("criteo1tb", "criteo1tb", "Criteo1TbDlrmSmallWorkload", batch_size=512,
                      # only the table shrinks: the reference's PyTorch DLRM fixes its
                      # top-MLP input width (506) to the full embed_dim of 128
                      sizes={"vocab_size": 8192}),
    "fastmri": Case("fastmri", "fastmri", "FastMRIWorkload", batch_size=4,
                    sizes={"num_channels": 4, "num_pool_layers": 2}),
    "wmt": Case("wmt", "wmt", "WmtWorkload", batch_size=2),
    "imagenet_resnet": Case("imagenet_resnet", "imagenet", "ImagenetResNetWorkload",
                            batch_size=2, nchw_torch=True),
    "imagenet_vit": Case("imagenet_vit", "imagenet", "ImagenetVitWorkload", batch_size=2,
                         nchw_torch=True),
    "librispeech_conformer": Case("librispeech_conformer", "librispeech",
                                  "LibriSpeechConformerWorkload", batch_size=2, speech=True),
    "librispeech_deepspeech": Case("librispeech_deepspeech", "librispeech",
                                   "LibriSpeechDeepSpeechWorkload", batch_size=2, speech=True),
}


class NotACheckoutError(ValueError):
    """``--reference-repo`` does not hold the reference's ``algoperf`` package."""


def check_reference_repo(path: Path, names: list[str], frameworks: list[str]) -> None:
    """Fail before any subprocess starts when the checkout lacks a workload module."""
    if not (path / "algoperf" / "workloads").is_dir():
        raise NotACheckoutError(
            f"--reference-repo {path}: no algoperf/workloads/ folder there; pass the root of a "
            "checkout of mlcommons/algorithmic-efficiency (e.g. `git archive HEAD | tar -x`).")
    for name in names:
        for fw in frameworks:
            rel = CASES[name].module(fw).replace(".", "/") + ".py"
            if not (path / rel).is_file():
                raise NotACheckoutError(
                    f"--reference-repo {path}: {rel} is missing; that checkout has no "
                    f"{fw} {name} workload (drop it from --workloads/--frameworks).")


# ---------------------------------------------------------------- batch file


def save_batch(path: Path, batch: dict[str, Any]) -> None:
    """Flatten a (nested) numpy batch to ``a/b`` keys; ``None`` leaves are dropped."""
    flat: dict[str, np.ndarray] = {}

    def walk(prefix: str, node: Any) -> None:
        if hasattr(node, "_asdict"):  # a GraphsTuple-like namedtuple (ogbg inputs)
            node = node._asdict()
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}{k}/", v)
        elif node is not None:
            flat[prefix[:-1]] = np.asarray(node)

    walk("", batch)
    np.savez(path, **flat)


def load_batch(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with np.load(path) as data:
        for key in data.files:
            *parents, leaf = key.split("/")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = data[key]
    return out


# ---------------------------------------------------------------- workers


def with_sizes(cls: type, sizes: dict[str, Any]) -> type:
    """``cls`` with ``sizes`` forced on as read-only properties.

    The reference's classes take model sizes only as class properties or
    attributes their ``__init__`` assigns; a property with a no-op setter
    overrides both kinds.
    """
    if not sizes:
        return cls
    attrs = {k: property(lambda self, v=v: v, lambda self, value: None)
             for k, v in sizes.items()}
    return type(f"Sized{cls.__name__}", (cls,), attrs)


def _reference_class(case: Case, framework: str, sizes: dict[str, Any]) -> type:
    return with_sizes(getattr(importlib.import_module(case.module(framework)), case.ref_class),
                      sizes)


def _reference_batch(case: Case, framework: str, host: dict[str, Any]) -> dict[str, Any]:
    """Our numpy batch in the reference's device format (dtypes as its input queues make).

    JAX arrays are placed with the reference's own batch-dimension sharding, as
    its input queues place them (``jax_sharding_utils.get_batch_dim_sharding``);
    our side's batches are sharded the same way, so neither side gets plain
    single-device arrays the real runners never see.
    """
    if framework == "jax":
        import jax
        from algoperf import jax_sharding_utils  # the reference's own module

        sharding = jax_sharding_utils.get_batch_dim_sharding()

        def conv(a: np.ndarray) -> Any:
            return jax.device_put(a, sharding)
    else:
        import torch

        def conv(a: np.ndarray) -> Any:
            t = torch.as_tensor(a)
            return t.long() if t.dtype in (torch.int32, torch.int64) else t

    if case.speech:  # ``(values, paddings)`` pairs, as the reference's input queue yields
        return {"inputs": (conv(host["inputs"]), conv(host["input_paddings"])),
                "targets": (conv(host["targets"]), conv(host["target_paddings"]))}
    batch = {k: conv(v) for k, v in host.items() if k != "inputs"}
    inputs = host["inputs"]
    if case.graph:
        import jraph

        g = {k: conv(v) for k, v in inputs.items()}
        n_graph, n_out = host["targets"].shape
        g["globals"] = conv(np.zeros((n_graph, n_out), np.float32))
        batch["inputs"] = jraph.GraphsTuple(**g)
        if framework == "pytorch":
            batch["weights"] = batch["weights"].bool()
    elif case.nchw_torch and framework == "pytorch":  # our host batches are NHWC
        batch["inputs"] = conv(np.ascontiguousarray(np.transpose(inputs, (0, 3, 1, 2))))
    else:
        batch["inputs"] = conv(inputs)
    return batch


def _jax_stepper(workload: Any, spec: Any, params: Any, state: Any, batch: dict, lr: float):
    import jax
    import optax

    tx = optax.sgd(lr)
    opt_state = tx.init(params)

    def loss(p: Any, s: Any, b: dict) -> Any:
        logits, new_s = workload.model_fn(p, b, s, spec.ForwardPassMode.TRAIN,
                                          jax.random.PRNGKey(0), update_batch_norm=True)
        d = workload.loss_fn(b["targets"], logits, b.get("weights"))
        return d["summed"] / d["n_valid_examples"], new_s

    # The batch is an argument, as in a submission's jitted update (a closed-over
    # array would be a compile-time constant, whose handling depends on its sharding).
    @jax.jit
    def step(p: Any, s: Any, o: Any, b: dict) -> Any:
        (_, new_s), g = jax.value_and_grad(loss, has_aux=True)(p, s, b)
        updates, o = tx.update(g, o, p)
        return optax.apply_updates(p, updates), new_s, o

    carry = [params, state, opt_state]

    def run() -> None:
        carry[:] = step(*carry, batch)
        jax.block_until_ready(carry[0])

    return run


def _torch_stepper(workload: Any, spec: Any, model: Any, state: Any, batch: dict, lr: float):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        logits, _ = workload.model_fn(model, batch, state, spec.ForwardPassMode.TRAIN, None,
                                      update_batch_norm=True)
        d = workload.loss_fn(batch["targets"], logits, batch.get("weights"))
        (d["summed"] / d["n_valid_examples"]).backward()
        opt.step()

    return run


def _build_side(side: str, case_name: str, framework: str, batch_file: Path,
                batch_size: int) -> tuple[Any, Any, Any, dict, Any]:
    """(workload, spec module, params, model state, device batch) for one side."""
    case = CASES[case_name]
    rng = np.array([0, 0], np.uint32)
    if side == "ours":
        sys.path.insert(0, str(REPO))
        from algoperf_ray import spec
        from algoperf_ray.benchmark import registry

        workload = registry.load_workload(case_name, framework, data_mode="synthetic",
                                          **_sizes_from_env())
        if not batch_file.exists():
            save_batch(batch_file, next(workload.host_batches("train", 0, None, batch_size,
                                                              train=True)))
        params, state = workload.init_model_fn(rng)
        host = load_batch(batch_file)
        if case.graph:  # the file holds the graph's fields; ours takes its GraphsTuple
            from algoperf_ray.workloads.ogbg.input_pipeline import GraphsTuple

            host["inputs"] = GraphsTuple(**{f: host["inputs"].get(f)
                                            for f in GraphsTuple._fields})
        return workload, spec, params, state, workload._to_device(host, True)
    from algoperf import spec  # the reference's own contract module

    workload = _reference_class(case, framework, _sizes_from_env())()
    if framework == "jax":
        import jax

        rng = jax.random.PRNGKey(0)
    params, state = workload.init_model_fn(rng)
    return workload, spec, params, state, _reference_batch(case, framework, load_batch(batch_file))


def worker(args: argparse.Namespace) -> int:
    """Time ``--steps`` SGD steps after warm-up, for one side or (``both``) for both.

    ``both`` builds our side, then the reference's, in this one process and
    alternates them step by step (``side_order``): process-level
    effects (imports, allocator state, thread start-up) then hit both alike.
    """
    sides = ("ours", "reference") if args.worker == "both" else (args.worker,)
    if args.torch_threads and args.framework == "pytorch":
        import torch

        torch.set_num_threads(args.torch_threads)
    make = _jax_stepper if args.framework == "jax" else _torch_stepper
    runs = {side: make(*_build_side(side, args.workload, args.framework, args.batch_file,
                                    args.batch_size), args.lr) for side in sides}
    # Warm up by count and by time: a fresh process is slow for its first
    # seconds (compile threads, lazy imports), which a fixed count misses.
    start = time.perf_counter()
    done = 0
    while done < args.warmup or time.perf_counter() - start < args.warmup_s:
        for run in runs.values():
            run()
        done += 1
    times: dict[str, list[float]] = {side: [] for side in sides}
    for i in range(args.steps):
        for side in (s for s in side_order(i) if s in runs):
            t = time.perf_counter()
            runs[side]()
            times[side].append(time.perf_counter() - t)
    print(RESULT_TAG + json.dumps({"times": times, "versions": _versions(args.framework)}),
          flush=True)
    return 0


def _versions(framework: str) -> str:
    mods = ("jax", "flax", "optax") if framework == "jax" else ("torch",)
    return " ".join(f"{m}={importlib.import_module(m).__version__}" for m in mods)


# ---------------------------------------------------------------- driver


def model_sizes(name: str, full_size: bool) -> dict[str, Any]:
    """The size options both sides get (none at ``--full-size``)."""
    return {} if full_size else dict(CASES[name].sizes)


def _sizes_from_env() -> dict[str, Any]:
    """``BENCH_SIZES`` as the driver set it; JSON lists back to tuples."""
    sizes = json.loads(os.environ.get("BENCH_SIZES", "{}"))
    return {k: tuple(v) if isinstance(v, list) else v for k, v in sizes.items()}


def run_side(side: str, python: str, name: str, framework: str, batch_file: Path,
             args: argparse.Namespace, sizes: dict[str, Any]) -> dict[str, Any]:
    """Run one worker subprocess; its result line, or an error naming side and workload."""
    cmd = [python, str(Path(__file__).resolve()), "--worker", side, "--workload", name,
           "--framework", framework, "--batch-file", str(batch_file),
           "--batch-size", str(args.batch_size or CASES[name].batch_size),
           "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--warmup-s", str(args.warmup_s),
           "--torch-threads", str(args.torch_threads), "--lr", str(args.lr)]
    env = dict(os.environ, BENCH_SIZES=json.dumps(sizes))
    if side in ("reference", "both"):
        paths = [str(args.reference_repo), *filter(None, args.reference_path.split(":"))]
        env["PYTHONPATH"] = ":".join(paths + [env.get("PYTHONPATH", "")]).rstrip(":")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
    raise RuntimeError(f"{side} side of {name}/{framework} failed (exit {proc.returncode}):\n"
                       f"{tail}")


def summarize(name: str, framework: str, ours: list[float], ref: list[float],
              **extra: Any) -> dict[str, Any]:
    """Medians in ms and the ratio ours/reference (below 1.0: ours is faster).

    The ratio of the fastest steps is kept too: on a shared, loaded machine
    other processes only ever add time, so the minimum is the steadier
    estimate of what the code itself costs.
    """
    ours_ms, ref_ms = 1e3 * statistics.median(ours), 1e3 * statistics.median(ref)
    return {"workload": name, "framework": framework, "ours_ms": round(ours_ms, 3),
            "reference_ms": round(ref_ms, 3), "ratio": round(ours_ms / ref_ms, 3),
            "ratio_min": round(min(ours) / min(ref), 3), **extra}


def side_order(i: int) -> tuple[str, str]:
    """The order of the two sides in round (or same-process step) ``i``: ours first when even.

    Round 0 starts with ours, which writes the batch file both sides read.
    """
    return ("ours", "reference") if i % 2 == 0 else ("reference", "ours")


def bench_pair(name: str, framework: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Interleave ``--rounds`` of the two sides on one shared batch file.

    The order alternates (ours first in even rounds, the reference first in
    odd ones): whichever process runs right after another tends to time
    differently on a 2-core machine, and a fixed order would bias one side.
    """
    sizes = model_sizes(name, args.full_size)
    batch_file = tmp / f"{name}_{framework}.npz"
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    pythons = {"ours": args.ours_python, "reference": args.reference_python}
    versions = {}
    for r in range(args.rounds):
        workers = ["both"] if args.same_process else side_order(r)
        for worker_side in workers:  # each returns {"times": {side: [...]}, "versions": ...}
            python = pythons.get(worker_side, args.ours_python)
            result = run_side(worker_side, python, name, framework, batch_file, args, sizes)
            for side, steps in result["times"].items():
                times[side] += steps
                versions[f"{side}_versions"] = result["versions"]
    ours, ref = times["ours"], times["reference"]
    return summarize(name, framework, ours, ref,
                     batch_size=args.batch_size or CASES[name].batch_size,
                     size="reduced" if sizes else "full", steps=len(ours), **versions)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table (pastes into the README as is)."""
    cols = ["workload", "framework", "size", "batch_size", "ours_ms", "reference_ms", "ratio",
            "ratio_min", "error"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [str(r.get(c, "")).splitlines()[0] if r.get(c, "") != "" else "" for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference-repo", type=Path, help="root of an algorithmic-efficiency checkout")
    ap.add_argument("--reference-python", default=sys.executable,
                    help="interpreter of the reference's environment (default: this one)")
    ap.add_argument("--reference-path", default="",
                    help="extra ':'-separated import paths for the reference side")
    ap.add_argument("--ours-python", default=sys.executable)
    ap.add_argument("--workloads", default="mnist,ogbg,criteo1tb,fastmri,wmt")
    ap.add_argument("--frameworks", default="jax,pytorch")
    ap.add_argument("--batch-size", type=int, default=None, help="default: per workload")
    ap.add_argument("--full-size", action="store_true", help="skip the reduced sizes")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per round (median)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps, at least")
    ap.add_argument("--warmup-s", type=float, default=3.0, help="untimed seconds, at least")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved ours/reference rounds")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads on both sides (0: torch's default)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per subprocess")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--same-process", action="store_true",
                    help="run both sides in one process (this interpreter), alternating step "
                         "by step; needs the reference's imports in this environment")
    ap.add_argument("--worker", choices=("ours", "reference", "both"), help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    ap.add_argument("--framework", help=argparse.SUPPRESS)
    ap.add_argument("--batch-file", type=Path, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    names = [n for n in args.workloads.split(",") if n]
    frameworks = [f for f in args.frameworks.split(",") if f]
    bad = [n for n in names if n not in CASES] + [f for f in frameworks if f not in FRAMEWORK_DIRS]
    if bad or args.reference_repo is None:
        print(f"error: unknown {bad} (workloads: {', '.join(CASES)}; frameworks: jax, pytorch)"
              if bad else "error: --reference-repo is required", file=sys.stderr)
        return 2
    if args.same_process and args.reference_python != args.ours_python:
        print("error: --same-process runs both sides under one interpreter; drop "
              "--reference-python or make it --ours-python", file=sys.stderr)
        return 2
    try:
        check_reference_repo(args.reference_repo, names, frameworks)
    except NotACheckoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_vs_ref_") as tmp:
        for name in names:
            for fw in frameworks:
                try:
                    rows.append(bench_pair(name, fw, args, Path(tmp)))
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    rows.append({"workload": name, "framework": fw, "error": str(e)})
                print(json.dumps(rows[-1]), flush=True)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
