"""Read input files into :class:`RawArticle` records, and every unusable item into a :class:`Reject`.

Supported inputs (matched on the lower-cased file name):

=====================================  ==========================================================
``.txt``                               one article per file; id = file stem, text = the content
``.jsonl``, ``.ndjson`` (``.gz`` too)  one JSON object per line with ``text`` (and ``id``)
``.json`` (``.gz`` too)                an article, an array of them, or an object holding one
                                       array of them (a feed or API response); id = file stem
                                       for a lone article
``.parquet``                           the same columns as JSON Lines, one article per row
``.csv``, ``.tsv`` (``.gz`` too)       the same columns, named in a header row
``.html``, ``.htm``                    one page per file; main text and metadata by trafilatura
``.rss``, ``.atom``, ``.xml``          an RSS 2.0, RSS 1.0 or Atom feed; one article per item
=====================================  ==========================================================

Records may name their fields as other news datasets do (``content`` for ``text``,
``headline`` for ``title``, ``date`` for ``published_at``: :data:`FIELD_ALIASES`). A record
without an id gets one derived from its url, title and text (:func:`derived_id`), the same
on every run.

Reading never raises for a bad file or record: each problem becomes a ``Reject`` whose
``record`` locates it (``"line 7"``, ``"row 3"`` and ``"item 2"`` count from 1; empty for a whole
file). A problem with one field only (an unparseable date, say) keeps the article and adds a
``Reject`` with ``dropped=False`` naming the value that was ignored. Only a top-level path
that does not exist raises :class:`~dedup.errors.InputError`, before anything is read.

Example:
    >>> from dedup.ingest import read_inputs
    >>> from dedup.records import RawArticle
    >>> items = list(read_inputs(["data/articles"]))  # doctest: +SKIP
    >>> articles = [item for item in items if isinstance(item, RawArticle)]  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import email.utils
import functools
import gzip
import hashlib
import io
import json
import math
import os
import re
import stat
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO

import lxml.etree
import lxml.html
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import trafilatura
from dateutil import parser as date_parser
from dateutil import tz as date_tz

from dedup.config import IngestConfig
from dedup.errors import InputError
from dedup.records import RawArticle, Reject

__all__ = [
    "FIELD_ALIASES",
    "SUPPORTED_SUFFIXES",
    "derived_id",
    "parse_published_at",
    "read_inputs",
    "supported_suffix",
]

#: File name endings this module reads (compared lower-cased), in the order they are documented.
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".txt",
    ".jsonl",
    ".ndjson",
    ".jsonl.gz",
    ".ndjson.gz",
    ".json",
    ".json.gz",
    ".parquet",
    ".csv",
    ".tsv",
    ".csv.gz",
    ".tsv.gz",
    ".html",
    ".htm",
    ".rss",
    ".atom",
    ".xml",
)

# Frozen, so one shared default instance is safe.
_DEFAULT_CONFIG = IngestConfig()

#: A publication date later than this past the time of reading is treated as a data error.
FUTURE_TOLERANCE = timedelta(days=2)

# Rows per Parquet record batch: small enough that a batch of maximal articles stays in memory.
_PARQUET_BATCH_ROWS = 256
# Bytes per CSV block, at least: a row must fit in one block, so a file allowing articles of
# max_article_chars gets blocks of 4 bytes a character (UTF-8's most) plus this margin.
_CSV_BLOCK_BYTES = 1 << 22
#: Other names of the record fields in news datasets and feeds, tried in this order when a
#: record lacks the field's own name: a record with ``text`` is read from ``text`` whatever else
#: it holds. Names are compared with case, ``_``, ``-``, ``.`` and spaces ignored, so
#: ``publishedAt``, ``Published At`` and ``published-at`` all name ``published_at``. Every
#: other key of a record is ignored.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("article_id", "doc_id", "guid", "uuid"),
    "text": ("content", "body", "article", "maintext", "full_text", "story", "article_body", "article_text",
             "body_text"),
    "title": ("headline",),
    "published_at": ("date", "published", "publish_date", "date_publish", "published_date", "date_published",
                     "pubdate", "datetime"),
    "source": ("publication", "publisher", "outlet", "site_name", "source_domain", "domain"),
    "url": ("link",),
    "byline": ("author", "authors", "creator"),
}
_NAME_PUNCTUATION = str.maketrans("", "", "_-. ")
_BYLINE_ALIASES = frozenset(alias.translate(_NAME_PUNCTUATION) for alias in FIELD_ALIASES["byline"])
# Key lists of JSON records whose field keys are remembered (records of one feed share theirs).
_KEYS_CACHE_SIZE = 256
# Ids end up as dictionary keys for the whole run and in every output table: keep them bounded.
_MAX_ID_CHARS = 4096
# A date string longer than this is prose, not a date; it is not worth handing to dateutil.
_MAX_DATE_CHARS = 100
# Share of control bytes above which BOM-less content is taken for binary data.
_MAX_CONTROL_SHARE = 0.10
_BINARY_SAMPLE_BYTES = 65_536
# One JSON line can only be this long if its text is over max_article_chars even when every
# character is written as a 6-byte escape; the margin leaves room for the other fields.
_LINE_BYTES_PER_CHAR = 6
_LINE_MARGIN_BYTES = 1 << 20

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 LE before UTF-16 LE: its mark starts with the UTF-16 LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Control bytes other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0E, 0x20), 0x7F])

_HTML_TAGS = (
    "a|abbr|article|aside|audio|b|blockquote|body|br|button|caption|center|cite|code|dd|del|div|dl|dt|"
    "em|figcaption|figure|font|footer|form|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|label|li|"
    "link|main|mark|meta|nav|noscript|ol|option|p|picture|pre|q|s|script|section|select|small|source|"
    "span|strong|style|sub|sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|time|title|tr|u|ul|"
    "video"
)
# Known tag names only, so that prose such as "a <b and c> d" or "<Reuters>" is not taken for HTML.
_LOOKS_LIKE_HTML = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>|<!--", re.IGNORECASE)
_DROPPED_TAGS = ("script", "style", "noscript", "template")
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8")
_WHITESPACE_RUN = re.compile(r"\s+")
_SPACE_AROUND_NEWLINE = re.compile(r"[^\S\n]*\n[^\S\n]*")
_THREE_OR_MORE_NEWLINES = re.compile(r"\n{3,}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_MESSAGE_TAIL = re.compile(r"\s+(?:starting\s+)?at:?$")

# Zone names common in news feeds that dateutil does not know; others are read as UTC.
_ZONE_NAMES = {
    "EST": date_tz.tzoffset("EST", -5 * 3600),
    "EDT": date_tz.tzoffset("EDT", -4 * 3600),
    "CST": date_tz.tzoffset("CST", -6 * 3600),
    "CDT": date_tz.tzoffset("CDT", -5 * 3600),
    "MST": date_tz.tzoffset("MST", -7 * 3600),
    "MDT": date_tz.tzoffset("MDT", -6 * 3600),
    "PST": date_tz.tzoffset("PST", -8 * 3600),
    "PDT": date_tz.tzoffset("PDT", -7 * 3600),
    "CET": date_tz.tzoffset("CET", 1 * 3600),
    "CEST": date_tz.tzoffset("CEST", 2 * 3600),
}
# Two defaults that differ in year, month and day: a string that parses to the same date under
# both states a complete date itself instead of borrowing parts from the default.
_PROBE_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))

# Entities are left unexpanded (no "billion laughs") and no DTD or network resource is loaded.
_XML_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
# Where each record field of a feed item comes from: the first of these child elements present
# (RSS 2.0, RSS 1.0 with Dublin Core and content modules, Atom).
_FEED_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("guid", "id"),
    "title": ("title",),
    "text": ("encoded", "content", "description", "summary"),
    "url": ("link",),
    "published_at": ("pubDate", "published", "date", "updated", "issued", "modified"),
    "byline": ("creator", "author"),
    "source": ("source",),
}
_MEDIA_RSS = "http://search.yahoo.com/mrss/"
_JSON_ARRAY_REASON = (
    "file is a JSON array, not JSON Lines: name it .json, or write one JSON object per line "
    "(for example: jq -c '.[]' articles.json > articles.jsonl)"
)
_PRETTY_JSON_REASON = (
    "file holds JSON spread over several lines, not JSON Lines: write one JSON object per line "
    "(for example: jq -c . articles.json > articles.jsonl)"
)


class _Unusable(Exception):
    """Raised by the parsing helpers; the reader turns it into a Reject at the right location."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Parsed:
    """An article a reader could build, with notes on fields it had to leave out."""

    article: RawArticle
    notes: tuple[Reject, ...] = ()


