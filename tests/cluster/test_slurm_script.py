"""The Slurm batch script, run offline by bash against recording stand-ins.

``scontrol``, ``srun``, ``ray`` and ``algoperf-ray`` are replaced by small
scripts on ``PATH`` that append their arguments to a log, so the real script
runs end to end as Slurm would run it, and the test reads back every command it
issued: where the head starts, with which address the workers join, and that
the tune driver gets ``--address auto`` and the user's arguments.
"""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

STAND_INS = {
    "scontrol": 'echo "scontrol $*" >> "$LOG"; printf "gpu-a\\ngpu-b\\ngpu-c\\n"',
    # `srun ... hostname --ip-address` answers two addresses; others just log.
    "srun": textwrap.dedent('''\
        echo "srun $*" >> "$LOG"
        case " $* " in *" hostname "*) echo "10.1.2.3 fe80::1";; esac'''),
    "ray": 'echo "ray $*" >> "$LOG"',
    "algoperf-ray": 'echo "algoperf-ray $* RAY_ADDRESS=$RAY_ADDRESS" >> "$LOG"',
}


@pytest.fixture()
def stand_ins(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STAND_INS.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + body + "\n")
        path.chmod(0o755)
    return bin_dir


def _run(repo_root, stand_ins, tmp_path, *args, **env):
    log = tmp_path / "commands.log"
    full_env = {**os.environ, "PATH": f"{stand_ins}:{os.environ['PATH']}", "LOG": str(log),
                "ALGOPERF_RAY_HEAD_WAIT": "0", "ALGOPERF_RAY_WORKER_WAIT": "0", **env}
    proc = subprocess.run(["bash", str(repo_root / "scripts" / "slurm" / "algoperf_ray.sbatch"),
                           *args], env=full_env, capture_output=True, text=True, timeout=60)
    return proc, (log.read_text().splitlines() if log.exists() else [])


def test_script_is_valid_bash(repo_root):
    proc = subprocess.run(["bash", "-n", str(repo_root / "scripts" / "slurm" / "algoperf_ray.sbatch")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_head_workers_then_tune_with_the_users_arguments(repo_root, stand_ins, tmp_path):
    proc, log = _run(repo_root, stand_ins, tmp_path, "--ruleset", "external", "--workloads",
                     "ogbg,wmt", SLURM_JOB_NODELIST="gpu-[a-c]", SLURM_CPUS_PER_TASK="64",
                     SLURM_GPUS_ON_NODE="8")
    assert proc.returncode == 0, proc.stderr
    assert log[0] == "scontrol show hostnames gpu-[a-c]"
    assert log[1] == "srun --nodes=1 --ntasks=1 -w gpu-a hostname --ip-address"
    srun_ray = sorted(line for line in log if line.startswith("srun") and " ray start " in line)
    head = [line for line in srun_ray if "--head" in line]
    assert head == ["srun --nodes=1 --ntasks=1 -w gpu-a ray start --head --node-ip-address=10.1.2.3 "
                    "--port=6379 --num-cpus=64 --num-gpus=8 --dashboard-host=127.0.0.1 --block"]
    workers = [line for line in srun_ray if "--head" not in line]
    assert workers == [f"srun --nodes=1 --ntasks=1 -w gpu-{n} ray start --address=10.1.2.3:6379 "
                       f"--num-cpus=64 --num-gpus=8 --block" for n in ("b", "c")]
    # The workers start in the background, so only the tune line's content is fixed.
    assert [line for line in log if line.startswith("algoperf-ray")] == [
        "algoperf-ray tune --address auto --ruleset external --workloads ogbg,wmt "
        "RAY_ADDRESS=10.1.2.3:6379"]


def test_outside_an_allocation_it_says_so(repo_root, stand_ins, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(["bash", str(repo_root / "scripts" / "slurm" / "algoperf_ray.sbatch")],
                          env={**env, "PATH": f"{stand_ins}:{env['PATH']}",
                               "LOG": str(tmp_path / "log")},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "run this under sbatch or salloc" in proc.stderr
