"""SPIRIT modules against the spec: parameter counts, shapes, hand-computed pieces, checkpoint layouts."""
import math

import pytest
import torch
import torch.nn.functional as F

from spirit.losses.loss import batch_based_classification_loss
from spirit.models import SPIRIT
from spirit.models.attention import AttentionFiltration, AttentionOnAttention, SelfAttentionNew
from spirit.models.checkpoint import (config_from_state_dict, load_spirit, original_model_from_state_dict,
                                      save_spirit, split_original_state_dict)
from spirit.models.combiner import Combiner2
from spirit.models.local_net import VisualGR

D = 32


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SPIRIT(feature_dim=D).eval()


def test_parameter_counts_match_appendix_a_for_rn50x4():
    model = SPIRIT(feature_dim=640)
    local = model.visual_attn
    assert n_params(local.transformer) == 4_931_840
    assert n_params(local.visual_sa) == 3_690_907
    assert n_params(local.visual_sa.self_attention) == 2_868_480
    assert n_params(local.visual_gr) == 3_692_805
    assert n_params(local.local_fusion) == 1_641_601
    assert n_params(local) == 13_957_153
    assert n_params(model.combiner) == 101_624_324
    # Appendix A's total counts the original's never-used triplet-loss alpha, dropped at load time.
    assert n_params(model) + 1 == 115_581_478


def test_shapes_and_unit_norm_outputs(tiny):
    img, txt, patches = torch.randn(5, D), torch.randn(5, D), torch.randn(5, 13, D)
    assert tiny.visual_attn(patches).shape == (5, D)
    q, t = tiny.query(img, txt, patches), tiny.target(img, patches)
    assert q.shape == t.shape == (5, 2 * D)
    assert torch.allclose(q.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert torch.allclose(t.norm(dim=-1), torch.ones(5), atol=1e-5)
    logits = tiny(img, txt, patches, img, patches)
    assert torch.allclose(logits, 100 * q @ t.T, atol=1e-4)


def test_gallery_embedding_normalises_the_raw_global_jointly(tiny):
    img, patches = 7 * torch.randn(3, D), torch.randn(3, 13, D)
    local = tiny.visual_attn(patches)
    expected = torch.cat((img, local), -1) / torch.cat((img, local), -1).norm(dim=-1, keepdim=True)
    assert torch.allclose(tiny.target(img, patches), expected, atol=1e-6)


def test_aoa_on_one_token_gates_the_value_with_the_query():
    torch.manual_seed(1)
    aoa = AttentionOnAttention(dim=D, heads=4, dim_head=D // 4)
    x = torch.randn(3, 1, D)
    q = aoa.to_q(x)
    v = aoa.to_kv(x)[..., D:]
    h = aoa.aoa[0](torch.cat((v, q), -1))
    assert torch.allclose(aoa(x), h[..., :D] * torch.sigmoid(h[..., D:]), atol=1e-6)
    sa = SelfAttentionNew(D, heads=4)
    assert torch.allclose(sa(x[:, 0]), (sa.aoa(x) + x)[:, 0])


def test_aoa_multi_token_matches_scaled_dot_product_attention():
    torch.manual_seed(2)
    aoa = AttentionOnAttention(dim=D, heads=2, dim_head=8)
    x, ctx = torch.randn(2, 3, D), torch.randn(2, 5, D)
    q = aoa.to_q(x)
    k, v = aoa.to_kv(ctx).chunk(2, -1)
    split = lambda t: t.view(2, -1, 2, 8).transpose(1, 2)
    attended = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(2, 3, 16)
    assert torch.allclose(aoa(x, ctx), aoa.aoa(torch.cat((attended, q), -1)), atol=1e-5)


def test_attention_filtration_by_hand():
    af = AttentionFiltration(sim_dim=2).eval()
    with torch.no_grad():
        af.attn_sim_w.weight.copy_(torch.tensor([[1.0, 0.0]]))
        af.attn_sim_w.bias.zero_()
    nodes = torch.tensor([[[0.0, 3.0], [2.0, 0.0]]])
    gates = torch.sigmoid(torch.tensor([0.0, 2.0]) / math.sqrt(1 + 1e-5))  # eval BN: (x-0)/sqrt(1+eps)
    weights = gates / (gates.sum() + 1e-8)
    pooled = weights[0] * nodes[0, 0] + weights[1] * nodes[0, 1]
    assert torch.allclose(af(nodes)[0], pooled / (pooled.norm() + 1e-8), atol=1e-6)


def test_visual_gr_starts_as_pure_attention_filtration():
    torch.manual_seed(3)
    gr = VisualGR(D, graph_num=3).eval()
    g, local = torch.randn(4, D), torch.randn(4, 13, D)
    nodes = torch.cat([g[:, None], local], 1)
    for step in gr.graph:
        nodes = step(nodes)
    filtered = gr.attention_filtration(torch.cat([nodes[:, :1], local], 1))
    assert torch.allclose(gr(g, local), filtered / (filtered.norm(dim=-1, keepdim=True) + 1e-8), atol=1e-6)


def test_original_sa_gate_is_identically_one_and_sigmoid_gate_is_not():
    torch.manual_seed(4)
    v, t = torch.randn(3, 2 * D), torch.randn(3, 2 * D)
    orig = Combiner2(2 * D, 4 * D, 8 * D, sa_gate="original").eval()
    t_sa, v_sa = F.relu(t), F.relu(v)
    raw = torch.cat((t_sa, v_sa), -1)
    lam = orig.dynamic_scalar2(raw)
    by_hand = orig.output_layer2(F.relu(orig.combiner_layer2(raw))) + lam * t_sa + (1 - lam) * v_sa
    assert torch.allclose(orig.self_attention_branch(v, t), by_hand, atol=1e-5)
    fixed = Combiner2(2 * D, 4 * D, 8 * D, sa_gate="sigmoid").eval()
    fixed.load_state_dict(orig.state_dict())
    gate_t = torch.sigmoid(fixed.text_mlp[:4](t))
    assert not torch.allclose(fixed.self_attention_branch(v, t), by_hand, atol=1e-3)
    assert ((gate_t > 0) & (gate_t < 1)).all()
    with pytest.raises(ValueError, match="sa_gate"):
        Combiner2(2 * D, 4 * D, 8 * D, sa_gate="softmax")


def test_every_parameter_gets_a_gradient_with_the_fixed_gate():
    torch.manual_seed(5)
    model = SPIRIT(feature_dim=D).train()
    img, txt, patches = torch.randn(6, D), torch.randn(6, D), torch.randn(6, 13, D)
    batch_based_classification_loss(model(img, txt, patches, img + 0.1, patches + 0.1)).backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_loss_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[0.6, 0.8], [0.8, 0.6]])
    expected = math.log1p(math.exp(20.0))  # each row: the right target scores 20 below the wrong one
    assert batch_based_classification_loss(100 * q @ t.T).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="square"):
        batch_based_classification_loss(torch.zeros(2, 3))


