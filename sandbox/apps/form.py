"""Demo Form: a registration form that records what it receives.

python -m sandbox.apps.form --record PATH [--geometry WxH+X+Y] [--redesigned]

--redesigned is the form's next release, for demonstrations recorded on this one: its Submit button
is labelled Send and sits at the left of the button row, after Clear.
"""

import argparse
import tkinter as tk
from tkinter import ttk

from sandbox.apps.look import demo_root
from sandbox.apps.record import Recorder, scroll_per_notch

COUNTRIES = [
    "Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada",
    "Chile", "China", "Colombia", "Croatia", "Denmark", "Egypt", "Estonia",
    "Finland", "France", "Germany", "Greece", "Hungary", "Iceland", "India",
    "Indonesia", "Ireland", "Israel", "Italy", "Japan", "Kenya", "Mexico",
    "Morocco", "Netherlands", "New Zealand", "Norway", "Peru", "Poland",
    "Portugal", "Spain", "Sweden", "Switzerland", "Turkey", "Uruguay",
    "Vietnam",
]
SIZES = ["Small", "Medium", "Large"]
DEFAULT_SIZE = "Small"
DEFAULT_VOLUME = 50


class DemoForm:
    def __init__(self, root, recorder, redesigned=False):
        self.root = root
        self.recorder = recorder
        self.redesigned = redesigned
        root.title("Demo Form")

        self.name_var = tk.StringVar(root)
        self.email_var = tk.StringVar(root)
        self.subscribe_var = tk.BooleanVar(root, value=False)
        self.size_var = tk.StringVar(root, value=DEFAULT_SIZE)
        self.volume_var = tk.IntVar(root, value=DEFAULT_VOLUME)

        self._build_widgets()
        self._build_context_menu()

        for var in (self.name_var, self.email_var, self.subscribe_var, self.size_var, self.volume_var):
            var.trace_add("write", lambda *_: self.record_state())
        self.country_list.bind("<<ListboxSelect>>", lambda e: self.record_state())
        self.country_list.bind("<Double-Button-1>", self.on_country_double_click)
        self.name_entry.bind("<Button-3>", self.on_name_right_click)
        root.bind("<Control-Return>", lambda e: self.submit(via="ctrl+Return"))
        root.protocol("WM_DELETE_WINDOW", self.quit)

        recorder.add_rect_source(self.country_row_rects)
        recorder.add_rect_source(self.volume_handle_rect)
        recorder.add_rect_source(self.size_choice_rects)
        self.record_state()

    def _build_widgets(self):
        form = ttk.Frame(self.root, padding=12)
        form.grid(sticky="nsew")
        self.root.columnconfigure(0, weight=1)
        self.root.rowconfigure(0, weight=1)
        form.columnconfigure(1, weight=1)

        def label(text, row):
            ttk.Label(form, text=text).grid(row=row, column=0, sticky="nw", padx=(0, 10), pady=4)

        label("Name", 0)
        self.name_entry = ttk.Entry(form, textvariable=self.name_var, width=30)
        self.name_entry.grid(row=0, column=1, sticky="ew", pady=4)

        label("Email", 1)
        self.email_entry = ttk.Entry(form, textvariable=self.email_var, width=30)
        self.email_entry.grid(row=1, column=1, sticky="ew", pady=4)

        self.subscribe_check = ttk.Checkbutton(form, text="Subscribe", variable=self.subscribe_var)
        self.subscribe_check.grid(row=2, column=1, sticky="w", pady=4)

        label("Country", 3)
        list_frame = ttk.Frame(form)
        list_frame.grid(row=3, column=1, sticky="ew", pady=4)
        self.country_scrollbar = ttk.Scrollbar(list_frame, orient="vertical")
        # exportselection=False: selecting text in an entry must not clear the country.
        self.country_list = tk.Listbox(list_frame, height=6, exportselection=False,
                                       yscrollcommand=self.on_country_scroll)
        self.country_list.insert("end", *COUNTRIES)
        self.country_scrollbar.configure(command=self.country_list.yview)
        scroll_per_notch(self.root, "Listbox", 5)
        self.country_list.pack(side="left", fill="both", expand=True)
        self.country_scrollbar.pack(side="right", fill="y")

        label("Size", 4)
        self.size_combo = ttk.Combobox(form, textvariable=self.size_var, values=SIZES,
                                       state="readonly", width=12)
        self.size_combo.grid(row=4, column=1, sticky="w", pady=4)

        self.volume_scale = tk.Scale(form, label="Volume", from_=0, to=100, orient="horizontal",
                                     variable=self.volume_var, length=260)
        self.volume_scale.grid(row=5, column=1, sticky="ew", pady=4)

        buttons = ttk.Frame(form)
        buttons.grid(row=6, column=1, sticky="w" if self.redesigned else "e", pady=(10, 0))
        self.submit_button = ttk.Button(buttons, text="Send" if self.redesigned else "Submit", command=self.submit)
        self.clear_button = ttk.Button(buttons, text="Clear", command=self.clear)
        if self.redesigned:
            self.clear_button.pack(side="left")
            self.submit_button.pack(side="left", padx=(8, 0))
        else:
            self.clear_button.pack(side="right")
            self.submit_button.pack(side="right", padx=(0, 8))

        named_widgets = {
            "name_entry": self.name_entry,
            "email_entry": self.email_entry,
            "subscribe": self.subscribe_check,
            "country_list": self.country_list,
            "country_scrollbar": self.country_scrollbar,
            "size_combo": self.size_combo,
            "volume": self.volume_scale,
            "submit": self.submit_button,
            "clear": self.clear_button,
        }
        for name, widget in named_widgets.items():
            self.recorder.track(name, widget)
            self.recorder.log_clicks_on(name, widget)

    def _build_context_menu(self):
        self.name_menu = tk.Menu(self.root, tearoff=False)
        self.name_menu.add_command(label="Clear field",
                                   command=lambda: self.on_menu_item("Clear field", ""))
        self.name_menu.add_command(label="Upper case",
                                   command=lambda: self.on_menu_item("Upper case", self.name_var.get().upper()))

    def values(self):
        return {
            "name": self.name_var.get(),
            "email": self.email_var.get(),
            "subscribe": self.subscribe_var.get(),
            "country": self.selected_country(),
            "size": self.size_var.get(),
            "volume": self.volume_var.get(),
        }

    def selected_country(self):
        selection = self.country_list.curselection()
        return self.country_list.get(selection[0]) if selection else ""

    def record_state(self):
        top_index = self.country_list.nearest(0)
        self.recorder.update_state(**self.values(), country_top=self.country_list.get(top_index))

    def on_country_scroll(self, first, last):
        self.country_scrollbar.set(first, last)
        self.record_state()

    def on_country_double_click(self, event):
        country = self.country_list.get(self.country_list.nearest(event.y))
        self.recorder.log("country_chosen", country=country)

    def on_name_right_click(self, event):
        self.recorder.log("context_menu", widget="name_entry")
        self.name_menu.tk_popup(event.x_root, event.y_root)

    def on_menu_item(self, label, new_name):
        self.recorder.log("menu_item", label=label)
        self.name_var.set(new_name)

    def submit(self, via=None):
        details = {"values": self.values()}
        if via:
            details["via"] = via
        self.recorder.log("submit", **details)

    def clear(self):
        self.name_var.set("")
        self.email_var.set("")
        self.subscribe_var.set(False)
        self.country_list.selection_clear(0, "end")
        self.size_var.set(DEFAULT_SIZE)
        self.volume_var.set(DEFAULT_VOLUME)
        self.recorder.log("clear")
        self.record_state()

    def quit(self):
        self.recorder.log("quit")
        self.root.destroy()

    # Extra rects, recomputed before every save.

    def country_row_rects(self):
        listbox = self.country_list
        if not listbox.winfo_ismapped():
            return {}
        left, top = listbox.winfo_rootx(), listbox.winfo_rooty()
        rects = {}
        for index, country in enumerate(COUNTRIES):
            box = listbox.bbox(index)
            # A partly visible row has a bbox too; only fully visible rows are clickable.
            if box and box[1] + box[3] <= listbox.winfo_height():
                x, y, _, height = box
                rects[f"country:{country}"] = [left + x, top + y, listbox.winfo_width() - 2 * x, height]
        return rects

    def volume_handle_rect(self):
        scale = self.volume_scale
        if not scale.winfo_ismapped():
            return {}
        center_x, center_y = scale.coords()
        length = int(scale.cget("sliderlength"))
        thickness = int(scale.cget("width"))
        return {"volume_handle": [scale.winfo_rootx() + center_x - length // 2,
                                  scale.winfo_rooty() + center_y - thickness // 2,
                                  length, thickness]}

    def size_choice_rects(self):
        """Rows of the combobox dropdown, as "size:<value>", while it is open."""
        popdown = f"{self.size_combo}.popdown"
        listbox = f"{popdown}.f.l"
        call = self.root.tk.call
        if not int(call("winfo", "exists", listbox)) or not int(call("winfo", "ismapped", popdown)):
            return {}
        left, top = int(call("winfo", "rootx", listbox)), int(call("winfo", "rooty", listbox))
        width = int(call("winfo", "width", listbox))
        rects = {}
        for index, size in enumerate(SIZES):
            box = call(listbox, "bbox", index)
            if box:
                x, y, _, height = (int(v) for v in self.root.tk.splitlist(box))
                rects[f"size:{size}"] = [left + x, top + y, width - 2 * x, height]
        return rects


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--record", required=True, help="JSON file to record events and state in")
    parser.add_argument("--geometry", help="Tk geometry, e.g. 480x560+100+80")
    parser.add_argument("--redesigned", action="store_true", help="the next release: Submit is Send, at the left")
    args = parser.parse_args()

    root = demo_root(args.geometry)
    recorder = Recorder(args.record, "form", root)
    DemoForm(root, recorder, args.redesigned)
    recorder.mark_ready_when_mapped()
    root.mainloop()


if __name__ == "__main__":
    main()
