"""The `gui-agent` command: run, resume, replay, report, export, sandbox, record, skills, run-skill, eval, mcp.

Only argument parsing and printing; the work is the library's (agent.api). Everything heavy is
imported inside the command that needs it, so that `gui-agent --help` starts fast.
"""

import argparse
import difflib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from agent.core.defaults import (
    DEFAULT_STOP_KEYS,
    EXIT_CODES,
    SKILLS_DIR,
    PlannerKind,
    Status,
)
from agent.core.errors import AgentError, StopRequested
from agent.core.strict_json import MAX_NUMBER
from agent.core.version import __version__

AGAIN_PYTHON_SKILLS_HELP = ("load the Python skills the run loaded, from the folder its episode names; loading runs "
                            "their code, so only for episodes and folders you trust")
ENDPOINT = ("base_url", "api_key", "thinking", "reply_tokens", "timeout", "retries")
LIMITS = ("max_steps", "max_seconds", "max_tokens", "display", "monitor")
SAFETY = ("confirm", "yes", "confirm_policy", "secrets", "stop_keys")
STATUS_HELP = ", ".join(f"{status} {code}" for status, code in EXIT_CODES.items())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is command_mcp:
        args.wire = mcp_wire(args.http)  # before anything prints: over stdio, stdout is the protocol's
    from agent.core.console import show_error

    try:
        keep_secret(args)
        return args.command(args)
    except AgentError as error:
        show_error(str(error))
        return EXIT_CODES[Status.ERROR]
    except (StopRequested, KeyboardInterrupt) as stop:  # a stop that came as the run was ending
        show_error(f"stopped: {stop or 'interrupted'}")
        return EXIT_CODES[Status.INTERRUPTED]


class Parser(argparse.ArgumentParser):
    """argparse, saying which option or choice a mistyped one may mean, under the usage of the command
    it was given to (argparse names unknown options under gui-agent's usage, and suggests nothing)."""

    def __init__(self, *args, **kwargs):
        # the run options and the arguments after them, added only to the command parsed: making the run
        # options' flags (agent.options) would cost every `gui-agent --help` 15 ms
        self.later: list[Callable[[], object]] = []
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        if not self.later:
            return super().add_argument(*args, **kwargs)
        self.later.append(lambda: super(Parser, self).add_argument(*args, **kwargs))  # in order, after the options

    def parse_known_args(self, args=None, namespace=None):
        later, self.later = self.later, []
        for add in later:
            add()
        namespace, unknown = super().parse_known_args(args, namespace)
        if unknown:  # every parser here takes all its words: what one leaves over is a mistake made in it
            self.error(f"unrecognized arguments: {masked(unknown)}{self.meant(unknown)}")
        return namespace, unknown

    def meant(self, words: list[str]) -> str:
        options = [option for action in self._actions for option in action.option_strings]
        for word in words:
            close = difflib.get_close_matches(word.partition("=")[0], options, n=1) if word.startswith("-") else []
            if close:
                return f" (did you mean {close[0]}?)"
        return ""

    def _check_value(self, action, value):
        if action.choices is not None and value not in action.choices:
            # a command is offered only when it has help: not serve-runs, eval's worker
            offered = ([shown.dest for shown in getattr(action, "_choices_actions", [])]
                       or list(map(str, action.choices)))
            if close := difflib.get_close_matches(str(value), offered, n=1):
                raise argparse.ArgumentError(action, f"invalid choice: {value!r} (did you mean {close[0]}?)")
        super()._check_value(action, value)


