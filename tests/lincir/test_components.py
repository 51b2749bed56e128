"""LinCIR pieces against the spec: Phi layout, SMP masking, the noise, the loss, the EMA."""
import math
import random

import pytest
import torch

from lincir.dataloader.smp import clean_caption, extract_keywords, mask_keywords, to_placeholder_text
from lincir.losses.lincir_loss import add_scaled_noise, lincir_loss
from lincir.models.ema import EMAModel
from lincir.models.phi import Phi, build_phi


def test_phi_keys_and_sizes_match_the_original():
    phi = build_phi(768, 768)
    shapes = {k: tuple(v.shape) for k, v in phi.state_dict().items()}
    assert shapes == {"layers.0.weight": (3072, 768), "layers.0.bias": (3072,),
                      "layers.3.weight": (3072, 3072), "layers.3.bias": (3072,),
                      "layers.6.weight": (768, 3072), "layers.6.bias": (768,)}
    assert abs(sum(v.numel() for v in phi.parameters()) / 1e6 - 14.2) < 0.1  # spec: ~14.2M for ViT-L


def test_phi_is_deterministic_in_eval_and_uses_exact_gelu():
    torch.manual_seed(0)
    phi = Phi(4, 8, 3, dropout=0.5).eval()
    x = torch.randn(2, 4)
    h = torch.nn.functional.gelu(phi.layers[0](x))  # erf GELU
    h = torch.nn.functional.gelu(phi.layers[3](h))
    assert torch.allclose(phi(x), phi.layers[6](h))
    assert torch.equal(phi(x), phi(x))


@pytest.mark.parametrize("caption, keywords, masked", [
    ("a red car parked on the street", ["a red car", "the street"], "[$] parked on [$]"),
    ("is red with long sleeves", ["red", "long sleeves"], "is [$] with [$]"),
])
def test_smp_on_the_spec_examples(caption, keywords, masked):
    assert extract_keywords(caption) == keywords
    assert mask_keywords(caption, keywords, random.Random(0)) == masked


def test_masking_respects_word_boundaries_and_falls_back_to_one_random_word():
    assert mask_keywords("a cat and a dog", ["a"], random.Random(0)) == "[$] cat and [$] dog"
    out = mask_keywords("running fast", [], random.Random(0))
    assert out.count("[$]") == 1 and out in {"[$] fast", "running [$]"}
    assert to_placeholder_text("[$] parked on [$].") == "$ parked on $ ."


def test_clean_caption():
    assert clean_caption(None) == ""
    assert clean_caption("  <PERSON> paid $5 ") == "person paid 5"


def test_noise_is_a_uniform_scale_mixture_per_sample():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(4000, 64)
    n = add_scaled_noise(x, g)
    # per-sample norm / sqrt(d) estimates s ~ U(0,1): mean 1/2, var 1/12
    s = n.norm(dim=1) / math.sqrt(64)
    assert abs(s.mean().item() - 0.5) < 0.03 and abs(s.var().item() - 1 / 12) < 0.01
    # within one sample the scale is shared: the per-dim std matches the norm-based estimate
    assert torch.allclose(n.std(dim=1), s, rtol=0.3)


def test_loss_is_plain_mse():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert lincir_loss(a, b).item() == pytest.approx((4 + 9) / 4)


def test_ema_warmup_decay_and_update():
    m = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(m.weight, 0.0)
    ema = EMAModel(m, decay=0.9999)
    assert ema.current_decay() == pytest.approx(1 / 10)
    torch.nn.init.constant_(m.weight, 1.0)
    ema.step(m)  # shadow -= (1 - 0.1) * (0 - 1)
    assert ema.shadow[0].item() == pytest.approx(0.9)
    assert ema.current_decay() == pytest.approx(2 / 11)


def test_ema_state_loads_onto_the_model_tensors_placement():
    # a resume state is read on the CPU in float32; the shadow must follow the model (device, dtype), or the next
    # step mixes devices on a GPU run (here: the dtype, the part a CPU can check)
    saved = EMAModel(torch.nn.Linear(2, 1)).state_dict()
    model = torch.nn.Linear(2, 1).double()
    ema = EMAModel(model)
    ema.load_state_dict(saved)
    assert all(s.dtype == torch.float64 and s.device == p.device for s, p in zip(ema.shadow, model.parameters()))
    assert torch.equal(ema.shadow[0], saved["shadow"][0].double())
    ema.step(model)


def test_diagnose_scores_the_top1_garment_and_its_attributes():
    from common.synthetic.attributes import Garment
    from lincir.diagnose import garment_agreement

    red = Garment("shirt", (("color", "red"), ("pattern", "solid"), ("sleeve", "long")))
    blue = red.with_changes(color="blue")
    skirt = Garment("skirt", (("color", "red"), ("pattern", "dotted"), ("length", "short")))
    gallery = torch.eye(3)
    assert garment_agreement(gallery, gallery, [red, blue, skirt]) == {
        "garment R@1": 100.0, "category": 100.0, "color": 100.0, "pattern": 100.0}
    swapped = garment_agreement(gallery[[1, 0, 0]], gallery, [red, blue, skirt])  # red->blue, blue->red, skirt->red
    assert swapped["garment R@1"] == 0.0 and swapped["category"] == pytest.approx(200 / 3)
    assert swapped["color"] == pytest.approx(100 / 3) and swapped["pattern"] == pytest.approx(200 / 3)
