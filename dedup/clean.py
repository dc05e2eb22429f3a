"""Cleaning: strip site furniture from article text and read the metadata the text states.

Furniture is found by the shape of a line, not by a list of known lines: navigation and
sharing widgets, comment prompts, tag and related-article lists, subscription and donation
appeals, automatic-translation disclaimers, media-player prompts, credit lines. A line is
judged on its length, its share of function words, its separators and generic web phrases;
once a page's own end marker ("Leave a reply", "Related articles", "Source link") is passed,
only real paragraphs survive. The same pass reads the title, outlet, dateline place, byline
and a publication date written in the page header.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from dedup.records import RawArticle
from dedup.text import ascii_token_lines, normalize, normalize_for_hash, tokenize

__all__ = ["CleanArticle", "clean_article", "content_hash", "find_date", "split_title_source"]


@dataclass(frozen=True, slots=True)
class CleanArticle:
    """An article after cleaning: body text without furniture plus the metadata it states."""

    article_id: str
    title: str | None
    text: str
    input: str
    record: str
    source: str | None
    url: str | None
    published_at: datetime | None
    dateline: str | None
    byline: str | None
    n_words: int
    content_hash: str
    removed_lines: int


# Phrases that make up a whole short line of page furniture on news sites.
_FURNITURE_LINE = re.compile(
    r"""^[\W_]*(?:
        skip\ to(?:\ (?:main\ )?content|\ navigation)? | (?:toggle\ |main\ )?(?:menu|navigation) |
        search | home(?:page)? | sign\ (?:in|up) | log\ ?in | register | subscribe.* | newsletters? |
        advertisements? | sponsored(?:\ content)? | share(?:\ (?:this|the|on))?(?:\ \w+){0,3} |
        print(?:\ this)?(?:\ \w+)? | e-?mail(?:\ this)?(?:\ \w+)? | tweet | facebook | twitter | whatsapp |
        linkedin | telegram | pinterest | reddit | copy\ link | leave\ a\ (?:reply|comment) |
        post\ a\ comment | add\ a\ comment | \d*\ ?comments? | (?:read|see|view)\ (?:more|next|also|all).* |
        related(?:\ (?:articles?|posts?|stories|news|content|topics|coverage|reading))?.* |
        more\ (?:from|on|stories|news).* | recommended(?:\ for\ you)? | you\ (?:may|might)\ also\ like.* |
        most\ (?:read|popular|viewed|shared).* | trending(?:\ now)? | source\ link.* | press\ play.* |
        listen\ to\ (?:this\ )?(?:article|story).* | (?:audio|video)\ player.* | loading.* |
        click\ here.* | tap\ here.* | (?:accept|reject|manage)(?:\ all)?\ cookies.* | cookie\ (?:policy|settings).* |
        privacy\ policy | terms\ of\ (?:use|service) | all\ rights\ reserved.* | copyright.* | \(c\).* |
        your\ email\ address\ will\ not\ be\ published.* | required\ fields\ are\ marked.* |
        tags?\ *:.* | topics?\ *:.* | filed\ under.* | categor(?:y|ies)\ *:.* |
        (?:previous|next)\ (?:article|post|story).* | back\ to\ top | follow\ us.* | join\ (?:us|our).* |
        download\ (?:our|the)\ app.* | advertisement\ -\ scroll.* | continue\ reading.* | image\ (?:source|caption).* |
        (?:photo|image|picture)\ *(?:credit)?\ *:.* | getty\ images | story\ continues\ below.* | updated | published |
        breaking(?:\ news)? | exclusive | live(?:\ updates?)? | developing(?:\ story)? | from\ wire\ reports |
        text\ size.* | font\ size.* | (?:posted|filed)\ (?:in|under)\ .* | advertise(?:\ with\ us)? | contact\ us |
        about\ us | log\ ?out | my\ account | close
    )[\W_]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_END_MARKER = re.compile(
    r"^[\W_]*(?:leave\ a\ (?:reply|comment)|post\ a\ comment|\d*\ ?comments?|source\ link|related(?:\ \w+)?\ *:?|"
    r"tags?\ *:|topics?\ *:|filed\ under|share\ this|read\ more|more\ stories|you\ may\ also\ like|"
    r"recommended|most\ read)\b",
    re.IGNORECASE | re.VERBOSE,
)
# A disclaimer that the page was translated or republished automatically.
_AUTO_PUBLISHING = re.compile(
    r"\b(?:automatic(?:ally)?|programmatic|machine[- ]translat\w*|auto-?translat\w*|translated\ (?:by|using|with))\b",
    re.IGNORECASE | re.VERBOSE,
)
_ABOUT_THE_SITE = re.compile(
    r"\b(?:site|website|editor|platform|publisher|this\ (?:news|page|content))\b", re.IGNORECASE | re.VERBOSE
)
_APPEAL = re.compile(r"\b(?:support|donat\w*|contribut\w*|subscri\w*|membership|patreon)\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:we|us|our)\b", re.IGNORECASE)
_APPEAL_OBJECT = re.compile(r"\b(?:news|journalism|reporting|independent|site|information|work)\b", re.IGNORECASE)
_YOU = re.compile(r"\b(?:you|your)\b", re.IGNORECASE)
# Notices about the site itself: cookies, copyright, reuse, comment policy.
_SITE_NOTICE = re.compile(
    r"\bcookies?\b.*\b(?:site|brows\w*|experience|polic\w*|accept\w*|agree\w*|consent)\b"
    r"|\ball\ rights\ reserved\b|\bmay\ not\ be\ (?:published|reproduced|redistributed|rewritten|copied)\b"
    r"|\bviews\ expressed\b.*\b(?:comments|readers|authors?)\b",
    re.IGNORECASE | re.VERBOSE,
)
# Prompts addressed to the reader: comment, share, contact, tip off, follow.
_ENGAGEMENT = re.compile(
    r"\b(?:comments?\ (?:below|section)|tell\ us|let\ us\ know|share\ (?:it|this)|contact\ (?:us|the\ newsroom)|"
    r"story\ (?:idea|tip)|send\ us|follow\ us|sign\ up|what\ do\ you\ think|like\ this\ (?:story|article))\b",
    re.IGNORECASE | re.VERBOSE,
)
_CREDIT = re.compile(
    r"^\(?\s*(?:(?:additional\ )?reporting|writing|editing|edited|compiled|translated|produced|research)\ by\b"
    r"|\bcontributed\ (?:reporting|to\ this\ (?:report|story|article))\b"
    r"|^\(?\s*(?:reporting|writing|editing)\s*:",
    re.IGNORECASE | re.VERBOSE,
)
_BYLINE = re.compile(
    r"^(?:by|written by|words by)\s+(?P<name>[A-Z][\w.'\-]+(?:[ ,]+(?:and\s+)?[A-Z][\w.'\-]+){0,5})\s*$", re.IGNORECASE
)
_SEPARATORS = re.compile(r"[|•»«›‹·]|//|\s>\s|\s[-–—]{2,}\s")
# ASCII text holding none of "|", "//", ">" and "--" cannot match _SEPARATORS (see _no_separators).

