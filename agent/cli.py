"""The `gui-agent` command: run, replay, sandbox."""

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from . import __version__
from .console import console, show_end, show_error, show_step
from .episode import EpisodeWriter, new_run_dir, read_episode
from .errors import AgentError, Interrupted
from .executors import PyAutoGUIComputer, RecordingComputer
from .loop import EXIT_CODES, Agent
from .local import LocalPlanner
from .planners import GLMConfig, GLMPlanner, ReplayPlanner
from .snap import SnappingPlanner
from .screen import Screen

STATUS_HELP = ", ".join(f"{status} {code}" for status, code in EXIT_CODES.items())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except AgentError as error:
        show_error(str(error))
        return EXIT_CODES["error"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gui-agent", description="A desktop GUI agent driven by screen grounding.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="carry out a task with a model", description=(
        f"Carry out TASK on the display. Exit codes by status: {STATUS_HELP}; 2 for bad arguments."))
    run.add_argument("task", help="what to do, in plain words")
    run.add_argument("--model", help="model name the endpoint serves (default: glm-4.5v), or 'local' for the "
                                     "embedded OCR planner (the default when no endpoint or key is configured)")
    run.add_argument("--base-url", default=os.environ.get("GUI_AGENT_BASE_URL"),
                     help="OpenAI-compatible endpoint, e.g. https://api.z.ai/api/paas/v4 or http://HOST:8000/v1 "
                          "(default: $GUI_AGENT_BASE_URL, else Z.ai when a key is set)")
    run.add_argument("--api-key", default=os.environ.get("GUI_AGENT_API_KEY") or os.environ.get("ZAI_API_KEY"),
                     help="API key (default: $GUI_AGENT_API_KEY, then $ZAI_API_KEY); never written to disk")
    run.add_argument("--no-thinking", dest="thinking", action="store_false", help="turn thinking mode off")
    run.add_argument("--no-snap", dest="snap", action="store_false",
                     help="do not move a model's click onto the on-screen text its element_info names")
    run.add_argument("--max-tokens", type=int, default=8192, help="output token limit per reply (default: 8192)")
    run.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for one reply (default: 180)")
    add_run_options(run)
    run.set_defaults(command=command_run)

    replay = commands.add_parser("replay", help="re-perform a recorded episode on the current screen",
                                 description="Re-perform the actions of episode OUT by serving its recorded "
                                             "replies again, mapped onto the current screen.")
    replay.add_argument("episode", type=Path, help="a run folder (or its episode.jsonl)")
    add_run_options(replay)
    replay.set_defaults(command=command_replay)

    sandbox = commands.add_parser("sandbox", help="start a virtual desktop with demo apps",
                                  description="Start Xvfb with openbox and demo apps, print the display, and tear "
                                              "everything down on Ctrl+C; or run COMMAND inside it and exit.")
    sandbox.add_argument("--size", default="1280x800", help="screen size WxH (default: 1280x800)")
    sandbox.add_argument("--apps", default="form,editor", help="demo apps to start, comma-separated "
                                                               "(form, editor; default: both; '' for none)")
    sandbox.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                         help="a command to run with DISPLAY set; the sandbox ends when it exits")
    sandbox.set_defaults(command=command_sandbox)
    return parser


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-steps", type=int, default=30, help="stop after this many model replies (default: 30)")
    parser.add_argument("--display", default=os.environ.get("DISPLAY"), help="X display to act on (default: $DISPLAY)")
    parser.add_argument("--monitor", type=int, default=1, help="monitor number on that display (default: 1)")
    parser.add_argument("--out", type=Path, help="episode folder (default: a new folder under ./runs/)")
    parser.add_argument("--dry-run", action="store_true", help="perform nothing; record what would have been done")


def command_run(args) -> int:
    if args.model == "local" or (args.model is None and not args.base_url and not args.api_key):
        if args.model is None:
            console.print("[yellow]no model endpoint or key configured:[/yellow] using the embedded planner "
                          "(--model local); pass --base-url or --api-key for GLM-4.5V")
        planner = LocalPlanner(args.task)
        return drive(args, args.task, planner, {"model": "local", "max_steps": args.max_steps, "dry_run": args.dry_run})
    config = GLMConfig(model=args.model or "glm-4.5v", base_url=args.base_url or GLMConfig().base_url,
                       api_key=args.api_key, thinking=args.thinking, max_tokens=args.max_tokens, timeout=args.timeout)
    settings = {**config.model_dump(), "max_steps": args.max_steps, "dry_run": args.dry_run, "snap": args.snap}
    planner = GLMPlanner(config)
    return drive(args, args.task, SnappingPlanner(planner) if args.snap else planner, settings)


def command_replay(args) -> int:
    episode = read_episode(args.episode)
    if episode.cut_short:
        console.print(f"[yellow]note:[/yellow] {args.episode} was cut short (no end line); replaying what it has")
    settings = {"replay_of": str(episode.path), "max_steps": args.max_steps, "dry_run": args.dry_run}
    return drive(args, episode.header.get("task", ""), ReplayPlanner(episode), settings)


def drive(args, task: str, planner, settings: dict) -> int:
    screen = Screen(args.display, args.monitor)
    monitor = screen.capture().monitor
    computer = RecordingComputer(monitor) if args.dry_run else PyAutoGUIComputer(screen.display, monitor)
    out = args.out or new_run_dir()
    agent = Agent(task, planner, computer, screen, EpisodeWriter(out), max_steps=args.max_steps,
                  settings=settings, on_step=show_step)
    console.print(f"[bold]{planner.name}[/bold] on display {screen.display} "
                  f"({monitor.width}x{monitor.height}): {task}")
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    status, message = agent.run()
    show_end(status, message, agent.steps, out)
    return EXIT_CODES[status]


def stop_on_sigterm(signum, frame):
    raise Interrupted("terminated by SIGTERM")


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
        console.print(f"run `export DISPLAY={session.display}` in another terminal; Ctrl+C here to stop")
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
