"""Django's Redis cache with one redis-py client per connection pool, not one per call: a client's constructor
builds its table of response callbacks (some 170 entries), which cost more than the call to Redis itself, and
every page makes several calls (session, freshness stamps, the cached body)."""

from django.core.cache.backends import redis


class _Client(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # id of a connection pool -> its client

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        # A pool lives as long as this object: its id is never reused meanwhile.
        if id(pool) not in self._clients:
            self._clients[id(pool)] = self._client(connection_pool=pool)
        return self._clients[id(pool)]


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client
