"""`ClipBackbone`: the backend-independent CLIP interface (tokenize, encode, patch tokens, pseudo-token splicing)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from PIL import Image
from torch import nn

from common.clip.tokenizer import single_token_id, tokenize
from common.clip.transforms import get_transform

SPLICE_MODES = ("all", "first")


def causal_mask(length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[L, L] additive mask: 0 on and below the diagonal, the dtype's minimum above it."""
    mask = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype, device=device)
    return mask.triu_(1)


def splice_pseudo_tokens(embeddings: torch.Tensor, ids: torch.Tensor, pseudo: torch.Tensor,
                         placeholder_id: int, mode: str = "all") -> torch.Tensor:
    """Replace placeholder rows of `embeddings` [B, L, W] by `pseudo` ([B, W] per row, or [B, K, W] in order)."""
    if mode not in SPLICE_MODES:
        raise ValueError(f"mode must be one of {SPLICE_MODES}, got {mode!r}")
    batch, _, width = embeddings.shape
    if pseudo.ndim not in (2, 3) or pseudo.shape[0] != batch or pseudo.shape[-1] != width:
        raise ValueError(f"pseudo must be [B={batch}, {width}] or [B={batch}, K, {width}], got {list(pseudo.shape)}")
    is_slot = ids == placeholder_id
    counts = is_slot.sum(dim=1)
    if bool((counts == 0).any()):
        rows = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"placeholder id {placeholder_id} missing from rows {rows[:10]} of the token ids")
    pseudo = pseudo.to(embeddings.dtype)
    if pseudo.ndim == 2:
        if mode == "first":
            is_slot = is_slot & (is_slot.cumsum(dim=1) == 1)
        return torch.where(is_slot.unsqueeze(-1), pseudo.unsqueeze(1), embeddings)
    if mode != "all":
        raise ValueError("mode='first' takes one pseudo token per row ([B, W]), got [B, K, W]")
    num_vectors = pseudo.shape[1]
    if bool((counts > num_vectors).any()):
        raise ValueError(f"a row has {int(counts.max())} placeholders but pseudo holds only K={num_vectors} vectors")
    order = (is_slot.cumsum(dim=1) - 1).clamp(min=0)  # k-th placeholder of a row -> k
    per_position = torch.gather(pseudo, 1, order.unsqueeze(-1).expand(-1, -1, width))
    return torch.where(is_slot.unsqueeze(-1), per_position, embeddings)


class ClipBackbone(nn.Module, ABC):
    """One CLIP behind a backend-independent API; subclasses wrap an open_clip, OpenAI clip or HF model."""

    backend: str = ""

    def __init__(self, name: str, embed_dim: int, vision_width: int, text_width: int, context_length: int,
                 image_size: int, is_resnet: bool) -> None:
        super().__init__()
        self.name = name
        self.embed_dim = embed_dim
        self.vision_width = vision_width
        self.text_width = text_width
        self.context_length = context_length
        self.image_size = image_size
        self.is_resnet = is_resnet
        self._preprocess = get_transform("targetpad", image_size)

    # ---- backend primitives -------------------------------------------------------------------------------------
    @abstractmethod
    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, L] ids -> [B, L, text_width] input token embeddings (before positional embeddings)."""

    @abstractmethod
    def _positional_embedding(self) -> torch.Tensor:
        """[context_length, text_width] absolute positional embeddings."""

    @abstractmethod
    def _text_layers(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Run the text transformer blocks on [B, L, W] with the additive [L, L] mask."""

    @abstractmethod
    def _text_final_norm(self, x: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm of the text tower."""

    @abstractmethod
    def _text_projection(self, x: torch.Tensor) -> torch.Tensor:
        """[B, text_width] -> [B, embed_dim]."""

    @abstractmethod
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] normalised images -> [B, embed_dim] global features (not normalised)."""

    @abstractmethod
    def encode_image_tokens(self, images: torch.Tensor, after_ln_post: bool = False,
                            include_cls: bool = False) -> torch.Tensor:
        """[B, N, vision_width] last-layer patch tokens (ViT: CLS dropped unless include_cls; ResNet: final map)."""

    # ---- shared behaviour ---------------------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def preprocess(self, img: Image.Image) -> torch.Tensor:
        """The default transform: CLIP4Cir TargetPad 1.25, bicubic resize, center crop, CLIP mean/std."""
        return self._preprocess(img)

    def tokenize(self, texts: str | list[str]) -> torch.Tensor:
        """[B, context_length] ids on the model's device: SOT ... EOT (the max id), zero padded, truncated."""
        return tokenize(texts, self.context_length).to(self.device)

    def placeholder_id(self, token: str = "$") -> int:
        """BPE id of a one-token placeholder ("$" -> 259, "*" -> 265)."""
        return single_token_id(token)

    def _run_text(self, embeddings: torch.Tensor) -> torch.Tensor:
        length = embeddings.shape[1]
        if length > self.context_length:
            raise ValueError(f"{length} text positions exceed the model's context length {self.context_length}")
        x = embeddings + self._positional_embedding()[:length].to(embeddings.dtype)
        x = self._text_layers(x, causal_mask(length, x.dtype, x.device))
        return self._text_final_norm(x)

    def _pool_and_project(self, hidden: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        eot = hidden[torch.arange(hidden.shape[0], device=hidden.device), ids.argmax(dim=-1)]
        return self._text_projection(eot)

    def encode_text_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, L] ids -> [B, L, text_width] hidden states of every position after the final LayerNorm."""
        return self._run_text(self.token_embedding(ids))

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """[B, L] ids -> [B, embed_dim] text features at the EOT position (not normalised)."""
        return self._pool_and_project(self.encode_text_tokens(ids), ids)

    def encode_text_with_pseudo_tokens(self, ids: torch.Tensor, pseudo: torch.Tensor,
                                       placeholder: str | int = "$", mode: str = "all") -> torch.Tensor:
        """Text features with placeholder embeddings replaced by `pseudo`.

        pseudo [B, W]: every placeholder of row b gets pseudo[b] (mode="all", LinCIR) or only the first one
        (mode="first", SEARLE). pseudo [B, K, W]: the k-th placeholder of row b gets pseudo[b, k] (FTI4CIR).
        Gradients flow into `pseudo`. Returns [B, embed_dim], not normalised.
        """
        placeholder_id = placeholder if isinstance(placeholder, int) else self.placeholder_id(placeholder)
        x = splice_pseudo_tokens(self.token_embedding(ids), ids, pseudo, placeholder_id, mode)
        return self._pool_and_project(self._run_text(x), ids)

    def forward(self, images: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image features, text features), both not normalised."""
        return self.encode_image(images), self.encode_text(ids)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, backend={self.backend!r}, embed_dim={self.embed_dim}, image_size={self.image_size}"
