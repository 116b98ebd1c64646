"""What the user sees in the terminal while a run goes on."""

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False, soft_wrap=True)

STATUS_STYLE = {"done": "bold green", "failed": "bold yellow", "interrupted": "bold yellow"}


def show_step(record: dict) -> None:
    timings = record.get("timings", {})
    spent = "  ".join(f"{name} {seconds * 1000:.0f}ms" if seconds < 1 else f"{name} {seconds:.1f}s"
                      for name, seconds in timings.items())
    head = f"[bold]step {record['index']}[/bold]"
    if record.get("outcome") == "format_error":
        console.print(f"{head} [red]unusable reply:[/red] {escape(record['error'])}  [dim]{spent}[/dim]")
        return
    where = "  ".join(f"{name}=({x}, {y})" for name, (x, y) in record.get("screen", {}).items())
    console.print(f"{head} [cyan]{escape(record['call'])}[/cyan] {where}")
    if record.get("explanation"):
        console.print(f"   {escape(record['explanation'][:300])}", style="dim")
    if record.get("error"):
        console.print(f"   [red]{escape(record['error'])}[/red]")
    console.print(f"   [dim]{spent}[/dim]")


def show_end(status: str, message: str, steps: int, out) -> None:
    style = STATUS_STYLE.get(status, "bold red")
    detail = f": {escape(message)}" if message else ""
    console.print(f"[{style}]{status}[/{style}] after {steps} step(s){detail}")
    console.print(f"episode: {out}")


def show_error(message: str) -> None:
    console.print(f"[bold red]error:[/bold red] {escape(message)}")
