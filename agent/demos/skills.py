"""Skills: named routines run with parameters.

Two kinds, listed and run alike:
- a demonstration skill is an episode (a demonstration or an agent run) promoted with
  `add_skill`: every typed occurrence of a parameter's recorded value becomes {name}. It lives in
  SKILLS/NAME/ (the episode, its screenshots and target crops, and skill.json with name,
  description, params) and runs as a replay with the values filled in;
- a Python skill is a function in SKILLS/*.py marked with @skill. Its first parameter is the
  SkillContext it acts through; the others, typed str, int, float or bool, are its parameters.
  Loading one runs the file's code, so Python skills are loaded only when asked (`python=True`,
  the command line's --python-skills).
"""

import importlib.util
import inspect
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from agent.core import actions as a
from agent.core import strict_json
from agent.core.computer import ComputerWrapper
from agent.core.defaults import SKILLS_DIR, Outcome, PlannerKind, Status
from agent.core.desktop import Desktop, open_desktop
from agent.core.episode import EPISODE_FILE, odd_value, problem, read_episode, read_plain_file
from agent.core.errors import ActionError, AgentError, Interrupted
from agent.core.planner import Decision
from agent.core.screen import Frame
from agent.demos.reground import Looking, Target, act_on_screen, replay_demonstration, replayed
from agent.demos.versions import SKILL_FILE, placeholders
from agent.planners.glm import GLMConfig

SKILL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
PARAM_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
NOT_COPIED = ("report.html", "report-thumbs", "replay.gif")
MAX_SKILL_FILE_BYTES = 1 << 20
MAX_PARAMS = 100


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str = "str"
    default: str | int | float | bool | None = None  # None: the value must be given

    def read(self, text: str):
        """The value of this parameter from its text (a command line's NAME=VALUE)."""
        if self.type == "bool":
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise AgentError(f"parameter {self.name} is a bool; give true or false, not {text!r}")
            return text.lower() in ("true", "yes", "1")
        try:
            return PARAM_TYPES[self.type](text)
        except ValueError:
            raise AgentError(f"parameter {self.name} is {self.type}; {text!r} is not one") from None


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    params: tuple[Param, ...]
    path: Path  # the demonstration skill's folder, or the Python skill's file
    function: Callable | None = None

    @property
    def kind(self) -> str:
        return "python" if self.function else "demonstration"

    def bind(self, given: dict) -> dict:
        """The parameters' values: given ones (text is read by type), defaults for the rest."""
        known = {p.name: p for p in self.params}
        if unknown := sorted(set(given) - set(known)):
            raise AgentError(f"skill {self.name} has no parameter {', '.join(unknown)}; "
                             f"its parameters: {', '.join(known) or 'none'}")
        values = {}
        for param in self.params:
            if param.name in given:
                value = given[param.name]
                values[param.name] = param.read(value) if isinstance(value, str) else value
            elif param.default is not None:
                values[param.name] = param.default
            else:
                raise AgentError(f"skill {self.name} needs {param.name}=VALUE")
        return values

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "params": [{"name": p.name, "type": p.type, "default": p.default} for p in self.params]}


def skill(function: Callable) -> Callable:
    """Marks a function in SKILLS/*.py as a skill: `def name(ctx: SkillContext, text: str, times: int = 1)`."""
    params = []
    for param in list(inspect.signature(function).parameters.values())[1:]:
        type_name = getattr(param.annotation, "__name__", str(param.annotation))
        if type_name not in PARAM_TYPES:
            raise TypeError(f"skill {function.__name__}: parameter {param.name} must be typed str, int, float "
                            f"or bool, not {type_name}")
        default = None if param.default is inspect.Parameter.empty else param.default
        params.append(Param(param.name, type_name, default))
    description = (inspect.getdoc(function) or "").split("\n\n")[0].replace("\n", " ")
    path = Path(inspect.getfile(function))
    function.skill = Skill(function.__name__, description, tuple(params), path, function)  # type: ignore[attr-defined]
    return function


