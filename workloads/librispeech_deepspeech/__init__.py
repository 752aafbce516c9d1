"""LibriSpeech DeepSpeech (conv + BiLSTM, CTC, WER): base and three variants, JAX and PyTorch."""
