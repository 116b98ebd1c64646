"""`gui-agent mcp`: one display and monitor served to MCP clients (Claude Code, other computer-use
hosts) as tools: screenshot, click, move, drag, scroll, type_text, press_keys, find_text, run_task.
Over stdio, or with --http PORT streamable HTTP on 127.0.0.1:PORT/mcp, where every request must
carry the bearer token made for this start (or read from --token-file).

Coordinates are pixels of the screenshots this server returns. Every call is one step of the
session's episode (OUT/episode.jsonl, the screen as the call found it in step-NNN.png), with the
safety of `run`: the confirmation policy (a match is put to the host's user where the client
supports elicitation, else refused unless the server was started with --yes), the stop keys and
screen corners (a corner point is refused: the pointer there would stop every later call), secrets
typed by name only and masked in every later screenshot, nothing done off the monitor.

Threads: the SDK's event loop runs in a daemon thread here. A tool hands its work to the main thread
(`Desk`) and awaits it: calls are done one at a time, in the order they came, and all display work
is where `run` does it. So the stop keys' signal (SIGUSR1, agent.core.stop) raises StopRequested in
the action under way, between two keystrokes of a long text, and only that call fails; between calls
it does nothing. A call whose client goes away is cut the same way. SIGTERM and SIGINT cut the
action under way the same way and end the session once that call is answered: the episode gets its
end line. Over stdio, stdout is the protocol's alone (take_stdio).
"""

import asyncio
import concurrent.futures
import hmac
import io
import json
import logging
import math
import os
import queue
import re
import secrets
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, Field, ValidationError

from agent import api
from agent.core import redact
from agent.core.actions import Click, DoubleClick, Drag, Hover, Key, Scroll, TypeText
from agent.core.confirm import NeedsConfirmation
from agent.core.defaults import Outcome, PlannerKind, Status
from agent.core.desktop import open_desktop
from agent.core.episode import EpisodeWriter, new_run_dir
from agent.core.errors import ActionError, AgentError, Interrupted, StopRequested
from agent.core.geometry import Point
from agent.core.ocr import OCR
from agent.core.screen import Frame
from agent.core.settings import settings
from agent.core.shown import one_line
from agent.core.version import __version__
from agent.planners import grounding

INSTRUCTIONS = ("Acts on one X display. Coordinates are pixels of the screenshot this server returns (x from the "
                "left, y from the top). Type secrets as {{NAME}}; their values are never shown. Actions the "
                "confirmation policy matches are put to the user, or refused if the client cannot ask, unless "
                "the server was started with --yes.")
SETTLE_SECONDS = 3.0
GONE = "gui_agent.client_gone"  # an HTTP request's scope key: NoticeDisconnect's Event

X = Annotated[int, Field(description="pixels from the screenshot's left edge")]
Y = Annotated[int, Field(description="pixels from the screenshot's top edge")]


def nobody_to_ask(question: str) -> None:
    return None  # stdin is the protocol: there is no one to ask, so the Confirmer refuses (NeedsConfirmation)


def shown(text) -> str:
    """Text for the server's console, on one line: secrets hidden, control and direction characters escaped."""
    return one_line(redact.scrub(str(text)))


def log(text: str) -> None:
    """A line for the person running the server: on stderr, since stdout may be the protocol."""
    print(f"gui-agent mcp: {shown(text)}", file=sys.stderr, flush=True)


