"""The `gui-agent` command: run, resume, replay, report, sandbox, record, skills, run-skill."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from rich.markup import escape

from . import __version__, redact
from .confirm import Confirmer, ask_on_terminal, load_policy
from .console import RunView, console, show_error
from .demo import TARGET_TIMEOUT, replay_demonstration
from .episode import EPISODE_FILE, EpisodeWriter, new_run_dir, read_episode
from .errors import AgentError, StopRequested
from .evaluate import add_parser as add_eval_parser
from .executors import PyAutoGUIComputer, RecordingComputer, SecretTyping
from .local import LocalPlanner
from .mask import MaskedScreen, SecretMask
from .loop import EXIT_CODES, Agent, Limits
from .planners import GLMConfig, GLMPlanner
from .replay import ReplayPlanner
from .record import record as record_demonstration
from .report import write_animation, write_report
from .screen import Screen
from .skills import SKILLS_DIR, SkillRunner, add_skill, find_skill, list_skills, python_files, run_skill
from .snap import SnappingPlanner
from .stop import DEFAULT_STOP_KEYS, StopWatch
from .tools import ToolsConfig, ToolsPlanner

PYTHON_SKILLS_HELP = "load Python skills (SKILLS/*.py) too; loading runs their code, so only for folders you trust"
STATUS_HELP = ", ".join(f"{status} {code}" for status, code in EXIT_CODES.items())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        keep_secret(args)
        return args.command(args)
    except AgentError as error:
        show_error(str(error))
        return EXIT_CODES["error"]
    except (StopRequested, KeyboardInterrupt) as stop:  # a stop that came as the run was ending
        show_error(f"stopped: {stop or 'interrupted'}")
        return EXIT_CODES["interrupted"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gui-agent", description="A desktop GUI agent driven by screen grounding.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="carry out a task with a model", description=(
        f"Carry out TASK on the display. Exit codes by status: {STATUS_HELP}; 2 for bad arguments."))
    run.add_argument("task", help="what to do, in plain words; {{NAME}} stands for a --secret")
    run.add_argument("--model", help="model name the endpoint serves (default: glm-4.5v), or 'local' for the "
                                     "embedded OCR planner (the default when no endpoint or key is configured)")
    add_endpoint_options(run)
    run.add_argument("--protocol", choices=["text", "tools"], default="text",
                     help="how the model gives its actions: 'text', the action call in the reply as GLM-4.5V's GUI "
                          "agent was trained (default), or 'tools', OpenAI tool calls (servers started with "
                          "--tool-call-parser glm45, hosted function calling)")
    run.add_argument("--tool-choice", choices=["required", "auto"], default="required",
                     help="with --protocol tools: 'required' (default), or 'auto' for servers that refuse it "
                          "(an HTTP 400 about tool_choice switches to 'auto' by itself)")
    run.add_argument("--skills", nargs="?", const=SKILLS_DIR, type=Path, metavar="DIR",
                     help=f"offer the model the skills in DIR (default: {SKILLS_DIR}) as the skill(...) action")
    run.add_argument("--python-skills", action="store_true", help=PYTHON_SKILLS_HELP)
    run.add_argument("--no-snap", dest="snap", action="store_false",
                     help="do not move a model's click onto the on-screen text its element_info names")
    add_run_options(run)
    run.set_defaults(command=command_run)

    resume = commands.add_parser("resume", help="continue an ended or killed run where it stopped",
                                 description="Continue the run in OUT from its last finished step, appending to "
                                             "its episode. Endpoint options not given come from the episode; "
                                             "the key never does.")
    resume.add_argument("episode", type=Path, help="the run folder")
    resume.add_argument("--model", help="model name (default: the episode's)")
    add_endpoint_options(resume, defaults_from_episode=True)
    add_run_options(resume, out=False)
    resume.set_defaults(command=command_resume)

    replay = commands.add_parser("replay", help="re-perform a recorded episode on the current screen",
                                 description="Re-perform the actions of episode OUT by serving its recorded "
                                             "replies again, mapped onto the current screen; each step only if "
                                             "the screen still looks as recorded, else the replay stops naming "
                                             "the step (--reground finds the targets again instead).")
    replay.add_argument("episode", type=Path, help="a run folder (or its episode.jsonl)")
    add_run_options(replay)
    replay.set_defaults(command=command_replay)

    report = commands.add_parser("report", help="write an HTML report of an episode (and a GIF replay)",
                                 description="Write OUT/report.html, one self-contained page with a card per "
                                             "step; with --gif also OUT/replay.gif.")
    report.add_argument("episode", type=Path, help="a run folder (or its episode.jsonl)")
    report.add_argument("--gif", action="store_true", help="also write replay.gif: the screenshots with the clicks")
    report.add_argument("--fps", type=number(float, 0.1), default=1.0, help="GIF frames per second (default: 1)")
    report.add_argument("--prices", type=Path,
                        help='JSON {"MODEL": {"input": USD, "output": USD}} per million tokens, over the built-in table')
    report.set_defaults(command=command_report)

    sandbox = commands.add_parser("sandbox", help="start a virtual desktop with demo apps",
                                  description="Start Xvfb with openbox and demo apps, print the display, and tear "
                                              "everything down on Ctrl+C; or run COMMAND inside it and exit.")
    sandbox.add_argument("--size", default="1280x800", help="screen size WxH (default: 1280x800)")
    sandbox.add_argument("--apps", default="form,editor", help="demo apps to start, comma-separated "
                                                               "(form, editor; default: both; '' for none)")
    sandbox.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                         help="a command to run with DISPLAY set; the sandbox ends when it exits")
    sandbox.set_defaults(command=command_sandbox)

    record = commands.add_parser("record", help="record what you do on the display as a replayable episode",
                                 description="Record your clicks, drags, scrolls, key chords and typing on the "
                                             "display into OUT (the same episode format as `run`) until the stop "
                                             "keys, Ctrl+C or SIGTERM. Replay it with `gui-agent replay OUT`.")
    record.add_argument("--out", type=Path, help="episode folder (default: a new folder under ./runs/)")
    record.add_argument("--display", default=os.environ.get("DISPLAY"), help="X display to record (default: $DISPLAY)")
    record.add_argument("--stop-keys", default=DEFAULT_STOP_KEYS,
                        help=f"key chord that ends the recording, itself not recorded (default: {DEFAULT_STOP_KEYS})")
    record.add_argument("--description", default="", help="what the demonstration does (the episode's task)")
    record.set_defaults(command=command_record)

    replay.add_argument("--reground", action="store_true",
                        help="find every click target again on the screen (crop, text, window) instead of "
                             "serving the recorded replies; always so for a recorded demonstration")
    replay.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a value typed where the episode types {NAME} (re-grounded replays)")
    replay.add_argument("--target-timeout", type=SECONDS, default=TARGET_TIMEOUT,
                        help=f"seconds to wait for a target to appear (default: {TARGET_TIMEOUT:g})")

    skills = commands.add_parser("skills", help="list or add skills",
                                 description=f"Skills are kept in {SKILLS_DIR} ($GUI_AGENT_SKILLS).")
    skill_commands = skills.add_subparsers(required=True, metavar="ACTION")
    listing = skill_commands.add_parser("list", help="list the skills and their parameters")
    listing.add_argument("--skills", type=Path, default=SKILLS_DIR, help=f"skills folder (default: {SKILLS_DIR})")
    listing.add_argument("--python-skills", action="store_true", help=PYTHON_SKILLS_HELP)
    listing.set_defaults(command=command_skills_list)
    adding = skill_commands.add_parser("add", help="keep an episode as a skill",
                                       description="Copy EPISODE into the skills folder as NAME; each typed "
                                                   "occurrence of a --param value becomes {NAME}, that value its default.")
    adding.add_argument("name", help="the skill's name: letters, digits, - and _")
    adding.add_argument("episode", type=Path, help="a recorded demonstration or a run that ended done")
    adding.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help='a parameter and the value the episode typed for it, e.g. --param name="Ada"')
    adding.add_argument("--description", default="", help="what the skill does (default: the episode's task)")
    adding.add_argument("--skills", type=Path, default=SKILLS_DIR, help=f"skills folder (default: {SKILLS_DIR})")
    adding.set_defaults(command=command_skills_add)

    run_skill_parser = commands.add_parser("run-skill", help="run a skill with parameters",
                                           description="Run the skill NAME on the display; give its parameters as "
                                                       "--param NAME=VALUE (`gui-agent skills list` shows them).")
    run_skill_parser.add_argument("name", help="the skill's name")
    run_skill_parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                                  help="a parameter's value")
    run_skill_parser.add_argument("--skills", type=Path, default=SKILLS_DIR,
                                  help=f"skills folder (default: {SKILLS_DIR})")
    run_skill_parser.add_argument("--python-skills", action="store_true", help=PYTHON_SKILLS_HELP)
    run_skill_parser.add_argument("--display", default=os.environ.get("DISPLAY"),
                                  help="X display to act on (default: $DISPLAY)")
    run_skill_parser.add_argument("--monitor", type=COUNT, default=1, help="monitor number on that display (default: 1)")
    run_skill_parser.add_argument("--out", type=Path, help="episode folder (default: a new folder under ./runs/)")
    run_skill_parser.add_argument("--target-timeout", type=SECONDS, default=TARGET_TIMEOUT,
                                  help=f"seconds to wait for a target to appear (default: {TARGET_TIMEOUT:g})")
    run_skill_parser.add_argument("--stop-keys", default=DEFAULT_STOP_KEYS,
                                  help=f"key chord that stops it at once (default: {DEFAULT_STOP_KEYS}; 'none')")
    run_skill_parser.set_defaults(command=command_run_skill)
    add_eval_parser(commands)
    return parser


def number(kind, least: float, more_than: bool = False):
    """An argparse type: an int or float of at least `least` (or more than it), else a usage error (exit 2)."""
    def read(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}")
        if value != value or value in (float("inf"), float("-inf")) or value < least or (more_than and value == least):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {'more than' if more_than else 'at least'} "
                                             f"{least:g}")
        return value
    return read


COUNT, SECONDS = number(int, 1), number(float, 0, more_than=True)


def add_endpoint_options(parser: argparse.ArgumentParser, defaults_from_episode: bool = False) -> None:
    where = "the episode's" if defaults_from_episode else None
    parser.add_argument("--base-url", default=None if where else os.environ.get("GUI_AGENT_BASE_URL"),
                        help="OpenAI-compatible endpoint, e.g. https://api.z.ai/api/paas/v4 or http://HOST:8000/v1 "
                             f"(default: {where or '$GUI_AGENT_BASE_URL, else Z.ai when a key is set'})")
    parser.add_argument("--api-key", default=os.environ.get("GUI_AGENT_API_KEY") or os.environ.get("ZAI_API_KEY"),
                        help="API key (default: $GUI_AGENT_API_KEY, then $ZAI_API_KEY); never written to disk")
    parser.add_argument("--no-thinking", dest="thinking", action="store_false", default=None,
                        help="turn thinking mode off")
    parser.add_argument("--reply-tokens", type=COUNT, help="output token limit per reply (default: 8192)")
    parser.add_argument("--timeout", type=SECONDS, help="seconds for one whole reply (default: 180)")
    parser.add_argument("--retries", type=number(int, 0), help="retries of a failed request, with backoff (default: 4)")


def add_run_options(parser: argparse.ArgumentParser, out: bool = True) -> None:
    parser.add_argument("--max-steps", type=COUNT, default=30, help="stop after this many model replies (default: 30)")
    parser.add_argument("--max-seconds", type=SECONDS, help="stop after this many seconds (default: no limit)")
    parser.add_argument("--max-tokens", type=COUNT, help="stop once this many tokens are used: reported usage, or the "
                                                       "image-token estimate where none is reported (default: no limit)")
    parser.add_argument("--display", default=os.environ.get("DISPLAY"), help="X display to act on (default: $DISPLAY)")
    parser.add_argument("--monitor", type=COUNT, default=1, help="monitor number on that display (default: 1)")
    if out:
        parser.add_argument("--out", type=Path, help="episode folder (default: a new folder under ./runs/)")
    parser.add_argument("--dry-run", action="store_true", help="perform nothing; record what would have been done")
    parser.add_argument("--no-report", dest="report", action="store_false",
                        help="do not write report.html in the episode folder at the end")
    parser.add_argument("--confirm", choices=["ask", "never", "always"], default="ask",
                        help="ask before actions the confirmation policy matches (default), every action, or never")
    parser.add_argument("--yes", action="store_true", help="allow actions that need confirmation without asking")
    parser.add_argument("--confirm-policy", type=Path, help="a TOML file replacing the default confirmation policy")
    parser.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE",
                        help="a value typed where the model writes {{NAME}}, never shown to it nor written anywhere "
                             "(repeatable; also from $GUI_AGENT_SECRET_NAME)")
    parser.add_argument("--stop-keys", default=DEFAULT_STOP_KEYS,
                        help=f"key chord that stops the run at once (default: {DEFAULT_STOP_KEYS}; 'none' to disable)")


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """NAME=VALUE options; the error names only the NAME, since a value may be a secret."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise AgentError(f"{option} {name!r}... is not NAME=VALUE (NAME letters, digits and _)")
        values[name] = value
    return values


