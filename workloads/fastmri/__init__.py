"""fastMRI knee single-coil reconstruction (U-Net). Scoring metadata only for now."""
