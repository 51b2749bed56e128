"""Command-line flags of SPIRIT's entry points: the original's flags plus the project-wide ones."""
import os
from argparse import ArgumentParser

DATASETS = {
    # key: (original --dataset default, checkpoint stem, default weight decay, default protocol)
    "fashioniq": ("fashionIQ", "fashioniq", 5e-4, "fiq.original"),
    "shoes": ("shoes", "shoes", 0.0, "shoes.val"),
    "cirr": ("CIRR", "cirr", 0.0, "cirr.rc2"),
    "fashion200k": ("fashion200k", "200k", 0.0, "f200k.tirg"),
}


def _common(parser: ArgumentParser, dataset: str) -> None:
    parser.add_argument("--dataset", default=DATASETS[dataset][0], help="dataset name (informational, as the original)")
    parser.add_argument("--data-root", default="datasets", help="folder holding fashion-iq/ shoes/ cirr_dataset/ fashion200k/")
    parser.add_argument("--output-dir", default=None, help="run folder (default outputs/spirit/<script>)")
    parser.add_argument("--input-dim", type=int, default=None, help="image size for CLIP (default: the backbone's; RN50x4 288)")
    parser.add_argument("--feature-dim", type=int, default=None, help="CLIP embedding dim D (default: the backbone's; RN50x4 640)")
    parser.add_argument("--clip-model-name", "--backbone", dest="clip_model_name", default="RN50x4",
                        help="CLIP name for common.clip.load_clip, e.g. RN50x4 or synthetic-tiny")
    parser.add_argument("--clip-model-path", default=None,
                        help="CLIP4Cir stage-1 checkpoint {'CLIP': state_dict} (the original's ckpt/tuned_<dataset>.pt)")
    parser.add_argument("--clip-backend", default="auto", help="common.clip backend: auto|openai|open_clip|hf")
    parser.add_argument("--target-ratio", type=float, default=1.25, help="TargetPad target ratio")
    parser.add_argument("--transform", default="targetpad", choices=["clip", "squarepad", "targetpad"])
    parser.add_argument("--clip-bs", type=int, default=256, help="batch size of the (one-off) CLIP feature extraction")
    parser.add_argument("--num-workers", type=int, default=0, help="parsed, unused: features are extracted once and cached")
    parser.add_argument("--cache-dir", default=os.environ.get("CIR_CACHE", os.path.expanduser("~/.cache/cir")) + "/features",
                        help="on-disk cache of frozen CLIP global and 13-patch features")
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--allow-partial", action="store_true",
                        help="run on the images present (loud warning; coverage in metrics.json) instead of refusing")


def train_parser(dataset: str) -> ArgumentParser:
    """Flags of run/train_<dataset>.py."""
    parser = ArgumentParser(description=f"Train SPIRIT on {DATASETS[dataset][0]} over frozen, cached CLIP features")
    _common(parser, dataset)
    parser.add_argument("--local_rank", type=int, default=int(os.getenv("LOCAL_RANK", -1)),
                        help="set by torch.distributed.launch; torchrun's environment is what is used")
    parser.add_argument("--projection-dim", type=int, default=None, help="Combiner2 projection dim (default 4D)")
    parser.add_argument("--hidden-dim", type=int, default=None, help="Combiner2 hidden dim (default 8D)")
    parser.add_argument("--num-epochs", type=int, default=10 if dataset == "fashion200k" else 300)
    parser.add_argument("--combiner-lr", "--lr", dest="combiner_lr", type=float, default=4e-5, help="Adam learning rate")
    parser.add_argument("--weight-decay", type=float, default=DATASETS[dataset][2],
                        help="Adam L2 weight decay (original: 5e-4 on FashionIQ, 0 elsewhere)")
    parser.add_argument("--batch-size", type=int, default=1024, help="global batch, split evenly over the processes")
    parser.add_argument("--cosine-epochs", type=int, default=100,
                        help="cosine schedule period in epochs (T_max = cosine_epochs x iterations per epoch)")
    parser.add_argument("--validation-frequency", type=int, default=1, help="validate every N epochs")
    parser.add_argument("--print-frequency", type=int, default=100)
    parser.add_argument("--sa-gate", choices=["sigmoid", "original"], default="sigmoid",
                        help="Combiner2 SA-branch gate: sigmoid (fixed) or original (softmax over one logit, always 1)")
    parser.add_argument("--save-training", action="store_true", help="save checkpoints in --output-dir")
    parser.add_argument("--save-best", action="store_true",
                        help="with --save-training: keep only <dataset>-best.pt instead of one file per epoch")
    parser.add_argument("--checkpointing-steps", type=int, default=None,
                        help="save the resume state (resume_latest.pt in the run folder) every N optimizer steps")
    parser.add_argument("--resume-from-checkpoint", default=None,
                        help="'latest' or a resume file: continue an interrupted run exactly")
    return parser


def test_parser(dataset: str) -> ArgumentParser:
    """Flags of run/test_<dataset>.py (the original ships only test_200k.py; the others follow it)."""
    parser = ArgumentParser(description=f"Evaluate a SPIRIT checkpoint on {DATASETS[dataset][0]}")
    _common(parser, dataset)
    parser.add_argument("--model-path", required=True,
                        help="our checkpoint (save_spirit) or the authors' <dataset>-best.pth")
    parser.add_argument("--patch-num", type=int, default=13, help="patches per image (fixed by the model)")
    parser.add_argument("--batch-size", type=int, default=32, help="evaluation batch size")
    if dataset == "fashioniq":
        parser.add_argument("--protocol", choices=["fiq.original", "fiq.val_union"], default="fiq.original",
                            help="gallery: image_splits val per category, or the union of the val captions' images")
    if dataset == "cirr":
        parser.add_argument("--split", choices=["val", "test1"], default="val",
                            help="val: metrics; test1: writes the evaluation-server files under <output-dir>/submission")
    return parser