class ShownRecords(logging.Filter):
    """The SDK's and uvicorn's log lines shown as `log` shows its own: they quote what clients sent (a Host header)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = shown(record.getMessage()), None
        return True


class Desk:
    """The main thread's side: the calls' work, one at a time, and what stops it."""

    def __init__(self):
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.acting = False  # an action is under way: a stop raises StopRequested in it
        self.ending: tuple[Status, str] | None = None  # the session's end status and message, once it ends
        self.watch = None  # the StopWatch, whose reason says why it signalled
        self.stop_reason = "stopped"
        self.stops = 0  # actions cut so far
        self.current: Future | None = None  # the call under way
        self.take_signals()

    def take_signals(self) -> None:
        """SIGUSR1 (the StopWatch's, and `end`'s) raises StopRequested only in an action under way;
        SIGTERM and SIGINT end the session, cutting the action under way the same way."""
        signal.signal(signal.SIGUSR1, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_end_signal)
        signal.signal(signal.SIGINT, self._on_end_signal)

    def submit(self, work: Callable) -> Future:
        """From any thread: `work()` to be done in the main thread; the Future of its result."""
        if self.ending:
            raise AgentError(f"the server is ending ({self.ending[1]})")
        done = Future()
        self.jobs.put((work, done))
        return done

    def serve(self) -> tuple[Status, str]:
        """In the main thread, until `end`: the calls in the order they came. The end status and message."""
        while (job := self.jobs.get()) is not None:
            work, done = job
            if not done.set_running_or_notify_cancel():  # its client went away before it began
                continue
            self.current = done
            try:
                done.set_result(work())
            except BaseException as error:
                done.set_exception(error)
            finally:
                self.current = None
        return self.ending

    def cut(self, job: Future, reason: str) -> None:
        """From any thread: nobody waits for `job` any more; cut it if it is under way, as the stop keys do."""
        if not job.cancel() and self.current is job:
            self.stop_reason = reason
            os.kill(os.getpid(), signal.SIGUSR1)

    def end(self, status: Status, message: str) -> None:
        """From any thread or a signal handler: ends the session once the call under way is done, which
        a stop cuts."""
        if self.ending is None:
            self.ending = (status, message)
        self.jobs.put(None)
        os.kill(os.getpid(), signal.SIGUSR1)

    @contextmanager
    def interruptible(self):
        """The stop keys, a screen corner or the end of the session raise StopRequested in here."""
        if self.ending:
            raise StopRequested(self.ending[1])
        self.acting = True
        try:
            yield
        finally:
            self.acting = False

    def _on_end_signal(self, signum, frame) -> None:
        self.end(Status.INTERRUPTED, f"ended by {signal.Signals(signum).name}")

    def _on_stop(self, signum, frame) -> None:
        if self.watch and self.watch.reason:
            self.stop_reason, self.watch.reason = self.watch.reason, ""  # armed again: the next press stops again
        if self.acting:  # between calls there is nothing to stop
            self.acting = False
            self.stops += 1
            raise StopRequested(self.ending[1] if self.ending else self.stop_reason)


def outcome_of(error: BaseException) -> tuple[Outcome | Status, str]:
    """A failed call's step outcome and its one-line message."""
    if isinstance(error, NeedsConfirmation):
        return Status.NEEDS_CONFIRMATION, str(error)
    if isinstance(error, StopRequested):
        return Status.INTERRUPTED, f"stopped: {error or 'stop requested'}; the action was cut short"
    if isinstance(error, Interrupted):
        return Status.INTERRUPTED, str(error)
    if isinstance(error, ActionError):
        return Outcome.ACTION_ERROR, str(error)
    if isinstance(error, AgentError):
        return Status.ERROR, str(error)
    return Status.ERROR, f"unexpected {type(error).__name__}: {error}; please report it with this episode"


def typed_action(kind, **fields):
    """The typed action, or ActionError with the first problem on one line (an unknown key, say)."""
    try:
        return kind(**fields)
    except ValidationError as error:
        raise ActionError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None


