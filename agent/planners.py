"""Planners decide the next action from the task and the current frame.

`GLMPlanner` asks GLM-4.5V through an OpenAI-compatible endpoint; `ReplayPlanner` serves the raw
replies recorded in an episode, so a run is reproduced without a model.
"""

import json
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


@dataclass
class Decision:
    reply: Reply
    action: Action
    explanation: str
    memory: str | None
    snap: dict | None = None  # where a grounding check moved the model's point, if it did


class Planner(Protocol):
    name: str

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        """The next action; raises FormatError (with .reply set) when the reply is unusable."""
        ...


def interpret(reply: Reply) -> Decision:
    try:
        parsed = parse_reply(reply.raw, reply.reasoning)
    except FormatError as error:
        if reply.finish_reason == "length":
            error = FormatError(f"{error} (the reply was cut off at the token limit)")
        error.reply = reply
        raise error
    reply.reasoning = parsed.reasoning
    return Decision(reply, parsed.action, parsed.explanation, parsed.memory)


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
    max_retries: int = 2
    """Retries of the openai client on connection errors, 429 and 5xx."""


class GLMPlanner:
    name = "glm"

    def __init__(self, config: GLMConfig):
        from openai import OpenAI

        self.config = config
        self.client = OpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                             timeout=config.timeout, max_retries=config.max_retries)
        self.turns: list[Turn] = []
        self.memory = "[]"

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
        content = build_content(task, self.turns, self.memory, current, feedback)
        body = self.request_body(content)
        encoded = time.perf_counter()
        response = self._complete(body)
        answered = time.perf_counter()
        message = response.choices[0].message
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None) or ""
        usage = response.usage.model_dump(exclude_none=True) if response.usage else {}
        reply = Reply(message.content or "", reasoning, usage, self._describe(frame, body),
                      {"encode": encoded - started, "model": answered - encoded},
                      response.choices[0].finish_reason)
        decision = interpret(reply)
        self.turns.append(Turn(decision.explanation, decision.action.call(), half))
        for old in self.turns[:-HISTORY_IMAGES]:
            old.image_png = None
        if decision.memory is not None:
            self.memory = decision.memory
        return decision

    def _describe(self, frame: Frame, body: dict) -> dict:
        history = [t for t in self.turns if t.image_png is not None]
        half_tokens = image_tokens(round(frame.width / 2), round(frame.height / 2))
        return {
            "images": 1 + len(history),
            "image_tokens": image_tokens(frame.width, frame.height) + half_tokens * len(history),
            "bytes": len(json.dumps(body["messages"])),
        }

    def _complete(self, body: dict):
        import openai

        where = self.config.base_url
        try:
            response = self.client.chat.completions.create(**body)
        except openai.AuthenticationError:
            raise EndpointError(f"{where} refused the API key (401); check --api-key or $GUI_AGENT_API_KEY") from None
        except openai.NotFoundError:
            raise EndpointError(f"{where} has no model {self.config.model!r} (404); check --model and --base-url") from None
        except openai.APIStatusError as error:
            raise EndpointError(f"{where} answered HTTP {error.status_code}: {_first_line(error.message)}") from None
        except openai.APITimeoutError:
            raise EndpointError(f"{where} did not answer within {self.config.timeout:.0f} s; is the server up?") from None
        except openai.APIConnectionError as error:
            raise EndpointError(f"cannot reach {where}: {_first_line(str(error.__cause__ or error))}; check --base-url") from None
        except (openai.APIError, ValueError) as error:  # ValueError: a body that is not JSON
            raise EndpointError(f"{where} sent a reply that is not a chat completion: {_first_line(str(error))}") from None
        if not getattr(response, "choices", None):
            raise EndpointError(f"{where} sent a reply with no choices; check that it serves chat completions")
        return response


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


class ReplayPlanner:
    """Serves the raw replies of a recorded episode in order, through the same parser."""

    name = "replay"

    def __init__(self, episode: Episode):
        self.replies = [Reply(s["raw"], s.get("reasoning") or "") for s in episode.steps if "raw" in s]
        self.served = 0

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        if self.served >= len(self.replies):
            raise AgentError(f"the episode has no more recorded replies ({self.served} served) and never said DONE()")
        reply = self.replies[self.served]
        self.served += 1
        return interpret(Reply(reply.raw, reply.reasoning))