_Item = _Parsed | Reject


@dataclass(slots=True)
class _Seen:
    """Accepted article ids: the first place each was read and a short hash of its text.

    Locations are stored as an index into ``inputs`` plus the record string, so the map stays
    small for tens of millions of articles.
    """

    inputs: list[str] = field(default_factory=list)
    input_index: dict[str, int] = field(default_factory=dict)
    ids: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)

    def lookup(self, article_id: str) -> tuple[str, bytes] | None:
        """Return (where it was first seen, text hash) or None for a new id."""
        entry = self.ids.get(article_id)
        if entry is None:
            return None
        index, record, digest = entry
        return _locate(self.inputs[index], record), digest

    def add(self, article: RawArticle, digest: bytes) -> None:
        """Remember an accepted article."""
        index = self.input_index.get(article.input)
        if index is None:
            index = self.input_index[article.input] = len(self.inputs)
            self.inputs.append(article.input)
        self.ids[article.article_id] = (index, article.record, digest)


def supported_suffix(name: str) -> str | None:
    """Return the entry of :data:`SUPPORTED_SUFFIXES` that ``name`` ends with, or None.

    Example:
        >>> supported_suffix("2024/feed.JSONL.gz")
        '.jsonl.gz'
        >>> supported_suffix("notes.md") is None
        True
    """
    lowered = name.lower()
    for suffix in SUPPORTED_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    return None


def read_inputs(
    paths: Sequence[str | os.PathLike[str]], config: IngestConfig = _DEFAULT_CONFIG
) -> Iterator[RawArticle | Reject]:
    """Stream the articles of files and directories, with a reject for every unusable item.

    Paths are read in the given order; directories are walked recursively in sorted name
    order, skipping hidden entries (names starting with ``.``). Memory is bounded by one file
    (or one Parquet batch) plus a compact map of the ids seen so far. The first occurrence of
    an ``article_id`` wins; later ones become rejects.

    Args:
        paths: Files and directories to read.
        config: Limits on file size, article length and article count.

    Returns:
        An iterator of :class:`RawArticle` and :class:`Reject` in input order. A ``Reject``
        with ``dropped=False`` follows the article it belongs to.

    Raises:
        InputError: A path in ``paths`` does not exist (checked before anything is read).
        TypeError: ``paths`` is a single path instead of a sequence of paths.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a1.txt").write_text("Rain is expected in Geneva on Monday.")
        >>> [item.article_id for item in read_inputs([folder])]
        ['a1']
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"paths must be a sequence of paths, got the single path {paths!r}; pass [path]")
    given = [os.fspath(path) for path in paths]
    for path in given:
        _check_exists(path)
    return _read_all(given, config)


def parse_published_at(value: object, now: datetime | None = None) -> datetime | None:
    """Read a publication date into a timezone-aware UTC datetime.

    Accepts ISO 8601, RFC 2822 and common written forms ("March 5, 2024 10:00"), Unix times in
    seconds or milliseconds, and ``datetime``/``date`` values. Naive times are taken as UTC.

    Args:
        value: The raw value from the input.
        now: Reference time for the future check (default: the current time).

    Returns:
        The UTC datetime, or None when ``value`` is None or an empty string.

    Raises:
        ValueError: The value is not a complete date, or lies more than two days in the
            future; the message says which.
        TypeError: The value is of a type that cannot hold a date (a boolean, a list, ...).

    Example:
        >>> parse_published_at("Tue, 05 Mar 2024 10:00:00 +0100").isoformat()
        '2024-03-05T09:00:00+00:00'
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment = _to_utc(_interpret_date(value))
    reference = now if now is not None else datetime.now(UTC)
    if moment > reference + FUTURE_TOLERANCE:
        raise ValueError(f"more than {FUTURE_TOLERANCE.days} days in the future")
    return moment


# --------------------------------------------------------------------------- top-level flow


@dataclass(frozen=True, slots=True)
class _Context:
    """What every reader needs besides the file itself."""

    config: IngestConfig
    now: datetime


def _read_all(paths: list[str], config: IngestConfig) -> Iterator[RawArticle | Reject]:
    """Walk, read and gate every input; the body of :func:`read_inputs`."""
    ctx = _Context(config=config, now=datetime.now(UTC))
    cwd = _current_directory()
    seen = _Seen()
    accepted = 0
    for path in paths:
        for item in _read_path(path, _display_path(path, cwd), ctx):
            if isinstance(item, Reject):
                yield item
                continue
            article = item.article
            digest = _text_digest(article.text)
            rejection = _gate(article, digest, seen, config)
            if rejection is not None:
                yield rejection
                continue
            if accepted >= config.max_articles:
                yield Reject(
                    article.input,
                    f"reached max_articles={config.max_articles}: stopped reading here; "
                    "this and all later inputs were not read",
                    article.record,
                    article.article_id,
                )
                return
            seen.add(article, digest)
            accepted += 1
            yield article
            yield from item.notes


