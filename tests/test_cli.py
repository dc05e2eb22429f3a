from __future__ import annotations

import subprocess
import sys

from flows.artifacts import escape_markdown
from flows.cli import main


def test_missing_input_is_one_clear_line(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("newsdedup: error: input not found") and err.count("\n") == 1
    assert "Traceback" not in err


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "flows.cli", "--help"], capture_output=True, text=True, check=True)
    assert "evaluate" in out.stdout and "inspect" in out.stdout


def test_inspect_on_a_missing_output_is_a_clear_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 2
    assert "is it the --output of a newsdedup run" in capsys.readouterr().err.replace(f"{tmp_path} ", "is it ")


def test_artifact_text_is_escaped():
    hostile = "<script>alert(1)</script> [click](http://evil.example) **bold** | cell"
    escaped = escape_markdown(hostile)
    assert "<script>" not in escaped and "](" not in escaped and "**" not in escaped
    assert "\\|" in escaped


def test_a_broken_link_is_a_missing_input(tmp_path, capsys):
    link = tmp_path / "gone"
    link.symlink_to(tmp_path / "nowhere")
    assert main(["run", str(link), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("newsdedup: error: input not found")


def test_evaluate_to_an_unwritable_place_fails_before_running(tmp_path, capsys):
    assert main(["evaluate", "ecbplus-dev", "--json", str(tmp_path / "no" / "such" / "dir.json")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("newsdedup: error: cannot write") and "Event clustering" not in captured.out
