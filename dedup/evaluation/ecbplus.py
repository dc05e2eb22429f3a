"""ECB+ as labelled news articles: convert the original release, load the compact copy.

ECB+ (Cybulska & Vossen, LREC 2014; CC BY 3.0 Unported) groups English news articles into
topics; each topic holds two different real-world events of the same kind (two rehab
admissions, two earthquakes...). A document's gold event is ``<topic>_<ecb|ecbplus>``.

The release stores every article as whitespace-split tokens in an XML file. The
:func:`convert_ecbplus` function turns the train and dev topics back into readable text; the
result is committed under ``data/benchmarks/`` as gzipped JSON lines and read back with
:func:`load_benchmark`. The held-out test topics are not part of that copy.

Example:
    >>> from dedup.evaluation.ecbplus import load_benchmark
    >>> dev = load_benchmark("ecbplus-dev")  # doctest: +SKIP
    >>> len(dev), len({a.event for a in dev})  # doctest: +SKIP
    (197, 16)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from dedup.errors import InputError

__all__ = [
    "BENCHMARKS",
    "SPLITS",
    "LabelledArticle",
    "benchmark_dir",
    "benchmark_path",
    "build_text",
    "convert_ecbplus",
    "join_tokens",
    "join_url",
    "load_benchmark",
    "load_labelled",
    "natural_key",
    "read_sentences",
    "write_jsonl_gz",
]

BENCHMARKS: tuple[str, ...] = ("ecbplus-train", "ecbplus-dev")
"""Names accepted by :func:`load_benchmark`."""

SPLITS: tuple[str, ...] = ("train", "dev")
"""Splits of the committed copy; the test topics are held out."""
LABEL_COLUMNS: tuple[str, ...] = ("doc_name", "topic", "event_label", "split")

# Tokens glued to the token before them: closing punctuation and the clitics a Penn-Treebank
# tokenizer splits off ("is n't", "Reid 's").
_NO_SPACE_BEFORE = frozenset(
    {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "...", "…", "''", "”", "’"}
    | {"'s", "'S", "n't", "N'T", "'re", "'RE", "'ve", "'VE", "'ll", "'LL", "'d", "'D", "'m", "'M"}
)
# Tokens glued to the token after them: opening brackets and quotes, currency signs.
_NO_SPACE_AFTER = frozenset({"(", "[", "{", "``", "“", "‘", "$", "£", "€"})
# What follows a split-off curly apostrophe in a contraction ("it ’ s", "isn ’ t").
_CLITIC_TAILS = frozenset({"s", "S", "t", "T", "ll", "ve", "m", "re", "d"})
# Words that follow a dash far more often than they end a hyphenated compound.
_DASH_FOLLOWERS = frozenset(
    {"the", "a", "an", "and", "but", "or", "which", "who", "whom", "whose", "that", "this", "these"}
    | {"those", "including", "despite", "he", "she", "it", "they", "we", "i", "you", "his", "her"}
    | {"their", "its", "not", "as", "with", "for", "to", "from", "when", "where", "while", "if", "so"}
)
_SENTENCE_PUNCT = frozenset({",", ".", "!", "?", "…", "..."})
# Suffixes that make "TMZ . com" a host name rather than the end of a sentence.
_HOST_SUFFIXES = frozenset({"com", "org", "net", "gov", "edu", "co", "uk", "html", "htm", "php", "aspx"})
_URL_PUNCT = frozenset({".", "/", "-", "_", ":", "?", "=", "&", "#", "%", "~", "+"})
_FINAL_PUNCT = re.compile(r"[.!?…][\"'”’)\]]*$")
_LOOKS_LIKE_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORDISH = re.compile(r"\w")
_NATURAL_PARTS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class LabelledArticle:
    """One article with its gold event label.

    Attributes:
        id: Article identifier, unique within its file (``"1_10ecbplus"``).
        text: Plain text; a headline, when known, is the first line.
        event: Gold event label (``"1_ecbplus"``); articles of one event share it.
        topic: Group of related events (``"1"``), or ``None`` when the file has no topic.
        url: Where the article was found, or ``None``.
    """

    id: str
    text: str
    event: str
    topic: str | None = None
    url: str | None = None


# --------------------------------------------------------------------------- token joining


def join_tokens(tokens: Sequence[str], *, hyphens_split: bool = False) -> str:
    r"""Rebuild one sentence from its whitespace-split tokens.

    Spacing follows English news copy: no space before ``, . ; : ! ? ) ] %`` and split-off
    clitics (``'s``, ``n't``, ``’ s``), none after ``( [ $`` and opening quotes. The
    tokenizer's quote tokens (two backquotes, two apostrophes) become ``"``. A lone straight
    quote is closing after ``, . ! ?`` or at the end of the sentence, opening at its start or
    after ``:``, and otherwise closes a quote if one is open (:func:`build_text` follows open
    quotes across the sentences of a document).

    Two tokenizations occur in ECB+. The original ECB files are Penn-Treebank style (numbers
    and hyphenated words are single tokens, a lone ``-`` is a dash). The ``ecbplus`` files
    split at every punctuation mark, so with ``hyphens_split=True`` a lone ``-`` between two
    words is a hyphen (``five - boat`` -> ``five-boat``) unless a function word follows it
    (``record - a 10-win``: a dash), ``- -`` is a dash, and numbers,
    times, dates, abbreviations and host names are glued back (``170 , 000``, ``9 : 25``,
    ``4 / 9 / 2007``, ``$4 . 9``, ``p . m .``, ``TMZ . com``).

    Args:
        tokens: Tokens of one sentence, in order; surrounding whitespace is ignored.
        hyphens_split: Whether the tokenizer split hyphenated words and numbers.

    Returns:
        The sentence as one line of text (empty for no tokens).

    Example:
        >>> join_tokens(["``", "We", "are", "n't", "sure", ",", "''", "she", "said", "."])
        '"We aren\'t sure," she said.'
    """
    return _TokenJoiner(hyphens_split=hyphens_split).join(tokens)


class _TokenJoiner:
    """Decides, token by token, whether a space separates it from the previous one.

    A straight double quote cannot be told to open or close from itself, so the joiner keeps
    whether a quote is open; :func:`build_text` reuses one joiner for a whole document because
    a quotation often runs over several sentences.
    """

    def __init__(self, *, hyphens_split: bool) -> None:
        self.hyphens_split = hyphens_split
        self.quote_open = False
        self.single_open = False
        self.carried_quote = False

    def join(self, raw_tokens: Sequence[str]) -> str:
        tokens = _clean_tokens(raw_tokens, hyphens_split=self.hyphens_split)
        if self.carried_quote and tokens:
            if tokens[0] not in {'"', "``", "“"}:
                tokens.insert(0, '"')
            self.carried_quote = False
        url_mask = _mark_urls(tokens)
        out: list[str] = []
        glue_next = False
        for i, token in enumerate(tokens):
            prev = tokens[i - 1] if i > 0 else None
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if url_mask[i]:
                space_before = i == 0 or not url_mask[i - 1]
                space_after = i + 1 == len(tokens) or not url_mask[i + 1]
                text = token
            else:
                after = tokens[i + 2] if i + 2 < len(tokens) else None
                text, space_before, space_after = self._place(token, prev, nxt, after)
            if not text:
                continue
            if out and space_before and not glue_next:
                out.append(" ")
            out.append(text)
            glue_next = not space_after
        return "".join(out)

    def _place(
        self, token: str, prev: str | None, nxt: str | None, after: str | None
    ) -> tuple[str, bool, bool]:
        """Return the token's text and whether it wants a space before and after it.

        ``prev``, ``nxt`` and ``after`` are the previous, next and second next tokens.
        """
        if token in {'"', "``", "''"}:
            return self._place_double_quote(token, prev, nxt)
        if token == "'":
            return self._place_single_quote(prev, nxt)
        text = token.replace("``", '"').replace("''", '"')
        self._track_attached_quotes(text)
        if self.hyphens_split and _glues_both_sides(token, prev, nxt, after):
            return text, False, False
        if self.hyphens_split and _is_bare_decimal_point(token, prev, nxt):
            return text, True, False
        space_before = token not in _NO_SPACE_BEFORE
        space_after = token not in _NO_SPACE_AFTER
        return text, space_before, space_after

    def _place_double_quote(self, token: str, prev: str | None, nxt: str | None) -> tuple[str, bool, bool]:
        at_end = nxt is None and prev is not None
        if at_end and token in {'"', "``"} and not self.quote_open:
            # The sentence splitter left the opening quote of the next sentence behind.
            self.carried_quote = True
            return "", False, True
        if token == "''" or nxt is None:
            opening = False  # includes a final ``, which the tokenizer got backwards ("girl. ``")
        elif token == "``" or prev is None or prev == ":":
            opening = True
        elif prev in _SENTENCE_PUNCT:
            opening = False
        else:
            opening = not self.quote_open
        self.quote_open = opening
        return '"', opening, not opening

    def _place_single_quote(self, prev: str | None, nxt: str | None) -> tuple[str, bool, bool]:
        if nxt is None:
            opening = False
        elif prev is None:
            opening = True
        elif prev[-1].isalnum():
            opening = False  # "the Colts ' victory", "dancin '": a possessive or a closing quote
        else:
            opening = not self.single_open
        self.single_open = opening
        return "'", opening, not opening

    def _track_attached_quotes(self, text: str) -> None:
        """Follow quotes that are part of a token (``"We``, ``bagman"``, ``'8``) or curly ones."""
        if text[0] in {'"', "“"} and text != '"':
            self.quote_open = True
        if text[-1] in {'"', "”"} and (len(text) > 1 or text == "”"):
            self.quote_open = False
        if text == "‘" or (text[0] in {"'", "‘"} and text[1:2].isalnum()):
            self.single_open = True
        if text[-1] in {"'", "’"} and text[-2:-1].isalnum():
            self.single_open = False


def _clean_tokens(raw_tokens: Iterable[str], *, hyphens_split: bool) -> list[str]:
    """Strip whitespace, drop empty tokens and, for split tokenizers, turn ``- -`` into ``--``."""
    tokens: list[str] = []
    for raw in raw_tokens:
        token = " ".join(raw.split())
        if not token:
            continue
        if hyphens_split and token == "-" and tokens and tokens[-1] in {"-", "--"}:
            tokens[-1] = "--"
            continue
        if token == "'" and tokens and tokens[-1] == "'":
            tokens[-1] = "''"  # a closing double quote written as two apostrophes
            continue
        tokens.append(token)
    return tokens


def _mark_urls(tokens: Sequence[str]) -> list[bool]:
    """Flag the tokens of web addresses written in the text (``http : / / www . x . org``)."""
    mask = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        if not _starts_url(tokens, i):
            i += 1
            continue
        mask[i] = True
        i += 1
        # Address pieces alternate words and punctuation: two words in a row, or a "." that
        # ends the sentence or precedes a non-address token, end the address.
        while i < len(tokens) and _is_url_piece(tokens[i]):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if tokens[i] == "." and (nxt is None or not _is_url_piece(nxt)):
                break
            if tokens[i] not in _URL_PUNCT and tokens[i - 1] not in _URL_PUNCT:
                break
            mask[i] = True
            i += 1
    return mask


def _starts_url(tokens: Sequence[str], i: int) -> bool:
    word = tokens[i].lower()
    if word in {"http", "https"}:
        return list(tokens[i + 1 : i + 4]) == [":", "/", "/"]
    return word == "www" and list(tokens[i + 1 : i + 2]) == ["."]


def _is_url_piece(token: str) -> bool:
    return token in _URL_PUNCT or token.replace("-", "").replace("_", "").isalnum()


def _ends_with_digit(token: str | None) -> bool:
    return token is not None and token[-1:].isdigit()


def _glues_both_sides(token: str, prev: str | None, nxt: str | None, after: str | None) -> bool:
    """Whether a token of a split tokenizer was written without spaces around it."""
    if prev is None or nxt is None:
        return False
    if token == "-":
        return _is_hyphen(prev, nxt, after)
    if token == "/":
        return bool(_WORDISH.match(prev[-1]) and _WORDISH.match(nxt[0]))
    if token == "’":
        return nxt in _CLITIC_TAILS and prev[-1:].isalpha()
    if token == ":":
        return _ends_with_digit(prev) and nxt[:1].isdigit()
    if token == ",":
        # "170 , 000" but not "June 8 , 2013": a thousands group is exactly three digits.
        return bool(re.search(r"(?:^|\D)\d{1,3}$", prev)) and len(nxt) == 3 and nxt.isdigit()
    if token == ".":
        return _glues_period(prev, nxt)
    return False


def _is_hyphen(prev: str, nxt: str, after: str | None) -> bool:
    """Tell a hyphen (``five - boat``) from a dash written with a hyphen (``record - a 10-win``).

    A dash is usually followed by a function word; ``son - in - law`` and ``stop - and -
    frisk`` are compounds because another hyphen follows that word, and ``Fix - It`` is a
    capitalised name.
    """
    if not (_WORDISH.match(prev[-1]) and _WORDISH.match(nxt[0])):
        return False
    if prev[0].isupper() and nxt[0].isupper():
        return True
    return nxt.lower() not in _DASH_FOLLOWERS or after == "-"


def _is_bare_decimal_point(token: str, prev: str | None, nxt: str | None) -> bool:
    """``a . 38 caliber``, ``( . 464 )``; but ``Nov . 30`` is an abbreviation."""
    if token != "." or nxt is None or not _DIGITS.fullmatch(nxt):
        return False
    return prev is None or not prev[0].isupper()


def _glues_period(prev: str, nxt: str) -> bool:
    if _ends_with_digit(prev) and nxt[:1].isdigit():
        return True  # $4 . 9 million
    if len(prev) == 1 and prev.isalpha() and len(nxt) == 1 and nxt.isalpha():
        return True  # U . S, p . m
    return nxt.lower() in _HOST_SUFFIXES and prev[-1:].isalnum()  # TMZ . com


def join_url(tokens: Sequence[str]) -> str | None:
    """Rebuild the source address of an ``ecbplus`` file from its sentence-0 tokens.

    Args:
        tokens: Tokens of sentence 0.

    Returns:
        The address without spaces, or ``None`` when it does not look like an URL.

    Example:
        >>> join_url(["http", ":", "/", "/", "www", ".", "example", ".", "com", "/", "a"])
        'http://www.example.com/a'
    """
    url = "".join(token.strip() for token in tokens)
    return url if _LOOKS_LIKE_URL.match(url) else None


# ----------------------------------------------------------------------- document building


def build_text(sentences: Sequence[Sequence[str]], *, hyphens_split: bool = False) -> str:
    r"""Rebuild an article from its tokenized sentences.

    The layout rule, chosen after reading a sample of the corpus: most ``ecbplus`` articles
    open with a headline and often a dateline or byline (``Lindsay Lohan checks into Betty
    Ford Center`` / ``May 03, 2013``), sentences that have no final punctuation; original
    ECB articles start directly with the body. So every leading sentence without final
    ``. ! ? …`` (possibly followed by a closing quote or bracket) gets its own line, and the
    remaining sentences form one paragraph, joined by single spaces. Later unpunctuated
    sentences (a missing full stop, a photo credit) stay in the paragraph.

    Args:
        sentences: Tokens of each sentence, in order (without the URL sentence).
        hyphens_split: Passed to :func:`join_tokens`.

    Returns:
        The text; empty when there are no tokens.

    Example:
        >>> build_text([["Quake", "hits", "Chile"], ["It", "was", "strong", "."], ["Two", "died", "."]])
        'Quake hits Chile\nIt was strong. Two died.'
    """
    joiner = _TokenJoiner(hyphens_split=hyphens_split)
    lines = [line for line in (joiner.join(tokens) for tokens in sentences) if line]
    head: list[str] = []
    for line in lines:
        if _FINAL_PUNCT.search(line):
            break
        head.append(line)
    body = " ".join(lines[len(head) :])
    return "\n".join([*head, body] if body else head)


def read_sentences(xml_path: Path) -> dict[int, list[str]]:
    """Read the tokens of an ECB+ XML file, grouped by sentence number.

    Args:
        xml_path: One ``<topic>_<n><ecb|ecbplus>.xml`` file of the release.

    Returns:
        Sentence number -> tokens in reading order.

    Raises:
        InputError: The file is missing or not well-formed XML.
    """
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError as exc:
        raise InputError(f"ECB+ document {xml_path} does not exist; check the release directory") from exc
    except ET.ParseError as exc:
        raise InputError(f"ECB+ document {xml_path} is not well-formed XML: {exc}") from exc
    positions: list[tuple[int, int, str]] = []
    for element in root.iter("token"):
        try:
            sentence, number = int(element.get("sentence", "")), int(element.get("number", ""))
        except ValueError as exc:
            raise InputError(f"{xml_path}: token {element.get('t_id')} has no sentence/number") from exc
        positions.append((sentence, number, element.text or ""))
    sentences: dict[int, list[str]] = {}
    for sentence, _, token in sorted(positions, key=lambda p: (p[0], p[1])):
        sentences.setdefault(sentence, []).append(token)
    return sentences


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value: ``1_2ecb`` before ``1_10ecb``.

    Example:
        >>> sorted(["1_10ecb", "1_2ecbplus", "1_2ecb"], key=natural_key)
        ['1_2ecb', '1_2ecbplus', '1_10ecb']
    """
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _NATURAL_PARTS.split(name) if part
    )


def convert_ecbplus(
    release_dir: str | Path, labels_tsv: str | Path, *, splits: Sequence[str] = SPLITS
) -> list[dict[str, Any]]:
    """Convert the documents listed in the labels file into text records.

    Args:
        release_dir: The unpacked release (``ECB+_LREC2014``, holding ``ECB+/<topic>/``) or its
            ``ECB+`` folder itself.
        labels_tsv: ``ecbplus_doc_labels.tsv``: one row per document with at least the
            columns ``doc_name, topic, event_label, split``.
        splits: Rows of other splits are skipped.

    Returns:
        Records ``{"id", "text", "event", "topic", "split", "url"}`` sorted by topic number,
        then document name in natural order. ``url`` is the source address of ``ecbplus``
        documents (their sentence 0, which is left out of the text), ``None`` for ECB ones.

    Raises:
        InputError: A path is missing, a label row is malformed, or its event label does not
            agree with the document name.
    """
    topics_dir = _find_topics_dir(Path(release_dir))
    rows = [row for row in _read_label_rows(Path(labels_tsv)) if row["split"] in splits]
    records = [_convert_document(topics_dir, row) for row in rows]
    records.sort(key=lambda r: (int(r["topic"]), natural_key(r["id"])))
    return records


def _find_topics_dir(release_dir: Path) -> Path:
    for candidate in (release_dir / "ECB+", release_dir):
        if candidate.is_dir() and any(
            child.is_dir() and child.name.isdigit() for child in candidate.iterdir()
        ):
            return candidate
    raise InputError(
        f"{release_dir} holds no ECB+ topic folders; pass the unpacked release "
        "(the ECB+_LREC2014 directory) or its ECB+ folder"
    )


def _read_label_rows(labels_tsv: Path) -> list[dict[str, str]]:
    if not labels_tsv.is_file():
        raise InputError(f"labels file {labels_tsv} does not exist; expected ecbplus_doc_labels.tsv")
    with labels_tsv.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{labels_tsv} lacks column(s) {missing}; it has {reader.fieldnames}")
        return list(reader)


def _convert_document(topics_dir: Path, row: Mapping[str, str]) -> dict[str, Any]:
    doc_name, topic = row["doc_name"], row["topic"]
    match = re.fullmatch(r"(\d+)_\d+(ecb|ecbplus)\.xml", doc_name)
    if match is None or match.group(1) != topic:
        raise InputError(
            f"label row {doc_name!r} (topic {topic!r}) does not name an ECB+ document of its topic"
        )
    seminal_set = match.group(2)
    if row["event_label"] != f"{topic}_{seminal_set}":
        raise InputError(f"{doc_name}: event label {row['event_label']!r} should be {topic}_{seminal_set}")
    sentences = read_sentences(topics_dir / topic / doc_name)
    url = None
    if seminal_set == "ecbplus":
        url = join_url(sentences.pop(0, []))
    ordered = [sentences[number] for number in sorted(sentences)]
    return {
        "id": doc_name.removesuffix(".xml"),
        "text": build_text(ordered, hyphens_split=seminal_set == "ecbplus"),
        "event": row["event_label"],
        "topic": topic,
        "split": row["split"],
        "url": url,
    }


def write_jsonl_gz(records: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write records as gzipped JSON lines with reproducible bytes.

    The gzip header carries no file name and a zero timestamp, and keys keep their order, so
    the same records always give the same file.

    Args:
        records: JSON-serialisable mappings.
        path: Output file, normally ``*.jsonl.gz``.

    Returns:
        Number of records written.
    """
    buffer = io.BytesIO()
    count = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        for record in records:
            gz.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
            count += 1
    Path(path).write_bytes(buffer.getvalue())
    return count


# ------------------------------------------------------------------------------- loading


def benchmark_dir() -> Path:
    """Directory of the committed benchmark files: ``<repository>/data/benchmarks``."""
    return Path(__file__).resolve().parents[2] / "data" / "benchmarks"


def benchmark_path(name: str) -> Path:
    """File behind a benchmark name (``ecbplus-dev`` -> ``ecbplus_dev.jsonl.gz``).

    Raises:
        InputError: ``name`` is not one of :data:`BENCHMARKS`.
    """
    if name not in BENCHMARKS:
        raise InputError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return benchmark_dir() / f"{name.replace('-', '_')}.jsonl.gz"


def load_benchmark(name: str) -> list[LabelledArticle]:
    """Load a committed labelled benchmark.

    Args:
        name: One of :data:`BENCHMARKS`.

    Returns:
        Articles in file order (topic, then document name).

    Raises:
        InputError: Unknown name, or the file is missing (regenerate it with
            ``benchmarks/build_ecbplus.py``).
    """
    path = benchmark_path(name)
    if not path.is_file():
        raise InputError(
            f"benchmark file {path} is missing; regenerate it with "
            "`python benchmarks/build_ecbplus.py --source <news_clustering/ecbplus> --out data/benchmarks`"
        )
    return load_labelled(path)


def load_labelled(
    path: str | Path,
    id_column: str = "id",
    label_column: str = "event",
    text_column: str = "text",
) -> list[LabelledArticle]:
    """Load labelled articles from a ``.jsonl``, ``.parquet`` or ``.csv`` file (``.tsv``, and
    gzip-compressed ``.jsonl.gz``, ``.csv.gz``, ``.tsv.gz`` too).

    Optional ``topic`` and ``url`` columns are kept when present. Ids and labels are read as
    strings (an integer label ``3`` becomes ``"3"``).

    Args:
        path: The file.
        id_column: Column holding the article id.
        label_column: Column holding the gold event label.
        text_column: Column holding the article text.

    Returns:
        One article per row, in file order.

    Raises:
        InputError: Missing file, unsupported extension, unreadable row, a required column
            missing (the message lists the columns present), an empty value or a repeated id.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"labelled file {path} does not exist")
    columns = (id_column, label_column, text_column)
    articles = [_to_article(row, columns, where) for where, row in _read_rows(path, columns)]
    _check_unique_ids(articles, path)
    return articles


def _read_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _read_parquet_rows(path, columns)
    elif name.endswith((".jsonl", ".jsonl.gz")):
        yield from _read_jsonl_rows(path, columns)
    elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        yield from _read_csv_rows(path, columns)
    else:
        raise InputError(f"{path}: unsupported file type; use .jsonl, .jsonl.gz, .parquet, .csv or .tsv")


def _read_parquet_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from exc
    _require_columns(columns, table.column_names, f"{path}")
    for index, row in enumerate(table.to_pylist()):
        yield f"{path} row {index}", row


def _read_jsonl_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path} line {number}"
                row = _parse_json_object(line, where)
                _require_columns(columns, list(row), where)
                yield where, row
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} cannot be read as UTF-8 JSON lines: {exc}") from exc


def _read_csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Rows of a CSV (or, named ``.tsv``, tab-separated) file with a header row; quoted values
    may span lines, and a row is located by the line it starts on."""
    name = path.name.lower().removesuffix(".gz")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t" if name.endswith(".tsv") else ",")
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path} is empty: no header row")
            _require_columns(columns, header, f"{path}")
            start = reader.line_num + 1
            for values in reader:
                where = f"{path} line {start}"
                start = reader.line_num + 1
                if not any(values):
                    continue
                if len(values) != len(header):
                    raise InputError(f"{where} has {len(values)} values where the header names {len(header)}")
                yield where, dict(zip(header, values, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} cannot be read as UTF-8 CSV: {exc}") from exc


def _parse_json_object(line: str, where: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not valid JSON: {exc.msg}") from exc
    if not isinstance(row, dict):
        raise InputError(f"{where} is a JSON {type(row).__name__}, expected an object")
    return row


def _require_columns(columns: Sequence[str], present: Sequence[str], where: str) -> None:
    for column in columns:
        if column not in present:
            listed = ", ".join(map(repr, present)) or "none"
            raise InputError(f"{where} has no column {column!r}; columns present: {listed}")


def _to_article(row: Mapping[str, Any], columns: Sequence[str], where: str) -> LabelledArticle:
    id_column, label_column, text_column = columns
    values = {}
    for column in columns:
        value = row[column]
        if value is None or value == "":
            raise InputError(f"{where}: column {column!r} is empty")
        values[column] = value
    if not isinstance(values[text_column], str):
        raise InputError(
            f"{where}: column {text_column!r} must be a string, got {type(values[text_column]).__name__}"
        )
    topic, url = row.get("topic"), row.get("url")
    return LabelledArticle(
        id=str(values[id_column]),
        text=values[text_column],
        event=str(values[label_column]),
        topic=None if topic in (None, "") else str(topic),
        url=None if url in (None, "") else str(url),
    )


def _check_unique_ids(articles: Sequence[LabelledArticle], path: Path) -> None:
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise InputError(f"{path}: id {article.id!r} occurs more than once; ids must be unique")
        seen.add(article.id)
