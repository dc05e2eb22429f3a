"""ECB+ conversion (token joining, layout, records) and the committed benchmark copy."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dedup.errors import InputError
from dedup.evaluation import ecbplus
from dedup.evaluation.ecbplus import (
    BENCHMARKS,
    LabelledArticle,
    build_text,
    convert_ecbplus,
    join_tokens,
    join_url,
    load_benchmark,
    load_labelled,
    natural_key,
    write_jsonl_gz,
)
from dedup.evaluation.syndicated import find_copies

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_DIR = REPO_ROOT / "data" / "benchmarks"


def split(text: str) -> list[str]:
    return text.split(" ")


# ----------------------------------------------------------------------------- join_tokens


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("`` We are n't sure , '' she said .", '"We aren\'t sure," she said.'),
        ("the actress 's rep ( Jack ) said : `` yes ''", 'the actress\'s rep (Jack) said: "yes"'),
        ("He paid $ 5 for 20 % of it ...", "He paid $5 for 20% of it..."),
        ("the Colts ' 31-24 win", "the Colts' 31-24 win"),
        ("a stage -- he won a Tony -- and", "a stage -- he won a Tony -- and"),
        ("overwhelmingly female - the Oscars", "overwhelmingly female - the Oscars"),
        ("singin ' and dancin '", "singin' and dancin'"),
        ("Mark Felt , ' Deep Throat ' of Watergate", "Mark Felt, 'Deep Throat' of Watergate"),
    ],
)
def test_joins_treebank_tokens(tokens: str, expected: str) -> None:
    assert join_tokens(split(tokens)) == expected


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("a five - boat pirate attack", "a five-boat pirate attack"),
        ("a son - in - law and a stop - and - frisk policy", "a son-in-law and a stop-and-frisk policy"),
        ("a 43-39 record - a 10-win improvement", "a 43-39 record - a 10-win improvement"),
        ("the north - - was destroyed", "the north -- was destroyed"),
        ("the Fix - It tool", "the Fix-It tool"),
        ("The 170 , 000 square feet on June 8 , 2013", "The 170,000 square feet on June 8, 2013"),
        ("at 9 : 25 on 4 / 9 / 2007", "at 9:25 on 4/9/2007"),
        ("$4 . 9 million at 3 p . m . in the U . S .", "$4.9 million at 3 p.m. in the U.S."),
        ("a . 38 - caliber revolver , not Nov . 30", "a .38-caliber revolver, not Nov. 30"),
        ("as TMZ . com reported", "as TMZ.com reported"),
        ("it ’ s Lohan ’ s car , isn ’ t it", "it’s Lohan’s car, isn’t it"),
        ("the pirates ’ attempt", "the pirates’ attempt"),
        (
            "she said “ we ’ ll see ” and ‘ Catching Fire ’ too",
            "she said “we’ll see” and ‘Catching Fire’ too",
        ),
        ("see http : / / www . nlm . nih . gov / a_b . html .", "see http://www.nlm.nih.gov/a_b.html."),
        ("at www . usgs . gov , under Maps", "at www.usgs.gov, under Maps"),
    ],
)
def test_joins_tokens_of_the_split_tokenizer(tokens: str, expected: str) -> None:
    assert join_tokens(split(tokens), hyphens_split=True) == expected


def test_straight_quotes_open_and_close_by_context() -> None:
    tokens = split('"The warship altered course , " the officer said . He said : " Stop " now')
    assert (
        join_tokens(tokens, hyphens_split=True)
        == '"The warship altered course," the officer said. He said: "Stop" now'
    )


def test_whitespace_inside_tokens_is_dropped() -> None:
    assert join_tokens(["Awards\t", " ", "\u2009", "tonight", "."]) == "Awards tonight."


def test_join_url() -> None:
    assert join_url(split("http : / / articles . latimes . com / 2013 / may / la - me - 0504")) == (
        "http://articles.latimes.com/2013/may/la-me-0504"
    )
    assert join_url(["Not", "an", "address"]) is None


# ------------------------------------------------------------------------------ build_text


def test_leading_unpunctuated_sentences_are_lines() -> None:
    sentences = [
        split("Lindsay Lohan checks into Betty Ford Center"),
        split("May 03 , 2013"),
        split("Lohan has checked in ."),
        split("She will stay 90 days"),
        split("Her lawyer agreed ."),
    ]
    assert build_text(sentences) == (
        "Lindsay Lohan checks into Betty Ford Center\nMay 03, 2013\n"
        "Lohan has checked in. She will stay 90 days Her lawyer agreed."
    )


def test_article_without_headline_is_one_paragraph() -> None:
    assert build_text([split("A quake hit ."), split("`` It was strong , '' he said .")]) == (
        'A quake hit. "It was strong," he said.'
    )


def test_opening_quote_left_at_a_sentence_end_moves_to_the_next_sentence() -> None:
    sentences = [
        split('"My client is in , " he said . "'),
        split("She is fine ."),
        split('Nothing will happen . "'),
    ]
    assert build_text(sentences, hyphens_split=True) == (
        '"My client is in," he said. "She is fine. Nothing will happen."'
    )


def test_natural_key() -> None:
    names = ["2_1ecb", "1_10ecb", "1_2ecbplus", "1_2ecb", "10_1ecb"]
    assert sorted(names, key=natural_key) == ["1_2ecb", "1_2ecbplus", "1_10ecb", "2_1ecb", "10_1ecb"]


# ------------------------------------------------------------------------- convert_ecbplus

LABEL_HEADER = (
    "doc_name\ttopic\tseminal_event_set\tevent_label\tsplit\tin_coref_subset\tn_sentences\tn_words\n"
)


def write_document(topics_dir: Path, name: str, sentences: list[str]) -> None:
    topic = name.split("_")[0]
    (topics_dir / topic).mkdir(parents=True, exist_ok=True)
    tokens = []
    t_id = 1
    for s, sentence in enumerate(sentences):
        for number, token in enumerate(sentence.split(" ")):
            tokens.append(f'<token t_id="{t_id}" sentence="{s}" number="{number}">{escape(token)}</token>')
            t_id += 1
    body = "\n".join(tokens)
    annotation = "<Markables>\n</Markables>\n<Relations>\n</Relations>"
    xml = f'<Document doc_name="{name}" doc_id="DOC1">\n{body}\n{annotation}\n</Document>\n'
    (topics_dir / topic / name).write_text(xml, encoding="utf-8")


def write_labels(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    lines = [
        f"{name}\t{topic}\t{event.split('_')[1]}\t{event}\t{split_name}\t1\t1\t1\n"
        for name, topic, event, split_name in rows
    ]
    path.write_text(LABEL_HEADER + "".join(lines), encoding="utf-8")


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, Path]:
    release_dir = tmp_path / "ECB+_LREC2014"
    topics = release_dir / "ECB+"
    write_document(topics, "10_1ecb.xml", ["The Red Sox made an offer .", "It was big ."])
    write_document(
        topics, "2_10ecbplus.xml", ["http : / / example . org / a - b", "Host named", "Ellen will host ."]
    )
    write_document(topics, "2_9ecbplus.xml", ["www . example . org", "She said yes ."])
    write_document(topics, "2_3ecb.xml", ["Hugh Jackman will host ."])
    write_document(topics, "36_1ecb.xml", ["A held-out test article ."])
    labels = tmp_path / "labels.tsv"
    write_labels(
        labels,
        [
            ("10_1ecb.xml", "10", "10_ecb", "train"),
            ("2_10ecbplus.xml", "2", "2_ecbplus", "dev"),
            ("2_9ecbplus.xml", "2", "2_ecbplus", "dev"),
            ("2_3ecb.xml", "2", "2_ecb", "dev"),
            ("36_1ecb.xml", "36", "36_ecb", "test"),
        ],
    )
    return release_dir, labels


def test_convert_builds_sorted_records(release: tuple[Path, Path]) -> None:
    records = convert_ecbplus(*release)
    assert [r["id"] for r in records] == ["2_3ecb", "2_9ecbplus", "2_10ecbplus", "10_1ecb"]
    assert records[2] == {
        "id": "2_10ecbplus",
        "text": "Host named\nEllen will host.",
        "event": "2_ecbplus",
        "topic": "2",
        "split": "dev",
        "url": "http://example.org/a-b",
    }
    assert records[1]["url"] == "www.example.org"
    assert records[0]["url"] is None
    assert records[0]["text"] == "Hugh Jackman will host."
    assert records[3]["text"] == "The Red Sox made an offer. It was big."


def test_convert_accepts_the_topics_folder_and_skips_other_splits(release: tuple[Path, Path]) -> None:
    release_dir, labels = release
    records = convert_ecbplus(release_dir / "ECB+", labels)
    assert "36_1ecb" not in {r["id"] for r in records}
    assert [r["id"] for r in convert_ecbplus(release_dir, labels, splits=("train",))] == ["10_1ecb"]


def test_convert_rejects_inconsistent_labels(release: tuple[Path, Path], tmp_path: Path) -> None:
    release_dir, _ = release
    labels = tmp_path / "bad.tsv"
    write_labels(labels, [("2_3ecb.xml", "2", "2_ecbplus", "dev")])
    with pytest.raises(InputError, match="should be 2_ecb"):
        convert_ecbplus(release_dir, labels)
    write_labels(labels, [("2_4ecb.xml", "2", "2_ecb", "dev")])
    with pytest.raises(InputError, match=r"2_4ecb\.xml does not exist"):
        convert_ecbplus(release_dir, labels)
    labels.write_text("doc_name\ttopic\n2_3ecb.xml\t2\n", encoding="utf-8")
    with pytest.raises(InputError, match="event_label"):
        convert_ecbplus(release_dir, labels)


def test_convert_rejects_a_folder_without_topics(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no ECB\\+ topic folders"):
        convert_ecbplus(tmp_path, tmp_path / "labels.tsv")


def test_written_files_are_byte_identical(tmp_path: Path) -> None:
    records = [
        {"id": "a", "text": "Zürich “quoted”", "event": "1_ecb", "topic": "1", "split": "dev", "url": None}
    ]
    first, second = tmp_path / "one.jsonl.gz", tmp_path / "sub" / "two.jsonl.gz"
    second.parent.mkdir()
    assert write_jsonl_gz(records, first) == 1
    write_jsonl_gz(records, second)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\x00\x00\x00\x00"  # gzip mtime field
    assert json.loads(gzip.decompress(first.read_bytes())) == records[0]


# ---------------------------------------------------------------------------- load_labelled


def test_load_labelled_reads_jsonl_gz_and_parquet(tmp_path: Path) -> None:
    rows = [
        {"doc": "x1", "label": 3, "body": "First text.", "topic": 1},
        {"doc": "x2", "label": 4, "body": "Second text."},
    ]
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    gz = tmp_path / "set.jsonl.gz"
    gz.write_bytes(gzip.compress(jsonl.read_bytes()))
    parquet = tmp_path / "set.parquet"
    pq.write_table(
        pa.Table.from_pylist([{k: r.get(k) for k in ("doc", "label", "body", "topic")} for r in rows]),
        parquet,
    )
    expected = [
        LabelledArticle(id="x1", text="First text.", event="3", topic="1", url=None),
        LabelledArticle(id="x2", text="Second text.", event="4", topic=None, url=None),
    ]
    for path in (jsonl, gz, parquet):
        assert load_labelled(path, id_column="doc", label_column="label", text_column="body") == expected
    csv_file = tmp_path / "set.csv"
    csv_file.write_text('doc,label,body,topic\nx1,3,"First\ntext.",1\n\nx2,4,Second text.,\n', encoding="utf-8")
    tsv_gz = tmp_path / "set.tsv.gz"
    tsv_gz.write_bytes(gzip.compress(b"doc\tlabel\tbody\nx1\t3\tFirst text.\nx2\t4\tSecond text.\n"))
    # An empty optional value (a CSV has no nulls) is no value.
    assert load_labelled(csv_file, id_column="doc", label_column="label", text_column="body") == [
        LabelledArticle(id="x1", text="First\ntext.", event="3", topic="1", url=None),
        LabelledArticle(id="x2", text="Second text.", event="4", topic=None, url=None),
    ]
    assert load_labelled(tsv_gz, id_column="doc", label_column="label", text_column="body") == [
        LabelledArticle(id="x1", text="First text.", event="3", topic=None, url=None),
        LabelledArticle(id="x2", text="Second text.", event="4", topic=None, url=None),
    ]


def test_load_labelled_names_the_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "text": "t", "label": "e"}\n', encoding="utf-8")
    with pytest.raises(
        InputError, match=r"line 1 has no column 'event'; columns present: 'id', 'text', 'label'"
    ):
        load_labelled(path)
    parquet = tmp_path / "set.parquet"
    pq.write_table(pa.table({"id": ["a"], "body": ["t"], "event": ["e"]}), parquet)
    with pytest.raises(InputError, match=r"no column 'text'; columns present: 'id', 'body', 'event'"):
        load_labelled(parquet)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("set.txt", "id,text\n", "unsupported file type"),
        ("set.csv", "", "is empty: no header row"),
        ("set.csv", "id,text,event\na,t,e\nb,u\n", "line 3 has 2 values where the header names 3"),
        ("set.csv", "id,text\na,t\n", "has no column 'event'; columns present: 'id', 'text'"),
        (
            "set.jsonl",
            '{"id": "a", "text": "t", "event": "e"}\n{"id": "a", "text": "u", "event": "e"}\n',
            "more than once",
        ),
        ("set.jsonl", '{"id": "a", "text": "", "event": "e"}\n', "'text' is empty"),
        ("set.jsonl", "[1, 2]\n", "expected an object"),
        ("set.jsonl", "{oops\n", "line 1 is not valid JSON"),
    ],
)
def test_load_labelled_rejects_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_labelled(path)
    with pytest.raises(InputError, match="does not exist"):
        load_labelled(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------------- committed benchmark


@pytest.mark.parametrize(
    ("name", "documents", "events", "topics"),
    [("ecbplus-train", 575, 50, 25), ("ecbplus-dev", 197, 16, 8)],
)
def test_benchmark_counts(name: str, documents: int, events: int, topics: int) -> None:
    articles = load_benchmark(name)
    assert len(articles) == documents
    assert len({a.event for a in articles}) == events
    assert len({a.topic for a in articles}) == topics
    assert {a.event for a in articles} == {
        f"{a.topic}_{'ecbplus' if a.id.endswith('ecbplus') else 'ecb'}" for a in articles
    }


def test_benchmark_records_are_well_formed() -> None:
    for name in BENCHMARKS:
        articles = load_benchmark(name)
        assert [(int(a.topic or 0), natural_key(a.id)) for a in articles] == sorted(
            (int(a.topic or 0), natural_key(a.id)) for a in articles
        )
        for article in articles:
            assert article.text.strip() == article.text
            assert "  " not in article.text
            if article.id.endswith("ecb"):
                assert article.url is None
            else:
                assert (article.url or "").startswith(("http://", "https://", "www."))
            assert "http://" not in article.text.split("\n")[0]


def test_dev_topics_and_no_test_topics() -> None:
    dev = {int(a.topic or 0) for a in load_benchmark("ecbplus-dev")}
    train = {int(a.topic or 0) for a in load_benchmark("ecbplus-train")}
    assert dev == {2, 5, 12, 18, 21, 23, 34, 35}
    assert not (dev | train) & set(range(36, 46))
    assert not dev & train


def test_unknown_or_missing_benchmark(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ecbplus-train, ecbplus-dev"):
        load_benchmark("ecbplus-test")
    monkeypatch.setattr(ecbplus, "benchmark_dir", lambda: tmp_path)
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "ecbplus_dev.jsonl.gz"))):
        load_benchmark("ecbplus-dev")


def test_readme_matches_the_data() -> None:
    readme = (BENCHMARK_DIR / "README.md").read_text(encoding="utf-8")
    for name in BENCHMARKS:
        articles = load_benchmark(name)
        file_name = name.replace("-", "_") + ".jsonl.gz"
        size = (BENCHMARK_DIR / file_name).stat().st_size
        events, topics = len({a.event for a in articles}), len({a.topic for a in articles})
        row = f"| `{file_name}` | {name.split('-')[1]} | {len(articles)} | {events} | {topics} | {size:,} |"
        assert row in readme
        pairs = [len(find_copies([(a.id, a.text) for a in articles], threshold=t)) for t in (0.5, 0.8)]
        assert f"| {name.split('-')[1]} | {pairs[0]} | {pairs[1]} |" in readme
    assert "https://creativecommons.org/licenses/by/3.0/legalcode" in readme
    assert "Cybulska" in readme
    assert "LREC 2014" in readme


def test_licence_files_are_shipped() -> None:
    for name in ("ECBPLUS_LICENSEDATA.TXT", "ECBPLUS_COPYING-CC.TXT"):
        assert (BENCHMARK_DIR / name).stat().st_size > 1000


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_ecbplus", REPO_ROOT / "benchmarks" / "build_ecbplus.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_files_match_a_fresh_build() -> None:
    build = load_build_script()
    source = Path(os.environ.get("ECBPLUS_SOURCE", build.DEFAULT_SOURCE))
    if not (source / build.LABELS_FILE).is_file():
        pytest.skip(
            f"original ECB+ release not found at {source}; set ECBPLUS_SOURCE to check the committed files"
        )
    assert build.differing_files(source, BENCHMARK_DIR) == []


def test_build_script_reports_a_bad_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = load_build_script()
    assert build.main(["--source", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "error:" in capsys.readouterr().err
