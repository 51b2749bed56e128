"""load_clip: synthetic-tiny folders in every backend, CLIP4Cir checkpoints, name resolution, missing-weight errors."""
import json

import huggingface_hub.constants
import open_clip
import pytest
import torch
from torch import nn

from common.clip import (backbone_from_open_clip_state, load_clip, save_tiny_clip_folder, tiny_open_clip_config,
                         tiny_open_clip_state)
from common.clip.load import _auto_backend
from common.clip.weights import read_checkpoint

TOL = 1e-4


def _features(model, seed=0):
    size = model.image_size
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(model.tokenize(["a red dress", "a $ shirt"]))


def _openai_compatible_config():
    """Tiny quick-GELU ViT with 64-wide heads: the shapes OpenAI's build rules infer from a state dict."""
    config = tiny_open_clip_config("vit", quick_gelu=True)
    config["vision_cfg"]["head_width"] = 64
    config["text_cfg"]["heads"] = 1
    return config


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A synthetic-tiny-format folder: synthetic-tiny.json + open_clip_model.pt."""
    return save_tiny_clip_folder(tmp_path_factory.mktemp("synthetic-tiny"), seed=3, quick_gelu=True)


def test_synthetic_tiny_folder_in_every_backend(tiny_folder):
    reference = load_clip("synthetic-tiny", pretrained=tiny_folder)
    assert reference.backend == "open_clip" and reference.name == "synthetic-tiny"
    expected = _features(reference)
    for backend in ("openai", "hf"):
        model = load_clip("synthetic-tiny", backend=backend, pretrained=tiny_folder)
        assert model.backend == backend
        for got, want in zip(_features(model), expected):
            assert (got - want).abs().max() <= TOL


def test_synthetic_tiny_resnet_has_no_hf_tower(tmp_path):
    folder = save_tiny_clip_folder(tmp_path, arch="resnet")
    assert json.loads((folder / "synthetic-tiny.json").read_text()) == tiny_open_clip_config("resnet")
    assert load_clip("synthetic-tiny", backend="openai", pretrained=folder).is_resnet
    with pytest.raises(ValueError, match="HF transformers' CLIP has no ResNet image tower"):
        load_clip("synthetic-tiny", backend="hf", pretrained=folder)


def test_synthetic_tiny_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("CIR_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="python -m common.synthetic.tiny_clip"):
        load_clip("synthetic-tiny")
    (tmp_path / "synthetic-tiny.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="open_clip_model.pt not found"):
        load_clip("synthetic-tiny", pretrained=tmp_path)


def test_clip4cir_checkpoint_round_trip(tmp_path, monkeypatch):
    config = _openai_compatible_config()
    source = backbone_from_open_clip_state("tiny", config, tiny_open_clip_state(config, seed=5), "openai")
    expected = _features(source)
    path = tmp_path / "tuned_clip_best.pt"
    torch.save({"epoch": 3, "CLIP": source.model.state_dict()}, path)
    monkeypatch.setattr(open_clip.factory, "_MODEL_CONFIGS", dict(open_clip.factory._MODEL_CONFIGS))
    (tmp_path / "cir-test-tiny.json").write_text(json.dumps({k: v for k, v in config.items() if k != "quick_gelu"}))
    open_clip.add_model_config(tmp_path / "cir-test-tiny.json")
    for name, backend in (("ViT-B/16", "openai"), ("cir-test-tiny", "open_clip"), ("large", "hf")):
        model = load_clip(name, backend=backend, pretrained=path)
        assert model.backend == backend
        for got, want in zip(_features(model), expected):
            assert (got - want).abs().max() <= TOL, backend


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated, OpenAI's releases still use it
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_openai_jit_archive(tmp_path, monkeypatch):
    """OpenAI releases traced TorchScript archives: they load in the OpenAI and open_clip backends (QuickGELU)."""
    config = _openai_compatible_config()
    source = backbone_from_open_clip_state("tiny", config, tiny_open_clip_state(config, seed=6), "openai")
    expected = _features(source)
    images, ids = torch.zeros(1, 3, 32, 32), source.tokenize(["a photo"])
    torch.jit.trace(source.model, (images, ids), check_trace=False).save(str(tmp_path / "ViT-B-16.pt"))
    monkeypatch.setattr(open_clip.factory, "_MODEL_CONFIGS", dict(open_clip.factory._MODEL_CONFIGS))
    (tmp_path / "cir-test-tiny.json").write_text(json.dumps({k: v for k, v in config.items() if k != "quick_gelu"}))
    open_clip.add_model_config(tmp_path / "cir-test-tiny.json")
    for name, backend in (("ViT-B/16", "openai"), ("cir-test-tiny", "open_clip")):
        model = load_clip(name, backend=backend, pretrained=tmp_path / "ViT-B-16.pt")
        for got, want in zip(_features(model), expected):
            assert (got - want).abs().max() <= TOL, backend


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated, OpenAI's releases still use it
def test_read_checkpoint_formats(tmp_path):
    scripted = torch.jit.script(nn.Linear(3, 2))
    scripted.save(str(tmp_path / "jit.pt"))
    checkpoint = read_checkpoint(tmp_path / "jit.pt")
    assert checkpoint.kind == "jit" and set(checkpoint.state_dict) == {"weight", "bias"}
    torch.save({"state_dict": {"module.w": torch.ones(1), "module.input_resolution": torch.tensor(224)}},
               tmp_path / "ddp.pt")
    assert list(read_checkpoint(tmp_path / "ddp.pt").state_dict) == ["w"]
    folder = tmp_path / "hub-folder"
    folder.mkdir()
    torch.save({"w": torch.zeros(2)}, folder / "open_clip_pytorch_model.bin")
    assert list(read_checkpoint(folder).state_dict) == ["w"]
    with pytest.raises(FileNotFoundError, match="open_clip_model.safetensors"):
        read_checkpoint(tmp_path)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="list.pt: not a CLIP state dict"):
        read_checkpoint(tmp_path / "list.pt")


def test_wrong_weights_name_the_file(tmp_path):
    torch.save({"CLIP": {"token_embedding.weight": torch.zeros(3, 3)}}, tmp_path / "bad.pt")
    for backend in ("openai", "hf"):
        with pytest.raises(ValueError, match=r"bad.pt: not an OpenAI-layout CLIP state dict "
                                             r"\(no 'visual.layer1.0.conv1.weight'\)"):
            load_clip("ViT-B/16", backend=backend, pretrained=tmp_path / "bad.pt")
    (tmp_path / "synthetic-tiny.json").write_text(json.dumps(tiny_open_clip_config("vit")))
    state = tiny_open_clip_state(tiny_open_clip_config("vit"))
    state["extra.weight"] = state.pop("ln_final.weight")
    torch.save(state, tmp_path / "open_clip_model.pt")
    with pytest.raises(ValueError, match=r"1 missing keys \['ln_final.weight'\], 1 unexpected keys \['extra.weight'\]"):
        load_clip("synthetic-tiny", pretrained=tmp_path)
    with pytest.raises(ValueError, match=f"{tmp_path}: .*missing key 'ln_final.weight'"):
        load_clip("synthetic-tiny", backend="hf", pretrained=tmp_path)
    state["ln_final.weight"] = torch.zeros(5)
    torch.save(state, tmp_path / "open_clip_model.pt")
    with pytest.raises(ValueError, match=f"{tmp_path}: .*size mismatch for ln_final.weight"):
        load_clip("synthetic-tiny", backend="openai", pretrained=tmp_path)


def test_missing_weight_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    cases = [
        (dict(name="ViT-B/16"), str(tmp_path / ".cache/clip/ViT-B-16.pt")),
        (dict(name="ViT-L/14", backend="open_clip"), str(tmp_path / ".cache/clip/ViT-L-14.pt")),
        (dict(name="ViT-H-14", pretrained="laion2b_s32b_b79k"), "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
        (dict(name="RN50x4", pretrained=tmp_path / "tuned_fashioniq.pt"), str(tmp_path / "tuned_fashioniq.pt")),
        (dict(name="no-such-org/no-such-clip", backend="hf"), "huggingface-cli download no-such-org/no-such-clip"),
        (dict(name="ViT-B-16", backend="open_clip", pretrained=None), None),
    ]
    for kwargs, where in cases:
        if where is None:
            kwargs["pretrained"] = "no-such-tag"
            where = "no-such-tag"
        with pytest.raises(FileNotFoundError) as error:
            load_clip(**kwargs)
        message = str(error.value)
        assert "\n" not in message and where in message and "put it at" in message, message


@pytest.mark.parametrize("name, backend", [("ViT-B/16", "openai"), ("ViT-L/14", "openai"), ("RN50x4", "open_clip"),
                                           ("ViT-B-16", "open_clip"), ("large", "hf"), ("giga", "hf"),
                                           ("openai/clip-vit-base-patch32", "hf")])
def test_auto_backend(name, backend):
    assert _auto_backend(name, None) == backend


def test_unknown_name_and_backend():
    with pytest.raises(ValueError, match="unknown CLIP name"):
        load_clip("not-a-clip")
    with pytest.raises(ValueError, match="backend must be one of"):
        load_clip("ViT-B/16", backend="timm")


def test_trained_synthetic_tiny_same_in_every_backend(tiny_clip_dir):
    """The real embedded-default CLIP (built by `python -m common.synthetic.tiny_clip`) in every backend that has
    its image tower: OpenAI clip always; HF only for a ViT tower (HF CLIP has no ResNet, and says so)."""
    reference = load_clip("synthetic-tiny")
    expected = _features(reference)
    backends = ["openai"] if reference.is_resnet else ["openai", "hf"]
    for backend in backends:
        for got, want in zip(_features(load_clip("synthetic-tiny", backend=backend)), expected):
            assert (got - want).abs().max() <= TOL
    if reference.is_resnet:
        with pytest.raises(ValueError, match="(?i)resnet"):
            load_clip("synthetic-tiny", backend="hf")


def _save_hf_clip_model(folder):
    """A tiny full HF `CLIPModel` saved in `folder`; returns the features it must give."""
    from transformers import CLIPConfig, CLIPModel

    from common.clip.arch import ClipArch
    from common.clip.convert import hf_configs, openai_state_dict_to_hf

    config = tiny_open_clip_config("vit")
    state = tiny_open_clip_state(config, seed=7)
    expected = _features(backbone_from_open_clip_state("tiny", config, state, "open_clip"))
    arch = ClipArch.from_open_clip_config(config)
    vision_cfg, text_cfg = hf_configs(arch)
    full = CLIPModel(CLIPConfig(text_config=text_cfg.to_dict(), vision_config=vision_cfg.to_dict(),
                                projection_dim=arch.embed_dim))
    vision_state, text_state = openai_state_dict_to_hf(state, arch)
    missing = full.load_state_dict({**vision_state, **text_state, "logit_scale": state["logit_scale"]}, strict=False)
    assert not missing.missing_keys and not missing.unexpected_keys
    full.save_pretrained(folder)
    return expected


def test_hf_hub_snapshot_folder(tmp_path):
    """A full HF `CLIPModel` folder (the layout of openai/clip-vit-large-patch14 on the hub) loads both towers."""
    expected = _save_hf_clip_model(tmp_path)
    model = load_clip("my-hub-clip", pretrained=tmp_path)  # auto: a folder with config.json is an HF model
    assert model.backend == "hf"
    for got, want in zip(_features(model), expected):
        assert (got - want).abs().max() <= TOL


def test_hf_hub_id_from_a_given_cache_dir(tmp_path, monkeypatch):
    """`cache_dir` (LinCIR's --cache_dir) is where a hub id is looked up, offline; elsewhere it is not found."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "default_cache"))
    repo = tmp_path / "my_cache" / "models--someone--tiny-clip"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc")
    expected = _save_hf_clip_model(repo / "snapshots" / "0123abc")
    model = load_clip("someone/tiny-clip", cache_dir=tmp_path / "my_cache")
    assert model.backend == "hf"
    for got, want in zip(_features(model), expected):
        assert (got - want).abs().max() <= TOL
    with pytest.raises(FileNotFoundError, match="someone/tiny-clip"):
        load_clip("someone/tiny-clip")


def test_cached_pretrained_tags_resolve_to_local_files(tmp_path, monkeypatch):
    """open_clip tags resolve to the HF cache layout or to OpenAI clip's ~/.cache/clip, never to a download."""
    from common.clip.load import _cached_pretrained_file

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--laion--CLIP-ViT-H-14-laion2B-s32B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc")
    (repo / "snapshots" / "0123abc").mkdir(parents=True)
    (repo / "snapshots" / "0123abc" / "open_clip_pytorch_model.bin").write_bytes(b"weights")
    found = _cached_pretrained_file("ViT-H-14", "laion2b_s32b_b79k")
    assert found == repo / "snapshots" / "0123abc" / "open_clip_pytorch_model.bin"
    (tmp_path / ".cache" / "clip").mkdir(parents=True)
    (tmp_path / ".cache" / "clip" / "RN50x4.pt").write_bytes(b"weights")
    assert _cached_pretrained_file("RN50x4", "openai") == tmp_path / ".cache" / "clip" / "RN50x4.pt"