def _gate(article: RawArticle, digest: bytes, seen: _Seen, config: IngestConfig) -> Reject | None:
    """Return the reject for an over-long or already-seen article, or None to accept it."""
    n_chars = len(article.text)
    if n_chars > config.max_article_chars:
        reason = f"text is {n_chars} characters, over max_article_chars={config.max_article_chars}"
        return Reject(article.input, reason, article.record, article.article_id)
    previous = seen.lookup(article.article_id)
    if previous is None:
        return None
    where, first_digest = previous
    if first_digest == digest:
        reason = f"duplicate id {article.article_id!r}: a repeat of the same article (first seen in {where})"
    else:
        reason = f"duplicate id {article.article_id!r} (first seen in {where}) with different text"
    return Reject(article.input, reason, article.record, article.article_id)


def _check_exists(path: str) -> None:
    """Raise InputError for a user-given path that does not exist."""
    if os.path.exists(path):
        return
    if os.path.islink(path):
        raise InputError(f"input path {path!r} is a symlink to a path that does not exist")
    raise InputError(f"input path {path!r} does not exist; check the spelling or the working directory")


def _read_path(path: str, display: str, ctx: _Context) -> Iterator[_Item]:
    """Read one user-given path: a file whatever its name, or a directory tree."""
    try:
        info = os.stat(path)
    except OSError as exc:
        yield Reject(display, f"cannot read: {_os_reason(exc)}")
        return
    if stat.S_ISDIR(info.st_mode):
        yield from _read_tree(path, display, info, ctx)
    elif stat.S_ISREG(info.st_mode):
        yield from _read_file(path, display, ctx)
    else:
        yield Reject(display, "not a regular file or directory (a device, socket or pipe)")


# --------------------------------------------------------------------------- directory walk


def _read_tree(root: str, root_display: str, root_info: os.stat_result, ctx: _Context) -> Iterator[_Item]:
    """Read every supported file under ``root`` in sorted order, depth first."""
    for item in walk_tree(root, root_display, root_info):
        if isinstance(item, Reject):
            yield item
        else:
            yield from _read_file(item[0], item[1], ctx)


def walk_tree(root: str, root_display: str, root_info: os.stat_result) -> Iterator[tuple[str, str] | Reject]:
    """The files under ``root`` as ``(path, display name)``, sorted, depth first, hidden
    entries skipped; a problem met on the way is a :class:`Reject` at its place in the order.

    An explicit stack (not recursion) keeps deep trees from hitting the recursion limit.
    Directories are identified by (device, inode) so that symlink loops and second links to a
    directory are walked once; a symlink resolving outside ``root`` is rejected.
    """
    root_real = os.path.realpath(root)
    visited = {(root_info.st_dev, root_info.st_ino)}
    listing = _list_directory(root, root_display)
    if isinstance(listing, Reject):
        yield listing
        return
    stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [(root_display, iter(listing))]
    while stack:
        dir_display, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        display = _join_display(dir_display, entry.name)
        if entry.is_symlink():
            problem = _check_symlink(entry.path, root_real, root_display)
            if problem is not None:
                yield Reject(display, problem)
                continue
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError as exc:
            yield Reject(display, f"cannot read: {_os_reason(exc)}")
            continue
        if is_dir:
            try:
                info = entry.stat()
            except OSError as exc:
                yield Reject(display, f"cannot read directory: {_os_reason(exc)}")
                continue
            key = (info.st_dev, info.st_ino)
            if key in visited:
                continue
            visited.add(key)
            listing = _list_directory(entry.path, display)
            if isinstance(listing, Reject):
                yield listing
            else:
                stack.append((display, iter(listing)))
        elif is_file:
            yield entry.path, display
        else:
            yield Reject(display, "not a regular file or directory (a device, socket or pipe)")


def _list_directory(path: str, display: str) -> list[os.DirEntry[str]] | Reject:
    """Return the entries of a directory sorted by name, or the reject saying why it cannot be listed."""
    try:
        with os.scandir(path) as scan:
            entries = list(scan)
    except OSError as exc:
        return Reject(display, f"cannot read directory: {_os_reason(exc)}")
    entries.sort(key=lambda entry: entry.name)
    return entries


def _check_symlink(path: str, root_real: str, root_display: str) -> str | None:
    """Return why a symlink under the root cannot be followed, or None when it can."""
    try:
        os.stat(path)
    except OSError as exc:
        return f"broken symlink: {_os_reason(exc)}"
    target = os.path.realpath(path)
    if target != root_real and not target.startswith(root_real.rstrip(os.sep) + os.sep):
        return f"symlink points outside the input root {root_display!r}"
    return None


# --------------------------------------------------------------------------- one file


def _read_file(path: str, display: str, ctx: _Context) -> Iterator[_Item]:
    """Check a file's name and size, then hand it to the reader of its format."""
    name = os.path.basename(path)
    suffix = supported_suffix(name)
    if suffix is None:
        yield Reject(display, _unsupported_reason(name))
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the with block below, after the size check
    except OSError as exc:
        yield Reject(display, f"cannot open file: {_os_reason(exc)}")
        return
    with stream:
        try:
            size = os.fstat(stream.fileno()).st_size
        except OSError as exc:
            yield Reject(display, f"cannot read file: {_os_reason(exc)}")
            return
        limit = ctx.config.max_file_bytes
        if size > limit:
            yield Reject(display, f"file is {size} bytes, over max_file_bytes={limit}; not read")
            return
        article_id = name[: -len(suffix)]
        reader = _READERS[suffix]
        try:
            yield from reader(stream, size, display, article_id, ctx)
        except OSError as exc:
            # A read error half way (a flaky disk or network mount): keep what was read.
            yield Reject(display, f"read error: {_os_reason(exc)}")


def _read_txt(stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context) -> Iterator[_Item]:
    """One plain-text article per file, id = file stem, text exactly as decoded."""
    max_chars = ctx.config.max_article_chars
    # No encoding needs more than 4 bytes per character, so a bigger file is surely too long.
    if size > 4 * max_chars + 4:
        yield Reject(
            where,
            f"file is {size} bytes, too long for a text of at most max_article_chars={max_chars} characters",
            article_id=article_id,
        )
        return
    try:
        text = _decode_text(stream.read())
        _require_content(text)
    except _Unusable as exc:
        yield Reject(where, exc.reason, article_id=article_id or None)
        return
    if not article_id:
        yield Reject(where, "the file name gives an empty article id")
        return
    yield _Parsed(RawArticle(article_id=article_id, text=text, input=where))


