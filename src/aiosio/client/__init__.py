"""The Socket.IO client: AsyncClient, AsyncSimpleClient and AsyncClientNamespace."""

from .async_client import AsyncClient, DisconnectReason
from .namespace import AsyncClientNamespace
from .simple import AsyncSimpleClient

__all__ = ["AsyncClient", "AsyncClientNamespace", "AsyncSimpleClient", "DisconnectReason"]
