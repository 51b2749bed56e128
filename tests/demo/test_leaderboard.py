"""The leaderboard: one table per protocol from every metrics.json, the producing command, newest run wins."""
import json
import os

from demo.leaderboard import write_leaderboard


def _run(root, rel, method, protocol, metrics, mtime, variant=None):
    path = root / rel / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"method": method, "protocol": protocol, "metrics": metrics, "variant": variant}))
    os.utime(path, (mtime, mtime))
    return path


def test_tables_rows_commands_and_newest_run(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "lincir/train", "lincir", "cirr.rc2", {"R@1": 10.0, "avg": 40.0}, 1000)
    evaluated = _run(runs, "lincir/eval", "lincir", "cirr.rc2", {"R@1": 12.0, "avg": 45.5}, 2000)
    _run(runs, "baselines/fs", "feature_sum", "cirr.rc2", {"R@1": 11.0, "avg": 50.0}, 1500)
    _run(runs, "mai/fc", "mai", "fashionmt.final_turn", {"R@1": 1.0, "mean": 20.0}, 1500, variant="fc")
    _run(runs, "lincir/submission", "lincir", "cirr.rc2", {}, 3000)  # a test-server run: no labels, no row
    _run(runs, "lincir/server", "lincir", "cirr.rc2", {"cirr_queries": 125.0}, 3100)  # counts only: no row either
    _run(runs, "fti4cir/train", "fti4cir", "fti4cir.train", {"loss": 1.0}, 3000)  # not a benchmark protocol
    (runs / "lincir" / "commands.json").write_text(json.dumps({str(evaluated.resolve()): "python lincir/validate.py"}))
    md, js, tables = write_leaderboard(runs, tmp_path)
    cirr = tables["cirr.rc2"]
    assert [r["method"] for r in cirr["rows"]] == ["feature_sum", "lincir"]  # best avg first; lincir once
    assert cirr["rows"][1]["values"]["avg"] == 45.5  # the evaluation superseded the training run
    assert cirr["rows"][1]["command"] == "python lincir/validate.py"
    assert tables["fashionmt.final_turn"]["rows"][0]["method"] == "mai (fc)"
    assert set(tables) == {"cirr.rc2", "fashionmt.final_turn"}
    text = md.read_text()
    assert "| lincir | 12.00 |" in text and "`python lincir/validate.py`" in text
    assert json.loads(js.read_text())["cirr.rc2"]["columns"] == ["R@1", "avg"]  # the paper columns present
