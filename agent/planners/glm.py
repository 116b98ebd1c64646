"""`GLMPlanner` asks GLM-4.5V through an OpenAI-compatible endpoint (agent.planners.replay serves recorded
replies instead, agent.planners.glm_tools speaks the tool-calling dialect, agent.planners.embedded is the embedded planner).
"""

import json
import random
import threading
import time

from pydantic import BaseModel, Field

from agent.core.episode import Episode
from agent.core.errors import AgentError, EndpointError, FormatError
from agent.core.geometry import image_tokens
from agent.core.planner import Decision, Reply, bounded, within_bounds
from agent.core.screen import Frame
from agent.planners.prompt import HISTORY_IMAGES, Turn, build_content
from agent.planners.reply import parse_reply


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
        parsed = parse_reply(bounded(reply).raw, reply.reasoning)
    except FormatError as error:
        if reply.finish_reason == "length":
            error = FormatError(f"{error} (the reply was cut off at the token limit)")
        error.reply = reply
        raise error
    reply.reasoning = parsed.reasoning
    return within_bounds(Decision(reply, parsed.actions[0], parsed.explanation, parsed.memory,
                                  then=list(parsed.actions[1:]), call_text=parsed.call_text))


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


class GLMPlanner:
    name = "glm"

    def __init__(self, config: GLMConfig, skills: list[dict] | None = None, secrets: list[str] | None = None):
        """`skills` (as Skill.describe() gives them) are offered to the model as the `skill` action;
        `secrets` are the names of the secrets given, which `type` is said to type (never their values)."""
        self.config, self.skills, self.secrets = config, skills, secrets
        self.client = self._new_client()
        self.turns: list[Turn] = []
        self.memory = "[]"

    def restore(self, episode: Episode) -> None:
        """History and memory as they were after the episode's last step, to resume it."""
        self.turns, self.memory = [], "[]"
        for step in episode.steps:
            if "call" not in step:  # unusable replies are not history
                continue
            thought, call = history_entry(step)
            done = [step, *step.get("then", [])]
            if cut := next((entry for entry in done if "cut" in entry), None):  # the run ended inside this step
                call = "\n".join(entry["call"] for entry in done if entry.get("cut") != "before")
                thought = f"{thought} {self.cut_note(cut)}"
            self.turns.append(Turn(thought, call, None))
            if step.get("memory") is not None:
                self.memory = step["memory"]
        recent = [s for s in episode.steps if "call" in s][-HISTORY_IMAGES:]
        for turn, step in zip(self.turns[-len(recent):] if recent else [], recent):
            try:
                turn.image_png = Frame.from_png(episode.screenshot(step)).png(0.5)
            except AgentError:
                turn.image_png = None  # a missing or refused screenshot: the step stays as text

    @staticmethod
    def cut_note(cut: dict) -> str:
        """What a resumed model is told about the action a run ended in (its step line's `cut` entry)."""
        state = {"before": "not done", "during": "under way, so it may be done in part or not at all",
                 "after": "done"}[cut["cut"]]
        typed = f"; at least {cut['typed']} of its characters were typed" if cut.get("typed") is not None else ""
        return f"[The run was cut short here ({cut['error']}): {cut['call']} was {state}{typed}. Check the screen.]"

    def _new_client(self):
        from openai import OpenAI

        return OpenAI(base_url=self.config.base_url, api_key=self.config.api_key or "EMPTY",
                      timeout=self.config.timeout, max_retries=0)  # retries are ours, and logged

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
        content = build_content(task, self.turns, self.memory, current, feedback, self.skills,
                                secrets=self.secrets)
        history = sum(t.image_png is not None for t in self.turns)
        decision = self.answer(content, frame, [(round(frame.width / 2), round(frame.height / 2))] * history, started)
        self.turns.append(Turn(decision.explanation, decision.call_text or decision.action.call(), half))
        for old in self.turns[:-HISTORY_IMAGES]:
            old.image_png = None
        if decision.memory is not None:
            self.memory = decision.memory
        return decision

    def answer(self, content: list[dict], frame: Frame, other_images: list[tuple[int, int]],
               started: float | None = None) -> Decision:
        """The decision in the reply to one user message whose last image is `frame` (the sizes of
        the images before it are `other_images`), asked with a step's retries; the history is left
        as it is."""
        started = time.perf_counter() if started is None else started
        body = self.request_body(content)
        request = {"images": 1 + len(other_images),
                   "image_tokens": image_tokens(frame.width, frame.height) + sum(image_tokens(*size) for size in other_images),
                   "bytes": json_size(body["messages"])}
        encoded = time.perf_counter()

        def read(response, attempts: list[dict]) -> Decision:
            content, reasoning, usage = reply_parts(response, self.config.thinking)
            return interpret(Reply(content, reasoning, usage, request,
                                   {"encode": encoded - started, "model": time.perf_counter() - encoded},
                                   response.choices[0].finish_reason, attempts))

        return self._ask(body, read)

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

    def _complete(self, body: dict):
        """One attempt: a response with choices, or TransientError (worth retrying) or EndpointError."""
        import openai

        where = self.config.base_url
        try:
            response = self._create(body)
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
            raise TransientError(f"{where} did not answer within {self.config.timeout:g} s") from None
        except openai.APIConnectionError as error:
            raise TransientError(f"cannot reach {where}: {_first_line(str(error.__cause__ or error))}") from None
        except (openai.APIError, ValueError, RecursionError) as error:  # a body that is not JSON, or nested too deep
            raise TransientError(f"{where} sent a reply that is not a chat completion: {_first_line(str(error))}") from None
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
