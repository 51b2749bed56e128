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


def test_genecis_ranked_by_r1_with_the_four_task_average_first(tmp_path):
    runs = tmp_path / "runs"
    tasks = ("focus_attribute", "change_attribute", "focus_object", "change_object")
    for i, task in enumerate(tasks):
        _run(runs, f"lincir/{task}", "lincir", f"genecis.{task}", {"R@1": 20.0 + i, "R@3": 40.0}, 1000)
        _run(runs, f"fs/{task}", "feature_sum", f"genecis.{task}", {"R@1": 10.0, "R@3": 60.0}, 1000)
    _run(runs, "partial/focus_object", "partial", "genecis.focus_object", {"R@1": 90.0, "R@3": 90.0}, 1000)
    md, _, tables = write_leaderboard(runs, tmp_path)
    assert [r["method"] for r in tables["genecis.change_attribute"]["rows"]] == ["lincir", "feature_sum"]  # by R@1
    average = tables["genecis.average"]
    assert [(r["method"], r["values"]["R@1"]) for r in average["rows"]] == [("lincir", 21.5), ("feature_sum", 10.0)]
    assert list(tables)[0] == "genecis.average"  # before the task tables; "partial" has one task: no average
    assert "## GeneCIS — `genecis.average`" in md.read_text()
