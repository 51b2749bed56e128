"""FTI4CIR's prompts and their text features: pseudo-word tokens spliced at the `*` placeholders."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from fti4cir.models.fti_network import PseudoWords

PLACEHOLDER = "*"


def _stars(count: int) -> str:
    return "* " * count


def image_sentence(num_attributes: int) -> str:
    """The image as a sentence: subject `*`, then one `*` per attribute."""
    return f"a photo of * with {_stars(num_attributes)}".rstrip()


def composed_query(num_attributes: int, modification: str) -> str:
    """The inference prompt `a photo of * with * ... * but {modification}`."""
    return f"a photo of * with {_stars(num_attributes)}but {modification}"


def subject_prompt(attribute: str) -> str:
    """Tri-wise regularisation: the subject replaced by its pseudo word."""
    return f"a photo of * with {attribute}"


def attribute_prompt(subject: str, num_attributes: int) -> str:
    """Tri-wise regularisation: the attributes replaced by their pseudo words."""
    return f"a photo of {subject} with {_stars(num_attributes)}".rstrip()


def caption_prompt(subject: str, attribute: str) -> str:
    """Tri-wise regularisation target: the BLIP caption in the same template, real words only."""
    return f"a photo of {subject} with {attribute}"


def encode_with_words(backbone, prompts: Sequence[str], vectors: torch.Tensor, expected: Sequence[int]
                      ) -> torch.Tensor:
    """Tokenise `prompts`, splice `vectors[b, k]` at the k-th `*` of row b, encode. Returns [B, D] unnormalised.

    `expected[b]` is the number of `*` row b must hold: a `*` in free text (caption, modification)
    would shift every pseudo word, so it is refused.
    """
    ids = backbone.tokenize(list(prompts)).to(vectors.device)
    found = (ids == backbone.placeholder_id(PLACEHOLDER)).sum(dim=1).tolist()
    for row, (n_found, n_expected) in enumerate(zip(found, expected)):
        if n_found != n_expected:
            raise ValueError(f"prompt {prompts[row]!r} holds {n_found} '{PLACEHOLDER}' placeholders, expected "
                             f"{n_expected}: free text must not contain '{PLACEHOLDER}'")
    return backbone.encode_text_with_pseudo_tokens(ids, vectors, placeholder=PLACEHOLDER)


def _subject_then_attributes(words: PseudoWords) -> torch.Tensor:
    return torch.cat([words.subject[:, None], words.attributes], dim=1)


def encode_image_sentence(backbone, words: PseudoWords) -> torch.Tensor:
    """f = E_T("a photo of * with * ... *") with the subject and the r attribute words. [B, D]."""
    r = words.num_attributes.tolist()
    return encode_with_words(backbone, [image_sentence(n) for n in r], _subject_then_attributes(words),
                             [1 + n for n in r])


def encode_composed_query(backbone, words: PseudoWords, modifications: Sequence[str]) -> torch.Tensor:
    """Query feature for retrieval (unnormalised): the image sentence `but {modification}`. [B, D]."""
    r = words.num_attributes.tolist()
    prompts = [composed_query(n, text) for n, text in zip(r, modifications)]
    return encode_with_words(backbone, prompts, _subject_then_attributes(words), [1 + n for n in r])


def encode_subject_prompts(backbone, words: PseudoWords, attributes: Sequence[str]) -> torch.Tensor:
    """E_T("a photo of * with {attribute}") with the subject word. [B, D]."""
    return encode_with_words(backbone, [subject_prompt(a) for a in attributes], words.subject[:, None],
                             [1] * len(attributes))


def encode_attribute_prompts(backbone, words: PseudoWords, subjects: Sequence[str]) -> torch.Tensor:
    """E_T("a photo of {subject} with * ... *") with the r attribute words. [B, D]."""
    r = words.num_attributes.tolist()
    return encode_with_words(backbone, [attribute_prompt(s, n) for s, n in zip(subjects, r)], words.attributes, r)