def masked(words: list[str]) -> str:
    """Unknown words as shown in the error: a value after '=' or after an unknown option may be a key or
    a secret (--secrte PASS=..., --api-kye KEY), and nothing hides them yet."""
    shown, after_option = [], False
    for word in words:
        name, sep, _ = word.partition("=")
        shown.append("..." if after_option else name + (sep and "..."))
        after_option = word.startswith("-") and not sep
    return " ".join(shown)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gui-agent", description="A desktop GUI agent driven by screen grounding.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="carry out a task with a model", description=(
        f"Carry out TASK on the display. Exit codes by status: {STATUS_HELP}; 2 for bad arguments."))
    run.add_argument("task", help="what to do, in plain words; {{NAME}} stands for a --secret")
    add_options(run)  # every option
    run.set_defaults(command=command_run)

    resume = commands.add_parser("resume", help="continue an ended or killed run where it stopped",
                                 description="Continue the run in OUT from its last finished step, appending to "
                                             "its episode. Endpoint options not given come from the episode; "
                                             "the key never does.")
    resume.add_argument("episode", type=Path, help="the run folder")
    add_options(resume, "model", *ENDPOINT, *LIMITS, "dry_run", "report", *SAFETY, "python_skills",
                model={"help": "model name (default: the episode's)"},
                base_url={"help": "OpenAI-compatible endpoint, e.g. https://api.z.ai/api/paas/v4 or "
                                  "http://HOST:8000/v1 (default: the episode's)"},
                python_skills={"help": AGAIN_PYTHON_SKILLS_HELP})
    resume.set_defaults(command=command_resume)

    replay = commands.add_parser("replay", help="re-perform a recorded episode on the current screen",
                                 description="Re-perform the actions of episode OUT by serving its recorded "
                                             "replies again, mapped onto the current screen; each step only if "
                                             "the screen still looks as recorded, else the replay stops naming "
                                             "the step (--reground finds the targets again instead).")
    replay.add_argument("episode", type=Path, help="a run folder (or its episode.jsonl)")
    add_options(replay, *LIMITS, "out", "dry_run", "report", *SAFETY, "python_skills",
                python_skills={"help": AGAIN_PYTHON_SKILLS_HELP})
    replay.set_defaults(command=command_replay)

    report = commands.add_parser("report", help="write an HTML report of an episode (and a GIF replay)",
                                 description="Write OUT/report.html: the run's summary (what went wrong first, "
                                             "time by phase), then each step's action close up before and after, "
                                             "and the end screen, its images files in its folder; or with "
                                             "--single-file the same page as OUT/report-single-file.html, every "
                                             "image inside it. With --gif also OUT/replay.gif.")
    report.add_argument("episode", type=Path, help="a run folder (or its episode.jsonl)")
    report.add_argument("--single-file", action="store_true",
                        help="write report-single-file.html instead, every image inside it, to share the page "
                             "alone (larger); report.html stays as it is")
    report.add_argument("--gif", action="store_true", help="also write replay.gif: the screenshots with the clicks")
    report.add_argument("--fps", type=number(float, 0.1), default=1.0, help="GIF frames per second (default: 1)")
    report.add_argument("--prices", type=existing_file,
                        help='JSON {"MODEL": {"input": USD, "output": USD}} per million tokens, '
                             'over the built-in table')
    report.set_defaults(command=command_report)

    export = commands.add_parser("export", help="fine-tuning data for GLM-4.5V from episodes (ms-swift's format)",
                                 description="Write one JSON line per step of the episodes that ended done: the "
                                             "user message the agent sent (one <image> per image), the model's "
                                             "reply, and the images, written beside OUT in OUT-STEM-images/.")
    export.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (or their episode.jsonl)")
    export.add_argument("--out", type=Path, required=True, help="the JSON lines file to write, e.g. data.jsonl")
    export.add_argument("--all", dest="everything", action="store_true",
                        help="also episodes that did not end done")
    export.add_argument("--check", action="store_true",
                        help="read every reply again with the agent's parser and open every image; a bad sample is "
                             "named and not written (exit code 1), as one whose <image> tokens do not match its "
                             "images always is")
    export.add_argument("--skills", dest="skills_dir", type=Path, metavar="DIR",
                        help="the skills folder whose skills the runs offered (default: the folder a run's episode "
                             "names, only when it is inside the run's folder)")
    export.set_defaults(command=command_export)

    sandbox = commands.add_parser("sandbox", help="start a virtual desktop with demo apps",
                                  description="Start Xvfb with openbox and demo apps, print the display, and tear "
                                              "everything down on Ctrl+C; or run COMMAND inside it and exit.")
    sandbox.add_argument("--size", type=screen_size, default="1280x800", help="screen size WxH (default: 1280x800)")
    sandbox.add_argument("--apps", type=demo_apps, default="form,editor", help="demo apps to start, comma-separated "
                                                               "(form, editor; default: both; '' for none)")
    sandbox.add_argument("--view", action="store_true",
                         help="serve the display to a browser on 127.0.0.1 (x11vnc + noVNC) and print its URL, "
                              "with a one-time password, as a line 'view: URL'")
    sandbox.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                         help="a command to run with DISPLAY set; the sandbox ends when it exits")
    sandbox.set_defaults(command=command_sandbox)

    record = commands.add_parser("record", help="record what you do on the display as a replayable episode",
                                 description="Record your clicks, drags, scrolls, key chords and typing on the "
                                             "display into OUT (the same episode format as `run`) until the stop "
                                             "keys, Ctrl+C or SIGTERM. Replay it with `gui-agent replay OUT`.")
    add_options(record, "out", "display", "stop_keys", display={"help": "X display to record (default: $DISPLAY)"},
                stop_keys={"help": f"key chord that ends the recording, itself not recorded (default: "
                                   f"{DEFAULT_STOP_KEYS})"})
    record.add_argument("--description", default="", help="what the demonstration does (the episode's task)")
    record.set_defaults(command=command_record)

    replay.add_argument("--reground", action="store_true",
                        help="find every click target again on the screen (crop, text, window) instead of "
                             "serving the recorded replies; always so for a recorded demonstration")
    replay.add_argument("--param", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="a value typed where the episode types {NAME} (re-grounded replays)")
    add_options(replay, "target_timeout")
    add_repair_options(replay)

    skills = commands.add_parser("skills", help="list or add skills",
                                 description=f"Skills are kept in {SKILLS_DIR} ($GUI_AGENT_SKILLS).")
    skill_commands = skills.add_subparsers(required=True, metavar="ACTION")
    listing = skill_commands.add_parser("list", help="list the skills and their parameters")
    listing.add_argument("--skills", type=Path, default=SKILLS_DIR, help=f"skills folder (default: {SKILLS_DIR})")
    add_options(listing, "python_skills")
    listing.set_defaults(command=command_skills_list)
    adding = skill_commands.add_parser("add", help="keep an episode as a skill",
                                       description="Copy EPISODE into the skills folder as NAME; each typed occurrence "
                                                   "of a --param value becomes {NAME}, that value its default.")
    adding.add_argument("name", type=skill_name, help="the skill's name: letters, digits, - and _")
    adding.add_argument("episode", type=Path, help="a recorded demonstration or a run that ended done")
    adding.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", type=name_value,
                        help='a parameter and the value the episode typed for it, e.g. --param name="Ada"')
    adding.add_argument("--description", default="", help="what the skill does (default: the episode's task)")
    adding.add_argument("--skills", type=Path, default=SKILLS_DIR, help=f"skills folder (default: {SKILLS_DIR})")
    adding.set_defaults(command=command_skills_add)
    diffing = skill_commands.add_parser("diff", help="what a repair changed in a skill or demonstration",
                                        description="Show, step by step, what changed between the current version "
                                                    "of a skill (or a demonstration folder) and an earlier one: the "
                                                    "call, the target's text, where it is, the files.")
    diffing.add_argument("name", help="a skill's name, or a demonstration's folder")
    diffing.add_argument("--against", type=COUNT, metavar="VERSION",
                         help="the version to compare with (default: the one before the current)")
    diffing.add_argument("--skills", type=Path, default=SKILLS_DIR, help=f"skills folder (default: {SKILLS_DIR})")
    diffing.set_defaults(command=command_skills_diff)

    run_skill_parser = commands.add_parser("run-skill", help="run a skill with parameters",
                                           description="Run the skill NAME on the display; give its parameters as "
                                                       "--param NAME=VALUE (`gui-agent skills list` shows them).")
    run_skill_parser.add_argument("name", help="the skill's name")
    run_skill_parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", type=name_value,
                                  help="a parameter's value")
    add_options(run_skill_parser, "skills", "python_skills", "display", "monitor", "out", "stop_keys",
                skills={"nargs": None, "const": None, "default": SKILLS_DIR,
                        "help": f"skills folder (default: {SKILLS_DIR})"})
    add_options(run_skill_parser, "target_timeout")
    add_repair_options(run_skill_parser)
    run_skill_parser.set_defaults(command=command_run_skill)
    add_eval_parser(commands)
    add_mcp_parser(commands)
    commands.add_parser("serve-runs").set_defaults(command=command_serve_runs)  # eval's warm workers: no help
    return parser


