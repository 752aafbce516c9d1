"""ImageNet ResNet-50 (v1.5) and its variants, JAX and PyTorch; also the shared ImageNet pipeline."""
