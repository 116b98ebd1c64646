"""A run's options, declared once: `agent.run(max_steps=5)` and `gui-agent run --max-steps 5` both come
from the field `max_steps` below. The CLI makes each field a flag (agent.cli.add_options): `--max-steps`,
its help the field's docstring, its default, type and choices the field's; `Flag` says what the field
cannot (a flag named otherwise, a file that must exist). A new option is a field here and the code that
uses it. A stdlib dataclass and no pydantic, so that `gui-agent run --help` imports nothing heavy; the
API checks and converts the types with pydantic (options_of, below)."""

import ast
import difflib
import sys
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from agent.core.defaults import DEFAULT_STOP_KEYS, SKILLS_DIR, TARGET_TIMEOUT
from agent.core.errors import AgentError
from agent.core.settings import settings
from agent.planners import dialects


@dataclass(frozen=True)
class AtLeast:
    """A number's bound: at least `least`, or with `more_than`, more than it."""

    least: float
    more_than: bool = False

    def refused(self, value: float) -> str | None:
        if value > self.least or (value == self.least and not self.more_than):
            return None
        return f"Input should be greater than {'' if self.more_than else 'or equal to '}{self.least:g}"


@dataclass(frozen=True)
class Flag:
    """What the command line needs that the field's name, type and default do not say."""

    name: str | None = None
    """The flag, where it is not --FIELD-NAME (or --no-FIELD-NAME for a field that is on by default)."""
    metavar: str | None = None
    bare: Any = None
    """The value of the flag given without one (argparse's nargs='?' and const)."""
    choices: Callable[[], list[str]] | None = None
    """The values allowed, where they are known only when asked (registered ones)."""
    existing: bool = False
    """A file that must be there."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """A run's options, named as the CLI's flags. Each docstring is its flag's help."""

    __pydantic_config__ = {"extra": "forbid"}  # a plain dict: pydantic's ConfigDict is a TypedDict

    model: str | None = None
    """model name the endpoint serves (default: glm-4.5v), or 'local' for the embedded OCR planner (the default
    when no endpoint or key is configured)"""
    base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. https://api.z.ai/api/paas/v4 or http://HOST:8000/v1 (default:
    $GUI_AGENT_BASE_URL, else Z.ai when a key is set)"""
    api_key: str | None = field(default_factory=lambda: settings().api_key, repr=False)
    """API key (default: $GUI_AGENT_API_KEY, then $ZAI_API_KEY); never written to disk"""
    thinking: bool | None = None
    """think before answering (GLM-4.5V's thinking mode; default: on)"""
    reply_tokens: Annotated[int | None, AtLeast(1)] = None
    """output token limit per reply (default: 8192)"""
    timeout: Annotated[float | None, AtLeast(0, more_than=True)] = None
    """seconds for one whole reply (default: 180)"""
    retries: Annotated[int | None, AtLeast(0)] = None
    """retries of a failed request, with backoff (default: 4)"""
    protocol: Annotated[str, Flag(choices=dialects.names)] = "text"
    """how the model gives its actions: 'text', the action call in the reply as GLM-4.5V's GUI agent was trained
    (default), or 'tools', OpenAI tool calls (servers started with --tool-call-parser glm45, hosted function
    calling), or another registered dialect (agent.planners.dialects)"""
    tool_choice: Literal["required", "auto"] = "required"
    """with --protocol tools: 'required' (default), or 'auto' for servers that refuse it (an HTTP 400 about
    tool_choice switches to 'auto' by itself)"""
    skills: Annotated[Path | None, Flag(metavar="DIR", bare=SKILLS_DIR)] = None
    """offer the model the skills in DIR (default: $GUI_AGENT_SKILLS, else the project's skills/) as the skill(...)
    action"""
    python_skills: bool = False
    """load Python skills (SKILLS/*.py) too; loading runs their code, so only for folders you trust"""
    snap: bool = True
    """move a model's click onto the on-screen text its element_info names"""
    target_timeout: Annotated[float, AtLeast(0, more_than=True)] = TARGET_TIMEOUT
    """seconds to wait for a target to appear, and with the embedded planner for a button to look enabled"""
    max_steps: Annotated[int, AtLeast(1)] = 30
    """stop after this many model replies"""
    max_seconds: Annotated[float | None, AtLeast(0, more_than=True)] = None
    """stop after this many seconds (default: no limit)"""
    max_tokens: Annotated[int | None, AtLeast(1)] = None
    """stop once this many tokens are used: reported usage, or the image-token estimate where none is reported
    (default: no limit)"""
    display: str | None = field(default_factory=lambda: settings().display)
    """X display to act on (default: $DISPLAY)"""
    monitor: Annotated[int, AtLeast(1)] = 1
    """monitor number on that display"""
    out: Path | None = None
    """episode folder (default: a new folder under ./runs/)"""
    dry_run: bool = False
    """perform nothing; record what would have been done"""
    report: bool = True
    """write report.html in the episode folder at the end"""
    confirm: Literal["ask", "never", "always"] = "ask"
    """which actions need a yes: those the policy matches (default), every one, or none; asked on the terminal"""
    yes: bool = False
    """allow actions that need confirmation without asking"""
    confirm_policy: Annotated[Path | None, Flag(existing=True)] = None
    """a TOML file replacing the default confirmation policy"""
    secrets: Annotated[dict[str, str], Flag(name="--secret", metavar="NAME=VALUE")] = field(
        default_factory=dict, repr=False)
    """a value typed where an action writes {{NAME}}, never shown to a model nor written anywhere (repeatable;
    also from $GUI_AGENT_SECRET_NAME)"""
    stop_keys: str = DEFAULT_STOP_KEYS
    """key chord that stops the run at once ('none' to disable)"""

    def __post_init__(self):
        for name, option in described(type(self)).items():  # type: ignore[arg-type]  # a class is hashable; mypy checks the instances' __hash__
            value = getattr(self, name)
            if option.bound and isinstance(value, (int, float)) and (problem := option.bound.refused(value)):
                raise AgentError(f"option {name}: {problem}")
        if self.protocol not in dialects.names():
            raise AgentError(f"option protocol: no dialect {self.protocol!r}; choose {', '.join(dialects.names())}")


@dataclass(frozen=True)
class Described:
    """A field of RunOptions as the command line shows it."""

    name: str
    kind: type
    """the value's type, None taken away (int for `int | None`)"""
    default: Any
    """the field's default; None where a factory makes it when the run starts (from the environment)"""
    help: str
    bound: AtLeast | None
    flag: Flag
    choices: tuple | None
    """a Literal's values"""


@cache
def described(options: type) -> dict[str, Described]:
    """The fields of `options` (RunOptions or a subclass) with their docstrings, by name."""
    hints, helps = get_type_hints(options, include_extras=True), docstrings(options)
    found = {}
    for one in fields(options):
        kind, extras = hints[one.name], []
        if get_origin(kind) is Annotated:
            kind, *extras = get_args(kind)
        if get_origin(kind) in (Union, UnionType):  # X | None
            kind = next(part for part in get_args(kind) if part is not type(None))
        found[one.name] = Described(
            one.name, get_origin(kind) or kind, None if one.default is MISSING else one.default,
            helps.get(one.name, ""), next((x for x in extras if isinstance(x, AtLeast)), None),
            next((x for x in extras if isinstance(x, Flag)), Flag()),
            get_args(kind) if get_origin(kind) is Literal else None)
    return found


def docstrings(options: type) -> dict[str, str]:
    """The docstring under each field of `options` and of the classes it derives from, read from their source."""
    helps: dict[str, str] = {}
    for cls in reversed(options.__mro__[:-1]):
        source = Path(sys.modules[cls.__module__].__file__ or "").read_text(encoding="utf-8")
        body = next(node.body for node in ast.walk(ast.parse(source))
                    if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
        for above, below in zip(body, body[1:]):
            if isinstance(above, ast.AnnAssign) and isinstance(above.target, ast.Name) \
                    and isinstance(below, ast.Expr) and isinstance(below.value, ast.Constant):
                helps[above.target.id] = " ".join(str(below.value.value).split())
    return helps


def options_of(given: dict) -> RunOptions:
    """RunOptions from keywords, their types checked and converted (a str to a Path, "5" to 5); AgentError
    naming the first one that is wrong."""
    from pydantic import TypeAdapter, ValidationError

    names = [one.name for one in fields(RunOptions)]
    for name in given.keys() - set(names):
        close = difflib.get_close_matches(name, names, n=1)
        raise AgentError(f"option {name}: no such option" + (f" (did you mean {close[0]}?)" if close else ""))
    try:
        return TypeAdapter(RunOptions).validate_python(given)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "options"
        raise AgentError(f"option {where}: {problem['msg']}") from None
