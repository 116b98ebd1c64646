"""Demo Editor: a small text editor that records what it receives.

python -m sandbox.apps.editor --record PATH [--dir DIR] [--open FILE] [--geometry WxH+X+Y]
"""

import argparse
import tkinter as tk
from functools import partial
from pathlib import Path
from tkinter import ttk

from sandbox.apps.look import demo_root
from sandbox.apps.record import Recorder, scroll_per_notch

APP_TITLE = "Demo Editor"
DEFAULT_TEXT = "\n".join(f"Line {n}: the quick brown fox" for n in range(1, 201))


class DemoEditor:
    def __init__(self, root, recorder, save_dir, open_path=None):
        self.root = root
        self.recorder = recorder
        self.save_dir = Path(save_dir)
        self.saved_path = None
        self.dialog = None
        root.title(APP_TITLE)

        self._build_menubar()
        self._build_text()
        self._build_context_menu()
        root.bind("<Control-s>", lambda e: self.save())
        root.protocol("WM_DELETE_WINDOW", self.quit)

        if open_path:
            path = Path(open_path)
            self.set_text(path.read_text(encoding="utf-8"))
            self.set_saved_path(path)
        else:
            self.set_text(DEFAULT_TEXT)
        self.text.mark_set("insert", "1.0")
        self.text.focus_set()
        self.record_state()

    def _build_menubar(self):
        # The explicit name makes Tk's on-screen clone of the menubar ".#menubar".
        menubar = tk.Menu(self.root, name="menubar")
        file_menu = tk.Menu(menubar, name="file", tearoff=False)
        file_menu.add_command(label="New", command=lambda: self.on_menu_item("File", "New", self.new))
        file_menu.add_command(label="Save", accelerator="Ctrl+S",
                              command=lambda: self.on_menu_item("File", "Save", self.save))
        file_menu.add_command(label="Save As...",
                              command=lambda: self.on_menu_item("File", "Save As...", self.open_save_as_dialog))
        file_menu.add_separator()
        file_menu.add_command(label="Quit", command=lambda: self.on_menu_item("File", "Quit", self.quit))
        edit_menu = tk.Menu(menubar, name="edit", tearoff=False)
        edit_menu.add_command(label="Select All", accelerator="Ctrl+A",
                              command=lambda: self.on_menu_item("Edit", "Select All", self.select_all))
        edit_menu.add_command(label="Upper Case",
                              command=lambda: self.on_menu_item("Edit", "Upper Case", self.upper_case_selection))
        # underline=0 makes Alt+F / Alt+E open the menus (Tk's menu traversal).
        menubar.add_cascade(label="File", menu=file_menu, underline=0)
        menubar.add_cascade(label="Edit", menu=edit_menu, underline=0)
        self.root.configure(menu=menubar)

    def _build_text(self):
        frame = ttk.Frame(self.root)
        frame.pack(fill="both", expand=True)
        self.scrollbar = ttk.Scrollbar(frame, orient="vertical")
        self.text = tk.Text(frame, wrap="none", undo=True, width=60, height=20,
                            yscrollcommand=self.on_text_scroll)
        self.scrollbar.configure(command=self.text.yview)
        self.text.pack(side="left", fill="both", expand=True)
        self.scrollbar.pack(side="right", fill="y")

        self.text.bind("<<Modified>>", self.on_text_modified)
        self.text.bind("<<Selection>>", lambda e: self.record_state())
        self.text.bind("<ButtonRelease>", lambda e: self.record_state(), add="+")
        self.text.bind("<KeyRelease>", lambda e: self.record_state(), add="+")
        self.text.bind("<Control-a>", self.select_all)  # replaces Tk's "go to line start"
        self.text.bind("<Button-3>", self.on_text_right_click)
        scroll_per_notch(self.root, "Text", 3)

        self.recorder.track("text", self.text)
        self.recorder.track("text_scrollbar", self.scrollbar)
        self.recorder.log_clicks_on("text", self.text)

    def _build_context_menu(self):
        self.context_menu = tk.Menu(self.root, tearoff=False)
        actions = {
            "Upper Case": self.upper_case_selection,
            "Copy": lambda: self.text.event_generate("<<Copy>>"),
            "Paste": lambda: self.text.event_generate("<<Paste>>"),
        }
        for label, action in actions.items():
            self.context_menu.add_command(
                label=label, command=partial(self.on_menu_item, "context", label, action))

    # State

    def content(self):
        return self.text.get("1.0", "end-1c")  # without Tk's trailing newline

    def selection(self):
        try:
            return self.text.get("sel.first", "sel.last")
        except tk.TclError:
            return ""

    def top_line(self):
        return int(self.text.index("@0,0").split(".")[0])

    def record_state(self):
        self.recorder.update_state(
            text=self.content(),
            selection=self.selection(),
            top_line=self.top_line(),
            title=self.root.title(),
            saved_path=str(self.saved_path) if self.saved_path else None,
            dialog="Save As" if self.dialog else None,
        )

    def on_text_modified(self, event):
        # Resetting the flag fires <<Modified>> again; that second call does nothing.
        if self.text.edit_modified():
            self.text.edit_modified(False)
            self.record_state()

    def on_text_scroll(self, first, last):
        self.scrollbar.set(first, last)
        self.record_state()

    # Commands

    def on_menu_item(self, menu, label, action):
        self.recorder.log("menu_item", menu=menu, label=label)
        action()

    def on_text_right_click(self, event):
        self.recorder.log("context_menu", widget="text")
        self.context_menu.tk_popup(event.x_root, event.y_root)

    def set_text(self, content):
        self.text.delete("1.0", "end")
        self.text.insert("1.0", content)

    def new(self):
        self.set_text("")
        self.saved_path = None
        self.root.title(APP_TITLE)
        self.record_state()

    def select_all(self, event=None):
        self.text.tag_add("sel", "1.0", "end-1c")
        self.text.mark_set("insert", "end-1c")
        self.record_state()
        return "break"

    def upper_case_selection(self):
        selected = self.selection()
        if not selected:
            return
        start = self.text.index("sel.first")
        upper = selected.upper()
        self.text.replace("sel.first", "sel.last", upper)
        # Upper-casing can change the length (ß -> SS), so reselect by count.
        self.text.tag_add("sel", start, f"{start}+{len(upper)}c")
        self.record_state()

    def quit(self):
        self.recorder.log("quit")
        self.root.destroy()

    # Saving

    def set_saved_path(self, path):
        self.saved_path = path.resolve()
        self.root.title(f"{path.name} - {APP_TITLE}")

    def save(self):
        if self.saved_path:
            self.write_file(self.saved_path)
        else:
            self.open_save_as_dialog()
        return "break"

    def write_file(self, path):
        content = self.content()
        path.write_text(content, encoding="utf-8")
        self.set_saved_path(path)
        self.recorder.log("saved", path=str(self.saved_path), chars=len(content))
        self.record_state()

    def open_save_as_dialog(self):
        if self.dialog:
            self.dialog.lift()
            return
        self.dialog = SaveAsDialog(self.root, self.recorder,
                                   initial_name=self.saved_path.name if self.saved_path else "",
                                   on_save=self.save_as, on_close=self.on_dialog_closed)
        self.recorder.log("dialog_open", dialog="Save As")
        self.record_state()

    def save_as(self, name):
        """Returns an error message, or None when the file was written."""
        name = name.strip()
        if not name:
            return "Please enter a file name."
        if "/" in name:
            return "File name must not contain '/'."
        self.write_file(self.save_dir / name)
        return None

    def on_dialog_closed(self):
        self.dialog = None
        self.text.focus_set()
        self.record_state()