def parse_secrets(pairs: list[str]) -> dict[str, str]:
    from_environment = {k.removeprefix("GUI_AGENT_SECRET_"): v for k, v in os.environ.items()
                        if k.startswith("GUI_AGENT_SECRET_")}
    return from_environment | parse_pairs(pairs, "--secret")


def keep_secret(args) -> None:
    """The API key, a password in the base URL and the --secret values are hidden in everything the
    run writes or prints (agent.redact), whatever echoes them."""
    redact.register(getattr(args, "api_key", None), os.environ.get("GUI_AGENT_API_KEY"), os.environ.get("ZAI_API_KEY"))
    redact.register_url(getattr(args, "base_url", None) or os.environ.get("GUI_AGENT_BASE_URL"))
    redact.register(*parse_secrets(getattr(args, "secret", [])).values())


def check_secrets_given(task: str, secrets: dict[str, str]) -> None:
    """A task that says {{NAME}} needs that secret: without it the model would type the placeholder."""
    for name in sorted(set(re.findall(r"\{\{(\w+)\}\}", task)) - set(secrets)):
        raise AgentError(f"the task uses {{{{{name}}}}} but no secret {name} is given; "
                         f"pass --secret {name}=VALUE or set GUI_AGENT_SECRET_{name}")


def glm_config(args, saved: dict | None = None) -> GLMConfig:
    saved = saved or {}
    given = {"model": args.model, "base_url": args.base_url, "thinking": args.thinking,
             "max_tokens": args.reply_tokens, "timeout": args.timeout, "max_retries": args.retries}
    fields = {k: v for k, v in saved.items() if k in GLMConfig.model_fields and k != "api_key"}
    fields |= {k: v for k, v in given.items() if v is not None}
    return GLMConfig(**fields, api_key=args.api_key)


