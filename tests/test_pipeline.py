from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup import schema
from dedup.pipeline import run_pipeline
from dedup.text import split_sentences
from tests.corpus import QUAKE_A, QUAKE_B, UNRELATED

FURNITURE = re.compile(
    r"skip to|leave a (reply|comment)|source link|press play|tags:|related articles|"
    r"translate|support so|email address",
    re.IGNORECASE,
)


def write_corpus(root: Path) -> None:
    root.mkdir()
    for i, (title, text) in enumerate([*QUAKE_A, *QUAKE_B, UNRELATED]):
        (root / f"doc{i}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    # An exact copy of doc0 with other furniture, and bad inputs next to the good ones.
    (root / "doc0-copy.txt").write_text(f"Skip to content\n{QUAKE_A[0][0]}\n\n{QUAKE_A[0][1]}\nLeave a Reply\n")
    (root / "empty.txt").write_text("   \n")
    (root / "broken.jsonl").write_text('{"id": "j1", "text": "ok"\n{"id": "j2"}\n')
    (root / "notes.docx").write_bytes(b"PK\x03\x04")


def read(output: Path, name: str) -> list[dict]:
    return pq.read_table(output / name).to_pylist()


def test_outputs_follow_the_contract(tmp_path):
    corpus, output = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus)
    report = run_pipeline([corpus], output)
    for name, expected in schema.OUTPUT_SCHEMAS.items():
        assert pq.read_schema(output / name).equals(expected, check_metadata=False), name
    articles = read(output, "articles.parquet")
    assert len(articles) == 8
    clusters = read(output, "clusters.parquet")
    by_article = {a["article_id"]: a["cluster_id"] for a in articles}
    # Planted structure: the two earthquakes and the rate decision are three events.
    assert len({by_article[f"doc{i}"] for i in range(3)}) == 1
    assert len({by_article[f"doc{i}"] for i in range(3, 6)}) == 1
    assert len({by_article["doc0"], by_article["doc3"], by_article["doc6"]}) == 3
    assert len(clusters) == 3
    assert sum(c["size"] for c in clusters) == len(articles)
    dups = read(output, "duplicates.parquet")
    assert [(d["article_id"], d["duplicate_of"], d["method"]) for d in dups] == [("doc0-copy", "doc0", "exact")]
    rejects = {(Path(r["input"]).name, r["record"]): r["reason"] for r in read(output, "rejects.parquet")}
    assert "whitespace" in rejects[("empty.txt", "")]
    assert "unsupported file type" in rejects[("notes.docx", "")]
    assert "JSON" in rejects[("broken.jsonl", "line 1")]
    assert "text" in rejects[("broken.jsonl", "line 2")]
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["files"]["articles.parquet"]["rows"] == 8
    stages = [s.stage for s in report.stages]
    assert stages == ["ingest", "signatures", "duplicates", "events", "publish"]
    assert not (output / ".work").exists()


def test_cluster_rows_gather_their_members_dates_and_sources(tmp_path):
    # One event told three times plus an exact copy (its date and source count too), with
    # dates and sources partly missing; an unrelated article with neither.
    rows = [
        {"id": "q2", "title": QUAKE_A[2][0], "text": QUAKE_A[2][1], "source": "", "published_at": None},
        {"id": "q0", "title": QUAKE_A[0][0], "text": QUAKE_A[0][1], "source": "Wire B",
         "published_at": "2024-03-05T10:00:00Z"},
        {"id": "q1", "title": QUAKE_A[1][0], "text": QUAKE_A[1][1], "source": "Wire A",
         "published_at": "2024-03-04T08:00:00Z"},
        {"id": "q0-copy", "title": QUAKE_A[0][0], "text": QUAKE_A[0][1], "source": "Wire A",
         "published_at": "2024-03-07T09:30:00Z"},
        {"id": "other", "title": UNRELATED[0], "text": UNRELATED[1]},
    ]
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run_pipeline([corpus], tmp_path / "out")
    event, alone = read(tmp_path / "out", "clusters.parquet")  # the larger first
    assert (event["size"], event["n_canonical"]) == (4, 3)
    assert event["article_ids"] == ["q0", "q0-copy", "q1", "q2"]
    assert event["sources"] == ["Wire A", "Wire B"]
    assert (event["first_published"].isoformat(), event["last_published"].isoformat()) == (
        "2024-03-04T08:00:00+00:00", "2024-03-07T09:30:00+00:00")
    assert alone["article_ids"] == ["other"] and alone["sources"] == []
    assert alone["first_published"] is None and alone["last_published"] is None


def test_same_input_same_output(tmp_path):
    corpus = tmp_path / "in"
    write_corpus(corpus)
    run_pipeline([corpus], tmp_path / "a")
    run_pipeline([corpus], tmp_path / "b")
    for name in ("articles.parquet", "clusters.parquet", "duplicates.parquet"):
        assert pq.read_table(tmp_path / "a" / name).equals(pq.read_table(tmp_path / "b" / name)), name


def test_same_output_whatever_the_string_hash_seed(tmp_path):
    """Python's string hashing changes per process (set and dict order of strings); nothing
    published may depend on it."""
    import os
    import subprocess
    import sys

    corpus = tmp_path / "in"
    write_corpus(corpus)
    root = Path(__file__).resolve().parents[1]
    script = "import sys; from dedup.pipeline import run_pipeline; run_pipeline([sys.argv[1]], sys.argv[2])"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, "-c", script, str(corpus), str(tmp_path / seed)], env=env, check=True)
    for name in ("articles.parquet", "clusters.parquet", "duplicates.parquet"):
        assert pq.read_table(tmp_path / "1" / name).equals(pq.read_table(tmp_path / "2" / name)), name


