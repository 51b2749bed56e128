"""Loading BLIP-2/MAI weights: LAVIS key layout (built here with the original names) and HF folders."""
import pytest
import torch
from safetensors.torch import save_file

from common.checkpoint import save_atomic
from mai.models.convert import eva_to_encoder_state, hf_blip2_to_mai, lavis_to_mai, load_into, read_weights
from mai.models.image_encoder import EvaViTEncoder

H, I, W, L = 64, 128, 48, 4  # tiny Q-Former hidden / FFN / vision width / layers
EVA_TINY = dict(hidden_size=W, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, patch_size=14,
                layer_norm_eps=1e-6, hidden_act="gelu", qkv_bias=True)


def _lin(sd, name, out_f, in_f):
    sd[name + ".weight"] = torch.randn(out_f, in_f)
    sd[name + ".bias"] = torch.randn(out_f)


def _ln(sd, name, d):
    sd[name + ".weight"] = torch.rand(d) + 0.5
    sd[name + ".bias"] = torch.randn(d)


def lavis_state(vocab: int, mai: bool, eva_blocks: int = 0) -> dict:
    """A state dict with LAVIS/MAI key names for the tiny sizes (what `Blip2QformerCirAlignPrompt` saves)."""
    sd = {"Qformer.bert.embeddings.word_embeddings.weight": torch.randn(vocab, H),
          "Qformer.bert.embeddings.position_embeddings.weight": torch.randn(256, H),
          "Qformer.bert.embeddings.position_ids": torch.arange(256)[None]}
    _ln(sd, "Qformer.bert.embeddings.LayerNorm", H)
    for i in range(L):
        p = f"Qformer.bert.encoder.layer.{i}."
        for part in ("query", "key", "value"):
            _lin(sd, p + "attention.self." + part, H, H)
        _lin(sd, p + "attention.output.dense", H, H)
        _ln(sd, p + "attention.output.LayerNorm", H)
        if i % 2 == 0:
            _lin(sd, p + "crossattention.self.query", H, H)
            _lin(sd, p + "crossattention.self.key", H, W)
            _lin(sd, p + "crossattention.self.value", H, W)
            _lin(sd, p + "crossattention.output.dense", H, H)
            _ln(sd, p + "crossattention.output.LayerNorm", H)
        for suffix in ("", "_query"):
            _lin(sd, p + "intermediate" + suffix + ".dense", I, H)
            _lin(sd, p + "output" + suffix + ".dense", H, I)
            _ln(sd, p + "output" + suffix + ".LayerNorm", H)
    _lin(sd, "Qformer.cls.predictions.transform.dense", H, H)
    _ln(sd, "Qformer.cls.predictions.transform.LayerNorm", H)
    sd["Qformer.cls.predictions.decoder.weight"] = sd["Qformer.bert.embeddings.word_embeddings.weight"]
    sd["Qformer.cls.predictions.decoder.bias"] = torch.zeros(vocab)
    sd["Qformer.cls.predictions.bias"] = torch.zeros(vocab)
    sd["query_tokens"] = torch.randn(1, 32, H)
    _ln(sd, "ln_vision", W)
    _lin(sd, "vision_proj", 256, H)
    _lin(sd, "text_proj", 256, H)
    _lin(sd, "itm_head", 2, H)
    sd["temp"] = torch.tensor(0.05)
    if mai:
        sd["prompt_tokens"] = torch.randn(1, 32, H)
        sd["visual_tokens"] = torch.randn(1, 32, H)
        _lin(sd, "target_proj", 256, H)
        sd["token_alpha"] = torch.tensor(1.0)
    if eva_blocks:
        e = "visual_encoder."
        sd[e + "cls_token"] = torch.randn(1, 1, W)
        sd[e + "pos_embed"] = torch.randn(1, 5, W)
        sd[e + "patch_embed.proj.weight"] = torch.randn(W, 3, 14, 14)
        sd[e + "patch_embed.proj.bias"] = torch.randn(W)
        for i in range(eva_blocks):
            b = f"{e}blocks.{i}."
            _ln(sd, b + "norm1", W)
            _ln(sd, b + "norm2", W)
            sd[b + "attn.qkv.weight"] = torch.randn(3 * W, W)
            sd[b + "attn.q_bias"] = torch.randn(W)
            sd[b + "attn.v_bias"] = torch.randn(W)
            _lin(sd, b + "attn.proj", W, W)
            _lin(sd, b + "mlp.fc1", 96, W)
            _lin(sd, b + "mlp.fc2", W, 96)
    return sd


