"""CIFAR-10 with the reference ResNet-18 (dev workload)."""