def command_run(args) -> int:
    parse_secrets(args.secret)  # a bad --secret is reported before anything starts
    if args.model == "local" or (args.model is None and not args.base_url and not args.api_key):
        if args.model is None:
            console.print("[yellow]no model endpoint or key configured:[/yellow] using the embedded planner "
                          "(--model local); pass --base-url or --api-key for GLM-4.5V")
        return drive(args, args.task, LocalPlanner(args.task), {"model": "local"})
    config = glm_config(args, {"base_url": GLMConfig().base_url})
    skills = [found.describe() for found in list_skills(args.skills, args.python_skills)] if args.skills else None
    if args.protocol == "tools":
        config = ToolsConfig(**config.model_dump(), api_key=config.api_key, tool_choice=args.tool_choice)
        planner = ToolsPlanner(config, skills)
    else:
        planner = GLMPlanner(config, skills)
    settings = {**config.model_dump(), "protocol": args.protocol, "snap": args.snap,
                "skills": [found["name"] for found in skills] if skills else None,
                **({"skills_dir": str(args.skills), "python_skills": args.python_skills} if skills else {})}
    return drive(args, args.task, SnappingPlanner(planner) if args.snap else planner, settings,
                 skills_root=args.skills, python_skills=args.python_skills)


def command_resume(args) -> int:
    episode = read_episode(args.episode)
    if episode.end and episode.end["status"] == "done":
        raise AgentError(f"{args.episode} ended done; there is nothing to resume")
    settings = episode.header.get("settings", {})
    protocol = {"glm": "text", "tools": "tools"}.get(episode.header.get("planner"))
    if protocol is None:
        raise AgentError(f"only model runs can be resumed; {args.episode} was planned by "
                         f"{episode.header.get('planner')!r}: start it again with `gui-agent run`")
    config = glm_config(args, settings)
    skills_dir, python_skills = skills_of(settings)
    skills = [found.describe() for found in list_skills(skills_dir, python_skills)] if skills_dir else None
    if protocol == "tools":  # 'auto' if the server refused 'required' during the run
        asked = [s["request"]["tool_choice"] for s in episode.steps if "tool_choice" in s.get("request", {})]
        config = ToolsConfig(**config.model_dump(), api_key=config.api_key,
                             tool_choice=(asked or [settings.get("tool_choice", "required")])[-1])
        planner = ToolsPlanner(config, skills)
    else:
        planner = GLMPlanner(config, skills)
    planner.restore(episode)
    done_steps = episode.steps[-1]["index"] if episode.steps else 0
    args.out, args.max_steps = episode.path, done_steps + args.max_steps  # --max-steps more replies
    resume_from = {"steps": done_steps, "tokens": 0}
    note = "cut short" if episode.cut_short else f"ended {episode.end['status']}"
    console.print(f"resuming {args.episode} ({note}) after step {resume_from['steps']}")
    snap = settings.get("snap", True)
    return drive(args, episode.header.get("task", ""), SnappingPlanner(planner) if snap else planner,
                 {**config.model_dump(), "protocol": protocol, "snap": snap, "skills": settings.get("skills"),
                  **({"skills_dir": str(skills_dir), "python_skills": python_skills} if skills else {})},
                 resume_from=resume_from, skills_root=skills_dir if skills else None, python_skills=python_skills)


