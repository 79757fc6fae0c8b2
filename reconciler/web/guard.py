"""The gate every HTTP request passes: read-only methods, optional basic auth, security headers.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware) so streamed responses such as
server-sent events pass through untouched.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = frozenset({"GET", "HEAD"})
# Open without credentials: container health checks must not need the password. It says
# nothing but whether the process runs.
OPEN_PATHS = frozenset({"/livez"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"server", b"reconciler"),
)


@dataclass(frozen=True)
class Credentials:
    """The one user and password basic auth accepts."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    def accept(self, header: str | None) -> bool:
        """True when an `Authorization: Basic ...` header carries these credentials; both
        parts are compared in constant time."""
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok & password_ok


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


class Guard:
    """Wraps the app: 405 for any method but GET/HEAD, 401 without the configured
    credentials, and the security headers on every response (errors included)."""

    def __init__(self, app: ASGIApp, credentials: Callable[[], Credentials | None]) -> None:
        self.app = app
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if scope["method"] not in READ_METHODS:
            await _respond(send_with_headers, 405, {"error": "read-only: only GET is served"},
                           [(b"allow", b"GET, HEAD")])
            return
        credentials = self.credentials()
        if credentials is not None and scope["path"] not in OPEN_PATHS:
            header = None
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            if not credentials.accept(header):
                await _respond(send_with_headers, 401, {"error": "authentication required"},
                               [(b"www-authenticate",
                                 b'Basic realm="reconciler", charset="UTF-8"')])
                return
        await self.app(scope, receive, send_with_headers)


async def _respond(send: Send, status: int, data: object,
                   headers: list[tuple[bytes, bytes]]) -> None:
    body = _json(data)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"), *headers],
    })
    await send({"type": "http.response.body", "body": body})
