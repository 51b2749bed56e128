"""FTI4CIR probes (`fti4cir/run/diagnose.py`): own-image recall, batched NT-Xent and the inversion summary."""
import pytest
import torch

from common.clip import build_tiny_clip
from fti4cir.losses.fti_losses import nt_xent_loss
from fti4cir.models.fti_network import FTI4CIR, FTIConfig
from fti4cir.run.diagnose import batched_nt_xent, inversion, own_image_recall


def test_own_image_recall_counts_rows_whose_own_image_is_nearest():
    images = torch.eye(4)
    assert own_image_recall(images * 3, images) == 100.0
    queries = images[[1, 0, 2, 3]]  # rows 0 and 1 point at each other's image
    assert own_image_recall(queries, images) == 50.0


def test_batched_nt_xent_averages_full_batches_only():
    torch.manual_seed(0)
    a, b = torch.randn(10, 8), torch.randn(10, 8)
    expected = (nt_xent_loss(a[:4], b[:4], 0.2) + nt_xent_loss(a[4:8], b[4:8], 0.2)) / 2
    assert batched_nt_xent(a, b, 0.2, 4) == pytest.approx(float(expected))


def test_inversion_summary_on_a_tiny_model():
    clip = build_tiny_clip("open_clip", "vit", seed=0).eval().requires_grad_(False)
    torch.manual_seed(0)
    model = FTI4CIR(FTIConfig(patch_dim=clip.vision_width, embed_dim=clip.embed_dim, token_dim=clip.text_width,
                              num_k=6, topk=3, tf_layer=1)).eval()
    global_feat, patches = torch.randn(8, clip.embed_dim), torch.randn(8, 5, clip.vision_width)
    with torch.no_grad():
        metrics = inversion(clip, model, global_feat, patches, temperature=0.2, batch=4)
    assert sum(v for k, v in metrics.items() if k.startswith("r=")) == 8
    assert 1 <= metrics["r_mean"] <= 3 and -1 <= metrics["cos_sentence_image"] <= 1
    assert 0 <= metrics["own_image_R@1"] <= 100 and metrics["nt_xent_floor"] > 0
