"""Defaults and exit codes that `gui-agent --help` shows, in a module that imports nothing heavy,
so that the help starts fast."""

import os
from pathlib import Path

EXIT_CODES = {"done": 0, "error": 1, "failed": 10, "step_limit": 11, "format_errors": 12, "endpoint_error": 13,
              "stuck": 14, "time_limit": 15, "token_limit": 16, "needs_confirmation": 17, "interrupted": 130}
DEFAULT_STOP_KEYS = "ctrl+alt+shift+q"
TARGET_TIMEOUT = 10.0  # seconds a re-grounded replay waits for a target to appear
SKILLS_DIR = Path(os.environ.get("GUI_AGENT_SKILLS") or Path(__file__).resolve().parents[2] / "skills")
