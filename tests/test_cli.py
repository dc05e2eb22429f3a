from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_evaluate_on_a_named_benchmark_reports_the_near_duplicates(tmp_path, capsys, monkeypatch):
    import json

    from dedup.evaluation import harness
    from tests.test_harness import WITH_COPY

    monkeypatch.setattr(harness, "load_benchmark", lambda name: list(WITH_COPY))
    out = tmp_path / "scores.json"
    assert main(["evaluate", "ecbplus-dev", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Event clustering on ecbplus-dev" in text
    assert "Near-duplicates: 10 originals + 20 planted copies (copies=2, seed=0)" in text
    assert "Real copies (word 5-gram Jaccard >= 0.5) in 10 articles: 1/1 pairs" in text
    result = json.loads(out.read_text())
    assert result["near_duplicates"]["kind"] == "near_duplicates" and result["near_duplicates"]["seed"] == 0
    assert result["near_duplicates"]["pairwise_copies_joined"]["pairwise_precision"] == 1.0
    assert result["real_copies"]["found"] == result["real_copies"]["copy_pairs"] == 1


def test_evaluate_plants_other_copies_with_another_variant_seed(tmp_path, capsys, monkeypatch):
    import json

    from dedup.evaluation import harness
    from tests.test_harness import WITH_COPY

    monkeypatch.setattr(harness, "load_benchmark", lambda name: list(WITH_COPY))
    planted = {}
    for seed in (0, 3):
        out = tmp_path / f"scores-{seed}.json"
        assert main(["evaluate", "ecbplus-train", "--variant-seed", str(seed), "--json", str(out)]) == 0
        assert f"(copies=2, seed={seed})" in capsys.readouterr().out
        near = json.loads(out.read_text())["near_duplicates"]
        assert near["seed"] == seed and near["n_copies"] == 20
        planted[seed] = near["per_transform"]
    assert planted[0] != planted[3]  # other changes were planted


@pytest.mark.parametrize("value", ["-1", "two"])
def test_evaluate_refuses_a_bad_variant_seed(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "ecbplus-dev", "--variant-seed", value])
    assert stop.value.code == 2 and "--variant-seed" in capsys.readouterr().err


def test_evaluate_on_a_labelled_file_scores_the_clustering_only(tmp_path, capsys):
    import json

    from tests.test_harness import CORPUS

    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps({"id": a.id, "text": a.text, "event": a.event}) + "\n" for a in CORPUS))
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(path), "--json", str(out)]) == 0
    assert "Near-duplicates" not in capsys.readouterr().out
    assert "near_duplicates" not in json.loads(out.read_text())
