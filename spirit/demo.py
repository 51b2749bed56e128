"""The embedded-default demo of SPIRIT: short training + evaluation on the synthetic FashionIQ, Shoes and CIRR."""
import sys

# (script suffix, checkpoint stem, epochs, global batch, learning rate) for the synthetic benchmark
SCHEDULES = (("fiq", "fashioniq", 12, 64, 2e-4), ("shoes", "shoes", 12, 64, 2e-4), ("cirr", "cirr", 12, 64, 2e-4))


def commands(data_root: str, out_root: str) -> list[list[str]]:
    """argv lists, run from the repo root: train (keeping the best epoch) then test, for each benchmark."""
    backbone = ["--clip-model-name", "synthetic-tiny", "--data-root", data_root]
    argvs = []
    for script, stem, epochs, batch, lr in SCHEDULES:
        train_dir = f"{out_root}/train_{script}"
        argvs.append([sys.executable, f"spirit/run/train_{script}.py", *backbone, "--output-dir", train_dir,
                      "--num-epochs", str(epochs), "--batch-size", str(batch), "--combiner-lr", str(lr),
                      "--print-frequency", "1000", "--save-training", "--save-best"])
        argvs.append([sys.executable, f"spirit/run/test_{script}.py", *backbone, "--output-dir", f"{out_root}/test_{script}",
                      "--model-path", f"{train_dir}/{stem}-best.pt"])
    return argvs