class Session:
    """The display, its computer and the episode: one method per tool, each call one episode step.
    Runs in the main thread only (through the Desk)."""

    def __init__(self, options: api.RunOptions, out: Path, desk: Desk, transport: str):
        self.options, self.out, self.desk = options, Path(out), desk
        self.secrets = api.secrets_of(options)
        self.desktop = open_desktop(options.display, options.monitor, secrets=self.secrets)
        self.screen, self.computer, self.mask = self.desktop.screen, self.desktop.computer, self.desktop.mask
        self.raw_computer, self.monitor, first = self.desktop.raw_computer, self.desktop.monitor, self.desktop.first
        self.ocr = self.mask.ocr if self.mask else OCR()
        self.ask = nobody_to_ask  # who answers the confirmation policy's questions during the call under way
        self.pointing: dict[str, Point] = {}  # the screen points of the action the policy is asked about
        self.confirmer = self.desktop.confirmer(options.confirm, options.confirm_policy, options.yes,
                                                ask=lambda question: self.ask(question))
        self.episode = EpisodeWriter(self.out)
        self.steps = self.tasks = 0
        m = self.monitor
        self.episode.header(
            task=f"MCP session on display {self.desktop.display}", planner=PlannerKind.MCP, agent_version=__version__,
            settings={"transport": transport, "confirm": options.confirm, "yes": options.yes,
                      "secrets": sorted(self.secrets), "stop_keys": options.stop_keys},
            screen={"display": self.desktop.display, "monitor": options.monitor, "left": m.left, "top": m.top,
                    "width": m.width, "height": m.height, "scale": m.scale, "image_width": first.width,
                    "image_height": first.height})

    @contextmanager
    def acting(self):
        """The action under way, which a stop cuts (StopRequested)."""
        stops = self.desk.stops
        try:
            with self.desk.interruptible():
                yield
        finally:
            if self.desk.stops != stops:
                try:
                    self.raw_computer.reconnect()
                except AgentError:  # the display is gone: the next call says so
                    pass

    def asking(self, ask: Callable[[str], bool | None], work: Callable):
        """`work()` with `ask` to answer the policy's questions, each told on which display and window."""
        def where(question: str) -> bool | None:
            window = self.raw_computer.window_class() or "unknown"
            at = "".join(f", {name} at screen pixel {point}" for name, point in self.pointing.items())
            return ask(f"{question} (display {self.screen.display}, window {window}{at})")
        self.ask = nobody_to_ask if ask is nobody_to_ask else where
        try:
            return work()
        finally:
            self.ask = nobody_to_ask

    def close(self, status: Status, message: str) -> None:
        self.episode.end(status, message, steps=self.steps)
        self.desktop.close()

    def step(self, call: str, work: Callable[[Frame, dict], object]):
        """One call as one episode step: the screen as the call found it, then `work(frame, record)`.
        A failure is recorded and raised as an AgentError with a one-line message."""
        self.steps += 1
        record = {"index": self.steps, "call": call, "timings": {}}
        try:
            frame = self.screen.capture()
            record |= {"screenshot": self.episode.screenshot(self.steps, frame.png()),
                       "image": {"width": frame.width, "height": frame.height}}
            record["timings"]["capture"] = frame.capture_seconds
            result = work(frame, record)
            record |= {"outcome": Outcome.OK, "error": None}
            return result
        except (Exception, StopRequested) as error:
            outcome, message = outcome_of(error)
            record |= {"outcome": outcome, "error": message}
            action = record.get("action", {})
            if outcome != Status.INTERRUPTED:
                record.pop("cut", None)  # a failed action was not cut short: it is over
            elif record.get("cut") == "during" and action.get("type") == "type" and "{{" not in action["content"]:
                record["typed"] = self.computer.typed  # how far it got; not for a secret's length
            raise AgentError(message) from None
        finally:
            record["timings"] = {k: round(v, 4) for k, v in record["timings"].items()}
            self.episode.step(record)

    def to_screen(self, frame: Frame, x: int, y: int) -> Point:
        """The screen pixel under pixel (x, y) of the screenshot; a point off it is refused."""
        if not (0 <= x < frame.width and 0 <= y < frame.height):
            raise ActionError(f"point ({x}, {y}) is off the screen (the screenshot is {frame.width}x{frame.height}, "
                              "0-based); nothing was done")
        sx, sy = frame.geometry.image_to_screen((x + 0.5, y + 0.5))
        point = math.floor(sx), math.floor(sy)
        if point in self.raw_computer.corners():
            raise ActionError(f"point ({x}, {y}) is a screen corner, where the pointer stops every action "
                              "(the failsafe); nothing was done")
        return point

    def perform(self, frame: Frame, record: dict, action, screen: dict[str, Point], do: Callable[[], None]) -> str:
        """Asks the policy, writes the act line, does it (a stop cuts it), waits for the screen to settle."""
        record |= {"action": action.model_dump(), "screen": screen}
        self.pointing = screen  # for the question, which names the action's points in the model's scale
        try:
            if refusal := self.confirmer.refusal(action):  # NeedsConfirmation when it needs a yes
                raise ActionError(refusal)
        finally:
            self.pointing = {}
        self.episode.act(step=self.steps, call=record["call"], action=record["action"], screen=screen)
        record["cut"], started = "during", time.perf_counter()
        with self.acting():
            do()
        del record["cut"]
        settling = time.perf_counter()
        _, record["settled"] = self.screen.settle(frame, timeout=SETTLE_SECONDS)
        record["timings"] |= {"act": settling - started, "settle": time.perf_counter() - settling}
        record["explanation"] = "done" if record["settled"] else \
            f"done; the screen was still changing after {SETTLE_SECONDS:g} s"
        return record["explanation"]

    def pointer(self, call: str, points: dict[str, tuple[int, int]], make: Callable[[dict], object],
                do: Callable[[dict], None]) -> str:
        """A pointer action at pixels of the screenshot: `make(model points)` is its typed action (as
        the episode records it), `do(screen points)` performs it at exactly those pixels."""
        def work(frame: Frame, record: dict) -> str:
            screen = {name: self.to_screen(frame, *point) for name, point in points.items()}
            action = make({name: frame.geometry.screen_to_model(point) for name, point in screen.items()})
            return self.perform(frame, record, action, screen, lambda: do(screen))
        return self.step(call, work)

    def screenshot(self) -> tuple[bytes, int, int]:
        def work(frame: Frame, record: dict):
            record["explanation"] = f"{frame.width}x{frame.height} screenshot sent"
            return frame.png(), frame.width, frame.height
        return self.step("screenshot()", work)

    def click(self, x: int, y: int, button: str, count: int) -> str:
        def make(p: dict):
            if count == 2 and button == "left":
                return typed_action(DoubleClick, point=p["point"])
            return typed_action(Click, point=p["point"], button=button)
        return self.pointer(f"click(x={x}, y={y}, button={button!r}, count={count})", {"point": (x, y)}, make,
                            lambda s: self.computer.click(s["point"], button, count))

    def move(self, x: int, y: int) -> str:
        return self.pointer(f"move(x={x}, y={y})", {"point": (x, y)},
                            lambda p: typed_action(Hover, point=p["point"]), lambda s: self.computer.move(s["point"]))

    def drag(self, start_x: int, start_y: int, end_x: int, end_y: int) -> str:
        return self.pointer(f"drag(start_x={start_x}, start_y={start_y}, end_x={end_x}, end_y={end_y})",
                            {"start": (start_x, start_y), "end": (end_x, end_y)},
                            lambda p: typed_action(Drag, start=p["start"], end=p["end"]),
                            lambda s: self.computer.drag(s["start"], s["end"]))

    def scroll(self, x: int, y: int, direction: str, amount: int) -> str:
        return self.pointer(f"scroll(x={x}, y={y}, direction={direction!r}, amount={amount})", {"point": (x, y)},
                            lambda p: typed_action(Scroll, point=p["point"], direction=direction, steps=amount),
                            lambda s: self.computer.scroll(s["point"], direction, amount))

    def type_text(self, text: str) -> str:
        def work(frame: Frame, record: dict) -> str:
            action = typed_action(TypeText, content=text)
            return self.perform(frame, record, action, {}, lambda: self.computer.type_text(text))
        return self.step(f"type_text(text={text!r})", work)

    def press_keys(self, keys: str | list[str]) -> str:
        def work(frame: Frame, record: dict) -> str:
            action = typed_action(Key, keys=keys)
            return self.perform(frame, record, action, {}, lambda: self.computer.keypress(action.keys))
        return self.step(f"press_keys(keys={keys!r})", work)

    def find_text(self, text: str) -> dict:
        def work(frame: Frame, record: dict) -> dict:
            texts = self.ocr.read(frame.pixels)
            found = [{"text": match.part or match.text.text, "box": list(match.box),
                      "centre": [math.floor(match.centre[0]), math.floor(match.centre[1])],
                      "score": round(match.score, 2)} for match in grounding.find_text(texts, text)]
            record["explanation"] = f"{len(found)} found" + "".join(f"; {f['text']!r} at {f['centre']}" for f in found)
            return {"found": found} if found else {"found": [], "closest": grounding.closest_texts(texts, text)}
        return self.step(f"find_text(text={text!r})", work)

    def run_task(self, task: str) -> dict:
        def work(frame: Frame, record: dict) -> dict:
            self.tasks += 1
            out = self.out / f"task-{self.tasks:03d}"
            options = {k: v for k, v in asdict(self.options).items() if k not in ("out", "stop_keys")}
            try:
                with self.acting():  # the session's stop keys stop the run; it watches none of its own
                    result = api.run(task, screen=self.screen, computer=self.raw_computer, ask=self.ask,
                                     on_note=log, out=out, stop_keys="none", **options)
            finally:
                self.raw_computer.set_deadline(None)  # the run's --max-seconds ends with it
            if self.mask:  # it typed these through a mask of its own: from now on, ours covers them too
                for name in set(re.findall(r"\{\{(\w+)\}\}", task)) & set(self.secrets):
                    self.mask.secret_typed(self.secrets[name])
            summary = f"{result.status}{f': {result.message}' if result.message else ''}; {result.steps} steps, " \
                      f"episode {out}"
            record |= {"explanation": summary, "episode": str(out)}
            if result.status != Status.DONE:
                raise AgentError(f"the task ended {summary}")
            return {"status": result.status, "steps": result.steps, "episode": str(out),
                    "report": str(result.report) if result.report else None}
        return self.step(f"run_task(task={task!r})", work)