def add_eval_parser(commands) -> None:
    parser = commands.add_parser("eval", help="run the task suite, each task in a fresh sandbox", description=(
        "Run the task suite (sandbox/tasks), each task in a fresh Xvfb display through `gui-agent run`, N at a "
        "time; OUT gets summary.json and one folder per task (episode, agent.log, record.json, work/). A task "
        "passes when its checker, reading the end state, says so. With --model local the model-only tasks are "
        "skipped. Every run gets --yes: nobody is there to confirm, and the sandbox is thrown away. Exit code 0 "
        "when every task counted passed, 1 otherwise, 130 when interrupted."))
    parser.add_argument("tasks", nargs="*", metavar="TASK", help="task names or globs, e.g. form_* (default: all)")
    parser.add_argument("--model", default="local",
                        help="'local' (the default: the embedded planner; model-only tasks are skipped) or the "
                             "model name the endpoint serves, e.g. glm-4.5v")
    add_options(parser, "base_url", "api_key")
    parser.add_argument("--workers", type=COUNT, help="tasks run at a time (default: 1; with --ray, one per CPU "
                                                      "of the cluster)")
    parser.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                        help="run the tasks on Ray, one actor per desktop slot: a runtime on this machine, or the "
                             "cluster at ADDRESS (host:port of `ray start --head`); needs gui-agent[ray]")
    parser.add_argument("--out", type=Path, help="folder for summary.json and the episodes "
                                                 "(default: a new folder under ./runs/)")
    parser.add_argument("--view", action="store_true",
                        help="serve each task's display to a browser on 127.0.0.1 and print its URL ('view: URL')")
    parser.add_argument("--run-arg", action="append", default=[], metavar="ARG",
                        help="one more option for every `gui-agent run`, e.g. --run-arg=--no-thinking (repeatable)")
    parser.set_defaults(command=command_eval)