# International and national news agencies, for "PLACE (AGENCY) -" datelines and wire credits.
_AGENCIES = (
    "Reuters|AFP|AP|Associated Press|Agence France-Presse|dpa|DPA|ANSA|EFE|Xinhua|TASS|RIA Novosti|Interfax|"
    "Kyodo|Yonhap|Bloomberg|PTI|IANS|UPI|BNS|ANP|APA|Belga|CTK|PAP|MTI|BTA|Anadolu|AAP|CNA|Bernama|Antara|"
    "NTB|TT|Ritzau|STT|Lusa|Europa Press|CP|Canadian Press|Press Association|PA"
)
_WIRE_LINE = re.compile(rf"^(?P<place>[A-Z][\w.'\- ]{{1,40}}?)\s*[–—-]+\s*\(?(?P<agency>{_AGENCIES})\)?$")
_DATELINE = re.compile(
    r"""^(?P<place>[A-Z][A-Z.'\-]+(?:[ ][A-Z][A-Z.'\-]+){0,3}|[A-Z][a-z]+(?:[ ][A-Z][a-z]+){0,2}(?=\s*[,(]))
        (?:,\s*(?P<extra>[A-Z][\w.]*(?:\s+[\w.]+){0,3}))?
        \s*(?:\((?P<agency>[^)]{2,40})\))?
        \s*[–—-]{1,2}\s+(?=\S)""",
    re.VERBOSE,
)
_TITLE_SUFFIX = re.compile(r"^(?P<title>.{12,}?)\s+[|–—-]\s+(?P<source>[^|–—-]{2,40})$")

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_PATTERNS = (
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)(?!\d)"),
)
# A numeric date ("14/01/2007", "01.11.2010"). Day-first and month-first orders both occur,
# so such a date marks a line as a date line but does not date the article.
_NUMERIC_DATE = re.compile(r"(?<![\d/.])[0-3]?\d([/.])[0-3]?\d\1(?:19|20)\d\d(?![\d/])")
# What a date line may say besides the date: "Posted on 14/01/2007 by David Chen".
_DATE_LINE_BYLINE = re.compile(r"\b[Bb]y\s+(?P<name>[A-Z][\w.'\-]+(?:\s+[A-Z][\w.'\-]+){0,3})\s*$")
# Two hyphens for a dash ("robbers -- two dressed as women -- made off"), as typed in wire copy.
_DASH_PAIR = re.compile(r"\s--\s")
_TIME = re.compile(r"^\D{0,25}?(?<!\d)(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)\b(?!:?\d)")
_STOP = ENGLISH_STOP_WORDS
_DATE_LINE_WORDS = 12  # a header line this short that holds a date is a date line
_TITLE_WORDS = 25  # a longer first line is a paragraph, not a headline
_KICKER_WORDS = 5  # a short non-sentence line between headline and text is header furniture
_PROSE_WORDS = 12  # a line this long with normal function-word share is article prose


