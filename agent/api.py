"""The library: the one place that composes a run from its options. The CLI, `eval`, the MCP server
and Python callers all come through here.

    import agent
    result = agent.run('type "Ada" into Name', model="local", display=":1")
    print(result.status, result.steps, result.episode)

The options are the CLI's, by the same names (`--max-steps` is `max_steps`, `--secret NAME=VALUE`
is `secrets={"NAME": VALUE}`): both are made from the fields of RunOptions (agent.options); Python
callers may also pass their own `planner`, `computer` or `screen`, and hooks that hear of each step
(`on_step`) and of what the CLI would print (`on_note`).
docs/control-flow.md follows one screenshot from here to the model and back to an action.
"""

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from agent.core import redact
from agent.core.actions import secret_names
from agent.core.computer import Computer
from agent.core.confirm import ask_on_terminal
from agent.core.defaults import EXIT_CODES, PlannerKind, Status
from agent.core.desktop import Desktop, open_desktop
from agent.core.episode import EPISODE_FILE, Episode, EpisodeWriter, new_run_dir, read_episode
from agent.core.errors import AgentError
from agent.core.loop import Agent, Limits
from agent.core.planner import Planner
from agent.core.screen import Screen
from agent.core.settings import settings
from agent.core.stop import DEFAULT_STOP_KEYS
from agent.demos.record import record as record_demonstration
from agent.demos.reground import replay_demonstration
from agent.demos.skills import SKILLS_DIR, SkillRunner, find_skill, list_skills
from agent.options import RunOptions, options_of
from agent.planners import dialects
from agent.planners.embedded import LocalPlanner
from agent.planners.glm import GLMConfig
from agent.planners.replay import ReplayPlanner
from agent.planners.snap import SnappingPlanner
from agent.reports import write_animation, write_report

__all__ = ["run", "resume", "replay", "run_skill", "record", "report", "animation", "read_episode", "RunOptions",
           "RunResult", "Episode", "Planner", "Computer", "EXIT_CODES"]

Note = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    status: str
    """done, failed, step_limit, time_limit, token_limit, stuck, format_errors, endpoint_error,
    needs_confirmation, interrupted or error."""
    message: str
    steps: int
    episode: Path
    """The episode folder: episode.jsonl, the step screenshots, report.html."""
    report: Path | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def secrets_of(options: RunOptions) -> dict[str, str]:
    """The secrets given, over those in $GUI_AGENT_SECRET_NAME variables."""
    secrets = settings().secrets | options.secrets
    for name in secrets:
        if not name.isidentifier():
            raise AgentError(f"secret name {name!r} is not letters, digits and _")
    return secrets


def keep_secret(options: RunOptions) -> None:
    """The key, a password in the base URL and the secrets are hidden in everything the run writes or
    prints (agent.core.redact), whatever echoes them."""
    redact.register(options.api_key, *settings().keys)
    redact.register_url(base_url_of(options))
    redact.register(*secrets_of(options).values())


def check_secrets_given(task: str, secrets: dict[str, str]) -> None:
    """A task that says {{NAME}} needs that secret: without it the model would type the placeholder."""
    for name in sorted(set(re.findall(r"\{\{(\w+)\}\}", task)) - set(secrets)):
        raise AgentError(f"the task uses {{{{{name}}}}} but no secret {name} is given; "
                         f"pass --secret {name}=VALUE or set GUI_AGENT_SECRET_{name}")


def glm_config(options: RunOptions, saved: dict | None = None) -> GLMConfig:
    """The endpoint's settings: those given, over those `saved` (a resumed episode's)."""
    given = {"model": options.model, "base_url": options.base_url, "thinking": options.thinking,
             "max_tokens": options.reply_tokens, "timeout": options.timeout, "max_retries": options.retries}
    fields = {k: v for k, v in (saved or {}).items() if k in GLMConfig.model_fields and k != "api_key"}
    fields |= {k: v for k, v in given.items() if v is not None}
    return GLMConfig(**fields, api_key=options.api_key)


def repair_config(options: RunOptions) -> GLMConfig:
    """The endpoint a re-grounded replay asks where a lost target is now."""
    if options.dry_run:
        raise AgentError("--repair keeps what a replay did as a new version, and a dry run does nothing: "
                         "drop --dry-run or --repair")
    if options.model == "local" or not endpoint_given(options):
        raise AgentError("--repair asks GLM-4.5V where a lost target is now: give its endpoint with --base-url "
                         "(or $GUI_AGENT_BASE_URL) or a Z.ai key with --api-key")
    return endpoint_config(options)


