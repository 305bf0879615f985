"""A zero-latency OpenAI-compatible chat server in a thread of this process, for benchmarks that
drive litellm's real HTTP path without a model.

Every request is answered at once with valid JSON for the role that asked: the model name says
which (`bench-manager`, `bench-item_analyst`, ...; configure a role as `openai/bench-<role>`),
and the answer is computed from the prompt's <data> block (bench_turn.instant_answer, or the
`answer` function given). Token counts in `usage` are litellm's count for gpt-4o-mini, so they
are what a real model of that family would bill. Both plain and streamed (SSE) answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from recteam.agents.llm import prompt_data
from recteam.evaluation.bench_turn import instant_answer

__all__ = ["MODEL_PREFIX", "Answer", "StubLLMServer"]

MODEL_PREFIX = "bench-"  # a request for model 'bench-<role>' is answered as <role>

# (role, the prompt's <data> block) -> the role's answer as a JSON object
Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


def _count_tokens(messages: list[dict[str, Any]] | None = None, text: str = "") -> int:
    import litellm  # already imported by the client this server answers

    if messages is not None:
        return int(litellm.token_counter(model="gpt-4o-mini", messages=messages))
    return int(litellm.token_counter(model="gpt-4o-mini", text=text))


class StubLLMServer:
    """Serves POST <api_base>/chat/completions; `requests` counts what it answered."""

    def __init__(self, answer: Answer = instant_answer) -> None:
        self.answer = answer
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def api_base(self) -> str:
        assert self._server is not None, "the stub server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> StubLLMServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        kwargs = {"poll_interval": 0.05}  # a quick shutdown
        threading.Thread(target=server.serve_forever, kwargs=kwargs, daemon=True).start()
        self._server = server
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def complete(self, body: dict[str, Any]) -> tuple[str, str, dict[str, int]]:
        """(model, answer text, usage) for one chat-completions request body."""
        model = str(body.get("model", ""))
        messages = body.get("messages") or []
        last = str(messages[-1].get("content") or "") if messages else ""
        text = json.dumps(self.answer(model.removeprefix(MODEL_PREFIX), prompt_data(last)))
        prompt, completion = _count_tokens(messages), _count_tokens(text=text)
        with self._lock:
            self.requests += 1
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return model, text, usage


def _completion(model: str, text: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def _chunks(model: str, text: str, usage: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    for word in text.split(" "):
        yield chunk({"content": word + " "})
    yield chunk({}, "stop")
    if usage is not None:
        yield {**chunk({}), "choices": [], "usage": usage}


def _handler_for(stub: StubLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real provider's server
        # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for
        # the client's delayed ACK (about 40 ms), a latency no zero-latency stub should add.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.endswith("/chat/completions"):
                return self._json(404, {"error": {"message": f"stub: no route {self.path}"}})
            model, text, usage = stub.complete(body)
            if body.get("stream"):
                with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return self._sse(_chunks(model, text, usage if with_usage else None))
            return self._json(200, _completion(model, text, usage))

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, chunks: Iterator[dict[str, Any]]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")  # the end of the stream is the end of the body
            self.end_headers()
            self.close_connection = True
            for payload in chunks:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a benchmark prints its own figures

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serves until stopped, each answer after --delay seconds: a slow model for a benchmark
    that runs the app in a process of its own. Prints its api_base first."""
    import argparse

    parser = argparse.ArgumentParser(description="A local OpenAI-compatible stub for benchmarks.")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per answer")
    args = parser.parse_args(argv)

    def slow(role: str, data: dict[str, Any]) -> dict[str, Any]:
        time.sleep(args.delay)  # in the request's own thread: answers overlap, as a server's do
        return instant_answer(role, data)

    with StubLLMServer(slow) as stub:
        print(stub.api_base, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
