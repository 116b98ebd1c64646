"""What a run did, for people: OUT/report.html (one self-contained page, thumbnails in
OUT/report-thumbs/) and OUT/replay.gif (the screenshots in order with the click markers)."""

import html
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from agent.core.episode import Episode, read_episode, replace_file
from agent.core.errors import AgentError, EpisodeError
from agent.core.geometry import Geometry, Monitor

# USD per million tokens: public list prices, so any cost shown is an estimate, not a bill.
PRICES = {
    "glm-4.5v": {"input": 0.6, "output": 1.8},
    "local": {"input": 0.0, "output": 0.0},
}
PRICES_AS_OF = "2025-08"
MACHINE_TIMINGS = ("capture", "encode", "snap", "act", "settle")
THUMBS_DIR = "report-thumbs"
GIF_MAX_WIDTH = 960
COLOURS = {"action": "#e0245e", "model": "#1d6fe0", "snapped": "#12a150"}
LEGEND = {"action": "where it acted", "model": "the model's own point", "snapped": "the point it snapped to"}


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # a key of COLOURS
    name: str
    x: float  # image pixels
    y: float


def e(value) -> str:
    return "" if value is None else html.escape(str(value))


def step_markers(step: dict, screen: dict, image_width: int, image_height: int) -> list[Marker]:
    """The step's points in pixels of its screenshot; raises KeyError, TypeError or ValueError on bad records."""
    monitor = Monitor(screen["left"], screen["top"], screen["width"], screen["height"])
    geometry = Geometry(monitor, image_width, image_height)
    markers = [Marker("action", name, *geometry.screen_to_image(point))
               for name, point in (step.get("screen") or {}).items()]
    if snap := step.get("snap"):
        markers += [Marker("model", "model's point", *geometry.model_to_image(snap["model_point"])),
                    Marker("snapped", f"snapped to {snap.get('text', '')}", *geometry.model_to_image(snap["point"]))]
    return markers


def load_prices(path: Path | None) -> dict:
    """The built-in table, overridden by `path`, else by the file $GUI_AGENT_PRICES names."""
    prices = dict(PRICES)
    path = path or os.environ.get("GUI_AGENT_PRICES")
    if not path:
        return prices
    try:
        for model, price in json.loads(Path(path).read_text(encoding="utf-8")).items():
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


def write_report(out: Path, thumbnail_width: int = 480, prices: Path | None = None) -> Path:
    episode, price_table = read_episode(out), load_prices(prices)
    report = episode.path / "report.html"
    try:
        thumbs = episode.path / THUMBS_DIR
        if thumbs.is_symlink():  # a link would take the thumbnails out of the folder
            thumbs.unlink()
        thumbs.mkdir(exist_ok=True)
    except OSError as error:
        raise EpisodeError(f"cannot write the report in {episode.path}: {error.strerror}") from None
    cards = "\n".join(step_card(episode, step, thumbnail_width) for step in episode.steps)
    task = episode.header.get("task", "")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gui-agent: {e(task)}</title>