def content_hash(text: str) -> str:
    """Hash of the normalised content: equal for texts that differ only in case, spacing or
    punctuation. 32 hex digits of SHA-256."""
    return _hash_of_parts([normalize_for_hash(text).encode("utf-8")])


def find_date(text: str) -> datetime | None:
    """The first calendar date written in ``text`` ("January 11, 2022", "11 Jan 2022",
    "2022-01-11"), with a following ``HH:MM`` time if there is one, as UTC.

    >>> find_date("Russia | January 11, 2022, Tuesday // 10:20| views")
    datetime.datetime(2022, 1, 11, 10, 20, tzinfo=datetime.timezone.utc)
    """
    best: tuple[int, re.Match[str]] | None = None
    for pattern in _DATE_PATTERNS:
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), match)
    if best is None:
        return None
    match = best[1]
    groups = match.groupdict()
    month = int(groups["mnum"]) if groups.get("mnum") else _MONTHS.get(groups["month"].lower().rstrip("."))
    if month is None:
        return None  # a misspelt month ("Sepember") is no date
    hour = minute = 0
    time = _TIME.match(text[match.end() :])
    if time:
        hour, minute = int(time["hour"]), int(time["minute"])
    try:
        return datetime(int(match["year"]), month, int(match["day"]), hour, minute, tzinfo=UTC)
    except ValueError:
        return None


def split_title_source(title: str) -> tuple[str, str | None]:
    """Split an outlet name off the end of a page title ("Talks resume - The Daily").

    >>> split_title_source("Rates held steady | The Business Times")
    ('Rates held steady', 'The Business Times')
    >>> split_title_source("Storm hits coast")
    ('Storm hits coast', None)
    """
    match = _TITLE_SUFFIX.match(title)
    if match:
        source = match["source"].strip()
        words = source.split()
        looks_like_name = len(words) <= 4 and all(w[0].isupper() or not w[0].isalpha() for w in words)
        if looks_like_name and len(match["title"].split()) >= 3:
            return match["title"].strip(), source
    return title, None