def _read_html(stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context) -> Iterator[_Item]:
    """One web page per file: main text and metadata extracted by trafilatura."""
    data = stream.read()
    if not data.strip():
        yield Reject(where, "empty file" if not data else "only whitespace", article_id=article_id or None)
        return
    try:
        page = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False)
    except Exception as exc:  # noqa: BLE001 - any extractor failure on one page is that page's reject
        yield Reject(where, f"HTML extraction failed: {type(exc).__name__}: {exc}", article_id=article_id)
        return
    text = getattr(page, "text", None) if page is not None else None
    if not text or not text.strip():
        yield Reject(where, "no main text found in the HTML page", article_id=article_id or None)
        return
    if not article_id:
        yield Reject(where, "the file name gives an empty article id")
        return
    notes: list[str] = []
    published_at = _published_at(getattr(page, "date", None), "date", notes, ctx.now)
    article = RawArticle(
        article_id=article_id,
        text=text,
        input=where,
        title=_blank_to_none(getattr(page, "title", None)),
        published_at=published_at,
        source=_blank_to_none(getattr(page, "sitename", None)),
        url=_blank_to_none(getattr(page, "url", None)),
        byline=_blank_to_none(getattr(page, "author", None)),
    )
    yield _Parsed(article, _notes_for(article, notes))


def _read_json_lines(
    stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context
) -> Iterator[_Item]:
    """One JSON object per line, plain or gzip-compressed (chosen by the file name)."""
    if where.lower().endswith(".gz"):
        with gzip.GzipFile(fileobj=stream, mode="rb") as unpacked:
            yield from _read_json_stream(unpacked, where, ctx)  # type: ignore[arg-type]
    else:
        yield from _read_json_stream(stream, where, ctx)


def _read_json_stream(source: BinaryIO, where: str, ctx: _Context) -> Iterator[_Item]:
    """Parse JSON Lines from an uncompressed byte stream; a damaged gzip stream ends it with a reject."""
    max_line = _LINE_BYTES_PER_CHAR * ctx.config.max_article_chars + _LINE_MARGIN_BYTES
    line_no = 0
    first = True
    try:
        for line_no, raw in _numbered_lines(source, max_line):
            record = f"line {line_no}"
            if raw is None:
                yield Reject(
                    where,
                    f"line is over {max_line} bytes, more than any article within "
                    f"max_article_chars={ctx.config.max_article_chars} needs; skipped",
                    record,
                )
                continue
            if first:
                raw = raw.removeprefix(codecs.BOM_UTF8)
                file_problem = _json_lines_file_problem(raw)
                if file_problem is not None:
                    yield Reject(where, file_problem)
                    return
            if not raw.strip():
                continue
            first = False
            try:
                value = _parse_json_line(raw.rstrip(b"\r\n"))
            except _Unusable as exc:
                yield Reject(where, exc.reason, record)
                continue
            yield _parse_record(value, where, record, ctx.now)
    except EOFError as exc:
        yield Reject(
            where,
            f"gzip data truncated {_after_line(line_no)} ({exc}); earlier lines were kept",
            f"line {line_no + 1}",
        )
    except (gzip.BadGzipFile, zlib.error) as exc:
        yield Reject(
            where,
            f"corrupt gzip data {_after_line(line_no)} ({exc}); earlier lines were kept",
            f"line {line_no + 1}",
        )


def _read_json_document(
    stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context
) -> Iterator[_Item]:
    """A JSON document, plain or gzip-compressed: one article (an object with a text field,
    whose id defaults to the file stem), an array of articles, or an object that holds one
    array of articles (a feed or an API response: ``{"articles": [...]}``). Items are
    ``item N``, counting from 1. A file of one object per line is read as JSON Lines.

    The document is read whole; a collection too large for memory belongs in JSON Lines."""
    limit = ctx.config.max_file_bytes
    try:
        if where.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=stream, mode="rb") as unpacked:
                data = unpacked.read(limit + 1)
        else:
            data = stream.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        yield Reject(where, f"corrupt gzip data ({exc}); not read")
        return
    if len(data) > limit:
        yield Reject(where, f"unpacks to over max_file_bytes={limit} bytes; not read")
        return
    try:
        value = _parse_json_document(data)
    except _Unusable as exc:
        yield Reject(where, exc.reason)
        return
    except _SeveralValues:
        yield from _read_json_stream(io.BytesIO(data), where, ctx)
        return
    if isinstance(value, dict) and "text" not in _record_keys(value):
        found = _article_list(value)
        if isinstance(found, str):
            yield Reject(where, found)
            return
        value = found
    if isinstance(value, list):
        for number, item in enumerate(value, start=1):
            yield _parse_record(item, where, f"item {number}", ctx.now)
    elif isinstance(value, dict):
        yield _parse_record(value, where, "", ctx.now, default_id=article_id)
    else:
        yield Reject(where, f"the JSON document is {_type_name(value)}, not an article or an array of articles")


class _SeveralValues(Exception):
    """The JSON text holds more than one value: JSON Lines under another name."""


