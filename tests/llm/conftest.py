"""Fixtures for the LLM advisor tests: stand-in APIs spoken to by the real SDKs.

No test here reaches a real model: every provider points at a server on 127.0.0.1
or a fake ``claude`` on PATH, and the variables that would steer an SDK elsewhere
are removed from the environment first.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from llm_helpers import ANTHROPIC_KEY, OPENAI_KEY
from standins.llm_servers import AnthropicServer, OpenAIServer


@pytest.fixture(autouse=True)
def no_real_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN",
                 "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer(ANTHROPIC_KEY) as server:
        yield server


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    with OpenAIServer(OPENAI_KEY) as server:
        yield server


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children a test starts: killed by their own handle and reaped at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private tmux socket name (``-L``); its server is killed at teardown."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    monkeypatch.delenv("TMUX", raising=False)
    sock = f"argus-llm-{secrets.token_hex(4)}"
    yield sock
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=10,
                   check=False)
