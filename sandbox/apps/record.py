"""Recorder shared by the demo apps.

The record file is a JSON object rewritten atomically after every change:

    {"app": ..., "ready": bool,
     "widgets": {name: [x, y, width, height]},   # root-screen pixels
     "events": [{"event": name, ...}, ...],       # append-only
     "state": {...}}

Widget rectangles are recomputed just before every save, so they are
current even after the window moved.
"""

import json
import os
import tkinter as tk
from pathlib import Path


def widget_rect(widget):
    """Root-screen rectangle of a mapped widget, or None."""
    if not widget.winfo_exists() or not widget.winfo_ismapped():
        return None
    return [widget.winfo_rootx(), widget.winfo_rooty(),
            widget.winfo_width(), widget.winfo_height()]


def scroll_per_notch(root, widget_class, units):
    """Every widget of `widget_class` (Text, Listbox: the combobox's drop-down list too) scrolls a
    fixed number of units (lines, rows) per wheel notch. Tk's own bindings differ between 8.6
    builds (50 pixels a notch on X11 in 8.6.13, a delta-based amount later), so the same replay
    would end on another line elsewhere."""
    def scroll(event, direction):
        event.widget.yview_scroll(direction * units, "units")
        return "break"

    root.bind_class(widget_class, "<Button-4>", lambda event: scroll(event, -1))
    root.bind_class(widget_class, "<Button-5>", lambda event: scroll(event, 1))
    root.bind_class(widget_class, "<MouseWheel>", lambda event: scroll(event, -1 if event.delta > 0 else 1))


def posted_menu_rects(root):
    """Rects of every item of every menu currently on screen.

    Dropdown and popup menu items are named "menu:<label>", menubar items
    "menubar:<label>". Menus are walked by Tcl path because the menubar and
    its dropdowns are Tk-made clones that have no Python widget objects.
    """
    rects = {}
    for menu in _menu_paths(root, "."):
        if _tcl(root, "winfo", "ismapped", menu) != "1":
            continue
        if _tcl(root, menu, "cget", "-type") == "menubar":
            rects.update(_menubar_item_rects(root, menu))
        else:
            rects.update(_dropdown_item_rects(root, menu))
    return rects


def _tcl(root, *args):
    return str(root.tk.call(*args))


def _tcl_int(root, *args):
    return int(_tcl(root, *args))


def _menu_paths(root, path):
    for child in root.tk.splitlist(root.tk.call("winfo", "children", path)):
        if _tcl(root, "winfo", "class", child) == "Menu":
            yield child
        yield from _menu_paths(root, child)


def _labelled_items(root, menu):
    """(index, label) of each item that has a label."""
    last = _tcl(root, menu, "index", "end")
    if last == "none":
        return []
    return [(i, _tcl(root, menu, "entrycget", i, "-label")) for i in range(int(last) + 1)
            if _tcl(root, menu, "type", i) not in ("separator", "tearoff")]


def _dropdown_item_rects(root, menu):
    x = _tcl_int(root, "winfo", "rootx", menu)
    y = _tcl_int(root, "winfo", "rooty", menu)
    width = _tcl_int(root, "winfo", "width", menu)
    border = root.winfo_pixels(_tcl(root, menu, "cget", "-borderwidth"))
    bottom = _tcl_int(root, "winfo", "height", menu) - border
    last = _tcl_int(root, menu, "index", "end")
    rects = {}
    for i, label in _labelled_items(root, menu):
        top = _tcl_int(root, menu, "yposition", i)
        next_top = _tcl_int(root, menu, "yposition", i + 1) if i < last else bottom
        rects[f"menu:{label}"] = [x, y + top, width, next_top - top]
    return rects


def _menubar_item_rects(root, menubar):
    x = _tcl_int(root, "winfo", "rootx", menubar)
    y = _tcl_int(root, "winfo", "rooty", menubar)
    height = _tcl_int(root, "winfo", "height", menubar)
    items = _labelled_items(root, menubar)
    rects = {}
    for position, (i, label) in enumerate(items):
        left = _tcl_int(root, menubar, "xposition", i)
        if position + 1 < len(items):
            width = _tcl_int(root, menubar, "xposition", items[position + 1][0]) - left
        else:
            # Tk has no item-width query; the last item is its label plus padding.
            font = _tcl(root, menubar, "cget", "-font")
            width = _tcl_int(root, "font", "measure", font, label) + 16
        rects[f"menubar:{label}"] = [x + left, y, width, height]
    return rects


class Recorder:
    def __init__(self, path, app_name, root):
        self.path = Path(path)
        self.app_name = app_name
        self.root = root
        self.ready = False
        self.tracked_widgets = {}
        self.rect_sources = [lambda: posted_menu_rects(root)]
        self.events = []
        self.state = {}

        root.bind("<Configure>", self._on_root_configure, add="+")
        # Save when any menu or combobox dropdown appears, moves or disappears,
        # once Tk has placed it, so the item rects in the file match the screen.
        # (The dropdown's listbox has only its own bindtags, hence its class too.)
        for window_class in ("Menu", "ComboboxPopdown", "ComboboxListbox"):
            for sequence in ("<Map>", "<Unmap>", "<Configure>"):
                root.bind_class(window_class, sequence, self.save_when_idle, add="+")

    def track(self, name, widget):
        """Record this widget's rect (while it is mapped) under name."""
        self.tracked_widgets[name] = widget

    def untrack(self, *names):
        for name in names:
            self.tracked_widgets.pop(name, None)

    def add_rect_source(self, source):
        """source() -> {name: [x, y, w, h]}, called before every save."""
        self.rect_sources.append(source)

    def log(self, event, **details):
        self.events.append({"event": event, **details})
        self.save()

    def update_state(self, **changes):
        self.state.update(changes)
        self.save()

    def mark_ready_when_mapped(self):
        """Set "ready" once the main window is on screen and laid out."""
        def on_map(event):
            if event.widget is self.root and not self.ready:
                self.root.after_idle(become_ready)

        def become_ready():
            self.root.update_idletasks()
            self.ready = True
            self.save()

        self.root.bind("<Map>", on_map, add="+")

    def save_when_idle(self, event=None):
        self.root.after_idle(self.save)

    def save(self):
        record = {
            "app": self.app_name,
            "ready": self.ready,
            "widgets": self.current_rects(),
            "events": self.events,
            "state": self.state,
        }
        temporary = Path(f"{self.path}.tmp")
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)

    def current_rects(self):
        # A TclError means a window is being destroyed; skip it this time.
        rects = {}
        for name, widget in self.tracked_widgets.items():
            try:
                rect = widget_rect(widget)
            except tk.TclError:
                rect = None
            if rect:
                rects[name] = rect
        for source in self.rect_sources:
            try:
                rects.update(source())
            except tk.TclError:
                pass
        return rects

    def _on_root_configure(self, event):
        # <Configure> on the toplevel tag also fires for every child widget.
        if event.widget is self.root:
            self.save()

    def log_clicks_on(self, name, widget):
        """Log {"event": "click", ...} on every button press, keeping default behaviour.

        Uses a bindtag of its own: on the widget's own tag a more specific
        binding such as <Button-3> or <Double-Button-1> would hide it.
        """
        def on_press(event):
            self.log("click", widget=name, x=event.x_root, y=event.y_root, button=event.num)
        tag = f"click_log:{name}"
        widget.bind_class(tag, "<ButtonPress>", on_press)
        widget.bindtags((tag, *widget.bindtags()))
