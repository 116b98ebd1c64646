"""Reading a GLM-4.5V reply: reasoning, explanation, one action call and memory.

The call is read with a small tokenizer (never eval). It may be wrapped in box tokens or bare,
with points written as [x,y], (x,y), [[x1,y1,x2,y2]] and so on; a box means its centre.
Anything that cannot be read becomes a FormatError whose message goes back to the model.
The calls and their parameters come from actions.GLM_CALLS; agent.tools reads tool calls with the
same build_action.
"""

import math
import re
from dataclasses import dataclass

from pydantic import ValidationError

from . import actions as a
from .errors import FormatError

BOX_OPEN, BOX_CLOSE = "<|begin_of_box|>", "<|end_of_box|>"
THINK = re.compile(r"<think>(.*?)</think>", re.S)

CALL_START = re.compile(r"(?<![\w.])(" + "|".join(a.GLM_CALL) + r")\s*\(", re.I)
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
_NAMES = [call.name if call.params else f"{call.name}()" for call in a.GLM_CALLS]
CALL_LIST = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]


@dataclass(frozen=True, slots=True)
class ParsedReply:
    reasoning: str
    explanation: str
    action: a.Action
    memory: str | None


def split_reasoning(content: str, reasoning: str | None) -> tuple[str, str]:
    """(reasoning, visible text): reasoning from the server's field or inline <think>."""
    found = [m.group(1).strip() for m in THINK.finditer(content)]
    visible = THINK.sub("", content)
    if "</think>" in visible:  # the server dropped the opening tag
        head, visible = visible.rsplit("</think>", 1)
        found.append(head.replace("<think>", "").strip())
    return (reasoning or "\n".join(found)).strip(), visible.strip()


def parse_reply(content: str | None, reasoning: str | None = None) -> ParsedReply:
    content = content or ""
    thought, visible = split_reasoning(content, reasoning)
    body, memory = _split_memory(visible)
    span = _find_call(body)
    if span is None:
        raise FormatError(f"no action call found in the reply; end it with exactly one of {CALL_LIST}")
    start, name, args, end = span
    action = build_action(name, args)
    explanation = (body[:start] + body[end:]).replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip()
    return ParsedReply(thought, explanation, action, memory)


def _split_memory(text: str) -> tuple[str, str | None]:
    match = re.search(r"^\s*Memory\s*:", text, re.M | re.I)
    if not match:
        return text, None
    return text[: match.start()], text[match.end():].strip()


def _find_call(text: str):
    """(start, name, args, end) of the action call: the one in box tokens, else the last one."""
    box_start = text.find(BOX_OPEN)
    box_end = text.find(BOX_CLOSE, box_start + 1) if box_start >= 0 else -1
    matches = list(CALL_START.finditer(text))
    if box_start >= 0 and box_end > box_start:
        inside = [m for m in matches if box_start < m.start() < box_end]
        matches = inside or matches
    if not matches:
        return None
    match = matches[-1]
    name = match.group(1).lower()
    args, end = parse_arguments(text, match.end(), tuple(p.name for p in a.GLM_CALL[name].params))
    return match.start(), name, args, end


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
        if char in "[(":
            depth += 1
        elif char in "])":
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
        if char == quote:
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise FormatError("a quoted argument in the action call is not closed")


def parse_point(value, name: str) -> tuple[int, int]:
    """A point from '[x,y]', '(x, y)', '[[x1,y1,x2,y2]]' (a box means its centre), or from a JSON
    array of 2 or 4 numbers (possibly nested, numbers possibly as strings)."""
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
        if re.search(r"[^\d\s.,\-\[\]()]", cleaned) or len(numbers) not in (2, 4):
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
