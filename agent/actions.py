"""The GLM-4.5V desktop action space as typed models.

Points are in model space (per-mille of the image the model saw, 0-999). Validation lives here:
an action that exists has coordinates in range, key names the executors know and text to type.
Each action knows its GLM call text and how to perform itself on a `Computer`.
"""

import string
from typing import Annotated, Callable, Literal, Protocol, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from .geometry import Point

PerMille = Annotated[int, Field(ge=0, le=999)]
ModelPoint = tuple[PerMille, PerMille]
ToScreen = Callable[[Point], Point]

KEY_ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "cmd": "win", "command": "win", "super": "win",
    "meta": "win", "windows": "win", "return": "enter", "esc": "escape", "del": "delete",
    "pgup": "pageup", "page_up": "pageup", "pgdn": "pagedown", "page_down": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "option": "alt", "plus": "+", "spacebar": "space", "bksp": "backspace", "ins": "insert",
    "prtsc": "printscreen", "print": "printscreen", "menu": "apps", "caps_lock": "capslock",
}
NAMED_KEYS = {
    "ctrl", "shift", "alt", "win", "enter", "tab", "space", "backspace", "delete", "escape",
    "home", "end", "pageup", "pagedown", "up", "down", "left", "right", "insert", "capslock",
    "printscreen", "apps", "pause", "numlock", "scrolllock",
    *(f"f{n}" for n in range(1, 25)),
}
CHARACTER_KEYS = set(string.ascii_lowercase + string.digits + string.punctuation)
KNOWN_KEYS = NAMED_KEYS | CHARACTER_KEYS


def normalise_key(name: str) -> str:
    """The executor's name for a key, or ValueError naming the key."""
    key = name.strip()
    key = key.lower() if len(key) > 1 or key.isalpha() else key
    key = KEY_ALIASES.get(key, key)
    if key not in KNOWN_KEYS:
        raise ValueError(f"unknown key {name!r}; use names like ctrl, alt, shift, enter, tab, "
                         f"escape, backspace, delete, up, pagedown, f5, or a single character")
    return key


def split_chord(keys: str) -> list[str]:
    """'ctrl+shift+s' -> ['ctrl', 'shift', 's']; a trailing '++' means the '+' key."""
    text = keys.strip()
    if not text:
        raise ValueError("no key given; say which key to press, e.g. key(keys='enter')")
    if text == "+":
        return ["+"]
    plus = text.endswith("++")
    parts = (text[:-2] if plus else text).split("+") + (["+"] if plus else [])
    if any(not part.strip() for part in parts):
        raise ValueError(f"{keys!r} is not a key combination; join key names with '+', e.g. 'ctrl+s'")
    return parts


class Computer(Protocol):
    """What an executor does, in screen pixels; one method per verb."""

    def click(self, point: Point, button: str, count: int) -> None: ...
    def move(self, point: Point) -> None: ...
    def drag(self, start: Point, end: Point) -> None: ...
    def scroll(self, point: Point, direction: str, steps: int) -> None: ...
    def keypress(self, keys: list[str]) -> None: ...
    def type_text(self, text: str) -> None: ...
    def wait(self, seconds: float) -> None: ...


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def points(self) -> dict[str, Point]:
        """The model-space points this action acts on, by name."""
        return {}

    @property
    def ends_run(self) -> bool:
        return False


def _box(point: Point) -> str:
    return f"[{point[0]},{point[1]}]"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{escaped}'"


class Click(_Action):
    type: Literal["click"] = "click"
    point: ModelPoint
    button: Literal["left", "right", "middle"] = "left"
    element_info: str = ""

    def points(self):
        return {"point": self.point}

    def call(self) -> str:
        return f"{self.button}_click(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.click(to_screen(self.point), self.button, 1)


class DoubleClick(_Action):
    type: Literal["double_click"] = "double_click"
    point: ModelPoint
    element_info: str = ""

    def points(self):
        return {"point": self.point}

    def call(self) -> str:
        return f"left_double_click(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.click(to_screen(self.point), "left", 2)


class Hover(_Action):
    type: Literal["hover"] = "hover"
    point: ModelPoint
    element_info: str = ""

    def points(self):
        return {"point": self.point}

    def call(self) -> str:
        return f"hover(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.move(to_screen(self.point))


class Drag(_Action):
    type: Literal["drag"] = "drag"
    start: ModelPoint
    end: ModelPoint
    element_info: str = ""

    def points(self):
        return {"start": self.start, "end": self.end}

    def call(self) -> str:
        return (f"left_drag(start_box='{_box(self.start)}', end_box='{_box(self.end)}', "
                f"element_info={_quote(self.element_info)})")

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.drag(to_screen(self.start), to_screen(self.end))


class Key(_Action):
    type: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1)

    @field_validator("keys", mode="before")
    @classmethod
    def _known_keys(cls, value):
        names = split_chord(value) if isinstance(value, str) else list(value)
        return [normalise_key(name) for name in names]

    def call(self) -> str:
        return f"key(keys='{'+'.join(self.keys)}')"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.keypress(self.keys)


class TypeText(_Action):
    type: Literal["type"] = "type"
    content: str = Field(min_length=1)

    def call(self) -> str:
        return f"type(content={_quote(self.content)})"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.type_text(self.content)


class Scroll(_Action):
    type: Literal["scroll"] = "scroll"
    point: ModelPoint
    direction: Literal["up", "down", "left", "right"]
    steps: int = Field(default=5, ge=1, le=50)
    element_info: str = ""

    def points(self):
        return {"point": self.point}

    def call(self) -> str:
        return (f"scroll(start_box='{_box(self.point)}', direction='{self.direction}', "
                f"step={self.steps}, element_info={_quote(self.element_info)})")

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.scroll(to_screen(self.point), self.direction, self.steps)


class Wait(_Action):
    type: Literal["wait"] = "wait"
    seconds: float = Field(default=5.0, gt=0, le=60)

    def call(self) -> str:
        return "WAIT()"

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        computer.wait(self.seconds)


class Done(_Action):
    type: Literal["done"] = "done"

    def call(self) -> str:
        return "DONE()"

    @property
    def ends_run(self) -> bool:
        return True

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        pass


class Fail(_Action):
    type: Literal["fail"] = "fail"

    def call(self) -> str:
        return "FAIL()"

    @property
    def ends_run(self) -> bool:
        return True

    def perform(self, computer: Computer, to_screen: ToScreen) -> None:
        pass


Action = Annotated[
    Union[Click, DoubleClick, Hover, Drag, Key, TypeText, Scroll, Wait, Done, Fail],
    Field(discriminator="type"),
]
ACTION = TypeAdapter(Action)
