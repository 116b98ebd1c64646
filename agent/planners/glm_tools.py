"""The tool-calling dialect (`--protocol tools`): the GLM calls as OpenAI tools.

Servers started with `--tool-call-parser glm45` (vLLM, SGLang) and hosted function calling answer
with structured `tool_calls`; a server with no tool parser leaves GLM's own tool-call text in the
content; a model may still answer in the text protocol. All three become the same actions as in
agent.planners.reply. The requests are one conversation in the OpenAI convention that keeps only the last
KEPT_SCREENSHOTS screenshots, so a request stays the same size however long the run.
"""

import json
import re
import time
from dataclasses import dataclass, field
from typing import Literal

from agent.core import actions as a
from agent.core import strict_json
from agent.core.defaults import Outcome, PlannerKind
from agent.core.episode import Episode
from agent.core.errors import EndpointError, EpisodeError, FormatError
from agent.core.geometry import image_tokens
from agent.core.planner import MAX_ACTIONS, Decision, Reply, bounded, feedback_for, within_bounds
from agent.core.screen import Frame
from agent.planners.dialects import register
from agent.planners.glm import cut_note, interpret
from agent.planners.prompt import image_part, tools_task_text
from agent.planners.reply import (
    BOX_CLOSE,
    BOX_OPEN,
    CALL_LIST,
    CALL_START,
    UNFINISHED_THINK,
    build_action,
    split_reasoning,
)
from agent.planners.transport import Dialect, EndpointConfig, json_size, reply_parts

KEPT_SCREENSHOTS = 4
OMITTED = "(screenshot omitted)"
NOT_PERFORMED = "not performed; call it again if it is still needed"

_PER_MILLE = {"type": "integer", "minimum": 0, "maximum": 999}
POINT = {"anyOf": [{"type": "array", "items": _PER_MILLE, "minItems": n, "maxItems": n} for n in (2, 4)],
         "description": "as [x, y] in thousandths (0-999) of the screenshot, or a box [x1, y1, x2, y2] for its centre"}

TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
ARGUMENT = re.compile(r"<arg_key>(.*?)</arg_key>(?:\s|\\n)*<arg_value>(.*?)</arg_value>", re.S)
LEAKED_ARGUMENT = re.compile(r"<arg_key>(.*?)</arg_key>(?:\s|\\n)*<arg_value>(.*?)(?:</arg_value>|(?=<arg_key>)|$)",
                             re.S)


def tool_definitions(skills: list[dict] | None = None, secrets: list[str] | None = None) -> list[dict]:
    """The GLM calls as OpenAI tools, made from actions.GLM_CALLS like the text prompt's action space;
    `secrets` (the names of those given) are said in `type`'s description."""
    def description(call: a.GLMCall) -> str:
        if call.name == "skill":
            return f"{call.description}\nSkills:\n{a.skills_text(skills or [])}"
        return call.describe(secrets)
    return [{"type": "function", "function": {"name": call.name, "description": description(call),
                                              "parameters": call.parameters(POINT)}}
            for call in a.offered_calls(skills)]


def parse_glm_tool_text(content: str) -> list[tuple[str, dict]]:
    """(name, arguments) of each `<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>`
    block, in order: GLM's tool calls as a server with no tool parser leaves them in the content.

    Whitespace between the tags and around names and keys is ignored. A value of a text parameter is
    kept exactly as written (GLM writes values unpadded, and `type` must type what the model wrote);
    other values are stripped and decoded as JSON, and one that is not JSON stays a string (read
    leniently later: "(500,300)"). Never eval.
    """
    blocks = TOOL_CALL.findall(content)
    if content.count("<tool_call>") != len(blocks):
        raise FormatError("a <tool_call> block is not closed with </tool_call>")
    calls = []
    for block in blocks:
        name = block.split("<arg_key>", 1)[0].replace("\\n", " ").strip()
        call = a.GLM_CALL.get(name.lower())
        text = {p.name for p in call.params if p.kind == "text"} if call else set()
        arguments = {}
        for key, value in ARGUMENT.findall(block):
            key = key.strip()
            arguments[key] = value if key in text else _json_or_text(value.strip())
        calls.append((name, arguments))
    return calls


