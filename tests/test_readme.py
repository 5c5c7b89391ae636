"""The README's "A first look" example runs as written."""
import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    first_look = README.read_text().split("## A first look", 1)[1]
    snippet = re.findall(r"```python\n(.*?)```", first_look, re.S)[0]
    script = tmp_path / "readme_example.py"
    script.write_text(snippet)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(script), run_name="readme")
    assert "Round the price to cents." in capsys.readouterr().out
    assert (tmp_path / "quoter.json").exists()
