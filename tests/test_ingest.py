"""Tests of dedup.ingest on tiny corpora written inline, each with planted good and bad items."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup import ingest
from dedup.config import IngestConfig
from dedup.errors import InputError
from dedup.ingest import SUPPORTED_SUFFIXES, parse_published_at, read_inputs, supported_suffix
from dedup.records import RawArticle, Reject

GENEVA = "GENEVA - Talks between the United States and Russia ended without a breakthrough on Monday."
BRUSSELS = "BRUSSELS - NATO allies met on Wednesday to discuss the security situation in Europe."

PAGE = """<!DOCTYPE html>
<html><head>
<title>Talks in Geneva end without a deal</title>
<meta name="author" content="Jane Doe">
<meta property="og:site_name" content="Daily Planet">
<meta property="og:url" content="https://planet.example/geneva-talks">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article>
<h1>Talks in Geneva end without a deal</h1>
<p>Negotiators from the United States and Russia met for eight hours in Geneva on Monday,
and both sides said afterwards that their positions remained far apart.</p>
<p>The deputy foreign minister told reporters that the talks had been difficult but useful,
and that a further round in Brussels later this week would test whether progress was possible.</p>
<p>Diplomats from several European countries followed the meeting closely, saying that the
outcome would shape the security of the continent for years to come.</p>
</article>
<footer>Copyright Daily Planet</footer>
</body></html>
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test from its own tmp_path so that inputs display as short relative paths."""
    monkeypatch.chdir(tmp_path)


def write(path: str | Path, content: str | bytes) -> Path:
    """Write a file (creating parent directories) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*records: object) -> str:
    """JSON Lines text: dicts and lists are dumped, strings are written as raw lines."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def read(*paths: str | Path, **limits: int) -> list[RawArticle | Reject]:
    return list(read_inputs(list(paths), IngestConfig(**limits)))


def articles(items: list[RawArticle | Reject]) -> dict[str, RawArticle]:
    return {item.article_id: item for item in items if isinstance(item, RawArticle)}


def rejects(items: list[RawArticle | Reject]) -> list[Reject]:
    return [item for item in items if isinstance(item, Reject)]


def only_reject(items: list[RawArticle | Reject]) -> Reject:
    found = rejects(items)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- .txt


def test_txt_file_is_one_article_with_its_stem_as_id_and_text_as_is() -> None:
    text = "Talks in Geneva\r\n\r\n  " + GENEVA + "\n"
    write("in/geneva-2024.03.txt", text)
    [item] = read("in")
    assert item == RawArticle(
        article_id="geneva-2024.03", text=text, input=os.path.join("in", "geneva-2024.03.txt")
    )
    assert item.title is None and item.record == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Grüße aus Genf".encode(), "Grüße aus Genf", id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + "Grüße".encode(), "Grüße", id="utf-8-bom"),
        pytest.param(b"\xff\xfe" + "Grüße".encode("utf-16-le"), "Grüße", id="utf-16-le-bom"),
        pytest.param(b"\xfe\xff" + "Grüße".encode("utf-16-be"), "Grüße", id="utf-16-be-bom"),
        pytest.param(b"\xff\xfe\x00\x00" + "Grüße €".encode("utf-32-le"), "Grüße €", id="utf-32-le-bom"),
        pytest.param(b"\x00\x00\xfe\xff" + "Grüße".encode("utf-32-be"), "Grüße", id="utf-32-be-bom"),
        pytest.param("Café “Zürich” – 5 €".encode("cp1252"), "Café “Zürich” – 5 €", id="cp1252"),
        pytest.param(b"caf\xe9 \x81 ok", "café \x81 ok", id="latin-1-fallback"),
    ],
)
def test_txt_encodings_are_decoded(raw: bytes, expected: str) -> None:
    write("a.txt", raw)
    [item] = read("a.txt")
    assert isinstance(item, RawArticle)
    assert item.text == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"", "empty file", id="empty"),
        pytest.param(b" \n\t\r\n ", "only whitespace", id="whitespace"),
        pytest.param("\u3000\n".encode(), "only whitespace", id="unicode-whitespace"),
        pytest.param(b"PK\x03\x04\x00\x00binary", "binary content, not text (contains NUL bytes)", id="nul"),
        pytest.param(bytes(range(1, 9)) * 20 + b"some words", "binary content, not text", id="control-chars"),
        pytest.param(
            b"\xff\xfe" + b"\x00\xd8", "not valid UTF-16-LE despite its byte-order mark", id="bad-utf16"
        ),
    ],
)
def test_unusable_txt_is_rejected_with_its_reason(raw: bytes, reason: str) -> None:
    write("bad.txt", raw)
    write("good.txt", GENEVA)
    items = read("bad.txt", "good.txt")
    assert list(articles(items)) == ["good"]
    reject = only_reject(items)
    assert reject.input == "bad.txt" and reject.article_id == "bad" and reject.dropped
    assert reject.reason.startswith(reason)


def test_oversized_txt_is_rejected_without_decoding() -> None:
    write("long.txt", "x" * 100)
    write("short.txt", "y" * 20)
    items = read(".", max_article_chars=10)
    reasons = {r.input: r.reason for r in rejects(items)}
    assert (
        reasons["long.txt"]
        == "file is 100 bytes, too long for a text of at most max_article_chars=10 characters"
    )
    assert reasons["short.txt"] == "text is 20 characters, over max_article_chars=10"
    assert articles(items) == {}


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_records_map_to_articles() -> None:
    write(
        "feed.jsonl",
        jsonl(
            {
                "id": "g1",
                "text": GENEVA,
                "title": " Geneva talks ",
                "published_at": "2024-03-05T10:00:00+01:00",
                "source": "Daily Planet",
                "url": "https://planet.example/g1",
                "byline": "Jane Doe",
                "author": "ignored because byline wins",
                "lang": "en",
            },
            "",
            "   ",
            {"id": 42, "text": BRUSSELS, "author": ["A. Writer", "B. Writer"]},
        ),
    )
    items = read("feed.jsonl")
    assert rejects(items) == []
    first, second = articles(items).values()
    assert first == RawArticle(
        article_id="g1",
        text=GENEVA,
        input="feed.jsonl",
        record="line 1",
        title="Geneva talks",
        published_at=datetime(2024, 3, 5, 9, 0, tzinfo=UTC),
        source="Daily Planet",
        url="https://planet.example/g1",
        byline="Jane Doe",
    )
    # Blank lines are skipped but still counted, so records point at the right line.
    assert (second.article_id, second.record, second.byline) == ("42", "line 4", "A. Writer, B. Writer")
    assert second.title is second.published_at is second.source is second.url is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(
            '{"id": "x", "text": "unterminated',
            "invalid JSON at column 21: Unterminated string",
            id="bad-json",
        ),
        pytest.param('["x", "some text"]', "expected a JSON object, got an array", id="array-line"),
        pytest.param('"just a string"', "expected a JSON object, got a string", id="string-line"),
        pytest.param('{"id": "x"}', "missing 'text'", id="no-text"),
        pytest.param('{"id": "x", "text": ""}', "'text' is empty", id="empty-text"),
        pytest.param('{"id": "x", "text": "  \\n "}', "'text' is only whitespace", id="blank-text"),
        pytest.param('{"id": "x", "text": 12}', "'text' must be a string, got a number", id="number-text"),
        pytest.param('{"id": "x", "text": null}', "'text' must be a string, got null", id="null-text"),
        pytest.param('{"id": "x", "words": "body"}', "missing 'text' (or 'content', 'body'", id="no-text-alias"),
        pytest.param('{"id": "  ", "text": "body"}', "'id' is empty", id="blank-id"),
        pytest.param(
            '{"id": 1.5, "text": "body"}', "'id' is a number 1.5: ids must be strings or integers", id="f"
        ),
        pytest.param(
            '{"id": true, "text": "body"}', "'id' is a boolean true: ids must be strings or integers", id="b"
        ),
        pytest.param(
            '{"id": null, "text": "body"}', "'id' is null: ids must be strings or integers", id="null"
        ),
        pytest.param(
            '{"id": [1], "text": "body"}', "'id' is an array: ids must be strings or integers", id="list"
        ),
        pytest.param(
            '{"id": {"a": 1}, "text": "b"}', "'id' is an object: ids must be strings or integers", id="obj"
        ),
        pytest.param(
            '{"id": "x", "text": "<script>only()</script>"}', "'text' has no content outside", id="html"
        ),
        pytest.param(
            b'{"id": "x", "text": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at column 25)", id="utf8"
        ),
        pytest.param("[" * 100_000, "invalid JSON: nested too deeply", id="deep"),
    ],
)
def test_bad_jsonl_line_is_rejected_and_its_neighbours_kept(line: str | bytes, reason: str) -> None:
    raw = line if isinstance(line, bytes) else line.encode()
    good_before = json.dumps({"id": "before", "text": GENEVA}).encode()
    good_after = json.dumps({"id": "after", "text": BRUSSELS}).encode()
    write("feed.jsonl", b"\n".join([good_before, raw, good_after]) + b"\n")
    items = read("feed.jsonl")
    assert list(articles(items)) == ["before", "after"]
    reject = only_reject(items)
    assert (reject.input, reject.record, reject.dropped) == ("feed.jsonl", "line 2", True)
    assert reject.reason.startswith(reason), reject.reason


def test_json_array_file_is_one_reject_saying_how_to_fix_it() -> None:
    write("feed.jsonl", '\n  [{"id": 1, "text": "a"},\n {"id": 2, "text": "b"}]\n')
    reject = only_reject(read("feed.jsonl"))
    assert reject.record == ""
    assert reject.reason.startswith("file is a JSON array, not JSON Lines: name it .json, or write one JSON object")


def test_pretty_printed_json_file_is_one_reject() -> None:
    write("feed.ndjson", json.dumps({"id": 1, "text": GENEVA}, indent=2))
    reject = only_reject(read("feed.ndjson"))
    assert "not JSON Lines: write one JSON object per line" in reject.reason


def test_utf16_jsonl_is_one_reject() -> None:
    write("feed.jsonl", jsonl({"id": 1, "text": GENEVA}).encode("utf-16"))
    reject = only_reject(read("feed.jsonl"))
    assert reject.reason == "JSON Lines must be UTF-8, this file is UTF-16-LE: re-encode it as UTF-8"


def test_ndjson_and_gzipped_json_lines_are_read() -> None:
    write("a.ndjson", "\ufeff" + jsonl({"id": "n1", "text": GENEVA}))
    write("b.jsonl.gz", gzip.compress(jsonl({"id": "z1", "text": BRUSSELS}).encode()))
    items = read("a.ndjson", "b.jsonl.gz")
    assert [(a.article_id, a.input, a.record) for a in articles(items).values()] == [
        ("n1", "a.ndjson", "line 1"),
        ("z1", "b.jsonl.gz", "line 1"),
    ]
    assert rejects(items) == []


def test_truncated_gzip_keeps_every_line_before_the_damage() -> None:
    body = jsonl(*({"id": f"g{i}", "text": f"{GENEVA} Update {i}."} for i in range(400))).encode()
    packed = gzip.compress(body)
    write("cut.jsonl.gz", packed[: len(packed) // 2])
    items = read("cut.jsonl.gz")
    kept = list(articles(items))
    assert len(kept) > 10
    assert kept == [f"g{i}" for i in range(len(kept))]
    reject = only_reject(items)
    assert reject.record == f"line {len(kept) + 1}"
    assert reject.reason.startswith(f"gzip data truncated after line {len(kept)} (")
    assert items[-1] == reject


def test_file_that_is_not_gzip_is_one_reject() -> None:
    write("plain.jsonl.gz", jsonl({"id": 1, "text": GENEVA}))
    reject = only_reject(read("plain.jsonl.gz"))
    assert reject.reason.startswith("corrupt gzip data before the first line (Not a gzipped file")


def test_html_markup_in_text_and_title_becomes_plain_text() -> None:
    text = (
        '<div class="story"><p>First paragraph with a <a href="https://x.example">link</a> and '
        "<b>bold</b> words.</p>\n<script>track('reader');</script><style>p {color: red}</style>"
        "<p>Second &amp; last<br>line.</p></div>"
    )
    write("feed.jsonl", jsonl({"id": "h", "text": text, "title": "<h1>Geneva <em>talks</em></h1>"}))
    [item] = read("feed.jsonl")
    assert isinstance(item, RawArticle)
    assert item.text == "First paragraph with a link and bold words.\n\nSecond & last\nline."
    assert item.title == "Geneva talks"


def test_text_that_only_mentions_angle_brackets_is_left_alone() -> None:
    text = "Inflation <3% is the goal, said the bank; a < b and c > d; see <Reuters>."
    write("feed.jsonl", jsonl({"id": "m", "text": text}))
    [item] = read("feed.jsonl")
    assert isinstance(item, RawArticle) and item.text == text


def test_over_long_json_line_is_skipped_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "_LINE_MARGIN_BYTES", 0)
    write("feed.jsonl", jsonl({"id": "big", "text": "x" * 200}, {"id": "ok", "text": "short"}))
    items = read("feed.jsonl", max_article_chars=10)
    assert list(articles(items)) == ["ok"]
    reject = only_reject(items)
    assert reject.record == "line 1" and reject.reason.startswith("line is over 60 bytes")


# --------------------------------------------------------------------------- Parquet


def test_parquet_rows_are_validated_like_json_lines_across_batches() -> None:
    n_rows = ingest._PARQUET_BATCH_ROWS + 50
    ids: list[object] = [f"p{i}" for i in range(n_rows)]
    texts: list[object] = [f"{GENEVA} Row {i}." for i in range(n_rows)]
    bad_row = ingest._PARQUET_BATCH_ROWS + 10  # 1-based, in the second batch
    texts[bad_row - 1] = None
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "text": pa.array(texts, pa.string()),
            "title": pa.array(["Title"] * n_rows),
            # Nanosecond timestamps: pyarrow cannot hand these out as datetimes unaided.
            "published_at": pa.array([1_709_632_800_123_456_789] * n_rows, pa.timestamp("ns")),
            "extra": pa.array(range(n_rows)),
        }
    )
    pq.write_table(table, "rows.parquet", row_group_size=100)
    items = read("rows.parquet")
    found = articles(items)
    assert len(found) == n_rows - 1
    assert found["p0"].record == "row 1" and found["p0"].title == "Title"
    assert found["p0"].published_at == datetime(2024, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)
    reject = only_reject(items)
    assert (reject.record, reject.article_id) == (f"row {bad_row}", f"p{bad_row - 1}")
    assert reject.reason == "'text' must be a string, got null"


def test_parquet_integer_and_float_ids() -> None:
    pq.write_table(pa.table({"id": [7, 8], "text": [GENEVA, BRUSSELS]}), "ints.parquet")
    pq.write_table(pa.table({"id": [1.0], "text": [GENEVA]}), "floats.parquet")
    items = read("ints.parquet", "floats.parquet")
    assert list(articles(items)) == ["7", "8"]
    assert only_reject(items).reason == "'id' is a number 1.0: ids must be strings or integers"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(
            lambda p: write(p, b"PAR1 this is not parquet"), "not a readable Parquet file: ", id="bad"
        ),
        pytest.param(lambda p: write(p, b""), "not a readable Parquet file: ", id="empty"),
        pytest.param(
            lambda p: pq.write_table(pa.table({"id": ["a"], "words": ["b"]}), p),
            "no text column: none of text, content, body, article, maintext, full_text, story, article_body, article_text, body_text (columns: id, words)",
            id="no-text-column",
        ),
    ],
)
def test_unusable_parquet_file_is_one_reject(make: Callable[[str], object], reason: str) -> None:
    make("x.parquet")
    reject = only_reject(read("x.parquet"))
    assert reject.record == "" and reject.reason.startswith(reason)


# --------------------------------------------------------------------------- other field names, CSV


def test_records_may_name_their_fields_as_other_news_datasets_do() -> None:
    write("feed.jsonl", jsonl(
        {"guid": "g1", "Headline": "Talks end", "content": GENEVA, "date": "2024-03-05T10:00:00Z",
         "link": "https://example.org/g1", "publication": "Example Wire", "authors": ["A. Smith", "B. Jones"]},
        # Its own names win over aliases: "text" is read, "content" is not.
        {"id": "j2", "text": BRUSSELS, "content": "not this", "byline": None, "author": "C. Brown"},
    ))
    found = articles(read("feed.jsonl"))
    first, second = found["g1"], found["j2"]
    assert (first.title, first.text, first.url, first.source, first.byline) == (
        "Talks end", GENEVA, "https://example.org/g1", "Example Wire", "A. Smith, B. Jones")
    assert first.published_at == datetime(2024, 3, 5, 10, tzinfo=UTC)
    assert (second.text, second.byline) == (BRUSSELS, "C. Brown")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_record_under_any_alias_names_reads_as_under_its_own(data: st.DataObject) -> None:
    record = {"id": "r1", "text": GENEVA, "title": "Talks end", "published_at": "2024-03-05T10:00:00Z",
              "source": "Example Wire", "url": "https://example.org/r1", "byline": "A. Smith"}
    renamed = {}
    for name, value in record.items():
        key = data.draw(st.sampled_from([name, *ingest.FIELD_ALIASES[name]]))
        camel = "".join(part if i == 0 else part.title() for i, part in enumerate(key.split("_")))
        spaced = key.replace("_", " ").title()
        renamed[data.draw(st.sampled_from([key, key.upper(), key.title(), camel, spaced, key.replace("_", "-")]))] = value
    write("own.jsonl", jsonl(record))
    write("renamed.jsonl", jsonl(renamed))
    own, other = (articles(read(name))["r1"] for name in ("own.jsonl", "renamed.jsonl"))
    assert dataclasses.replace(other, input=own.input) == own


def test_a_record_without_an_id_gets_one_from_its_url_title_and_text_on_every_run() -> None:
    story = {"title": "Talks end", "text": GENEVA}
    write("a.jsonl", jsonl({**story, "url": "https://one.example/talks"}, {**story, "url": "https://two.example/x"}))
    write("b.jsonl", jsonl({**story, "url": "https://one.example/talks"}, {"text": BRUSSELS}))
    items = read("a.jsonl", "b.jsonl")
    ids = list(articles(items))
    # Two outlets' copies keep two ids (and are found as copies later); a re-crawl is a repeat.
    assert len(ids) == 3 and all(len(i) == 16 for i in ids)
    assert ids[0] == ingest.derived_id("https://one.example/talks", "Talks end", GENEVA)
    reject = only_reject(items)
    assert (reject.input, reject.record) == ("b.jsonl", "line 1")
    assert "a repeat of the same article" in reject.reason
    assert list(articles(read("b.jsonl", "a.jsonl"))) == [ids[0], ids[2], ids[1]]


def test_json_documents_hold_one_article_an_array_or_a_feed_of_them() -> None:
    # One article per file (as news crawlers write them): the id defaults to the file stem.
    write("in/one.json", json.dumps({"title": "Talks end", "maintext": GENEVA, "date_publish": "2024-03-05 10:00:00",
                                     "source_domain": "example.org", "url": "https://example.org/one"}, indent=2))
    # An array: each item is a record; a bad item is rejected and its neighbours kept.
    write("in/list.json", json.dumps([{"id": "l1", "text": GENEVA}, "not an object", {"text": BRUSSELS}]))
    # A news API response: the one array of articles inside it; its source is an object with a name.
    write("in/response.json", json.dumps({"status": "ok", "totalResults": 1, "articles": [
        {"source": {"id": None, "name": "Example News"}, "author": "A. Smith", "title": "Allies meet",
         "url": "https://news.example/b", "publishedAt": "2024-03-06T08:00:00Z", "content": BRUSSELS + " More."}]}))
    write("in/no_results.json", json.dumps({"status": "ok", "totalResults": 0, "articles": []}))
    # One object per line under a .json name is JSON Lines.
    write("in/lines.json", jsonl({"id": "n1", "text": GENEVA + " Again."}, {"id": "n2", "text": "Another story."}))
    write("in/packed.json.gz", gzip.compress(json.dumps([{"id": "z1", "body": "Packed story."}]).encode()))
    items = read("in")
    found = articles(items)
    api_id = ingest.derived_id("https://news.example/b", "Allies meet", BRUSSELS + " More.")
    # Files in name order: lines, list, no_results, one, packed, response.
    assert list(found) == ["n1", "n2", "l1", ingest.derived_id(None, None, BRUSSELS), "one", "z1", api_id]
    one = found["one"]
    assert (one.title, one.text, one.source, one.url, one.record) == (
        "Talks end", GENEVA, "example.org", "https://example.org/one", "")
    assert one.published_at == datetime(2024, 3, 5, 10, tzinfo=UTC)
    listed = [a for a in found.values() if a.input == os.path.join("in", "list.json")]
    assert [(a.article_id, a.record) for a in listed] == [
        ("l1", "item 1"), (ingest.derived_id(None, None, BRUSSELS), "item 3")]
    api = found[api_id]
    assert (api.source, api.byline, api.title, api.record) == ("Example News", "A. Smith", "Allies meet", "item 1")
    assert api.published_at == datetime(2024, 3, 6, 8, tzinfo=UTC)
    assert (found["n2"].record, found["z1"].text, found["z1"].record) == ("line 2", "Packed story.", "item 1")
    reject = only_reject(items)
    assert (reject.input, reject.record, reject.reason) == (
        os.path.join("in", "list.json"), "item 2", "expected a JSON object, got a string")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b'{"text": "a",\n  "title": }', "invalid JSON at line 2 column 12: Expecting value"),
        (b"42", "the JSON document is a number, not an article or an array of articles"),
        (b'{"status": "error", "code": 429}', "missing 'text' (or 'content', "),
        (b'{"a": [{"text": "x"}], "b": [{"body": "y"}]}', "the JSON object holds several arrays of records ('a', 'b')"),
        (b'{"text": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at offset 13)"),
        (gzip.compress(b"[]")[:-6], "corrupt gzip data"),
    ],
)
def test_unusable_json_document_is_one_reject(content: bytes, reason: str) -> None:
    name = "doc.json.gz" if content.startswith(b"\x1f\x8b") else "doc.json"
    write(name, content)
    reject = only_reject(read(name))
    assert (reject.input, reject.record) == (name, "")
    assert reject.reason.startswith(reason), reject.reason


def test_authors_given_as_objects_with_names_make_the_byline() -> None:
    write("a.jsonl", jsonl({"id": "a1", "text": GENEVA, "authors": [{"name": "A. Smith"}, {"name": "B. Jones"}]},
                           {"id": "a2", "text": BRUSSELS, "author": {"url": "https://x.example"}}))
    items = read("a.jsonl")
    assert articles(items)["a1"].byline == "A. Smith, B. Jones"
    assert articles(items)["a2"].byline is None
    reject = only_reject(items)
    assert (reject.record, reject.dropped, reject.reason) == (
        "line 2", False, "'author' ignored: expected a string, got an object")


def test_csv_and_tsv_rows_are_articles_with_any_text_across_lines() -> None:
    write("feed.csv", 'ID,Title,Content,Date,URL\n7,Talks end,"GENEVA - Talks ended.\n\nA second, quoted ""paragraph"".",'
                      '2024-03-05,https://example.org/7\n8,Empty,,2024-03-06,\n')
    write("feed.tsv", "headline\tbody\nNATO meets\t" + BRUSSELS + "\n")
    write("more.csv.gz", gzip.compress(f'id,text\nz1,"{BRUSSELS} Again."\n'.encode()))
    items = read("feed.csv", "feed.tsv", "more.csv.gz")
    found = articles(items)
    assert found["7"].text == 'GENEVA - Talks ended.\n\nA second, quoted "paragraph".'
    assert (found["7"].title, found["7"].url, found["7"].record) == ("Talks end", "https://example.org/7", "row 1")
    assert found["7"].published_at == datetime(2024, 3, 5, tzinfo=UTC)
    tsv_id = ingest.derived_id(None, "NATO meets", BRUSSELS)
    assert found[tsv_id].title == "NATO meets" and found["z1"].text == BRUSSELS + " Again."
    reject = only_reject(items)
    assert (reject.input, reject.record, reject.reason) == ("feed.csv", "row 2", "'Content' is empty")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"", "not a readable CSV file: ", id="empty"),
        pytest.param(b"id,words\n1,two\n", "no text column: none of text, content", id="no-text-column"),
    ],
)
def test_unusable_csv_file_is_one_reject(content: bytes, reason: str) -> None:
    write("x.csv", content)
    reject = only_reject(read("x.csv"))
    assert reject.record == "" and reject.reason.startswith(reason), reject.reason


def test_a_csv_row_with_too_many_values_is_rejected_and_its_neighbours_kept() -> None:
    write("x.csv", f"id,text\na,{GENEVA}\nb,one,two\nc,{BRUSSELS}\n")
    items = read("x.csv")
    assert list(articles(items)) == ["a", "c"]
    reject = only_reject(items)
    assert reject.reason == "a row of 3 values where the header names 2 ('b,one,two'); row skipped"


# --------------------------------------------------------------------------- HTML pages


def test_html_page_main_text_and_metadata() -> None:
    write("pages/geneva-talks.html", PAGE)
    [item] = read("pages")
    assert isinstance(item, RawArticle)
    assert item.article_id == "geneva-talks"
    assert "eight hours in Geneva on Monday" in item.text
    assert "Copyright" not in item.text and "Home" not in item.text
    assert item.title == "Talks in Geneva end without a deal"
    assert item.byline == "Jane Doe"
    assert item.source == "Daily Planet"
    assert item.url == "https://planet.example/geneva-talks"
    assert item.published_at == datetime(2024, 3, 5, tzinfo=UTC)


def test_html_page_without_main_text_is_rejected() -> None:
    write("blank.htm", "<html><head><title>Nothing</title></head><body><script>app()</script></body></html>")
    reject = only_reject(read("blank.htm"))
    assert reject.reason == "no main text found in the HTML page" and reject.article_id == "blank"


# --------------------------------------------------------------------------- dates

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05T10:00:00+02:00", datetime(2024, 3, 5, 8, tzinfo=UTC)),
        ("2024-03-05 10:00:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 10:00:00 +0100", datetime(2024, 3, 5, 9, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 10:00:00 GMT", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("March 5, 2024 10:00 EST", datetime(2024, 3, 5, 15, tzinfo=UTC)),
        ("5 March 2024", datetime(2024, 3, 5, tzinfo=UTC)),
        (datetime(2024, 3, 5, 10, 30), datetime(2024, 3, 5, 10, 30, tzinfo=UTC)),
        (1_709_632_800, datetime(2024, 3, 5, 10, tzinfo=UTC)),
        (1_709_632_800_000, datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-12-31T23:00:00-05:00", datetime(2025, 1, 1, 4, tzinfo=UTC)),
        (None, None),
        ("  ", None),
    ],
)
def test_published_at_forms_become_aware_utc(value: object, expected: datetime | None) -> None:
    result = parse_published_at(value, now=NOW)
    assert result == expected
    assert result is None or result.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Monday", "not a complete date"),
        ("March 2024", "not a complete date"),
        ("the day after the election", "not a recognised date"),
        ("2024-13-45", "not a recognised date"),
        ("2" * 200, r"not a date \(over 100 characters\)"),
        ("2025-01-03T01:00:00Z", "more than 2 days in the future"),
        (float("nan"), "not a finite number"),
    ],
)
def test_unusable_published_at_raises_saying_why(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_published_at(value, now=NOW)


def test_bad_published_at_keeps_the_article_and_notes_the_ignored_value() -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    write(
        "feed.jsonl",
        jsonl(
            {"id": "a", "text": GENEVA, "published_at": "last Tuesday-ish"},
            {"id": "b", "text": BRUSSELS, "published_at": future},
            {"id": "c", "text": GENEVA + " More.", "published_at": tomorrow.isoformat()},
            {"id": "d", "text": BRUSSELS + " More.", "published_at": True, "source": 5},
        ),
    )
    items = read("feed.jsonl")
    found = articles(items)
    assert list(found) == ["a", "b", "c", "d"]
    assert found["a"].published_at is found["b"].published_at is found["d"].published_at is None
    assert found["c"].published_at == tomorrow
    notes = [(r.article_id, r.record, r.reason) for r in rejects(items)]
    assert notes == [
        ("a", "line 1", "published_at 'last Tuesday-ish' ignored: not a recognised date"),
        ("b", "line 2", f"published_at {future!r} ignored: more than 2 days in the future"),
        ("d", "line 4", "published_at true ignored: a boolean is not a date"),
        ("d", "line 4", "'source' ignored: expected a string, got a number"),
    ]
    assert not any(r.dropped for r in rejects(items))
    # Each note follows the article it belongs to.
    assert items.index(found["a"]) + 1 == items.index(rejects(items)[0])


# --------------------------------------------------------------------------- limits and duplicates


def test_file_over_max_file_bytes_is_not_read() -> None:
    write("big.jsonl", jsonl({"id": "big", "text": GENEVA}))
    write("small.txt", "tiny")
    items = read(".", max_file_bytes=50)
    assert list(articles(items)) == ["small"]
    size = Path("big.jsonl").stat().st_size
    assert only_reject(items).reason == f"file is {size} bytes, over max_file_bytes=50; not read"


def test_article_over_max_article_chars_is_rejected_with_its_size() -> None:
    write("feed.jsonl", jsonl({"id": "long", "text": "w" * 30}, {"id": "ok", "text": "w" * 10}))
    items = read("feed.jsonl", max_article_chars=20)
    assert list(articles(items)) == ["ok"]
    reject = only_reject(items)
    assert (reject.record, reject.article_id) == ("line 1", "long")
    assert reject.reason == "text is 30 characters, over max_article_chars=20"


def test_reading_stops_after_max_articles_with_one_reject() -> None:
    write("feed.jsonl", jsonl(*({"id": i, "text": f"{GENEVA} {i}"} for i in range(5))))
    write("later.txt", BRUSSELS)
    items = read(".", max_articles=2)
    assert list(articles(items)) == ["0", "1"]
    reject = only_reject(items)
    assert (reject.input, reject.record) == ("feed.jsonl", "line 3")
    assert reject.reason.startswith("reached max_articles=2: stopped reading")
    assert items[-1] == reject


def test_duplicate_ids_first_occurrence_wins() -> None:
    write("a/story.txt", GENEVA)
    write("b/feed.jsonl", jsonl({"id": "story", "text": GENEVA}, {"id": "story", "text": BRUSSELS}))
    write("c/story.txt", BRUSSELS)
    items = read("a", "b", "c")
    assert list(articles(items).values()) == [RawArticle("story", GENEVA, os.path.join("a", "story.txt"))]
    first = os.path.join("a", "story.txt")
    assert [(r.input, r.record, r.reason) for r in rejects(items)] == [
        (
            os.path.join("b", "feed.jsonl"),
            "line 1",
            f"duplicate id 'story': a repeat of the same article (first seen in {first})",
        ),
        (
            os.path.join("b", "feed.jsonl"),
            "line 2",
            f"duplicate id 'story' (first seen in {first}) with different text",
        ),
        (
            os.path.join("c", "story.txt"),
            "",
            f"duplicate id 'story' (first seen in {first}) with different text",
        ),
    ]


# --------------------------------------------------------------------------- files and directories


def test_directories_are_walked_recursively_in_sorted_order_skipping_hidden_entries() -> None:
    for name in ["b.txt", "a/z.txt", "a/b/y.txt", "c.txt", "a0.txt", ".git/x.txt", "a/.draft.txt"]:
        write(Path("root") / name, f"Article {name}")
    items = read("root")
    assert rejects(items) == []
    assert [a.input for a in articles(items).values()] == [
        os.path.join("root", *parts)
        for parts in (("a", "b", "y.txt"), ("a", "z.txt"), ("a0.txt",), ("b.txt",), ("c.txt",))
    ]


def test_explicit_paths_keep_their_order_and_are_read_even_when_hidden() -> None:
    write("z.txt", "last letter")
    write(".hidden.txt", "hidden but named")
    write("a.txt", "first letter")
    items = read("z.txt", ".hidden.txt", "a.txt")
    assert list(articles(items)) == ["z", ".hidden", "a"]


def test_unsupported_file_types_are_rejected_by_suffix() -> None:
    write("in/notes.pdf", b"%PDF-1.4")
    write("in/README", "read me")
    write("in/table.xlsx", b"PK")
    write("in/ok.TXT", GENEVA)
    items = read("in")
    assert list(articles(items)) == ["ok"]
    expected = ", ".join(SUPPORTED_SUFFIXES)
    assert {r.input: r.reason for r in rejects(items)} == {
        os.path.join("in", "README"): f"unsupported file type (no suffix; expected one of {expected})",
        os.path.join("in", "table.xlsx"): f"unsupported file type '.xlsx' (expected one of {expected})",
        os.path.join("in", "notes.pdf"): f"unsupported file type '.pdf' (expected one of {expected})",
    }


def test_supported_suffix_matches_compound_and_upper_case_names() -> None:
    assert supported_suffix("x.JSONL.GZ") == ".jsonl.gz"
    assert supported_suffix("x.jsonl") == ".jsonl"
    assert supported_suffix("x.tar.gz") is None


def test_symlinks_loops_are_not_revisited_and_escapes_are_rejected(tmp_path: Path) -> None:
    write("outside/secret.txt", "not part of the input")
    write("root/real/a.txt", GENEVA)
    os.symlink("..", "root/real/up")  # a loop back to the root
    os.symlink("real", "root/alias")  # a second name for a directory inside the root
    os.symlink(tmp_path / "outside" / "secret.txt", "root/escape.txt")
    os.symlink("../outside", "root/escape-dir")
    os.symlink("missing.txt", "root/broken.txt")
    items = read("root")
    # The alias sorts first, so the directory is read through it once and not again by its own name.
    assert [a.input for a in articles(items).values()] == [os.path.join("root", "alias", "a.txt")]
    assert {r.input: r.reason for r in rejects(items)} == {
        os.path.join("root", "broken.txt"): "broken symlink: No such file or directory",
        os.path.join("root", "escape-dir"): "symlink points outside the input root 'root'",
        os.path.join("root", "escape.txt"): "symlink points outside the input root 'root'",
    }


def test_unreadable_directory_and_file_are_rejected_with_the_os_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("root/locked/a.txt", GENEVA)
    write("root/private.txt", BRUSSELS)
    write("root/z.txt", GENEVA + " Later.")
    real_scandir, real_open = os.scandir, open

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    def open_file(path: str, *args: Any, **kwargs: Any) -> IO[bytes]:
        if os.path.basename(path) == "private.txt":
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    # Simulated so that the test holds when run as root, who may read anything.
    monkeypatch.setattr(ingest.os, "scandir", scandir)
    monkeypatch.setattr(ingest, "open", open_file, raising=False)
    items = read(tmp_path / "root")
    assert list(articles(items)) == ["z"]
    assert [(r.input, r.reason) for r in rejects(items)] == [
        (os.path.join("root", "locked"), "cannot read directory: Permission denied"),
        (os.path.join("root", "private.txt"), "cannot open file: Permission denied"),
    ]
    assert not any(str(tmp_path) in r.reason for r in rejects(items))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_rejected_not_opened() -> None:
    write("root/a.txt", GENEVA)
    os.mkfifo("root/pipe.txt")
    items = read("root")
    assert list(articles(items)) == ["a"]
    assert only_reject(items).reason == "not a regular file or directory (a device, socket or pipe)"


def test_input_is_relative_to_the_working_directory_or_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("work/in/a.txt", GENEVA)
    write("elsewhere/b.txt", BRUSSELS)
    monkeypatch.chdir(tmp_path / "work")
    items = read(tmp_path / "work" / "in", "../elsewhere", ".")
    assert [(a.article_id, a.input) for a in articles(items).values()] == [
        ("a", os.path.join("in", "a.txt")),
        ("b", os.path.join("..", "elsewhere", "b.txt")),
    ]
    # Reading the working directory itself yields the same file again, under the same name.
    assert only_reject(items).input == os.path.join("in", "a.txt")


def test_missing_path_raises_input_error_before_anything_is_read() -> None:
    write("a.txt", GENEVA)
    with pytest.raises(InputError, match="'no/such/dir' does not exist"):
        read_inputs(["a.txt", "no/such/dir"])


def test_a_single_path_instead_of_a_list_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"pass \[path\]"):
        read_inputs("data")  # type: ignore[arg-type]


def test_reading_is_lazy() -> None:
    write("in/a.txt", GENEVA)
    write("in/b.txt", BRUSSELS)
    stream = read_inputs(["in"])
    assert next(stream).article_id == "a"
    # b.txt is only opened when asked for, so changing it now still shows.
    write("in/b.txt", "Changed after the walk started.")
    assert next(stream) == RawArticle("b", "Changed after the walk started.", os.path.join("in", "b.txt"))
    assert next(stream, None) is None


# --------------------------------------------------------------------------- whole corpora


def plant_mixed_corpus(root: Path) -> tuple[set[str], dict[tuple[str, str], str]]:
    """Good and bad files side by side; returns the ids to keep and (input, record) -> reason."""
    good = {"txt-good", "cp1252", "j1", "j3", "gz1", "p1", "geneva-talks"}
    write(root / "txt-good.txt", GENEVA)
    write(root / "cp1252.txt", "Zürich – “quoted”".encode("cp1252"))
    write(root / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(root / "empty.txt", b"")
    write(root / "blank.txt", "\n\n   \n")
    write(root / "photo.jpg", b"\xff\xd8\xff")
    write(
        root / "feeds" / "day1.jsonl",
        jsonl({"id": "j1", "text": GENEVA}, "{oops", {"id": "j3", "text": BRUSSELS}),
    )
    write(root / "feeds" / "array.jsonl", json.dumps([{"id": "a1", "text": GENEVA}]))
    packed = gzip.compress(
        jsonl(*({"id": f"gz{i}", "text": f"{GENEVA} {i}"} for i in range(1, 300))).encode()
    )
    write(root / "feeds" / "cut.jsonl.gz", packed[:-30])
    (root / "tables").mkdir()
    pq.write_table(
        pa.table({"id": ["p1", "p2"], "text": [BRUSSELS + " P.", " "]}), root / "tables" / "t.parquet"
    )
    pq.write_table(pa.table({"id": ["q1"]}), root / "tables" / "no-text.parquet")
    write(root / "pages" / "geneva-talks.html", PAGE)
    write(root / "pages" / "empty-page.html", "<html><body><div></div></body></html>")
    write(root / ".cache" / "hidden.txt", "never read")
    os.symlink("missing", root / "dangling.txt")
    expected = {
        (str(root / "binary.txt"), ""): "binary content, not text",
        (str(root / "empty.txt"), ""): "empty file",
        (str(root / "blank.txt"), ""): "only whitespace",
        (str(root / "photo.jpg"), ""): "unsupported file type '.jpg'",
        (str(root / "dangling.txt"), ""): "broken symlink",
        (str(root / "feeds" / "day1.jsonl"), "line 2"): "invalid JSON",
        (str(root / "feeds" / "array.jsonl"), ""): "file is a JSON array",
        (str(root / "tables" / "t.parquet"), "row 2"): "'text' is only whitespace",
        (str(root / "tables" / "no-text.parquet"), ""): "no text column",
        (str(root / "pages" / "empty-page.html"), ""): "no main text found",
    }
    return good, expected


def test_many_bad_inputs_next_to_good_ones_lose_nothing() -> None:
    good, expected = plant_mixed_corpus(Path("corpus"))
    items = read("corpus")
    found = articles(items)
    gz_ids = {i for i in found if i.startswith("gz")}
    assert set(found) - gz_ids == good - {"gz1"}
    # Everything before the damaged end of the gzip stream is kept, in order.
    assert "gz1" in gz_ids and gz_ids == {f"gz{i}" for i in range(1, len(gz_ids) + 1)}
    got = {(r.input, r.record): r.reason for r in rejects(items) if "cut.jsonl.gz" not in r.input}
    assert set(got) == set(expected)
    for key, reason in expected.items():
        assert got[key].startswith(reason), (key, got[key])
    [gz_reject] = [r for r in rejects(items) if "cut.jsonl.gz" in r.input]
    assert gz_reject.reason.startswith("gzip data truncated")
    # Every item is either kept or has exactly one reason: the counts add up.
    assert len(items) == len(found) + len(expected) + 1


def test_two_reads_give_identical_results() -> None:
    plant_mixed_corpus(Path("corpus"))
    assert read("corpus") == read("corpus")


# --------------------------------------------------------------------------- properties

_QUICK = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
html_soup = st.lists(
    st.sampled_from(
        ["<p>", "</p>", "<script>", "</script>", "<!--", "&amp;", "<br>", "\x00", "\x1b", "<b>", "x"]
    ),
    max_size=12,
).map("".join)
records = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=8) | st.integers() | json_values,
        "text": st.text(max_size=60) | html_soup | json_values,
        "title": st.text(max_size=20) | json_values,
        "published_at": st.text(max_size=25) | st.datetimes().map(str) | json_values,
        "author": json_values,
    },
)
json_lines = st.lists(
    st.one_of(
        records.map(lambda r: json.dumps(r).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=30),
    ),
    max_size=8,
)


def assert_well_formed(items: list[RawArticle | Reject], record_prefix: str | None) -> None:
    for item in items:
        assert isinstance(item, (RawArticle, Reject))
        assert item.record == "" or (record_prefix is not None and item.record.startswith(record_prefix))
        if isinstance(item, RawArticle):
            assert item.article_id and isinstance(item.article_id, str)
            assert item.text.strip()
            assert item.published_at is None or item.published_at.utcoffset() == timedelta(0)
        else:
            assert item.reason


@_QUICK
@given(data=st.binary(max_size=300))
def test_any_bytes_as_txt_give_one_article_or_one_reject(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "any.txt", data)
    items = read(path)
    assert len(items) == 1
    assert_well_formed(items, None)


@_QUICK
@given(lines=json_lines)
def test_any_lines_as_jsonl_never_raise(tmp_path: Path, lines: list[bytes]) -> None:
    path = write(tmp_path / "any.jsonl", b"\n".join(lines))
    items = read(path)
    assert_well_formed(items, "line ")
    kept = [i.article_id for i in items if isinstance(i, RawArticle)]
    assert len(kept) == len(set(kept))


@pytest.mark.parametrize("limit", [0, 2**31])
def test_sorting_takes_rows_from_one_contiguous_copy(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    import pyarrow as pa

    from dedup import pipeline

    monkeypatch.setattr(pipeline, "_STRING_OFFSET_LIMIT", limit)  # 0: as for a table of 2 GiB or more
    parts = [pa.table({"article_id": ["b", "a"], "n": [1, 2]}), pa.table({"article_id": ["c"], "n": [3]})]
    table = pipeline._contiguous(pa.concat_tables(parts))
    assert table.column("article_id").num_chunks == 1
    # 64-bit offsets, without the 2 GiB limit, only where the table needs them
    assert table.schema.field("article_id").type == (pa.large_string() if limit == 0 else pa.string())
    assert table.take([1, 0, 2]).column("article_id").to_pylist() == ["a", "b", "c"]
    assert table.column("n").to_pylist() == [1, 2, 3]


def test_order_windows_are_whole_row_groups_within_the_budget():
    import numpy as np

    from dedup.pipeline import _order_windows

    sizes = np.full(10, 10, dtype=np.int64)
    assert _order_windows(sizes, 3, 65) == [(0, 6), (6, 10)]
    assert _order_windows(sizes, 3, 25) == [(0, 3), (3, 6), (6, 9), (9, 10)]  # one row group when none fits
    assert _order_windows(sizes, 3, 1000) == [(0, 10)]
    assert _order_windows(np.array([100, 1, 1, 1], dtype=np.int64), 1, 2) == [(0, 1), (1, 3), (3, 4)]
    assert _order_windows(np.empty(0, dtype=np.int64), 3, 10) == []


@pytest.mark.parametrize("order", ["shuffled", "in id order", "in id order, then not"])
def test_documents_are_written_in_id_order_window_by_window(tmp_path, monkeypatch, order):
    """Three batches of articles (ids shuffled, in order, or in order for two batches only;
    some left without text), ordered in windows of a few small row groups: every row keeps
    its own values."""
    from dedup import pipeline

    monkeypatch.setattr(pipeline, "_DOCUMENTS_ROW_GROUP", 170)
    monkeypatch.setattr(pipeline, "_ORDER_WINDOW_BYTES", 40_000)
    n = 2300
    in_id_order = order == "in id order"
    keys = {
        "shuffled": [(k * 7919) % n for k in range(n)],  # 7919 is prime: a permutation
        "in id order": list(range(n)),
        "in id order, then not": [*range(300, n), *range(300)],
    }[order]
    lines = []
    for k in keys:
        text = "Skip to content" if k % 97 == 5 else f"Story {k} tells of event {k % 13} in town {k % 31}. " * (1 + k % 5)
        lines.append(json.dumps({"id": f"art-{k:05d}", "title": f"Title {k}", "text": text}))
    write(tmp_path / "in" / "feed.jsonl", "\n".join(lines) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    result = pipeline.ingest_articles([tmp_path / "in"], work, IngestConfig(), workers=1)

    documents = pq.ParquetFile(work / "documents.parquet")
    table = documents.read()
    ids = table.column("article_id").to_pylist()
    kept = sorted(json.loads(line)["id"] for line in lines if "Skip to content" not in line)
    assert ids == kept
    assert result.counts["accepted"] == len(kept) and result.counts["rejected"] == n - len(kept)
    for article_id, title, record in zip(ids, table.column("title").to_pylist(), table.column("record").to_pylist(),
                                         strict=True):
        assert title == f"Title {int(article_id[4:])}"
        assert json.loads(lines[int(record.split()[-1]) - 1])["id"] == article_id
    def groups(rows: int) -> list[int]:
        return [170] * (rows // 170) + [rows % 170] * (rows % 170 > 0)

    sizes = [documents.metadata.row_group(g).num_rows for g in range(documents.num_row_groups)]
    if in_id_order:  # each batch of 1000 as it is
        assert sizes == [size for s in range(0, n, 1000)
                         for size in groups(sum(k % 97 != 5 for k in range(s, min(s + 1000, n))))]
    else:
        assert sizes == groups(len(kept))
    assert sorted(p.name for p in work.iterdir()) == ["documents.parquet", "rejects.parquet"]


def test_rows_of_parts_not_in_id_order_are_ordered_too(tmp_path, monkeypatch):
    import pyarrow.compute as pc

    from dedup import pipeline, schema

    monkeypatch.setattr(pipeline, "_DOCUMENTS_ROW_GROUP", 2)
    monkeypatch.setattr(pipeline, "_ORDER_WINDOW_BYTES", 8)
    rows = [{"article_id": a, "input": "in", "record": a, "n_words": 1, "content_hash": a, "text": a * 3}
            for a in ("e", "b", "f", "a", "d", "c", "g")]
    parts = [tmp_path / "p0.arrow", tmp_path / "p1.arrow"]
    pipeline._write_part(pa.Table.from_pylist(rows[:4], schema=schema.DOCUMENTS), parts[0])
    pipeline._write_part(pa.Table.from_pylist(rows[4:], schema=schema.DOCUMENTS), parts[1])
    pipeline._write_documents(parts, tmp_path / "documents.parquet")
    every = pa.Table.from_pylist(rows, schema=schema.DOCUMENTS)
    written = pq.ParquetFile(tmp_path / "documents.parquet")
    assert written.read().equals(every.take(pc.sort_indices(every.column("article_id"))))
    assert [written.metadata.row_group(g).num_rows for g in range(written.num_row_groups)] == [2, 2, 2, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents.parquet"]


# --------------------------------------------------------------------------- feeds

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Example Wire</title>
  <link>https://wire.example/</link>
  <item>
    <title>Talks end in Geneva</title>
    <link>https://wire.example/geneva</link>
    <guid isPermaLink="false">wire-1</guid>
    <pubDate>Tue, 05 Mar 2024 10:00:00 +0100</pubDate>
    <dc:creator>A. Smith</dc:creator>
    <media:content url="https://wire.example/p.jpg"><media:title>A photo</media:title></media:content>
    <media:description>A photo caption, not the story.</media:description>
    <description>A short teaser.</description>
    <content:encoded><![CDATA[<p>GENEVA - Talks between the United States and Russia</p>
      <p>ended without a breakthrough on Monday.</p>]]></content:encoded>
  </item>
  <item><title>Only a title</title><link>https://wire.example/empty</link></item>
  <item>
    <title>Allies meet</title>
    <link>https://wire.example/brussels</link>
    <source url="https://other.example/rss">Other Paper</source>
    <description>&lt;b&gt;BRUSSELS&lt;/b&gt; - NATO allies met on Wednesday.</description>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Planet News</title>
  <entry>
    <title type="text">Talks end</title>
    <link rel="self" href="https://planet.example/feed/1"/>
    <link rel="alternate" href="https://planet.example/talks"/>
    <id>tag:planet.example,2024:1</id>
    <updated>2024-03-06T09:00:00Z</updated>
    <published>2024-03-05T09:00:00Z</published>
    <author><name>Jane Doe</name></author>
    <author><name>John Roe</name></author>
    <summary>Teaser only.</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Negotiators met in Geneva.</p></div></content>
  </entry>
</feed>
"""

RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://old.example/"><title>Old Times</title></channel>
  <item rdf:about="https://old.example/a">
    <title>Storm reaches the coast</title>
    <link>https://old.example/a</link>
    <description>A storm reached the coast on Friday.</description>
    <dc:date>2024-03-07T12:00:00Z</dc:date>
  </item>
</rdf:RDF>
"""


def test_rss_items_are_articles_with_their_full_content_and_metadata() -> None:
    write("wire.rss", RSS)
    items = read("wire.rss")
    found = list(articles(items).values())
    assert [a.record for a in found] == ["item 1", "item 3"]
    first, third = found
    assert first.article_id == "wire-1"
    assert first.text == "GENEVA - Talks between the United States and Russia\n\nended without a breakthrough on Monday."
    assert (first.title, first.url, first.byline, first.source) == (
        "Talks end in Geneva", "https://wire.example/geneva", "A. Smith", "Example Wire")
    assert first.published_at == datetime(2024, 3, 5, 9, tzinfo=UTC)
    # No content: the description is the text (its markup reduced); the item's own source wins.
    assert (third.text, third.source) == ("BRUSSELS - NATO allies met on Wednesday.", "Other Paper")
    assert third.article_id == ingest.derived_id("https://wire.example/brussels", "Allies meet", third.text)
    reject = only_reject(items)
    assert (reject.input, reject.record, reject.reason) == (
        "wire.rss", "item 2", "the item has no content, description or summary")


def test_atom_and_rss1_feeds_are_read_too() -> None:
    write("planet.atom", ATOM)
    write("old.xml", RDF)
    found = articles(read("planet.atom", "old.xml"))
    entry = found["tag:planet.example,2024:1"]
    assert (entry.text, entry.title, entry.url, entry.byline, entry.source) == (
        "Negotiators met in Geneva.", "Talks end", "https://planet.example/talks", "Jane Doe, John Roe", "Planet News")
    assert entry.published_at == datetime(2024, 3, 5, 9, tzinfo=UTC)  # published, not updated
    (old,) = [a for a in found.values() if a.input == "old.xml"]
    assert (old.text, old.source, old.url) == ("A storm reached the coast on Friday.", "Old Times", "https://old.example/a")
    assert old.published_at == datetime(2024, 3, 7, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<?xml version="1.0"?><urlset><url><loc>https://x.example/</loc></url></urlset>',
         "not an RSS or Atom feed: its root element is <urlset>"),
        ("<rss><channel><item><title>cut", "not well-formed XML: "),
        ('<rss version="2.0"><title>no channel</title></rss>', "an RSS document without a <channel>"),
    ],
)
def test_an_unusable_feed_is_one_reject(content: str, reason: str) -> None:
    write("feed.xml", content)
    reject = only_reject(read("feed.xml"))
    assert (reject.input, reject.record) == ("feed.xml", "")
    assert reject.reason.startswith(reason), reject.reason


def test_feed_entities_are_not_expanded() -> None:
    bomb = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss><channel><title>T</title><item><guid>x</guid><description>Storm &d; news.</description></item></channel></rss>
"""
    write("bomb.xml", bomb)
    (article,) = articles(read("bomb.xml")).values()
    assert article.text == "Storm  news."


