"""A local OpenAI-compatible chat-completions server, so tests drive litellm's real HTTP path
(request building, SSE streaming, tool calls, error mapping, timeouts) without a live LLM.

Each test scripts the replies it expects, in order; the stub records every request it received.
Register the fixture with `pytest_plugins = ["tests.llm_stub"]` and ask for `llm_stub`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["LLMStub", "RecordedRequest", "ScriptedResponse", "llm_stub"]


@dataclass(frozen=True)
class ScriptedResponse:
    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    status: int = 200
    delay: float = 0.0
    model: str | None = None  # only a request naming this model takes it; None takes any
    prompt_tokens: int = 9
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers ("Retry-After", "1")

    @property
    def completion_tokens(self) -> int:
        return max(1, len(self.text.split()) + len(self.tool_calls))


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


@dataclass
class LLMStub:
    """Serves POST /v1/chat/completions from a queue of scripted responses."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: list[ScriptedResponse] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def api_base(self) -> str:
        assert self._server is not None, "the stub is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def reply(self, text: str, *, model: str | None = None, delay: float = 0.0) -> None:
        self._queue.append(ScriptedResponse(text=text, model=model, delay=delay))

    def reply_json(self, body: dict[str, Any], *, model: str | None = None) -> None:
        self.reply(json.dumps(body), model=model)

    def tool_call(self, name: str, arguments: dict[str, Any], *, model: str | None = None) -> None:
        self._queue.append(ScriptedResponse(tool_calls=((name, arguments),), model=model))

    def fail(
        self, status: int, *, model: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        extra = tuple((headers or {}).items())
        self._queue.append(ScriptedResponse(status=status, model=model, headers=extra))

    def start(self) -> LLMStub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        # A short poll keeps shutdown() from waiting out the default half second per test.
        kwargs = {"poll_interval": 0.05}
        threading.Thread(target=server.serve_forever, kwargs=kwargs, daemon=True).start()
        self._server = server
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers still sleeping out a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _take(self, model: str) -> ScriptedResponse | None:
        with self._lock:
            for i, scripted in enumerate(self._queue):
                if scripted.model in (None, model):
                    return self._queue.pop(i)
        return None

    def _wait(self, seconds: float) -> None:
        self._closing.wait(seconds)


def _completion(scripted: ScriptedResponse, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": scripted.text or None}
    if scripted.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(scripted.tool_calls)
        ]
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish(scripted)}],
        "usage": _usage(scripted),
    }


def _chunks(scripted: ScriptedResponse, model: str, with_usage: bool) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    # Word by word, so a test sees more than one text chunk before the final result.
    for word in scripted.text.split(" ") if scripted.text else []:
        yield chunk({"content": word + " "})
    for i, (name, args) in enumerate(scripted.tool_calls):
        call = {"index": i, "id": f"call_{i}", "type": "function"}
        yield chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]})
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": json.dumps(args)}}]})
    yield chunk({}, _finish(scripted))
    if with_usage:
        last = chunk({})
        last["choices"] = []
        last["usage"] = _usage(scripted)
        yield last


def _finish(scripted: ScriptedResponse) -> str:
    return "tool_calls" if scripted.tool_calls else "stop"


def _usage(scripted: ScriptedResponse) -> dict[str, int]:
    prompt, completion = scripted.prompt_tokens, scripted.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _handler_for(stub: LLMStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            stub.requests.append(RecordedRequest(self.path, headers, body))
            if self.path == "/api/chat":  # Ollama's own chat endpoint
                return self._ollama(body)
            if not self.path.endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"stub: no route {self.path}"}})
            model = body.get("model", "")
            scripted = stub._take(model)
            if scripted is None:
                message = f"stub: no scripted response left for model {model!r}"
                return self._json(500, {"error": {"message": message, "type": "stub"}})
            stub._wait(scripted.delay)
            try:
                if scripted.status != 200:
                    error = {"message": f"stub: scripted HTTP {scripted.status}", "type": "stub"}
                    self._json(scripted.status, {"error": error}, scripted.headers)
                elif body.get("stream"):
                    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    self._sse(_chunks(scripted, model, with_usage))
                else:
                    self._json(200, _completion(scripted, model))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test); nobody is left to answer

        def _ollama(self, body: dict[str, Any]) -> None:
            """Ollama's /api/chat: one JSON object (stream false) or JSON lines (stream true)."""
            scripted = stub._take(body.get("model", ""))
            if scripted is None or scripted.status != 200:
                return self._json(scripted.status if scripted else 500, {"error": "stub"})
            done = {
                "model": body.get("model", ""),
                "created_at": "2026-01-01T00:00:00Z",
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": scripted.prompt_tokens,
                "eval_count": scripted.completion_tokens,
            }
            if not body.get("stream"):
                message = {"role": "assistant", "content": scripted.text}
                return self._json(200, {**done, "message": message})
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for word in scripted.text.split(" "):
                piece = {"model": done["model"], "done": False}
                piece["message"] = {"role": "assistant", "content": word + " "}
                self.wfile.write((json.dumps(piece) + "\n").encode())
            last = {**done, "message": {"role": "assistant", "content": ""}}
            self.wfile.write((json.dumps(last) + "\n").encode())

        def _json(
            self, status: int, payload: dict[str, Any], extra: tuple[tuple[str, str], ...] = ()
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, chunks: Iterator[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()  # HTTP/1.0: closing the connection ends the stream
            for payload in chunks:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output to the tests' own

    return Handler


@pytest.fixture
def llm_stub() -> Iterator[LLMStub]:
    stub = LLMStub().start()
    yield stub
    stub.close()
