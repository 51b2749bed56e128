"""generate_test_submission on the synthetic test splits: valid server files whose rankings are LinCIR's queries."""
import json

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from common.clip import load_clip
from common.data import CIRCO, CIRR
from common.submission import validate_submission
from lincir import generate_test_submission
from lincir.models.phi import build_phi


@pytest.fixture(scope="module")
def phi_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lincir_phi") / "phi_best.pt"
    torch.save({"epoch": 7, "Phi": build_phi(128, 128).state_dict()}, path)  # synthetic-tiny: 128 -> 512 -> 128
    return path


def _run(dataset, synthetic_root, tiny_clip_dir, phi_checkpoint, out):
    return generate_test_submission.main(["--dataset", dataset, "--submission-name", "t", "--clip_model_name",
                                          "synthetic-tiny", "--clip_pretrained", str(tiny_clip_dir),
                                          "--phi-checkpoint-name", str(phi_checkpoint),
                                          "--data-root", str(synthetic_root), "--output-dir", str(out),
                                          "--device", "cpu"])


@torch.no_grad()
def _expected_top1(tiny_clip_dir, phi_checkpoint, references, captions, gallery, image_path, exclude_reference):
    """The LinCIR query computed here from scratch: Phi(image feature) at `$` of "a photo of $ that {caption}"."""
    clip = load_clip("synthetic-tiny", pretrained=str(tiny_clip_dir)).eval()
    phi = build_phi(clip.embed_dim, clip.text_width).eval()
    phi.load_state_dict(torch.load(phi_checkpoint, weights_only=True)["Phi"])

    def images(names):
        return clip.encode_image(torch.stack([clip.preprocess(Image.open(image_path(n)).convert("RGB"))
                                              for n in names])).float()

    g = F.normalize(images(gallery), dim=-1)
    ids = clip.tokenize([f"a photo of $ that {c}" for c in captions])
    q = F.normalize(clip.encode_text_with_pseudo_tokens(ids, phi(images(references)), placeholder="$"), dim=-1)
    scores = q @ g.T
    if exclude_reference:
        scores[torch.arange(len(references)), [gallery.index(r) for r in references]] = -2.0
    return [gallery[i] for i in scores.argmax(1).tolist()]


def test_cirr_files_exclude_the_reference_and_rank_like_the_queries(synthetic_root, tiny_clip_dir, phi_checkpoint,
                                                                  tmp_path):
    recall_path, subset_path = _run("cirr", synthetic_root, tiny_clip_dir, phi_checkpoint, tmp_path)
    reader = CIRR(synthetic_root / "cirr_dataset", "test1")
    assert validate_submission(recall_path, "cirr") == validate_submission(subset_path, "cirr_subset") == len(
        reader.queries)
    recall, subset = json.loads(recall_path.read_text()), json.loads(subset_path.read_text())
    assert (recall["version"], recall["metric"], subset["metric"]) == ("rc2", "recall", "recall_subset")
    for q in reader.queries:
        full, top3 = recall[str(q.pairid)], subset[str(q.pairid)]
        assert len(full) == 50 and q.reference not in full
        assert len(top3) == 3 and set(top3) <= set(q.members) - {q.reference}
        in_full = [n for n in full if n in top3]  # the subset ranking is the full ranking restricted to the group
        assert in_full == [n for n in top3 if n in in_full]
    expected = _expected_top1(tiny_clip_dir, phi_checkpoint, [q.reference for q in reader.queries],
                              [q.caption for q in reader.queries], list(reader.gallery()), reader.image_path, True)
    agree = sum(recall[str(q.pairid)][0] == e for q, e in zip(reader.queries, expected))
    assert agree >= 0.95 * len(expected)  # fp16 gallery cache: rare near-ties may swap


def test_circo_file_ranks_the_whole_gallery_like_the_queries(synthetic_root, tiny_clip_dir, phi_checkpoint, tmp_path):
    (path,) = _run("circo", synthetic_root, tiny_clip_dir, phi_checkpoint, tmp_path)
    reader = CIRCO(synthetic_root / "CIRCO", "test")
    assert path == tmp_path / "circo" / "t.json" and validate_submission(path, "circo") == len(reader.queries)
    content = json.loads(path.read_text())
    assert set(content) == {str(q.query_id) for q in reader.queries} and all(len(v) == 50 for v in content.values())
    gallery = list(reader.gallery("circo.relcap"))
    expected = _expected_top1(tiny_clip_dir, phi_checkpoint, [q.reference for q in reader.queries],
                              [q.relative_caption for q in reader.queries], gallery, reader.image_path, False)
    agree = sum(content[str(q.query_id)][0] == e for q, e in zip(reader.queries, expected))
    assert agree >= 0.95 * len(expected)