class Consent(BaseModel):
    allow: bool = Field(description="yes to let the agent do it")


def host_asker(ctx, loop: asyncio.AbstractEventLoop, desk: Desk, pending: list) -> Callable[[str], bool | None]:
    """The confirmation policy's questions put to the host's user (MCP elicitation), from the main thread;
    nobody_to_ask for a client that cannot ask. Each question's future goes in `pending`, for the call to
    cancel if its client goes away; the end of the session cancels it too."""
    capabilities = ctx.session.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return nobody_to_ask

    def ask(question: str) -> bool | None:
        asked = asyncio.run_coroutine_threadsafe(ctx.elicit(question, Consent), loop)
        pending.append(asked)
        try:
            while not asked.done() and not desk.ending:
                concurrent.futures.wait([asked], timeout=0.5)
            answer = asked.result(timeout=0)
        except (Exception, concurrent.futures.CancelledError) as error:  # nobody answered
            log(f"no answer from the host's user: {type(error).__name__} {error}".strip())
            return None
        finally:
            asked.cancel()
        return answer.action == "accept" and answer.data.allow
    return ask


async def when_gone(ctx, then: Callable[[], None]) -> None:
    """Over HTTP: `then()` once the client of the call's request disconnects (the SDK goes on waiting)."""
    request = ctx.request_context.request
    if request is not None and GONE in request.scope:
        await request.scope[GONE].wait()
        then()


