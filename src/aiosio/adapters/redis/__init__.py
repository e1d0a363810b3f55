"""Redis-backed cluster adapters (classic and sharded pub/sub). :mod:`._link` is the connection layer
they share: :class:`~aiosio.adapters.redis._link.RedisLink` (one publisher, one subscriber, reconnects,
bounded and counted)."""
