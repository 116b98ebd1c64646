"""gui-agent: a desktop GUI agent driven by screen grounding.

The Python API (agent.api, loaded on first use so that `import agent` stays cheap):

    import agent
    result = agent.run('type "Ada" into Name', model="local", display=":1")
    print(result.status, result.steps, result.episode)
"""

from agent.core.version import __version__

API = ("run", "resume", "replay", "run_skill", "record", "report", "animation", "read_episode", "RunOptions",
       "RunResult", "Episode", "Planner", "Computer", "EXIT_CODES")
PARTS = ("Decision", "Reply")  # what a planner of the caller's own returns (agent.core.planner)
__all__ = ["__version__", *API, *PARTS]


def __getattr__(name: str):
    """The API, what a planner of your own needs (Decision, Reply) and the actions (agent.Click, agent.Done,
    ...), each loaded on first use."""
    if name in API:
        from agent import api

        return getattr(api, name)
    if name in PARTS:
        from agent.core import planner

        return getattr(planner, name)
    from agent.core.actions import ACTION_CLASSES

    if action := next((cls for cls in ACTION_CLASSES if cls.__name__ == name), None):
        return action
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