def add_mcp_parser(commands) -> None:
    parser = commands.add_parser("mcp", help="serve the display to MCP clients as computer-use tools", description=(
        "Serve one display and monitor to MCP clients as computer-use tools (screenshot, click, move, drag, scroll, "
        "type_text, press_keys, find_text, run_task), over stdio or, with --http PORT, streamable HTTP on "
        "127.0.0.1. Every call is appended to the episode in OUT; `gui-agent report OUT` shows it."))
    parser.add_argument("--http", type=number(int, 1), metavar="PORT",
                        help="serve streamable HTTP on 127.0.0.1:PORT/mcp instead of stdio; every request needs the "
                             "bearer token made for this start (shown on stderr, and in a file only you can read)")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        help="with --http: the bearer token is the one in FILE instead of a new one")
    parser.add_argument("--xauthority", type=existing_file, metavar="FILE",
                        help="the display's Xauthority file (default: $XAUTHORITY, else ~/.Xauthority); MCP hosts "
                             "start servers without $XAUTHORITY unless told")
    add_options(parser, "display", "monitor", "out", *SAFETY,
                out={"help": "the session's episode folder (default: a new folder under ./runs/)"},
                confirm={"help": "which actions need a yes: those the policy matches (default), every one, or none; "
                                 "with no one to answer, they are refused unless --yes"},
                stop_keys={"help": f"key chord that stops the action under way (default: {DEFAULT_STOP_KEYS}; "
                                   "'none' to disable)"})
    task = parser.add_argument_group("run_task", "how the run_task tool plans and how far it may go")
    add_options(parser, "model", *ENDPOINT, "protocol", "tool_choice", "max_steps", "max_seconds", into=task,
                max_steps={"help": "model replies per task (default: 30)"},
                max_seconds={"help": "seconds per task (default: no limit)"})
    parser.set_defaults(command=command_mcp)