def _parse_json_document(data: bytes) -> Any:
    """Decode and parse a whole JSON document, raising _Unusable with the precise error."""
    bom, codec = next(((bom, codec) for bom, codec in _BOMS if data.startswith(bom)), (b"", "utf-8"))
    data = data[len(bom):]
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise _Unusable(f"not valid {codec.upper()} (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise _Unusable("empty file" if not text else "only whitespace")
    return _load_json(text, document=True, lines_possible=codec == "utf-8")


def _article_list(value: dict[str, Any]) -> list[Any] | str:
    """The one array of articles an object without a text field holds, or why there is none.

    An object whose arrays are all empty and that names no article field is a feed or a
    response with no articles (``{"status": "ok", "articles": []}``)."""
    arrays = {key: item for key, item in value.items() if isinstance(item, list)}
    records = [key for key, item in arrays.items() if item and isinstance(item[0], dict)]
    with_text = [key for key in records if "text" in _record_keys(arrays[key][0])]
    if len(with_text) == 1:
        return list(arrays[with_text[0]])
    if len(records) == 1 and not with_text:
        return list(arrays[records[0]])
    if len(records) > 1:
        several = ", ".join(repr(key) for key in (with_text or records))
        return f"the JSON object holds several arrays of records ({several}); write the articles as one array"
    if arrays and not any(arrays.values()) and not _record_keys(value):
        return []
    shown = ", ".join(repr(key) for key in list(value)[:20]) + (", ..." if len(value) > 20 else "")
    return (f"missing 'text' (or {', '.join(repr(a) for a in FIELD_ALIASES['text'])}) and no array of "
            f"articles (keys: {shown or 'none'})")


def _read_feed(stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context) -> Iterator[_Item]:
    """An RSS 2.0, RSS 1.0 (RDF) or Atom feed, one article per item (``item N``, counting from 1).

    The text is the item's full content (``content:encoded``, Atom ``content``), else its
    description or summary, with HTML reduced to text. The id is the item's ``guid`` or Atom
    ``id``, else derived from its link, title and text; the feed's title is the source of items
    that name none. Entities are not expanded and nothing is fetched from the network."""
    try:
        root = lxml.etree.fromstring(stream.read(), parser=_XML_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        yield Reject(where, f"not well-formed XML: {exc}")
        return
    feed = _feed_items(root)
    if isinstance(feed, str):
        yield Reject(where, feed)
        return
    feed_title, items = feed
    for number, item in enumerate(items, start=1):
        record = _feed_record(item)
        if "text" not in record:
            yield Reject(where, "the item has no content, description or summary", f"item {number}",
                         record.get("id") or None)
            continue
        record.setdefault("source", feed_title)
        yield _parse_record(record, where, f"item {number}", ctx.now, {name: name for name in record})


def _feed_items(root: Any) -> tuple[str | None, list[Any]] | str:
    """The feed's title and its item elements, or why the document is no feed."""
    kind = _local_name(root)
    if kind == "rss":
        channel = next((child for child in root if _local_name(child) == "channel"), None)
        if channel is None:
            return "an RSS document without a <channel>"
        return _child_text(channel, "title"), [child for child in channel if _local_name(child) == "item"]
    if kind == "RDF":  # RSS 1.0: the items are siblings of the channel
        channel = next((child for child in root if _local_name(child) == "channel"), None)
        title = _child_text(channel, "title") if channel is not None else None
        return title, [child for child in root if _local_name(child) == "item"]
    if kind == "feed":
        return _child_text(root, "title"), [child for child in root if _local_name(child) == "entry"]
    return f"not an RSS or Atom feed: its root element is <{kind}>"


def _feed_record(item: Any) -> dict[str, Any]:
    """An RSS item or Atom entry as a record with the field names of JSON Lines."""
    record: dict[str, Any] = {}
    texts: dict[str, str] = {}
    authors: list[str] = []
    for child in item:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        tag = lxml.etree.QName(child.tag)
        if tag.namespace == _MEDIA_RSS:
            continue  # media:content, media:description ... describe a picture or a video
        name = tag.localname
        if name == "link" and child.get("href") is not None:  # Atom: the page is the alternate link
            if child.get("rel", "alternate") == "alternate":
                texts.setdefault("link", child.get("href"))
        elif name == "author" and len(child):  # Atom: <author><name>...</name></author>
            found = _child_text(child, "name")
            if found:
                authors.append(found)
        elif name in ("content", "encoded") and any(isinstance(part.tag, str) for part in child):
            # Atom XHTML content: the markup itself, reduced to text later like any HTML.
            texts.setdefault(name, "".join(lxml.etree.tostring(part, encoding="unicode") for part in child))
        else:
            text = _feed_text(child)
            if text:
                texts.setdefault(name, text)
    for field_name, candidates in _FEED_FIELDS.items():
        value = next((texts[candidate] for candidate in candidates if candidate in texts), None)
        if value is not None:
            record[field_name] = value
    if authors and "byline" not in record:
        record["byline"] = ", ".join(authors)
    return record


def _feed_text(element: Any) -> str:
    """The text of an element and its sub-elements; an unexpanded entity counts as nothing."""
    parts = [element.text or ""]
    for node in element:
        if isinstance(node.tag, str):
            parts.append("".join(node.itertext()))
        parts.append(node.tail or "")
    return "".join(parts).strip()


def _local_name(element: Any) -> str:
    """An element's tag without its namespace ("" for a comment or processing instruction)."""
    tag = element.tag
    return lxml.etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element: Any, name: str) -> str | None:
    """The :func:`_feed_text` of the first child called ``name`` (any namespace) that has one, or None."""
    texts = (_feed_text(child) for child in element if _local_name(child) == name)
    return next((text for text in texts if text), None)


def _read_parquet(stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context) -> Iterator[_Item]:
    """One article per row, read in record batches so memory is bounded by one batch."""
    try:
        table_file = pq.ParquetFile(stream)
        names = table_file.schema_arrow.names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged footer
        yield Reject(where, f"not a readable Parquet file: {exc}")
        return
    keys = _text_keys(names)
    if isinstance(keys, str):
        yield Reject(where, keys)
        return
    batches = table_file.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=sorted(set(keys.values())))
    yield from _read_rows(batches, keys, where, ctx)


def _read_rows(batches: Iterator[pa.RecordBatch], keys: dict[str, str], where: str, ctx: _Context
               ) -> Iterator[_Item]:
    """One article per row of the record ``batches`` of a table file; a read error ends the
    file with a reject, and the rows before it are kept."""
    row = 0
    try:
        for batch in batches:
            for values in _batch_rows(batch):
                row += 1
                yield _parse_record(values, where, f"row {row}", ctx.now, keys)
    except (pa.ArrowException, ValueError, OSError) as exc:
        yield Reject(where, f"unreadable {_after_row(row)}: {exc}; earlier rows were kept", f"row {row + 1}")


def _text_keys(names: Sequence[str]) -> dict[str, str] | str:
    """:func:`_field_keys` of a table's columns, or the reject reason when none holds the text."""
    keys = _field_keys(names)
    if "text" in keys:
        return keys
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return f"no text column: none of text, {', '.join(FIELD_ALIASES['text'])} (columns: {shown or 'none'})"


