"""ImageNet ViT-S/16 and its variants (GLU, post-LN, MAP head), JAX and PyTorch."""