def number(kind, least: float, more_than: bool = False):
    """An argparse type: an int or float of at least `least` (or more than it), else a usage error (exit 2)."""
    def read(text: str):
        try:
            value = kind(text)
        except ValueError:
            kind_name = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind_name}") from None
        if value != value or value in (float("inf"), float("-inf")) or value < least or (more_than and value == least):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {'more than' if more_than else 'at least'} "
                                             f"{least:g}")
        if value > MAX_NUMBER:  # as an episode records it, so its readers take it
            raise argparse.ArgumentTypeError(f"{text} is out of range: give at most {MAX_NUMBER:,}")
        return value
    return read


COUNT = number(int, 1)


def add_repair_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true",
                        help="when a target is not found in time, ask GLM-4.5V at --base-url where it is now; its "
                             "point is taken only where the screen agrees with the recording, and a replay that ends "
                             "done keeps what was repaired as a new version of the demonstration or skill "
                             "(`gui-agent skills diff` shows it; the old version stays)")
    add_options(parser, "model", *ENDPOINT,
                model={"help": "with --repair: the model name the endpoint serves (default: glm-4.5v)"})


def add_options(parser: Parser, *names: str, into=None, **changed: dict) -> None:
    """The run options `names` (all of them when none is named) as flags of `parser` (in its group `into`),
    each as its field in agent.options.RunOptions declares it; `changed` alters a flag's argparse keywords
    for this command. They are added when the command is parsed, after its other arguments."""
    def add() -> None:
        import agent.options as options  # not `from agent import`: the package's __getattr__ loads the actions

        fields = options.described(options.RunOptions)
        for name in names or fields:
            flag, keywords = flag_of(fields[name])
            (into or parser).add_argument(flag, **keywords | changed.get(name, {}))
    parser.later.append(add)


def flag_of(option) -> tuple[str, dict]:
    """A RunOptions field's flag and argparse keywords: --NAME, or --no-NAME for a switch on by default."""
    flag = option.flag.name or "--" + option.name.replace("_", "-")
    keywords = {"dest": option.name, "default": option.default, "help": option.help}
    if option.kind is bool and option.default is False:
        return flag, keywords | {"action": "store_true"}
    if option.kind is bool:
        return option.flag.name or flag.replace("--", "--no-", 1), keywords | {
            "action": "store_false", "help": f"do not {option.help}"}
    if option.kind is dict:
        return flag, keywords | {"action": "append", "type": name_value, "default": [],
                                 "metavar": option.flag.metavar}
    if option.default is not None and "default" not in option.help:
        shown = f"{option.default:g}" if option.kind is float else option.default
        keywords["help"] += f" (default: {shown})"
    choices = option.choices or (option.flag.choices() if option.flag.choices else None)
    bound = option.bound and number(option.kind, option.bound.least, option.bound.more_than)
    keywords |= {"type": existing_file if option.flag.existing else bound or (None if choices else option.kind),
                 "choices": choices, "metavar": option.flag.metavar}
    return flag, keywords | ({"nargs": "?", "const": option.flag.bare} if option.flag.bare is not None else {})


