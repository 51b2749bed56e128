"""FTI4CIR losses against hand-computed values."""
import math

import torch

from fti4cir.losses.fti_losses import (cosine_embedding_loss, nt_xent_loss, orthogonality_loss,
                                       tri_wise_regularisation)


def test_nt_xent_hand_computed():
    v = torch.eye(2)
    # each of the 4 rows: positive sim 1, two negatives with sim 0 -> -log(e^(1/τ) / (e^(1/τ) + 2))
    for tau in (1.0, 0.2):
        expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2))
        assert math.isclose(nt_xent_loss(v, v * 3.0, tau).item(), expected, rel_tol=1e-5)


def test_nt_xent_matches_the_original_formula_on_random_data():
    torch.manual_seed(0)
    v1, v2, tau = torch.randn(5, 7), torch.randn(5, 7), 0.2
    a, b = torch.nn.functional.normalize(v1, dim=1), torch.nn.functional.normalize(v2, dim=1)
    numerator = torch.exp(torch.diag(a @ b.t()) / tau).repeat(2)
    z = torch.cat([a, b])
    pairs = torch.exp(z @ z.t() / tau)
    denominator = (pairs - pairs * torch.eye(10)).sum(0)
    expected = -torch.log(numerator / denominator).mean()
    assert torch.allclose(nt_xent_loss(v1, v2, tau), expected, atol=1e-5)


def test_orthogonality_hand_computed():
    parallel = torch.tensor([[[1.0, 0.0], [2.0, 0.0]]])  # Gram [[1,1],[1,1]] vs I: two off-diagonal errors of 1
    assert math.isclose(orthogonality_loss(parallel).item(), 2 / 4, rel_tol=1e-6)
    orthonormal = torch.tensor([[[0.0, 3.0], [5.0, 0.0]]])
    assert orthogonality_loss(orthonormal).item() < 1e-12
    at_60_degrees = torch.tensor([[[1.0, 0.0], [0.5, math.sqrt(3) / 2]]])  # cos = 0.5 twice -> 2 * 0.25 / 4
    assert math.isclose(orthogonality_loss(at_60_degrees).item(), 0.125, rel_tol=1e-5)


def test_cosine_and_tri_wise_hand_computed():
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    same = target * 4
    orthogonal = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    opposite = -target
    assert math.isclose(cosine_embedding_loss(same, target).item(), 0.0, abs_tol=1e-7)
    assert math.isclose(cosine_embedding_loss(orthogonal, target).item(), 1.0, abs_tol=1e-7)
    # (f, t_subj, t_attr) = (same, orthogonal, opposite): 0 + 1 + 2
    assert math.isclose(tri_wise_regularisation(same, orthogonal, opposite, target).item(), 3.0, abs_tol=1e-6)
    half = torch.tensor([[1.0, 1.0], [0.0, 1.0]])  # cos 1/√2 and 1 -> mean 1 - (1/√2 + 1)/2
    assert math.isclose(cosine_embedding_loss(half, target).item(), 1 - (1 / math.sqrt(2) + 1) / 2, rel_tol=1e-6)
