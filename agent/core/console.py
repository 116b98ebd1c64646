"""What the user sees in the terminal while a run goes on."""

import time

from rich.console import Console
from rich.markup import escape as escape_markup
from rich.table import Table

from agent.core.defaults import Status
from agent.core.redact import scrub
from agent.core.shown import one_line, shown

console = Console(highlight=False, soft_wrap=True)


def plain(text) -> str:
    """Text from a reply, an episode or an error, safe to print: secrets hidden, control characters
    (a terminal escape sequence could retitle or clear the terminal) and direction controls shown as
    escapes (agent.core.shown)."""
    return shown(scrub(str(text)))


def escape(text) -> str:
    """`plain`, with rich's markup escaped too, for console.print."""
    return escape_markup(plain(text))


STATUS_STYLE: dict[str, str] = {Status.DONE: "bold green", Status.FAILED: "bold yellow",
                               Status.INTERRUPTED: "bold yellow"}
DRY_RUN = "nothing is performed on the screen; the episode records what would have been done"


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


class RunView:
    """One block per step as it happens: step N of the limit, elapsed time, the explanation, the
    action and where it acted, timings; then a summary table."""

    def __init__(self, step_limit: int, planned_here: bool = False, dry_run: bool = False):
        """`planned_here`: the embedded planner's run, whose "model" time is its own planning;
        `dry_run`: a run that performs nothing, which `start` and the summary say."""
        self.step_limit, self.started, self.planned_here = step_limit, time.monotonic(), planned_here
        self.dry_run = dry_run
        self.model_seconds = self.machine_seconds = 0.0
        self.tokens_in = self.tokens_out = 0

    def start(self) -> None:
        """The first line, before anything of the run: a dry run says so."""
        if self.dry_run:
            console.print(f"[bold yellow]dry run:[/bold yellow] {DRY_RUN}")

    def step(self, record: dict) -> None:
        timings = record.get("timings", {})
        self.model_seconds += timings.get("model", 0.0)
        self.machine_seconds += sum(v for k, v in timings.items() if k != "model")
        usage = record.get("usage") or {}
        self.tokens_in += usage.get("prompt_tokens", 0)
        self.tokens_out += usage.get("completion_tokens", 0)
        spent = "  ".join(f"{name} {_duration(seconds)}" for name, seconds in timings.items())
        head = (f"[bold]step {record['index']}/{self.step_limit}[/bold] "
                f"[dim]{_duration(time.monotonic() - self.started)}[/dim]")
        if "call" not in record:
            console.print(f"{head} [red]{escape(record.get('outcome', 'error'))}:[/red] {escape(record['error'])}  "
                          f"[dim]{spent}[/dim]")
            return
        where = "  ".join(f"{name}=({x}, {y})" for name, (x, y) in record.get("screen", {}).items())
        console.print(f"{head} [cyan]{escape(record['call'])}[/cyan] {where}{unchanged(record)}")
        for then in record.get("then", []):
            where = "  ".join(f"{name}=({x}, {y})" for name, (x, y) in then["screen"].items())
            failed = f"  [red]{escape(then['error'])}[/red]" if then["error"] else ""
            console.print(f"   then [cyan]{escape(then['call'])}[/cyan] {where}{unchanged(then)}{failed}")
        if record.get("explanation"):
            console.print(f"   {escape(record['explanation'][:300])}", style="dim")
        if snap := record.get("snap"):  # a replay's is as its episode recorded it, text and distance or not
            console.print(f"   snapped onto {escape(snap.get('text', ''))!r} ({escape(snap.get('distance'))} px away)",
                          style="dim")
        if (repair := record.get("repair")) and repair.get("target"):
            console.print(f"   the target was lost; {escape(repair['model'])} found it as "
                          f"{escape(repair['target']['text'])!r}", style="dim")
        if record.get("error"):
            console.print(f"   [red]{escape(record['error'])}[/red]")
        console.print(f"   [dim]{spent}[/dim]")

    def summary(self, status: str, message: str, steps: int, out) -> None:
        style = STATUS_STYLE.get(status, "bold red")
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_row("status", f"[{style}]{escape(status)}[/{style}]" + (f": {escape(message)}" if message else ""))
        if self.dry_run:
            table.add_row("dry run", "nothing was performed on the screen")
        table.add_row("steps", str(steps))
        table.add_row("time", f"{_duration(time.monotonic() - self.started)} ({_duration(self.model_seconds)} "
                              f"{'planning' if self.planned_here else 'in the model'}, "
                              f"{_duration(self.machine_seconds)} on the machine)")
        if self.tokens_in or self.tokens_out:
            table.add_row("tokens", f"{self.tokens_in} in, {self.tokens_out} out")
        table.add_row("episode", str(out))
        console.print(table)


def unchanged(action: dict) -> str:
    """Said after an action the screen did not change after (its `changed` is false)."""
    return "  [yellow]no visible change[/yellow]" if action.get("changed") is False else ""


def show_error(message: str) -> None:
    console.print(f"[bold red]error:[/bold red] {escape_markup(one_line(scrub(message)))}")
