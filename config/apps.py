from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site as a whole: what no one app owns (see config/freshness.py)."""

    name = "config"
    label = "site"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from config import freshness

        connection_created.connect(freshness.watch_writes, dispatch_uid="freshness.watch_writes")
        freshness.watch_open_connections()
