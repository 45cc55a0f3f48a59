"""What remains of the stock admin: branded for the contest, every list of ours searchable."""

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _ours() -> dict:
    """The ModelAdmins of the project's own apps (those whose code is in this repository, not installed)."""
    root = Path(settings.BASE_DIR)
    labels = {
        app.label
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(root) and ".venv" not in Path(app.path).relative_to(root).parts
    }
    return {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in labels
    }


def test_every_list_of_ours_can_be_searched(client, olga):
    ours = _ours()
    assert {m._meta.app_label for m in ours} >= {"accounts", "submissions", "evaluation", "reviews"}
    assert sorted(m.__name__ for m, model_admin in ours.items() if not model_admin.search_fields) == []
    client.force_login(olga)
    for model in ours:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url, {"q": "x"}).status_code == 200, url  # the search fields are real lookups


def test_the_admin_is_branded_for_the_contest(client, olga):
    client.force_login(olga)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in html and "Django site admin" not in html
    assert f"<title>Manage the contest | {settings.CONTEST_NAME} admin</title>" in html
    assert f'<a href="/admin/">{settings.CONTEST_NAME}</a>' in html
