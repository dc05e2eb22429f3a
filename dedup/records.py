"""Records that cross the ingest boundary: an accepted raw article, or a reject with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawArticle:
    """One article as read from an input, before cleaning.

    ``text`` is the body as found (plain text; HTML pages are already extracted).
    ``title`` and the metadata fields are ``None`` when the input does not give them;
    cleaning fills what the text itself states.
    """

    article_id: str
    text: str
    input: str
    record: str = ""
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    url: str | None = None
    byline: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """An input item that could not be used, located as precisely as the format allows.

    ``input`` is the file path, ``record`` locates the item inside it (``"line 7"``,
    ``"row 3"``, ``"item 2"``, empty for a whole file), ``article_id`` is given when one was readable.
    ``dropped`` is False for a problem with one field only (say an unparseable date): the
    article is kept without that field and the row records what was ignored.
    """

    input: str
    reason: str
    record: str = ""
    article_id: str | None = None
    dropped: bool = True
