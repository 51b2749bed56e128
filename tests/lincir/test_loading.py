"""Strict loading of `{'Phi': ...}` checkpoints: the original format loads exactly, anything else fails clearly."""
import pytest
import torch

from common.checkpoint import CheckpointError
from lincir.models.phi import build_phi, load_phi


def _save(obj, path):
    torch.save(obj, path)
    return path


def test_the_original_format_loads_exactly_and_returns_the_step(tmp_path):
    torch.manual_seed(0)
    source = build_phi(16, 8)
    path = _save({"epoch": 1234, "Phi": source.state_dict()}, tmp_path / "phi_best.pt")
    target = build_phi(16, 8)
    assert load_phi(path, target) == 1234
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_checkpoint_of_another_backbone_names_the_file_and_the_shapes(tmp_path):
    path = _save({"epoch": 0, "Phi": build_phi(32, 8).state_dict()}, tmp_path / "phi_large.pt")
    with pytest.raises(ValueError, match=r"phi_large\.pt.*16->64->8.*another backbone"):
        load_phi(path, build_phi(16, 8))


def test_missing_or_extra_keys_are_refused(tmp_path):
    state = build_phi(16, 8).state_dict()
    extra = _save({"Phi": {**state, "layers.9.weight": torch.zeros(1)}}, tmp_path / "extra.pt")
    missing = _save({"Phi": {k: v for k, v in state.items() if k != "layers.6.bias"}}, tmp_path / "missing.pt")
    for path in (extra, missing):
        with pytest.raises(ValueError, match=path.name):
            load_phi(path, build_phi(16, 8))


def test_other_checkpoint_kinds_are_refused(tmp_path):
    pic2word = _save({"state_dict_img2text": build_phi(16, 8).state_dict()}, tmp_path / "pic2word_large.pt")
    with pytest.raises(ValueError, match=r"pic2word_large\.pt: no 'Phi' entry .*state_dict_img2text"):
        load_phi(pic2word, build_phi(16, 8))
    code = _save({"Phi": build_phi(16, 8)}, tmp_path / "pickled_module.pt")  # a module object, not a state dict
    with pytest.raises(CheckpointError, match="weights_only"):
        load_phi(code, build_phi(16, 8))
