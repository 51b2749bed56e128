"""CLIP4Cir stage-1 fine-tuning: the loss by hand, a CLIP4Cir-format checkpoint that loads strictly, learning."""

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from common.clip import build_tiny_clip
from common.clip.tiny import tiny_open_clip_config
from common.clip.load import backbone_from_open_clip_state
from common.clip4cir.finetune import LOGIT_SCALE, Triplet, finetune_clip, sum_fusion_loss, training_triplets


def test_sum_fusion_loss_matches_the_formula():
    clip = build_tiny_clip(seed=1).eval()
    ref, tgt = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32)
    ids = clip.tokenize(["red", "blue", "green"])
    q = F.normalize(clip.encode_image(ref) + clip.encode_text(ids), dim=-1)
    t = F.normalize(clip.encode_image(tgt), dim=-1)
    expected = F.cross_entropy(LOGIT_SCALE * q @ t.t(), torch.arange(3))
    assert torch.isclose(sum_fusion_loss(clip, ref, ids, tgt), expected)


def test_finetune_saves_a_strictly_loadable_clip4cir_checkpoint(tmp_path):
    colors = {"red": (220, 20, 20), "blue": (20, 20, 220), "green": (20, 200, 20), "black": (5, 5, 5)}
    for name, rgb in colors.items():
        Image.new("RGB", (32, 32), rgb).save(tmp_path / f"{name}.png")
    names = list(colors)
    triplets = [Triplet(tmp_path / f"{a}.png", f"make it {b}", tmp_path / f"{b}.png")
                for a in names for b in names if a != b]
    clip = build_tiny_clip(seed=2)
    before = {k: v.clone() for k, v in clip.model.state_dict().items()}
    losses = finetune_clip(clip, triplets, tmp_path / "tuned.pt", num_epochs=3, batch_size=12, lr=1e-3)
    assert losses[-1] < losses[0]
    saved = torch.load(tmp_path / "tuned.pt", weights_only=True)
    assert saved["epoch"] == 2 and set(saved["CLIP"]) == set(before)
    assert any(not torch.equal(saved["CLIP"][k], before[k]) for k in before)
    fresh = backbone_from_open_clip_state("tiny-vit", tiny_open_clip_config("vit"), saved["CLIP"], "open_clip")
    assert torch.equal(fresh.model.state_dict()["text_projection"], saved["CLIP"]["text_projection"])


def test_training_triplets_rejects_unknown_datasets(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'coco'"):
        training_triplets("coco", tmp_path)