def skills_of(settings: dict) -> tuple[Path | None, bool]:
    """The skills folder an episode's run offered (None when it offered none) and whether it loaded
    the Python skills there."""
    offered = Path(settings.get("skills_dir") or SKILLS_DIR) if settings.get("skills") else None
    return offered, bool(settings.get("python_skills"))


def command_replay(args) -> int:
    episode = read_episode(args.episode)
    if episode.cut_short:
        console.print(f"[yellow]note:[/yellow] {args.episode} was cut short (no end line); replaying what it has")
    if args.reground or episode.header.get("planner") == "demonstration":
        return command_replay_regrounded(args, episode)
    if args.param:
        raise AgentError("--param needs a re-grounded replay (--reground)")
    if args.dry_run:
        console.print("[yellow]note:[/yellow] a dry run changes nothing on the screen, so only the first step's "
                      "screen is checked against the recording")
    planner = ReplayPlanner(episode, check_all=not args.dry_run, screen=Screen(args.display, args.monitor))
    skills_root, python_skills = skills_of(episode.header.get("settings", {}))
    return drive(args, episode.header.get("task", ""), planner, {"replay_of": str(episode.path)},
                 skills_root=skills_root, python_skills=python_skills)


def command_record(args) -> int:
    out = args.out or new_run_dir()
    status, message, steps = record_demonstration(
        args.display, out, args.stop_keys, args.description,
        on_ready=lambda: console.print(f"recording display {args.display} into {out}: do the task, then press "
                                       f"{args.stop_keys} (or Ctrl+C here)"),
        on_step=lambda step: console.print(f"[bold]step {step['index']}[/bold] [cyan]{escape(step['call'])}[/cyan]"))
    console.print(f"{status}: {message}; {steps} steps in {out}; replay it with `gui-agent replay {out}`")
    return EXIT_CODES[status]


