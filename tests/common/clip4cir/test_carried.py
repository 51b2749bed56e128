"""The CLIP carried by an authors' FashionERN/SPIRIT checkpoint becomes a file common.clip loads."""
import torch

from common.clip import load_clip, tiny_open_clip_config, tiny_open_clip_state
from common.clip4cir import carried_clip_file
from tests.common.clip.test_load import _features


def test_carried_clip_loads_as_the_same_weights(tmp_path):
    state = tiny_open_clip_state(tiny_open_clip_config("vit"), seed=3)  # OpenAI key layout, as the authors' copies
    path = carried_clip_file(state, tmp_path / "run")
    assert path == str(tmp_path / "run" / "clip_from_checkpoint.pt")
    assert set(torch.load(path, weights_only=True)) == {"CLIP"}  # CLIP4Cir's tuned-CLIP format
    torch.save(state, tmp_path / "plain.pt")
    carried = load_clip("ViT-B/16", backend="openai", pretrained=path)
    plain = load_clip("ViT-B/16", backend="openai", pretrained=tmp_path / "plain.pt")
    for got, want in zip(_features(carried), _features(plain)):
        assert torch.equal(got, want)
