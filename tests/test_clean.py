from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from dedup.clean import clean_article, content_hash, find_date, split_title_source
from dedup.records import RawArticle
from dedup.text import normalize, normalize_for_hash

PAGE = """Skip to main content
Menu
Floods close schools across the valley - The Valley Courier

Home | News | Sport | Weather
By Anna Berg
March 3, 2021

RIVERTON (AP) - Heavy rain flooded roads across the valley on Tuesday, and the district closed all of its schools as the river rose above its banks, officials said.
Emergency crews evacuated two care homes near the river and opened a shelter in the town hall, the mayor said at a news conference in the afternoon.
Forecasters expect the water to fall by Thursday if the rain eases as predicted overnight.
Share this article
Leave a Reply
Your email address will not be published. Required fields are marked *
Related Articles:
Storm warning issued for the coast
Bridge reopens after repairs
We rely on readers like you: please support our independent journalism with a donation today.
This page was translated automatically by our platform and was not reviewed by an editor of the site.
(Reporting by Anna Berg; editing by Tom Hale)
Tags: floods, schools, weather
"""


def clean(text: str, **kwargs):
    return clean_article(RawArticle(article_id="a1", text=text, input="a1.txt", **kwargs))


def test_furniture_removed_and_prose_kept():
    article = clean(PAGE)
    body = article.text
    assert body.splitlines()[0].startswith("Heavy rain flooded roads")
    assert "Forecasters expect the water to fall" in body
    for furniture in (
        "Skip to",
        "Menu",
        "Share this",
        "Leave a Reply",
        "Related Articles",
        "Storm warning",
        "donation",
        "translated automatically",
        "Reporting by",
        "Tags:",
        "Home | News",
    ):
        assert furniture not in body, furniture
    assert article.removed_lines >= 10


def test_metadata_read_from_the_text():
    article = clean(PAGE)
    assert article.title == "Floods close schools across the valley"
    assert article.source == "AP"
    assert article.dateline == "Riverton"
    assert article.byline == "Anna Berg"
    assert article.published_at == datetime(2021, 3, 3, tzinfo=UTC)


def test_given_metadata_wins_over_the_text():
    when = datetime(2020, 1, 1, tzinfo=UTC)
    article = clean(PAGE, title="Given title", source="Given source", published_at=when)
    assert (article.title, article.source, article.published_at) == ("Given title", "Given source", when)


def test_dates_in_the_body_are_not_publication_dates():
    text = (
        "Quake relief continues\n\nRescuers worked through the night in the mountain villages, officials "
        "said, recalling that a similar quake struck the region on June 5, 2014 and killed dozens."
    )
    assert clean(text).published_at is None


def test_find_date_forms():
    assert find_date("Posted 11 Jan 2022") == datetime(2022, 1, 11, tzinfo=UTC)
    assert find_date("2021-12-31T08:00") == datetime(2021, 12, 31, 8, 0, tzinfo=UTC)
    assert find_date("Feb. 30, 2022") is None
    assert find_date("no date here") is None


def test_title_source_split_needs_a_short_name():
    assert split_title_source("Talks stall again - Reuters") == ("Talks stall again", "Reuters")
    assert split_title_source("Prices rise - and rise again - as costs climb") == (
        "Prices rise - and rise again - as costs climb",
        None,
    )


def test_content_hash_ignores_case_space_and_punctuation():
    assert content_hash("Hello,  World!\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there world")


@given(st.text(max_size=400))
def test_cleaning_never_raises_and_is_deterministic(text):
    first = clean(text)
    assert first == clean(text)
    assert first.n_words >= 0


@given(st.text(max_size=300))
def test_normalisation_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once
    hashed = normalize_for_hash(text)
    assert normalize_for_hash(hashed) == hashed


def test_a_dated_headline_stays_the_title():
    article = clean(
        "Storm hits the coast on May 5, 2021\n\nThe storm brought winds of 120 km/h to the coast on "
        "Wednesday, cutting power to thousands of homes, the weather office said."
    )
    assert article.title == "Storm hits the coast on May 5, 2021"
    assert article.published_at == datetime(2021, 5, 5, tzinfo=UTC)


def test_site_notices_and_reader_prompts_are_furniture():
    body = ("The council voted on Tuesday to approve the new budget for the city, which includes funds for road "
            "repairs and schools, the mayor said in a statement after the meeting.")
    header = "Council approves budget\nBREAKING NEWS\nHome > News > Local\nThe Daily Post | Local news\n"
    footer = ("We use cookies to improve your experience. By using this site you accept our cookie policy.\n"
              "(c) 2011 The Daily Post. All rights reserved. This material may not be published or redistributed.\n"
              "What do you think? Tell us in the comments below.\n"
              "Like this story? Share it with a friend.\n")
    article = clean(header + body + "\n" + footer)
    assert article.title == "Council approves budget"
    assert article.text == body


