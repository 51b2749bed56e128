"""MIO: parameter-free DPC-KNN token selection."""
import pytest
import torch

from mai.models.mio import dpc_knn_scores, select_representative_tokens


def _clusters(seed: int = 0):
    """4 far-apart clusters in 8-d; each a centre plus 3 satellites at ±0.1 along axes (centre is densest)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, 8, generator=g) * 10
    tokens, is_centre = [], []
    for c in centres:
        tokens += [c, c + 0.1 * torch.eye(8)[0], c - 0.1 * torch.eye(8)[0], c + 0.1 * torch.eye(8)[1]]
        is_centre += [True, False, False, False]
    perm = torch.randperm(16, generator=g)
    return torch.stack(tokens)[perm], torch.tensor(is_centre)[perm]


def test_selects_cluster_centres():
    tokens, is_centre = _clusters()
    before, after = tokens[None, :8], tokens[None, 8:]
    out = select_representative_tokens(before, after, k=3, num_keep=4)
    expected = tokens[is_centre]  # centres in concatenation order
    assert out.shape == (1, 4, 8)
    torch.testing.assert_close(out[0], expected)


def test_centres_have_top_scores():
    tokens, is_centre = _clusters(1)
    scores = dpc_knn_scores(tokens[None], k=3)[0]
    assert set(scores.topk(4).indices.tolist()) == set(torch.nonzero(is_centre).flatten().tolist())


def test_keeps_32_tokens_and_is_parameter_free():
    before = torch.randn(3, 32, 16)
    after = torch.randn(3, 32, 16, requires_grad=True)
    out = select_representative_tokens(before, after)
    assert out.shape == (3, 32, 16)
    # every output token is an input token, copied unchanged (selection, no learned transform)
    pool = torch.cat([before, after.detach()], dim=1)
    for b in range(3):
        assert (out[b].detach()[:, None] == pool[b][None]).all(-1).any(-1).all()
    out.sum().backward()
    kept = after.grad.abs().sum(-1) > 0
    assert torch.all((after.grad == 0) | (after.grad == 1))
    n_from_after = sum(int((out[b].detach()[:, None] == after[b].detach()[None]).all(-1).any(-1).sum())
                       for b in range(3))
    assert int(kept.sum()) == n_from_after


def test_bad_input():
    with pytest.raises(ValueError, match="share batch"):
        select_representative_tokens(torch.randn(2, 4, 8), torch.randn(3, 4, 8))
    with pytest.raises(ValueError, match="k=9"):
        dpc_knn_scores(torch.randn(1, 8, 4), k=9)
