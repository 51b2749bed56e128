"""Evaluate a SPIRIT checkpoint on fashion200k in eval mode and write metrics.json (see spirit/README.md)."""
from spirit.run.pipeline import test_main

if __name__ == "__main__":
    test_main("fashion200k")
