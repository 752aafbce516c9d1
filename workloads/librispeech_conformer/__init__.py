"""LibriSpeech Conformer. Scoring metadata only for now."""
