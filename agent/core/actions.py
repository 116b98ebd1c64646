"""The GLM-4.5V desktop action space as typed models.

Points are in model space (per-mille of the image the model saw, 0-999). Validation lives here:
an action that exists has coordinates in range, key names the executors know and text to type.
Each action knows its GLM call text, how to perform itself on a `Computer`, and its `Traits`: what
the code around it (confirmation, snap, re-grounding, the loop) asks of it, so no caller lists classes.

GLM_CALLS, at the end, is the one definition of the calls the model makes (name, parameters,
how the arguments become an action): the text prompt's action space (prompt.py), the reply
parser (reply.py) and the OpenAI tools (tools.py) are all made from it.
"""

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from agent.core import strict_json
from agent.core.computer import Computer as Computer  # re-exported: a caller's own action performs on one
from agent.core.computer import ComputerBase
from agent.core.defaults import Status
from agent.core.geometry import Point

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Traits:
    """What the code around an action asks of it, answered in each action class's own body with every
    answer given (`traits = Traits(...)`), so a new action is one class and one that leaves a question
    open fails where it is defined, not in the caller that forgot it."""

    point_fields: tuple[str, ...]  # the fields holding the points it acts at, the main one first; () for none
    target_field: str | None  # the field whose words name the element it acts on (element_info)
    text_field: str | None  # the field holding text it types at the keyboard focus
    keys_field: str | None  # the field holding keys it presses at the keyboard focus
    focuses: bool  # the keys of the steps after it go where it acted (a click into a field)
    snaps: bool  # a model's point may be moved onto the on-screen text its target names (planners/snap.py)
    confirm_target: bool  # its target's words are checked against the confirmation policy's element words
    idle: bool  # it does nothing to the desktop: no yes is asked for it; repeating it on a still screen is fine
    ends_with: Status | None  # the status a run ends with once it is done; None: the run goes on


