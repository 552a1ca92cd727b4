"""Stand-in LLM APIs: real HTTP on 127.0.0.1, spoken to by the real SDKs.

- :class:`AnthropicServer` answers ``POST /v1/messages`` as the Messages API does
  (CONTRACTS.md, "Anthropic Messages API"): it checks the key (``x-api-key`` or, as
  the 2.x SDK sends it, ``Authorization: Bearer``; 401 ``authentication_error``
  otherwise) and ``anthropic-version``, and answers with a
  ``message`` whose ``content`` holds the scripted blocks and whose ``usage`` counts
  tokens.
- :class:`OpenAIServer` answers ``POST /v1/chat/completions`` as an OpenAI-compatible
  server (Ollama, vLLM, llama.cpp) does: ``tool_calls`` or JSON in ``content``.

Token counts are an estimate, and say so: no Claude tokenizer is available offline,
so ``input_tokens`` is the characters of ``system`` + ``messages`` + ``tools`` (as
JSON) divided by 4, rounded up, the usual rule of thumb for English and JSON text.

Answers are scripted per request with :meth:`script` (then :meth:`always`, then a
default empty decision):

- ``("decision", {...})``: the structured answer (a ``tool_use`` block for the
  forced tool; ``tool_calls`` for OpenAI);
- ``("content", {...})``: the decision as JSON text in the message content;
- ``("text", "...")``: prose only, no tool call;
- ``("wrong_tool", {...})``: a tool call to another tool name;
- ``("bad_json",)``: Anthropic: a 200 whose body is not JSON; OpenAI: tool
  arguments that are not JSON;
- ``("status", code, retry_after_or_None)``: an API error (429, 529, 401, 500...)
  with the API's own error body and a ``retry-after`` header when given;
- ``("hang", seconds)``: read the request, answer nothing for that long.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

EMPTY_DECISION: dict[str, Any] = {"assessment": "nothing to add", "actions": [],
                                  "observations": []}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}


class Request(NamedTuple):
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # the parsed JSON body (None when it was not JSON)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class _Server:
    """The HTTP plumbing shared by both stand-ins."""

    name = "llm-standin"

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[Request] = []
        self._script: deque[tuple[Any, ...]] = deque()
        self._always: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name=self.name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def script(self, *answers: tuple[Any, ...]) -> None:
        with self._lock:
            self._script.extend(answers)

    def always(self, answer: tuple[Any, ...] | None) -> None:
        with self._lock:
            self._always = answer

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests]

    def next_answer(self, request: Request) -> tuple[Any, ...]:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
            return self._always or ("decision", EMPTY_DECISION)

    # subclasses: (status, headers, body bytes) for one request
    def respond(self, request: Request, answer: tuple[Any, ...]) -> tuple[int, dict[str, str],
                                                                          bytes]:
        raise NotImplementedError


class AnthropicServer(_Server):
    name = "anthropic-standin"

    def respond(self, request: Request, answer: tuple[Any, ...]) -> tuple[int, dict[str, str],
                                                                          bytes]:
        if request.path.split("?")[0] != "/v1/messages":
            return _json(404, _error_body(404, f"no route {request.path}"))
        # Older SDKs send the key as x-api-key, newer ones (2.x) as a bearer token.
        keys = (request.headers.get("x-api-key"),
                request.headers.get("authorization", "").removeprefix("Bearer "))
        if self.api_key not in keys:
            return _json(401, _error_body(401, "invalid x-api-key"))
        if not request.headers.get("anthropic-version"):
            return _json(400, _error_body(400, "anthropic-version header is required"))
        body = request.body if isinstance(request.body, dict) else {}
        kind = answer[0]
        if kind == "status":
            code, retry_after = int(answer[1]), answer[2] if len(answer) > 2 else None
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            status, _, data = _json(code, _error_body(code, "scripted failure"))
            return status, headers, data
        if kind == "bad_json":
            return 200, {"content-type": "application/json"}, b'{"type": "message", "content": ['
        tool = (body.get("tool_choice") or {}).get("name", "decide")
        if kind == "decision":
            content = [{"type": "tool_use", "id": "toolu_01", "name": tool, "input": answer[1]}]
        elif kind == "wrong_tool":
            content = [{"type": "tool_use", "id": "toolu_01", "name": "run_shell",
                        "input": answer[1]}]
        elif kind == "content":
            content = [{"type": "text", "text": json.dumps(answer[1])}]
        else:  # "text"
            content = [{"type": "text", "text": str(answer[1])}]
        prompt = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
        out = json.dumps(content)
        return _json(200, {
            "id": "msg_standin", "type": "message", "role": "assistant",
            "model": body.get("model", "?"), "content": content,
            "stop_reason": "tool_use" if content[0]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": estimate_tokens(prompt),
                      "output_tokens": estimate_tokens(out)}})


class OpenAIServer(_Server):
    name = "openai-standin"

    def respond(self, request: Request, answer: tuple[Any, ...]) -> tuple[int, dict[str, str],
                                                                          bytes]:
        if request.path.split("?")[0] != "/v1/chat/completions":
            return _json(404, {"error": {"message": f"no route {request.path}"}})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _json(401, {"error": {"message": "invalid api key", "type": "auth"}})
        body = request.body if isinstance(request.body, dict) else {}
        kind = answer[0]
        if kind == "status":
            code, retry_after = int(answer[1]), answer[2] if len(answer) > 2 else None
            headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
            status, _, data = _json(code, {"error": {"message": "scripted failure"}})
            return status, headers, data
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if kind in ("decision", "wrong_tool", "bad_json"):
            name = "run_shell" if kind == "wrong_tool" else "decide"
            args = "{not json" if kind == "bad_json" else json.dumps(answer[1])
            message["tool_calls"] = [{"id": "call_1", "type": "function",
                                      "function": {"name": name, "arguments": args}}]
        elif kind == "content":
            message["content"] = json.dumps(answer[1])
        else:
            message["content"] = str(answer[1])
        prompt = json.dumps([body.get("messages"), body.get("tools")])
        return _json(200, {
            "id": "chatcmpl-standin", "object": "chat.completion", "created": 0,
            "model": body.get("model", "?"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
            "usage": {"prompt_tokens": estimate_tokens(prompt),
                      "completion_tokens": estimate_tokens(json.dumps(message)),
                      "total_tokens": 0}})


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(code, "api_error"),
                                       "message": message}}


def _json(status: int, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(data).encode()


def _handler_for(server: _Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                              raw, body)
            answer = server.next_answer(request)
            if answer[0] == "hang":
                server._stopping.wait(float(answer[1]))
                self.close_connection = True
                return
            status, headers, data = server.respond(request, answer)
            try:
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True

    return Handler