def build_server(desk: Desk, session: Session):
    """The MCP server and its tools; each tool's work is done by the Desk."""
    try:
        from mcp.server.mcpserver import Context, Image, MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
        from mcp.types import ToolAnnotations
    except ImportError as error:
        raise AgentError(f"`gui-agent mcp` needs the MCP SDK ({error}): pip install 'mcp>=2.3'") from None

    class Server(MCPServer):
        async def call_tool(self, name, arguments, context=None):
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as error:  # arguments against the schema: the first problem, on one line
                if not isinstance(error.__cause__, ValidationError):
                    raise
                problem = error.__cause__.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                raise ToolError(f"Error executing tool {name}: argument {where}: {problem['msg']}") from error.__cause__

    server = Server("gui-agent", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    def tool(read_only: bool = False):  # results are text (JSON for find_text and run_task) or an image
        return server.tool(structured_output=False, annotations=ToolAnnotations(read_only_hint=read_only))

    async def on_desk(ctx: Context, work: Callable):
        """`work()` done by the Desk, with the host's user to answer the policy's questions; a client that
        goes away (this call cancelled) cuts it."""
        questions: list = []
        ask = host_asker(ctx, asyncio.get_running_loop(), desk, questions)
        try:
            job = desk.submit(lambda: session.asking(ask, work))
        except AgentError as error:
            raise ToolError(redact.scrub(str(error))) from None

        def abandon() -> None:
            for question in questions:
                question.cancel()
            desk.cut(job, "the MCP client went away")

        watch = asyncio.ensure_future(when_gone(ctx, abandon))
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            abandon()
            raise
        except AgentError as error:
            raise ToolError(redact.scrub(str(error))) from None
        finally:
            watch.cancel()

    @tool(read_only=True)
    async def screenshot(ctx: Context):
        """A PNG of the whole monitor, and its size; the coordinates the other tools take are its pixels."""
        png, width, height = await on_desk(ctx, session.screenshot)
        return [Image(data=png, format="png"), f"screenshot {width}x{height} pixels"]

    @tool()
    async def click(ctx: Context, x: X, y: Y, button: Literal["left", "right", "middle"] = "left",
                    count: Annotated[int, Field(ge=1, le=3, description="1 click, 2 double, 3 triple")] = 1) -> str:
        """Click at a point of the screenshot."""
        return await on_desk(ctx, lambda: session.click(x, y, button, count))

    @tool()
    async def move(ctx: Context, x: X, y: Y) -> str:
        """Move the pointer to a point without clicking."""
        return await on_desk(ctx, lambda: session.move(x, y))

    @tool()
    async def drag(ctx: Context, start_x: X, start_y: Y, end_x: X, end_y: Y) -> str:
        """Press the left button at the start point, move to the end point and release it."""
        return await on_desk(ctx, lambda: session.drag(start_x, start_y, end_x, end_y))

    @tool()
    async def scroll(ctx: Context, x: X, y: Y, direction: Literal["up", "down", "left", "right"],
                     amount: Annotated[int, Field(ge=1, le=50, description="wheel notches")] = 3) -> str:
        """Scroll the wheel with the pointer over a point."""
        return await on_desk(ctx, lambda: session.scroll(x, y, direction, amount))

    @tool()
    async def type_text(ctx: Context,
                        text: Annotated[str, Field(description="the text; {{NAME}} types the secret NAME")]) -> str:
        """Type text at the keyboard focus (it does not click or clear first). Write a secret as {{NAME}}."""
        return await on_desk(ctx, lambda: session.type_text(text))

    @tool()
    async def press_keys(ctx: Context, keys: Annotated[str | list[str], Field(
            description="a chord like 'ctrl+s' or 'enter', or a list of key names pressed together")]) -> str:
        """Press a key or a key combination."""
        return await on_desk(ctx, lambda: session.press_keys(keys))

    @tool(read_only=True)
    async def find_text(ctx: Context, text: Annotated[str, Field(
            description="the text to look for (case, OCR slips tolerated)")]) -> str:
        """Where the text is on the screen, read by OCR: JSON with boxes [x0, y0, x1, y1] and centres in screenshot
        pixels, best first; with none found, the closest texts on screen."""
        return json.dumps(await on_desk(ctx, lambda: session.find_text(text)), ensure_ascii=False)

    @tool()
    async def run_task(ctx: Context, task: Annotated[str, Field(
            description="what to do, in plain words; {{NAME}} for a secret")]) -> str:
        """Carry out a whole task with the agent loop (GLM-4.5V, or the embedded OCR planner with --model local);
        JSON with its status, steps and episode folder. A task that does not end done is a tool error."""
        return json.dumps(await on_desk(ctx, lambda: session.run_task(task)), ensure_ascii=False)

    return server


class BearerCheck:
    """ASGI: every HTTP request must carry `Authorization: Bearer TOKEN`, compared in constant time; 401 otherwise."""

    def __init__(self, app, token: str):
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not self.allowed(scope["headers"]):
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"www-authenticate", b"Bearer"), (b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"this server needs its bearer token: "
                                                              b"Authorization: Bearer TOKEN\n"})
            return
        await self.app(scope, receive, send)

    def allowed(self, headers: list[tuple[bytes, bytes]]) -> bool:
        given = [value for name, value in headers if name == b"authorization"]
        return len(given) == 1 and hmac.compare_digest(given[0], self.expected)


