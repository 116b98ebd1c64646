"""Defaults and exit codes that `gui-agent --help` shows, in a module that imports nothing heavy,
so that the help starts fast."""

from enum import StrEnum

from agent.core.settings import settings


class Status(StrEnum):
    """How a run ended: the end line's `status`. A member is its text, so the JSON is the same."""

    DONE = "done"
    ERROR = "error"
    FAILED = "failed"
    STEP_LIMIT = "step_limit"
    FORMAT_ERRORS = "format_errors"
    ENDPOINT_ERROR = "endpoint_error"
    STUCK = "stuck"
    TIME_LIMIT = "time_limit"
    TOKEN_LIMIT = "token_limit"
    NEEDS_CONFIRMATION = "needs_confirmation"
    INTERRUPTED = "interrupted"


class Outcome(StrEnum):
    """What came of one action: a step's `outcome`, or else the Status of the run it ended."""

    OK = "ok"
    REFUSED = "refused"  # the confirmation was refused; the model is told
    NOT_REPEATED = "not_repeated"  # the same action on a screen it did not change, once too often
    ACTION_ERROR = "action_error"  # the executor could not do it; the model is told
    FORMAT_ERROR = "format_error"  # the reply could not be used; the model is told
    NOT_FOUND = "not_found"  # a re-grounded replay did not find the target


class PlannerKind(StrEnum):
    """What planned a run: the header's `planner` (a dialect added as a plug-in writes its own name)."""

    GLM = "glm"  # GLM-4.5V's text dialect
    TOOLS = "tools"  # a model's tool calls
    LOCAL = "local"  # the embedded planner: OCR and OpenCV, no model
    REPLAY = "replay"  # an episode replayed, as recorded or re-grounded
    DEMONSTRATION = "demonstration"  # recorded from a person's own actions
    SKILL = "skill"  # a skill run as one action
    MCP = "mcp"  # an MCP client's calls


EXIT_CODES = {Status.DONE: 0, Status.ERROR: 1, Status.FAILED: 10, Status.STEP_LIMIT: 11, Status.FORMAT_ERRORS: 12,
              Status.ENDPOINT_ERROR: 13, Status.STUCK: 14, Status.TIME_LIMIT: 15, Status.TOKEN_LIMIT: 16,
              Status.NEEDS_CONFIRMATION: 17, Status.INTERRUPTED: 130}
DEFAULT_STOP_KEYS = "ctrl+alt+shift+q"
TARGET_TIMEOUT = 10.0  # seconds a re-grounded replay waits for a target to appear
SKILLS_DIR = settings().skills