def _read_csv(stream: BinaryIO, size: int, where: str, article_id: str, ctx: _Context) -> Iterator[_Item]:
    """One article per row of a comma- (``.csv``) or tab-separated (``.tsv``) file, plain or
    gzip-compressed, whose first row names the columns. Every value is read as a string
    (dates and ids are parsed as in JSON Lines); quoted values may span lines. A row with
    more or fewer values than the header is skipped with a reject that quotes it; the
    ``row N`` of the others counts the rows read."""
    bad_rows: list[Reject] = []

    def skip(row: Any) -> str:  # a row with more or fewer values than the header names
        line = f"line {row.number}" if row.number is not None else ""  # unknown where values span lines
        bad_rows.append(Reject(where, f"a row of {row.actual_columns} values where the header names "
                                      f"{row.expected_columns} ({_short_repr(row.text)}); row skipped", line))
        return "skip"

    tabs = where.lower().removesuffix(".gz").endswith(".tsv")
    parse = pa_csv.ParseOptions(delimiter="\t" if tabs else ",", newlines_in_values=True, invalid_row_handler=skip)
    read = pa_csv.ReadOptions(block_size=4 * ctx.config.max_article_chars + _CSV_BLOCK_BYTES)
    try:
        # The header first, converting nothing, so that every column it names is read as a string.
        names = _open_csv(stream, where, read, parse, pa_csv.ConvertOptions(include_columns=[])).schema.names
        keys = _text_keys(names)
        bad_rows.clear()  # the header's read has seen the first block's already
        if not isinstance(keys, str):
            convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                            include_columns=sorted(set(keys.values())), strings_can_be_null=False)
            reader = _open_csv(stream, where, read, parse, convert)
    except (pa.ArrowException, ValueError, OSError, EOFError, zlib.error) as exc:
        yield Reject(where, f"not a readable CSV file: {exc}")
        return
    if isinstance(keys, str):
        yield Reject(where, keys)
        return
    for item in _read_rows(iter(reader), keys, where, ctx):
        yield from bad_rows
        bad_rows.clear()
        yield item
    yield from bad_rows


def _open_csv(stream: BinaryIO, where: str, read: Any, parse: Any, convert: Any) -> Any:
    """A streaming reader of the CSV file ``stream`` from its start, unpacked when ``where`` ends in .gz."""
    stream.seek(0)
    source = gzip.GzipFile(fileobj=stream, mode="rb") if where.lower().endswith(".gz") else stream
    return pa_csv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert)


_READERS: dict[str, Callable[[BinaryIO, int, str, str, _Context], Iterator[_Item]]] = {
    ".txt": _read_txt,
    ".jsonl": _read_json_lines,
    ".ndjson": _read_json_lines,
    ".jsonl.gz": _read_json_lines,
    ".ndjson.gz": _read_json_lines,
    ".json": _read_json_document,
    ".json.gz": _read_json_document,
    ".parquet": _read_parquet,
    ".csv": _read_csv,
    ".tsv": _read_csv,
    ".csv.gz": _read_csv,
    ".tsv.gz": _read_csv,
    ".rss": _read_feed,
    ".atom": _read_feed,
    ".xml": _read_feed,
    ".html": _read_html,
    ".htm": _read_html,
}


# --------------------------------------------------------------------------- decoding helpers


