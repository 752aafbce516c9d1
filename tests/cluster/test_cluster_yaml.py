"""cluster.yaml validates offline against Ray's own cluster-launcher schema."""

from __future__ import annotations

import yaml


def test_cluster_yaml_validates_and_matches_the_benchmark_hardware(repo_root):
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((repo_root / "cluster.yaml").read_text())
    config = prepare_config(raw)
    validate_config(config)  # raises on any schema error
    nodes = config["available_node_types"]
    head = nodes[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    workers = {name: n for name, n in nodes.items() if name != config["head_node_type"]}
    assert all(w["resources"]["GPU"] == 8 for w in workers.values())
    # Both benchmark hardware classes, selectable by their accelerator_type resource.
    kinds = {name: (w["node_config"]["InstanceType"],
                    [r for r in w["resources"] if r.startswith("accelerator_type:")])
             for name, w in workers.items()}
    assert kinds == {"v100x8": ("p3.16xlarge", ["accelerator_type:V100"]),
                     "a100x8": ("p4d.24xlarge", ["accelerator_type:A100"])}
    assert all(w["max_workers"] > w["min_workers"] for w in workers.values())  # autoscaling
    setup = " ".join(config["setup_commands"])
    assert "ray[default,train,tune]==" in setup
    assert "-c /home/ubuntu/algoperf-ray/constraints/reference-frameworks.txt -e" in setup
    import ray
    assert f"=={ray.__version__}" in setup  # the cluster runs the Ray we test with
    starts = " ".join(config["head_start_ray_commands"] + config["worker_start_ray_commands"])
    assert starts.count("RAY_AUTH_MODE=token") == 2
    assert "--dashboard-host=127.0.0.1" in starts  # never exposed publicly
    assert any("auth_token" in k for k in config["file_mounts"])


def test_a_broken_cluster_yaml_is_rejected(repo_root):
    import pytest
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((repo_root / "cluster.yaml").read_text())
    raw["available_node_types"]["v100x8"]["max_workerz"] = 3
    with pytest.raises(Exception, match="max_workerz|Additional properties"):
        validate_config(prepare_config(raw))


def test_gpu_node_types_install_cuda_frameworks_with_the_reference_pins(repo_root):
    """A plain `.[all]` install gives GPU nodes a CPU-only jaxlib: every JAX trial on CPU."""
    from ray.autoscaler._private.util import prepare_config

    config = prepare_config(yaml.safe_load((repo_root / "cluster.yaml").read_text()))
    pins = (repo_root / "constraints" / "reference-frameworks.txt").read_text()
    assert "jax==0.7.0" in pins and "flax==0.10.7" in pins
    for name, node in config["available_node_types"].items():
        gpus = node["resources"].get("GPU", 0)
        commands = " ".join(node.get("worker_setup_commands", []))
        if not gpus:
            continue
        assert '"jax[cuda12]==0.7.0"' in commands, name
        assert "reference-frameworks.txt" in commands, name
        assert "jax.default_backend() == 'gpu'" in commands, name  # fails the node, not a trial
