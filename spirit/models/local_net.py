"""SPIRIT's local branch: PSD (VisualSA + VisualGR), PSC (transformer) and their style fusion (LocalNet)."""
import torch
from torch import nn

from spirit.models.attention import AttentionFiltration, SelfAttentionNew, l2norm, xavier_uniform_linear_
from spirit.models.combiner import Combiner
from spirit.models.transformer import MultiFrameIntegrationTransformer


class VisualSA(nn.Module):
    """Patch importance weighting then AoA self-attention: [B, P, D] -> unit vector [B, D].

    w = softmax_p(W_c(Drop(Tanh(BN_P(W_l x))) ⊙ Drop(Tanh(BN_D(W_g mean_p x))))), s = Σ_p w_p x_p,
    out = l2norm(AoA(s) + s). BatchNorm1d(P) normalises over the patch axis, so P is fixed.
    """

    def __init__(self, embed_dim: int = 640, dropout_rate: float = 0.5, num_region: int = 13, heads: int = 8):
        super().__init__()
        self.embedding_local = nn.Sequential(
            nn.Linear(embed_dim, embed_dim), nn.BatchNorm1d(num_region), nn.Tanh(), nn.Dropout(dropout_rate)
        )
        self.embedding_global = nn.Sequential(
            nn.Linear(embed_dim, embed_dim), nn.BatchNorm1d(embed_dim), nn.Tanh(), nn.Dropout(dropout_rate)
        )
        self.embedding_common = nn.Sequential(nn.Linear(embed_dim, 1))
        for seq in (self.embedding_local, self.embedding_global, self.embedding_common):
            seq.apply(xavier_uniform_linear_)
        self.softmax = nn.Softmax(dim=1)
        self.self_attention = SelfAttentionNew(embed_dim, heads)

    def patch_weights(self, local_feature: torch.Tensor) -> torch.Tensor:
        """Importance of each patch, [B, P], rows sum to 1."""
        local_emb = self.embedding_local(local_feature)
        global_emb = self.embedding_global(local_feature.mean(dim=1)).unsqueeze(1)
        return self.softmax(self.embedding_common(local_emb * global_emb).squeeze(2))

    def forward(self, local_feature: torch.Tensor) -> torch.Tensor:
        pooled = (self.patch_weights(local_feature).unsqueeze(2) * local_feature).sum(dim=1)
        return l2norm(self.self_attention(pooled), dim=-1)


class GraphReasoning(nn.Module):
    """One step on a fully connected graph: F <- ReLU(W_g softmax(W_q F (W_k F)^T) F), no scaling, no residual."""

    def __init__(self, sim_dim: int = 640):
        super().__init__()
        self.graph_query_w = nn.Linear(sim_dim, sim_dim)
        self.graph_key_w = nn.Linear(sim_dim, sim_dim)
        self.sim_graph_w = nn.Linear(sim_dim, sim_dim)
        self.relu = nn.ReLU()
        self.apply(xavier_uniform_linear_)

    def forward(self, sim_emb: torch.Tensor) -> torch.Tensor:
        edges = torch.softmax(self.graph_query_w(sim_emb) @ self.graph_key_w(sim_emb).transpose(1, 2), dim=-1)
        return self.relu(self.sim_graph_w(edges @ sim_emb))


class VisualGR(nn.Module):
    """PSD: graph reasoning over [s'; patches], attention filtration, p_d = l2norm(α·gr + β·af) with α=0, β=1 at init."""

    def __init__(self, embed_dim: int = 640, graph_num: int = 3):
        super().__init__()
        self.graph = nn.ModuleList([GraphReasoning(embed_dim) for _ in range(graph_num)])
        self.attention_filtration = AttentionFiltration(embed_dim)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.ones(1))

    def forward(self, global_feature: torch.Tensor, local_feature: torch.Tensor) -> torch.Tensor:
        nodes = torch.cat([global_feature.unsqueeze(1), local_feature], 1)
        for step in self.graph:
            nodes = step(nodes)
        reasoned = nodes[:, 0]
        filtered = self.attention_filtration(torch.cat([reasoned.unsqueeze(1), local_feature], 1))
        return l2norm(self.alpha * reasoned + self.beta * filtered)


class LocalNet(nn.Module):
    """Patches [B, P, D] -> style vector [B, D]: PSF Combiner(image=PSC commonality, text=PSD difference)."""

    def __init__(self, embed_dim: int = 640, dropout: float = 0.5, num_region: int = 13, graph_num: int = 3, heads: int = 8):
        super().__init__()
        if embed_dim % 2:
            raise ValueError(f"LocalNet: embed_dim must be even (style fusion projects to embed_dim/2), got {embed_dim}")
        self.transformer = MultiFrameIntegrationTransformer(T=num_region, embed_dim=embed_dim, heads=heads)
        self.visual_sa = VisualSA(embed_dim, dropout, num_region, heads)
        self.visual_gr = VisualGR(embed_dim, graph_num)
        self.local_fusion = Combiner(embed_dim, embed_dim // 2, embed_dim)

    def forward(self, local_feature: torch.Tensor) -> torch.Tensor:
        commonality = self.transformer(local_feature)
        difference = self.visual_gr(self.visual_sa(local_feature), local_feature)
        return self.local_fusion(commonality, difference)
