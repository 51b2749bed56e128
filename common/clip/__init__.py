"""One CLIP interface (`ClipBackbone`) over OpenAI clip, open_clip and HF transformers, plus CIR preprocessing."""
from common.clip.backbone import ClipBackbone, splice_pseudo_tokens
from common.clip.load import backbone_from_open_clip_state, load_clip
from common.clip.tiny import build_tiny_clip, save_tiny_clip_folder, tiny_open_clip_config, tiny_open_clip_state
from common.clip.tokenizer import build_hf_clip_tokenizer, tokenize
from common.clip.transforms import CLIP_MEAN, CLIP_STD, SquarePad, TargetPad, get_transform

__all__ = [
    "CLIP_MEAN", "CLIP_STD", "ClipBackbone", "SquarePad", "TargetPad", "backbone_from_open_clip_state",
    "build_hf_clip_tokenizer", "build_tiny_clip", "get_transform", "load_clip", "splice_pseudo_tokens",
    "save_tiny_clip_folder", "tiny_open_clip_config", "tiny_open_clip_state", "tokenize",
]