def glm_tool_text(name: str, arguments) -> str:
    """One call in GLM's own tool-call text: what the model generated before the server parsed it."""
    try:
        arguments = tool_arguments(arguments)
    except FormatError:
        return f"<tool_call>{name}\n{arguments}\n</tool_call>"
    pairs = "".join(f"<arg_key>{key}</arg_key>\n<arg_value>{_text(value)}</arg_value>\n"
                    for key, value in arguments.items())
    return f"<tool_call>{name}\n{pairs}</tool_call>"


def tool_arguments(raw) -> dict:
    """A tool call's arguments as a dict, from JSON text (the standard), JSON text encoded twice, an
    object already parsed, or nothing (a call without arguments)."""
    value = raw
    for _ in range(3):
        if isinstance(value, dict):
            return value
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        if not isinstance(value, str):
            break
        try:
            value = strict_json.loads(value)
        except json.JSONDecodeError as error:
            raise FormatError(f"its arguments are not JSON ({error.msg}): {_clip(raw)}") from None
        except RecursionError:
            raise FormatError(f"its arguments are JSON nested too deep: {_clip(raw)}") from None
    raise FormatError(f"its arguments are not a JSON object: {_clip(raw)}")


def action_from_tool_call(call) -> a.Action:
    """The action of one OpenAI tool call (an object or a dict with function.name and function.arguments)."""
    function = _field(call, "function") or call
    name, arguments = _untangle(_field(function, "name"), tool_arguments(_field(function, "arguments")))
    if not isinstance(name, str) or name.strip().lower() not in a.GLM_CALL:
        raise FormatError(f"there is no tool {name!r}; call {CALL_LIST}")
    return build_action(name.strip(), arguments)


def _untangle(name, arguments: dict) -> tuple:
    """The name and arguments of a tool call whose GLM tags leaked into the name or a value (seen
    with GLM-4.6V: "left_click\\n<arg_key>start_box</arg_key>\\n<arg_value>[114, 167]"): the
    text before the first <arg_key> is the name or value, the pairs after it are more arguments."""
    leaked: dict = {}
    arguments = dict(arguments)
    if isinstance(name, str) and "<arg_key>" in name:
        name, tail = name.split("<arg_key>", 1)
        leaked |= _leaked_pairs("<arg_key>" + tail)
    for key, value in list(arguments.items()):
        if isinstance(value, str) and "<arg_key>" in value:
            head, tail = value.split("<arg_key>", 1)
            arguments[key] = head.replace("</arg_value>", "").strip()
            leaked |= _leaked_pairs("<arg_key>" + tail)
    return name, {**leaked, **arguments}


def _leaked_pairs(text: str) -> dict:
    return {key.strip(): _json_or_text(value.replace("</arg_value>", "").strip())
            for key, value in LEAKED_ARGUMENT.findall(text)}


class ToolCallError(FormatError):
    """A tool call that cannot be used, with the actions of the calls before it."""

    def __init__(self, message: str, actions: list[a.Action]):
        super().__init__(message)
        self.actions = actions


def actions_from_tool_calls(tool_calls) -> list[a.Action]:
    """The actions of a reply's tool calls, in order.

    Arguments are read leniently: JSON text, an object, double-encoded JSON, numbers as strings
    ("500"), points as arrays, boxes (their centre) or text ("[500, 300]", "(500,300)").

    Contract: the first call that cannot be used raises FormatError naming the call ("tool call 2
    (left_click): ...") and what is wrong with it; `error.actions` holds the actions of the calls
    before it. The caller performs those, then feeds the error back to the model (ToolsPlanner
    answers that call's `tool` message with it); the calls after the bad one are not performed.
    """
    actions: list[a.Action] = []
    for number, call in enumerate(tool_calls, 1):
        try:
            actions.append(action_from_tool_call(call))
        except FormatError as error:
            name = _field(_field(call, "function") or call, "name")
            raise ToolCallError(f"tool call {number} ({' '.join(str(name).split())[:60]}): {error}", actions) from None
    return actions


