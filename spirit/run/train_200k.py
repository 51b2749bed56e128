"""Train SPIRIT on fashion200k (the original's run/train_200k.py flags; see spirit/README.md)."""
from spirit.run.pipeline import train_main

if __name__ == "__main__":
    train_main("fashion200k")
