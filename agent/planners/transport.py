"""What every model dialect shares: the endpoint's settings, the transport (an OpenAI-compatible
chat-completions client, retries with backoff, a deadline for the whole reply, the endpoint's failures
as EndpointError) and Dialect, the base of a dialect's planner, which writes the requests and reads
the replies (the dialects by name: agent.planners.dialects).
"""

import json
import random
import threading
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

from agent.core.episode import Episode
from agent.core.errors import AgentError, EndpointError, FormatError
from agent.core.planner import Decision, Reply
from agent.core.screen import Frame


class EndpointConfig(BaseModel):
    model: str = "glm-4.5v"
    """Model name the endpoint serves."""
    base_url: str = "https://api.z.ai/api/paas/v4"
    """OpenAI-compatible base URL: Z.ai, or a vLLM/SGLang server's http://HOST:PORT/v1."""
    api_key: str | None = Field(default=None, exclude=True, repr=False)
    """Bearer key; never written anywhere."""
    thinking: bool = True
    """Thinking mode, sent in both the Z.ai and the vLLM/SGLang dialect."""
    temperature: float = 0.0
    """Sampling temperature; the official agent uses about 0."""
    max_tokens: int = 8192
    """Output token limit per reply."""
    timeout: float = 180.0
    """Seconds to wait for one reply."""
    max_retries: int = 4
    """Retries of one request on timeouts, resets, 429, 5xx, malformed or cut-off replies."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled each time, with jitter, at most `backoff_cap`."""
    backoff_cap: float = 30.0
    """Longest wait between two attempts (a server's Retry-After is honoured up to this)."""


