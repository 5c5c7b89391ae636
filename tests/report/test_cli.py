"""`trace-opt report` (and `doctor --no-call`) run as a user would run them."""
import subprocess
import sys


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "trace_opt.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_report_writes_the_page(run_dir, tmp_path):
    done = _cli("report", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run_dir / "report.html")
    assert "Score per step" in (run_dir / "report.html").read_text(encoding="utf-8")
    out = tmp_path / "custom.html"
    assert _cli("report", str(run_dir), "--out", str(out)).returncode == 0 and out.is_file()


def test_report_on_a_directory_without_events_fails_clearly(tmp_path):
    done = _cli("report", str(tmp_path))
    assert done.returncode != 0
    assert str(tmp_path) in done.stderr and "events.jsonl" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_subcommand_prints_help_and_fails():
    done = _cli()
    assert done.returncode == 2 and "report" in done.stderr


def test_cli_loads_no_heavy_module_until_a_command_runs():
    code = ("import sys, trace_opt.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'litellm', 'networkx', 'graphviz', 'trace_opt.report') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_doctor_without_a_call_names_the_model(monkeypatch):
    monkeypatch.setenv("TRACE_OPT_MODEL", "openai/gpt-4o-mini")
    monkeypatch.delenv("TRACE_OPT_API_BASE", raising=False)
    done = _cli("doctor", "--no-call")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "openai/gpt-4o-mini" in done.stdout and "not called" in done.stdout


def test_doctor_hides_credentials_in_the_server_address(monkeypatch):
    monkeypatch.setenv("TRACE_OPT_MODEL", "openai/some-model")
    monkeypatch.setenv("TRACE_OPT_API_BASE", "http://user:s3cret@127.0.0.1:9/v1")
    done = _cli("doctor", "--no-call")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "http://127.0.0.1:9/v1" in done.stdout and "s3cret" not in done.stdout
