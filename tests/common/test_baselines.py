"""Baseline query composition, and every baseline end to end on a tiny generated synthetic benchmark."""
import pytest
import torch
import torch.nn.functional as F

from common.baselines import compose


def test_compose_feature_sum_is_the_renormalised_sum_of_normalised_features():
    image, text = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 0.5]])
    expected = torch.tensor([[1.0, 1.0]]) / 2 ** 0.5
    assert torch.allclose(compose("feature_sum", image, text), expected)
    assert torch.equal(compose("image_only", image, text), image)
    assert torch.equal(compose("text_only", image, text), text)
    assert torch.allclose(compose("feature_sum", image, text).norm(dim=-1), torch.ones(1))
    with pytest.raises(ValueError, match="unknown baseline method 'sum'"):
        compose("sum", image, text)


def test_feature_sum_differs_from_an_unnormalised_sum():
    image, text = torch.tensor([[10.0, 0.0]]), torch.tensor([[0.0, 0.1]])
    unnormalised = F.normalize(image + text, dim=-1)
    assert not torch.allclose(compose("feature_sum", image, text), unnormalised)
