"""CLIP4Cir Combiner (style fusion, PSF) and SPIRIT's two-branch Combiner2 (visual-textual fusion, VTF)."""
import torch
import torch.nn.functional as F
from torch import nn

SA_GATES = ("sigmoid", "original")


class Combiner(nn.Module):
    """CLIP4Cir Combiner on `input_dim`-wide features: normalize(v + λ·text + (1−λ)·image).

    The original constructor takes half the input width (`clip_feature_dim`, doubled inside);
    here `input_dim` is the real width, so `Combiner(640, 320, 640)` is the original `Combiner(320, 320, 640)`.
    """

    def __init__(self, input_dim: int, projection_dim: int, hidden_dim: int):
        super().__init__()
        self.text_projection_layer = nn.Linear(input_dim, projection_dim)
        self.image_projection_layer = nn.Linear(input_dim, projection_dim)
        self.dropout1 = nn.Dropout(0.5)
        self.dropout2 = nn.Dropout(0.5)
        self.combiner_layer = nn.Linear(projection_dim * 2, hidden_dim)
        self.output_layer = nn.Linear(hidden_dim, input_dim)
        self.dropout3 = nn.Dropout(0.5)
        self.dynamic_scalar = nn.Sequential(
            nn.Linear(projection_dim * 2, hidden_dim), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden_dim, 1), nn.Sigmoid()
        )

    def combiner_branch(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """The un-normalised CLIP4Cir combination v + λ·text + (1−λ)·image."""
        text_projected = self.dropout1(F.relu(self.text_projection_layer(text_features)))
        image_projected = self.dropout2(F.relu(self.image_projection_layer(image_features)))
        raw_combined = torch.cat((text_projected, image_projected), -1)
        combined = self.dropout3(F.relu(self.combiner_layer(raw_combined)))
        lam = self.dynamic_scalar(raw_combined)
        return self.output_layer(combined) + lam * text_features + (1 - lam) * image_features

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.combiner_branch(image_features, text_features), dim=-1)


def _gate_mlp(dim: int, sa_gate: str) -> nn.Sequential:
    final = nn.Sigmoid() if sa_gate == "sigmoid" else nn.Softmax(dim=-1)
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(0.5), nn.Linear(dim, 1), final)


class Combiner2(Combiner):
    """VTF: the Combiner branch plus a self-attention ("SA") branch, summed and L2-normalised.

    SA branch: T' = Drop(ReLU(T·g_t(T))), V' = Drop(ReLU(V·g_v(V))), then a second Combiner-like
    head on [T'; V'] (projection_dim wide). `sa_gate="sigmoid"` (default) gates each modality with
    its own MLP through a sigmoid. `sa_gate="original"` reproduces the released code, where the gate
    is a softmax over a single logit (identically 1, so T' = Drop(ReLU(T))) and `image_mlp` is unused;
    use it to evaluate the authors' checkpoints as they were trained.
    """

    def __init__(self, input_dim: int, projection_dim: int, hidden_dim: int, sa_gate: str = "sigmoid"):
        super().__init__(input_dim, projection_dim, hidden_dim)
        if sa_gate not in SA_GATES:
            raise ValueError(f"Combiner2: sa_gate must be one of {SA_GATES}, got {sa_gate!r}")
        self.sa_gate = sa_gate
        self.image_mlp = _gate_mlp(input_dim, sa_gate)
        self.text_mlp = _gate_mlp(input_dim, sa_gate)
        self.dropout11 = nn.Dropout(0.5)
        self.dropout22 = nn.Dropout(0.5)
        # The original sizes these inputs `projection_dim`, which only works when it equals 2*input_dim
        # (true for the released 2560 = 2*1280); the SA branch's width is 2*input_dim by construction.
        self.combiner_layer2 = nn.Linear(2 * input_dim, hidden_dim)
        self.output_layer2 = nn.Linear(hidden_dim, input_dim)
        self.dropout33 = nn.Dropout(0.5)
        self.dynamic_scalar2 = nn.Sequential(
            nn.Linear(2 * input_dim, hidden_dim), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden_dim, 1), nn.Sigmoid()
        )

    def self_attention_branch(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """The un-normalised SA branch v2 + λ2·T' + (1−λ2)·V'."""
        if self.sa_gate == "sigmoid":
            text_sa = self.dropout11(F.relu(text_features * self.text_mlp(text_features)))
            image_sa = self.dropout22(F.relu(image_features * self.image_mlp(image_features)))
        else:
            text_sa = self.dropout11(F.relu(text_features * self.text_mlp(text_features)))
            image_sa = self.dropout11(F.relu(image_features * self.text_mlp(image_features)))
        raw_combined = torch.cat((text_sa, image_sa), -1)
        combined = self.dropout33(F.relu(self.combiner_layer2(raw_combined)))
        lam = self.dynamic_scalar2(raw_combined)
        return self.output_layer2(combined) + lam * text_sa + (1 - lam) * image_sa

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        out = self.combiner_branch(image_features, text_features) + self.self_attention_branch(image_features, text_features)
        return F.normalize(out, dim=-1)
