"""SPIRIT entry points (train_*.py, test_*.py)."""