class _Line:
    """One line of normalised text and the measures the rules read from it.

    ``tokens`` are the line's :func:`~dedup.text.tokenize` tokens joined by spaces (ASCII
    bytes) for an ASCII line, None otherwise. ``words`` tells which precheck words the whole
    text holds. The stop-word share, the sentence-end test, the lower-cased text and the
    separator test are worked out only when a rule asks for them.
    """

    __slots__ = (
        "_ends_sentence", "_low", "_separators", "_stop_share", "_token_list", "n_words", "text", "tokens", "words",
    )

    def __init__(self, text: str, tokens: bytes | None, words: _TextWords) -> None:
        self.text = text
        self.tokens = tokens
        self.words = words
        self._token_list: list[str] | None = None
        self._stop_share: float | None = None
        self._ends_sentence: bool | None = None
        self._separators: int | None = None
        self._low: str | None = None
        if tokens is None:
            self._token_list = tokenize(text)
            self.n_words = len(self._token_list)
        else:
            self.n_words = tokens.count(b" ") + 1 if tokens else 0

    @property
    def low(self) -> str | None:
        """The lower-cased text of an ASCII line; None for other lines, where case-insensitive
        matching knows more equivalences than str.lower."""
        if self._low is None and self.tokens is not None:
            self._low = self.text.lower()
        return self._low

    @property
    def stop_share(self) -> float:
        """Share of the line's tokens that are English function words (0.0 without tokens)."""
        if self._stop_share is None:
            tokens = self._token_list
            if tokens is None:
                tokens = self.tokens.decode("ascii").split() if self.tokens else []
            n = self.n_words
            self._stop_share = sum(map(_STOP.__contains__, tokens)) / n if n else 0.0
        return self._stop_share

    @property
    def ends_sentence(self) -> bool:
        """Whether the line ends like a sentence (closing quotes and brackets aside)."""
        if self._ends_sentence is None:
            self._ends_sentence = self.text.rstrip(" \"')]").endswith((".", "!", "?", ":", ";", "…"))
        return self._ends_sentence

    @property
    def may_have_separators(self) -> bool:
        """False when ``_SEPARATORS`` surely finds nothing in the line."""
        return self.words.separators and not _no_separators(self.text)

    @property
    def separators(self) -> int:
        """How many link separators the line holds. Typed dashes (" -- ") do not count in a
        line that reads as prose (8 words or more, a fifth of them function words): wire copy
        uses them within sentences, and a cut or re-wrapped line of it does not end like a
        sentence."""
        if self._separators is None:
            count = len(_SEPARATORS.findall(self.text)) if self.may_have_separators else 0
            if count and self.n_words >= 8 and "--" in self.text and self.stop_share >= 0.2:
                count -= len(_DASH_PAIR.findall(self.text))
            self._separators = count
        return self._separators

    def may_contain(self, words: tuple[str, ...]) -> bool:
        """False only when the line is ASCII and holds none of ``words`` (lower-case literals)."""
        if self.tokens is not None and not words:
            return False
        low = self.low
        return low is None or any(word in low for word in words)


@dataclass(frozen=True, slots=True)
class _TextWords:
    """The precheck words a whole (lower-cased) text holds; each line holds a subset of them.

    ``separators`` is False when the text is ASCII and holds no separator hint at all.
    """

    auto_publishing: tuple[str, ...]
    appeal: tuple[str, ...]
    site_notice: tuple[str, ...]
    contributed: bool
    separators: bool

    @property
    def any_words(self) -> bool:
        """Whether the text holds any precheck word."""
        return bool(self.auto_publishing or self.appeal or self.site_notice)


def _text_words(text: str) -> _TextWords:
    low = text.lower()
    appeal = tuple(word for word in _APPEAL_WORDS if word in low)
    return _TextWords(
        auto_publishing=tuple(word for word in _AUTO_PUBLISHING_WORDS if word in low),
        appeal=appeal,
        site_notice=tuple(word for word in _SITE_NOTICE_WORDS if word in low),
        contributed="contribut" in appeal and "contributed" in low,
        separators=not _no_separators(text),
    )


def _describe_lines(text: str) -> list[_Line]:
    """The lines of normalised ``text``, described."""
    lines = text.split("\n")
    words = _text_words(text)
    if text.isascii():
        return [_Line(line, tokens, words) for line, tokens in zip(lines, ascii_token_lines(text), strict=True)]
    # The ASCII lines tokenised together, the others (blanked here) one by one.
    ascii_lines = ascii_token_lines("\n".join(line if line.isascii() else "" for line in lines))
    return [
        _Line(line, tokens if line.isascii() else None, words)
        for line, tokens in zip(lines, ascii_lines, strict=True)
    ]


def _hash_part(line: str, tokens: bytes | None) -> bytes:
    """The line's share of :func:`content_hash`'s input (``tokens`` as for :class:`_Line`)."""
    return tokens if tokens is not None else normalize_for_hash(line).encode("utf-8")


def _hash_of_parts(parts: list[bytes]) -> str:
    """:func:`content_hash` of the lines whose :func:`_hash_part` are ``parts``.

    Tokens never span a line break and normalisation works line by line, so the hashed form
    of a text is the hashed forms of its lines joined by spaces, empty ones left out.
    """
    return hashlib.sha256(b" ".join(filter(None, parts))).hexdigest()[:32]


# Cheap necessary conditions for the case-insensitive patterns, valid on ASCII lines only
# (on other text, case-insensitive matching knows more equivalences than str.lower): a line
# that holds none of a pattern's literal words cannot match it.
_AUTO_PUBLISHING_WORDS = ("automatic", "programmatic", "translat")
_APPEAL_WORDS = ("support", "donat", "contribut", "subscri", "membership", "patreon")
_SITE_NOTICE_WORDS = ("cookie", "all rights reserved", "may not be ", "views expressed")
_ENGAGEMENT_WORDS = (
    "comment", "tell us", "let us know", "share ", "contact ", "story ", "send us", "follow us", "sign up",
    "what do you think", "like this ",
)  # fmt: skip


