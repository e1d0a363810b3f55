"""``--workers N``: every core of a machine behind one port, with no sticky sessions.

:mod:`.supervisor` starts the worker processes (:mod:`.worker`) on one shared listening socket
and runs the hub (:mod:`.hub`, frames in :mod:`.hubwire`) through which they form a Socket.IO
cluster (:mod:`.local_driver`, installed by :mod:`.install`); :mod:`.routing` hands a request for a
session to the worker that owns it. With connection-state recovery on, the hub also keeps the
machine's recovery log (:mod:`.hub_log`), which each worker's :mod:`.hub_store` reads and writes
through. See docs/deployment.md.
"""