class SkillContext:
    """What a Python skill acts through. Every action becomes a step of the skill's episode; a
    text to click is waited for and never guessed. The skill's calls are taken down first, then done
    in order by the loop (SkillPlanner): a skill reads nothing from the screen through its context."""

    def __init__(self, looking: Looking):
        self.looking = looking
        self.calls: list[Callable[[Frame], Decision]] = []  # each call's decision, made when its turn comes

    def click(self, text: str, button: str = "left", count: int = 1) -> None:
        """Clicks the text on the screen (OCR), waiting for it to appear."""
        def decide(given: Frame) -> Decision:
            monitor = given.monitor
            near = (monitor.left + monitor.width // 2, monitor.top + monitor.height // 2)
            frame, found = self.looking.wait_for(given, Target(near, None, (0, 0), text, (0, 0), None),
                                                 f"click {text!r}")
            point = frame.geometry.screen_to_model(found.point)
            action = a.DoubleClick(point=point, element_info=text) if count == 2 else \
                a.Click(point=point, button=button, element_info=text)
            return replayed(action, frame, given, grounding={"method": found.method, "score": found.score})
        self.calls.append(decide)

    def type(self, text: str) -> None:
        self.calls.append(lambda frame: replayed(a.TypeText(content=text)))

    def key(self, keys: str) -> None:
        self.calls.append(lambda frame: replayed(a.Key(keys=keys)))


class SkillPlanner:
    """Does a Python skill's calls, one decision each; the run ends done after the last, or with the
    error the skill raised after the calls it made before it."""

    name: str = PlannerKind.SKILL

    def __init__(self, function: Callable, values: dict, looking: Looking):
        context, self.error = SkillContext(looking), None
        try:
            function(context, **values)
        except Exception as error:
            self.error = error
        self.calls = context.calls

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        if not self.calls:
            if self.error is not None:
                raise self.error
            return replayed(a.Done())  # a skill that does nothing
        decision = self.calls.pop(0)(frame)
        if not self.calls and self.error is None:
            decision.ends_with = Status.DONE
        return decision


def load_python_skills(path: Path) -> list[Skill]:
    spec = importlib.util.spec_from_file_location(f"gui_agent_skills.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise AgentError(f"cannot load skills from {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise AgentError(f"cannot load skills from {path}: {type(error).__name__}: {error}") from None
    return [value.skill for value in vars(module).values() if isinstance(getattr(value, "skill", None), Skill)
            and value.skill.path == path]


def identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError("must be a name of letters, digits and _")
    return name


def plain_value(value):
    if value is not None and type(value) not in (str, bool, int, float):
        raise ValueError("must be text, a number, true or false")
    return value


class SkillFile(BaseModel):
    """SKILLS/NAME/skill.json, as add_skill writes it."""

    class Param(BaseModel):
        model_config = ConfigDict(strict=True, allow_inf_nan=False)
        name: Annotated[str, AfterValidator(identifier)]
        type: Literal["str", "int", "float", "bool"] = "str"
        default: Annotated[Any, AfterValidator(plain_value)] = None

    model_config = ConfigDict(strict=True)
    name: Annotated[str, Field(pattern=f"^{SKILL_NAME.pattern}$")]
    description: str = ""
    params: Annotated[list[Param], Field(max_length=MAX_PARAMS)] = []


def load_demonstration_skill(folder: Path) -> Skill:
    path = folder / SKILL_FILE
    try:
        data = strict_json.loads(read_plain_file(path, MAX_SKILL_FILE_BYTES, "a skill file"))
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
        if wrong := odd_value(data):
            raise ValueError(wrong)
        data = SkillFile.model_validate(data)
    except ValidationError as error:
        raise AgentError(f"{path} is not a readable skill: {problem(error)}") from None
    except (ValueError, RecursionError) as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error) or "it is nested too deep"
        raise AgentError(f"{path} is not a readable skill: {reason}") from None
    params = tuple(Param(p.name, p.type, p.default) for p in data.params)
    return Skill(data.name, data.description, params, folder)


def python_files(root: Path) -> list[Path]:
    """The files of Python skills under `root`, loaded or not."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.suffix == ".py" and not p.name.startswith("_"))


def list_skills(root: Path = SKILLS_DIR, python: bool = False) -> list[Skill]:
    """Every skill under `root`, by name; Python skills only with `python` (loading runs their code)."""
    root = Path(root)
    found: dict[str, Skill] = {}
    if not root.is_dir():
        return []
    for path in sorted(root.iterdir()):
        if (path / SKILL_FILE).is_file():
            skills = [load_demonstration_skill(path)]
        elif python and path in python_files(root):
            skills = load_python_skills(path.resolve())
        else:
            continue
        for one in skills:
            if one.name in found:
                raise AgentError(f"two skills are named {one.name}: in {found[one.name].path} and {one.path}")
            found[one.name] = one
    return sorted(found.values(), key=lambda s: s.name)


def find_skill(name: str, root: Path = SKILLS_DIR, python: bool = False) -> Skill:
    skills = {s.name: s for s in list_skills(root, python)}
    if name not in skills:
        unloaded = "" if python or not python_files(root) else (
            f" ({len(python_files(root))} Python skill files not loaded: "
            "--python-skills loads them, running their code)")
        raise AgentError(f"no skill named {name} in {root}; there are: {', '.join(skills) or 'none'}{unloaded}")
    return skills[name]


def add_skill(name: str, episode_dir: Path, params: dict[str, str], description: str = "",
              root: Path = SKILLS_DIR) -> Skill:
    """Promotes an episode to the skill NAME: each typed occurrence of a parameter's value becomes
    {parameter}, with the value as its default."""
    root = Path(root)
    if not SKILL_NAME.fullmatch(name):
        raise AgentError(f"skill name {name!r}: use letters, digits, - and _, starting with a letter")
    if (root / name).exists() or any(s.name == name for s in list_skills(root)):
        raise AgentError(f"there is already a skill named {name} in {root}")
    episode = read_episode(Path(episode_dir))
    if episode.end is None or episode.end["status"] != Status.DONE:
        raise AgentError(f"{episode.path} did not end done ({episode.end['status'] if episode.end else 'cut short'}); "
                         "only an episode that did its task can become a skill")
    typed = [s["action"]["content"] for s in episode.steps
             if s.get("outcome", Outcome.OK) == Outcome.OK and (s.get("action") or {}).get("type") == "type"]
    for param, value in params.items():
        if not param.isidentifier():
            raise AgentError(f"parameter name {param!r}: use letters, digits and _")
        if not value or not any(value in text for text in typed):
            raise AgentError(f"the value {value!r} of parameter {param} is typed nowhere in {episode.path}")
    shutil.copytree(episode.path, root / name, ignore=shutil.ignore_patterns(*NOT_COPIED))
    lines = []
    for line in (root / name / EPISODE_FILE).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "step":
            record = with_placeholders(record, params)
        lines.append(json.dumps(record, ensure_ascii=False))
    (root / name / EPISODE_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {"name": name, "description": description or episode.header.get("task", ""),
            "params": [{"name": p, "type": "str", "default": v} for p, v in params.items()],
            "source": str(episode.path)}
    (root / name / SKILL_FILE).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return load_demonstration_skill(root / name)


def with_placeholders(step: dict, params: dict[str, str]) -> dict:
    """The step with each typed value of a parameter, and each in its targets' text, as {name}."""
    action = step.get("action") or {}
    if action.get("type") == "type":
        typed = a.TypeText(content=placeholders(action["content"], params))
        step |= {"action": typed.model_dump(), "call": typed.call()}
    for target in (step.get("target") or {}).values():
        target["text"] = placeholders(target.get("text", ""), params)
    return step


def run_skill(name: str, params: dict, display: str | None, out: Path, root: Path = SKILLS_DIR,
              python: bool = False, repair: GLMConfig | None = None, **options) -> tuple[str, str]:
    """Runs the skill with these parameters (text values are read by the parameter's type) and
    writes its episode in `out`; a demonstration skill's lost targets are asked of the `repair` model,
    if given. `options` are act_on_screen's. Returns the status and message."""
    found = find_skill(name, root, python)
    values = found.bind(params)
    settings = {"skill": name, "params": values}
    function = found.function
    if function is None:
        return replay_demonstration(found.path, display, out, params={k: str(v) for k, v in values.items()},
                                    settings={"skill": name}, repair=repair, **options)
    if repair is not None:
        raise AgentError(f"only demonstration skills are repaired; {name} is a Python skill")

    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in values.items())})"
    return act_on_screen(display, out, lambda looking: SkillPlanner(function, values, looking), task=call,
                         settings=settings, **options)


