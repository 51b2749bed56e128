"""FTI4CIR network: shapes, original parameter names, the attribute selection rule on constructed cases."""
import math

import torch

from fti4cir.models.fti_network import FTI4CIR, FTIConfig, select_attributes

SMALL = FTIConfig(patch_dim=16, embed_dim=8, token_dim=12, num_k=6, topk=4, epsilon=0.05, tf_layer=2, tf_head=2)


def test_original_parameter_names_and_sizes():
    model = FTI4CIR(FTIConfig())
    state = model.state_dict()
    assert state["templates"].shape == (1, 24, 1024)
    assert state["local_atte_fc.0.weight"].shape == (768, 1024)
    assert state["phi_s.layers.0.weight"].shape == (3072, 768)
    assert state["phi_a.layers.6.weight"].shape == (768, 3072)
    assert state["transformer.layers.2.attn.to_keys_values.weight"].shape == (2048, 1024)
    assert state["transformer.layers.0.mlp.fc1.weight"].shape == (2048, 1024)  # mlp_ratio 2
    assert "transformer.layers.0.attn.to_queries.bias" not in state  # qkv without bias
    assert "transformer.layers.0.attn.project.bias" in state
    assert not any(k.startswith("transformer.layers.3.") for k in state)


def test_forward_shapes_and_ranges():
    torch.manual_seed(0)
    model = FTI4CIR(SMALL).eval()
    words = model(torch.randn(3, 8), torch.randn(3, 10, 16))
    assert words.subject.shape == (3, 12)
    assert words.attributes.shape == (3, 4, 12)
    assert words.local_features.shape == (3, 4, 8)
    assert torch.allclose(words.local_features.norm(dim=-1), torch.ones(3, 4), atol=1e-5)
    assert ((words.num_attributes >= 1) & (words.num_attributes <= 4)).all()
    latent = model.latent_local_features(torch.randn(2, 10, 16))
    assert latent.shape == (2, 6, 8) and (latent > 0).all() and (latent < 1).all()


def _latent_for_weights(weights: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """latent_k · g = log w_k with g = e_0, so softmax gives exactly the weights."""
    logits = torch.log(torch.tensor(weights))
    latent = torch.zeros(1, len(weights), 2)
    latent[0, :, 0] = logits
    return latent, torch.tensor([[1.0, 0.0]])


def test_selection_rule_constructed_case():
    # 8 slots, top-5 kept; three weights above 0.05 -> r = 3, at slots 6, 1, 4 (by weight)
    weights = [0.02, 0.30, 0.01, 0.04, 0.10, 0.045, 0.45, 0.035]
    assert math.isclose(sum(weights), 1.0)
    latent, g = _latent_for_weights(weights)
    order, r = select_attributes(latent, g, topk=5, epsilon=0.05)
    assert r.tolist() == [3]
    # top-3 re-sorted by slot index, then the remaining kept slots (5, 3) by decreasing weight
    assert order.tolist() == [[1, 4, 6, 5, 3]]


def test_selection_r_is_clamped_to_one_and_topk():
    uniform = [1 / 24] * 24  # 1/24 < 0.05: nothing passes, r = 1
    latent, g = _latent_for_weights(uniform)
    _, r = select_attributes(latent, g, topk=12, epsilon=0.05)
    assert r.tolist() == [1]
    latent, g = _latent_for_weights([0.1] * 10)  # all ten pass, r capped at topk = 4
    order, r = select_attributes(latent, g, topk=4, epsilon=0.05)
    assert r.tolist() == [4] and order.tolist() == [[0, 1, 2, 3]]


def test_selected_local_features_follow_the_order():
    torch.manual_seed(1)
    model = FTI4CIR(SMALL).eval()
    g, patches = torch.randn(2, 8), torch.randn(2, 10, 16)
    words = model(g, patches)
    latent = model.latent_local_features(patches)
    order, r = select_attributes(latent, g, SMALL.topk, SMALL.epsilon)
    expected = torch.nn.functional.normalize(latent[torch.arange(2)[:, None], order], dim=-1)
    assert torch.allclose(words.local_features, expected, atol=1e-6)
    assert torch.equal(words.num_attributes, r)
    assert torch.allclose(words.attributes, model.phi_a(expected), atol=1e-5)
    assert torch.allclose(words.subject, model.phi_s(g), atol=1e-5)


def test_gradients_reach_every_trainable_part():
    model = FTI4CIR(SMALL)
    words = model(torch.randn(4, 8), torch.randn(4, 10, 16))
    (words.subject.sum() + words.attributes.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
