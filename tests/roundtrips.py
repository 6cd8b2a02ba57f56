"""A TCP proxy in front of PostgreSQL that counts round trips: how often a client spoke again after an answer.

A client that queues several statements and one Sync (psycopg's pipeline) and then waits makes one round trip
however many statements it sent; a client that waits for each answer makes one per statement. The proxy counts
the times a connection's client sends after the server last sent (its first bytes included), which is exactly
how often the client had to wait for the server.
"""

from __future__ import annotations

import selectors
import socket
import threading

from sqlalchemy.engine import make_url


class RoundTripProxy:
    """A proxy for the PostgreSQL server of `url`; `self.url` is the same URL through the proxy."""

    def __init__(self, url: str):
        target = make_url(url)
        self.target = (target.host or "127.0.0.1", target.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = target.set(host="127.0.0.1", port=self._listener.getsockname()[1]).render_as_string(
            hide_password=False)
        self._lock = threading.Lock()
        self._turns = 0
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def turns(self) -> int:
        with self._lock:
            return self._turns

    def close(self) -> None:
        self._closing = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        server_spoke_last = True  # the client's first bytes are a turn
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if key.fileobj is client:
                        if server_spoke_last:
                            with self._lock:
                                self._turns += 1
                        server_spoke_last = False
                    else:
                        server_spoke_last = True
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            server.close()
