from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site as a whole: what no one app owns (see config/freshness.py)."""

    name = "config"
    label = "site"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started
        from django.db.backends.signals import connection_created

        from config import freshness

        connection_created.connect(freshness.watch_writes, dispatch_uid="freshness.watch_writes")
        request_started.connect(freshness.begin_request, dispatch_uid="freshness.begin_request")
        request_finished.connect(freshness.end_request, dispatch_uid="freshness.end_request")
        freshness.watch_open_connections()