class BaseAction(BaseModel):
    """An action: its fields, its `traits`, its GLM call text (`call()`) and `perform()` on a Computer."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    traits: ClassVar[Traits]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        traits = vars(cls).get("traits")
        if not isinstance(traits, Traits):
            raise TypeError(f"{cls.__name__} does not give its own traits: write traits = Traits(...) in its body, "
                            f"answering each of {', '.join(f.name for f in fields(Traits))}")
        named = (*traits.point_fields, traits.target_field, traits.text_field, traits.keys_field)
        if unknown := [name for name in named if name and name not in cls.model_fields]:
            raise TypeError(f"{cls.__name__}'s traits name fields it does not have: {', '.join(unknown)}")

    def points(self) -> dict[str, Point]:
        """The model-space points this action acts on, by name, the main one first."""
        return {name: getattr(self, name) for name in self.traits.point_fields}

    @property
    def target_text(self) -> str:
        """The words naming the element it acts on, as the model or the recording said them."""
        return getattr(self, self.traits.target_field) if self.traits.target_field else ""

    @property
    def typed_text(self) -> str:
        return getattr(self, self.traits.text_field) if self.traits.text_field else ""

    @property
    def pressed_keys(self) -> list[str]:
        return getattr(self, self.traits.keys_field) if self.traits.keys_field else []

    @property
    def ends_run(self) -> bool:
        return self.traits.ends_with is not None


def _box(point: Point) -> str:
    return f"[{point[0]},{point[1]}]"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t")
    return f"'{escaped}'"


class Click(BaseAction):
    type: Literal["click"] = "click"
    traits = Traits(point_fields=("point",), target_field="element_info", text_field=None, keys_field=None,
                    focuses=True, snaps=True, confirm_target=True, idle=False, ends_with=None)
    point: ModelPoint
    button: Literal["left", "right", "middle"] = "left"
    element_info: str = ""

    def call(self) -> str:
        return f"{self.button}_click(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.click(to_screen(self.point), self.button, 1)


class DoubleClick(BaseAction):
    type: Literal["double_click"] = "double_click"
    traits = Traits(point_fields=("point",), target_field="element_info", text_field=None, keys_field=None,
                    focuses=True, snaps=True, confirm_target=True, idle=False, ends_with=None)
    point: ModelPoint
    element_info: str = ""

    def call(self) -> str:
        return f"left_double_click(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.click(to_screen(self.point), "left", 2)


class Hover(BaseAction):
    type: Literal["hover"] = "hover"
    traits = Traits(point_fields=("point",), target_field="element_info", text_field=None, keys_field=None,
                    focuses=False, snaps=False, confirm_target=False, idle=False, ends_with=None)
    point: ModelPoint
    element_info: str = ""

    def call(self) -> str:
        return f"hover(start_box='{_box(self.point)}', element_info={_quote(self.element_info)})"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.move(to_screen(self.point))


class Drag(BaseAction):
    type: Literal["drag"] = "drag"
    traits = Traits(point_fields=("start", "end"), target_field="element_info", text_field=None, keys_field=None,
                    focuses=False, snaps=False, confirm_target=False, idle=False, ends_with=None)
    start: ModelPoint
    end: ModelPoint
    element_info: str = ""

    def call(self) -> str:
        return (f"left_drag(start_box='{_box(self.start)}', end_box='{_box(self.end)}', "
                f"element_info={_quote(self.element_info)})")

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.drag(to_screen(self.start), to_screen(self.end))


class Key(BaseAction):
    type: Literal["key"] = "key"
    traits = Traits(point_fields=(), target_field=None, text_field=None, keys_field="keys", focuses=False,
                    snaps=False, confirm_target=False, idle=False, ends_with=None)
    keys: list[str] = Field(min_length=1)

    @field_validator("keys", mode="before")
    @classmethod
    def _known_keys(cls, value):
        names = split_chord(value) if isinstance(value, str) else list(value)
        return [normalise_key(name) for name in names]

    def call(self) -> str:
        return f"key(keys='{'+'.join(self.keys)}')"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.keypress(self.keys)


class TypeText(BaseAction):
    type: Literal["type"] = "type"
    traits = Traits(point_fields=(), target_field=None, text_field="content", keys_field=None, focuses=False,
                    snaps=False, confirm_target=False, idle=False, ends_with=None)
    content: str = Field(min_length=1)

    def call(self) -> str:
        return f"type(content={_quote(self.content)})"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.type_text(self.content)


class Scroll(BaseAction):
    type: Literal["scroll"] = "scroll"
    traits = Traits(point_fields=("point",), target_field="element_info", text_field=None, keys_field=None,
                    focuses=False, snaps=False, confirm_target=False, idle=False, ends_with=None)
    point: ModelPoint
    direction: Literal["up", "down", "left", "right"]
    steps: int = Field(default=5, ge=1, le=50)
    element_info: str = ""

    def call(self) -> str:
        return (f"scroll(start_box='{_box(self.point)}', direction='{self.direction}', "
                f"step={self.steps}, element_info={_quote(self.element_info)})")

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.scroll(to_screen(self.point), self.direction, self.steps)


class Wait(BaseAction):
    type: Literal["wait"] = "wait"
    traits = Traits(point_fields=(), target_field=None, text_field=None, keys_field=None, focuses=False,
                    snaps=False, confirm_target=False, idle=True, ends_with=None)
    seconds: float = Field(default=5.0, gt=0, le=60)

    def call(self) -> str:
        return "WAIT()"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.wait(self.seconds)


class Done(BaseAction):
    type: Literal["done"] = "done"
    traits = Traits(point_fields=(), target_field=None, text_field=None, keys_field=None, focuses=False,
                    snaps=False, confirm_target=False, idle=True, ends_with=Status.DONE)

    def call(self) -> str:
        return "DONE()"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        pass


class Fail(BaseAction):
    type: Literal["fail"] = "fail"
    traits = Traits(point_fields=(), target_field=None, text_field=None, keys_field=None, focuses=False,
                    snaps=False, confirm_target=False, idle=True, ends_with=Status.FAILED)

    def call(self) -> str:
        return "FAIL()"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        pass


class RunSkill(BaseAction):
    """A named routine from skills/, as one step for the model (offered only with --skills)."""

    type: Literal["skill"] = "skill"
    traits = Traits(point_fields=(), target_field=None, text_field=None, keys_field=None, focuses=False,
                    snaps=False, confirm_target=False, idle=False, ends_with=None)
    name: str = Field(min_length=1)
    params: dict[str, str] = {}

    @field_validator("params", mode="before")
    @classmethod
    def _json_object(cls, value):
        if isinstance(value, str):
            try:
                value = strict_json.loads(value or "{}")
            except (ValueError, RecursionError):
                raise ValueError(f"params must be a JSON object like '{{\"name\": \"Ada\"}}', not {value!r}") from None
        if not isinstance(value, dict):
            raise ValueError("params must be a JSON object of parameter names and values")
        try:
            return {str(k): v if isinstance(v, str) else json.dumps(v, allow_nan=False) for k, v in value.items()}
        except ValueError:
            raise ValueError("params must hold finite numbers, not NaN or Infinity") from None

    def call(self) -> str:
        return f"skill(name={_quote(self.name)}, params={_quote(json.dumps(self.params, ensure_ascii=False))})"

    def perform(self, computer: ComputerBase, to_screen: ToScreen) -> None:
        computer.run_skill(self.name, self.params)


Action = Annotated[
    Click | DoubleClick | Hover | Drag | Key | TypeText | Scroll | Wait | Done | Fail | RunSkill,
    Field(discriminator="type"),
]
ACTION = TypeAdapter(Action)
ACTION_CLASSES: tuple[type[BaseAction], ...] = get_args(get_args(Action)[0])  # every action, as the union lists them


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a GLM call. A point is written '[x,y]' in the text dialect and [x, y] (or a
    box [x1, y1, x2, y2]) in the tools dialect; text and integers are written alike in both."""

    name: str
    kind: Literal["point", "text", "integer", "object"]
    description: str
    required: bool = True
    default: str | int | None = None
    choices: tuple[str, ...] = ()
    limits: tuple[int, int] | None = None
    example: str = ""  # the value the call rule shows; by default made from the kind

    @property
    def shown(self) -> str:
        if self.example:
            return self.example
        if self.kind == "point":
            return "'[x,y]'"
        if self.choices:
            return "'" + " or ".join(self.choices) + "'"
        return "''" if self.default is None or self.default == "" else repr(self.default)

    def schema(self, point: dict) -> dict:
        """The JSON schema of the value; `point` is the dialect's schema of a point."""
        if self.kind == "point":
            return point | {"description": f"{self.description}, {point['description']}"}
        kinds = {"integer": "integer", "object": "object"}
        schema: dict[str, Any] = {"type": kinds.get(self.kind, "string"), "description": self.description}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.limits:
            schema["minimum"], schema["maximum"] = self.limits
        if not self.required:
            schema["default"] = self.default
        return schema


