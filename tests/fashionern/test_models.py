"""FashionERN model: shapes, hand-checked blocks, parameter counts, original key names, weight I/O, TME."""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from fashionern.losses import BatchBasedClassificationLoss
from fashionern.models import ERN, TME, CombinerSimple, TextTower, VisualSR
from fashionern.models.weights import convert_original_state_dict, load_ern_weights, save_ern_weights

D = 64


def tiny_open_clip(embed_dim: int = D) -> torch.nn.Module:
    cfg = {"embed_dim": embed_dim, "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 16, "patch_size": None},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}
    torch.manual_seed(0)
    return open_clip.CLIP(**cfg).eval()


def features(batch: int = 3, dim: int = D, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return dict(ref_feats=torch.randn(batch, dim, generator=g), ref_local_feats=torch.randn(batch, 13, dim, generator=g),
                text_feats=torch.randn(batch, dim, generator=g), text_seq_feats=torch.randn(batch, 77, dim, generator=g),
                tar_feats=torch.randn(batch, dim, generator=g), tar_local_feats=torch.randn(batch, 13, dim, generator=g))


def test_shapes_and_unit_norm():
    model = ERN(D).eval()
    query, target = model(**features(), mode="train")
    assert query.shape == target.shape == (3, D)
    assert torch.allclose(query.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(model(**features(), mode="test"), query, atol=1e-6)
    assert torch.allclose(model(**features(), mode="index"), target, atol=1e-6)
    with pytest.raises(ValueError, match="unknown mode"):
        model(**features(), mode="local")


@pytest.mark.parametrize("dim,expected", [(640, 133_211_322), (512, 86_581_818)])
def test_parameter_counts_match_the_original(dim, expected):
    model = ERN(dim)
    count = sum(p.numel() for n, p in model.named_parameters() if not n.endswith("cls_token"))
    assert count == expected


def test_combiner_simple_is_a_gated_convex_combination():
    comb = CombinerSimple(4, 8, 16).eval()
    img, txt = torch.randn(2, 4), torch.randn(2, 4)
    joint = torch.cat((F.relu(comb.text_projection_layer[0](txt)), F.relu(comb.image_projection_layer[0](img))), -1)
    lam = torch.sigmoid(comb.dynamic_scalar[3](F.relu(comb.dynamic_scalar[0](joint))))
    assert torch.allclose(comb(img, txt), F.normalize(lam * txt + (1 - lam) * img, dim=-1), atol=1e-6)


def test_visual_sr_pools_the_raw_tokens():
    sr = VisualSR(8).eval()
    x = torch.randn(2, 13, 8)
    out = sr(x)
    weights = torch.linalg.lstsq(x.transpose(1, 2), (out * 1.0).unsqueeze(-1)).solution.squeeze(-1)
    recon = F.normalize((weights.unsqueeze(-1) * x).sum(1), dim=-1)
    assert torch.allclose(recon, out, atol=1e-4)
    with pytest.raises(ValueError, match=r"\[B, 13, D\]"):
        sr(torch.randn(2, 12, 8))


def test_loss_value_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # row 0: logits [100, 100] -> ln 2 ; row 1: logits [0, 0] -> ln 2
    assert torch.isclose(BatchBasedClassificationLoss()(q, t), torch.log(torch.tensor(2.0)))


ORIGINAL_KEYS = [
    "DVR.transformer_layer.bert_encoder.bert_model.embeddings.position_embeddings.weight",
    "DVR.transformer_layer.bert_encoder.bert_model.embeddings.token_type_embeddings.weight",
    "DVR.transformer_layer.bert_encoder.bert_model.encoder.layer.1.attention.self.query.weight",
    "DVR.transformer_layer.bert_encoder.bert_model.encoder.layer.0.output.LayerNorm.bias",
    "DVR.transformer_layer.bert_encoder.bert_model.pooler.dense.weight",
    "DVR.SR_module.embedding_local.1.running_mean", "DVR.SR_module.embedding_common.weight",
    "DVR.MR_component.in_proj_weight", "DVR.MR_component.out_proj.bias",
    "DVR.combiner_global.text_projection_layer.0.weight", "DVR.combiner_local.dynamic_scalar.3.bias",
    "DVR.combiner.image_projection_layer.0.bias", "SR_module.embedding_global.0.weight",
    "Combiner_module.dynamic_scalar.0.weight",
]


def authors_layout(model: ERN, first_upload: bool) -> dict:
    """Re-create what the authors' training saved: CLIP copies, position_ids, no CLS (CUDA), old names."""
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("cls_token")}
    clip = tiny_open_clip().state_dict()
    state.update({f"image_clip.clip_model.{k}": v for k, v in clip.items()})
    state.update({f"text_clip.clip_model.{k}": v for k, v in clip.items()})
    state["DVR.transformer_layer.bert_encoder.bert_model.embeddings.position_ids"] = torch.arange(512)[None]
    if first_upload:
        state = {k.replace("DVR.transformer_layer.", "DVR.transformer_before.").replace("DVR.MR_component.", "DVR.cross_attention."): v
                 for k, v in state.items()}
        state["DVR.transformer_after.bert_encoder.bert_model.pooler.dense.weight"] = torch.zeros(D, D)
    return state


@pytest.mark.parametrize("first_upload", [False, True])
def test_strict_load_of_the_authors_layout(tmp_path, first_upload):
    source = ERN(D).eval()
    names = set(source.state_dict())
    assert set(ORIGINAL_KEYS) <= names
    torch.save(authors_layout(source, first_upload), tmp_path / "fashioniq-best.pth")
    target = ERN(D).eval()
    clip = load_ern_weights(target, tmp_path / "fashioniq-best.pth")
    assert set(clip) == set(tiny_open_clip().state_dict())
    assert torch.equal(target.DVR.transformer_layer.cls_token, torch.zeros(1, 1, D))
    assert torch.allclose(target(**features(), mode="test"), source(**features(), mode="test"), atol=1e-6)


def test_load_rejects_a_mismatch(tmp_path):
    torch.save(ERN(32).state_dict(), tmp_path / "small.pth")
    with pytest.raises(ValueError, match="small.pth: state dict does not match"):
        load_ern_weights(ERN(D), tmp_path / "small.pth")
    fusion, _ = convert_original_state_dict({"module.SR_module.embedding_common.bias": torch.zeros(1)})
    assert list(fusion) == ["SR_module.embedding_common.bias"]


def test_text_tower_equals_open_clip():
    clip = tiny_open_clip()
    ids = open_clip.tokenize(["a red dress", "is blue and has long sleeves"])
    glob, seq = TextTower(clip).encode(ids)
    assert seq.shape == (2, 77, D)
    assert torch.allclose(glob, clip.encode_text(ids), atol=1e-5)


def test_tme_starts_as_vanilla_clip_and_round_trips(tmp_path):
    clip = tiny_open_clip()
    tower = TextTower(clip)
    ids = open_clip.tokenize(["a red dress", "is blue"])
    patches = torch.randn(2, 13, D)
    model = ERN(D, TME.for_tower(tower, D)).eval()
    glob, seq, align = model(text=ids, ref_local_feats=patches, mode="text")
    vanilla_glob, vanilla_seq = tower.encode(ids)
    assert torch.allclose(glob, vanilla_glob, atol=1e-5) and torch.allclose(seq, vanilla_seq, atol=1e-5)
    assert align.shape == (2, D)
    # the gates open with training: the reference now changes the text features
    with torch.no_grad():
        model.TME.inject_gate.fill_(0.5)
    glob2, _, _ = model(text=ids, ref_local_feats=patches, mode="text")
    glob3, _, _ = model(text=ids, ref_local_feats=torch.randn(2, 13, D), mode="text")
    assert not torch.allclose(glob2, glob3, atol=1e-4)
    assert not any(k.startswith("TME._tower") or "clip" in k.lower() for k in model.state_dict())
    save_ern_weights(model, tmp_path / "ern.pth")
    loaded = ERN(D, TME.for_tower(tower, D)).eval()
    load_ern_weights(loaded, tmp_path / "ern.pth")
    assert torch.allclose(loaded(text=ids, ref_local_feats=patches, mode="text")[0], glob2, atol=1e-6)
    with pytest.raises(ValueError, match="--tme"):
        load_ern_weights(ERN(D), tmp_path / "ern.pth")


def test_tme_gradients_reach_the_new_branches_only():
    clip = tiny_open_clip()
    for p in clip.parameters():
        p.requires_grad_(False)
    tme = TME.for_tower(TextTower(clip), D)
    ids = open_clip.tokenize(["a red dress"])
    glob, seq, align = tme(ids, torch.randn(1, 13, D))
    (glob.sum() + seq.mean() + align.sum()).backward()
    assert tme.align_gate.grad is not None and tme.inject_gate.grad is not None
    assert tme.align[-1].attn.in_proj_weight.grad.abs().sum() > 0
