"""Planners decide the next action from the task and the current frame.

`GLMPlanner` asks GLM-4.5V through an OpenAI-compatible endpoint (agent.replay serves recorded
replies instead, agent.tools speaks the tool-calling dialect, agent.local is the embedded planner).
"""

import json
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from .actions import Action
from .episode import Episode
from .errors import AgentError, EndpointError, FormatError
from .geometry import image_tokens
from .prompt import HISTORY_IMAGES, Turn, build_content
from .reply import parse_reply
from .screen import Frame


@dataclass
class Reply:
    """What came back for one step, kept in the episode even when it could not be parsed."""

    raw: str
    reasoning: str = ""
    usage: dict = field(default_factory=dict)
    request: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    finish_reason: str | None = None
    attempts: list[dict] = field(default_factory=list)  # failed attempts before this reply, with their waits


@dataclass
class Decision:
    reply: Reply
    action: Action
    explanation: str
    memory: str | None
    snap: dict | None = None  # where a grounding check moved the model's point, if it did
    then: list[Action] = field(default_factory=list)
    """Further actions of the same reply (several calls in one reply), performed in order after `action`."""
    outcomes: list[str] = field(default_factory=list)
    """Filled in by the loop: "ok" or the error, one per action it performed; ToolsPlanner reports them back."""
    call_text: str = ""
    """The call(s) as the model wrote them, one per line; the history shows this, as the official agent does."""

    @property
    def actions(self) -> list[Action]:
        return [self.action, *self.then]


class Planner(Protocol):
    name: str

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        """The next action; raises FormatError (with .reply set) when the reply is unusable."""
        ...


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


def interpret(reply: Reply) -> Decision:
    try:
        parsed = parse_reply(reply.raw, reply.reasoning)
    except FormatError as error:
        if reply.finish_reason == "length":
            error = FormatError(f"{error} (the reply was cut off at the token limit)")
        error.reply = reply
        raise error
    reply.reasoning = parsed.reasoning
    return Decision(reply, parsed.actions[0], parsed.explanation, parsed.memory, then=list(parsed.actions[1:]),
                    call_text=parsed.call_text)


def history_entry(step: dict) -> tuple[str, str]:
    """(thought, call text as the model wrote it) of a recorded step, read again from its raw reply;
    from what was recorded when the raw reply no longer reads (an episode from an older parser)."""
    try:
        parsed = parse_reply(step.get("raw"), step.get("reasoning"))
    except FormatError:
        calls = [step["call"], *(then["call"] for then in step.get("then", []))]
        return step.get("explanation", ""), "\n".join(calls)
    return parsed.explanation, parsed.call_text


class GLMConfig(BaseModel):
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


def feedback_for(outcome: str, error: str | None) -> str | None:
    """What the model is told at its next step about a step that went wrong (the loop says it;
    a resumed tools conversation says it again)."""
    if outcome == "format_error":
        return f"Your previous reply could not be used: {error}. Answer again in the output format."
    if outcome == "action_error":
        return f"The last action failed: {error}"
    return error if outcome in ("refused", "not_repeated") else None


