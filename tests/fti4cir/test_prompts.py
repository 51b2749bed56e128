"""Pseudo-word splicing into FTI4CIR's prompts (per-row r) and the total loss, on a tiny random CLIP."""
import pytest
import torch

from common.clip import build_tiny_clip
from fti4cir.losses.fti_losses import fti4cir_loss
from fti4cir.models.fti_network import FTI4CIR, FTIConfig, PseudoWords
from fti4cir.models.prompts import (encode_attribute_prompts, encode_composed_query, encode_image_sentence,
                                    encode_subject_prompts)


@pytest.fixture(scope="module")
def clip():
    return build_tiny_clip("open_clip", "vit", seed=0).eval().requires_grad_(False)


def _embedding(clip, word: str) -> torch.Tensor:
    ids = clip.tokenize([word])
    assert int((ids[0] > 0).sum()) == 3, f"{word!r} is not one BPE token"
    return clip.token_embedding(ids)[0, 1]


def _words(clip, subjects, attribute_lists, topk=3) -> PseudoWords:
    width = clip.text_width
    attributes = torch.randn(len(subjects), topk, width)  # slots past r must not matter
    for b, words in enumerate(attribute_lists):
        for k, word in enumerate(words):
            attributes[b, k] = _embedding(clip, word)
    return PseudoWords(subject=torch.stack([_embedding(clip, s) for s in subjects]), attributes=attributes,
                       local_features=torch.zeros(len(subjects), topk, 4),
                       num_attributes=torch.tensor([len(a) for a in attribute_lists]))


def _text(clip, sentences):
    return clip.encode_text(clip.tokenize(sentences))


def test_splicing_true_embeddings_reproduces_the_sentences(clip):
    words = _words(clip, ["dog", "car"], [["red", "small"], ["blue"]])
    torch.testing.assert_close(encode_image_sentence(clip, words),
                               _text(clip, ["a photo of dog with red small", "a photo of car with blue"]),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(encode_composed_query(clip, words, ["is bigger", "has wheels"]),
                               _text(clip, ["a photo of dog with red small but is bigger",
                                            "a photo of car with blue but has wheels"]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(encode_subject_prompts(clip, words, ["sitting outside", "on a road"]),
                               _text(clip, ["a photo of dog with sitting outside", "a photo of car with on a road"]),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(encode_attribute_prompts(clip, words, ["a cat", "the truck"]),
                               _text(clip, ["a photo of a cat with red small", "a photo of the truck with blue"]),
                               atol=1e-5, rtol=1e-5)


def test_a_star_in_free_text_is_refused(clip):
    words = _words(clip, ["dog"], [["red"]])
    with pytest.raises(ValueError, match="must not contain"):
        encode_composed_query(clip, words, ["is * bigger"])


def test_regularisation_vanishes_when_pseudo_words_are_the_caption_words(clip):
    words = _words(clip, ["dog", "car"], [["red", "small"], ["blue"]])
    losses = fti4cir_loss(clip, words, torch.randn(2, clip.embed_dim), ["dog", "car"], ["red small", "blue"])
    assert losses["regularisation"].abs().item() < 1e-5
    assert torch.isclose(losses["loss"], losses["contrastive"] + losses["orthogonal"], atol=1e-5)


def test_total_loss_trains_every_part_of_the_network(clip):
    torch.manual_seed(0)
    config = FTIConfig(patch_dim=clip.vision_width, embed_dim=clip.embed_dim, token_dim=clip.text_width, num_k=6,
                       topk=3, tf_layer=1)
    model = FTI4CIR(config)
    images = torch.randn(4, 3, clip.image_size, clip.image_size)
    g = clip.encode_image(images)
    patches = clip.encode_image_tokens(images, include_cls=True)
    losses = fti4cir_loss(clip, model(g, patches), g, ["a dog"] * 4, ["on the grass", "with a ball", "asleep", "red"],
                          temperature=0.2, hy_reg_loss=1.4)
    expected = losses["contrastive"] + losses["orthogonal"] + 1.4 * losses["regularisation"]
    assert torch.isclose(losses["loss"], expected, atol=1e-5)
    losses["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(p.grad is None for p in clip.parameters())
