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
    workers = [n for name, n in nodes.items() if name != config["head_node_type"]]
    assert workers and all(w["resources"]["GPU"] == 8 for w in workers)
    assert all(w["node_config"]["InstanceType"] == "p3.16xlarge" for w in workers)
    assert all(w["max_workers"] > w["min_workers"] for w in workers)  # autoscaling
    setup = " ".join(config["setup_commands"])
    assert "pip install -e" in setup and "ray[default,train,tune]==" in setup
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