def name_value(text: str) -> tuple[str, str]:
    """An argparse type: NAME=VALUE; the error names only the NAME, since a value may be a secret."""
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("the value given is not NAME=VALUE: it has no '=' (not shown: it may be "
                                         "a secret)")
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{name!r}=... is not NAME=VALUE (NAME letters, digits and _)")
    return name, value


def run_options(args) -> dict:
    """The library's options from the arguments of the same names; one not given (None) is left to its
    default, which may come from the environment."""
    import agent.options as options  # not `from agent import`: the package's __getattr__ would load the actions

    fields = options.described(options.RunOptions)
    given = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    return {name: dict(value) if fields[name].kind is dict else value for name, value in given.items()}


def keep_secret(args) -> None:
    """Whatever the command, the key and secrets given are hidden in all it prints (agent.core.redact)."""
    from agent import api

    api.keep_secret(api.options_of(run_options(args)))


def finish(view, result) -> int:
    from agent.core.console import console, escape

    view.summary(result.status, result.message, result.steps, result.episode)
    if result.report:
        console.print(f"report: {escape(result.report)}")
    return result.exit_code


def print_note(text: str) -> None:
    from agent.core.console import console, escape

    head, sep, rest = text.partition(": ")
    if sep and head in ("note", "warning", "no model endpoint or key configured"):
        console.print(f"[yellow]{escape(head)}:[/yellow] {escape(rest)}")
    else:
        console.print(escape(text))


def started_view(args, step_limit, planned_here: bool = False):
    """The run's view in the terminal, its first line printed: a dry run says so before anything else."""
    from agent.core.console import RunView

    view = RunView(step_limit, planned_here=planned_here, dry_run=args.dry_run)
    view.start()
    return view


def command_run(args) -> int:
    from agent import api

    view = started_view(args, args.max_steps, planned_here=args.model == "local")
    return finish(view, api.run(args.task, on_step=view.step, on_note=print_note, on_pause=ask_to_resume,
                                **run_options(args)))


def command_resume(args) -> int:
    from agent import api
    from agent.core.episode import read_episode

    episode = read_episode(args.episode)
    done_steps = episode.steps[-1]["index"] if episode.steps else 0
    view = started_view(args, done_steps + args.max_steps)
    return finish(view, api.resume(args.episode, on_step=view.step, on_note=print_note, on_pause=ask_to_resume,
                                   **run_options(args)))


def command_replay(args) -> int:
    from agent import api
    from agent.core.episode import read_episode

    episode = read_episode(args.episode)
    regrounded = args.reground or episode.header.get("planner") == PlannerKind.DEMONSTRATION
    view = started_view(args, len(episode.steps) if regrounded else args.max_steps)
    return finish(view, api.replay(args.episode, reground=args.reground, params=dict(args.param), repair=args.repair,
                                   on_step=view.step, on_note=print_note, **run_options(args)))


def command_record(args) -> int:
    from agent import api
    from agent.core.console import console, escape
    from agent.core.episode import new_run_dir
    from agent.core.settings import settings

    out, display = args.out or new_run_dir(), args.display or settings().display
    result = api.record(
        out, display=display, stop_keys=args.stop_keys, description=args.description,
        on_ready=lambda: console.print(f"recording display {escape(display)} into {escape(out)}: "
                                       f"do the task, then press {args.stop_keys} (or Ctrl+C here)"),
        on_step=lambda step: console.print(f"[bold]step {step['index']}[/bold] [cyan]{escape(step['call'])}[/cyan]"))
    console.print(f"{escape(result.status)}: {escape(result.message)}; {result.steps} steps in "
                  f"{escape(result.episode)}; replay it with `gui-agent replay {escape(result.episode)}`")
    return result.exit_code


