"""Reading a GLM-4.5V reply: reasoning, explanation, the action call(s) and memory.

The calls are read with a small tokenizer (never eval) that skips quoted arguments, so a call
name inside a quoted value is never taken for a call. The call(s) in box tokens win; a box that
holds no call is a format error, whatever the prose around it quotes. With no box at all (servers
that drop special tokens) the bare call at the end of the explanation is read, with any calls
right before it. Points may be written [x,y], (x,y), <x,y>, [[x1,y1,x2,y2]] and so on; a box of
four numbers means its centre. Anything that cannot be read becomes a FormatError whose message
goes back to the model. The calls and their parameters come from actions.GLM_CALLS; agent.planners.glm_tools
reads tool calls with the same build_action.
"""

import json
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import ValidationError

from agent.core import actions as a
from agent.core.errors import FormatError
from agent.core.shown import one_line

BOX_OPEN, BOX_CLOSE = "<|begin_of_box|>", "<|end_of_box|>"
THINK = re.compile(r"<think>(.*?)</think>", re.S)

CALL_START = re.compile(r"(?<![\w.])(" + "|".join(sorted(a.GLM_CALL, key=len, reverse=True)) + r")\s*\(", re.I)
BARE_TERMINAL = re.compile(r"(?<![\w.])(DONE|WAIT|FAIL)\b(?!\s*\()", re.I)  # in a box, as OSWorld-V2's GLM parser
ANSWER_TAG = re.compile(r"</?answer>")  # GLM-4.1V wraps its answer in <answer>...</answer>
END_OF_TURN = re.compile(r"<\|(?:user|assistant|system|observation|endoftext)\|>|</answer>", re.I)
SPECIAL_TOKEN = re.compile(r"<\|[a-z_]+\|>", re.I)
MEMORY = re.compile(r"(?:^|(?<=>))[ \t]*Memory\s*:", re.M | re.I)
ARGUMENT_BOX = re.compile(r"=\s*['\"]?\s*$")  # a box token right after `name=`: a point written in box tokens
SEPARATORS = " \t\r\n,;."
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
_NAMES = [call.name if call.params else f"{call.name}()" for call in a.GLM_CALLS]
CALL_LIST = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]
UNFINISHED_THINK = ("the reply ended inside <think> before any action (nothing in unfinished reasoning is done); "
                    "close </think>, then give the action call")


@dataclass(frozen=True, slots=True)
class ParsedReply:
    reasoning: str
    explanation: str
    actions: tuple[a.Action, ...]  # at least one, performed in order
    memory: str | None
    call_text: str  # the call(s) as the model wrote them, one per line

    @property
    def action(self) -> a.Action:
        return self.actions[0]


class Visible(NamedTuple):
    reasoning: str
    text: str  # what follows the reasoning
    unfinished: bool  # a <think> that never closed (the reply was cut off while reasoning)


def split_reasoning(content: str, reasoning: str | None) -> Visible:
    """The reasoning (from the server's field or inline <think>) and the visible text. An unclosed
    <think> and all after it count as reasoning (vLLM leaves it all in the content when only
    <think> is present), so nothing drafted there is ever read as the answer."""
    found = [m.group(1).strip() for m in THINK.finditer(content)]
    visible = THINK.sub("", content)
    closing = visible.rfind("</think>")
    if closing >= 0 and BOX_OPEN not in visible[:closing]:  # the server dropped the opening tag
        head, visible = visible[:closing], visible[closing + len("</think>"):]
        found.append(head.replace("<think>", "").strip())
    unfinished = "<think>" in visible
    if unfinished:
        visible, draft = visible.split("<think>", 1)
        found.append(draft.strip())
    return Visible((reasoning or "\n".join(f for f in found if f)).strip(), visible.strip(), unfinished)


def parse_reply(content: str | None, reasoning: str | None = None) -> ParsedReply:
    seen = split_reasoning(content or "", reasoning)
    if seen.unfinished:
        raise FormatError(UNFINISHED_THINK)
    body, memory = _split_memory(seen.text)
    body = ANSWER_TAG.sub("", body)
    calls, removed = _read_calls(body)
    actions = tuple(build_action(call.name, call.args) for call in calls)
    explanation = "".join(body[start:end] for start, end in _gaps(removed, len(body)))
    explanation = SPECIAL_TOKEN.sub("", explanation).strip()
    call_text = "\n".join(body[call.start:call.end].strip() for call in calls)
    return ParsedReply(seen.reasoning, explanation, actions, memory, call_text)


@dataclass(frozen=True, slots=True)
class _Call:
    """A call found in the text: its span and arguments, or why its arguments cannot be read."""

    start: int
    end: int  # where its name ends, for a call whose arguments cannot be read
    name: str
    args: dict = field(default_factory=dict)
    error: FormatError | None = None


