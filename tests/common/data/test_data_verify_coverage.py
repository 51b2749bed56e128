import subprocess
import sys
import warnings

import pytest

from common.data import DataFormatError, FashionIQ, check_coverage, coverage
from common.data.verify import main


def run(capsys, *argv):
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_complete_dataset_passes_with_any_sizes(fiq_root, files, capsys):
    files.image(fiq_root / "images" / "T2.png")
    status, out = run(capsys, "--dataset", "fashion-iq", "--root", str(fiq_root), "--expected", "any")
    assert status == 0, out
    assert "val/dress" in out and "queries 2, gallery 4" in out and "RESULT: OK" in out


def test_full_sizes_are_checked(fiq_root, files, capsys):
    files.image(fiq_root / "images" / "T2.png")
    status, out = run(capsys, "--dataset", "fashioniq", "--root", str(fiq_root))
    assert status == 1
    assert "queries 2 (full: 2017) MISMATCH" in out and "RESULT: BROKEN" in out


def test_missing_images_fail_unless_allowed(fiq_root, tmp_path, capsys):
    listing = tmp_path / "missing.txt"
    status, out = run(capsys, "--dataset", "fashioniq", "--root", str(fiq_root), "--expected", "any",
                      "--missing-out", str(listing))
    assert status == 1 and "missing: " in out and "T2.png" in out and "RESULT: PARTIAL (1 images missing)" in out
    assert listing.read_text() == f"{fiq_root / 'images' / 'T2.png'}\n"
    status, out = run(capsys, "--dataset", "fashioniq", "--root", str(fiq_root), "--expected", "any", "--allow-missing")
    assert status == 0 and "coverage 87.50%" in out


def test_unreadable_and_broken_files(fiq_root, files, capsys):
    files.text(fiq_root / "images" / "T2.png", "not a png")
    status, out = run(capsys, "--dataset", "fashioniq", "--root", str(fiq_root), "--expected", "any")
    assert status == 1 and "unreadable: " in out and "T2.png" in out
    files.image(fiq_root / "images" / "T2.png")
    (fiq_root / "captions" / "cap.shirt.train.json").write_text("{")
    status, out = run(capsys, "--dataset", "fashioniq", "--root", str(fiq_root), "--expected", "any")
    assert status == 1 and "train/shirt" in out and "cap.shirt.train.json: line 1 column 2: malformed JSON" in out


def test_wrong_root_and_unknown_dataset(tmp_path, capsys):
    status, out = run(capsys, "--dataset", "cirr", "--root", str(tmp_path), "--expected", "any")
    assert status == 1 and "no split of cirr found" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--dataset", "mscoco", "--root", str(tmp_path)])
    assert exit_.value.code == 2


def test_module_entry_point(fiq_root):
    result = subprocess.run([sys.executable, "-m", "common.data.verify", "--dataset", "fashioniq", "--root",
                             str(fiq_root), "--expected", "any", "--no-decode"], capture_output=True, text=True)
    assert result.returncode == 1 and "RESULT: PARTIAL" in result.stdout


def test_coverage_record_and_loud_partial_check(fiq_root, capsys):
    reader = FashionIQ(fiq_root, "val")
    assert coverage(reader) == {"dataset": "fashion-iq", "split": "val", "referenced": 8, "present": 7,
                                "missing": 1, "fraction": 7 / 8}
    with pytest.raises(DataFormatError, match="T2.png: image: missing; PARTIAL DATASET"):
        check_coverage(reader, allow_partial=False)
    with pytest.warns(RuntimeWarning, match="PARTIAL DATASET: fashion-iq val: 1 of 8"):
        report = check_coverage(reader, allow_partial=True)
    assert report["fraction"] == 7 / 8
    assert "WARNING: PARTIAL DATASET" in capsys.readouterr().err


def test_complete_coverage_is_silent(fiq_root, files):
    files.image(fiq_root / "images" / "T2.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_coverage(FashionIQ(fiq_root, "val"), allow_partial=False)["fraction"] == 1.0


def test_final_turn_target_must_be_in_the_fashionmt_gallery(tmp_path, files, capsys):
    root = tmp_path / "FashionMT"
    record = {key: "x" for key in ("mod1", "mod2", "mod3", "cap0", "cap1", "cap2", "cap3")}
    images = {"ref": "1/a.jpg", "tar1": "2/b.jpg", "tar2": "3/c.jpg", "tar3": "4/d.jpg"}
    files.json(root / "modifiers" / "FC_test_cap.json", [dict(record, **images)])
    files.text(root / "modifiers" / "FC_index_names.txt", "1/a.jpg\n2/b.jpg\n3/c.jpg\n")
    for name in images.values():
        files.image(root / "images" / name)
    status, out = run(capsys, "--dataset", "FashionMT", "--root", str(root), "--expected", "any")
    assert status == 1 and "1 final-turn targets are not exactly once in FC_index_names.txt (first: 4/d.jpg)" in out
    files.text(root / "modifiers" / "FC_index_names.txt", "1/a.jpg\n2/b.jpg\n3/c.jpg\n4/d.jpg\n")
    status, out = run(capsys, "--dataset", "fashionmt", "--root", str(root), "--expected", "any")
    assert status == 0, out


def test_cirr_val_target_must_be_in_its_group(tmp_path, files, capsys):
    root = tmp_path / "cirr_dataset"
    names = [f"dev-{i}-0-img0" for i in range(7)]
    files.json(root / "cirr" / "image_splits" / "split.rc2.val.json", {n: f"./dev/{n}.png" for n in names})
    files.json(root / "cirr" / "captions" / "cap.rc2.val.json",
               [{"pairid": 4, "reference": names[0], "target_hard": names[6], "caption": "c",
                 "img_set": {"id": 1, "members": names[:6]}}])
    for name in names:
        files.image(root / "dev" / f"{name}.png")
    status, out = run(capsys, "--dataset", "cirr", "--root", str(root), "--expected", "any")
    assert status == 1 and "1 targets are not exactly once in their img_set (first pairid: 4)" in out
