"""Tiny random CLIPs shared by the common.clip tests: the same weights in every backend."""
import pytest
import torch

from common.clip import build_tiny_clip

BACKENDS = ("open_clip", "openai", "hf")
CASES = [("open_clip", "vit"), ("openai", "vit"), ("hf", "vit"), ("open_clip", "resnet"), ("openai", "resnet")]


@pytest.fixture(autouse=True)
def _single_thread(single_thread):
    """Every common.clip test runs single-threaded (tests/conftest.py)."""


@pytest.fixture(scope="session")
def tiny_models():
    """{(backend, arch): ClipBackbone}; HF has no ResNet tower, so ("hf", "resnet") is absent."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    models = {case: build_tiny_clip(*case, seed=0) for case in CASES}
    torch.set_num_threads(threads)
    return models


@pytest.fixture(params=CASES, ids=[f"{b}-{a}" for b, a in CASES])
def tiny(request, tiny_models):
    return tiny_models[request.param]
