"""CLIP4Cir pieces shared by FashionERN and SPIRIT: stage-1 CLIP fine-tuning and 13-patch/global features."""
from common.clip4cir.carried import carried_clip_file
from common.clip4cir.patches import (NUM_PATCHES, crop_patches, extract_global_features, extract_patch_features,
                                     patch_boxes)

__all__ = ["carried_clip_file", "NUM_PATCHES", "crop_patches", "extract_global_features", "extract_patch_features",
           "patch_boxes"]
