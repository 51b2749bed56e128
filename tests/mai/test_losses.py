"""CCL terms and the token contrast loss against hand-computed values."""
import math

import torch
import torch.nn.functional as F

from mai.losses.ccl import bbc_loss, ccl_losses, token_contrast_loss


def test_bbc_hand_computed():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [math.sqrt(0.5), math.sqrt(0.5)]])
    # row 0 logits [100, 70.71], row 1 logits [0, 70.71]; targets diagonal
    l0 = -100 + math.log(math.exp(100) + math.exp(100 * math.sqrt(0.5)))
    l1 = -100 * math.sqrt(0.5) + math.log(1 + math.exp(100 * math.sqrt(0.5)))
    assert abs(bbc_loss(a, b).item() - (l0 + l1) / 2) < 1e-4


def test_bbc_is_one_way():
    a, b = F.normalize(torch.randn(5, 8), dim=-1), F.normalize(torch.randn(5, 8), dim=-1)
    assert not torch.isclose(bbc_loss(a, b), bbc_loss(b, a))


def test_ccl_keys_and_pairs():
    q, t, c, m = (F.normalize(torch.randn(4, 6), dim=-1) for _ in range(4))
    losses = ccl_losses(q, t, c, m)
    assert set(losses) == {"loss_fus2tar", "loss_fus2cap", "loss_mod2fus", "loss_mod2cap"}
    torch.testing.assert_close(losses["loss_mod2fus"], bbc_loss(m, t))
    torch.testing.assert_close(losses["loss_fus2cap"], bbc_loss(q, c))


def test_token_contrast_uses_max_over_tokens():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, -1.0]]])  # max sims: [[1, 0], [1, 1]]
    loss = token_contrast_loss(q, t, torch.tensor(0.5))
    row0 = -2 + math.log(math.exp(2) + 1)
    row1 = math.log(2)
    assert abs(loss.item() - (row0 + row1) / 2) < 1e-5
