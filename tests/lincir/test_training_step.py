"""LinCIR's training signal on a tiny random CLIP: masked ids carry `$`, and Phi learns to reconstruct the embedding."""
import torch

from common.clip.tiny import build_tiny_clip
from lincir.dataloader.captions import CaptionDataset
from lincir.losses.lincir_loss import add_scaled_noise, lincir_loss
from lincir.models.phi import build_phi
from lincir.utils import trim_to_eot

CAPTIONS = ["a red dress with long sleeves", "a blue shirt with white stripes", "black shoes on a wooden floor",
            "a green toptee with dots", "running fast"]


def test_dataset_masks_keywords_with_the_placeholder_and_is_deterministic():
    clip = build_tiny_clip()
    ds = CaptionDataset(CAPTIONS, clip.tokenize, clip.placeholder_id("$"), seed=3)
    orig, masked, indicator = ds[0]
    assert orig.shape == masked.shape == (77,)
    assert indicator == 1
    assert (masked == clip.placeholder_id("$")).sum() == 2  # "a red dress", "long sleeves"
    assert torch.equal(masked, ds[0][1])
    assert torch.equal(orig, clip.tokenize(["a red dress with long sleeves"])[0])


def test_phi_learns_to_reconstruct_text_embeddings_through_the_frozen_encoder():
    torch.manual_seed(0)
    clip = build_tiny_clip().eval().requires_grad_(False)
    ds = CaptionDataset(CAPTIONS, clip.tokenize, clip.placeholder_id("$"))
    orig = torch.stack([ds[i][0] for i in range(len(ds))])
    masked = torch.stack([ds[i][1] for i in range(len(ds))])
    phi = build_phi(clip.embed_dim, clip.text_width, dropout=0.0)
    opt = torch.optim.AdamW(phi.parameters(), lr=1e-3)
    with torch.no_grad():
        target = clip.encode_text(orig)
    losses = []
    for _ in range(60):
        rep = clip.encode_text_with_pseudo_tokens(masked, phi(add_scaled_noise(target)), placeholder="$", mode="all")
        loss = lincir_loss(rep, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is None for p in clip.parameters())
    assert losses[-1] < 0.5 * losses[0]


def test_trimming_the_padding_after_the_last_eot_keeps_the_text_features():
    torch.manual_seed(0)
    clip = build_tiny_clip().eval()
    ids = clip.tokenize(["a photo of $ that is red", "$ with $ and a v-neck, product photo, high detail"])
    short = trim_to_eot(ids)
    assert short.shape == (2, int(ids.argmax(dim=-1).max()) + 1) and short.shape[1] < 20
    pseudo = torch.randn(2, clip.text_width)
    assert torch.allclose(clip.encode_text(short), clip.encode_text(ids), atol=1e-5)
    assert torch.allclose(clip.encode_text_with_pseudo_tokens(short, pseudo),
                          clip.encode_text_with_pseudo_tokens(ids, pseudo), atol=1e-5)
