"""The LLM providers: one question in, one structured answer (or a named failure) out.

- ``anthropic``: the official SDK, forced to answer through one tool (``tool_choice``)
  whose ``input_schema`` is the decision schema, so the answer is JSON by
  construction (CONTRACTS.md, "Anthropic Messages API").
- ``openai``: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server) through
  the ``openai`` SDK, with the same schema as a forced function; servers that ignore
  tools and answer JSON in the content are understood too.
- ``claude-cli``: ``claude -p --model haiku --output-format json`` with the prompt on
  stdin, for hosts logged in to Claude Code without an API key.

The SDKs are imported inside the call: ``import anthropic`` costs hundreds of ms,
which a cycle that does not ask the model must never pay.

Failures raise :class:`ProviderError`. 429, 529 and 5xx are retried here, at most
``ATTEMPTS`` times in all, honouring ``retry-after`` when it fits in what is left of
``llm.timeout``: the whole exchange, retries included, never takes longer than that.
The SDKs' own retries are off (``max_retries=0``), since they would wait without
regard to that deadline.
"""

from __future__ import annotations

import json
import time

from argus.config import Llm
from argus.runner import Runner
from argus.typing_lite import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

TOOL_NAME = "decide"
TOOL_DESCRIPTION = "Record your judgement of this cycle and the actions you propose."
MAX_OUTPUT_TOKENS = 1024  # a decision is a few hundred tokens; this bounds a runaway answer
ATTEMPTS = 3
RETRYABLE = (429, 500, 502, 503, 504, 529)  # 529: Anthropic's "overloaded"
BACKOFF_S = (1.0, 2.0)  # waits between attempts when the server names none
CLI_MODEL_ALIASES = {"claude-haiku-4-5": "haiku"}  # the CLI's own short names


class Answer(NamedTuple):
    payload: Any  # the decision as parsed JSON: validated by decide/schema.py, not here
    tokens_in: int
    tokens_out: int
    attempts: int


class ProviderError(Exception):
    """Why there is no answer: ``kind`` is timeout, network, http, auth, invalid or setup."""

    def __init__(self, kind: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, tokens: tuple[int, int] = (0, 0)) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.tokens = tokens  # what a call that answered nonsense still cost

    @property
    def retryable(self) -> bool:
        return self.kind == "http" and self.status in RETRYABLE

    def __str__(self) -> str:
        code = f" {self.status}" if self.status else ""
        return f"{self.kind}{code}: {self.args[0]}"[:300]


def ask(cfg: Llm, system: str, user: str, schema: dict[str, Any], *, runner: Runner,
        env: Mapping[str, str], sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic) -> Answer:
    """Ask ``cfg.provider`` once (plus bounded retries) within ``cfg.timeout`` seconds."""
    one = {"anthropic": _anthropic, "openai": _openai, "claude-cli": _claude_cli}.get(
        cfg.provider)
    if one is None:
        raise ProviderError("setup", f"no such provider {cfg.provider!r}")
    deadline = clock() + cfg.timeout
    attempt = 0
    while True:
        attempt += 1
        left = deadline - clock()
        if left <= 0:
            raise ProviderError("timeout", f"no answer within llm.timeout ({cfg.timeout:g}s)")
        try:
            payload, tokens_in, tokens_out = one(cfg, system, user, schema, left, runner, env)
            return Answer(payload, tokens_in, tokens_out, attempt)
        except ProviderError as err:
            if not err.retryable or attempt >= ATTEMPTS:
                raise
            wait = err.retry_after if err.retry_after is not None else BACKOFF_S[attempt - 1]
            if wait >= deadline - clock():
                raise  # the server asks for more time than llm.timeout leaves
            sleep(max(wait, 0.0))


# -- anthropic -------------------------------------------------------------------------


