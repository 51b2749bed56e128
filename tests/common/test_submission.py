"""Submission writers produce server-format files; the validator rejects every broken case with its reason."""
import json
import subprocess
import sys

import pytest

from common.submission import SubmissionError, validate_submission, write_circo_submission, write_cirr_submission

GALLERY = [f"test1-{i}-img0" for i in range(80)]


def _cirr_annotations():
    records = []
    for pairid in (7, 12, 30):
        members = GALLERY[pairid:pairid + 6]
        records.append({"pairid": pairid, "reference": members[0], "caption": "c",
                        "img_set": {"id": pairid, "members": members}})
    return records


def _cirr_rankings(records):
    ranked = [[n for n in GALLERY if n != r["reference"]][:60] for r in records]
    subset = [[m for m in r["img_set"]["members"] if m != r["reference"]] for r in records]
    return ranked, subset


@pytest.fixture
def cirr_files(tmp_path):
    records = _cirr_annotations()
    annotations = tmp_path / "cap.rc2.test1.json"
    annotations.write_text(json.dumps(records))
    ranked, subset = _cirr_rankings(records)
    recall, recall_subset = write_cirr_submission(tmp_path / "sub", "run", [r["pairid"] for r in records],
                                                  ranked, subset)
    return recall, recall_subset, annotations


def test_cirr_writer_format(cirr_files):
    recall, recall_subset, annotations = cirr_files
    content = json.loads(recall.read_text())
    assert content["version"] == "rc2" and content["metric"] == "recall"
    assert sorted(k for k in content if k not in ("version", "metric")) == ["12", "30", "7"]
    assert len(content["7"]) == 50 and "test1-7-img0" not in content["7"]
    assert recall.read_text() == json.dumps(content, sort_keys=True) + "\n"
    subset = json.loads(recall_subset.read_text())
    assert subset["metric"] == "recall_subset" and subset["12"] == GALLERY[13:16]
    assert validate_submission(recall, "cirr", annotations) == 3
    assert validate_submission(recall_subset, "cirr_subset", annotations) == 3


def _rewrite(path, mutate):
    content = json.loads(path.read_text())
    mutate(content)
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("mutate,reason", [
    (lambda c: c.pop("version"), '"version" must be "rc2"'),
    (lambda c: c.update(metric="recall_subset"), '"metric" must be "recall"'),
    (lambda c: c.update({"7": c["7"][:49]}), "query 7: 49 ids, expected 50"),
    (lambda c: c.update({"7": c["7"][:49] + c["7"][:1]}), "query 7: duplicate ids"),
    (lambda c: c.update({"7": c["7"][:49] + ["test1-7-img0"]}), "query 7: ranking contains its reference"),
    (lambda c: c.pop("30"), "1 annotated queries missing, e.g. 30"),
    (lambda c: c.update({"99": c["7"]}), "1 queries not in the annotations, e.g. 99"),
    (lambda c: c.update({"07": c.pop("7")}), "key '07' is not a query id"),
    (lambda c: c.update({"7": [1] * 50}), "query 7: ranking must be a list of strings"),
])
def test_validator_rejects_broken_cirr(cirr_files, mutate, reason):
    recall, _, annotations = cirr_files
    with pytest.raises(SubmissionError, match="^" + str(recall).replace("\\", "\\\\") + ".*") as err:
        validate_submission(_rewrite(recall, mutate), "cirr", annotations)
    assert reason in str(err.value)


def test_validator_rejects_subset_outside_group(cirr_files):
    _, recall_subset, annotations = cirr_files
    _rewrite(recall_subset, lambda c: c.update({"12": ["test1-70-img0"] + c["12"][1:]}))
    with pytest.raises(SubmissionError, match="test1-70-img0 is not in its img_set.members"):
        validate_submission(recall_subset, "cirr_subset", annotations)


def test_writer_refuses_short_rankings(tmp_path):
    with pytest.raises(SubmissionError, match="49 ids, expected 50"):
        write_cirr_submission(tmp_path, "x", [1], [GALLERY[:49]], [GALLERY[:3]])
    assert not list(tmp_path.iterdir())


def test_circo_writer_and_validator(tmp_path):
    annotations = tmp_path / "test.json"
    annotations.write_text(json.dumps([{"id": i, "reference_img_id": 1000 + i, "relative_caption": "c",
                                        "shared_concept": "s"} for i in range(4)]))
    ranked = [[1000 + j for j in range(i, i + 50)] for i in range(4)]
    path = write_circo_submission(tmp_path / "circo.json", range(4), ranked)
    content = json.loads(path.read_text())
    assert set(content) == {"0", "1", "2", "3"} and content["2"][0] == "1002"
    assert "version" not in content
    assert validate_submission(path, "circo", annotations) == 4
    _rewrite(path, lambda c: c.pop("3"))
    with pytest.raises(SubmissionError, match="annotated queries missing, e.g. 3"):
        validate_submission(path, "circo", annotations)


def test_validator_rejects_invalid_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SubmissionError, match="not valid JSON"):
        validate_submission(bad, "circo")


def test_command_line_exit_codes(cirr_files):
    recall, _, annotations = cirr_files
    ok = subprocess.run([sys.executable, "-m", "common.submission", str(recall), "--kind", "cirr",
                         "--annotations", str(annotations)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    _rewrite(recall, lambda c: c.pop("12"))
    for module in ("common.submission", "common.submission.validate"):  # the brief's and the core API's names
        bad = subprocess.run([sys.executable, "-m", module, str(recall), "--kind", "cirr",
                              "--annotations", str(annotations)], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1
        assert bad.stderr.strip().count("\n") == 0 and "missing, e.g. 12" in bad.stderr
