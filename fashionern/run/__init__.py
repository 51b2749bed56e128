"""FashionERN entry points (train_*.py, test_*.py) and their shared trainer, tester and evaluation."""
