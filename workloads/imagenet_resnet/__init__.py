"""ImageNet ResNet-50. Scoring metadata only for now."""
