"""Bad input ends in one error line naming the file and the field, a non-zero exit, and no half-written output.

Readers, `common.checkpoint` and `common.clip.load_clip` are called in-process (they raise); the submission
validator and the paper entry points run as subprocesses. Reader cases already asserted by
tests/common/data/test_data_errors.py are not repeated here (docs/RELIABILITY.md lists both).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.checkpoint import CheckpointError, load_checkpoint, load_resume, save_atomic, save_resume
from common.clip import load_clip
from common.clip.tiny import tiny_open_clip_config, tiny_open_clip_state
from common.data import CIRR, DataFormatError, FashionIQ
from common.data.corpus import CaptionCorpus
from tests.reliability.reliability_helpers import assert_fails_naming, files_under, run, write_json

CIRR_VAL = Path("cirr_dataset/cirr/captions/cap.rc2.val.json")


def _edit_json(path: Path, edit) -> Path:
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))
    return path


# ---- readers (common.data): each case returns (build, file, field) --------------------------------------------------
def cirr_truncated_json(root):
    path = root / CIRR_VAL
    path.write_text(path.read_text()[:100])
    return lambda: CIRR(root / "cirr_dataset", "val"), path, "line 1 column 101"


def cirr_missing_key(root):
    path = _edit_json(root / CIRR_VAL, lambda c: c[2].pop("caption"))
    return lambda: CIRR(root / "cirr_dataset", "val"), path, "[2].caption: missing key"


def cirr_wrong_type(root):
    path = _edit_json(root / CIRR_VAL, lambda c: c[1].update(reference=5))
    return lambda: CIRR(root / "cirr_dataset", "val"), path, "[1].reference: expected str, got int"


def cirr_unknown_split(root):
    return lambda: CIRR(root / "cirr_dataset", "test2"), root / "cirr_dataset", "split: unknown value 'test2'"


def cirr_reference_not_in_split(root):
    path = _edit_json(root / CIRR_VAL, lambda c: c[1].update(reference="val-99-img0"))
    return lambda: CIRR(root / "cirr_dataset", "val"), path, "[1].reference: image 'val-99-img0' is not listed"


def cirr_wrong_root(root):
    return lambda: CIRR(root, "val"), root, "root: not a CIRR folder"


def cirr_empty_split(root):
    path = write_json(root / CIRR_VAL, [])
    return lambda: CIRR(root / "cirr_dataset", "val"), path, "top level: empty split"


def fiq_split_file_not_a_list(root):
    path = write_json(root / "fashion-iq/image_splits/split.shirt.val.json", {"shirtval0": 1})
    return lambda: FashionIQ(root / "fashion-iq", "val"), path, "top level: expected a list, got dict"


def fiq_missing_captions_file(root):
    path = root / "fashion-iq/captions/cap.toptee.val.json"
    path.unlink()
    return lambda: FashionIQ(root / "fashion-iq", "val"), path, "file: missing"


def corpus_csv_without_column(root):
    (root / "corpus/captions.txt").unlink()
    path = root / "corpus/captions.csv"
    path.write_text("caption,url\na red dress,x\n")
    return lambda: CaptionCorpus(root / "corpus"), path, "text: missing column"


def corpus_without_caption_files(root):
    (root / "corpus/captions.txt").unlink()
    return lambda: CaptionCorpus(root / "corpus"), root / "corpus", "files: no caption file"


READER_CASES = [cirr_truncated_json, cirr_missing_key, cirr_wrong_type, cirr_unknown_split, cirr_reference_not_in_split,
                cirr_wrong_root, cirr_empty_split, fiq_split_file_not_a_list, fiq_missing_captions_file,
                corpus_csv_without_column, corpus_without_caption_files]


@pytest.mark.parametrize("case", READER_CASES, ids=[c.__name__ for c in READER_CASES])
def test_reader_error_is_one_line_naming_file_and_field(case, micro_root):
    build, file, field = case(micro_root)
    with pytest.raises(DataFormatError) as err:
        build()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{file}: ") and field in message


# ---- checkpoints (common.checkpoint) ----------------------------------------------------------------------------------
def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.randn(64, 64)}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match=f"^{path}: not a readable torch checkpoint: ") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_text_file_as_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match=f"^{path}: not a readable torch checkpoint") as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value)


def test_resume_checkpoint_of_another_model(tmp_path):
    path = tmp_path / "resume.pt"
    save_resume(path, torch.nn.Linear(3, 4), epoch=1, step=10)
    model = torch.nn.Linear(3, 5)
    before = model.weight.clone()
    with pytest.raises(CheckpointError) as err:
        load_resume(path, model)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: model: does not fit Linear: size mismatch for weight")
    assert torch.equal(model.weight, before)


# ---- CLIP weights (common.clip.load_clip) ----------------------------------------------------------------------------
@pytest.fixture
def tiny_folder(tmp_path):
    config = tiny_open_clip_config("vit")
    write_json(tmp_path / "synthetic-tiny.json", config)
    torch.save(tiny_open_clip_state(config, 0), tmp_path / "open_clip_model.pt")
    return tmp_path


def test_clip_config_malformed_json(tiny_folder):
    path = tiny_folder / "synthetic-tiny.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(ValueError, match=f"^{path}: not valid JSON: ") as err:
        load_clip("synthetic-tiny", pretrained=tiny_folder)
    assert "\n" not in str(err.value)


def test_clip_weights_truncated(tiny_folder):
    path = tiny_folder / "open_clip_model.pt"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=f"^{path}: not a readable torch checkpoint"):
        load_clip("synthetic-tiny", pretrained=tiny_folder)


def test_clip_weights_of_another_backbone(tiny_folder):
    torch.save(tiny_open_clip_state(tiny_open_clip_config("resnet"), 0), tiny_folder / "open_clip_model.pt")
    with pytest.raises(ValueError) as err:
        load_clip("synthetic-tiny", pretrained=tiny_folder)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{tiny_folder}: weights do not fit the CLIP model: size mismatch")


# ---- submission validator (python -m common.submission) --------------------------------------------------------------
def _cirr_test_annotations(tmp_path: Path) -> tuple[Path, list[str]]:
    gallery = [f"test1-{i}-img0" for i in range(60)]
    records = [{"pairid": i, "reference": gallery[i], "caption": "c", "img_set": {"id": i, "members": gallery[i:i + 6]}}
               for i in (0, 1)]
    return write_json(tmp_path / "cap.rc2.test1.json", records), gallery


def test_validator_cli_rejects_duplicate_ids(tmp_path):
    annotations, gallery = _cirr_test_annotations(tmp_path)
    ranking = [g for g in gallery if g != gallery[0]][:49]
    submission = write_json(tmp_path / "recall_submission_run.json",
                            {"version": "rc2", "metric": "recall", "0": ranking + ranking[:1],
                             "1": [g for g in gallery if g != gallery[1]][:50]})
    proc = run(["-m", "common.submission", str(submission), "--kind", "cirr", "--annotations", str(annotations)])
    assert_fails_naming(proc, submission, "query 0", "duplicate")
    assert proc.stderr.strip().count("\n") == 0


def test_validator_cli_rejects_duplicate_circo_query_keys(tmp_path):
    submission = tmp_path / "circo.json"
    ranking = json.dumps([str(i) for i in range(50)])
    submission.write_text('{"0": %s, "1": %s, "0": %s}' % (ranking, ranking, ranking))
    proc = run(["-m", "common.submission", str(submission), "--kind", "circo"])
    assert_fails_naming(proc, submission, "duplicate")


def test_validator_cli_rejects_malformed_json(tmp_path):
    submission = tmp_path / "subset_submission_run.json"
    submission.write_text('{"version": "rc2", "metric": "recall_subset", "0": ["a", "b"')
    proc = run(["-m", "common.submission", str(submission), "--kind", "cirr_subset"])
    assert_fails_naming(proc, submission, "not valid JSON")


# ---- paper entry points and the baselines command (subprocesses) -----------------------------------------------------
def _baselines(root: Path, clip_dir: Path, out: Path) -> list[str]:
    return ["-m", "common.baselines", "--data-root", str(root), "--benchmarks", "fashioniq", "--backbone", "synthetic-tiny",
            "--pretrained", str(clip_dir), "--output-dir", str(out), "--no-cache", "--methods", "image_only"]


@pytest.mark.slow
def test_baselines_malformed_captions_write_nothing(micro_root, clip_dir, tmp_path):
    path = micro_root / "fashion-iq/captions/cap.shirt.val.json"
    path.write_text(path.read_text().replace('"candidate":', '"candidate"', 1))
    proc = run(_baselines(micro_root, clip_dir, tmp_path / "out"))
    assert_fails_naming(proc, path, "line 1 column")
    assert files_under(tmp_path / "out") == []


@pytest.mark.slow
def test_baselines_truncated_image_names_it_and_writes_nothing(micro_root, clip_dir, tmp_path):
    path = micro_root / "fashion-iq/images/shirtval3.png"
    noise = np.random.RandomState(0).randint(0, 255, (50, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:3000])
    proc = run(_baselines(micro_root, clip_dir, tmp_path / "out"))
    assert_fails_naming(proc, path, "image: unreadable")
    assert files_under(tmp_path / "out") == []


def _foreign_phi_checkpoint(path: Path) -> Path:
    """A LinCIR-format checkpoint for a 768-d backbone (the tiny CLIP is 32/64-d)."""
    return save_atomic({"epoch": 3, "Phi": {"layers.0.weight": torch.zeros(2048, 768),
                                            "layers.0.bias": torch.zeros(2048)}}, path)


@pytest.mark.slow
def test_lincir_resume_from_another_backbone(micro_root, clip_dir, tmp_path):
    ckpt = _foreign_phi_checkpoint(tmp_path / "phi_large.pt")
    out = tmp_path / "out"
    proc = run(["lincir/train_phi.py", "--clip_model_name", "synthetic-tiny", "--clip_pretrained", str(clip_dir),
                "--data-root", str(micro_root), "--output_dir", str(out), "--resume", str(ckpt),
                "--batch_size", "8", "--max_train_steps", "2", "--device", "cpu"])
    assert_fails_naming(proc, ckpt, "'Phi'", "another backbone")
    assert not list(out.rglob("*.pt")) and not (out / "metrics.json").exists()


@pytest.mark.slow
def test_fashionern_test_with_another_models_checkpoint(micro_root, clip_dir, tmp_path):
    ckpt = _foreign_phi_checkpoint(tmp_path / "not-ern.pth")
    out = tmp_path / "out"
    proc = run(["fashionern/run/test_fiq.py", "--data-root", str(micro_root), "--clip-model-name", "synthetic-tiny",
                "--clip-path", str(clip_dir), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu",
                "--output-dir", str(out), "--fusion-model-path", str(ckpt)])
    assert_fails_naming(proc, ckpt)
    assert "\n" not in proc.stderr.strip().splitlines()[-1]
    assert files_under(out) == []