class NoticeDisconnect:
    """ASGI: each HTTP request's scope holds an asyncio.Event under GONE, set when its client disconnects."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        gone = scope[GONE] = asyncio.Event()

        async def receiving():
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
            return message
        await self.app(scope, receiving, send)


async def serve_http(server, port: int, token: str, on_listening: Callable[[], None]) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:
                on_listening()

    mcp_app = server.streamable_http_app(host="127.0.0.1")  # which checks Host and Origin
    app = BearerCheck(NoticeDisconnect(mcp_app), token)
    await Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)).serve()


class Wire(NamedTuple):
    """The protocol's stdin and stdout over stdio, which nothing else in the process reads or writes."""
    reader: io.BufferedReader
    writer: io.BufferedWriter


def take_stdio() -> Wire:
    """The protocol's own stdin and stdout; from now on fd 1 goes to stderr, so nothing else (python-xlib's
    `Xlib.xauth: warning` lines, a start-up error) reaches the client, and fd 0 reads nothing."""
    wire = Wire(os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb"))
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), 1)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.close(nothing)
    return wire


class ClientLines:
    """The protocol's lines from the client, for the SDK; at their end (the client went away) `on_end()`: the
    SDK would wait for the call under way, a whole run_task, before it ends."""

    def __init__(self, reader: io.BufferedReader, on_end: Callable[[], None]):
        import anyio

        self.file = anyio.wrap_file(io.TextIOWrapper(reader, encoding="utf-8", errors="replace"))
        self.on_end = on_end

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        if line := await self.file.readline():
            return line
        self.on_end()
        raise StopAsyncIteration


