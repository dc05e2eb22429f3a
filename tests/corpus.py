"""Tiny inline corpora with planted structure, shared by the stage tests."""

from __future__ import annotations

import json
from pathlib import Path

# Two different events of the same kind (two earthquakes), three reports each, plus one
# unrelated story. Names, places and numbers differ between the events; vocabulary does not.
QUAKE_A = [
    (
        "Strong earthquake shakes Valparaiso region",
        "VALPARAISO (Wire) - A magnitude 6.8 earthquake struck the Chilean port city of Valparaiso on Tuesday, "
        "damaging dozens of homes and cutting power to thousands, officials said. The quake hit at a depth of "
        "22 kilometres, the national seismology office reported. Mayor Camila Rojas said two people were "
        "injured in Valparaiso by falling debris and that schools would stay closed on Wednesday. Rescue "
        "teams from Santiago were sent to inspect the port, which suspended operations for several hours.",
    ),
    (
        "Chile quake damages homes in Valparaiso",
        "A 6.8-magnitude quake rattled Valparaiso in central Chile on Tuesday, injuring two people and "
        "knocking out electricity across the port city. Mayor Camila Rojas told reporters that dozens of "
        "houses in the hills of Valparaiso were damaged. The seismology office said the quake was 22 "
        "kilometres deep. Port operations in Valparaiso were halted while engineers from Santiago checked "
        "the cranes and the docks for cracks.",
    ),
    (
        "Valparaiso counts damage after 6.8 quake",
        "Residents of Valparaiso cleared rubble on Wednesday after Tuesday's magnitude 6.8 earthquake damaged "
        "homes across the Chilean city. Mayor Camila Rojas said schools would reopen once inspectors from "
        "Santiago had checked them. Two people were treated for injuries. The port of Valparaiso resumed "
        "work after engineers found no structural damage to its cranes.",
    ),
]
QUAKE_B = [
    (
        "Earthquake hits Hokkaido, towns lose power",
        "SAPPORO (Wire) - A magnitude 6.1 earthquake struck eastern Hokkaido early on Sunday, shaking the town "
        "of Kushiro and cutting power to thousands of homes, the meteorological agency said. Governor Kenji "
        "Sato said a landslide blocked a road near Kushiro and that one person was missing. The quake struck "
        "at a depth of 40 kilometres. Rail services between Sapporo and Kushiro were suspended while tracks "
        "were inspected.",
    ),
    (
        "Hokkaido quake: one missing after landslide near Kushiro",
        "One person was missing after a magnitude 6.1 quake triggered a landslide near Kushiro in Hokkaido on "
        "Sunday, Governor Kenji Sato said. The meteorological agency said the earthquake was 40 kilometres "
        "deep. Power was cut to thousands of homes around Kushiro, and trains from Sapporo were halted so "
        "that crews could inspect the tracks.",
    ),
    (
        "Search continues in Kushiro after Hokkaido earthquake",
        "Rescuers searched on Monday for a man missing since Sunday's magnitude 6.1 earthquake in Hokkaido "
        "set off a landslide near Kushiro. Governor Kenji Sato said power had been restored to most homes. "
        "Train services between Sapporo and Kushiro resumed after inspectors found the tracks undamaged, "
        "the rail operator said.",
    ),
]
UNRELATED = (
    "Central bank holds interest rates steady",
    "The central bank left its benchmark interest rate unchanged at 4.5 percent on Thursday, saying "
    "inflation was easing but wage growth remained strong. Governor Maria Lindqvist told a news "
    "conference that the board would watch the labour market closely before cutting borrowing costs. "
    "Economists had expected the decision, and the currency barely moved after the announcement.",
)


def write_quake_corpus(directory: Path, hostile_title: str) -> None:
    """The two earthquakes as text files, the unrelated article under ``hostile_title`` as
    JSON Lines, and an exact copy of the first report."""
    for i, (title, text) in enumerate([*QUAKE_A, *QUAKE_B]):
        (directory / f"doc{i}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    hostile = {"id": "doc6", "title": hostile_title, "text": UNRELATED[1]}
    (directory / "hostile.jsonl").write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    (directory / "doc0-copy.txt").write_text(f"{QUAKE_A[0][0]}\n\n{QUAKE_A[0][1]}\n", encoding="utf-8")
