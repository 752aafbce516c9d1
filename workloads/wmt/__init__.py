"""WMT17 German-English translation with a Transformer."""
