"""The BLIP captioning stage on a tiny random BLIP with an offline tokenizer: captions -> blip_pairs.json."""
import json

import pytest
import torch
from PIL import Image

WORDS = ("a picture of dog cat red blue small sitting on the grass street with ball car man wearing hat "
         "near table big green next to").split()


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory):
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny_blip")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + sorted(set(WORDS))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), bos_token="[DEC]")
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BlipConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, encoder_hidden_size=32, max_position_embeddings=40,
                         bos_token_id=vocab.index("[DEC]"), sep_token_id=vocab.index("[SEP]"), pad_token_id=0,
                         eos_token_id=vocab.index("[SEP]")),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=32)
    model = BlipForConditionalGeneration(config).eval()
    model.save_pretrained(folder)
    return folder


def test_captions_and_pairs_file(tiny_blip, tmp_path):
    from fti4cir.run import blip_caption

    test_dir = tmp_path / "imagenet" / "test"
    test_dir.mkdir(parents=True)
    for i in range(1, 4):
        Image.new("RGB", (40 + 8 * i, 32), (60 * i, 90, 200 - 50 * i)).save(test_dir / f"ILSVRC2012_test_{i:08d}.JPEG")
    model, tokenizer = blip_caption.load_blip(tiny_blip)
    captions = blip_caption.caption_images(model, tokenizer, torch.randn(2, 3, 32, 32))
    assert len(captions) == 2
    for caption in captions:  # min_length 10 tokens incl. the 4 of "[DEC] a picture of"
        assert 6 <= len(caption.split()) <= 21 and set(caption.split()) <= set(WORDS)

    out = tmp_path / "out"
    path = blip_caption.main(["--blip_model_url", str(tiny_blip), "--img_path", str(tmp_path / "imagenet"),
                              "--output-dir", str(out), "--batch_size", "2"])
    pairs = json.loads(path.read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["images"] == 3 and metrics["metrics"]["pairs"] == len(pairs)
    for pair in pairs:
        assert set(pair) == {"img_id", "subject", "attribute"}
        assert pair["img_id"] in {"00000001", "00000002", "00000003"}
        assert pair["subject"] and pair["attribute"] and pair["subject"] != pair["attribute"]


def test_missing_model_folder_is_one_line(tmp_path):
    from fti4cir.run import blip_caption

    with pytest.raises(FileNotFoundError) as info:
        blip_caption.load_blip(tmp_path / "nowhere")
    assert "\n" not in str(info.value) and "nowhere" in str(info.value)
