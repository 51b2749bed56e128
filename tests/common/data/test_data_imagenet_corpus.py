import importlib.util

import pandas
import pytest

from common.data import CaptionCorpus, DataFormatError, ImageCaptionPair, ImageNetCaptions, load_hf_captions


def test_imagenet_caption_pairs(tmp_path, files):
    root = tmp_path / "imagenet"
    files.json(root / "blip_pairs.json", [{"img_id": "00000001", "subject": "a dog", "attribute": "on grass"},
                                          {"img_id": "00000002", "subject": "a cat", "attribute": "asleep"}])
    files.image(root / "test" / "ILSVRC2012_test_00000001.JPEG")
    reader = ImageNetCaptions(root)
    assert reader.queries == [ImageCaptionPair("00000001", "a dog", "on grass"),
                              ImageCaptionPair("00000002", "a cat", "asleep")]
    assert reader.gallery() == ["00000001", "00000002"]
    assert reader.missing_images() == ["00000002"]
    files.json(root / "pairs2.json", [{"img_id": 3, "subject": "s", "attribute": "a"}])
    with pytest.raises(DataFormatError, match="pairs2.json: \\[0\\].img_id: expected str, got int"):
        ImageNetCaptions(root, pairs_file=root / "pairs2.json")


def test_corpus_reads_every_format_in_name_order(tmp_path, files):
    root = tmp_path / "corpus"
    files.text(root / "a.txt", "a red dress\n\n  two dogs  \n")
    files.text(root / "b.jsonl", '{"text": "from jsonl", "id": 1}\n\n{"text": "second"}\n')
    pandas.DataFrame({"text": ["from csv, with comma"], "x": [1]}).to_csv(root / "c.csv", index=False)
    pandas.DataFrame({"caption": ["from parquet"]}).to_parquet(root / "d.parquet")
    files.text(root / "notes.md", "ignored")
    with pytest.raises(DataFormatError, match="d.parquet: text: missing column"):
        CaptionCorpus(root)
    corpus = CaptionCorpus(root, files=["a.txt", "b.jsonl", "c.csv"])
    assert corpus.queries == ["a red dress", "two dogs", "from jsonl", "second", "from csv, with comma"]
    assert CaptionCorpus(root, files=["d.parquet"], column="caption").queries == ["from parquet"]
    assert corpus.gallery() == [] and corpus.missing_images() == []
    with pytest.raises(DataFormatError, match="no images"):
        corpus.image_path("x")


def test_corpus_bad_jsonl_line(tmp_path, files):
    root = tmp_path / "corpus"
    path = files.text(root / "a.jsonl", '{"text": "ok"}\n{"caption": "no text key"}\n')
    with pytest.raises(DataFormatError, match=f"{path}: line 2.text: missing key"):
        CaptionCorpus(root)


def test_corpus_skips_null_and_blank_captions_and_refuses_other_types(tmp_path, files, capsys):
    root = tmp_path / "corpus"
    files.text(root / "a.jsonl", '{"text": "kept"}\n{"text": null}\n{"text": "   "}\n{"text": "also kept"}\n')
    pandas.DataFrame({"text": ["row", None, ""]}).to_parquet(root / "b.parquet")
    assert CaptionCorpus(root).queries == ["kept", "also kept", "row"]
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == [f"WARNING: {root / 'a.jsonl'}: skipped 2 null or blank caption(s)",
                        f"WARNING: {root / 'b.parquet'}: skipped 2 null or blank caption(s)"]
    path = files.text(root / "c.jsonl", '{"text": "fine"}\n{"text": 7}\n')
    with pytest.raises(DataFormatError, match=f"{path}: line 2.text: expected a caption string, got 7"):
        CaptionCorpus(root, files=["c.jsonl"])


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None
                    and hasattr(importlib.import_module("datasets"), "load_dataset"),
                    reason="the Hugging Face datasets package is installed")
def test_hf_loader_explains_a_missing_package():
    with pytest.raises(ModuleNotFoundError, match="pip install datasets"):
        load_hf_captions("dangne/gcc_caption_only")
