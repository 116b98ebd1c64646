"""Errors that end in one clear line for the user: what was wrong and what to do."""


class AgentError(Exception):
    """Base of every error the agent reports as a one-line message."""


class DisplayError(AgentError):
    """No usable display, or a capture from it failed."""


class ActionError(AgentError):
    """An action could not be carried out (the model is told, the run goes on)."""


class EndpointError(AgentError):
    """The model endpoint could not be reached or answered with an error."""

    def __init__(self, message: str, attempts: list[dict] | None = None):
        super().__init__(message)
        self.attempts = attempts or []


class EpisodeError(AgentError):
    """An episode file is missing, corrupt or of an unknown version."""


class FormatError(AgentError):
    """A model reply that cannot be turned into an action; the message goes back to the model."""

    def __init__(self, message: str, reply=None):
        super().__init__(message)
        self.reply = reply


class StepFailed(AgentError):
    """A step the planner could not decide, with what its line says: its outcome, the screen the planner
    last looked at (if it looked again) and more fields."""

    def __init__(self, message: str, outcome: str, seen=None, **line):
        super().__init__(message)
        self.outcome, self.seen, self.line = outcome, seen, line


class Interrupted(AgentError):
    """The user stopped the run (pointer in a screen corner, stop key)."""


class StopRequested(BaseException):
    """A stop raised by a signal handler (stop keys, SIGTERM), wherever the agent is. Like
    KeyboardInterrupt it is no Exception, so an `except Exception` on the way (in a library such
    as rapidocr, or around a capture) cannot turn it into some other error."""


class InstructionError(AgentError):
    """An instruction the embedded planner does not understand; refused before acting."""


class GroundingError(AgentError):
    """A target that is not on screen; the embedded planner never clicks a guess."""