def command_skills_list(args) -> int:
    from agent.core.console import console, escape
    from agent.demos.skills import list_skills, python_files
    from agent.demos.versions import version_file, versions

    skills = list_skills(args.skills, args.python_skills)
    if not skills:
        console.print(f"no skills in {args.skills}; "
                      "add one with `gui-agent skills add NAME EPISODE --param NAME=VALUE`")
    unloaded = [] if args.python_skills else python_files(args.skills)
    if unloaded:
        console.print(f"[dim]not loaded: {escape(', '.join(p.name for p in unloaded))} (Python skills; "
                      "--python-skills loads them, which runs their code)[/dim]")
    for one in skills:
        params = ", ".join(f"{p.name}: {p.type}" + (f" = {p.default!r}" if p.default is not None else "")
                           for p in one.params)
        version = ""
        if one.kind == "demonstration" and (one.path / version_file(1)).is_file():
            version = f" version {versions(one.path)[-1]} (`gui-agent skills diff {one.name}`)"
        console.print(f"[bold]{escape(one.name)}[/bold]({escape(params)}) [dim]{one.kind}{escape(version)}[/dim]  "
                      f"{escape(one.description)}")
    return 0


def command_skills_add(args) -> int:
    from agent.core.console import console
    from agent.demos.skills import add_skill

    params = dict(args.param)
    added = add_skill(args.name, args.episode, params, args.description, root=args.skills)
    console.print(f"skill {added.name} in {added.path}; run it with `gui-agent run-skill {added.name}"
                  + "".join(f" --param {p.name}=..." for p in added.params) + "`")
    return 0


def command_skills_diff(args) -> int:
    from agent.core.console import console, escape
    from agent.core.episode import EPISODE_FILE
    from agent.demos.skills import find_skill
    from agent.demos.versions import diff

    folder = Path(args.name)
    if not (folder / EPISODE_FILE).is_file():
        folder = find_skill(args.name, args.skills).path
    for line in diff(folder, args.against):
        console.print(escape(line), highlight=False, soft_wrap=True)
    return 0


def command_run_skill(args) -> int:
    from agent import api
    from agent.core.console import RunView
    from agent.core.episode import read_episode
    from agent.demos.skills import find_skill

    found = find_skill(args.name, args.skills, args.python_skills)
    view = RunView(len(read_episode(found.path).steps) if found.kind == "demonstration" else "?")
    return finish(view, api.run_skill(args.name, dict(args.param), repair=args.repair, on_step=view.step,
                                      on_note=print_note, report=False, **run_options(args)))


def command_export(args) -> int:
    from agent.core.console import console, escape
    from agent.export import export

    done = export(args.runs, args.out, everything=args.everything, check=args.check, skills_dir=args.skills_dir)
    if done.skills_from:
        console.print(f"skills read from: {escape(', '.join(sorted(done.skills_from)))}", highlight=False)
    for line in done.skipped:
        console.print(f"not exported: {escape(line)}", highlight=False)
    for line in done.refused:
        console.print(f"[red]bad sample, not written:[/red] {escape(line)}", highlight=False)
    if not done.samples:
        raise AgentError(f"nothing exported from {len(args.runs)} run(s): see the lines above")
    console.print(f"exported {done.samples} sample(s) from {done.runs} run(s) to {escape(str(args.out))}, "
                  f"{done.images} image(s) in {escape(str(args.out.parent / (args.out.stem + '-images')))}",
                  highlight=False)
    return 1 if done.refused else 0


def command_report(args) -> int:
    from agent import api
    from agent.core.console import console, escape

    console.print(f"report: {escape(api.report(args.episode, prices=args.prices, single_file=args.single_file))}")
    if args.gif:
        console.print(f"replay: {escape(api.animation(args.episode, fps=args.fps))}")
    return 0


def ask_to_resume() -> bool:
    from agent.core.confirm import ask_on_terminal
    from agent.core.console import console

    console.print("\n[yellow]paused[/yellow] (Ctrl+C)")
    return bool(ask_on_terminal("Resume the run? (no: quit)"))


