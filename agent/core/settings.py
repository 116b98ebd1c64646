"""The environment variables the agent reads, each named once. `settings()` reads them when asked, not at
import, since `gui-agent eval`'s warm workers change the environment between runs. What a child process
is given (DISPLAY, XAUTHORITY) is passed to it as its environment, not read here."""

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_SKILLS = Path(__file__).resolve().parents[2] / "skills"
SECRET_PREFIX = "GUI_AGENT_SECRET_"


@dataclass(frozen=True)
class Settings:
    api_key: str | None = field(repr=False)
    """$GUI_AGENT_API_KEY, else $ZAI_API_KEY: the model endpoint's key."""
    keys: tuple[str, ...] = field(repr=False)
    """Both key variables' values, to be hidden wherever one is echoed."""
    base_url: str | None
    """$GUI_AGENT_BASE_URL: the model endpoint."""
    secrets: dict[str, str] = field(repr=False)
    """$GUI_AGENT_SECRET_NAME=VALUE: the secret NAME, typed where a task says {{NAME}}."""
    skills: Path
    """$GUI_AGENT_SKILLS, else the project's skills/: the skills folder."""
    prices: Path | None
    """$GUI_AGENT_PRICES: a JSON file of token prices over the built-in table."""
    display: str | None
    """$DISPLAY: the X display to act on when none is given."""
    xauthority: Path
    """$XAUTHORITY, else ~/.Xauthority: the X display's cookie file."""
    runtime_dir: Path | None
    """$XDG_RUNTIME_DIR: a folder only this user can enter (the MCP server's token goes there)."""


def settings() -> Settings:
    env = os.environ
    keys = tuple(key for key in (env.get("GUI_AGENT_API_KEY"), env.get("ZAI_API_KEY")) if key)
    return Settings(
        api_key=keys[0] if keys else None, keys=keys, base_url=env.get("GUI_AGENT_BASE_URL") or None,
        secrets={name.removeprefix(SECRET_PREFIX): value for name, value in env.items()
                 if name.startswith(SECRET_PREFIX)},
        skills=Path(env.get("GUI_AGENT_SKILLS") or PROJECT_SKILLS),
        prices=Path(env["GUI_AGENT_PRICES"]) if env.get("GUI_AGENT_PRICES") else None,
        display=env.get("DISPLAY") or None,
        xauthority=Path(env.get("XAUTHORITY") or Path.home() / ".Xauthority"),
        runtime_dir=Path(env["XDG_RUNTIME_DIR"]) if env.get("XDG_RUNTIME_DIR") else None)