def original_layout(model: SPIRIT) -> dict:
    """A state dict laid out like the authors' `{dataset}-best.pth` (fp16 CLIP twice, triplet alpha)."""
    clip = {"visual.conv1.weight": torch.randn(4, 3, 3, 3).half(), "token_embedding.weight": torch.randn(10, 4).half()}
    state = {f"image_clip.clip_model.{k}": v for k, v in clip.items()}
    state.update({f"text_clip.clip_model.{k}": v for k, v in clip.items()})
    state.update(model.state_dict())
    state["simi_loss.alpha"] = torch.zeros(1)
    return state, clip


def test_original_key_layout_loads_strictly_and_gives_the_same_outputs(tmp_path):
    torch.manual_seed(6)
    source = SPIRIT(feature_dim=D, sa_gate="original").eval()
    state, clip = original_layout(source)
    torch.save(state, tmp_path / "fashioniq-best.pth")
    model, ckpt = load_spirit(tmp_path / "fashioniq-best.pth")
    assert ckpt["config"] == {"feature_dim": D, "projection_dim": 4 * D, "hidden_dim": 8 * D, "num_patches": 13,
                              "graph_num": 3, "sa_gate": "original"}
    assert set(ckpt["clip"]) == set(clip) and torch.equal(ckpt["clip"]["visual.conv1.weight"], clip["visual.conv1.weight"])
    img, txt, patches = torch.randn(4, D), torch.randn(4, D), torch.randn(4, 13, D)
    assert torch.allclose(model.query(img, txt, patches), source.query(img, txt, patches), atol=1e-6)
    assert not model.training


def test_original_layout_errors_name_the_key():
    model = SPIRIT(feature_dim=D)
    state, _ = original_layout(model)
    with pytest.raises(KeyError, match="ckpt.pth: extra.weight: not a SPIRIT key"):
        split_original_state_dict({**state, "extra.weight": torch.zeros(1)}, source="ckpt.pth")
    del state["visual_attn.visual_gr.alpha"]
    with pytest.raises(RuntimeError, match="visual_gr.alpha"):
        original_model_from_state_dict(state)
    assert config_from_state_dict(model.state_dict())["graph_num"] == 3


def test_save_load_round_trip(tmp_path, tiny):
    config = {"feature_dim": D, "sa_gate": "sigmoid"}
    save_spirit(tiny, config, tmp_path / "best.pt", epoch=3)
    loaded, ckpt = load_spirit(tmp_path / "best.pt")
    assert ckpt["epoch"] == 3
    for (k, a), (_, b) in zip(tiny.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    img, txt, patches = torch.randn(2, D), torch.randn(2, D), torch.randn(2, 13, D)
    assert torch.equal(loaded.query(img, txt, patches), tiny.query(img, txt, patches))