<style>{CSS}</style></head>
<body>
{summary(episode, price_table)}
{cards}
</body></html>
"""
    try:
        replace_file(report, page.encode("utf-8"))
    except OSError as error:
        raise EpisodeError(f"cannot write {report}: {error.strerror}") from None
    return report


def summary(episode: Episode, prices: dict) -> str:
    header, end, steps = episode.header, episode.end, episode.steps
    model = (header.get("settings") or {}).get("model") or header.get("planner") or "unknown"
    if end is None:
        status = '<strong class="cut">cut short — no end line</strong>'
    else:
        status = f'<strong class="status-{e(end.get("status"))}">{e(end.get("status"))}</strong>'
        status += f" — {e(end['message'])}" if end.get("message") else ""
    if episode.damaged_lines:
        status += f" ({episode.damaged_lines} torn line skipped)"

    timings = [step.get("timings") or {} for step in steps]
    model_time = sum(t.get("model", 0) for t in timings)
    machine_time = sum(t.get(name, 0) for t in timings for name in MACHINE_TIMINGS)
    if end and end.get("seconds") is not None:
        wall = seconds(end["seconds"])
    else:
        wall = f"unknown (no end line); the recorded steps account for {seconds(model_time + machine_time)}"

    usages = [step["usage"] for step in steps if step.get("usage")]
    tokens_in = sum(u.get("prompt_tokens") or 0 for u in usages)
    tokens_out = sum(u.get("completion_tokens") or 0 for u in usages)
    tokens = f"{tokens_in:,} in / {tokens_out:,} out" if usages else "not reported"
    price = price_of(model, prices)
    if price is None:
        cost = f"no price known for {e(model)}; tokens only"
    elif not usages:
        cost = "no token counts recorded"
    else:
        total = (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6
        cost = (f"{dollars(total)} <small>(estimate: ${price['input']} in / ${price['output']} out per million "
                f"tokens, list prices of {PRICES_AS_OF})</small>")

    problems = ", ".join(f"{count} {outcome.replace('_', ' ')}{'s' * (count > 1)}" for outcome, count
                         in Counter(e(step.get("outcome")) for step in steps if step.get("outcome") != "ok").items())
    rows = {
        "task": e(header.get("task", "")),
        "model": f"{e(model)} <small>(planner {e(header.get('planner'))}, agent {e(header.get('agent_version'))}, "
                 f"started {e(header.get('started'))})</small>",
        "status": status,
        "steps": f"{len(steps)}" + (f" ({problems})" if problems else ""),
        "wall time": wall,
        "time": f"{seconds(model_time)} in the model, {seconds(machine_time)} on the machine "
                f"<small>({' + '.join(MACHINE_TIMINGS)})</small>",
        "tokens": tokens,
        "cost": cost,
    }
    fields = "\n".join(f'<dt>{name}</dt><dd data-field="{name}">{value}</dd>' for name, value in rows.items())
    legend = " ".join(f'<span class="key" style="--c:{COLOURS[kind]}"></span>{text}' for kind, text in LEGEND.items())
    return f"""<header><h1>{e(header.get("task", ""))}</h1>
<dl class="summary">
{fields}
</dl>
<p class="legend">Markers: {legend}. Click a screenshot for the full size.</p></header>"""


def step_card(episode: Episode, step: dict, thumbnail_width: int) -> str:
    index = step.get("index", "?")
    outcome = step.get("outcome") or "unknown"
    if outcome == "format_error" or not step.get("call"):  # no action to show: say why, with the reply if any
        label = "unusable reply" if outcome == "format_error" else outcome.replace("_", " ")
        body = f'<p class="error">{e(label)}: {e(step.get("error"))}</p>'
        if step.get("raw"):
            body += f'<p>raw reply:</p><pre class="raw">{e(step["raw"])}</pre>'
    else:
        body = (f'<p class="explanation">{e(step.get("explanation")) or "<i>no explanation</i>"}</p>'
                f'<p><code class="call">{e(step.get("call"))}</code></p>')
        if step.get("error"):
            body += f'<p class="error">{e(step["error"])}</p>'
        if snap := step.get("snap"):
            body += (f'<p>snapped from {e(snap.get("model_point"))} to {e(snap.get("point"))} '
                     f'onto “{e(snap.get("text"))}” ({e(snap.get("distance"))} px away)</p>')
    timings = " · ".join(f"{e(name)} {seconds(value)}" for name, value in (step.get("timings") or {}).items()
                         if isinstance(value, (int, float)))
    usage = step.get("usage") or {}
    tokens = (f"{e(usage.get('prompt_tokens'))} in / {e(usage.get('completion_tokens'))} out"
              if usage else "not reported")
    folded = ""
    if step.get("reasoning"):
        folded += f'<details><summary>reasoning</summary><pre>{e(step["reasoning"])}</pre></details>'
    if step.get("call") and outcome != "format_error" and step.get("raw"):
        folded += f'<details><summary>raw reply</summary><pre>{e(step["raw"])}</pre></details>'
    return f"""<section class="step outcome-{e(outcome)}" id="step-{e(index)}" data-step="{e(index)}">
