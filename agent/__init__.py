"""gui-agent: a desktop GUI agent driven by screen grounding.

The Python API (agent.api, loaded on first use so that `import agent` stays cheap):

    import agent
    result = agent.run('type "Ada" into Name', model="local", display=":1")
    print(result.status, result.steps, result.episode)
"""

from agent.core.version import __version__

API = ("run", "resume", "replay", "run_skill", "record", "report", "animation", "read_episode", "RunOptions",
       "RunResult", "Episode", "Planner", "Computer", "EXIT_CODES")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from agent import api

        return getattr(api, name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
