"""The SPIRIT fusion model over frozen CLIP features: query, gallery embedding and training logits."""
import torch
import torch.nn.functional as F
from torch import nn

from spirit.models.combiner import Combiner2
from spirit.models.local_net import LocalNet

LOGIT_SCALE = 100.0


class SPIRIT(nn.Module):
    """SPIRIT without its CLIP: `combiner` (VTF, Combiner2 at 2D) and `visual_attn` (LocalNet at D).

    Inputs are raw (un-normalised) CLIP features: global image [B, D], text [B, D], patches [B, P, D].
    Defaults are the released RN50x4 configuration (D=640, projection 4D, hidden 8D).
    """

    def __init__(self, feature_dim: int = 640, projection_dim: int | None = None, hidden_dim: int | None = None,
                 num_patches: int = 13, graph_num: int = 3, heads: int = 8, dropout: float = 0.5,
                 sa_gate: str = "sigmoid"):
        super().__init__()
        self.feature_dim = feature_dim
        self.combiner = Combiner2(2 * feature_dim, projection_dim or 4 * feature_dim, hidden_dim or 8 * feature_dim,
                                  sa_gate=sa_gate)
        self.visual_attn = LocalNet(feature_dim, dropout, num_patches, graph_num, heads)

    def query(self, image_features: torch.Tensor, text_features: torch.Tensor, ref_patches: torch.Tensor) -> torch.Tensor:
        """Composed query, unit norm [B, 2D]: Combiner2([I; LocalNet(P_ref)], [T; T])."""
        visual = torch.cat((image_features, self.visual_attn(ref_patches)), -1)
        return self.combiner(visual, torch.cat((text_features, text_features), -1))

    def target(self, image_features: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """Gallery/target embedding, unit norm [B, 2D]: normalize([I_raw; LocalNet(P)])."""
        return F.normalize(torch.cat((image_features, self.visual_attn(patches)), -1), dim=-1)

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor, ref_patches: torch.Tensor,
                target_features: torch.Tensor, target_patches: torch.Tensor) -> torch.Tensor:
        """Training logits 100 · q @ tᵀ, [B, B] (the original's `mode="combine_train"`)."""
        q = self.query(image_features, text_features, ref_patches)
        return LOGIT_SCALE * q @ self.target(target_features, target_patches).T
