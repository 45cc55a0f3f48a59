"""The sections of the contest page that organizers write. Each shows its stored text (pages.models.ContestText)
or, when none is stored, its default: the 2022 contest's text, from the Markdown files in contest_text/."""

import functools
from dataclasses import dataclass
from pathlib import Path

from contest.rules import METRICS

_DEFAULTS = Path(__file__).resolve().parent / "contest_text"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    where: str  # where the page shows it, for the organizer who edits it

    @property
    def default(self) -> str:
        return _default(self.key)


@functools.cache
def _default(key: str) -> str:
    return (_DEFAULTS / f"{key}.md").read_text(encoding="utf-8")


SECTIONS = (
    Section("overview", "About the contest", "at the top of the page"),
    Section("prizes", "Prizes", "under the table of prize tiers and amounts"),
    Section("rubric", "Prize Rubric", "above the rubric table"),
    Section("timeline", "Timeline", "under the table of rounds and their dates"),
    Section("rules", "Rules", "in the Rules section: submission guidelines and eligibility"),
    Section("metrics", "Metrics", "above the four metrics"),
    *(
        Section(f"metric_{metric}", f"Metric: {metric}", f"beside the {metric} columns and example file")
        for metric in METRICS
    ),
    Section("faq", "Frequently asked questions", "at the end of the page"),
)
BY_KEY = {section.key: section for section in SECTIONS}
