"""The demo orchestrator: methods run side by side, a failing method stops only itself, commands are attributed."""
import json
import textwrap

import pytest

import demo.run

STEP = textwrap.dedent("""
    import json, pathlib, sys, time
    out, name, fail = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
    start = time.time(); time.sleep(0.6)
    (out / name).mkdir(parents=True, exist_ok=True)
    (out / name / "span.json").write_text(json.dumps([start, time.time()]))
    (out / name / "metrics.json").write_text(json.dumps({"method": out.name, "protocol": "cirr.rc2",
                                                         "metrics": {"R@1": 1.0}}))
    sys.exit(1 if fail else 0)
""")


@pytest.fixture
def fake_methods(tmp_path, monkeypatch):
    """Two importable fake methods: `okmethod` (two steps) and `badmethod` (its first step fails)."""
    for method, fails in (("okmethod", ("0", "0")), ("badmethod", ("1", "0"))):
        package = tmp_path / "pkgs" / method
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "demo.py").write_text(textwrap.dedent(f"""
            import sys
            STEP = {STEP!r}
            def commands(data_root, out_root):
                return [[sys.executable, "-c", STEP, out_root, f"step{{i}}", fail] for i, fail in enumerate({fails!r})]
        """))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setattr(demo.run, "METHODS", ["okmethod", "badmethod"])
    return tmp_path


def test_methods_run_side_by_side_and_a_failure_stays_local(fake_methods, synthetic_root, tiny_clip_dir, capsys):
    out = fake_methods / "outputs"
    code = demo.run.main(["--data-root", str(synthetic_root), "--output-dir", str(out), "--skip-baselines",
                          "--jobs", "2"])
    printed = capsys.readouterr().out
    assert code == 1
    summary = json.loads((out / "demo_summary.json").read_text())
    assert len(summary["failures"]) == 1 and summary["failures"][0].startswith("badmethod [1]")
    assert "badmethod [2]: skipped (an earlier step of badmethod failed)" in printed
    runs = out / "runs"
    assert not (runs / "badmethod" / "step1").exists()  # the step after the failure never ran
    ok_spans = [json.loads((runs / "okmethod" / f"step{i}" / "span.json").read_text()) for i in (0, 1)]
    assert ok_spans[0][1] <= ok_spans[1][0]  # one method's steps stay in order
    bad_span = json.loads((runs / "badmethod" / "step0" / "span.json").read_text())
    assert bad_span[0] < ok_spans[0][1] and ok_spans[0][0] < bad_span[1]  # the two methods overlapped
    commands = json.loads((runs / "okmethod" / "commands.json").read_text())
    produced = str((runs / "okmethod" / "step1" / "metrics.json").resolve())
    assert commands[produced].startswith("python -c ") and commands[produced].endswith(" step1 0")


def test_one_job_runs_methods_one_after_the_other(fake_methods, synthetic_root, tiny_clip_dir):
    out = fake_methods / "outputs"
    demo.run.main(["--data-root", str(synthetic_root), "--output-dir", str(out), "--skip-baselines", "--jobs", "1"])
    spans = sorted(json.loads(p.read_text()) for p in (out / "runs").rglob("span.json"))
    assert len(spans) == 3 and all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