async def serve_stdio(server, desk: Desk, wire: Wire) -> None:
    """run_stdio_async on the wire; a client that goes away ends the session as a signal does."""
    import anyio
    from mcp.server.stdio import stdio_server

    lines = ClientLines(wire.reader, lambda: desk.end(Status.DONE, "the client closed the connection"))
    async with stdio_server(lines, anyio.wrap_file(io.TextIOWrapper(wire.writer, encoding="utf-8"))) as streams:
        protocol = server._lowlevel_server  # run_stdio_async takes no streams
        await protocol.run(*streams, protocol.create_initialization_options())


def serve_mcp(server, desk: Desk, port: int | None, token: str | None, wire: Wire | None,
              on_serving: Callable[[], None]) -> None:
    """In a daemon thread: the SDK's event loop, until the client goes away or the transport fails."""
    import anyio

    try:
        if port is None:
            on_serving()
            anyio.run(serve_stdio, server, desk, wire)
        else:
            anyio.run(serve_http, server, port, token, on_serving)
        desk.end(Status.DONE, "the client closed the connection")
    except BaseException as error:  # uvicorn ends with SystemExit when it cannot serve
        desk.end(Status.ERROR, f"the MCP transport stopped: {type(error).__name__} {error}".strip())


def check_port_free(port: int) -> None:
    if not 1 <= port <= 65535:
        raise AgentError(f"--http {port}: a port is 1 to 65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise AgentError(f"cannot serve on 127.0.0.1:{port}: {error.strerror}; give another --http PORT") from None


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise AgentError(f"cannot read --token-file {path}: {getattr(error, 'strerror', None) or error}") from None
    if len(token) < 16 or not all(33 <= ord(c) < 127 for c in token):
        raise AgentError(f"--token-file {path}: the token must be one line of 16 or more printable ASCII "
                         "characters, no spaces")
    if path.stat().st_mode & 0o077:
        log(f"warning: others than you can read --token-file {path} (chmod 600 it)")
    return token


def private_folder() -> Path:
    """A folder only this user can enter: $XDG_RUNTIME_DIR/gui-agent, else gui-agent-UID in the temp folder."""
    runtime = settings().runtime_dir
    folder = runtime / "gui-agent" if runtime else Path(tempfile.gettempdir()) / f"gui-agent-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise AgentError(f"{folder} is not a folder of yours; remove it, or give --token-file")
        folder.chmod(0o700)
    except OSError as error:
        raise AgentError(f"cannot make the token's folder {folder}: {error.strerror}; give --token-file") from None
    return folder


def write_token(token: str, port: int) -> Path:
    """The token in a file only this user can read (0600 in a 0700 folder), for the host's configuration."""
    path = private_folder() / f"mcp-{port}.token"
    try:
        path.unlink(missing_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "w") as file:
            file.write(token + "\n")
    except OSError as error:
        raise AgentError(f"cannot write the token file {path}: {error.strerror}; give --token-file") from None
    return path


def http_token(port: int, token_file: Path | None) -> tuple[str, Path | None]:
    """The bearer token: read from `token_file`, or made for this start, written to a file of its own
    (which the server removes when it ends) and shown once on stderr."""
    if token_file is not None:
        token = read_token(token_file)
        redact.register(token)
        log(f"requests need the bearer token in {token_file}")
        return token, None
    token = secrets.token_urlsafe(32)
    path = write_token(token, port)
    redact.register(token)  # shown here once; scrubbed from everything else
    print(f"gui-agent mcp: bearer token (also in {path}, readable by you only): {token}\n"
          f"gui-agent mcp: claude mcp add --transport http gui-agent http://127.0.0.1:{port}/mcp "
          f'--header "Authorization: Bearer {token}"', file=sys.stderr, flush=True)
    return token, path


def serve(given: dict, http: int | None, token_file: Path | None = None, wire: Wire | None = None) -> int:
    """`gui-agent mcp`: serves until the client goes away or a signal; the exit code. `given` are
    run options (agent.api.RunOptions), for the session and for run_task; `wire` the protocol's stdin
    and stdout (take_stdio) over stdio."""
    options = api.options_of(given)
    api.keep_secret(options)
    token = token_path = None
    if http is not None:
        check_port_free(http)
        token, token_path = http_token(http, token_file)
    elif wire is None:
        wire = take_stdio()
    try:
        return serve_session(options, http, token, wire)
    finally:
        if token_path:
            token_path.unlink(missing_ok=True)


def serve_session(options: api.RunOptions, http: int | None, token: str | None, wire) -> int:
    desk = Desk()
    session = Session(options, options.out or new_run_dir(), desk, "stdio" if http is None else "http")
    status, message = Status.ERROR, "the server did not start"
    try:
        server = build_server(desk, session)
        for handler in logging.getLogger().handlers:
            handler.addFilter(ShownRecords())
        desk.watch = session.desktop.watch_stop_keys(options.stop_keys, log)
        desk.take_signals()  # over the StopWatch's own SIGUSR1 handler, which would raise between calls too
        where = "stdio" if http is None else f"http://127.0.0.1:{http}/mcp"
        serving = f"serving display {session.screen.display} ({session.monitor.width}x{session.monitor.height}) " \
                  f"on {where}; episode {session.out}"
        threading.Thread(target=serve_mcp, args=(server, desk, http, token, wire, lambda: log(serving)), daemon=True,
                         name="mcp").start()
        status, message = desk.serve()
    except AgentError as error:
        message = str(error)
        raise
    finally:
        try:
            session.close(status, message)  # the end line first: stopping the watch can take 2 s
        finally:
            if desk.watch:
                desk.watch.stop()
    log(f"ended ({status}: {message}); {session.steps} calls in {session.out}; "
        f"`gui-agent report {session.out}` shows them")
    return 0 if status in (Status.DONE, Status.INTERRUPTED) else 1
