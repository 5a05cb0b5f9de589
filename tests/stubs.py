"""Local stand-ins for Resend, the Telegram Bot API and an OpenAI-compatible API.

Each is a real HTTP server on 127.0.0.1 (a free port) in a thread, used behind the real
SDKs. Use them as context managers; `.url` is the base URL to configure:

    with ResendStub() as resend, TelegramStub() as telegram, OpenAIStub() as openai:
        env RESEND_API_URL=resend.url, TELEGRAM_API_URL=telegram.url, OPENAI_BASE_URL=openai.url

They record what they receive and can be told to fail, to slow down, or (Telegram) to
deliver updates such as `/start <token>`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

RESEND_TEST_KEY = "re_test_key"
TELEGRAM_TEST_TOKEN = "123456:TEST-token_for-stub"


@dataclass
class StubReply:
    """A programmed answer: HTTP status, JSON body, headers, and an optional delay first."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StubServer(ABC):
    """A threaded HTTP server whose subclasses implement `handle(method, path, headers, body)`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.closing = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = stub.handle(self.command, self.path, dict(self.headers.items()), body)
                if reply.delay:
                    stub.closing.wait(reply.delay)
                payload = json.dumps(reply.body).encode() if not isinstance(reply.body, bytes) else reply.body
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @abstractmethod
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubReply:
        """The reply to one request (runs in the server's thread)."""

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class WebhookStub(StubServer):
    """Any HTTP endpoint (a JSON webhook, an ntfy server): records each request, answers 200,
    or the status or redirect it was told to."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        self.replies: deque[StubReply] = deque()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.lock:
            self.replies.extend(StubReply(status, {"error": "stub failure"}) for _ in range(times))

    def redirect_to(self, url: str) -> None:
        with self.lock:
            self.replies.append(StubReply(307, {}, {"Location": url}))

    def json_bodies(self) -> list[Any]:
        with self.lock:
            return [json.loads(body) for _, _, _, body in self.received]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubReply:
        with self.lock:
            self.received.append((method, path, headers, body))
            return self.replies.popleft() if self.replies else StubReply(200, {"success": True})


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


class ResendStub(StubServer):
    """`POST /emails` like Resend: records e-mails, answers the same id for a repeated Idempotency-Key."""

    def __init__(self, api_key: str = RESEND_TEST_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.emails: list[dict[str, Any]] = []  # accepted e-mails, each with "idempotency_key" and "id"
        self.requests = 0
        self.failures: deque[StubReply] = deque()
        self.delay = 0.0
        self.by_key: dict[str, str] = {}
        self._ids = itertools.count(1)

    def fail_next(
        self,
        status: int,
        *,
        name: str = "application_error",
        message: str = "Stub failure",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        body = {"statusCode": status, "name": name, "message": message}
        with self.lock:
            self.failures.extend(StubReply(status, body, headers) for _ in range(times))

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubReply:
        with self.lock:
            self.requests += 1
            if method != "POST" or path.rstrip("/") != "/emails":
                return StubReply(404, {"statusCode": 404, "name": "not_found", "message": "Not found"})
            if _header(headers, "Authorization") != f"Bearer {self.api_key}":
                return StubReply(
                    403, {"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"}
                )
            if self.failures:
                return self.failures.popleft()
            key = _header(headers, "Idempotency-Key")
            if key and key in self.by_key:
                return StubReply(200, {"id": self.by_key[key]}, delay=self.delay)
            email = json.loads(body)
            email_id = f"email-{next(self._ids)}"
            email.update(id=email_id, idempotency_key=key)
            self.emails.append(email)
            if key:
                self.by_key[key] = email_id
            return StubReply(200, {"id": email_id}, delay=self.delay)


class TelegramStub(StubServer):
    """The Bot API methods CloudTrack uses, at `/bot<token>/<method>`."""

    def __init__(self, token: str = TELEGRAM_TEST_TOKEN, username: str = "CloudTrackTestBot") -> None:
        super().__init__()
        self.token = token
        self.username = username
        self.messages: list[dict[str, Any]] = []  # sendMessage calls, parsed
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, deque[StubReply]] = {}
        self.blocked_chats: set[int] = set()
        self.send_delay = 0.0  # seconds between recording a sendMessage and answering it
        self.webhook: dict[str, Any] | None = None
        self.updates: list[dict[str, Any]] = []
        self.new_update = threading.Condition(self.lock)
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def fail_next(
        self, method: str, status: int, description: str, *, retry_after: int | None = None, times: int = 1
    ) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        with self.lock:
            self.failures.setdefault(method, deque()).extend(StubReply(status, body) for _ in range(times))

    def push_message(self, text: str, chat_id: int, *, first_name: str = "Alex") -> int:
        """Deliver a message from a person to the bot, as getUpdates (or a webhook) would."""
        with self.lock:
            update_id = next(self._update_ids)
            self.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": next(self._message_ids),
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                        "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
                        "text": text,
                        "entities": [
                            {"type": "bot_command", "offset": 0, "length": len(text.split(" ", 1)[0])}
                        ]
                        if text.startswith("/")
                        else [],
                    },
                }
            )
            self.new_update.notify_all()
            return update_id

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["chat_id"] == chat_id]

    @staticmethod
    def _params(headers: dict[str, str], body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in (_header(headers, "Content-Type") or ""):
            return json.loads(body)
        params: dict[str, Any] = {}
        for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
            value: Any = values[-1]
            if value[:1] in "{[":
                value = json.loads(value)
            params[key] = value
        return params

    def _ok(self, result: Any) -> StubReply:
        return StubReply(200, {"ok": True, "result": result})

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubReply:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return StubReply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        api_method = path[len(prefix) :].split("?", 1)[0]
        params = self._params(headers, body)
        with self.lock:
            self.calls.append((api_method, params))
            queued = self.failures.get(api_method)
            if queued:
                return queued.popleft()
        if api_method == "getMe":
            return self._ok(
                {
                    "id": int(self.token.split(":", 1)[0]),
                    "is_bot": True,
                    "first_name": "CloudTrack",
                    "username": self.username,
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                }
            )
        if api_method == "sendMessage":
            return self._send_message(params)
        if api_method == "getUpdates":
            return self._get_updates(params)
        if api_method == "setWebhook":
            with self.lock:
                self.webhook = params
            return self._ok(True)
        if api_method == "deleteWebhook":
            with self.lock:
                self.webhook = None
            return self._ok(True)
        return StubReply(404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"})

    def _send_message(self, params: dict[str, Any]) -> StubReply:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked_chats:
            return StubReply(
                403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            )
        with self.lock:
            message_id = next(self._message_ids)
            self.messages.append({**params, "chat_id": chat_id, "message_id": message_id})
        reply = self._ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": params.get("text", ""),
            }
        )
        reply.delay = self.send_delay
        return reply

    def _get_updates(self, params: dict[str, Any]) -> StubReply:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + wait
        with self.new_update:
            while True:
                fresh = [u for u in self.updates if u["update_id"] >= offset]
                remaining = deadline - time.monotonic()
                if fresh or remaining <= 0 or self.closing.is_set():
                    return self._ok(fresh)
                self.new_update.wait(min(remaining, 0.2))


@dataclass
class ModelReply:
    """One programmed answer of the OpenAI stub."""

    content: str | None = None
    refusal: str | None = None
    status: int = 200
    delay: float = 0.0

    @classmethod
    def json(cls, subject: str, body: str, **kwargs: Any) -> ModelReply:
        return cls(content=json.dumps({"subject": subject, "body": body}), **kwargs)


class OpenAIStub(StubServer):
    """`POST /v1/chat/completions` answering programmed replies in order, then `default`."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.replies: deque[ModelReply] = deque()
        self.default = ModelReply(status=500, content="no reply programmed")

    @property
    def url(self) -> str:
        return super().url + "/v1"

    def reply(self, *replies: ModelReply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> StubReply:
        if method != "POST" or not path.startswith("/v1/chat/completions"):
            return StubReply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        with self.lock:
            self.requests.append(json.loads(body))
            reply = self.replies.popleft() if self.replies else self.default
        if reply.status != 200:
            return StubReply(
                reply.status,
                {"error": {"message": reply.content or "error", "type": "server_error"}},
                delay=reply.delay,
            )
        message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
        return StubReply(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "stub-model",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
            delay=reply.delay,
        )