def _read_calls(body: str) -> tuple[list[_Call], list[tuple[int, int]]]:
    """The calls meant (all those in boxes, in order; else the bare call at the end and any right
    before it) and the spans to leave out of the explanation."""
    boxes = _boxes(body)
    if not boxes:
        calls = _scan(body, 0, len(body))
        if not calls:
            raise FormatError(f"no action call found in the reply; end it with exactly one of {CALL_LIST}")
        run = [calls[-1]]
        for call in reversed(calls[:-1]):
            if call.error or body[call.end:run[0].start].strip(SEPARATORS):
                break
            run.insert(0, call)
        for call in run:
            if call.error:
                raise call.error
        return run, [(call.start, call.end) for call in run]
    meant, removed = [], []
    for start, end, close in boxes:
        calls = _scan(body, start, end, in_box=True)
        removed.append((start - len(BOX_OPEN), start))
        removed.append((end, close))
        if not calls:
            continue
        for call in calls:
            if call.error:
                raise call.error
        rest = "".join(body[s:e] for s, e in _gaps([(c.start, c.end) for c in calls], end, start))
        if rest.strip(SEPARATORS):
            raise FormatError(f"the box holds text that is not an action call ({rest.strip()[:40]!r}); "
                              f"put only the call in {BOX_OPEN}...{BOX_CLOSE}")
        meant += calls
        removed.append((start, end))
    if not meant:
        raise FormatError(f"the {BOX_OPEN}...{BOX_CLOSE} box holds no action call (a call written outside it is "
                          f"not done); put exactly one of {CALL_LIST} in the box")
    return meant, removed


def _boxes(body: str, all_boxes: bool = False) -> list[tuple[int, int, int]]:
    """(content start, content end, end of the closing token) of each box, skipping (unless all_boxes)
    box tokens that wrap a point in a call's argument: start_box='<|begin_of_box|>[1,2]<|end_of_box|>'."""
    boxes, pos = [], 0
    while (opened := body.find(BOX_OPEN, pos)) >= 0:
        start = opened + len(BOX_OPEN)
        closed = body.find(BOX_CLOSE, start)
        end, after = (closed, closed + len(BOX_CLOSE)) if closed >= 0 else (len(body), len(body))
        if all_boxes or not ARGUMENT_BOX.search(body[:opened]):
            boxes.append((start, end, after))
        pos = after
    return boxes


def _scan(text: str, start: int, end: int, in_box: bool = False) -> list[_Call]:
    """Every call between start and end, left to right. A call's quoted arguments are skipped, so
    a call name inside them is not found; a name whose arguments cannot be read is kept with its error."""
    calls: list[_Call] = []
    pos, region = start, text[:end]
    while True:
        found = [m for m in (CALL_START.search(region, pos), in_box and BARE_TERMINAL.search(region, pos)) if m]
        if not found:
            return calls
        match = min(found, key=lambda m: (m.start(), m.re is not CALL_START))
        name = match.group(1).lower()
        if match.re is BARE_TERMINAL:
            calls.append(_Call(match.start(), match.end(), name, {}))
            pos = match.end()
            continue
        try:
            args, stop = parse_arguments(region, match.end(), tuple(p.name for p in a.GLM_CALL[name].params))
        except FormatError as error:
            calls.append(_Call(match.start(), match.end(), name, error=error))
            pos = match.end()
            continue
        calls.append(_Call(match.start(), stop, name, args))
        pos = stop


def _gaps(spans: list[tuple[int, int]], end: int, start: int = 0) -> list[tuple[int, int]]:
    """The parts of [start, end) outside the spans."""
    gaps, pos = [], start
    for s, e in sorted(spans):
        gaps.append((pos, max(pos, s)))
        pos = max(pos, e)
    return gaps + [(pos, end)]


def _split_memory(text: str) -> tuple[str, str | None]:
    """(text before the first `Memory:` outside a box, the memory); a call in a box whose argument
    mentions Memory: does not end the explanation, and an answer restated after the memory is not read."""
    inside = [(start, end) for start, end, after in _boxes(text, all_boxes=True) if after > end]  # closed ones
    for match in MEMORY.finditer(text):
        if not any(start <= match.start() < end for start, end in inside):
            return text[: match.start()], _memory(text[match.end():])
    return text, None


def _memory(text: str) -> str:
    """The memory JSON as written, without what follows it: chat tokens of a next turn, </answer>,
    the answer restated. Text that is not JSON is kept as it is, less any special tokens."""
    text = END_OF_TURN.split(text, 1)[0]
    text = SPECIAL_TOKEN.sub("", ANSWER_TAG.sub("", text)).strip()
    if not text:
        return "[]"
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return text
    return text[:end]


