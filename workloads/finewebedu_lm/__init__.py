"""FineWeb-Edu language modelling with a decoder-only Transformer (finewebedu_lm)."""