class TransientError(Exception):
    """A failed attempt worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Transport:
    """Sends a dialect's chat requests to the endpoint `config` names."""

    def __init__(self, config: EndpointConfig):
        self.config = config
        self.client = self._new_client()

    def _new_client(self):
        from openai import OpenAI

        return OpenAI(base_url=self.config.base_url, api_key=self.config.api_key or "EMPTY",
                      timeout=self.config.timeout, max_retries=0)  # retries are ours, and logged

    def body(self, messages: list[dict]) -> dict:
        """A chat request of `messages` with the endpoint's settings: the thinking switch in both the Z.ai and
        the vLLM/SGLang form, and special tokens kept (GLM's box tokens)."""
        thinking = self.config.thinking
        return {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "extra_body": {
                "skip_special_tokens": False,
                "thinking": {"type": "enabled" if thinking else "disabled"},
                "chat_template_kwargs": {"enable_thinking": thinking},
            },
        }

    def ask(self, body: dict, read: Callable, send: Callable | None = None):
        """`read(response, attempts)` of the first usable response to `send(body)` (default: `complete`).
        Transient failures and replies cut off at the token limit (FormatError with such a reply) are
        retried with backoff; every failed attempt is logged in `attempts`."""
        send = send or self.complete
        attempts: list[dict] = []
        while True:
            try:
                return read(send(body), attempts)
            except FormatError as error:
                cut_off = error.reply is not None and error.reply.finish_reason == "length"
                if not cut_off or len(attempts) >= self.config.max_retries:
                    raise
                self._wait_before_retry(attempts, TransientError(f"{error}"))
            except TransientError as error:
                if len(attempts) >= self.config.max_retries:
                    attempts.append({"error": str(error)})
                    raise EndpointError(f"{error} (gave up after {len(attempts)} attempts)", attempts) from None
                self._wait_before_retry(attempts, error)

    def _wait_before_retry(self, attempts: list[dict], error: TransientError) -> None:
        wait = min(self.config.backoff_cap, self.config.backoff * 2 ** len(attempts)) * random.uniform(0.5, 1.0)
        if error.retry_after is not None:
            wait = min(self.config.backoff_cap, max(wait, error.retry_after))
        attempts.append({"error": str(error), "wait": round(wait, 3)})
        time.sleep(wait)

    def complete(self, body: dict):
        """One attempt: a response with choices, or TransientError (worth retrying) or EndpointError."""
        import openai

        where = self.config.base_url
        try:
            response = self._create(body)
        except openai.AuthenticationError:
            raise EndpointError(f"{where} refused the API key (401); check --api-key or $GUI_AGENT_API_KEY") from None
        except openai.NotFoundError:
            raise EndpointError(f"{where} has no model {self.config.model!r} (404); "
                                "check --model and --base-url") from None
        except openai.APIStatusError as error:
            message = f"{where} answered HTTP {error.status_code}: {_first_line(error.message)}"
            if error.status_code == 429 or error.status_code >= 500:
                raise TransientError(message, _retry_after(error.response)) from None
            raise EndpointError(message) from None
        except openai.APITimeoutError:
            raise TransientError(f"{where} did not answer within {self.config.timeout:g} s") from None
        except openai.APIConnectionError as error:
            raise TransientError(f"cannot reach {where}: {_first_line(str(error.__cause__ or error))}") from None
        except (openai.APIError, ValueError, RecursionError) as error:  # a body that is not JSON, or nested too deep
            raise TransientError(f"{where} sent a reply that is not a chat completion: "
                                 f"{_first_line(str(error))}") from None
        if not getattr(response, "choices", None):
            raise TransientError(f"{where} sent a reply with no choices")
        return response

    def _create(self, body: dict):
        """The request with `timeout` as a deadline for the whole reply: the client's timeouts are per
        read, so an endpoint that sends a byte a second would hold the run for ever."""
        outcome: dict = {}

        def request():
            try:
                outcome["response"] = self.client.chat.completions.create(**body)
            except BaseException as error:
                outcome["error"] = error

        worker = threading.Thread(target=request, name="model-request", daemon=True)
        worker.start()
        worker.join(self.config.timeout)
        if worker.is_alive():
            self.client.close()  # drops the connection, so the worker ends too
            self.client = self._new_client()
            raise TransientError(f"{self.config.base_url} did not finish its reply within {self.config.timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]


class Dialect:
    """A planner that asks a model through a Transport, registered by name in agent.planners.dialects.
    Subclasses write the requests and read the replies; their `config_type` may add options of their own
    to the endpoint's (RunOptions fields of the same name fill them)."""

    name = ""
    """The planner name episodes' headers record (default: the name it is registered under)."""
    protocol = ""
    """The name it is registered under: RunOptions.protocol, --protocol."""
    config_type: type[EndpointConfig] = EndpointConfig

    def __init__(self, config: EndpointConfig, skills: list[dict] | None = None, secrets: list[str] | None = None):
        """`skills` (as Skill.describe() gives them) are offered to the model as the `skill` action;
        `secrets` are the names of the secrets given, which `type` is said to type (never their values)."""
        self.config, self.skills, self.secrets = config, skills, secrets
        self.transport = Transport(config)

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        raise NotImplementedError

    def restore(self, episode: Episode) -> None:
        """The planner's state as it was after the episode's last step, to resume it."""
        raise AgentError(f"the {self.protocol} dialect cannot resume a run")

    @staticmethod
    def read(reply: Reply) -> Decision:
        """A recorded reply read as in the run, for replays; FormatError when it does not read."""
        raise NotImplementedError


def reply_parts(response, thinking: bool) -> tuple[str, str, dict]:
    """The answer, the hidden reasoning wherever the server put it (reasoning_content: Z.ai, SGLang,
    older vLLM; reasoning: newer vLLM; inline <think> is split later) and the token usage reported.
    With thinking off, an answer that came back only as reasoning (newer vLLM GLM reasoning parsers
    put it there) is the answer."""
    message = response.choices[0].message
    content = message.content or ""
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None) or ""
    if not thinking and not content.strip() and not getattr(message, "tool_calls", None):
        content, reasoning = reasoning, ""
    return content, reasoning, response.usage.model_dump(exclude_none=True) if response.usage else {}


def json_size(messages: list[dict]) -> int:
    """len(json.dumps(messages)) without serialising the screenshots again: an image part's data URL
    (base64) needs no escaping, so its length is added to the size of the rest."""
    urls: list[str] = []

    def without_urls(value):
        if isinstance(value, dict):
            if value.get("type") == "image_url" and isinstance(value.get("image_url"), dict):
                urls.append(value["image_url"].get("url", ""))
                return {**value, "image_url": {**value["image_url"], "url": ""}}
            return {key: without_urls(item) for key, item in value.items()}
        return [without_urls(item) for item in value] if isinstance(value, list) else value

    return len(json.dumps(without_urls(messages))) + sum(len(url) for url in urls)


def _retry_after(response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after")))
    except (TypeError, ValueError, AttributeError):
        return None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]