def _no_separators(text: str) -> bool:
    """True when ``_SEPARATORS`` surely finds nothing in ``text``."""
    return text.isascii() and "|" not in text and "//" not in text and ">" not in text and "--" not in text


# What a match of _CREDIT's anchored alternatives can start with, besides white space.
_CREDIT_INITIALS = frozenset("(aAcCeEpPrRtTwW")


def _is_credit(line: _Line) -> bool:
    text = line.text
    if line.tokens is not None and not (line.words.contributed and "contributed" in (line.low or "")):
        # The other alternatives are anchored at the start.
        if text and text[0] not in _CREDIT_INITIALS and not text[0].isspace():
            return False
        return _CREDIT.match(text) is not None
    return _CREDIT.search(text) is not None


def _could_be_title(line: _Line) -> bool:
    return 2 <= line.n_words <= _TITLE_WORDS and not line.text.endswith(".")


def _is_header_line(line: _Line) -> bool:
    """A short non-sentence between headline and text: kicker, section, outlet name."""
    if line.ends_sentence:
        return False
    return line.n_words <= _KICKER_WORDS or (line.n_words <= 12 and _SEPARATORS.search(line.text) is not None)


def _is_prose(line: _Line) -> bool:
    return line.n_words >= _PROSE_WORDS and line.stop_share >= 0.15 and not line.separators


def _is_furniture(line: _Line) -> bool:
    text = line.text
    n_words = line.n_words
    if n_words == 0:
        return True
    if n_words <= 16 and _FURNITURE_LINE.match(text):
        return True
    words = line.words
    if n_words <= 60:  # a disclaimer or an appeal is a sentence or two, not a paragraph of reporting
        if (
            line.may_contain(words.auto_publishing)
            and _AUTO_PUBLISHING.search(text)
            and _ABOUT_THE_SITE.search(text)
            and _FIRST_PERSON.search(text) is not None
        ):
            return True
        if (
            line.may_contain(words.appeal)
            and _APPEAL.search(text)
            and _FIRST_PERSON.search(text)
            and _APPEAL_OBJECT.search(text)
            and _YOU.search(text)
        ):
            return True
    if n_words <= 50 and line.may_contain(words.site_notice) and _SITE_NOTICE.search(text):
        return True
    if n_words <= 20 and line.may_contain(_ENGAGEMENT_WORDS) and _ENGAGEMENT.search(text):
        return True
    if n_words > 30 or not line.may_have_separators:
        return False
    separators = line.separators
    if separators and not (line.ends_sentence and line.stop_share >= 0.2):
        parts = [p.strip() for p in _SEPARATORS.split(text) if p.strip()]
        if all(_FURNITURE_LINE.match(p) for p in parts):
            return True  # a bar of navigation or sharing links
        return separators >= 2 or (n_words <= 10 and line.stop_share < 0.25)
    return False


_DATE_WORDS = frozenset(
    [
        "posted",
        "updated",
        "published",
        "last",
        "modified",
        "on",
        "at",
        "am",
        "pm",
        "gmt",
        "utc",
        "et",
        "est",
        "edt",
        "bst",
        "cet",
        "ist",
        "pt",
        "pst",
        "pdt",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ]
)


def _is_date_line(text: str) -> bool:
    """A line that is a date plus little else ("Updated: May 3, 2013, 10:04 PM ET"), or a
    date and a byline ("Posted on 14/01/2007 by David Chen")."""
    rest = _NUMERIC_DATE.sub(" ", text)
    for pattern in _DATE_PATTERNS:
        rest = pattern.sub(" ", rest)
    byline = _DATE_LINE_BYLINE.search(rest)
    if byline:
        rest = rest[: byline.start()]
    return sum(not (w in _DATE_WORDS or w.isdigit()) for w in tokenize(rest)) <= 1


@dataclass
class _Header:
    title: str | None = None
    source: str | None = None
    dateline: str | None = None
    byline: str | None = None
    published_at: datetime | None = None


def _place_name(raw: str) -> str:
    return " ".join(w.capitalize() if w.isupper() and len(w) > 2 else w for w in raw.split())


