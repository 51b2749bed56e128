"""Synthetic benchmark in every real on-disk format, and the tiny CLIP trained on it."""
