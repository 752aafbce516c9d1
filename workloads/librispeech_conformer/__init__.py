"""LibriSpeech Conformer (CTC, WER): base workload and three variants, JAX and PyTorch."""