def test_a_long_first_paragraph_is_text_not_a_title():
    paragraph = ("Fans waited for hours outside the stadium on Saturday as the team paraded the trophy through the "
                 "city centre, and the mayor promised a civic reception for the players next week -- the first in "
                 "twenty years -- before the crowd finally dispersed late in the evening")
    article = clean(paragraph)
    assert article.title is None
    assert article.text == paragraph


def test_a_one_sentence_story_survives_its_related_links():
    text = ("A climber who watched his brother fall on the country's highest peak said he expected to die that night on\n"
            "Related stories:\n- Police appeal for witnesses after late-night crash\n- Ten things to do this weekend\n")
    article = clean(text)
    assert article.text.startswith("A climber who watched") and "Police appeal" not in article.text


def test_prose_with_dashes_or_site_words_is_kept():
    dashes = "Four armed robbers -- two dressed as women -- made off with $137-million of diamonds from a famed store."
    assert clean(dashes).text == dashes
    long_paragraph = (
        "As it promised on Tuesday, the company today issued an emergency patch to plug a critical hole in its browser "
        "that attackers have been increasingly exploiting from hacked web sites. The patch fixes a flaw in all versions, "
        "and users who have automatic updates turned on will receive it without doing anything, we were told by the "
        "company's security team, which said the flaw had been exploited on thousands of sites in recent days."
    )
    assert clean(long_paragraph).text == long_paragraph


def test_a_misspelt_month_is_no_date_and_no_crash():
    assert find_date("Posted Sepember 5, 2020") is None
    assert clean("Storm report\nPosted Sepember 5, 2020\nThe storm hit the coast on Monday, cutting power to "
                 "thousands of homes, officials said.").published_at is None


def test_a_blank_given_title_keeps_a_one_line_text():
    article = clean("A fire broke out in Leeds on Monday night", title="  ")
    assert article.text == "A fire broke out in Leeds on Monday night"


def test_a_cut_or_wrapped_line_with_typed_dashes_is_kept():
    # No sentence end: the line was cut (a truncated copy) or hard-wrapped (plain-text wire copy).
    cut = "Four armed robbers -- two dressed as women -- made off with $137-million of diamonds and jewels from a"
    wrapped = "POLICE said on Monday that the suspects -- three men and a woman -- had left the\ncity before dawn."
    assert clean(f"Jewel heist in Paris\n{cut}\nShare this article").text == cut
    assert clean(f"Arrests after the raid\n{wrapped}").text == wrapped
    # A bar of links joined by typed dashes is still furniture.
    assert clean("Storm report\nHome -- News -- Sport -- Weather\n" + wrapped).text == wrapped


def test_a_date_line_with_a_byline_is_header_furniture():
    body = "Heavy rain flooded roads across the valley on Tuesday, and the district closed all of its schools."
    for header, byline, published in (
        ("Posted on 14/01/2007 by David Chen", "David Chen", None),
        ("Posted on January 15, 2006 by Sarah O'Neil", "Sarah O'Neil", datetime(2006, 1, 15, tzinfo=UTC)),
        ("Published 01.11.2010", None, None),
        ("Last updated: 21/12/2009, 10:06 PM", None, None),
    ):
        article = clean(f"{header}\nFloods close schools\n{body}")
        assert (article.title, article.text) == ("Floods close schools", body), header
        assert (article.byline, article.published_at) == (byline, published), header
    # A numeric date is day-first or month-first: it marks a date line but dates nothing.
    assert find_date("Published 01/11/2010") is None
    # A headline that mentions a date keeps its words.
    assert clean(f"The 9/11/2001 attacks remembered\n{body}").title == "The 9/11/2001 attacks remembered"


def test_a_section_label_above_the_headline_is_dropped():
    body = "A large fire broke out at the supermarket in the town centre this morning, the fire service said."
    article = clean(f"Crime\nMajor fire at town supermarket\n{body}")
    assert (article.title, article.text) == ("Major fire at town supermarket", body)
    # A one-line story under its section label keeps its line as its text.
    line = "four armed robbers -- two dressed as women -- made off with diamonds from a"
    assert clean(f"Crime\n{line}").text == line
    assert clean("Crime\n\n").text == "Crime"  # a one-word text is no label
