"""Reading a GLM-4.5V reply: reasoning, explanation, one action call and memory.

The call is read with a small tokenizer (never eval). It may be wrapped in box tokens or bare,
with points written as [x,y], (x,y), [[x1,y1,x2,y2]] and so on; a box means its centre.
Anything that cannot be read becomes a FormatError whose message goes back to the model.
"""

import re
from dataclasses import dataclass

from pydantic import ValidationError

from . import actions as a
from .errors import FormatError

BOX_OPEN, BOX_CLOSE = "<|begin_of_box|>", "<|end_of_box|>"
THINK = re.compile(r"<think>(.*?)</think>", re.S)

# GLM call name -> the parameter names it takes positionally.
SIGNATURES = {
    "left_click": ("start_box", "element_info"),
    "right_click": ("start_box", "element_info"),
    "middle_click": ("start_box", "element_info"),
    "hover": ("start_box", "element_info"),
    "left_double_click": ("start_box", "element_info"),
    "left_drag": ("start_box", "end_box", "element_info"),
    "key": ("keys",),
    "type": ("content",),
    "scroll": ("start_box", "direction", "step", "element_info"),
    "wait": (),
    "done": (),
    "fail": (),
}
CALL_START = re.compile(r"(?<![\w.])(" + "|".join(SIGNATURES) + r")\s*\(", re.I)
ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
CALL_LIST = ("left_click, right_click, middle_click, hover, left_double_click, left_drag, "
             "key, type, scroll, WAIT(), DONE() or FAIL()")


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
    args, end = parse_arguments(text, match.end(), SIGNATURES[match.group(1).lower()])
    return match.start(), match.group(1).lower(), args, end


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


def parse_point(value: str | None, name: str) -> tuple[int, int]:
    """A point from '[x,y]', '(x, y)', '[[x1,y1,x2,y2]]' (a box means its centre)."""
    if value is None:
        raise FormatError(f"{name} is missing; give it as '[x,y]' in thousandths (0-999)")
    cleaned = value.replace(BOX_OPEN, "").replace(BOX_CLOSE, "")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", cleaned)]
    if re.search(r"[^\d\s.,\-\[\]()]", cleaned) or len(numbers) not in (2, 4):
        raise FormatError(f"{name}={value!r} is not a point; give '[x,y]' or a box '[x1,y1,x2,y2]' in 0-999")
    if len(numbers) == 4:
        numbers = [(numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2]
    x, y = (round(n) for n in numbers)
    if not (0 <= x <= 999 and 0 <= y <= 999):
        raise FormatError(f"{name}={value!r} is off the screen; coordinates are thousandths, 0-999")
    return x, y


def build_action(name: str, args: dict[str, str]) -> a.Action:
    info = args.get("element_info", "")
    try:
        match name:
            case "left_click" | "right_click" | "middle_click":
                button = name.split("_")[0]
                return a.Click(point=parse_point(args.get("start_box"), "start_box"), button=button, element_info=info)
            case "left_double_click":
                return a.DoubleClick(point=parse_point(args.get("start_box"), "start_box"), element_info=info)
            case "hover":
                return a.Hover(point=parse_point(args.get("start_box"), "start_box"), element_info=info)
            case "left_drag":
                return a.Drag(start=parse_point(args.get("start_box"), "start_box"),
                              end=parse_point(args.get("end_box"), "end_box"), element_info=info)
            case "key":
                return a.Key(keys=args.get("keys", ""))
            case "type":
                return a.TypeText(content=args.get("content", ""))
            case "scroll":
                return a.Scroll(point=parse_point(args.get("start_box"), "start_box"),
                                direction=args.get("direction", "").strip().lower(),
                                steps=_integer(args.get("step", "5"), "step"), element_info=info)
            case "wait":
                return a.Wait()
            case "done":
                return a.Done()
            case _:
                return a.Fail()
    except ValidationError as error:
        raise FormatError(f"{name}(...) is not valid: {_first_problem(error)}") from None


def _integer(value: str, name: str) -> int:
    try:
        return round(float(value))
    except ValueError:
        raise FormatError(f"{name}={value!r} is not a number") from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
