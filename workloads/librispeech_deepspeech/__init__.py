"""LibriSpeech DeepSpeech. Scoring metadata only for now."""
