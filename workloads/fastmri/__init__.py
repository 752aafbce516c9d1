"""fastMRI knee single-coil reconstruction: the reference U-Net and its three variants."""
