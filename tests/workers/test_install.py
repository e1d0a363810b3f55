"""Which servers of a worker's app get the workers' cluster adapter."""

from __future__ import annotations

import pytest
from aiohttp import web

import aiosio
from aiosio.adapters.cluster import ClusterAdapter
from aiosio.workers.install import find_servers, install_cluster
from aiosio.workers.local_driver import LocalDriver


def test_servers_attached_anywhere_are_found_once() -> None:
    top, nested, listed = aiosio.AsyncServer(), aiosio.AsyncServer(), aiosio.AsyncServer()
    app = web.Application()
    top.attach(app)
    sub = web.Application()
    nested.attach(sub, socketio_path="inner")
    app.add_subapp("/sub", sub)
    eio_only = aiosio.engineio.AsyncServer()
    eio_only.attach(app, engineio_path="engine.io")
    assert find_servers(app, [listed, top]) == [listed, top, nested]


def test_install_gives_default_managers_a_local_cluster_adapter() -> None:
    plain = aiosio.AsyncServer()

    class Mine(aiosio.AsyncManager):
        pass

    own = aiosio.AsyncServer(client_manager=Mine())
    own_adapter = own.manager.adapter
    assert install_cluster([plain, own], hub_path="/nonexistent/hub.sock") == 1
    assert isinstance(plain.manager.adapter, ClusterAdapter)
    assert plain._adapter is plain.manager.adapter  # what the server uses on its hot paths
    assert isinstance(plain.manager.adapter.driver, LocalDriver)
    assert own.manager.adapter is own_adapter


def test_install_with_redis_uses_the_redis_manager_wire() -> None:
    pytest.importorskip("redis")
    from aiosio.adapters.redis.classic import ClassicDriver

    sio = aiosio.AsyncServer()
    assert install_cluster([sio], hub_path="/x", redis_url="redis://127.0.0.1:1/0") == 1
    assert isinstance(sio.manager.adapter.driver, ClassicDriver)
