"""RedisLink tests against a real redis-server."""
