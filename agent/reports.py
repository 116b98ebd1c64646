"""What a run did, for people: OUT/report.html (a page whose images are in OUT/report-thumbs/ and the
screenshots beside it), or OUT/report-single-file.html (the same page with every image inside it, under
its own name so that writing the other never replaces it), and OUT/replay.gif (the screenshots in order
with the action markers)."""

import base64
import html
import io
import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from agent.core.defaults import Outcome, PlannerKind, Status
from agent.core.episode import Episode, performed, read_episode, read_plain_file, replace_file
from agent.core.errors import AgentError, EpisodeError
from agent.core.geometry import Geometry, Monitor
from agent.core.settings import settings
from agent.core.shown import shown

# USD per million tokens: public list prices, so any cost shown is an estimate, not a bill.
PRICES = {
    "glm-4.5v": {"input": 0.6, "output": 1.8},
    "local": {"input": 0.0, "output": 0.0},
}
PRICES_AS_OF = "2025-08"
MACHINE_TIMINGS = ("capture", "encode", "snap", "check", "act", "settle")
# a step's timings, in the order they happen (check: a repaired replay's check of the model's point)
PHASES = ("capture", "encode", "model", "snap", "check", "act", "settle")
PHASE_COLOURS = {"capture": "#7b61ff", "encode": "#8d99a6", "model": "#1d6fe0", "snap": "#12a150",
                 "check": "#0f8a8a", "act": "#e0245e", "settle": "#e89a1c"}
OFFLINE_PLANNERS = {PlannerKind.LOCAL}  # planners that read the screen themselves: no model, no tokens
THUMBS_DIR = "report-thumbs"
REPORT_FILE, SINGLE_FILE_REPORT = "report.html", "report-single-file.html"
CHECK_FILE = "check.json"  # an evaluated task's verdict, written by its checker (agent.task_runs)
CHECK_MAX_BYTES = 65536
CLOSE_UP = 360, 200  # image pixels around an action, shown at full size before and after it
CLOSE_UP_MARGIN = 30
CHANGED = 24  # grey levels: a pixel that changed more belongs to what an action without a point did
GIF_MAX_WIDTH = 960
COLOURS = {"action": "#e0245e", "model": "#1d6fe0", "snapped": "#12a150"}
LEGEND = {"action": "where it acted", "model": "the model's own point", "snapped": "the point it snapped to"}


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # a key of COLOURS
    name: str
    x: float  # image pixels
    y: float
    number: int | None = None  # which action of a step of several it belongs to, from 1


def e(value) -> str:
    """Text for the page: HTML escaped, its control and direction characters shown as escapes."""
    return "" if value is None else html.escape(shown(value))


def step_markers(step: dict, screen: dict, image_width: int, image_height: int) -> list[Marker]:
    """The points of every action of the step, in pixels of its screenshot, numbered in order when
    there are several; raises KeyError, TypeError or ValueError on bad records."""
    monitor = Monitor(screen["left"], screen["top"], screen["width"], screen["height"])
    geometry = Geometry(monitor, image_width, image_height)
    actions = performed(step) or [step]
    markers = [Marker("action", f"{number}: {entry.get('call')} ({name})" if len(actions) > 1 else name,
                      *geometry.screen_to_image(point), number if len(actions) > 1 else None)
               for number, entry in enumerate(actions, 1) for name, point in (entry.get("screen") or {}).items()]
    if snap := step.get("snap"):
        markers += [Marker("model", "model's point", *geometry.model_to_image(snap["model_point"])),
                    Marker("snapped", f"snapped to {snap.get('text', '')}", *geometry.model_to_image(snap["point"]))]
    return markers


def offline(header: dict) -> bool:
    """Whether the run was planned on this machine (the embedded planner): its "model" time is planning."""
    return header.get("planner") in OFFLINE_PLANNERS


def failed_action(step: dict) -> dict | None:
    """The first action of the step that did not go ok (the second click of four refused, say), or None."""
    return next((entry for entry in performed(step) if entry.get("outcome") not in (Outcome.OK, None)), None)


def outcome_of(step: dict) -> str | None:
    """The step's outcome: its first action's that did not go ok, else its own."""
    return (failed_action(step) or step).get("outcome")


def unchanged(step: dict) -> bool:
    """Whether the screen changed after none of the step's actions (as far as they say: `changed`)."""
    said = [entry["changed"] for entry in performed(step) if isinstance(entry.get("changed"), bool)]
    return bool(said) and not any(said)