def _decode_text(data: bytes) -> str:
    """Decode a text file: byte-order mark, else UTF-8, else (unless binary) cp1252 or latin-1."""
    if not data:
        raise _Unusable("empty file")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise _Unusable(
                    f"not valid {codec.upper()} despite its byte-order mark "
                    f"({exc.reason} at byte {exc.start + len(bom)})"
                ) from None
    # Checked before UTF-8: NUL bytes are valid UTF-8 but never part of an article.
    binary_reason = _binary_evidence(data)
    if binary_reason is not None:
        raise _Unusable(f"binary content, not text ({binary_reason})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte, so this always succeeds.
        return data.decode("latin-1")


def _binary_evidence(data: bytes) -> str | None:
    """Return why BOM-less bytes look like binary data, or None when they look like text."""
    if b"\x00" in data:
        return "contains NUL bytes"
    sample = data[:_BINARY_SAMPLE_BYTES]
    n_control = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if n_control > _MAX_CONTROL_SHARE * len(sample):
        return f"{100 * n_control // len(sample)}% control characters"
    return None


def _require_content(text: str) -> None:
    """Raise _Unusable for an empty or whitespace-only file text."""
    if not text:
        raise _Unusable("empty file")
    if not text.strip():
        raise _Unusable("only whitespace")


def _numbered_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield (line number from 1, line bytes); None instead of a line longer than ``max_bytes``.

    An over-long line is read through in ``max_bytes`` pieces and discarded, so one huge line
    (or a decompression bomb) never has to fit in memory.
    """
    line_no = 0
    while True:
        raw = stream.readline(max_bytes + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) <= max_bytes:
            yield line_no, raw
            continue
        while raw and not raw.endswith(b"\n"):
            raw = stream.readline(max_bytes)
        yield line_no, None


def _json_lines_file_problem(first_line: bytes) -> str | None:
    """Return why a JSON Lines file cannot be read at all, judged by its first line."""
    for bom, codec in _BOMS:
        if bom != codecs.BOM_UTF8 and first_line.startswith(bom):
            return f"JSON Lines must be UTF-8, this file is {codec.upper()}: re-encode it as UTF-8"
    stripped = first_line.strip()
    if stripped.startswith(b"["):
        return _JSON_ARRAY_REASON
    if stripped == b"{":
        return _PRETTY_JSON_REASON
    return None


def _parse_json_line(raw: bytes) -> Any:
    """Decode one line as UTF-8 and parse it as JSON, raising _Unusable with the precise error."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Unusable(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from None
    return _load_json(line)


def _load_json(text: str, *, document: bool = False, lines_possible: bool = False) -> Any:
    """Parse JSON, raising _Unusable with the precise error (located by line and column in a
    ``document``, by column in a line), or _SeveralValues for a document that holds several
    values where JSON Lines is ``lines_possible``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if lines_possible and exc.msg == "Extra data":
            raise _SeveralValues from None
        # json's messages end in "... at" (or "starting at") before the position it appends.
        message = _JSON_MESSAGE_TAIL.sub("", exc.msg)
        where = f"line {exc.lineno} column {exc.colno}" if document else f"column {exc.colno}"
        raise _Unusable(f"invalid JSON at {where}: {message}") from None
    except RecursionError:
        raise _Unusable("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise _Unusable(f"invalid JSON: {exc}") from None


def _batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Convert one record batch to Python rows, truncating nanosecond timestamps to microseconds."""
    arrays = []
    cast_any = False
    for column, column_field in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_timestamp(column_field.type) and column_field.type.unit == "ns":
            # Without pandas, pyarrow refuses to turn nanoseconds into datetime objects.
            column = pc.cast(column, pa.timestamp("us", tz=column_field.type.tz), safe=False)
            cast_any = True
        arrays.append(column)
    if cast_any:
        batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
    rows: list[dict[str, Any]] = batch.to_pylist()
    return rows


# --------------------------------------------------------------------------- records


def _parse_record(value: Any, where: str, record: str, now: datetime, keys: dict[str, str] | None = None,
                  default_id: str | None = None) -> _Item:
    """Validate one JSON object or table row and build its article (or its reject).

    ``keys`` gives the key each field is read from (:func:`_field_keys`); by default, the
    record's own keys are resolved. A record without an id takes ``default_id``, else
    :func:`derived_id`."""
    if not isinstance(value, dict):
        return Reject(where, f"expected a JSON object, got {_type_name(value)}", record)
    if keys is None:
        keys = _record_keys(value)
    article_id: str | None = default_id or None
    if "id" in keys:
        try:
            article_id = _record_id(value, keys["id"])
        except _Unusable as exc:
            return Reject(where, exc.reason, record)
    notes: list[str] = []
    try:
        text = _record_text(value, keys.get("text"), notes)
    except _Unusable as exc:
        return Reject(where, exc.reason, record, article_id)
    title = _optional_string(value, keys.get("title"), notes, markup=True)
    url = _optional_string(value, keys.get("url"), notes)
    published_key = keys.get("published_at")
    article = RawArticle(
        article_id=article_id if article_id is not None else derived_id(url, title, text),
        text=text,
        input=where,
        record=record,
        title=title,
        published_at=_published_at(value.get(published_key) if published_key else None, published_key, notes, now),
        source=_optional_string(value, keys.get("source"), notes),
        url=url,
        byline=_optional_string(value, _byline_key(value, keys), notes, allow_list=True),
    )
    return _Parsed(article, _notes_for(article, notes))


def _byline_key(value: dict[str, Any], keys: dict[str, str]) -> str | None:
    """The byline's key: a null ``byline`` gives way to an ``author`` alias that has a value."""
    key = keys.get("byline")
    if key is not None and value.get(key) is None:
        return next((name for name in value if isinstance(name, str) and _fold_name(name) in _BYLINE_ALIASES
                     and value[name] is not None), key)
    return key


def _field_keys(names: Sequence[str]) -> dict[str, str]:
    """For each record field, the key of ``names`` it is read from: its own name, else its
    first alias present (:data:`FIELD_ALIASES`, compared by :func:`_fold_name`); fields with
    neither are left out.

    Example:
        >>> _field_keys(["Headline", "content", "link", "text", "publishedAt"])
        {'text': 'text', 'title': 'Headline', 'published_at': 'publishedAt', 'url': 'link'}
    """
    exact = set(names)
    folded: dict[str, str] = {}
    for name in names:
        folded.setdefault(_fold_name(name), name)
    keys: dict[str, str] = {}
    for name, aliases in FIELD_ALIASES.items():
        if name in exact:
            keys[name] = name
            continue
        for candidate in (name, *aliases):
            key = folded.get(_fold_name(candidate))
            if key is not None:
                keys[name] = key
                break
    return keys


def _fold_name(name: str) -> str:
    """A field name as it is compared: lower case, without ``_``, ``-``, ``.`` and spaces."""
    return name.lower().translate(_NAME_PUNCTUATION)


def _record_keys(value: dict[str, Any]) -> dict[str, str]:
    """:func:`_field_keys` of a JSON record's keys (not to be changed: shared by its like)."""
    return _keys_of(tuple(name for name in value if isinstance(name, str)))


@functools.lru_cache(maxsize=_KEYS_CACHE_SIZE)
def _keys_of(names: tuple[str, ...]) -> dict[str, str]:
    return _field_keys(names)


def derived_id(url: str | None, title: str | None, text: str) -> str:
    """The id of a record that has none: 16 hex digits of a hash of its url, title and text.

    The same record gets the same id on every run, wherever it is read from; two outlets'
    copies of one story differ in url, so they keep two ids and are found as copies.

    Example:
        >>> derived_id("https://example.org/a", "Rain", "Rain is expected.")
        '06af9f4ab25ca63e'
    """
    digest = hashlib.blake2b(digest_size=8)
    for part in (url or "", title or "", text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def _record_id(value: dict[str, Any], key: str) -> str:
    """Return a record's id as a string; integers are converted, other types refused."""
    raw = value[key]
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        shown = f" {_short_repr(raw)}" if isinstance(raw, (bool, float, int)) else ""
        raise _Unusable(f"{key!r} is {_type_name(raw)}{shown}: ids must be strings or integers")
    article_id = str(raw).strip() if isinstance(raw, int) else _replace_surrogates(raw).strip()
    if not article_id:
        raise _Unusable(f"{key!r} is empty")
    if len(article_id) > _MAX_ID_CHARS:
        raise _Unusable(f"{key!r} is {len(article_id)} characters long, over the limit of {_MAX_ID_CHARS}")
    return article_id


def _record_text(value: dict[str, Any], key: str | None, notes: list[str]) -> str:
    """Return a record's text (read from ``key``), with HTML markup reduced to plain text."""
    if key is None:
        raise _Unusable(f"missing 'text' (or {', '.join(repr(a) for a in FIELD_ALIASES['text'])})")
    raw = value[key]
    if not isinstance(raw, str):
        raise _Unusable(f"{key!r} must be a string, got {_type_name(raw)}")
    text = _replace_surrogates(raw, key, notes)
    if not text:
        raise _Unusable(f"{key!r} is empty")
    if not text.strip():
        raise _Unusable(f"{key!r} is only whitespace")
    if _LOOKS_LIKE_HTML.search(text):
        text = _html_to_text(text)
        if not text.strip():
            raise _Unusable(f"{key!r} has no content outside its HTML markup")
    return text


def _optional_string(
    value: dict[str, Any], key: str | None, notes: list[str], *, markup: bool = False, allow_list: bool = False
) -> str | None:
    """Return an optional string field (None when ``key`` is None or its value is null, with a
    note when a value had to be ignored). An object with a string ``name`` stands for that name
    (news APIs give ``"source": {"id": ..., "name": "..."}``)."""
    raw = _name_of(value.get(key)) if key is not None else None
    if raw is None:
        return None
    if allow_list and isinstance(raw, list):
        # Several authors are commonly given as a list of names (or of objects with a name).
        names = [_name_of(part) for part in raw]
        if all(isinstance(part, str) for part in names):
            raw = ", ".join(part.strip() for part in names if part.strip())  # type: ignore[union-attr]
    if not isinstance(raw, str):
        notes.append(f"{key!r} ignored: expected a string, got {_type_name(raw)}")
        return None
    text = _replace_surrogates(raw, key, notes)
    if markup and _LOOKS_LIKE_HTML.search(text):
        text = _WHITESPACE_RUN.sub(" ", _html_to_text(text))
    return _blank_to_none(text)


def _name_of(raw: Any) -> Any:
    """The string ``name`` of an object that has one, else the value itself."""
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        return raw["name"]
    return raw


def _published_at(raw: Any, key: str | None, notes: list[str], now: datetime) -> datetime | None:
    """Parse a publication date (read from ``key``); an unusable one is noted and left out."""
    try:
        return parse_published_at(raw, now)
    except (ValueError, TypeError) as exc:
        notes.append(f"{key or 'published_at'} {_short_repr(raw)} ignored: {exc}")
        return None


def _notes_for(article: RawArticle, notes: list[str]) -> tuple[Reject, ...]:
    """Turn field notes into rejects that keep the article (``dropped=False``)."""
    return tuple(
        Reject(article.input, note, article.record, article.article_id, dropped=False) for note in notes
    )


def _replace_surrogates(text: str, key: str | None = None, notes: list[str] | None = None) -> str:
    """Replace unpaired UTF-16 surrogates (legal in JSON escapes, not in UTF-8) with U+FFFD."""
    if text.isascii() or _encodes(text):
        return text  # a surrogate makes strict UTF-8 encoding fail
    cleaned, count = _LONE_SURROGATE.subn("\ufffd", text)
    if count and notes is not None:
        notes.append(f"{key!r}: {count} unpaired surrogate escape(s) replaced with U+FFFD")
    return cleaned


def _encodes(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8, that is, holds no surrogate code point."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _html_to_text(markup: str) -> str:
    """Reduce HTML to plain text: scripts and styles dropped, one blank line between blocks.

    The tree is read, never modified: lxml refuses to store text holding control characters,
    which a parsed document may well contain.
    """
    try:
        root = lxml.html.document_fromstring(markup.encode("utf-8"), parser=_HTML_PARSER)
    except lxml.etree.ParserError:  # nothing but comments or whitespace
        return ""
    parts: list[str] = []
    dropped_depth = 0  # > 0 while inside a script or style element
    for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None  # None: a comment
        if event == "start":
            if dropped_depth or tag in _DROPPED_TAGS:
                dropped_depth += 1
            elif tag is not None:
                _add_html_text(parts, "\n\n" if tag in _BLOCK_TAGS else "", element.text)
            continue
        if dropped_depth:
            dropped_depth -= 1
            if dropped_depth:
                continue
        elif tag == "br":
            parts.append("\n")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n")
        _add_html_text(parts, "", element.tail)
    text = _SPACE_AROUND_NEWLINE.sub("\n", "".join(parts))
    return _THREE_OR_MORE_NEWLINES.sub("\n\n", text).strip()


def _add_html_text(parts: list[str], prefix: str, text: str | None) -> None:
    """Append a break and a text node; line breaks in HTML source are plain spaces."""
    if prefix:
        parts.append(prefix)
    if text:
        parts.append(_WHITESPACE_RUN.sub(" ", text))


# --------------------------------------------------------------------------- dates


def _interpret_date(value: object) -> datetime:
    """Turn a raw date value into a datetime (naive or aware).

    Raises:
        ValueError: The value holds no complete date; the message says why.
        TypeError: The value is of a type that cannot hold a date.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        raise TypeError("a boolean is not a date")
    if isinstance(value, (int, float)):
        return _from_unix_time(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_type_name(value)}")
    text = value.strip()
    if len(text) > _MAX_DATE_CHARS:
        raise ValueError(f"not a date (over {_MAX_DATE_CHARS} characters)")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    return _parse_written_date(text)


def _parse_written_date(text: str) -> datetime:
    """Parse free-form dates with dateutil, refusing strings that lack a year, month or day."""
    results: list[datetime] = []
    with warnings.catch_warnings():
        # Unknown zone names come back naive; they are then read as UTC like any naive time.
        warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
        for default in _PROBE_DEFAULTS:
            try:
                results.append(date_parser.parse(text, default=default, tzinfos=_ZONE_NAMES))
            except (ValueError, OverflowError, TypeError):
                raise ValueError("not a recognised date") from None
    first, second = results
    if first.date() != second.date():
        raise ValueError("not a complete date (needs a year, a month and a day)")
    return first


def _from_unix_time(number: float) -> datetime:
    """Read a Unix time in seconds, or in milliseconds when it is too large for seconds."""
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    # 1e11 seconds is in the year 5138: larger values are milliseconds.
    seconds = number / 1000 if abs(number) >= 1e11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError("a number outside the range of dates") from None


def _to_utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive time is taken to be UTC already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("outside the range of dates once converted to UTC") from None


# --------------------------------------------------------------------------- small helpers


def _text_digest(text: str) -> bytes:
    """A short hash of the text, enough to tell a repeat from a different article with the same id."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _current_directory() -> str | None:
    """The working directory, or None when it no longer exists."""
    try:
        return os.getcwd()
    except OSError:
        return None


def _display_path(path: str, cwd: str | None) -> str:
    """The path relative to the working directory when it lies under it, else as given."""
    if cwd is None:
        return path
    absolute = os.path.abspath(path)
    try:
        inside = os.path.commonpath([absolute, cwd]) == cwd
    except ValueError:  # different drives on Windows
        return path
    return os.path.relpath(absolute, cwd) if inside else path


def _join_display(directory: str, name: str) -> str:
    """Join for display, without a leading ``./`` for entries of the working directory."""
    return name if directory == os.curdir else os.path.join(directory, name)


def _locate(where: str, record: str) -> str:
    """Human-readable location: ``"feed.jsonl line 3"``, or the file alone."""
    return f"{where} {record}" if record else where


def _after_line(line_no: int) -> str:
    return f"after line {line_no}" if line_no else "before the first line"


def _after_row(row: int) -> str:
    return f"after row {row}" if row else "before the first row"


def _unsupported_reason(name: str) -> str:
    """Reject reason for a file whose name has no supported suffix."""
    expected = ", ".join(SUPPORTED_SUFFIXES)
    suffix = os.path.splitext(name)[1]
    if not suffix:
        return f"unsupported file type (no suffix; expected one of {expected})"
    return f"unsupported file type {suffix!r} (expected one of {expected})"


def _os_reason(exc: OSError) -> str:
    """The OS error message without the full path (the reject already names the input)."""
    return exc.strerror or str(exc)


def _blank_to_none(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def _type_name(value: object) -> str:
    """JSON's name for a value's type (Parquet values map to the same words)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (datetime, date)):
        return "a timestamp"
    return f"a {type(value).__name__} value"


def _short_repr(value: object, limit: int = 60) -> str:
    """repr() cut to ``limit`` characters, for quoting input values in reasons."""
    if isinstance(value, datetime):
        value = value.isoformat()
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
