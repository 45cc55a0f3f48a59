from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The thin layer above every app: pages that combine them (dashboards, the version page) and the demo."""

    name = "pages"