<h2>Step {e(index)} <span class="badge">{e(outcome)}</span></h2>
<div class="row">{thumbnail(episode, step, thumbnail_width)}
<div class="text">{body}
<p class="meta">timings: {timings or "none"}<br>tokens: {tokens}</p>
{folded}</div></div>
</section>"""


def thumbnail(episode: Episode, step: dict, width: int) -> str:
    try:
        png = episode.screenshot(step)
    except EpisodeError as error:
        return f'<p class="note shot">screenshot {e(step.get("screenshot"))} is missing or unreadable: {e(error)}</p>'
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return f'<p class="note shot">screenshot {e(step.get("screenshot"))} is missing or unreadable</p>'
    height, full_width = image.shape[:2]
    scale = min(1.0, width / full_width)
    small = cv2.resize(image, (max(1, round(full_width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA)
    thumb_name = f"step-{step['index']:03d}.jpg"
    try:
        jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 82])[1].tobytes()
        replace_file(episode.path / THUMBS_DIR / thumb_name, jpeg)
    except OSError:
        return f'<p class="note shot">could not write the thumbnail of {e(step["screenshot"])}</p>'
    tw, th = small.shape[1], small.shape[0]
    note = ""
    try:
        markers = step_markers(step, episode.header["screen"], full_width, height)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        markers, note = [], '<p class="note">no markers: the episode lacks the screen geometry for them</p>'
    return f"""<figure class="shot"><a href="{e(quote(step["screenshot"]))}"><img src="{THUMBS_DIR}/{e(quote(thumb_name))}"
 width="{tw}" height="{th}" alt="screenshot of step {e(step.get('index'))}" loading="lazy">
<svg viewBox="0 0 {tw} {th}" aria-hidden="true">{svg_markers(markers, scale)}</svg></a>{note}</figure>"""


def svg_markers(markers: list[Marker], scale: float) -> str:
    """Action points are dots; the snap's model point and snapped point are rings (the snapped ring
    circles the action dot it became), joined by a dashed line."""
    shapes = []
    for kind, dash in (("action", ""), ("model", ' stroke-dasharray="3 2"')):
        path = [m for m in markers if m.kind == kind or (kind == "model" and m.kind == "snapped")]
        if len(path) > 1:
            points = " ".join(f"{m.x * scale:.1f},{m.y * scale:.1f}" for m in path)
            shapes.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[path[0].kind]}" '
                          f'stroke-width="2"{dash}/>')
    for m in sorted(markers, key=lambda m: m.kind == "action"):
        paint = (f'r="5" fill="{COLOURS[m.kind]}" stroke="#fff" stroke-width="2"' if m.kind == "action" else
                 f'r="9" fill="none" stroke="{COLOURS[m.kind]}" stroke-width="2.5"')
        shapes.append(f'<circle class="{m.kind}" cx="{m.x * scale:.1f}" cy="{m.y * scale:.1f}" {paint}>'
                      f'<title>{e(m.name)}</title></circle>')
    return "".join(shapes)


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
        actions = [(m.x * scale, m.y * scale) for m in markers if m.kind == "action"]
        if len(actions) > 1:
            draw.line(actions, fill=COLOURS["action"], width=3)
        for m in sorted(markers, key=lambda m: m.kind == "action"):
            x, y = m.x * scale, m.y * scale
            if m.kind == "action":
                draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=COLOURS["action"], outline="white", width=2)
            else:
                draw.ellipse((x - 14, y - 14, x + 14, y + 14), outline=COLOURS[m.kind], width=3)
        # the caption also keeps every frame distinct: Pillow merges identical consecutive GIF frames
        action = (step.get("action") or {}).get("type") or step.get("outcome") or "?"
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
.status-done{color:#1b7a32}.status-error,.status-format_errors{color:#c62828}
.legend{color:#555}
.key{display:inline-block;width:11px;height:11px;border-radius:50%;background:var(--c);margin:0 4px 0 10px}
.step{background:#fff;border:1px solid #ddd;border-radius:6px;margin:14px 0;padding:10px 14px}
.step h2{font-size:17px;margin:0 0 8px}
.badge{font-size:12px;font-weight:normal;background:#e6efe6;padding:1px 7px;border-radius:9px}
.step:not(.outcome-ok) .badge{background:#fbe3e3;color:#a11}
.row{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.text{flex:1;min-width:280px;overflow-wrap:anywhere}
.shot{margin:0;max-width:100%}
.shot a{position:relative;display:inline-block;line-height:0;border:1px solid #ccc;max-width:100%}
.shot img{max-width:100%;height:auto}
.shot svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
p.note{line-height:1.4;color:#8a5a00}
.error{color:#c62828}
code.call{background:#f0f0ee;padding:2px 5px;border-radius:3px}
pre{white-space:pre-wrap;background:#f3f3f1;padding:8px;border-radius:4px;max-height:360px;overflow:auto}
.meta{color:#555;font-size:13px}
"""
