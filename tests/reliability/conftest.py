"""Fixtures of the reliability tests: a fresh micro data root per test and a random tiny CLIP folder."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from common.clip.tiny import tiny_open_clip_config, tiny_open_clip_state
from tests.reliability.reliability_helpers import write_json, write_micro_cirr, write_micro_corpus, write_micro_fiq


@pytest.fixture
def micro_root(tmp_path: Path) -> Path:
    """A fresh data root per test (tests corrupt it): fashion-iq/, cirr_dataset/, corpus/."""
    root = tmp_path / "data"
    write_micro_fiq(root / "fashion-iq")
    write_micro_cirr(root / "cirr_dataset")
    write_micro_corpus(root / "corpus")
    return root


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    """A random tiny CLIP in the synthetic-tiny folder layout (`load_clip("synthetic-tiny", pretrained=clip_dir)`)."""
    folder = tmp_path_factory.mktemp("tiny_clip")
    config = tiny_open_clip_config("vit")
    write_json(folder / "synthetic-tiny.json", config)
    torch.save(tiny_open_clip_state(config, 0), folder / "open_clip_model.pt")
    return folder