def _read_dateline(paragraph: str, header: _Header) -> str:
    """Remove a leading "GENEVA (Reuters) -" dateline from the first paragraph, keeping its facts."""
    match = _DATELINE.match(paragraph)
    if not match:
        return paragraph
    place = match["place"]
    if not (place.isupper() or match["agency"]):
        return paragraph
    header.dateline = header.dateline or _place_name(place.strip())
    if match["agency"] and not header.source:
        header.source = match["agency"].strip()
    return paragraph[match.end() :]


def clean_article(raw: RawArticle) -> CleanArticle:
    """Strip furniture from ``raw.text`` and extract its title and stated metadata.

    Metadata given by the input (title, source, date, byline, url) wins over what the text
    states. The title, when not given, is the first line that is not furniture.
    """
    lines = _describe_lines(normalize(raw.text))
    header = _Header(title=raw.title.strip() if raw.title and raw.title.strip() else None)
    body: list[str] = []
    hash_parts: list[bytes] = []  # per body line, as _hash_part gives it
    n_words = 0  # tokens never span lines: the body's count is the sum of its lines' counts
    removed = 0
    ended = False
    seen_prose = False
    quiet = bool(lines) and not lines[0].words.any_words  # no line holds a disclaimer, appeal or notice word
    for k, line in enumerate(lines):
        text = line.text
        if not text:
            continue
        if seen_prose and not ended and quiet and line.n_words > 30 and line.tokens is not None:
            # A long ASCII line in the body: of all the rules below only the credit test can apply.
            if _is_credit(line):
                removed += 1
                continue
            body.append(text)
            n_words += line.n_words
            hash_parts.append(line.tokens)
            continue
        if ended and not _is_prose(line):
            removed += 1
            continue
        if line.n_words <= 12 and (seen_prose or header.title is not None) and _END_MARKER.match(text):
            ended = True
            removed += 1
            continue
        if not seen_prose and not _is_prose(line):
            stated = find_date(text)
            if stated is not None or _NUMERIC_DATE.search(text):
                header.published_at = header.published_at or stated
                short = line.n_words <= _DATE_LINE_WORDS
                dates_only = short and _is_date_line(text)
                if dates_only or (short and header.title is not None):
                    byline = _DATE_LINE_BYLINE.search(text) if dates_only else None
                    if byline:
                        header.byline = header.byline or byline["name"]
                    removed += 1  # a header line that only dates the page (and names its author)
                    continue
        if _is_furniture(line) or _is_credit(line):
            removed += 1
            continue
        byline = _BYLINE.match(text) if line.n_words <= 8 else None
        if byline:
            header.byline = header.byline or byline["name"]
            removed += 1
            continue
        wire = _WIRE_LINE.match(text) if not seen_prose else None
        if wire:
            header.dateline = header.dateline or _place_name(wire["place"])
            header.source = header.source or wire["agency"]
            removed += 1
            continue
        if (not seen_prose and header.title is None and line.n_words == 1 and not body
                and any(later.text for later in lines[k + 1 :])):
            removed += 1  # a section label above the headline ("Crime"), not a one-word text
            continue
        if not seen_prose and header.title is None and _could_be_title(line):
            header.title = text
            continue
        if not seen_prose and header.title is not None and _is_header_line(line):
            removed += 1  # a kicker, section name or outlet name in the page header
            continue
        if not seen_prose:
            text = _read_dateline(text, header)
        seen_prose = seen_prose or _is_prose(line)
        body.append(text)
        if text is line.text:
            n_words += line.n_words
            hash_parts.append(_hash_part(text, line.tokens))
        else:
            n_words += len(tokenize(text))
            hash_parts.append(normalize_for_hash(text).encode("utf-8"))

    if not body and header.title and not (raw.title and raw.title.strip()):
        body = [header.title]  # a one-line text: its only line is the article, not a headline
        n_words = len(tokenize(header.title))
        hash_parts = [normalize_for_hash(header.title).encode("utf-8")]
    title, title_source = split_title_source(header.title) if header.title else (None, None)
    return CleanArticle(
        article_id=raw.article_id,
        title=title,
        text="\n".join(body),
        input=raw.input,
        record=raw.record,
        source=raw.source or header.source or title_source,
        url=raw.url,
        published_at=raw.published_at or header.published_at,
        dateline=header.dateline,
        byline=raw.byline or header.byline,
        n_words=n_words,
        content_hash=_hash_of_parts(hash_parts),
        removed_lines=removed,
    )