def secrets_told(settings: dict, options: RunOptions) -> list[str]:
    """The secrets a resumed run's model was told of (as its header names them), which must be given again:
    it may type any of them."""
    told = secret_names(settings.get("secrets"))
    if missing := [name for name in told if name not in secrets_of(options)]:
        raise AgentError(f"the run was given the secret {missing[0]}; pass --secret {missing[0]}=VALUE or set "
                         f"GUI_AGENT_SECRET_{missing[0]} to resume it")
    return told


def base_url_of(options: RunOptions) -> str | None:
    return options.base_url or settings().base_url


def endpoint_given(options: RunOptions) -> bool:
    """Whether an endpoint or a key is configured (else `run` uses the embedded planner)."""
    return bool(base_url_of(options) or options.api_key)


def endpoint_config(options: RunOptions) -> GLMConfig:
    """GLM-4.5V's endpoint as the options give it, else $GUI_AGENT_BASE_URL, else Z.ai."""
    return glm_config(replace(options, base_url=base_url_of(options)), {"base_url": GLMConfig().base_url})


def skills_of(settings: dict, options: RunOptions, on_note: Note) -> tuple[Path | None, bool]:
    """The skills folder an episode's run offered (None when it offered none) and whether to load the
    Python skills there: only when the run did and `options` allow it now, since an episode from
    elsewhere must not choose code to run."""
    offered = Path(settings.get("skills_dir") or SKILLS_DIR) if settings.get("skills") else None
    wanted = offered is not None and bool(settings.get("python_skills"))
    if wanted and not options.python_skills:
        on_note(f"note: the run loaded the Python skills in {offered}; they are not loaded again without "
                "--python-skills (loading runs their code)")
    return offered, wanted and options.python_skills


def model_planner(config: GLMConfig, protocol: str, skills: list[dict] | None, secrets: list[str] | None,
                  own: dict | None = None):
    """The model's planner in the dialect `protocol`; `secrets` are the names (never the values) its action
    space says `type` types; `own` holds the values of the options the dialect adds to the endpoint's."""
    dialect = dialects.dialect(protocol)
    added = {k: v for k, v in (own or {}).items() if k in dialect.config_type.model_fields
             and k not in GLMConfig.model_fields}
    return dialect(dialect.config_type(**config.model_dump(), **added, api_key=config.api_key), skills, secrets)


def run(task: str, *, planner: Planner | None = None, computer: Computer | None = None, screen: Screen | None = None,
        on_step: Callable[[dict], None] = lambda step: None, on_note: Note = lambda text: None,
        ask: Callable[[str], bool | None] = ask_on_terminal, on_pause: Callable[[], bool] = lambda: False,
        **given) -> RunResult:
    """Carry out `task` on the display: with GLM-4.5V at `base_url`, the embedded planner
    (`model="local"`, or no endpoint or key configured; it waits up to `target_timeout` seconds for a
    target to appear or a button to look enabled), or `planner` when given. `options` are RunOptions'
    fields (agent.options)."""
    options = options_of(given)
    keep_secret(options)
    secrets_of(options)  # a bad secret name is reported before anything starts
    if planner is not None:
        return drive(task, planner, {"model": getattr(planner, "name", "custom")}, options, computer=computer,
                     screen=screen, on_step=on_step, on_note=on_note, ask=ask, on_pause=on_pause)
    if options.model == "local" or (options.model is None and not endpoint_given(options)):
        if options.model is None:
            on_note("no model endpoint or key configured: using the embedded planner (--model local); "
                    "pass --base-url or --api-key for GLM-4.5V")
        return drive(task, LocalPlanner(task, target_timeout=options.target_timeout), {"model": "local"}, options,
                     computer=computer, screen=screen, on_step=on_step, on_note=on_note, ask=ask, on_pause=on_pause)
    config = endpoint_config(options)
    skills = [found.describe() for found in list_skills(options.skills, options.python_skills)] \
        if options.skills else None
    planner = model_planner(config, options.protocol, skills, sorted(secrets_of(options)), asdict(options))
    settings = {**config.model_dump(), "protocol": options.protocol, "snap": options.snap,
                "skills": [found["name"] for found in skills] if skills else None,
                **({"skills_dir": str(options.skills), "python_skills": options.python_skills} if skills else {})}
    return drive(task, SnappingPlanner(planner) if options.snap else planner, settings, options,
                 skills_root=options.skills, python_skills=options.python_skills, computer=computer, screen=screen,
                 on_step=on_step, on_note=on_note, ask=ask, on_pause=on_pause)