def typing_secrets(computer, secrets: dict[str, str]) -> tuple[SecretTyping, SecretMask | None]:
    """The computer that types {{NAME}} as its secret (and refuses a name not given), and with
    secrets, the mask that covers a typed one in every screenshot kept or sent."""
    mask = SecretMask() if secrets else None
    return SecretTyping(computer, secrets, on_typed=mask.secret_typed if mask else lambda value: None), mask


def act_with_stop_keys(args, out: Path, step_limit, act) -> int:
    """Runs `act(on_step, computer, mask)` (a re-grounded replay or a skill) with the stop keys
    watched and SIGTERM stopping it, as `drive` does for runs; `mask` covers typed secrets."""
    screen = Screen(args.display, args.monitor)
    monitor = screen.capture().monitor
    screen.close()
    secrets = parse_secrets(getattr(args, "secret", []))
    computer = RecordingComputer(monitor) if getattr(args, "dry_run", False) else PyAutoGUIComputer(screen.display, monitor)
    computer, mask = typing_secrets(computer, secrets)
    view = RunView(step_limit)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    stopper = start_stop_watch(screen.display, args.stop_keys, monitor)
    try:
        status, message = act(view.step, computer, mask)
    finally:
        if stopper:
            stopper.stop()
    view.summary(status, message, len(read_episode(out).steps), out)
    if getattr(args, "report", False):
        try:
            console.print(f"report: {write_report(out)}")
        except AgentError as error:
            show_error(f"no report: {error}")
    return EXIT_CODES[status]


