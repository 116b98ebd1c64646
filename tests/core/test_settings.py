"""The environment is read in one place, agent.core.settings, when asked: each variable named once, the
key and the secrets never in a repr."""

import re
from pathlib import Path

from agent.core.settings import PROJECT_SKILLS, settings

ROOT = Path(__file__).resolve().parents[2]
READS = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^]]+\](?!\s*=[^=])")
ALLOWED = {
    "agent/core/settings.py": "the one reader",
    "sandbox/session.py": "PYTHONPATH extended for the sandbox's children",
    "agent/ray_eval.py": "Ray's own switches, saved and restored around its start",
}


def test_only_the_settings_module_reads_the_environment():
    readers = {str(path.relative_to(ROOT)) for folder in ("agent", "sandbox", "skills")
               for path in (ROOT / folder).rglob("*.py") if READS.search(path.read_text(encoding="utf-8"))}
    assert readers - set(ALLOWED) == set(), "read the environment through agent.core.settings.settings()"


def test_settings_are_read_when_asked(monkeypatch, tmp_path):
    for name in ("GUI_AGENT_API_KEY", "GUI_AGENT_SKILLS", "GUI_AGENT_PRICES", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZAI_API_KEY", "zai-key")
    monkeypatch.setenv("GUI_AGENT_SECRET_PIN", "4711")
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "cookie"))
    found = settings()
    assert (found.api_key, found.keys, found.secrets["PIN"]) == ("zai-key", ("zai-key",), "4711")
    assert (found.skills, found.prices, found.runtime_dir, found.xauthority) == (
        PROJECT_SKILLS, None, None, tmp_path / "cookie")
    monkeypatch.setenv("GUI_AGENT_API_KEY", "own-key")
    monkeypatch.setenv("GUI_AGENT_SKILLS", str(tmp_path))
    assert (settings().api_key, settings().keys, settings().skills) == ("own-key", ("own-key", "zai-key"), tmp_path)
    assert "key" not in repr(settings()) and "4711" not in repr(settings())