def _anthropic(cfg: Llm, system: str, user: str, schema: dict[str, Any], timeout: float,
               runner: Runner, env: Mapping[str, str]) -> tuple[Any, int, int]:
    try:
        import anthropic
    except ImportError:
        raise ProviderError("setup", "the anthropic SDK is not installed "
                            "(pip install 'argus-watchdog[llm]')") from None
    try:
        # api_key None / base_url None: the SDK reads ANTHROPIC_API_KEY and
        # ANTHROPIC_BASE_URL itself, the documented way to point it elsewhere.
        client = anthropic.Anthropic(api_key=cfg.api_key or None,
                                     base_url=cfg.base_url or None,
                                     timeout=timeout, max_retries=0)
        message = client.messages.create(
            model=cfg.model, max_tokens=MAX_OUTPUT_TOKENS, system=system,
            messages=[{"role": "user", "content": user}],
            tools=[{"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                    "input_schema": schema}],
            tool_choice={"type": "tool", "name": TOOL_NAME})
    except anthropic.APITimeoutError:
        raise ProviderError("timeout", f"no answer within {timeout:.1f}s") from None
    except anthropic.APIConnectionError as err:
        raise ProviderError("network", _cause(err)) from None
    except anthropic.APIStatusError as err:
        raise _status_error(err.status_code, err.response.headers, err.message) from None
    except anthropic.APIResponseValidationError as err:
        raise ProviderError("invalid", f"response not understood: {err.message}") from None
    except anthropic.AnthropicError as err:
        raise ProviderError("setup", str(err)) from None
    except TypeError as err:  # the 2.x SDK's "Could not resolve authentication method"
        raise ProviderError("setup", f"no credentials (ANTHROPIC_API_KEY): {err}") from None
    except ValueError as err:  # a body that is not JSON
        raise ProviderError("invalid", f"response is not JSON: {err}") from None
    usage = getattr(message, "usage", None)
    tokens = (int(getattr(usage, "input_tokens", 0) or 0),
              int(getattr(usage, "output_tokens", 0) or 0))
    blocks = list(getattr(message, "content", None) or [])
    for block in blocks:
        if getattr(block, "type", None) == "tool_use":
            if getattr(block, "name", None) != TOOL_NAME:
                raise ProviderError("invalid", f"called an unknown tool "
                                    f"{str(getattr(block, 'name', ''))[:40]!r}", tokens=tokens)
            return getattr(block, "input", None), *tokens
    kinds = ", ".join(str(getattr(b, "type", "?")) for b in blocks) or "nothing"
    raise ProviderError("invalid", f"no {TOOL_NAME} tool call in the answer ({kinds})",
                        tokens=tokens)


# -- openai-compatible -----------------------------------------------------------------


def _openai(cfg: Llm, system: str, user: str, schema: dict[str, Any], timeout: float,
            runner: Runner, env: Mapping[str, str]) -> tuple[Any, int, int]:
    try:
        import openai
    except ImportError:
        raise ProviderError("setup", "the openai SDK is not installed "
                            "(pip install 'argus-watchdog[openai]')") from None
    try:
        # Never llm.api_key here: that is the Anthropic key, and this endpoint may be
        # anyone's. Local servers take no key, but the SDK insists on one.
        client = openai.OpenAI(api_key=env.get("OPENAI_API_KEY") or "not-needed",
                               base_url=cfg.base_url or None, timeout=timeout, max_retries=0)
        completion = client.chat.completions.create(
            model=cfg.model, max_tokens=MAX_OUTPUT_TOKENS,
            messages=[{"role": "system", "content": system},
                      {"role": "user", "content": user}],
            tools=[{"type": "function", "function": {
                "name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": schema}}],
            tool_choice={"type": "function", "function": {"name": TOOL_NAME}})
    except openai.APITimeoutError:
        raise ProviderError("timeout", f"no answer within {timeout:.1f}s") from None
    except openai.APIConnectionError as err:
        raise ProviderError("network", _cause(err)) from None
    except openai.APIStatusError as err:
        raise _status_error(err.status_code, err.response.headers, err.message) from None
    except openai.OpenAIError as err:
        raise ProviderError("setup", str(err)) from None
    except ValueError as err:
        raise ProviderError("invalid", f"response is not JSON: {err}") from None
    usage = getattr(completion, "usage", None)
    tokens = (int(getattr(usage, "prompt_tokens", 0) or 0),
              int(getattr(usage, "completion_tokens", 0) or 0))
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ProviderError("invalid", "the answer has no choices", tokens=tokens)
    message = choices[0].message
    calls = getattr(message, "tool_calls", None) or []
    if calls:
        function = getattr(calls[0], "function", None)
        name = getattr(function, "name", None)
        if name != TOOL_NAME:
            raise ProviderError("invalid", f"called an unknown tool {str(name)[:40]!r}",
                                tokens=tokens)
        return _json_text(str(getattr(function, "arguments", "")), tokens), *tokens
    if message.content:  # servers without tool support, asked for JSON in the prompt
        return _json_text(message.content, tokens), *tokens
    raise ProviderError("invalid", "the answer holds neither a tool call nor text",
                        tokens=tokens)


# -- claude-cli ------------------------------------------------------------------------


def _claude_cli(cfg: Llm, system: str, user: str, schema: dict[str, Any], timeout: float,
                runner: Runner, env: Mapping[str, str]) -> tuple[Any, int, int]:
    model = CLI_MODEL_ALIASES.get(cfg.model, cfg.model)
    # The CLI has no forced tool: the schema goes into the prompt, the answer is text.
    prompt = (f"{system}\n\nAnswer with one JSON object and nothing else, matching this "
              f"JSON schema:\n{json.dumps(schema, separators=(',', ':'))}\n\n{user}")
    result = runner(["claude", "-p", "--model", model, "--output-format", "json"],
                    timeout, input_text=prompt)
    if result.missing:
        raise ProviderError("setup", "the claude CLI is not installed")
    if result.timed_out:
        raise ProviderError("timeout", f"claude gave no answer within {timeout:.1f}s")
    try:
        envelope = json.loads(result.stdout)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        raise ProviderError("auth" if "login" in result.stderr.lower() else "invalid",
                            result.describe())
    usage = envelope.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    tokens = (_int(usage.get("input_tokens")), _int(usage.get("output_tokens")))
    if envelope.get("is_error") or not result.ok:
        raise ProviderError("http", str(envelope.get("result") or result.describe())[:200],
                            tokens=tokens)
    return _json_text(str(envelope.get("result", "")), tokens), *tokens


# -- helpers ---------------------------------------------------------------------------


def _status_error(status: int, headers: Mapping[str, str], message: str) -> ProviderError:
    kind = "auth" if status in (401, 403) else "http"
    return ProviderError(kind, str(message)[:200], status=status,
                         retry_after=_retry_after(headers.get("retry-after")))


def _retry_after(value: str | None) -> float | None:
    """RFC 9110 10.2.3: seconds (the HTTP-date form is not used by these APIs)."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _json_text(text: str, tokens: tuple[int, int]) -> Any:
    """The JSON object in a text answer, also when wrapped in a Markdown code fence."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ProviderError("invalid", "the answer holds no JSON object", tokens=tokens)
    try:
        return json.loads(text[start:end + 1])
    except ValueError as err:
        raise ProviderError("invalid", f"the answer is not valid JSON: {err}",
                            tokens=tokens) from None


def _cause(err: BaseException) -> str:
    cause = err.__cause__ or err.__context__
    return f"{err}: {cause}" if cause else str(err)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
