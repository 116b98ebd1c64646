"""The instructions the embedded planner understands, parsed before anything is done.

Clauses are joined by `then`, `,`, `;` or new lines; targets are quoted or bare; case does not matter.
"""

import re
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from agent.core.actions import Key
from agent.core.errors import InstructionError

FORMS = ('click X, double-click X, right-click X, tick X, untick X, type "TEXT" into X, type "TEXT", '
         'press KEYS, scroll up|down [in X], wait for X, select X from Y')


@dataclass(frozen=True)
class Said:
    said: str = field(default="", compare=False, kw_only=True)  # the clause as the instruction words it


@dataclass(frozen=True)
class ClickOn(Said):
    target: str
    button: str = "left"
    count: int = 1


@dataclass(frozen=True)
class SetTick(Said):
    target: str
    on: bool


@dataclass(frozen=True)
class TypeInto(Said):
    text: str
    field: str | None = None


@dataclass(frozen=True)
class Press(Said):
    keys: str


@dataclass(frozen=True)
class ScrollIn(Said):
    direction: str
    within: str | None = None


@dataclass(frozen=True)
class WaitFor(Said):
    target: str


@dataclass(frozen=True)
class SelectFrom(Said):
    item: str
    container: str


Clause = ClickOn | SetTick | TypeInto | Press | ScrollIn | WaitFor | SelectFrom

TARGET = r'(?:"(?P<{0}q>[^"]+)"|\'(?P<{0}s>[^\']+)\'|(?P<{0}b>.+?))'
PATTERNS = [
    (r"(?P<kind>double[- ]?click|right[- ]?click|click)\s+" + TARGET.format("t"), "click"),
    (r"(?P<kind>tick|untick)\s+" + TARGET.format("t"), "tick"),
    (r"type\s+" + TARGET.format("x") + r"\s+into\s+" + TARGET.format("t"), "type_into"),
    (r"type\s+" + TARGET.format("x"), "type"),
    (r"press\s+(?P<keys>\S+)", "press"),
    (r"scroll\s+(?P<direction>up|down)(?:\s+in\s+" + TARGET.format("t") + ")?", "scroll"),
    (r"wait\s+for\s+" + TARGET.format("t"), "wait"),
    (r"select\s+" + TARGET.format("x") + r"\s+from\s+" + TARGET.format("t"), "select"),
]


def split_clauses(instruction: str) -> list[str]:
    """Split on then , ; and new lines, but never inside quotes."""
    parts, current, quote = [], "", None
    for char in instruction:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'" and (not current or not current[-1].isalnum()):
            quote = char
        elif char in ",;\n":
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    clauses = []
    for part in parts:
        clauses += re.split(r"\s+then\s+(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", f" {part} ", flags=re.I)
    return [c.strip() for c in clauses if c.strip() and c.strip().lower() != "then"]


def _group(match: re.Match, name: str, exact: bool = False) -> str | None:
    """The quoted or bare value; with `exact`, a quoted value keeps its leading and trailing spaces."""
    for suffix in "qsb":
        value = match.groupdict().get(name + suffix)
        if value is not None:
            return value if exact and suffix != "b" else value.strip()
    return None


def _needed(value: str | None) -> str:
    """A group the clause's pattern always has (every form that names a target or text has its group)."""
    if value is None:
        raise InstructionError("an instruction form lacks the target or text it needs")
    return value


def parse_clause(text: str) -> Clause:
    clause = re.sub(r"^then\s+", "", text.strip(), flags=re.I)
    for pattern, kind in PATTERNS:
        match = re.fullmatch(pattern, clause, flags=re.I | re.S)
        if not match:
            continue
        target, text_arg = _group(match, "t"), _group(match, "x", exact=kind in ("type_into", "type"))
        if kind == "click":
            word = match.group("kind").lower().replace(" ", "").replace("-", "")
            return ClickOn(_needed(target), button="right" if word == "rightclick" else "left",
                           count=2 if word == "doubleclick" else 1)
        if kind == "tick":
            return SetTick(_needed(target), on=match.group("kind").lower() == "tick")
        if kind in ("type_into", "type"):
            return TypeInto(_needed(text_arg), target)
        if kind == "press":
            try:
                Key(keys=match.group("keys"))
            except ValidationError as error:
                raise InstructionError(f"{text!r}: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None
            return Press(match.group("keys"))
        if kind == "scroll":
            return ScrollIn(match.group("direction").lower(), target)
        if kind == "wait":
            return WaitFor(_needed(target))
        return SelectFrom(_needed(text_arg), _needed(target))
    raise InstructionError(f"cannot understand {text!r}; the embedded planner knows: {FORMS}")


def parse_instruction(instruction: str) -> list[Clause]:
    clauses = [replace(parse_clause(part), said=part) for part in split_clauses(instruction)]
    if not clauses:
        raise InstructionError(f"the instruction is empty; the embedded planner knows: {FORMS}")
    return clauses