def resume(episode: Path, *, on_step: Callable[[dict], None] = lambda step: None, on_note: Note = lambda text: None,
           ask: Callable[[str], bool | None] = ask_on_terminal, on_pause: Callable[[], bool] = lambda: False,
           **given) -> RunResult:
    """Continue a model run from its last finished step, appending to its episode; endpoint options
    not given come from the episode (the key never does); `max_steps` more replies."""
    options = options_of(given)
    keep_secret(options)
    found = read_episode(episode)
    if found.end and found.end["status"] == Status.DONE:
        raise AgentError(f"{episode} ended done; there is nothing to resume")
    settings = found.header.get("settings", {})
    dialect = dialects.of_episode(found)
    if dialect is None:
        raise AgentError(f"only model runs can be resumed; {episode} was planned by "
                         f"{found.header.get('planner')!r}: start it again with `gui-agent run`")
    protocol, config = dialect.protocol, glm_config(options, settings)
    skills_dir, python_skills = skills_of(settings, options, on_note)
    skills = [one.describe() for one in list_skills(skills_dir, python_skills)] if skills_dir else None
    planner = model_planner(config, protocol, skills, secrets_told(settings, options), settings)
    planner.restore(found)
    done_steps = found.steps[-1]["index"] if found.steps else 0
    options = replace(options, out=found.path, max_steps=done_steps + options.max_steps)
    note = "cut short" if found.cut_short else f"ended {found.end['status']}"
    on_note(f"resuming {episode} ({note}) after step {done_steps}")
    snap = settings.get("snap", True)
    return drive(found.header.get("task", ""), SnappingPlanner(planner) if snap else planner,
                 {**config.model_dump(), "protocol": protocol, "snap": snap, "skills": settings.get("skills"),
                  **({"skills_dir": str(skills_dir), "python_skills": python_skills} if skills else {})},
                 options, resume_from={"steps": done_steps, "tokens": 0}, skills_root=skills_dir if skills else None,
                 python_skills=python_skills, on_step=on_step, on_note=on_note, ask=ask, on_pause=on_pause)


def replay(episode: Path, *, reground: bool = False, params: dict[str, str] | None = None, repair: bool = False,
           on_step: Callable[[dict], None] = lambda step: None, on_note: Note = lambda text: None,
           **given) -> RunResult:
    """Re-perform a recorded episode on the current screen: its recorded replies served again, each
    step only if the screen still looks as recorded; or, re-grounded (always so for a recorded
    demonstration), every target found again by its crop, text and window, with `params` typed
    where the episode types {NAME}. With `repair`, a target not found is asked of GLM-4.5V at the
    endpoint the options name, and what it repaired is kept as a new version of a demonstration."""
    options = options_of(given)
    keep_secret(options)
    found = read_episode(episode)
    regrounded = reground or found.header.get("planner") == PlannerKind.DEMONSTRATION
    if repair and not regrounded:
        raise AgentError("--repair needs a re-grounded replay (--reground)")
    repair_with = repair_config(options) if repair else None
    if found.cut_short:
        on_note(f"note: {episode} was cut short (no end line); replaying what it has")
    if regrounded:
        out = options.out or new_run_dir()
        return act_with_stop_keys(options, out, on_note, lambda desktop: replay_demonstration(
            found.path / found.file, options.display, out, params=params or {}, repair=repair_with,
            monitor=options.monitor, target_timeout=options.target_timeout, on_step=on_step, desktop=desktop,
            settings={"dry_run": True} if options.dry_run else None))
    if params:
        raise AgentError("--param needs a re-grounded replay (--reground)")
    if options.dry_run:
        on_note("note: a dry run changes nothing on the screen, so only the first step's screen is checked "
                "against the recording")
    planner = ReplayPlanner(found, check_all=not options.dry_run, screen=Screen(options.display, options.monitor))
    skills_root, python_skills = skills_of(found.header.get("settings", {}), options, on_note)
    return drive(found.header.get("task", ""), planner, {"replay_of": str(found.path)}, options,
                 skills_root=skills_root, python_skills=python_skills, on_step=on_step, on_note=on_note)


def run_skill(name: str, params: dict[str, str] | None = None, *, repair: bool = False,
              on_step: Callable[[dict], None] = lambda step: None, on_note: Note = lambda text: None,
              **given) -> RunResult:
    """Run the skill `name` from the `skills` folder (default: the project's skills/, or $GUI_AGENT_SKILLS)
    with its parameters; with `repair`, a demonstration skill's lost target is asked of GLM-4.5V, as
    `replay` does."""
    from agent.demos.skills import run_skill as perform_skill

    options = options_of(given)
    keep_secret(options)
    params, skills = params or {}, options.skills or SKILLS_DIR
    found = find_skill(name, skills, options.python_skills)
    found.bind(params)  # a wrong parameter is reported before anything starts
    if repair and found.function is not None:
        raise AgentError(f"only demonstration skills are repaired; {name} is a Python skill")
    repair_with = repair_config(options) if repair else None
    out = options.out or new_run_dir()
    return act_with_stop_keys(options, out, on_note, lambda desktop: perform_skill(
        name, params, options.display, out, root=skills, python=options.python_skills, monitor=options.monitor,
        target_timeout=options.target_timeout, repair=repair_with, on_step=on_step, desktop=desktop))