def command_replay_regrounded(args, episode) -> int:
    out = args.out or new_run_dir()
    return act_with_stop_keys(args, out, len(episode.steps), lambda on_step, computer, mask: replay_demonstration(
        episode.path, args.display, out, params=parse_pairs(args.param, "--param"), monitor=args.monitor,
        target_timeout=args.target_timeout, on_step=on_step, computer=computer, mask=mask))


def command_skills_list(args) -> int:
    skills = list_skills(args.skills, args.python_skills)
    if not skills:
        console.print(f"no skills in {args.skills}; add one with `gui-agent skills add NAME EPISODE --param NAME=VALUE`")
    unloaded = [] if args.python_skills else python_files(args.skills)
    if unloaded:
        console.print(f"[dim]not loaded: {', '.join(p.name for p in unloaded)} (Python skills; "
                      "--python-skills loads them, which runs their code)[/dim]")
    for one in skills:
        params = ", ".join(f"{p.name}: {p.type}" + (f" = {p.default!r}" if p.default is not None else "")
                           for p in one.params)
        console.print(f"[bold]{one.name}[/bold]({escape(params)}) [dim]{one.kind}[/dim]  {escape(one.description)}")
    return 0


def command_skills_add(args) -> int:
    params = parse_pairs(args.param, "--param")
    added = add_skill(args.name, args.episode, params, args.description, root=args.skills)
    console.print(f"skill {added.name} in {added.path}; run it with `gui-agent run-skill {added.name}"
                  + "".join(f" --param {p.name}=..." for p in added.params) + "`")
    return 0


def command_run_skill(args) -> int:
    found = find_skill(args.name, args.skills, args.python_skills)
    params = parse_pairs(args.param, "--param")
    found.bind(params)  # a wrong parameter is reported before anything starts
    out = args.out or new_run_dir()
    steps = len(read_episode(found.path).steps) if found.kind == "demonstration" else "?"
    return act_with_stop_keys(args, out, steps, lambda on_step, computer, mask: run_skill(
        args.name, params, args.display, out, root=args.skills, python=args.python_skills, monitor=args.monitor,
        target_timeout=args.target_timeout, on_step=on_step, computer=computer, mask=mask))


