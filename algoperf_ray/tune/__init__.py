"""Ray Tune and Ray Train: planning, running and resuming the trials of an experiment."""