class SaveAsDialog:
    WIDGET_NAMES = ("dialog_filename", "dialog_save", "dialog_cancel", "dialog_error")

    def __init__(self, parent, recorder, initial_name, on_save, on_close):
        self.recorder = recorder
        self.on_save = on_save
        self.on_close = on_close

        self.window = tk.Toplevel(parent)
        self.window.title("Save As")
        self.window.transient(parent)
        self.window.resizable(False, False)
        self.window.protocol("WM_DELETE_WINDOW", self.cancel)

        body = ttk.Frame(self.window, padding=12)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text="File name").grid(row=0, column=0, sticky="w", padx=(0, 8))
        self.name_var = tk.StringVar(self.window, value=initial_name)
        self.entry = ttk.Entry(body, textvariable=self.name_var, width=32)
        self.entry.grid(row=0, column=1, sticky="ew")
        self.error_label = ttk.Label(body, text="", foreground="red")
        self.error_label.grid(row=1, column=0, columnspan=2, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(body)
        buttons.grid(row=2, column=0, columnspan=2, sticky="e", pady=(10, 0))
        self.save_button = ttk.Button(buttons, text="Save", command=self.save)
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=self.cancel)
        self.cancel_button.pack(side="right")
        self.save_button.pack(side="right", padx=(0, 8))

        for name, widget in zip(self.WIDGET_NAMES,
                                (self.entry, self.save_button, self.cancel_button, self.error_label)):
            recorder.track(name, widget)
        for name, widget in zip(self.WIDGET_NAMES[:3], (self.entry, self.save_button, self.cancel_button)):
            recorder.log_clicks_on(name, widget)
        self.name_var.trace_add("write", lambda *_: self.record_filename())
        self.record_filename()
        self.window.bind("<Return>", lambda e: self.save())
        self.window.bind("<KP_Enter>", lambda e: self.save())
        self.window.bind("<Escape>", lambda e: self.cancel())
        self.window.bind("<Map>", self.on_map)
        self.window.bind("<Configure>", self.on_configure)

    def record_filename(self):
        self.recorder.update_state(dialog_filename=self.name_var.get())

    def on_map(self, event):
        # Children map after the window itself; each one changes the recorded rects.
        self.recorder.save_when_idle()
        if event.widget is self.window:
            self.entry.focus_force()
            self.entry.select_range(0, "end")
            self.window.grab_set()

    def on_configure(self, event):
        if event.widget is self.window:
            self.recorder.save()

    def save(self):
        error = self.on_save(self.name_var.get())
        if error:
            self.error_label.configure(text=error)
            self.recorder.log("save_error", name=self.name_var.get(), error=error)
        else:
            self.close()

    def cancel(self):
        self.recorder.log("dialog_cancel", dialog="Save As")
        self.close()

    def close(self):
        self.window.grab_release()
        self.window.destroy()
        self.recorder.untrack(*self.WIDGET_NAMES)
        self.recorder.state.pop("dialog_filename", None)
        self.on_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", required=True, help="JSON file to record events and state in")
    parser.add_argument("--dir", default=".", help="directory Save As writes into")
    parser.add_argument("--open", dest="open_path", help="file to load at start")
    parser.add_argument("--geometry", help="Tk geometry, e.g. 640x480+100+80")
    args = parser.parse_args()

    root = demo_root(args.geometry)
    recorder = Recorder(args.record, "editor", root)
    DemoEditor(root, recorder, args.dir, args.open_path)
    recorder.mark_ready_when_mapped()
    root.mainloop()


if __name__ == "__main__":
    main()