@pytest.fixture(scope="module")
def seed_run(
    tmp_path_factory,
) -> Path:
    from tests.conftest import SEEDS

    root = tmp_path_factory.mktemp("seeds")
    inputs = root / "in"
    shutil.copytree(SEEDS, inputs)
    # A syndicated copy of 002: other header and footer, a few words changed.
    original = (SEEDS / "002_a03ffca65ad64806.txt").read_text(encoding="utf-8")
    lines = original.splitlines()
    body = "\n".join(lines[1:-3])
    body = (
        body.replace("significant", "notable").replace("steadfastness", "firmness").replace("reporters", "journalists")
    )
    copy = f"Home | World | Europe\n{lines[0]} | World News Daily\n\n{body}\n\nShare this article\nComments\n"
    (inputs / "syndicated_copy.txt").write_text(copy, encoding="utf-8")
    output = root / "out"
    run_pipeline([inputs], output)
    return output


def test_seed_copy_joins_its_original(seed_run):
    dups = read(seed_run, "duplicates.parquet")
    assert [(d["article_id"], d["duplicate_of"]) for d in dups] == [("syndicated_copy", "002_a03ffca65ad64806")]
    assert dups[0]["similarity"] > 0.8


def test_seeds_make_two_events_with_clean_summaries(seed_run):
    clusters = read(seed_run, "clusters.parquet")
    groups = sorted(sorted(a[:3] for a in c["article_ids"]) for c in clusters)
    assert groups == [["000", "001", "002", "003", "syn"], ["004"]]
    for cluster in clusters:
        sentences = cluster["summary_sentences"]
        assert 3 <= len(sentences) <= 5
        assert len(split_sentences(cluster["summary"])) == len(sentences)
        assert not FURNITURE.search(cluster["summary"])
    geneva = next(c for c in clusters if c["size"] == 5)
    brussels = next(c for c in clusters if c["size"] == 1)
    assert "Geneva" in geneva["summary"]
    assert "Brussels" in brussels["summary"] or "NATO-Russia Council" in brussels["summary"]


# Two events told in Chinese, a script without spaces between words: talks in Geneva (two
# reports) and a typhoon nearing Japan (two reports).
TALKS_ZH = (
    "日内瓦消息，美国和俄罗斯代表周一在日内瓦举行了长达八个小时的会谈，但双方未能取得突破。"
    "俄罗斯副外长在会后对记者表示，会谈艰难但有益，双方的立场仍然相距甚远。"
    "美国副国务卿说，华盛顿已经明确表示，北约的大门不会关闭，任何国家都有权选择自己的盟友。"
    "欧洲多国外交官密切关注这次会谈，认为其结果将影响欧洲大陆未来多年的安全局势。"
    "分析人士指出，边境地区的军队集结使紧张局势进一步升级，外交努力面临严峻考验。"
    "会谈结束后，两国代表团分别返回首都，向各自政府汇报会谈情况。"
)
TALKS_ZH_2 = (
    "周一，美俄两国代表团在瑞士日内瓦举行会谈，持续约八小时，没有取得任何突破。"
    "俄罗斯副外长会后说，双方分歧依然很大，但会谈是有益的。"
    "美国方面重申，北约的开放政策不会改变，各国有权自主选择盟友。"
)
TYPHOON_ZH = (
    "东京消息，日本气象厅周三表示，一场强烈台风正在逼近日本南部海岸，预计周五登陆。"
    "气象部门警告说，台风可能带来暴雨、强风和巨浪，部分地区可能发生山体滑坡和洪水。"
    "地方政府已经要求沿海居民做好撤离准备，多所学校宣布停课，航空公司取消了数百个航班。"
)
TYPHOON_ZH_2 = (
    "日本气象厅周三发布警报，强台风预计周五在日本南部登陆，届时将带来暴雨和强风。"
    "多地政府要求沿海居民准备撤离，学校停课，数百个航班被取消。"
)


def test_chinese_copies_and_events_are_found(tmp_path):
    # A re-post: a few characters changed, a line of site furniture added, the last sentence cut.
    copy = TALKS_ZH.replace("八个小时", "九个小时").replace("艰难但有益", "困难但有益")
    copy = "新华网 | 国际新闻\n" + copy[: copy.rindex("会谈结束后")]
    rows = [{"id": "talks", "text": TALKS_ZH}, {"id": "talks-2", "text": TALKS_ZH_2}, {"id": "talks-repost", "text": copy},
            {"id": "typhoon", "text": TYPHOON_ZH}, {"id": "typhoon-2", "text": TYPHOON_ZH_2}]
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "zh.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run_pipeline([corpus], tmp_path / "out")
    dups = read(tmp_path / "out", "duplicates.parquet")
    assert [(d["article_id"], d["duplicate_of"], d["method"]) for d in dups] == [("talks-repost", "talks", "near")]
    clusters = read(tmp_path / "out", "clusters.parquet")
    assert sorted(c["article_ids"] for c in clusters) == [["talks", "talks-2", "talks-repost"], ["typhoon", "typhoon-2"]]
    talks = next(c for c in clusters if "talks" in c["article_ids"])
    assert talks["summary_sentences"] and all(s.endswith("。") for s in talks["summary_sentences"])
    assert "日内" in talks["top_terms"]
