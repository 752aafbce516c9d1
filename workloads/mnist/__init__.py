"""MNIST with the reference MLP (dev workload)."""
