"""Make every cached page be computed afresh on its next request (config/freshness.py).

Changes made through Django do this by themselves; this is for a change made outside it (psql, a restored
backup), which pages would otherwise show only when their cache entries expire.
"""

from django.core.management.base import BaseCommand

from config import freshness


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def handle(self, *args, **options) -> None:
        if not freshness.enabled():
            self.stdout.write("Pages are not cached here (no cache server): nothing to refresh.")
            return
        freshness.changed()
        self.stdout.write("Every cached page is computed afresh on its next request.")
