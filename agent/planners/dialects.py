"""The model dialects by name: how a step's request is written and its reply read, over the transport
they share (agent.planners.transport). RunOptions.protocol and `--protocol NAME` choose one; resume
and replay find an episode's by the planner name its header records.

A dialect is one module holding a subclass of transport.Dialect marked @register("NAME"): the built-in
ones (`text`: agent.planners.glm, `tools`: agent.planners.glm_tools), one added here as
agent/planners/dialect_NAME.py, or a module of the caller's own, imported before
`agent.run(protocol="NAME")`. The names are known without importing anything, so that `gui-agent
--help` stays fast (entry points would cost importlib.metadata, 35 ms); a module is imported when its
dialect is first asked for.
"""

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agent.core.errors import AgentError

if TYPE_CHECKING:  # the transport (openai) is imported with the first dialect, not to list the names
    from agent.planners.transport import Dialect

BUILT_IN = {"text": "agent.planners.glm", "tools": "agent.planners.glm_tools"}  # name: the module registering it
ADDED = "dialect_"  # agent/planners/dialect_NAME.py registers NAME
ADDED_IN = {Path(__file__).parent: __package__}  # the folders looked in for such files: their packages
_DIALECTS: dict[str, type["Dialect"]] = {}
DialectClass = TypeVar("DialectClass", bound=type["Dialect"])


def register(protocol: str):
    """Class decorator: the dialect is chosen by `protocol`; its `name` (the planner name episodes record)
    is `protocol` unless it sets its own."""
    def add(cls: DialectClass) -> DialectClass:
        held = _DIALECTS.get(protocol)
        if held is not None and (held.__module__, held.__qualname__) != (cls.__module__, cls.__qualname__):
            raise AgentError(f"dialect {protocol!r} is registered twice: by {held.__module__} and {cls.__module__}")
        cls.protocol, cls.name = protocol, cls.__dict__.get("name") or protocol
        _DIALECTS[protocol] = cls
        return cls
    return add


def names() -> list[str]:
    """The dialects' names, registered or not imported yet."""
    return sorted({*BUILT_IN, *_added(), *_DIALECTS})


def dialect(protocol: str) -> type["Dialect"]:
    """The dialect's class, its module imported if need be; AgentError naming the choices."""
    if protocol not in _DIALECTS:
        module = BUILT_IN.get(protocol) or _added().get(protocol)
        if module is None:
            raise AgentError(f"no dialect {protocol!r}; choose {', '.join(names())}")
        _import(module)
        if protocol not in _DIALECTS:
            raise AgentError(f"{module} registers no dialect {protocol!r}")
    return _DIALECTS[protocol]


def of_episode(episode) -> type["Dialect"] | None:
    """The dialect that planned an episode, by the planner name its header records (the built-in ones
    looked at first); None for other planners."""
    planner = episode.header.get("planner")
    for protocol in dict.fromkeys([*BUILT_IN, *_DIALECTS, *_added()]):
        if (found := dialect(protocol)).name == planner:
            return found
    return None


def _added() -> dict[str, str]:
    return {path.stem.removeprefix(ADDED): ".".join(filter(None, [package, path.stem]))
            for folder, package in ADDED_IN.items() for path in sorted(folder.glob(f"{ADDED}*.py"))}


def _import(module: str) -> None:
    try:
        import_module(module)
    except ImportError as error:
        raise AgentError(f"the dialect module {module} does not load: {error}") from None
