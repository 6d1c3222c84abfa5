"""Run the fake providers with uvicorn in a background thread (tests, the demo) or in the foreground (CLI)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from beacon.providers.fake.app import create_app
from beacon.providers.fake.state import FakeConfig, FakeState


class BackgroundServer:
    """Any ASGI app served by uvicorn in a daemon thread; port 0 picks a free port."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))  # bound here so the port is known before the thread starts
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True, name=f"uvicorn-{self.port}"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeProviderServer(BackgroundServer):
    """``with FakeProviderServer() as fake:`` point ``BEACON_FAKE_PROVIDERS_URL`` at ``fake.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, config: FakeConfig | None = None) -> None:
        self.state = FakeState(config=config or FakeConfig())
        super().__init__(create_app(state=self.state), host, port)
        self._http = httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        self._http.close()
        super().stop()

    def __enter__(self) -> FakeProviderServer:
        self.start()
        return self

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the ``/_fake`` control API over HTTP; raises on an error status."""
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


def start_fake_providers(port: int = 0, config: FakeConfig | None = None) -> FakeProviderServer:
    """Start the fakes in this process; call ``.stop()`` when done."""
    return FakeProviderServer(port=port, config=config).start()  # type: ignore[return-value]


def serve_forever(host: str, port: int, config: FakeConfig) -> None:
    """Foreground server for ``beacon fake-providers``."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