class GLMPlanner:
    name = "glm"

    def __init__(self, config: GLMConfig, skills: list[dict] | None = None):
        """`skills` (as Skill.describe() gives them) are offered to the model as the `skill` action."""
        from openai import OpenAI

        self.config, self.skills = config, skills
        self.client = OpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                             timeout=config.timeout, max_retries=0)  # retries are ours, and logged
        self.turns: list[Turn] = []
        self.memory = "[]"

    def restore(self, episode: Episode) -> None:
        """History and memory as they were after the episode's last step, to resume it."""
        self.turns, self.memory = [], "[]"
        for step in episode.steps:
            if "call" not in step:  # unusable replies are not history
                continue
            self.turns.append(Turn(*history_entry(step), None))
            if step.get("memory") is not None:
                self.memory = step["memory"]
        recent = [s for s in episode.steps if "call" in s][-HISTORY_IMAGES:]
        for turn, step in zip(self.turns[-len(recent):] if recent else [], recent):
            try:
                turn.image_png = Frame.from_png((episode.path / step["screenshot"]).read_bytes()).png(0.5)
            except (OSError, AgentError):
                turn.image_png = None  # a missing screenshot: the step stays as text

    def request_body(self, content: list[dict]) -> dict:
        thinking = self.config.thinking
        return {
            "model": self.config.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "extra_body": {
                "skip_special_tokens": False,
                "thinking": {"type": "enabled" if thinking else "disabled"},
                "chat_template_kwargs": {"enable_thinking": thinking},
            },
        }

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        started = time.perf_counter()
        current, half = frame.png(), frame.png(0.5)
        content = build_content(task, self.turns, self.memory, current, feedback, self.skills)
        body = self.request_body(content)
        encoded = time.perf_counter()

        def read(response, attempts: list[dict]) -> Decision:
            content, reasoning, usage = reply_parts(response, self.config.thinking)
            return interpret(Reply(content, reasoning, usage, self._describe(frame, body),
                                   {"encode": encoded - started, "model": time.perf_counter() - encoded},
                                   response.choices[0].finish_reason, attempts))

        decision = self._ask(body, read)
        self.turns.append(Turn(decision.explanation, decision.call_text or decision.action.call(), half))
        for old in self.turns[:-HISTORY_IMAGES]:
            old.image_png = None
        if decision.memory is not None:
            self.memory = decision.memory
        return decision

    def _ask(self, body: dict, read):
        """`read(response, attempts)` of the first usable response. Transient failures and replies cut
        off at the token limit are retried with backoff; every failed attempt is logged in `attempts`."""
        attempts: list[dict] = []
        while True:
            try:
                return read(self._complete(body), attempts)
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

    def _wait_before_retry(self, attempts: list[dict], error: "TransientError") -> None:
        wait = min(self.config.backoff_cap, self.config.backoff * 2 ** len(attempts)) * random.uniform(0.5, 1.0)
        if error.retry_after is not None:
            wait = min(self.config.backoff_cap, max(wait, error.retry_after))
        attempts.append({"error": str(error), "wait": round(wait, 3)})
        time.sleep(wait)

    def _describe(self, frame: Frame, body: dict) -> dict:
        history = [t for t in self.turns if t.image_png is not None]
        half_tokens = image_tokens(round(frame.width / 2), round(frame.height / 2))
        return {
            "images": 1 + len(history),
            "image_tokens": image_tokens(frame.width, frame.height) + half_tokens * len(history),
            "bytes": len(json.dumps(body["messages"])),
        }

    def _complete(self, body: dict):
        """One attempt: a response with choices, or TransientError (worth retrying) or EndpointError."""
        import openai

        where = self.config.base_url
        try:
            response = self.client.chat.completions.create(**body)
        except openai.AuthenticationError:
            raise EndpointError(f"{where} refused the API key (401); check --api-key or $GUI_AGENT_API_KEY") from None
        except openai.NotFoundError:
            raise EndpointError(f"{where} has no model {self.config.model!r} (404); check --model and --base-url") from None
        except openai.APIStatusError as error:
            message = f"{where} answered HTTP {error.status_code}: {_first_line(error.message)}"
            if error.status_code == 429 or error.status_code >= 500:
                raise TransientError(message, _retry_after(error.response)) from None
            raise EndpointError(message) from None
        except openai.APITimeoutError:
            raise TransientError(f"{where} did not answer within {self.config.timeout:.0f} s") from None
        except openai.APIConnectionError as error:
            raise TransientError(f"cannot reach {where}: {_first_line(str(error.__cause__ or error))}") from None
        except (openai.APIError, ValueError) as error:  # ValueError: a body that is not JSON
            raise TransientError(f"{where} sent a reply that is not a chat completion: {_first_line(str(error))}") from None
        if not getattr(response, "choices", None):
            raise TransientError(f"{where} sent a reply with no choices")
        return response


class TransientError(Exception):
    """A failed attempt worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after")))
    except (TypeError, ValueError, AttributeError):
        return None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]
