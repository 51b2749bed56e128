"""Tiny MAI builders shared by the MAI tests."""
import pytest

from mai.models.blip2_qformer_cir_align_prompt import Blip2QformerCirAlignPrompt, MAIConfig
from mai.models.tokenizer import build_word_vocab, load_tokenizer

WORDS = ("a red blue green dress shirt top with stripes dots is and keep the first second third "
         "s design color pattern i prefer change to longer shorter sleeves")


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    return load_tokenizer(build_word_vocab([WORDS], tmp_path_factory.mktemp("vocab") / "vocab.txt"))


@pytest.fixture()
def tiny_model(tiny_tokenizer):
    cfg = MAIConfig(vision_width=48, qformer="tiny", vocab_size=len(tiny_tokenizer), max_txt_len=32)
    return Blip2QformerCirAlignPrompt(cfg, tiny_tokenizer)
