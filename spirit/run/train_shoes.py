"""Train SPIRIT on shoes (the original's run/train_shoes.py flags; see spirit/README.md)."""
from spirit.run.pipeline import train_main

if __name__ == "__main__":
    train_main("shoes")
