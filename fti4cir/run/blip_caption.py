"""Caption ImageNet-test-style images with BLIP (HF transformers, local weights) and write `blip_pairs.json`.

The captions are split into subject / attribute at the first noun (spaCy) as FTI4CIR's trainer reads
them: `[{"img_id": "00000001", "subject": "a dog", "attribute": "sitting on the grass"}, ...]`.
Beam search as the original: 3 beams, max_length 25, min_length 10, prompt "a picture of ".
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch
from PIL import Image

from common.checkpoint import write_json_atomic
from common.clip import get_transform
from common.dist import seed_everything
from common.tracking import RunTracker
from fti4cir.dataloader.caption_split import load_spacy, split_caption

IMAGE_PATTERN = re.compile(r"ILSVRC2012_test_(\d+)\.JPEG$")


def list_test_images(img_path: Path) -> dict[str, Path]:
    """img_id -> path for `{img_path}/test/ILSVRC2012_test_{img_id}.JPEG`, sorted by id."""
    folder = Path(img_path) / "test"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: ImageNet test folder not found (expected test/ILSVRC2012_test_<id>.JPEG)")
    found = {m.group(1): p for p in folder.iterdir() if (m := IMAGE_PATTERN.search(p.name))}
    if not found:
        raise FileNotFoundError(f"{folder}: no ILSVRC2012_test_<id>.JPEG image")
    return dict(sorted(found.items()))


def load_blip(folder: str | Path, device: str | torch.device = "cpu"):
    """(BlipForConditionalGeneration, tokenizer) from a local folder (HF layout), never downloading."""
    from transformers import AutoTokenizer, BlipForConditionalGeneration

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: no BLIP captioning model here; put a HF folder (config.json, weights, "
                                f"tokenizer), e.g. Salesforce/blip-image-captioning-large, at this path")
    model = BlipForConditionalGeneration.from_pretrained(folder, local_files_only=True).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model, tokenizer


@torch.no_grad()
def caption_images(model, tokenizer, pixel_values: torch.Tensor, prompt: str = "a picture of ", num_beams: int = 3,
                   max_length: int = 25, min_length: int = 10) -> list[str]:
    """Beam-search captions for a batch of preprocessed images, the prompt removed."""
    batch = pixel_values.shape[0]
    prompt_ids = tokenizer([prompt] * batch, return_tensors="pt").input_ids.to(pixel_values.device)
    out = model.generate(pixel_values=pixel_values, input_ids=prompt_ids, num_beams=num_beams, max_length=max_length,
                         min_length=min_length)
    texts = tokenizer.batch_decode(out, skip_special_tokens=True)
    prefix = prompt.strip().lower()
    return [t.strip()[len(prefix):].strip() if t.strip().lower().startswith(prefix) else t.strip() for t in texts]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blip_model_url", "--blip-model", required=True,
                        help="local HF folder of a BLIP captioning model")
    parser.add_argument("--blip_type", default="base", help="informative only: the folder's config decides")
    parser.add_argument("--img_path", default=None, help="ImageNet root holding test/ (default <data-root>/imagenet)")
    parser.add_argument("--data-root", default="datasets")
    parser.add_argument("--preprocess_type", default="targetpad", choices=["targetpad", "clip"])
    parser.add_argument("--image_size", type=int, default=None, help="default: the model's vision image size")
    parser.add_argument("--prompt", default="a picture of ")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--clip_model_name", default="ViT-L/14", help="unused, kept for the original's CLI")
    parser.add_argument("--output", default=None, help="pairs file (default <output-dir>/blip_pairs.json)")
    parser.add_argument("--output-dir", default="outputs/fti4cir/blip_caption")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    seed_everything(args.seed)
    img_path = Path(args.img_path or Path(args.data_root) / "imagenet")
    output = Path(args.output or Path(args.output_dir) / "blip_pairs.json")
    images = list_test_images(img_path)
    model, tokenizer = load_blip(args.blip_model_url, args.device)
    size = args.image_size or model.config.vision_config.image_size
    transform = get_transform(args.preprocess_type, size)
    nlp = load_spacy()
    tracker = RunTracker(args.output_dir, "fti4cir-blip-caption", "imagenet", "test", "imagenet.blip_pairs",
                         vars(args), tensorboard=False)
    ids = list(images)
    pairs = []
    for start in tracker.progress(range(0, len(ids), args.batch_size), desc="caption"):
        batch_ids = ids[start:start + args.batch_size]
        pixels = torch.stack([transform(Image.open(images[i]).convert("RGB")) for i in batch_ids]).to(args.device)
        for img_id, caption in zip(batch_ids, caption_images(model, tokenizer, pixels, args.prompt)):
            split = split_caption(caption, nlp)
            if split is not None:
                pairs.append({"img_id": img_id, "subject": split[0], "attribute": split[1]})
    write_json_atomic(pairs, output, indent=1)
    tracker.write_metrics({"images": len(ids), "pairs": len(pairs), "kept_percent": 100.0 * len(pairs) / len(ids)})
    print(f"{output}: {len(pairs)} subject/attribute pairs from {len(ids)} captions", file=sys.stderr)
    return output


if __name__ == "__main__":
    main()
