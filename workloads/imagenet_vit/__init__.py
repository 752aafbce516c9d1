"""ImageNet ViT-S/16. Scoring metadata only for now."""