def record(out: Path | None = None, *, display: str | None = None, stop_keys: str = DEFAULT_STOP_KEYS,
           description: str = "", on_ready: Callable[[], None] = lambda: None,
           on_step: Callable[[dict], None] = lambda step: None) -> RunResult:
    """Record what a person does on the display, until the stop keys, Ctrl+C or SIGTERM, as an
    episode that `replay` performs again."""
    out = out or new_run_dir()
    status, message, steps = record_demonstration(display or settings().display, out, stop_keys,
                                                  description, on_ready=on_ready, on_step=on_step)
    return RunResult(status, message, steps, out)


def report(episode: Path, *, prices: Path | None = None, single_file: bool = False) -> Path:
    """Write report.html in the episode's folder (report-single-file.html, its images inside it, if
    `single_file`); its path."""
    return write_report(episode_folder(episode), prices=prices, single_file=single_file)


def animation(episode: Path, *, fps: float = 1.0) -> Path:
    """Write replay.gif (the screenshots with the actions) in the episode's folder; its path."""
    return write_animation(episode_folder(episode), fps=fps)


def episode_folder(path: Path) -> Path:
    path = Path(path)
    return path.parent if path.name == EPISODE_FILE else path


def drive(task: str, planner: Planner, settings: dict, options: RunOptions, *, resume_from: dict | None = None,
          skills_root: Path | None = None, python_skills: bool = False, computer: Computer | None = None,
          screen: Screen | None = None, on_step: Callable[[dict], None] = lambda step: None,
          on_note: Note = lambda text: None, ask: Callable[[str], bool | None] = ask_on_terminal,
          on_pause: Callable[[], bool] = lambda: False) -> RunResult:
    """The loop on a desktop (agent.core.desktop: the screen and the computer, secrets typed and masked,
    the confirmer, the stop keys) with skills, the limits, the episode and its report."""
    secrets = secrets_of(options)
    check_secrets_given(task, secrets)
    desktop = open_desktop(options.display, options.monitor, secrets=secrets, dry_run=options.dry_run, screen=screen,
                           computer=computer)
    out = options.out or new_run_dir()
    acting = desktop.computer
    if skills_root and not options.dry_run:
        acting = SkillRunner(desktop, out, skills_root, python_skills)
    confirmer = desktop.confirmer(options.confirm, options.confirm_policy, options.yes, ask)
    limits = Limits(steps=options.max_steps, seconds=options.max_seconds, tokens=options.max_tokens)
    settings |= {"limits": {"steps": options.max_steps, "seconds": options.max_seconds, "tokens": options.max_tokens},
                 "dry_run": options.dry_run, "confirm": options.confirm, "secrets": sorted(secrets)}
    agent = Agent(task, planner, acting, desktop.screen, EpisodeWriter(out, resume=resume_from is not None),
                  limits=limits, settings=settings, confirmer=confirmer, resume_from=resume_from,
                  on_step=on_step, on_pause=on_pause)
    monitor = desktop.monitor
    on_note(f"{planner.name} on display {desktop.display} ({monitor.width}x{monitor.height}): {task}")
    try:
        with desktop.stop_keys_watched(options.stop_keys, on_note):
            status, message = agent.run()
    finally:
        desktop.close()
    return RunResult(status, message, agent.steps, out, written_report(out, options, on_note))


def act_with_stop_keys(options: RunOptions, out: Path, on_note: Note, act: Callable[[Desktop], tuple[str, str]]
                       ) -> RunResult:
    """`act(desktop)` (a re-grounded replay or a skill) with the stop keys watched and SIGTERM
    stopping it, as `drive` does for runs."""
    desktop = open_desktop(options.display, options.monitor, secrets=secrets_of(options), dry_run=options.dry_run)
    try:
        with desktop.stop_keys_watched(options.stop_keys, on_note):
            status, message = act(desktop)
    finally:
        desktop.close()
    return RunResult(status, message, len(read_episode(out).steps), out, written_report(out, options, on_note))


def written_report(out: Path, options: RunOptions, on_note: Note) -> Path | None:
    if not options.report:
        return None
    try:
        return write_report(out)
    except AgentError as error:  # a report that cannot be written does not change the run's status
        on_note(f"no report: {error}")
        return None
