"""Loading the original pickled IMG2TEXT release, our checkpoints and state dicts; refusals are one line."""
import copy
import pickle
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.phi import Phi
from fti4cir.models import mh_transformer
from fti4cir.models.convert import IncompatibleCheckpointError, checkpoint_payload, load_fti4cir, read_checkpoint
from fti4cir.models.fti_network import FTI4CIR, FTIConfig

CONFIG = FTIConfig(patch_dim=16, embed_dim=8, token_dim=12, num_k=6, topk=4, epsilon=0.07, tf_layer=2, tf_head=2)


def _fake_class(module: types.ModuleType, name: str) -> type:
    cls = type(name, (nn.Module,), {"__module__": module.__name__})
    setattr(module, name, cls)
    return cls


@pytest.fixture
def original_release(tmp_path, monkeypatch):
    """Our model re-dressed as the authors' classes and saved the way train.py does: torch.save(img2text)."""
    i2t, mht = types.ModuleType("i2t_model"), types.ModuleType("MHTransformer")
    monkeypatch.setitem(sys.modules, "i2t_model", i2t)
    monkeypatch.setitem(sys.modules, "MHTransformer", mht)
    classes = {FTI4CIR: _fake_class(i2t, "IMG2TEXT"), Phi: _fake_class(i2t, "Phi")}
    for ours in (mh_transformer.Transformer, mh_transformer.TransformerLayer, mh_transformer.MultiHeadAttention,
                 mh_transformer.MlpTransformer):
        classes[ours] = _fake_class(mht, ours.__name__)
    torch.manual_seed(0)
    model = FTI4CIR(CONFIG)
    original = copy.deepcopy(model)
    del original.config
    for module in original.modules():
        if type(module) in classes:
            module.__class__ = classes[type(module)]
    for layer in original.transformer.layers:
        layer.mlp.act = F.relu
    original.num_k, original.topk, original.epsilon = 6, 4, 0.07
    original.hy_regLoss, original.temperature = 1.4, 0.2
    original.cosine_criterion, original.ortho_loss = nn.CosineEmbeddingLoss(), nn.MSELoss()
    original.criterion_target = torch.as_tensor([1])
    path = tmp_path / "FTI4CIR_model.pth"
    torch.save(original, path)
    return model, path


def test_original_pickled_module_loads_strictly(original_release, monkeypatch):
    model, path = original_release
    monkeypatch.delitem(sys.modules, "i2t_model")  # the authors' code is not importable here
    monkeypatch.delitem(sys.modules, "MHTransformer")
    loaded = load_fti4cir(path, expected={"patch_dim": 16, "embed_dim": 8, "token_dim": 12})
    assert loaded.config == CONFIG  # sizes from the shapes, topk/epsilon/heads from the pickled attributes
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_our_checkpoint_and_plain_state_dict_round_trip(tmp_path):
    model = FTI4CIR(CONFIG)
    torch.save(checkpoint_payload(model, epoch=3), tmp_path / "ours.pt")
    assert load_fti4cir(tmp_path / "ours.pt").config == CONFIG
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "ddp_state.pt")
    config, state = read_checkpoint(tmp_path / "ddp_state.pt")
    assert (config.patch_dim, config.embed_dim, config.token_dim, config.tf_layer) == (16, 8, 12, 2)
    assert torch.equal(state["templates"], model.templates.detach())


def _one_line_error(path, expected=None) -> str:
    with pytest.raises(IncompatibleCheckpointError) as info:
        load_fti4cir(path, expected=expected)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_refuses_a_checkpoint_for_another_backbone(original_release):
    _, path = original_release
    assert "embed_dim=8" in _one_line_error(path, expected={"embed_dim": 768})


def test_refuses_missing_keys_and_wrong_shapes(tmp_path):
    state = FTI4CIR(CONFIG).state_dict()
    partial = {k: v for k, v in state.items() if not k.startswith("phi_a.")}
    torch.save(partial, tmp_path / "partial.pt")
    assert "phi_a.layers.0.weight" in _one_line_error(tmp_path / "partial.pt")
    reshaped = dict(state, **{"local_atte_fc.0.bias": torch.zeros(5)})
    torch.save(reshaped, tmp_path / "reshaped.pt")
    assert "local_atte_fc.0.bias" in _one_line_error(tmp_path / "reshaped.pt")
    torch.save({"epoch": 1, "Phi": Phi(8, 32, 12).state_dict()}, tmp_path / "lincir.pt")
    assert "not an FTI4CIR checkpoint" in _one_line_error(tmp_path / "lincir.pt")


class _Exploit:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_refuses_pickled_code_without_running_it(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"templates": _Exploit()}, f)
    assert "builtins.print" in _one_line_error(path)
    assert "pickled code ran" not in capsys.readouterr().out
