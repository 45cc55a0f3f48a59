"""Reads for the contest page."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.safestring import SafeString

from pages.contest_text import BY_KEY, SECTIONS, Section
from pages.markdown import render_markdown
from pages.models import ContestText, ContestTextRevision

HISTORY_SHOWN = 50


@dataclass(frozen=True)
class ShownText:
    section: Section
    body: str
    stored: bool
    updated_at: dt.datetime | None = None
    updated_by: AbstractBaseUser | None = None

    @property
    def html(self) -> SafeString:
        return render_markdown(self.body)


def _shown(section: Section, stored: ContestText | None) -> ShownText:
    if stored is None:
        return ShownText(section=section, body=section.default, stored=False)
    return ShownText(
        section=section,
        body=stored.body,
        stored=True,
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
    )


def contest_texts() -> dict[str, ShownText]:
    """Every section of the contest page by key, stored or default, in one query."""
    stored = {text.key: text for text in ContestText.objects.select_related("updated_by")}
    return {section.key: _shown(section, stored.get(section.key)) for section in SECTIONS}


def contest_text(*, key: str) -> ShownText:
    """One section (KeyError for a key that is no section)."""
    section = BY_KEY[key]
    return _shown(section, ContestText.objects.select_related("updated_by").filter(key=key).first())


def text_history(*, key: str) -> QuerySet[ContestTextRevision]:
    """The section's saved texts, newest first."""
    return ContestTextRevision.objects.filter(key=key).select_related("edited_by")[:HISTORY_SHOWN]