json_documents = st.one_of(
    records,
    st.lists(records | json_values, max_size=5),
    st.fixed_dictionaries({"status": json_values, "articles": st.lists(records | json_values, max_size=5)}),
    json_values,
)


@_QUICK
@given(document=json_documents)
def test_any_json_document_never_raises(tmp_path: Path, document: Any) -> None:
    path = write(tmp_path / "any.json", json.dumps(document))
    items = read(path)
    assert_well_formed(items, "item ")
    if not items:  # silence only for a document that holds no items: [] or a feed whose arrays are empty
        arrays = [v for v in document.values() if isinstance(v, list)] if isinstance(document, dict) else []
        assert document == [] or (arrays and not any(arrays))


feed_fields = st.lists(
    st.tuples(
        st.sampled_from(["title", "link", "guid", "pubDate", "description", "content:encoded", "dc:creator", "id"]),
        st.text(max_size=30) | html_soup,
    ),
    max_size=6,
)


@_QUICK
@given(items=st.lists(feed_fields, max_size=4), noise=st.binary(max_size=20))
def test_any_feed_never_raises(tmp_path: Path, items: list[list[tuple[str, str]]], noise: bytes) -> None:
    from xml.sax.saxutils import escape

    body = "".join("<item>" + "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in item) + "</item>"
                   for item in items)
    feed = ('<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>{body}</channel></rss>')
    path = write(tmp_path / "any.rss", feed.encode("utf-8", "surrogatepass") + noise)
    found = read(path)
    assert_well_formed(found, "item ")
    if not noise.strip():  # each item is an article or a reject, unless the whole file is one
        numbered = {item.record for item in found if item.record}
        assert numbered == {f"item {n}" for n in range(1, len(items) + 1)} or [i.record for i in found] == [""]
