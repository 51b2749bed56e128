"""Synthetic stage-1 pretraining of the tiny Q-Former: cached once, loaded into a model with an extended vocab."""
import pytest
import torch

from common.clip import load_clip
from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt, MAIConfig
from mai.models.convert import NEW_IN_MAI
from mai.models.image_encoder import ClipTokenEncoder
from mai.models.tokenizer import extend_word_vocab, load_tokenizer
from mai.run import stage1_pretrain as s1

SMALL = s1.Stage1Config(train_images=48, heldout_images=12, steps=3, batch_size=16, warmup_steps=1)


def test_extend_word_vocab_keeps_ids(tmp_path):
    base = tmp_path / "base.txt"
    base.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nred\nzebra\n")
    path = extend_word_vocab(base, ["A zebra and a blue dress"], tmp_path / "v.txt")
    assert path.read_text().splitlines() == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red", "zebra",
                                             "a", "and", "blue", "dress"]


def test_stage1_cached_and_loaded(tiny_fashionmt, tmp_path, monkeypatch):
    _, clip_folder = tiny_fashionmt
    monkeypatch.setenv("CIR_CACHE", str(tmp_path / "cache"))
    clip = load_clip("synthetic-tiny", pretrained=str(clip_folder))
    encoder = ClipTokenEncoder(clip, identity="synthetic-tiny")
    logs = []
    folder = s1.ensure_stage1(encoder, SMALL, log=logs.append)
    assert folder.parent == tmp_path / "cache" / "mai_stage1"
    assert any("ITC loss" in line for line in logs) and any("held-out" in line for line in logs)
    assert (folder / "metrics.json").is_file()
    logs.clear()
    assert s1.ensure_stage1(encoder, SMALL, log=logs.append) == folder and not logs  # cached: not retrained
    assert s1.stage1_dir(encoder, s1.Stage1Config(steps=4)) != folder

    vocab = extend_word_vocab(folder / s1.VOCAB_FILE, ["maxi roundneck dress"], tmp_path / "vocab.txt")
    tokenizer = load_tokenizer(vocab)
    model = Blip2QformerCirAlignPrompt(MAIConfig(vision_width=encoder.width, qformer="tiny",
                                                 vocab_size=len(tokenizer)), tokenizer)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    s1.load_stage1(model, folder)
    stage1 = torch.load(folder / s1.WEIGHTS_FILE, weights_only=True)["state_dict"]
    words = len((folder / s1.VOCAB_FILE).read_text().splitlines())
    key = "Qformer.embeddings.word_embeddings.weight"
    after = model.state_dict()
    assert torch.equal(after[key][:words], stage1[key][:words])
    assert torch.equal(after[key][words:], before[key][words:])  # new words keep their random rows
    assert torch.equal(after["query_tokens"], stage1["query_tokens"])
    for name in NEW_IN_MAI:
        assert torch.equal(after[name], before[name])

    other = load_tokenizer(extend_word_vocab(tmp_path / "vocab.txt", [], tmp_path / "v2.txt"))
    (tmp_path / "bad.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nzzz\n")
    bad = load_tokenizer(tmp_path / "bad.txt")
    wrong = Blip2QformerCirAlignPrompt(MAIConfig(vision_width=encoder.width, qformer="tiny",
                                                 vocab_size=len(other)), bad)
    with pytest.raises(ValueError, match="does not extend the stage-1 vocab"):
        s1.load_stage1(wrong, folder)


def test_itc_loss_prefers_matching_pairs():
    feats = torch.nn.functional.normalize(torch.randn(4, 3, 8), dim=-1)
    text = feats[:, 0]
    labels = torch.arange(4)
    good = s1.itc_loss(feats, text, torch.tensor(0.07), labels)
    bad = s1.itc_loss(feats, text.roll(1, 0), torch.tensor(0.07), labels)
    assert good < bad