def parse_arguments(text: str, pos: int, positional: tuple[str, ...]) -> tuple[dict[str, str], int]:
    """Read `name=value, ...)` from pos (just after the opening parenthesis)."""
    args: dict[str, str] = {}
    order = 0
    while True:
        pos = _skip(text, pos, " \t\r\n,")
        if pos >= len(text):
            raise FormatError("the action call is not closed with ')'")
        if text[pos] == ")":
            return args, pos + 1
        named = re.match(r"([A-Za-z_]\w*)\s*=(?!=)\s*", text[pos:])
        if named:
            name = named.group(1)
            pos += named.end()
        elif order < len(positional):
            name = positional[order]
        else:
            raise FormatError(f"unexpected argument at {text[pos:pos + 20]!r} in the action call")
        order += 1
        value, pos = _read_value(text, pos)
        args[name] = value


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _read_value(text: str, pos: int) -> tuple[str, int]:
    if pos < len(text) and text[pos] in "'\"":
        return _read_string(text, pos)
    depth, start = 0, pos
    while pos < len(text):
        char = text[pos]
        if char in "[(<":
            depth += 1
        elif char in "])>":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            break
        pos += 1
    if pos >= len(text):
        raise FormatError("the action call is not closed with ')'")
    return text[start:pos].strip(), pos


def _read_string(text: str, pos: int) -> tuple[str, int]:
    quote, out, pos = text[pos], [], pos + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            nxt = text[pos + 1]
            out.append(ESCAPES.get(nxt, "\\" + nxt))
            pos += 2
            continue
        if char == quote and _closes(text, pos + 1):
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise FormatError("a quoted argument in the action call is not closed")


def _closes(text: str, pos: int) -> bool:
    """Whether a quote before pos ends its value: only when `,` follows, or a `)` that is not itself
    followed by a quote or another `)`, so an unescaped apostrophe inside a value stays in it:
    'The society's report', 'print('x')'. OSWorld-V2's GLM parser (_is_likely_quote_closer) also
    closes before `]` and `}`, which matter there because it scans quotes inside brackets; here a
    bracketed value is read without quotes."""
    pos = _skip(text, pos, " \t\r\n")
    if pos >= len(text) or text[pos] == ",":
        return True
    after = _skip(text, pos + 1, " \t")
    return text[pos] == ")" and (after >= len(text) or text[after] not in "'\")")


def parse_point(value, name: str) -> tuple[int, int]:
    """A point from '[x,y]', '(x, y)', '<x,y>', '[[x1,y1,x2,y2]]' (a box means its centre), or from
    a JSON array of 2 or 4 numbers (possibly nested, numbers possibly as strings)."""
    if isinstance(value, (list, tuple)):
        items = value[0] if len(value) == 1 and isinstance(value[0], (list, tuple)) else value
        try:
            numbers = [_number(n) for n in items]
        except (TypeError, ValueError):
            numbers = []
        if len(numbers) not in (2, 4):
            raise FormatError(f"{name}={value!r} is not a point; give [x, y] or a box [x1, y1, x2, y2] in 0-999")
    else:
        cleaned = str(value).replace(BOX_OPEN, "").replace(BOX_CLOSE, "")
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", cleaned)]
        if re.search(r"[^\d\s.,\-\[\]()<>]", cleaned) or len(numbers) not in (2, 4):
            raise FormatError(f"{name}={value!r} is not a point; give '[x,y]' or a box '[x1,y1,x2,y2]' in 0-999")
    if len(numbers) == 4:
        numbers = [(numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2]
    x, y = (round(n) for n in numbers)
    if not (0 <= x <= 999 and 0 <= y <= 999):
        raise FormatError(f"{name}={value!r} is off the screen; coordinates are thousandths, 0-999")
    return x, y


def read_argument(param: a.Param, value):
    """A raw argument (text from a call in the reply, or a JSON value from a tool call) as the value
    its parameter takes: a point (x, y), an int, a string, or for an object a dict or its JSON text."""
    if param.kind == "point":
        return parse_point(value, param.name)
    if param.kind == "integer":
        try:
            return round(_number(value))
        except (TypeError, ValueError):
            raise FormatError(f"{param.name}={value!r} is not a number") from None
    if param.kind == "object" and isinstance(value, dict):
        return value  # a tools reply's JSON object; the text dialect writes it as JSON text
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise FormatError(f"{param.name}={value!r} is not text")
    return value.strip().lower() if param.choices else value


def _number(value) -> float:
    """A finite number from an int, a float or its text; TypeError or ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def build_action(name: str, args: dict) -> a.Action:
    """The action for GLM call `name` (any case) from its raw arguments by parameter name."""
    call = a.GLM_CALL[name.lower()]
    if unknown := sorted(name for name, value in args.items() if value not in ("", None)
                         and name not in {param.name for param in call.params}):
        raise FormatError(f"{call.name}(...) takes no {', '.join(map(one_line, unknown))} (it would be ignored, "
                          f"and the action might not be the one meant); "
                          f"its arguments: {', '.join(p.name for p in call.params) or 'none'}")
    values = {}
    for param in call.params:
        raw = args.get(param.name)
        if raw is None and param.required:
            how = " as [x,y] in thousandths (0-999)" if param.kind == "point" else ""
            raise FormatError(f"{param.name} is missing; give {param.description}{how}")
        values[param.name] = param.default if raw is None else read_argument(param, raw)
    try:
        return call.build(values)
    except ValidationError as error:
        raise FormatError(f"{name}(...) is not valid: {_first_problem(error)}") from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
