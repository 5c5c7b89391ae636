"""The report opened in headless Chromium (Debian's `chromium`): it renders, and the console
stays silent. This Chromium logs every console message (errors included) as INFO:CONSOLE on
stderr without its level, and the page has no script, so any CONSOLE line is a failure."""
import re
import shutil
import subprocess

import pytest

from trace_opt.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium; scripts/setup_env.sh does it as root)")
CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")


def _open(path, tmp_path):
    """(DOM as Chromium built it, console lines) for a file."""
    profile = tmp_path / "profile"
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
                           path.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [m.group(1) for m in map(CONSOLE.search, done.stderr.splitlines()) if m]


def test_the_console_check_sees_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); nosuch();</script></body></html>")
    _, console = _open(bad, tmp_path)
    assert any("boom" in line for line in console) and any("nosuch" in line for line in console)


def test_report_renders_without_console_messages(run_dir, tmp_path):
    dom, console = _open(write_report(run_dir), tmp_path)
    assert console == []
    assert "<h2>Scores, cost and tokens</h2>" in dom and "<h2>Parameters</h2>" in dom and "<h2>Last trace</h2>" in dom
    assert dom.count('<svg class="chart"') == 4
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # still text after the browser parsed it
