"""One description of a CLIP architecture, read from an open_clip config or a state dict, that builds every backend."""
from __future__ import annotations

from dataclasses import dataclass

# open_clip config keys the OpenAI / HF layouts can express; anything else cannot be converted.
_CONVERTIBLE_TOP = {"embed_dim", "quick_gelu", "vision_cfg", "text_cfg", "init_logit_scale"}
_CONVERTIBLE_VISION = {"image_size", "layers", "width", "head_width", "mlp_ratio", "patch_size"}
_CONVERTIBLE_TEXT = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"}


@dataclass(frozen=True)
class ClipArch:
    """Shapes of a standard CLIP (OpenAI layout): a ViT or ModifiedResNet image tower and a causal text transformer."""

    embed_dim: int
    image_size: int
    vision_layers: int | tuple[int, int, int, int]  # int: ViT depth; 4-tuple: ModifiedResNet stages
    vision_width: int  # ViT width, or the ResNet stem width (final map has vision_width * 32 channels)
    vision_heads: int
    patch_size: int | None  # None for a ModifiedResNet
    context_length: int
    vocab_size: int
    text_width: int
    text_heads: int
    text_layers: int
    quick_gelu: bool
    mlp_ratio: float = 4.0

    @property
    def is_resnet(self) -> bool:
        return self.patch_size is None

    @classmethod
    def from_open_clip_config(cls, cfg: dict, source: str = "open_clip config") -> "ClipArch":
        """Read an open_clip model config (the JSON format); refuse options the other layouts cannot express."""
        if "embed_dim" not in cfg:
            raise ValueError(f"{source}: embed_dim: missing")
        vision, text = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
        for keys, allowed, where in ((cfg, _CONVERTIBLE_TOP, ""), (vision, _CONVERTIBLE_VISION, "vision_cfg."),
                                     (text, _CONVERTIBLE_TEXT, "text_cfg.")):
            extra = sorted(set(keys) - allowed)
            if extra:
                raise ValueError(f"{source}: {where}{extra[0]}: not a standard CLIP option, cannot convert this model")
        if vision.get("mlp_ratio", 4.0) != text.get("mlp_ratio", 4.0):
            raise ValueError(f"{source}: vision_cfg.mlp_ratio differs from text_cfg.mlp_ratio, cannot convert")
        layers = vision.get("layers", 12)
        width = vision.get("width", 768)
        head_width = vision.get("head_width", 64)
        patch_size = vision.get("patch_size", 16)
        is_resnet = isinstance(layers, (list, tuple))
        if is_resnet:
            if len(layers) != 4:
                raise ValueError(f"{source}: vision_cfg.layers: a ResNet needs 4 stages, got {layers}")
            layers, patch_size, heads = tuple(layers), None, width * 32 // head_width
        else:
            heads = width // head_width
        image_size = vision.get("image_size", 224)
        if not isinstance(image_size, int):
            raise ValueError(f"{source}: vision_cfg.image_size: only square images are supported, got {image_size}")
        return cls(embed_dim=cfg["embed_dim"], image_size=image_size, vision_layers=layers, vision_width=width,
                   vision_heads=heads, patch_size=patch_size, context_length=text.get("context_length", 77),
                   vocab_size=text.get("vocab_size", 49408), text_width=text.get("width", 512),
                   text_heads=text.get("heads", 8), text_layers=text.get("layers", 12),
                   quick_gelu=bool(cfg.get("quick_gelu", False)), mlp_ratio=float(vision.get("mlp_ratio", 4.0)))

    @classmethod
    def from_openai_state_dict(cls, state: dict, quick_gelu: bool = True, source: str = "state dict") -> "ClipArch":
        """Infer the architecture from an OpenAI-layout state dict with OpenAI's head rule (64-wide heads)."""
        try:
            return cls._from_openai_state_dict(state, quick_gelu)
        except KeyError as error:
            raise ValueError(f"{source}: not an OpenAI-layout CLIP state dict (no {error.args[0]!r})") from None

    @classmethod
    def _from_openai_state_dict(cls, state: dict, quick_gelu: bool) -> "ClipArch":
        if "visual.proj" in state:
            width = state["visual.conv1.weight"].shape[0]
            layers = len({k.split(".")[3] for k in state if k.startswith("visual.transformer.resblocks.")})
            patch_size = state["visual.conv1.weight"].shape[-1]
            grid = round((state["visual.positional_embedding"].shape[0] - 1) ** 0.5)
            image_size, heads = patch_size * grid, width // 64
        else:
            layers = tuple(len({k.split(".")[2] for k in state if k.startswith(f"visual.layer{i}.")})
                           for i in (1, 2, 3, 4))
            width = state["visual.layer1.0.conv1.weight"].shape[0]
            grid = round((state["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
            patch_size, image_size, heads = None, grid * 32, width * 32 // 64
        text_width = state["ln_final.weight"].shape[0]
        mlp_ratio = state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0] / text_width
        return cls(embed_dim=state["text_projection"].shape[1], image_size=image_size, vision_layers=layers,
                   vision_width=width, vision_heads=heads, patch_size=patch_size,
                   context_length=state["positional_embedding"].shape[0],
                   vocab_size=state["token_embedding.weight"].shape[0],
                   text_width=text_width, text_heads=text_width // 64,
                   text_layers=len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")}),
                   quick_gelu=quick_gelu, mlp_ratio=mlp_ratio)