def drive(args, task: str, planner, settings: dict, resume_from: dict | None = None,
          skills_root: Path | None = None, python_skills: bool = False) -> int:
    secrets = parse_secrets(args.secret)
    check_secrets_given(task, secrets)
    screen = Screen(args.display, args.monitor)
    monitor = screen.capture().monitor
    computer = RecordingComputer(monitor) if args.dry_run else PyAutoGUIComputer(screen.display, monitor)
    window_class = getattr(computer, "window_class", lambda: None)
    computer, mask = typing_secrets(computer, secrets)
    if mask:
        screen = MaskedScreen(screen, mask)
    out = args.out or new_run_dir()
    if skills_root and not args.dry_run:
        computer = SkillRunner(computer, screen.display, out, skills_root, args.monitor, python_skills, mask)
    confirmer = Confirmer(args.confirm, load_policy(args.confirm_policy), args.yes, window_class=window_class)
    limits = Limits(steps=args.max_steps, seconds=args.max_seconds, tokens=args.max_tokens)
    settings |= {"limits": {"steps": args.max_steps, "seconds": args.max_seconds, "tokens": args.max_tokens},
                 "dry_run": args.dry_run, "confirm": args.confirm, "secrets": sorted(secrets)}
    view = RunView(limits.steps)
    agent = Agent(task, planner, computer, screen, EpisodeWriter(out, resume=resume_from is not None),
                  limits=limits, settings=settings, confirmer=confirmer, resume_from=resume_from,
                  on_step=view.step, on_pause=ask_to_resume)
    console.print(f"[bold]{planner.name}[/bold] on display {screen.display} "
                  f"({monitor.width}x{monitor.height}): {task}")
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    stopper = start_stop_watch(screen.display, args.stop_keys, monitor)
    try:
        status, message = agent.run()
    finally:
        if stopper:
            stopper.stop()
    view.summary(status, message, agent.steps, out)
    if args.report:
        try:
            console.print(f"report: {write_report(out)}")
        except AgentError as error:  # a report that cannot be written does not change the run's status
            show_error(f"no report: {error}")
    return EXIT_CODES[status]


def command_report(args) -> int:
    episode_dir = args.episode.parent if args.episode.name == EPISODE_FILE else args.episode
    console.print(f"report: {write_report(episode_dir, prices=args.prices)}")
    if args.gif:
        console.print(f"replay: {write_animation(episode_dir, fps=args.fps)}")
    return 0


def start_stop_watch(display: str, keys: str, monitor):
    if keys.lower() == "none":
        return None
    right, bottom = monitor.left + monitor.width - 1, monitor.top + monitor.height - 1
    corners = [(monitor.left, monitor.top), (right, monitor.top), (monitor.left, bottom), (right, bottom)]
    try:
        stopper = StopWatch(display, keys, corners).start()
    except (AgentError, ValueError) as error:
        console.print(f"[yellow]warning:[/yellow] no stop keys: {error}")
        return None
    console.print(f"press {keys} or move the pointer into a screen corner to stop the run at once")
    return stopper


def ask_to_resume() -> bool:
    console.print("\n[yellow]paused[/yellow] (Ctrl+C)")
    return bool(ask_on_terminal("Resume the run? (no: quit)"))


def stop_on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second one must not cut the episode's end short
    raise StopRequested("terminated by SIGTERM")


def command_sandbox(args) -> int:
    from sandbox.session import XSession

    width, height = parse_size(args.size)
    command = args.run_command[1:] if args.run_command[:1] == ["--"] else args.run_command
    with XSession(width, height) as session:
        apps = [session.launch(name) for name in filter(None, args.apps.split(","))]
        for app in apps:
            app.wait_ready()
        console.print(f"sandbox ready on DISPLAY={session.display} ({width}x{height}); apps: "
                      + (", ".join(f"{a.name} (record {a.record_path})" for a in apps) or "none"))
        if command:
            code = subprocess.run(command, env=session.env).returncode
            for app in apps:
                console.print(f"{app.name} ended with state {json.dumps(app.record().get('state', {}), ensure_ascii=False)}")
            return code
        console.print(f"in another terminal: export DISPLAY={session.display} XAUTHORITY={session.xauthority}\n"
                      f"files the apps save go to {session.files} (removed with the sandbox); Ctrl+C here to stop")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise AgentError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 1366x768") from None
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise AgentError(f"--size {text} is out of range (320x240 to 8192x8192)")
    return width, height