@dataclass(frozen=True, slots=True)
class GLMCall:
    """A call of the GLM-4.5V desktop action space, defined once for both dialects."""

    name: str  # as the model was trained to write it: left_click, WAIT, ...
    description: str
    params: tuple[Param, ...]
    build: Callable[[dict], "Action"]  # from the arguments read into values, defaults filled in
    always: bool = True  # False: offered to the model only on request (skills)

    @property
    def rule(self) -> str:
        """The text dialect's call rule, e.g. left_click(start_box='[x,y]', element_info='')."""
        return f"{self.name}({', '.join(f'{p.name}={p.shown}' for p in self.params)})"

    def describe(self, secrets: list[str] | None = None) -> str:
        """The description the model reads; with `secrets` (their names), `type` says how to type one."""
        if self.name != "type" or not secrets:
            return self.description
        names = ", ".join("{{" + name + "}}" for name in secrets)
        return (f"{self.description} {{{{NAME}}}} in content types the secret NAME, which you never see "
                f"(secrets given: {names}).")

    def parameters(self, point: dict) -> dict:
        """The JSON schema of the arguments; `point` is the dialect's schema of a point."""
        return {"type": "object", "properties": {p.name: p.schema(point) for p in self.params},
                "required": [p.name for p in self.params if p.required]}


