"""A TCP proxy a test puts between a served project and one of the machine's real services, to
do to the link what production does to it, without touching the shared service itself:

- cut():       every open connection is reset and new ones are refused (the service is down);
- blackhole(): connections stay open but nothing goes through, either way (the service hangs:
               a stuck host, or a proxy holding queries while the database behind it is gone);
- slow(s):     new connections reach the service only after s seconds (a slow path to it: DNS,
               a TLS handshake with a distant server);
- restore():   held connections are reset, new ones go through again (the service is back).
"""

import select
import socket
import threading
from contextlib import suppress

OPEN, CUT, BLACKHOLE = "open", "cut", "blackhole"


class FaultProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.mode = OPEN
        self.connect_delay = 0.0
        self._lock = threading.Lock()
        self._sockets = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self.mode = CUT
        self._reset_all()

    def blackhole(self):
        self.mode = BLACKHOLE

    def slow(self, seconds):
        self.connect_delay = seconds

    def restore(self):
        if self.mode == BLACKHOLE:
            self._reset_all()  # what a hung peer's connections come to in the end
        self.mode = OPEN

    def close(self):
        self._closed.set()
        self._listener.close()
        self._reset_all()

    def _accept(self):
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == CUT:
                reset(client)
                continue
            self._track(client)
            if self.mode == BLACKHOLE:
                continue  # accepted, never answered
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        if self._closed.wait(self.connect_delay):
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            reset(client)
            return
        self._track(upstream)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        while not self._closed.is_set():
            if self.mode == BLACKHOLE:
                self._closed.wait(0.05)  # hold the bytes: neither read nor forward them
                continue
            try:
                if not select.select([source], [], [], 0.05)[0]:
                    continue
                data = source.recv(65536)
            except (OSError, ValueError):  # ValueError: closed by _reset_all meanwhile
                break
            if not data:
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            self._forget(sock)
            reset(sock)

    def _track(self, sock):
        with self._lock:
            self._sockets.add(sock)

    def _forget(self, sock):
        with self._lock:
            self._sockets.discard(sock)

    def _reset_all(self):
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            reset(sock)


def reset(sock):
    """Close with a RST, as a peer that went away does, rather than an orderly FIN."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with suppress(OSError):
        sock.close()