def interpret_tools(reply: Reply) -> Decision:
    """A recorded tools-dialect reply as a Decision, for replays: `reply.raw` holds its calls in GLM's
    tool-call text (ToolsPlanner writes them so), read as in the run: the calls before the first bad
    one; a reply without calls is read in the text protocol."""
    seen = split_reasoning(reply.raw, reply.reasoning)
    if seen.unfinished:
        raise _unusable(FormatError(UNFINISHED_THINK), reply)
    visible = seen.text
    try:
        calls = [{"function": {"name": name, "arguments": args}} for name, args in parse_glm_tool_text(visible)]
    except FormatError as error:
        raise _unusable(error, reply) from None
    if not calls:
        return interpret(reply)
    actions, problem = _usable_calls(calls)
    if problem and not actions:
        raise _unusable(problem, reply)
    return _decision(reply, _explanation(TOOL_CALL.sub("", visible)), actions)


class ToolsConfig(EndpointConfig):
    tool_choice: Literal["required", "auto"] = "required"
    """'required' makes every reply a tool call; 'auto' for servers that refuse it (switched to by
    itself after an HTTP 400 about tool_choice)."""


@register("tools")
class ToolsPlanner(Dialect):
    """GLM-4.5V through OpenAI tool calls, as one conversation with no system message.

    The first user message holds the task and the screenshot. Each assistant reply is kept with its
    tool_calls; at the next `decide` each call gets its `tool` message (performed, failed: why, or
    not performed: why), then a user message brings the new screenshot. Only the last
    KEPT_SCREENSHOTS screenshots stay; older ones become "(screenshot omitted)".

    A reply with several calls gives a Decision whose `action` is the first call and `then` the
    rest. The loop performs them in order and appends to `decision.outcomes`, one entry per action
    it performed: "ok" or the error message; calls after a failed one are answered as not performed.
    """

    name = PlannerKind.TOOLS
    config_type = ToolsConfig
    read = staticmethod(interpret_tools)

    def __init__(self, config: EndpointConfig, skills: list[dict] | None = None, secrets: list[str] | None = None):
        if not isinstance(config, ToolsConfig):
            config = ToolsConfig(**config.model_dump(), api_key=config.api_key)
        super().__init__(config, skills, secrets)
        self.tool_choice = config.tool_choice
        self.messages: list[dict] = []
        self.pending: list[tuple[str, str | None]] = []  # the last reply's calls: (id, why it cannot be used)
        self.last: Decision | None = None
        self.replies = 0

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        started = time.perf_counter()
        self._add_screenshot(task, image_part(frame.png()), feedback)
        body = self.transport.body(self.messages) | {"tools": tool_definitions(self.skills, self.secrets),
                                                     "tool_choice": self.tool_choice}
        request = self._describe(frame, body)
        encoded = time.perf_counter()

        def read(response, attempts: list[dict]) -> _Reading:
            request["tool_choice"] = body["tool_choice"]  # as answered: 'auto' once a server refused 'required'
            choice = response.choices[0]
            message = choice.message
            content, reasoning, usage = reply_parts(response, self.config.thinking)
            reply = Reply(content, reasoning, usage, request,
                          {"encode": encoded - started, "model": time.perf_counter() - encoded},
                          choice.finish_reason, attempts)
            try:
                bounded(reply)
            except FormatError as error:
                return _Reading({"role": "assistant", "content": reply.raw}, [], error=error)
            received = message.tool_calls or []
            if len(received) > MAX_ACTIONS:  # refused before any is read or kept
                too_many = FormatError(f"the reply has {len(received)} tool calls; "
                                       f"make at most {MAX_ACTIONS} at a time")
                return _Reading({"role": "assistant", "content": content}, [], error=_unusable(too_many, reply))
            reading = self._read(reply, received)
            if reading.error and reply.finish_reason == "length":
                raise reading.error  # asked again while retries last
            return reading

        reading = self.transport.ask(body, read, self._complete)
        self.messages.append(reading.message)
        self.pending, self.last = reading.pending, reading.decision
        if reading.error:
            raise reading.error
        return reading.decision

    def restore(self, episode: Episode) -> None:
        """The conversation as it was after the episode's last step, to resume it: for each reply its
        user message (the screenshot, for the last KEPT_SCREENSHOTS), the reply as the assistant
        message, and its calls' outcomes, answered at the next `decide`; the tool_choice last asked ('auto'
        if the server refused 'required')."""
        self.messages, self.pending, self.last, feedback, cut = [], [], None, None, None
        asked = [choice for step in episode.steps
                 if (choice := (step.get("request") or {}).get("tool_choice")) in ("required", "auto")]
        self.tool_choice = (asked or [self.tool_choice])[-1]
        replied = [step for step in episode.steps if "raw" in step or "call" in step]  # not an endpoint error
        for number, step in enumerate(replied):
            screenshot = {"type": "text", "text": OMITTED}
            if number >= len(replied) - KEPT_SCREENSHOTS:
                try:
                    screenshot = image_part(episode.screenshot(step))
                except EpisodeError:
                    pass  # a missing or refused screenshot stays omitted
            self._add_screenshot(episode.header.get("task", ""), screenshot, feedback)
            performed = [step, *step.get("then", [])]
            # without "raw", the run was killed before its line
            raw = step["raw"] if "raw" in step else "\n".join(done["call"] for done in performed)
            reply = Reply(raw, step.get("reasoning") or "", finish_reason=step.get("finish_reason"))
            reading = self._read(reply, [])
            self.messages.append(reading.message)
            self.pending, self.last = reading.pending, reading.decision
            if reading.decision is not None:
                reading.decision.outcomes = [done.get("error") or Outcome.OK for done in performed]
            feedback = feedback_for(performed[-1].get("outcome", ""), performed[-1].get("error"))
            if cut := next((done for done in performed if "cut" in done), None):  # the run ended inside this reply
                feedback = cut_note(cut)
        if cut:  # the run ended inside the last reply: said before the next screenshot
            self.messages.append({"role": "user", "content": [{"type": "text", "text": feedback}]})

    def _add_screenshot(self, task: str, screenshot: dict, feedback: str | None) -> None:
        """Answers the last reply's calls, then the user message that brings the screenshot."""
        answered = self._answer_calls(feedback)
        if not self.messages:
            text = tools_task_text(task)
        else:
            text = "Current screenshot:" if answered or not feedback else f"{feedback}\n\nCurrent screenshot:"
        self.messages.append({"role": "user", "content": [{"type": "text", "text": text}, screenshot]})
        self._forget_old_screenshots()

    def _read(self, reply: Reply, received: list) -> "_Reading":
        """What a reply decides, and the assistant message and pending calls the conversation keeps."""
        self.replies += 1
        reply.reasoning, visible, unfinished = split_reasoning(reply.raw, reply.reasoning)
        if received:
            calls = [self._call(call, number) for number, call in enumerate(received, 1)]
            written = [glm_tool_text(c["function"]["name"], c["function"]["arguments"]) for c in calls]
            reply.raw = "\n".join([reply.raw, *written]).strip()
        if unfinished:  # the calls were drafted inside reasoning that never ended: none is done
            return _Reading({"role": "assistant", "content": visible}, [],
                            error=_unusable(FormatError(UNFINISHED_THINK), reply))
        if not received:
            try:
                blocks = parse_glm_tool_text(visible)
            except FormatError as error:
                return _Reading({"role": "assistant", "content": visible}, [], error=_unusable(error, reply))
            calls = [self._call({"function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}},
                                number) for number, (name, arguments) in enumerate(blocks, 1)]
            visible = TOOL_CALL.sub("", visible).strip()
        message = {"role": "assistant", "content": visible or (None if calls else ""),
                   **({"tool_calls": calls} if calls else {})}
        if not calls:
            if not CALL_START.search(visible) and BOX_OPEN not in visible:
                no_call = FormatError(f"the reply has no tool call; call {CALL_LIST}")
                return _Reading(message, [], error=_unusable(no_call, reply))
            try:
                return _Reading(message, [], interpret(reply))  # a model that answered in the text protocol
            except FormatError as error:
                return _Reading(message, [], error=error)
        actions, problem = _usable_calls(calls)
        pending = [(call["id"], str(problem) if problem and n == len(actions) else None)
                   for n, call in enumerate(calls)]
        if problem and not actions:
            return _Reading(message, pending, error=_unusable(problem, reply))
        return _Reading(message, pending, _decision(reply, _explanation(visible), actions))

    def _call(self, call, number: int) -> dict:
        """A tool call as the assistant message keeps it: id, type, function name and arguments text."""
        function = _field(call, "function") or {}
        arguments = _field(function, "arguments")
        return {"id": _field(call, "id") or f"call_{self.replies}_{number}", "type": "function",
                "function": {"name": str(_field(function, "name")),
                             "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}}

    def _answer_calls(self, feedback: str | None) -> bool:
        """A `tool` message for each call of the last reply; False when it had none."""
        if not self.pending:
            return False
        outcomes = self.last.outcomes if self.last is not None else []
        for number, (call_id, problem) in enumerate(self.pending):
            if number < len(outcomes):
                text = "performed" if outcomes[number] == Outcome.OK else f"failed: {outcomes[number]}"
            else:
                text = f"not performed: {problem}" if problem else NOT_PERFORMED
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        self.pending = []
        return True

    def _forget_old_screenshots(self) -> None:
        images = [(message["content"], index) for message in self.messages if isinstance(message["content"], list)
                  for index, part in enumerate(message["content"]) if part["type"] == "image_url"]
        for parts, index in images[:-KEPT_SCREENSHOTS]:
            parts[index] = {"type": "text", "text": OMITTED}

    def _describe(self, frame: Frame, body: dict) -> dict:
        images = sum(part["type"] == "image_url" for message in body["messages"]
                     if isinstance(message["content"], list) for part in message["content"])
        return {"images": images, "image_tokens": images * image_tokens(frame.width, frame.height),
                "bytes": json_size(body["messages"])}

    def _complete(self, body: dict):
        """One attempt, asked again with tool_choice 'auto' once if the server refuses 'required'."""
        import openai

        try:
            return self.transport.complete(body)
        except EndpointError as error:
            refusal = error.__context__  # the openai error it was raised from (`from None` keeps it as context)
            if body["tool_choice"] == "auto" or not (
                    isinstance(refusal, openai.APIStatusError) and refusal.status_code in (400, 422)
                    and re.search(r"tool[_ ]choice", str(refusal), re.I)):
                raise
        self.tool_choice = body["tool_choice"] = "auto"
        return self.transport.complete(body)


@dataclass
class _Reading:
    message: dict  # the reply as the conversation keeps it
    pending: list[tuple[str, str | None]] = field(default_factory=list)  # its calls: (id, why one cannot be used)
    decision: Decision | None = None
    error: FormatError | None = None


def _usable_calls(calls: list) -> tuple[list[a.Action], ToolCallError | None]:
    """The actions of the calls before the first bad one, and that one's error."""
    try:
        return actions_from_tool_calls(calls), None
    except ToolCallError as error:
        return error.actions, error


def _decision(reply: Reply, explanation: str, actions: list[a.Action]) -> Decision:
    return within_bounds(Decision(reply, actions[0], explanation, None, then=actions[1:]))


def _unusable(error: FormatError, reply: Reply) -> FormatError:
    message = str(error)
    if reply.finish_reason == "length" and "token limit" not in message:
        message += " (the reply was cut off at the token limit)"
    return FormatError(message, reply)


def _explanation(visible: str) -> str:
    return visible.replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip()


def _field(thing, name: str):
    return thing.get(name) if isinstance(thing, dict) else getattr(thing, name, None)


def _json_or_text(value: str):
    try:
        return strict_json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return value


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(value, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")