class SkillRunner(ComputerWrapper):
    """Gives the computer of a run's desktop the `run_skill` verb the `skill` action needs: the skill
    runs on the same display through the same computer (the run's secrets typed and masked), on a
    screen of its own, its own episode in OUT/skill-NNN/."""

    def __init__(self, desktop: Desktop, out: Path, root: Path = SKILLS_DIR, python: bool = False):
        super().__init__(desktop.computer)
        self.desktop, self.out, self.root, self.python = desktop, Path(out), root, python
        self.runs = 0

    def run_skill(self, name: str, params: dict[str, str]) -> None:
        self.runs += 1
        display, monitor = self.desktop.display, self.desktop.screen.monitor_index
        try:
            desktop = open_desktop(display, monitor, computer=self.computer, mask=self.desktop.mask)
            try:
                status, message = run_skill(name, params, display, self.out / f"skill-{self.runs:03d}",
                                            root=self.root, python=self.python, monitor=monitor, desktop=desktop)
            finally:
                desktop.close()
        except AgentError as error:  # an unknown skill or a bad parameter: the model is told
            raise ActionError(str(error)) from None
        if status == Status.INTERRUPTED:
            raise Interrupted(message)
        if status != Status.DONE:
            raise ActionError(f"skill {name} ended {status}: {message}")
