"""Sessions kept in the database and read from the cache (Django's ``cached_db``), for a cache that may fail.

Every request of a signed-in user reads its session: from Redis it costs a third of a database query. The
database keeps every session; the cache holds a copy for at most ``CACHED_FOR`` seconds. A cache that is down or
does not answer costs the copy, never the request: the session is read from the database (Django's own store
would fail a sign-out, and a first read, while Redis is down). A copy whose deletion failed (a sign-out while the
cache did not answer) is gone within ``CACHED_FOR``; the user is still read from the database on every request,
so a deactivated account or a changed password takes effect at once.
"""

import contextlib
import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

logger = logging.getLogger(__name__)

CACHED_FOR = 600


class SessionStore(cached_db.SessionStore):
    def _copy_to_cache(self, data: dict, seconds: int) -> None:
        try:
            self._cache.set(self.cache_key, data, min(seconds, CACHED_FOR))
        except Exception as error:
            logger.warning("the cache did not take a session (%s): it is read from the database", error)
            with contextlib.suppress(Exception):  # an older copy must not be read instead
                self._cache.delete(self.cache_key)

    def _forget_copy(self, session_key: str | None) -> None:
        if session_key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception as error:
            logger.warning(
                "the cache did not drop a session (%s): its copy expires within %d s", error, CACHED_FOR
            )

    def load(self) -> dict:
        try:
            data = self._cache.get(self.cache_key)
        except Exception as error:
            logger.warning("the cache did not answer for a session (%s): it is read from the database", error)
            return self._from_database(copy=False)
        return data if data is not None else self._from_database(copy=True)

    def _from_database(self, *, copy: bool) -> dict:
        stored = self._get_session_from_db()
        if stored is None:
            return {}
        data = self.decode(stored.session_data)
        if copy:
            self._copy_to_cache(data, self.get_expiry_age(expiry=stored.expire_date))
        return data

    def exists(self, session_key: str | None) -> bool:
        """Whether a new key is taken: the database knows every session (the cache may have lost one)."""
        return DatabaseStore.exists(self, session_key)

    def save(self, must_create: bool = False) -> None:
        DatabaseStore.save(self, must_create)
        self._copy_to_cache(self._session, self.get_expiry_age())

    def delete(self, session_key: str | None = None) -> None:
        DatabaseStore.delete(self, session_key)
        self._forget_copy(session_key if session_key is not None else self.session_key)