def command_sandbox(args) -> int:
    from contextlib import nullcontext

    from agent.core.console import console
    from sandbox.session import XSession
    from sandbox.view import LiveView

    width, height = args.size
    command = args.run_command[1:] if args.run_command[:1] == ["--"] else args.run_command
    with XSession(width, height) as session:
        apps = [session.launch(name) for name in args.apps]
        for app in apps:
            app.wait_ready()
        console.print(f"sandbox ready on DISPLAY={session.display} ({width}x{height}); apps: "
                      + (", ".join(f"{a.name} (record {a.record_path})" for a in apps) or "none"))
        with LiveView(session.display, session.xauthority) if args.view else nullcontext() as view:
            if view:
                console.print(f"view: {view.url}")
            if command:
                code = subprocess.run(command, env=session.env).returncode
                for app in apps:
                    console.print(f"{app.name} ended with state "
                                  f"{json.dumps(app.record().get('state', {}), ensure_ascii=False)}")
                return code
            console.print(f"in another terminal: export DISPLAY={session.display} XAUTHORITY={session.xauthority}\n"
                          f"files the apps save go to {session.files} (removed with the sandbox); Ctrl+C here to stop")
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    return 0


def screen_size(text: str) -> tuple[int, int]:
    """An argparse type: WIDTHxHEIGHT within what Xvfb serves well."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1366x768") from None
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"{text} is out of range (320x240 to 8192x8192)")
    return width, height


def existing_file(text: str) -> Path:
    """An argparse type: a file that is there."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return Path(text)


def skill_name(text: str) -> str:
    """An argparse type: a name `skills add` can keep a skill under."""
    from agent.demos.skills import SKILL_NAME

    if not SKILL_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r}: use letters, digits, - and _, starting with a letter")
    return text


def demo_apps(text: str) -> list[str]:
    """An argparse type: demo app names, comma-separated ('' for none)."""
    from sandbox.session import APPS

    names = list(filter(None, text.split(",")))
    for name in names:
        if name not in APPS:
            raise argparse.ArgumentTypeError(f"unknown demo app {name!r}; choose from {', '.join(APPS)}")
    return names


def command_eval(args) -> int:
    from agent.core.settings import settings
    from agent.evaluate import run_suite

    given = settings()  # handed to every run as given, also to Ray's workers on other machines
    return run_suite(args.tasks, args.model, args.base_url or given.base_url, args.api_key or given.api_key,
                     args.workers, args.out, args.view, args.run_arg, args.ray)


def mcp_wire(http: int | None):
    """Over stdio: the protocol's stdin and stdout, and stdout goes to stderr for everything else."""
    from agent.mcp_server import take_stdio

    return take_stdio() if http is None else None


def command_mcp(args) -> int:
    from agent.mcp_server import serve

    if args.token_file and args.http is None:
        raise AgentError("--token-file goes with --http: over stdio there is no token")
    if args.xauthority:
        os.environ["XAUTHORITY"] = str(args.xauthority.resolve())
    return serve(run_options(args), args.http, args.token_file, args.wire)


def command_serve_runs(args) -> int:
    """`gui-agent eval`'s warm worker: `gui-agent` commands one after another in this process, whose
    imports and OCR engine stay loaded. Each comes as a JSON line {"argv", "env", "log"} on stdin, runs
    with `env` as its environment and its output in the file `log`, and is answered with a JSON line
    {"exit_code"} on stdout. Ends at the end of stdin, or after a run that a signal stopped."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    for line in sys.stdin:
        job = json.loads(line)
        os.environ.clear()
        os.environ.update(job["env"])
        sys.stdout.flush()
        saved = os.dup(1), os.dup(2)
        with open(job["log"], "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                exit_code = main(job["argv"])
            except SystemExit as error:  # argparse's usage errors
                exit_code = error.code if isinstance(error.code, int) else 2
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
        replies.write(json.dumps({"exit_code": exit_code}) + "\n")
        replies.flush()
        if exit_code == EXIT_CODES[Status.INTERRUPTED]:
            return exit_code
    return 0