def phase_name(phase: str, planned_offline: bool) -> str:
    return "planning" if phase == "model" and planned_offline else phase


def time_bar(totals: dict, planned_offline: bool) -> str:
    """The seconds per phase as one small stacked bar with its legend (HTML and CSS only)."""
    parts = [(phase, float(totals.get(phase) or 0)) for phase in PHASES]
    whole = sum(value for _, value in parts)
    if whole <= 0:
        return '<span class="note">no timings recorded</span>'
    segments = "".join(f'<span style="flex:{value / whole:.4f};background:{PHASE_COLOURS[phase]}" '
                       f'title="{phase_name(phase, planned_offline)} {seconds(value)}"></span>'
                       for phase, value in parts if value > 0)
    legend = " ".join(f'<span class="key" style="--c:{PHASE_COLOURS[phase]}"></span>'
                      f'{phase_name(phase, planned_offline)} {seconds(value)}' for phase, value in parts if value > 0)
    return (f'<span class="bar" role="img" aria-label="time by phase">{segments}</span>'
            f'<span class="bar-legend">{legend}</span>')


def load_prices(path: Path | None) -> dict:
    """The built-in table, overridden by `path`, else by the file $GUI_AGENT_PRICES names."""
    prices = dict(PRICES)
    named = path or settings().prices
    if not named:
        return prices
    path = Path(named)
    try:
        for model, price in json.loads(path.read_text(encoding="utf-8")).items():
            prices[model.lower()] = {"input": float(price["input"]), "output": float(price["output"])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        raise AgentError(f"cannot use the prices in {path} ({error}); give "
                         '{"MODEL": {"input": USD, "output": USD}} per million tokens') from None
    return prices


def price_of(model: str, prices: dict) -> dict | None:
    key = model.lower()
    return prices.get(key) or prices.get(key.rsplit("/", 1)[-1])  # "zai-org/GLM-4.5V" is glm-4.5v


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def dollars(value: float) -> str:
    return f"${value:.4f}" if 0 < value < 0.01 else f"${value:,.2f}"


def write_report(out: Path, thumbnail_width: int = 320, prices: Path | None = None, single_file: bool = False) -> Path:
    """OUT/report.html: its images in OUT/report-thumbs/ beside it (and the screenshots it links to),
    or, with `single_file`, OUT/report-single-file.html: every image inside the page, for sharing it alone."""
    episode, price_table = read_episode(out), load_prices(prices)
    report = episode.path / (SINGLE_FILE_REPORT if single_file else REPORT_FILE)
    images, shots = Images(episode.path, single_file), Screenshots(episode)
    cards = "\n".join(step_card(episode, index, images, shots, thumbnail_width) for index in range(len(episode.steps)))
    task = episode.header.get("task", "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
content="default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gui-agent: {e(task)}</title>
<style>{CSS}</style></head>
<body>
{summary(episode, price_table, single_file)}
{cards}
{end_card(episode, images, shots)}
</body></html>
"""
    try:
        replace_file(report, page.encode("utf-8"))
    except OSError as error:
        raise EpisodeError(f"cannot write {report}: {error.strerror}") from None
    return report


class Images:
    """Where the page's images go: files in THUMBS_DIR beside it, or data URLs inside it."""

    def __init__(self, folder: Path, inline: bool):
        self.folder, self.inline = folder, inline
        if inline:
            return
        try:
            thumbs = folder / THUMBS_DIR
            if thumbs.is_symlink():  # a link would take the images out of the folder
                thumbs.unlink()
            thumbs.mkdir(exist_ok=True)
        except OSError as error:
            raise EpisodeError(f"cannot write the report in {folder}: {error.strerror}") from None

    def add(self, name: str, image: np.ndarray) -> str | None:
        """The src of the image, stored as JPEG (a thumbnail) or PNG (a close-up, lossless); None when it
        cannot be written."""
        jpeg = name.endswith(".jpg")
        quality = [cv2.IMWRITE_JPEG_QUALITY, 82] if jpeg else []
        data = cv2.imencode(".jpg" if jpeg else ".png", image, quality)[1].tobytes()
        if self.inline:
            return f"data:image/{'jpeg' if jpeg else 'png'};base64,{base64.b64encode(data).decode('ascii')}"
        try:
            replace_file(self.folder / THUMBS_DIR / name, data)
        except OSError:
            return None
        return f"{THUMBS_DIR}/{quote(name)}"

    def screenshot(self, name: str, png: bytes) -> str:
        """Where the full-size screenshot is: its file beside the page, or its bytes."""
        return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" if self.inline else quote(name)


class Screenshots:
    """The episode's screenshots, each read and decoded once for the page (a step's screenshot is its
    card's, and the previous card's after): the cards go through them in order, so the last few are kept."""

    KEEP = 3

    def __init__(self, episode: Episode):
        self.episode = episode
        self._kept: dict[str, tuple[bytes, np.ndarray | None]] = {}

    def get(self, name) -> tuple[bytes, np.ndarray | None]:
        """The PNG and its BGR pixels (None when it does not decode); EpisodeError when it is missing or refused."""
        if not isinstance(name, str):
            self.episode.image(name)  # says what is wrong with it
        if name not in self._kept:
            png = self.episode.image(name)
            self._kept[name] = png, cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
            while len(self._kept) > self.KEEP:
                del self._kept[next(iter(self._kept))]
        return self._kept[name]

    def pixels(self, name) -> np.ndarray | None:
        """The BGR pixels, or None when the screenshot is missing or unreadable."""
        try:
            return self.get(name)[1]
        except EpisodeError:
            return None


def eval_check(folder: Path) -> dict | None:
    """The checker's verdict on an evaluated task, {"passed": bool, "message": str}, from the folder's
    CHECK_FILE; None when there is none, or none that reads as one (a link is not followed)."""
    try:
        check = json.loads(read_plain_file(folder / CHECK_FILE, CHECK_MAX_BYTES, "a verdict"))
    except (EpisodeError, OSError, ValueError, RecursionError):  # none, a link, too long, not JSON
        return None
    if not (isinstance(check, dict) and isinstance(check.get("passed"), bool)
            and isinstance(check.get("message"), str)):
        return None
    return check


def checked(check: dict | None) -> dict:
    """The summary's first row for an evaluated task: what its checker found in the end state."""
    if check is None:
        return {}
    verdict = "passed" if check["passed"] else "failed"
    return {"checker": f'<strong class="check-{verdict}">{verdict}</strong>: {e(check["message"])}'}


def summary(episode: Episode, prices: dict, single_file: bool) -> str:
    header, end, steps = episode.header, episode.end, episode.steps
    check = eval_check(episode.path)
    planned_offline = offline(header)
    model = (header.get("settings") or {}).get("model") or header.get("planner") or "unknown"
    if end is None:
        status = '<strong class="cut">cut short — no end line</strong>'
    else:
        status = f'<strong class="status-{e(end.get("status"))}">{e(end.get("status"))}</strong>'
        status += f" — {e(end['message'])}" if end.get("message") else ""
    if episode.damaged_lines:
        status += f" ({episode.damaged_lines} torn line skipped)"

    totals: Counter[str] = Counter()
    for step in steps:
        totals.update({k: v for k, v in (step.get("timings") or {}).items() if isinstance(v, (int, float))})
    model_time = totals["model"]
    machine_time = sum(totals[name] for name in MACHINE_TIMINGS)
    if end and end.get("seconds") is not None:
        wall = seconds(end["seconds"])
    else:
        wall = f"unknown (no end line); the recorded steps account for {seconds(model_time + machine_time)}"

    problems = ", ".join(f"{count} {outcome.replace('_', ' ')}{'s' * (count > 1)}" for outcome, count
                         in Counter(e(outcome_of(step)) for step in steps if outcome_of(step) != Outcome.OK).items())
    if still := sum(map(unchanged, steps)):
        problems += f"{'; ' if problems else ''}{still} with no visible change"
    rows = {
        **checked(check),
        "task": e(header.get("task", "")),
        "model": f"{e(model)} <small>(planner {e(header.get('planner'))}, agent {e(header.get('agent_version'))}, "
                 f"started {e(header.get('started'))})</small>",
        "status": status,
        "dry run": "nothing was performed on the screen; the steps show what would have been done"
                   if (header.get("settings") or {}).get("dry_run") is True else "",
        "went wrong": went_wrong(episode, check),
        "steps": f"{len(steps)}" + (f" ({problems})" if problems else ""),
        "wall time": wall,
        "time": f"{seconds(model_time)} {'planning' if planned_offline else 'in the model'}, "
                f"{seconds(machine_time)} on the machine<br>{time_bar(totals, planned_offline)}",
    }
    if not planned_offline:
        rows |= tokens_and_cost(model, steps, prices)
    fields = "\n".join(f'<dt>{name}</dt><dd data-field="{name}">{value}</dd>' for name, value in rows.items() if value)
    legend = " ".join(f'<span class="key" style="--c:{COLOURS[kind]}"></span>{text}' for kind, text in LEGEND.items())
    where = ("Every image is inside this page." if single_file else
             "This page shows images from its folder: share the whole folder, or write one file with "
             "<code>gui-agent report --single-file</code>.")
    return f"""<header><h1>{e(header.get("task", ""))}</h1>
<dl class="summary">
{fields}
</dl>
<p class="legend">Each step shows the screen around its actions at full size, before and after them, and the whole
screen (click it for full size). Rings: {legend}; numbered in order where a step did several actions.
{where}</p></header>"""


def went_wrong(episode: Episode, check: dict | None = None) -> str:
    """The first step that went wrong, linked; else, for a run that did not end done, its end; else,
    for an evaluated task whose checker failed it, the end state."""
    for step in episode.steps:
        if outcome_of(step) not in (Outcome.OK, None):
            index, failed = step.get("index", "?"), failed_action(step) or step
            return (f'<a href="#step-{e(index)}">step {e(index)}</a>: {e(str(failed["outcome"]).replace("_", " "))}'
                    + (f" — {e(failed.get('error'))}" if failed.get("error") else ""))
    end = episode.end
    if end is None:
        return '<a href="#end">the run was cut short</a> after its last recorded step'
    if end.get("status") != Status.DONE:
        message = f" — {e(end['message'])}" if end.get("message") else ""
        return f'<a href="#end">the end</a>: {e(end.get("status"))}{message}'
    if check and not check["passed"]:
        return f'<a href="#end">the end state</a>: {e(check["message"])}'
    return ""


def tokens_and_cost(model: str, steps: list[dict], prices: dict) -> dict:
    usages = [step["usage"] for step in steps if step.get("usage")]
    tokens_in = sum(u.get("prompt_tokens") or 0 for u in usages)
    tokens_out = sum(u.get("completion_tokens") or 0 for u in usages)
    price = price_of(model, prices)
    if price is None:
        cost = f"no price known for {e(model)}; tokens only"
    elif not usages:
        cost = "no token counts recorded"
    else:
        total = (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
        cost = (f"{dollars(total)} <small>(estimate: ${price['input']} in / ${price['output']} out per million "
                f"tokens, list prices of {PRICES_AS_OF})</small>")
    return {"tokens": f"{tokens_in:,} in / {tokens_out:,} out" if usages else "not reported", "cost": cost}


def regrounded(step: dict) -> str:
    """How a re-grounded replay found the step's target, and what the model answered if it was asked."""
    grounding, repair = step.get("grounding"), step.get("repair")
    html = ""
    if isinstance(grounding, dict) and grounding.get("method") != "model":  # a repair says so below
        html += f'<p>target found by its {e(grounding.get("method"))} (score {e(grounding.get("score"))})</p>'
    if isinstance(repair, dict) and repair.get("model"):
        taken = repair.get("target")
        verdict = (f'taken: it reads “{e(taken.get("text"))}”' if isinstance(taken, dict)
                   else f'not taken: {e(repair.get("refused"))}')
        html += (f'<p>the target was lost; {e(repair.get("model"))} answered '
                 f'<code>{e(repair.get("call", "nothing usable"))}</code>, {verdict}</p>')
        if repair.get("raw"):
            html += (f'<details><summary>{e(repair.get("model"))}\'s reply</summary>'
                     f'<pre>{e(repair["raw"])}</pre></details>')
    return html


def step_card(episode: Episode, position: int, images: Images, shots: Screenshots, thumbnail_width: int) -> str:
    step = episode.steps[position]
    index = step.get("index", "?")
    outcome = outcome_of(step) or "unknown"
    planned_offline = offline(episode.header)
    if outcome == Outcome.FORMAT_ERROR or not step.get("call"):  # no action to show: say why, with the reply if any
        label = "unusable reply" if outcome == Outcome.FORMAT_ERROR else outcome.replace("_", " ")
        body = f'<p class="error">{e(label)}: {e(step.get("error"))}</p>'
        if step.get("raw"):
            body += f'<p>raw reply:</p><pre class="raw">{e(step["raw"])}</pre>'
    else:
        body = f'<p class="explanation">{e(step.get("explanation")) or "<i>no explanation</i>"}</p>{calls(step)}'
        if snap := step.get("snap"):
            body += (f'<p>snapped from {e(snap.get("model_point"))} to {e(snap.get("point"))} '
                     f'onto “{e(snap.get("text"))}” ({e(snap.get("distance"))} px away)</p>')
        body += regrounded(step)
    recorded = step.get("timings") or {}
    timings = " · ".join(f"{e(phase_name(name, planned_offline))} {seconds(recorded[name])}"
                         for name in sorted(recorded, key=lambda name: (name not in PHASES, PHASES.index(name)
                                                                      if name in PHASES else 0, name))
                         if isinstance(recorded[name], (int, float)))
    usage = step.get("usage") or {}
    tokens = "" if planned_offline else "<br>tokens: " + (
        f"{e(usage.get('prompt_tokens'))} in / {e(usage.get('completion_tokens'))} out" if usage else "not reported")
    folded = ""
    if step.get("reasoning"):
        folded += f'<details><summary>reasoning</summary><pre>{e(step["reasoning"])}</pre></details>'
    if step.get("call") and outcome != Outcome.FORMAT_ERROR and step.get("raw"):
        folded += f'<details><summary>raw reply</summary><pre>{e(step["raw"])}</pre></details>'
    still = ' <span class="badge unchanged" data-field="changed">no visible change</span>' if unchanged(step) else ""
    return f"""<section class="step outcome-{e(outcome)}" id="step-{e(index)}" data-step="{e(index)}">
<h2>Step {e(index)} <span class="badge">{e(outcome)}</span>{still}</h2>
<div class="row">{close_ups(episode, position, images, shots)}
<div class="text">{body}
<p class="meta">timings: {timings or "none"}{tokens}</p>
{folded}{thumbnail(episode, step, images, shots, thumbnail_width)}</div></div>
</section>"""


def calls(step: dict) -> str:
    """Every action of the step in order, numbered when there are several, each with what went wrong
    with it and, where some changed the screen and it did not, that it did not."""
    actions, marked = performed(step), not unchanged(step)
    items = []
    for entry in actions:
        item = f'<code class="call">{e(entry.get("call"))}</code>'
        if entry.get("outcome") not in (Outcome.OK, None) and len(actions) > 1:
            item += f' <span class="badge">{e(entry["outcome"])}</span>'
        if entry.get("changed") is False and marked:
            item += ' <span class="badge unchanged">no visible change</span>'
        if entry.get("error"):
            item += f'<br><span class="error">{e(entry["error"])}</span>'
        items.append(item)
    if len(items) == 1:
        return f'<p class="calls" data-call="1">{items[0]}</p>'
    numbered = "".join(f'<li data-call="{number}">{item}</li>' for number, item in enumerate(items, 1))
    return f'<ol class="calls">{numbered}</ol>'


def end_card(episode: Episode, images: Images, shots: Screenshots) -> str:
    """The screen as the run left it, always: the end line's screenshot, else the last step's."""
    end = episode.end or {}
    status = e(end.get("status")) if episode.end else "cut short — no end line"
    name = end.get("screenshot") or (episode.steps[-1].get("screenshot") if episode.steps else None)
    if name is None:
        shot = '<p class="note">no screenshot was recorded</p>'
    else:
        source = "" if end.get("screenshot") else (
            '<p class="note">the episode has no screenshot of its end: this is the last step\'s</p>')
        shot = thumbnail(episode, {"screenshot": name, "index": "end"}, images, shots, 720) + source
    message = f" — {e(end['message'])}" if end.get("message") else ""
    return f"""<section class="step end" id="end">
<h2>End: {status}{message}</h2>
{shot}
</section>"""


def close_ups(episode: Episode, position: int, images: Images, shots: Screenshots) -> str:
    """The screen around the step's actions at full resolution, before them (the step's screenshot) and
    after them (the next one, or the end's): around the points of all of them, or, for actions with
    none (typing, keys), around what they changed."""
    step = episode.steps[position]
    if all((entry.get("action") or {}).get("type") in ("done", "fail", "wait") for entry in performed(step)):
        return ""  # nothing was done on the screen
    before = shots.pixels(step.get("screenshot"))
    if before is None:
        return ""
    later = episode.steps[position + 1:]
    after_name = later[0].get("screenshot") if later else (episode.end or {}).get("screenshot")
    after = shots.pixels(after_name) if after_name else None
    if after is not None and after.shape != before.shape:
        after = None
    height, width = before.shape[:2]
    try:
        markers = step_markers(step, episode.header["screen"], width, height)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        markers = []
    region = acted_region(markers, before, after)
    if region is None:
        return '<p class="note closeup">no point to show, and nothing on the screen changed</p>'
    x0, y0, x1, y1 = region
    shifted = [replace(m, x=m.x - x0, y=m.y - y0) for m in markers]
    figures = []
    for when, image, name in (("before", before, step.get("screenshot")), ("after", after, after_name)):
        if image is None:
            cut = " (the run was cut short)" if episode.end is None else ""
            figures.append(f'<p class="note closeup">after: no screenshot{cut}</p>')
            continue
        crop = image[y0:y1, x0:x1]
        src = images.add(f"step-{step['index']:03d}-{when}.png", crop)
        if src is None:
            figures.append(f'<p class="note closeup">could not write the close-up {when} step {e(step["index"])}</p>')
            continue
        unchanged = when == "after" and np.array_equal(crop, before[y0:y1, x0:x1])
        caption = "after — nothing changed here" if unchanged else when
        figures.append(f'<figure class="closeup" data-when="{when}" data-source="{e(name)}" '
                       f'data-region="{x0},{y0},{x1},{y1}"><span class="frame"><img src="{e(src)}" width="{x1 - x0}" '
                       f'height="{y1 - y0}" alt="{when} step {e(step["index"])}">'
                       f'<svg viewBox="0 0 {x1 - x0} {y1 - y0}" '
                       f'aria-hidden="true">{svg_markers(shifted, 1.0, 11)}</svg></span>'
                       f'<figcaption>{caption}</figcaption></figure>')
    return f'<div class="closeups">{"".join(figures)}</div>'


def acted_region(markers: list[Marker], before: np.ndarray,
                 after: np.ndarray | None) -> tuple[int, int, int, int] | None:
    """Image pixels (x0, y0, x1, y1) around the markers and what changed near them from before to
    after (the text a click-and-type step typed, the rows a scroll moved), or, with no marker, around
    whatever changed; at least CLOSE_UP large where the image allows."""
    height, width = before.shape[:2]
    box = None
    if markers:
        xs, ys = [m.x for m in markers], [m.y for m in markers]
        box = (min(xs), min(ys), max(xs), max(ys))
    near = None if box is None else (box[0] - CLOSE_UP[0], box[1] - CLOSE_UP[1],
                                     box[2] + CLOSE_UP[0], box[3] + CLOSE_UP[1])
    changes = changed_box(before, after, near) if after is not None else None
    if box is None:
        box = changes
    elif changes is not None:
        box = (min(box[0], changes[0]), min(box[1], changes[1]), max(box[2], changes[2]), max(box[3], changes[3]))
    if box is None:
        return None
    x0, y0 = box[0] - CLOSE_UP_MARGIN, box[1] - CLOSE_UP_MARGIN
    x1, y1 = box[2] + CLOSE_UP_MARGIN, box[3] + CLOSE_UP_MARGIN
    grow_x, grow_y = max(0, CLOSE_UP[0] - (x1 - x0)) / 2, max(0, CLOSE_UP[1] - (y1 - y0)) / 2
    x0, x1 = x0 - grow_x, x1 + grow_x
    y0, y1 = y0 - grow_y, y1 + grow_y
    shift_x = -x0 if x0 < 0 else min(0, width - x1)  # slid back onto the image rather than cut
    shift_y = -y0 if y0 < 0 else min(0, height - y1)
    return (max(0, int(x0 + shift_x)), max(0, int(y0 + shift_y)),
            min(width, int(round(x1 + shift_x))), min(height, int(round(y1 + shift_y))))


def changed_box(before: np.ndarray, after: np.ndarray, within=None) -> tuple[int, int, int, int] | None:
    """The box around the pixels that changed by more than CHANGED grey levels (only those `within`
    a box, if given), or None."""
    height, width = before.shape[:2]
    x0, y0, x1, y1 = (0, 0, width, height) if within is None else (
        max(0, int(within[0])), max(0, int(within[1])), min(width, int(within[2]) + 1), min(height, int(within[3]) + 1))
    if x1 <= x0 or y1 <= y0:
        return None
    grey = [cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.int16) for image in (before, after)]
    changed = np.argwhere(np.abs(grey[0] - grey[1]) > CHANGED)
    if not len(changed):
        return None
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    return x0 + int(left), y0 + int(top), x0 + int(right), y0 + int(bottom)


def thumbnail(episode: Episode, step: dict, images: Images, shots: Screenshots, width: int) -> str:
    """The whole screen, small, with the step's markers; it links to the full size."""
    try:
        png, image = shots.get(step.get("screenshot"))
    except EpisodeError as error:
        return f'<p class="note shot">screenshot {e(step.get("screenshot"))} is missing or unreadable: {e(error)}</p>'
    if image is None:
        return f'<p class="note shot">screenshot {e(step.get("screenshot"))} is missing or unreadable</p>'
    height, full_width = image.shape[:2]
    scale = min(1.0, width / full_width)
    small = cv2.resize(image, (max(1, round(full_width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    index = step["index"]
    src = images.add(f"step-{index:03d}.jpg" if isinstance(index, int) else f"{index}.jpg", small)
    if src is None:
        return f'<p class="note shot">could not write the thumbnail of {e(step["screenshot"])}</p>'
    tw, th = small.shape[1], small.shape[0]
    note = ""
    try:
        markers = step_markers(step, episode.header["screen"], full_width, height)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        markers, note = [], '<p class="note">no markers: the episode lacks the screen geometry for them</p>'
    picture = (f'<img src="{e(src)}" width="{tw}" height="{th}" alt="the whole screen, step {e(index)}" '
               f'loading="lazy"><svg viewBox="0 0 {tw} {th}" aria-hidden="true">{svg_markers(markers, scale, 7)}</svg>')
    if images.inline:  # a data URL cannot be opened as a page: the full size unfolds in place
        return (f'<figure class="shot"><span class="frame">{picture}</span><details><summary>full size</summary>'
                f'<img class="full" src="{images.screenshot(step["screenshot"], png)}" '
                f'alt="step {e(index)} at full size"></details>{note}</figure>')
    href = e(images.screenshot(step["screenshot"], png))
    return f'<figure class="shot"><a class="frame" href="{href}">{picture}</a>{note}</figure>'


def svg_markers(markers: list[Marker], scale: float, radius: float) -> str:
    """Rings with crosshair ticks outside them, so the target inside stays visible: where it acted
    (red), and for a snapped click the model's own point (blue, dashed) and where it snapped to
    (green, around the red ring). A drag's points are joined by a line, the model's point to the
    snapped one by a dashed line."""
    shapes = []
    for path, dash in [(line, "") for line in action_lines(markers)] + [
            ([m for m in markers if m.kind in ("model", "snapped")], ' stroke-dasharray="3 2"')]:
        if len(path) > 1:
            points = " ".join(f"{m.x * scale:.1f},{m.y * scale:.1f}" for m in path)
            shapes.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[path[0].kind]}" '
                          f'stroke-width="1.5" stroke-opacity="0.8"{dash}/>')
    for m in markers:
        r = radius * (1.5 if m.kind == "snapped" else 1)
        x, y = m.x * scale, m.y * scale
        dash = ' stroke-dasharray="4 3"' if m.kind == "model" else ""
        ticks = " ".join(f"M{x + dx * (r + 2):.1f},{y + dy * (r + 2):.1f} "
                         f"L{x + dx * (r + 8):.1f},{y + dy * (r + 8):.1f}"
                         for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)))
        number = "" if m.number is None else (
            f'<text x="{x + r + 3:.1f}" y="{y - r - 2:.1f}" font-size="{max(11.0, r * 1.6):.0f}" font-weight="bold" '
            f'fill="{COLOURS[m.kind]}" stroke="#fff" stroke-width="3" paint-order="stroke">{m.number}</text>')
        shapes.append(f'<g class="{m.kind}" stroke="{COLOURS[m.kind]}" fill="none"><title>{e(m.name)}</title>'
                      f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" stroke="#fff" stroke-width="4"/>'
                      f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" stroke-width="2"{dash}/>'
                      f'<path d="{ticks}" stroke-width="2"/>{number}</g>')
    return "".join(shapes)


def action_lines(markers: list[Marker]) -> list[list[Marker]]:
    """The points of each action, in order: a drag's two are joined by a line, two clicks are not."""
    lines: dict[int | None, list[Marker]] = {}
    for m in markers:
        if m.kind == "action":
            lines.setdefault(m.number, []).append(m)
    return list(lines.values())


def write_animation(out: Path, fps: float = 1.0) -> Path:
    from PIL import Image, ImageDraw

    episode = read_episode(out)
    frames = []
    for step in episode.steps:
        try:
            with Image.open(io.BytesIO(episode.screenshot(step))) as image:
                frame = image.convert("RGB")
        except (EpisodeError, OSError, ValueError, Image.DecompressionBombError):  # missing, refused or unreadable
            continue
        try:
            markers = step_markers(step, episode.header["screen"], frame.width, frame.height)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            markers = []
        scale = min(1.0, GIF_MAX_WIDTH / frame.width)
        frame = frame.resize((round(frame.width * scale), round(frame.height * scale)), Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(frame)
        for line in action_lines(markers):
            if len(line) > 1:
                draw.line([(m.x * scale, m.y * scale) for m in line], fill=COLOURS["action"], width=3)
        for m in markers:  # rings with ticks outside, as on the page: the target stays visible
            x, y, r = m.x * scale, m.y * scale, 15 if m.kind == "snapped" else 10
            draw.ellipse((x - r, y - r, x + r, y + r), outline="white", width=5)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=COLOURS[m.kind], width=2)
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                draw.line((x + dx * (r + 2), y + dy * (r + 2), x + dx * (r + 8), y + dy * (r + 8)),
                          fill=COLOURS[m.kind], width=2)
            if m.number is not None:
                draw.text((x + r + 3, y - r - 12), str(m.number), fill=COLOURS[m.kind], stroke_width=2,
                          stroke_fill="white")
        # the caption also keeps every frame distinct: Pillow merges identical consecutive GIF frames
        types = [(entry.get("action") or {}).get("type") or "?" for entry in performed(step)]
        action = ", ".join(types) or step.get("outcome") or "?"
        draw.rectangle((0, 0, 200, 20), fill="black")
        draw.text((6, 4), f"step {step.get('index')}/{len(episode.steps)}: {action}"[:32], fill="white")
        frames.append(frame)
    if not frames:
        raise EpisodeError(f"no readable screenshots in {episode.path} to animate")
    gif = episode.path / "replay.gif"
    try:
        animation = io.BytesIO()
        frames[0].save(animation, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                       loop=0)
        replace_file(gif, animation.getvalue())
    except OSError as error:
        raise EpisodeError(f"cannot write {gif}: {error}") from None
    return gif


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#1b1b1b;background:#f6f6f4}
h1{font-size:22px;margin:0 0 8px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;
 background:#fff;padding:12px 16px;border:1px solid #ddd;border-radius:6px}
dt{color:#666}dd{margin:0}
.cut{background:#c62828;color:#fff;padding:1px 8px;border-radius:4px}
.status-done,.check-passed{color:#1b7a32}.status-error,.status-format_errors,.check-failed{color:#c62828}
.legend{color:#555}
.key{display:inline-block;width:11px;height:11px;border-radius:50%;background:var(--c);margin:0 4px 0 10px}
.step{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:10px 14px}
.step h2{font-size:17px;margin:0 0 8px}
.badge{font-size:12px;font-weight:normal;background:#e6efe6;padding:1px 7px;border-radius:9px}
.step:not(.outcome-ok) .badge{background:#fbe3e3;color:#a11}
.row{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.text{flex:1;min-width:280px;overflow-wrap:anywhere}
.shot,.closeup{margin:0;max-width:100%}
.frame{position:relative;display:inline-block;line-height:0;border:1px solid #ccc;max-width:100%}
.frame img{max-width:100%;height:auto}
.frame svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
.closeups{display:flex;gap:10px;flex:2 1 600px;min-width:0}
.closeup{max-width:calc(50% - 5px)}
.closeup figcaption{font-size:13px;color:#555;margin-top:2px}
.shot{margin-top:8px}
img.full{max-width:none}
details:has(img.full){overflow:auto}
.end h2{font-size:17px}
p.note{line-height:1.4;color:#8a5a00}
.error{color:#c62828}
code.call{background:#f0f0ee;padding:2px 5px;border-radius:3px}
ol.calls li{margin:3px 0}
.step .badge.unchanged{background:#fff1c2;color:#7a5b00}
pre{white-space:pre-wrap;background:#f3f3f1;padding:8px;border-radius:4px;max-height:360px;overflow:auto}
.meta{color:#555;font-size:13px}
.bar{display:flex;height:12px;width:100%;max-width:520px;border-radius:3px;overflow:hidden;background:#eee;margin:3px 0}
.bar-legend{font-size:13px;color:#555}
"""