def _pointed(action: Callable[..., "Action"], **fixed) -> Callable[[dict], "Action"]:
    return lambda v: action(point=v["start_box"], element_info=v["element_info"], **fixed)


_AT = Param("start_box", "point", "the point to act on")
_INFO = Param("element_info", "text", "short description of the target element", required=False, default="")

GLM_CALLS = (
    GLMCall("left_click", "Click the left mouse button at a point.", (_AT, _INFO), _pointed(Click, button="left")),
    GLMCall("right_click", "Click the right mouse button at a point.", (_AT, _INFO), _pointed(Click, button="right")),
    GLMCall("middle_click", "Click the middle mouse button at a point.", (_AT, _INFO),
            _pointed(Click, button="middle")),
    GLMCall("hover", "Move the pointer to a point without clicking.", (_AT, _INFO), _pointed(Hover)),
    GLMCall("left_double_click", "Double-click at a point.", (_AT, _INFO), _pointed(DoubleClick)),
    GLMCall("left_drag", "Press the left button at start_box, move to end_box and release.",
            (Param("start_box", "point", "where the drag starts", example="'[x1,y1]'"),
             Param("end_box", "point", "where the drag ends", example="'[x2,y2]'"), _INFO),
            lambda v: Drag(start=v["start_box"], end=v["end_box"], element_info=v["element_info"])),
    GLMCall("key", "Press a key or a combination joined by '+', e.g. 'ctrl+c', 'alt+tab', 'enter'.",
            (Param("keys", "text", "key names joined by '+'"),), lambda v: Key(keys=v["keys"])),
    GLMCall("type", "Type text at the keyboard focus. It does not click or clear the field first.",
            (Param("content", "text", "the text to type"),), lambda v: TypeText(content=v["content"])),
    GLMCall("scroll", "Scroll the wheel over a point; step is the number of wheel notches.",
            (_AT, Param("direction", "text", "which way to scroll", choices=("down", "up")),
             Param("step", "integer", "number of wheel notches", required=False, default=5, limits=(1, 50)), _INFO),
            lambda v: Scroll(point=v["start_box"], direction=v["direction"], steps=v["step"],
                             element_info=v["element_info"])),
    GLMCall("WAIT", "Wait about 5 seconds for the screen to change.", (), lambda v: Wait()),
    GLMCall("DONE", "The task is finished.", (), lambda v: Done()),
    GLMCall("FAIL", "The task cannot be done.", (), lambda v: Fail()),
    GLMCall("skill", "Run one of the skills listed below: a whole routine as one step.",
            (Param("name", "text", "the skill's name"),
             Param("params", "object", "its parameters: a JSON object of names and values", required=False,
                   default="{}")),
            lambda v: RunSkill(name=v["name"], params=v["params"]), always=False),
)
GLM_CALL = {call.name.lower(): call for call in GLM_CALLS}  # read case-insensitively: wait() is WAIT()


def offered_calls(skills: list[dict] | None = None) -> list[GLMCall]:
    """The calls the model is told about: all but `skill`, which comes with a list of skills."""
    return [call for call in GLM_CALLS if call.always or skills]


def secret_names(recorded) -> list[str]:
    """The secrets' names as an episode's settings record them (`secrets`); anything but names is none."""
    if not isinstance(recorded, list):
        return []
    return [name for name in recorded if isinstance(name, str) and re.fullmatch(r"\w+", name)]


def skills_text(skills: list[dict]) -> str:
    """One line per skill (as Skill.describe() gives them): name(parameters): what it does."""
    def param(p: dict) -> str:
        return f"{p['name']}: {p['type']}" + ("" if p["default"] is None else f" = {p['default']!r}")
    return "\n".join(f"- {s['name']}({', '.join(param(p) for p in s['params'])}): {s['description']}"
                     for s in skills)