def test_blip2_pretrained_layout_loads(tiny_model, tmp_path):
    sd = lavis_state(len(tiny_model.tokenizer), mai=False)
    save_atomic({"model": sd}, tmp_path / "blip2_pretrained.pth")
    state, layout = read_weights(tmp_path / "blip2_pretrained.pth")
    assert layout == "lavis"
    model_sd, enc_sd = lavis_to_mai(state)
    assert enc_sd == {}
    load_into(tiny_model, model_sd, "blip2_pretrained.pth",
              allowed_missing=("prompt_tokens", "target_proj.weight", "target_proj.bias"))
    q = tiny_model.Qformer.qformer.encoder.layer
    torch.testing.assert_close(q[2].crossattention.attention.key.weight,
                               sd["Qformer.bert.encoder.layer.2.crossattention.self.key.weight"])
    torch.testing.assert_close(q[3].output_query.LayerNorm.bias, sd["Qformer.bert.encoder.layer.3.output_query.LayerNorm.bias"])
    torch.testing.assert_close(tiny_model.Qformer.qformer.layernorm.weight, sd["Qformer.bert.embeddings.LayerNorm.weight"])
    torch.testing.assert_close(tiny_model.query_tokens, sd["query_tokens"])
    torch.testing.assert_close(tiny_model.temp, sd["temp"])


def test_mai_checkpoint_with_vit_loads_strictly(tiny_model):
    sd = lavis_state(len(tiny_model.tokenizer), mai=True, eva_blocks=3)
    model_sd, enc_sd = lavis_to_mai(sd, eva_depth=2)
    load_into(tiny_model, model_sd, "epoch10.pth")
    torch.testing.assert_close(tiny_model.target_proj.bias, sd["target_proj.bias"])
    enc = EvaViTEncoder(image_size=28, sizes=EVA_TINY)
    load_into(enc, enc_sd, "epoch10.pth visual_encoder")
    bias = enc.encoder.layers[1].self_attn.qkv.bias
    torch.testing.assert_close(bias[:W], sd["visual_encoder.blocks.1.attn.q_bias"])
    assert torch.all(bias[W:2 * W] == 0)
    torch.testing.assert_close(bias[2 * W:], sd["visual_encoder.blocks.1.attn.v_bias"])
    assert enc(torch.randn(2, 3, 28, 28)).shape == (2, 5, W)


def test_missing_and_unknown_keys_are_reported(tiny_model):
    sd = lavis_state(len(tiny_model.tokenizer), mai=True)
    model_sd, _ = lavis_to_mai(sd)
    del model_sd["text_proj.bias"]
    with pytest.raises(KeyError, match="missing keys.*text_proj.bias"):
        load_into(tiny_model, model_sd, "epoch1.pth")
    with pytest.raises(KeyError, match="unknown key blocks.0.gamma_1"):
        eva_to_encoder_state({"blocks.0.gamma_1": torch.zeros(3)}, depth=2)


def test_hf_folder_layout(tiny_model, tmp_path):
    lavis = lavis_state(len(tiny_model.tokenizer), mai=False, eva_blocks=2)
    model_sd, enc_sd = lavis_to_mai(lavis, eva_depth=2)
    hf = {("qformer." + k[len("Qformer.qformer."):]) if k.startswith("Qformer.qformer.")
          else ("embeddings." + k[len("Qformer.embeddings."):]) if k.startswith("Qformer.embeddings.")
          else k: v for k, v in model_sd.items()}
    hf["text_projection.weight"] = hf.pop("text_proj.weight")
    hf["text_projection.bias"] = hf.pop("text_proj.bias")
    hf["vision_model.post_layernorm.weight"] = hf.pop("ln_vision.weight")
    hf["vision_model.post_layernorm.bias"] = hf.pop("ln_vision.bias")
    hf.pop("temp")
    hf.update({"vision_model." + k: v for k, v in enc_sd.items()})
    hf["vision_projection.weight"] = torch.randn(256, H)
    save_file({k: v.contiguous() for k, v in hf.items()}, str(tmp_path / "model.safetensors"))
    state, layout = read_weights(tmp_path)
    assert layout == "hf"
    m_sd, e_sd = hf_blip2_to_mai(state)
    load_into(tiny_model, m_sd, "hf", allowed_missing=("prompt_tokens", "target_proj.weight", "target_proj.bias",
                                                       "temp"))
    enc = EvaViTEncoder(image_size=28, sizes=EVA_TINY)
    load_into(enc, e_sd, "hf vision")
    torch.testing.assert_close(tiny_model.ln_vision.bias, lavis["ln_vision.bias"])
