"""The inspector: edit the selected block's label, pin values, dtype, shape and attrs.

Each pin gets a fitting widget (a check box for booleans, a choice of allowed values for dtypes and
enumerations, a text field for numbers, lists, shapes and tensor values). Text is checked as it is
typed with ``app.document.values`` (no eval), the problem shown under the field; a finished edit becomes one
``SetPinCommand`` on the undo stack. Wired inputs are shown but not edited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from enuflow.app.gui import blocktypes
from enuflow.app.document.page import Page
from enuflow.app.document import datafile
from enuflow.app.document.values import DTYPES, ValueParseError, parse_attr, parse_dtype, parse_tensor
from enuflow.blocks.base import Attr, Block

ERROR_STYLE = "color: #c62828; font-size: 8pt;"


def value_text(value: Any) -> str:
    """How a stored pin value is shown in a text field."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def text_value(text: str) -> Any:
    """What a typed text is stored as: JSON numbers, booleans and lists as such, other text as text."""
    t = text.strip()
    if t == "":
        return None
    if t[0] in "[-0123456789.tf" or t in ("true", "false"):
        try:
            v = json.loads(t)
            if isinstance(v, (int, float, bool, list)):
                return v
        except ValueError:
            pass
    if t.startswith('{"'):
        # a typed value {"dtype", "shape", "value"} (as imports and run --json write them) stays one, and so
        # does a reference into the page's data file {"dtype", "shape", "data"} (an imported model's weights)
        try:
            v = json.loads(t)
            if isinstance(v, dict) and ("value" in v or datafile.is_ref(v)):
                return v
        except ValueError:
            pass
    return text


class Inspector(QWidget):
    """Shows one block; ``commit(block_id, pin, value)`` and ``commit_field(block_id, name, value)``
    are called for finished edits (the window pushes undo commands)."""

    def __init__(self, page: Page, commit: Callable[[str, str, Any], None],
                 commit_field: Callable[[str, str, Any], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = page
        self.commit = commit
        self.commit_field = commit_field
        self.block_id: str | None = None
        #: inside a composite: ``expose(block_id, pin)`` makes an inner pin a pin of the composite's instances
        self.expose: Callable[[str, str], Any] | None = None
        self.expose_button: QPushButton | None = None
        #: inside a composite: ``unexpose(name)`` stops exposing the composite's pin ``name``
        self.unexpose: Callable[[str], Any] | None = None
        #: on an instance of a composite: ``rename(block_id)`` asks for a new name of its composite
        self.rename: Callable[[str], Any] | None = None
        #: what the run target offers for a block's device field (listed by the worker)
        self.devices: list[str] = []
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self._validators: dict[str, Callable[[str], str]] = {}
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.scroll)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(ERROR_STYLE)
        page.subscribe(self._on_page)
        self.show_block(None)

    def show_page(self, page: Page) -> None:
        """Show the blocks of ``page`` from now on (a composite's definition entered, or the page again)."""
        self.page.unsubscribe(self._on_page)
        self.page = page
        page.subscribe(self._on_page)
        self.show_block(None)

    # -- building the form --------------------------------------------------------------------------
    def show_block(self, block_id: str | None) -> None:
        self.block_id = block_id if block_id in self.page else None
        self.fields.clear()
        self.errors.clear()
        self._validators.clear()
        self.expose_button = None
        form_host = QWidget()
        form = QFormLayout(form_host)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(ERROR_STYLE)
        if self.block_id is None:
            form.addRow(QLabel("Select a block to edit its pins."))
            self.scroll.setWidget(form_host)
            return
        b = self.page.block(self.block_id)
        decl = blocktypes.lookup(b.type)
        title = QLabel(f"<b>{b.id}</b> &nbsp; <i>{b.type}</i>")
        title.setToolTip(decl.doc if decl else "")
        form.addRow(title)
        label = QLineEdit(b.label or "")
        label.setPlaceholderText(b.id)
        label.editingFinished.connect(lambda w=label: self._commit_label(w))
        self.fields["@label"] = label
        form.addRow("label", label)
        if self.rename is not None and b.type in self.page.composites:
            self._rename_row(form, b.type)
        if b.type != "ClientSession":  # session control builds no op: its own device pin is the page default
            self._device_row(form, b.device or "")
        if decl is None:
            form.addRow(QLabel("This block's pins are known once TensorFlow is ready."))
            for name, v in b.pins.items():
                self._text_row(form, name, value_text(v), lambda t: "", "")
        else:
            wired = {ln.dst_port for ln in self.page.links_into(b.id)}
            fed = self._fed_from_outside(b.id)
            for port in decl.inputs:
                if port.name in wired or port.name in fed:
                    form.addRow(port.name, QLabel(f"(the composite's input {fed[port.name]})"
                                                  if port.name in fed else "(wired)"))
                    continue
                if port.kind in ("resource", "variant", "ref") or port.is_list:
                    form.addRow(port.name, QLabel(f"(wire a {port.kind if not port.is_list else 'list'})"))
                    continue
                self._text_row(form, port.name, value_text(b.pins.get(port.name)),
                               self._input_validator(decl, port.name), port.doc)
            for a in decl.attrs:
                self._attr_row(form, decl, a, b.pins.get(a.name))
            if self.expose is not None:
                self._expose_row(form, decl, wired | set(fed))
        form.addRow(self.problems)
        self.scroll.setWidget(form_host)
        self.revalidate()

    def _fed_from_outside(self, block_id: str) -> dict[str, str]:
        """Inside a composite: the block's inputs fed by the composite's exposed inputs (port -> input name)."""
        return {port: p.name for p in getattr(self.page, "inputs", []) for bid, port in p.to if bid == block_id}

    def _expose_row(self, form: QFormLayout, decl: Block, wired: set[str]) -> None:
        """Inside a composite: which pins of the block its instances set, and a choice of one more to expose."""
        exposed = {p.pin: p.name for p in getattr(self.page, "pins", []) if p.block == self.block_id}
        pins = [p.name for p in decl.inputs if p.name not in wired and not p.is_list
                and p.kind not in ("resource", "variant", "ref")]
        pins += [a.name for a in decl.attrs if not a.inferred]
        for pin, name in exposed.items():
            self._unexpose_row(form, pin, name)
        left = [p for p in pins if p not in exposed]
        if not left:
            return
        host = QWidget()
        row = QHBoxLayout(host)
        row.setContentsMargins(0, 0, 0, 0)
        combo = QComboBox()
        combo.addItems(left)
        # as narrow as the inspector: the longest pin name must not widen the whole form
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(6)
        button = QPushButton("Expose")
        button.setToolTip("Make this pin a pin of every instance of the composite (set on the block outside)")
        button.clicked.connect(lambda _c=False: self._expose(combo.currentText()))
        row.addWidget(combo, 1)
        row.addWidget(button)
        self.fields["@expose"] = combo
        self.expose_button = button
        form.addRow("expose pin", host)

    def _unexpose_row(self, form: QFormLayout, pin: str, name: str) -> None:
        """An exposed pin: its name outside, and under it a button that stops exposing it (a row of its own: the
        inspector is narrow)."""
        form.addRow("exposed", QLabel(name if name == pin else f"{pin} as {name}"))
        button = QPushButton("Stop exposing")
        button.setToolTip(f"Take {name!r} off the composite's pins: the instances' values for it are dropped and "
                          f"this block's own {pin} applies")
        button.clicked.connect(lambda _c=False, n=name: self.unexpose(n) if self.unexpose is not None else None)
        self.fields[f"@unexpose:{pin}"] = button
        form.addRow("", button)

    def _rename_row(self, form: QFormLayout, type_name: str) -> None:
        """On an instance of a composite: its composite's name and a button to rename it."""
        host = QWidget()
        row = QHBoxLayout(host)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel(type_name), 1)
        button = QPushButton("Rename...")
        button.setToolTip("Rename the composite: its definition and every block of it on the page")
        bid = self.block_id
        button.clicked.connect(lambda _c=False: self.rename(bid) if self.rename is not None else None)
        row.addWidget(button)
        self.fields["@rename"] = button
        form.addRow("composite", host)

    def _expose(self, pin: str) -> None:
        if self.expose is not None and self.block_id is not None and pin:
            self.expose(self.block_id, pin)

    def _device_row(self, form: QFormLayout, current: str) -> None:
        combo = QComboBox()
        combo.setEditable(True)
        combo.addItems([""] + self.devices)
        combo.setCurrentText(current)
        combo.lineEdit().setPlaceholderText("the page's default device")
        combo.setToolTip("where this block's ops run: a device of the run target (/cpu:0), or a cluster task "
                         "(/job:worker/task:1, /job:worker/task:1/device:GPU:0)")
        combo.lineEdit().editingFinished.connect(lambda c=combo: self._commit_device(c.currentText()))
        combo.activated.connect(lambda _i, c=combo: self._commit_device(c.currentText()))
        self.fields["@device"] = combo
        form.addRow("device", combo)

    def set_devices(self, devices: list[str]) -> None:
        """Offer ``devices`` in the device field (the run target's list); keeps what is being edited."""
        self.devices = list(devices)
        combo = self.fields.get("@device")
        if isinstance(combo, QComboBox):
            text = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([""] + self.devices)
            combo.setCurrentText(text)
            combo.blockSignals(False)

    def _commit_device(self, text: str) -> None:
        if self.block_id is None or self.block_id not in self.page:
            return
        value = text.strip() or None
        if self.page.block(self.block_id).device != value:
            self.commit_field(self.block_id, "device", value)

    def _attr_row(self, form: QFormLayout, decl: Block, a: Attr, value: Any) -> None:
        if a.inferred:
            form.addRow(a.name, QLabel(f"{value_text(value) or '(from wiring)'}"))
            return
        if a.type == "bool":
            cb = QCheckBox()
            cur = value if value is not None else a.default
            try:
                cb.setChecked(bool(parse_attr(cur, "bool")) if cur is not None else False)
            except ValueParseError:
                cb.setChecked(False)
            cb.setToolTip(a.doc)
            cb.toggled.connect(lambda on, n=a.name: self._commit(n, bool(on)))
            self.fields[a.name] = cb
            form.addRow(a.name, cb)
            return
        if a.type == "type" or (a.allowed and a.type in ("string", "int")):
            combo = QComboBox()
            combo.setEditable(True)
            choices = [str(x) for x in (a.allowed or DTYPES[:16])]
            combo.addItems([""] + choices)
            combo.setCurrentText(value_text(value))
            combo.setToolTip(a.doc)
            combo.lineEdit().setPlaceholderText(value_text(a.default) if a.has_default else "")
            kind = a.type
            self._validators[a.name] = lambda t, k=kind: _check_attr(t, k)
            combo.currentTextChanged.connect(lambda t, n=a.name: self.revalidate(n))
            combo.lineEdit().editingFinished.connect(lambda n=a.name, c=combo: self._commit_text(n, c.currentText()))
            combo.activated.connect(lambda _i, n=a.name, c=combo: self._commit_text(n, c.currentText()))
            self.fields[a.name] = combo
            self._add_error_row(form, a.name, combo)
            return
        if a.type == "value":
            validator = self._value_validator(decl, a)
        else:
            validator = lambda t, k=a.type: _check_attr(t, k)
        default = value_text(a.default) if a.has_default else ""
        self._text_row(form, a.name, value_text(value), validator, a.doc, placeholder=default)

    def _text_row(self, form: QFormLayout, name: str, text: str, validator: Callable[[str], str], doc: str,
                  placeholder: str = "") -> None:
        edit = QLineEdit(text)
        edit.setToolTip(doc)
        edit.setPlaceholderText(placeholder)
        self._validators[name] = validator
        edit.textChanged.connect(lambda _t, n=name: self.revalidate(n))
        edit.editingFinished.connect(lambda n=name, e=edit: self._commit_text(n, e.text()))
        self.fields[name] = edit
        self._add_error_row(form, name, edit)

    def _add_error_row(self, form: QFormLayout, name: str, w: QWidget) -> None:
        host = QWidget()
        lay = QVBoxLayout(host)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(w)
        err = QLabel()
        err.setStyleSheet(ERROR_STYLE)
        err.setWordWrap(True)
        err.hide()
        lay.addWidget(err)
        self.errors[name] = err
        form.addRow(name, host)

    # -- validators ---------------------------------------------------------------------------------
    def _current(self, name: str) -> Any:
        w = self.fields.get(name)
        if isinstance(w, QLineEdit):
            return text_value(w.text())
        if isinstance(w, QComboBox):
            return text_value(w.currentText())
        b = self.page.get(self.block_id or "")
        return b.pins.get(name) if b else None

    def _value_validator(self, decl: Block, a: Attr) -> Callable[[str], str]:
        def check(text: str) -> str:
            v = text_value(text)
            if v is None:
                return "needs a value" if a.required else ""
            if datafile.is_ref(v):
                return ""  # checked when the page is analysed, against the data file
            try:
                dtype = self._current(a.dtype_pin) if a.dtype_pin else None
                dtype = parse_dtype(dtype) if dtype not in (None, "") else None
                shape = self._current(a.shape_pin) if a.shape_pin and decl.name != "Placeholder" else None
                shape = parse_attr(shape, "shape") if shape not in (None, "") else None
                parse_tensor(v, dtype, shape)
            except ValueParseError as e:
                return str(e)
            return ""
        return check

    def _input_validator(self, decl: Block, port_name: str) -> Callable[[str], str]:
        port = decl.input(port_name)

        def check(text: str) -> str:
            v = text_value(text)
            if v is None:
                return "" if port is None or port.optional else "not wired and has no value"
            if datafile.is_ref(v):
                return ""
            dtype = None
            if port is not None and port.dtype:
                dtype = port.dtype if decl.attr(port.dtype) is None else self._current(port.dtype)
            try:
                parse_tensor(v, parse_dtype(dtype) if dtype not in (None, "") else None)
            except ValueParseError as e:
                return str(e)
            return ""
        return check

    def revalidate(self, _changed: str | None = None) -> None:
        """Check every field (a dtype change can make a value wrong) and show the problems."""
        for name, check in self._validators.items():
            w = self.fields.get(name)
            text = w.text() if isinstance(w, QLineEdit) else w.currentText() if isinstance(w, QComboBox) else ""
            try:
                msg = check(text)
            except Exception as e:  # noqa: BLE001 - a validator must never break typing
                msg = str(e)
            err = self.errors.get(name)
            if err is not None:
                err.setText(msg)
                err.setVisible(bool(msg))
            if isinstance(w, QLineEdit):
                w.setStyleSheet("border: 1px solid #c62828;" if msg else "")

    def field_error(self, name: str) -> str:
        err = self.errors.get(name)
        return err.text() if err is not None and not err.isHidden() else ""

    def set_problems(self, messages: list[str]) -> None:
        self.problems.setText("\n".join(messages))

    # -- committing -----------------------------------------------------------------------------------
    def _commit_text(self, name: str, text: str) -> None:
        self._commit(name, text_value(text))

    def _commit(self, name: str, value: Any) -> None:
        if self.block_id is None or self.block_id not in self.page:
            return
        if self.page.block(self.block_id).pins.get(name) == value:
            return
        self.commit(self.block_id, name, value)

    def _commit_label(self, w: QLineEdit) -> None:
        if self.block_id is None or self.block_id not in self.page:
            return
        value = w.text().strip() or None
        if self.page.block(self.block_id).label != value:
            self.commit_field(self.block_id, "label", value)

    def _on_page(self, event: str, d: dict[str, Any]) -> None:
        if self.block_id is None:
            return
        if event in ("block_removed", "reset") and self.block_id not in self.page:
            self.show_block(None)
        elif event == "reset":  # the block is still there, its composite's exposed pins may not be
            self.show_block(self.block_id)
        elif event == "pin_changed" and d.get("id") == self.block_id:
            w = self.fields.get(d["pin"])
            if isinstance(w, QLineEdit) and text_value(w.text()) != d["value"]:
                w.setText(value_text(d["value"]))
            elif isinstance(w, QComboBox) and text_value(w.currentText()) != d["value"]:
                w.setCurrentText(value_text(d["value"]))
            elif isinstance(w, QCheckBox):
                w.blockSignals(True)
                w.setChecked(bool(d["value"]))
                w.blockSignals(False)
            self.revalidate()
        elif event == "block_changed" and d.get("id") == self.block_id and d.get("field") == "device":
            combo = self.fields.get("@device")
            if isinstance(combo, QComboBox) and combo.currentText() != (d["value"] or ""):
                combo.setCurrentText(d["value"] or "")
        elif event in ("link_added", "link_removed") and self.block_id in (d["link"].dst, d["link"].src):
            self.show_block(self.block_id)
        elif event == "page_changed" and d.get("field") == "pins":  # a composite's exposed pins
            self.show_block(self.block_id)


def _check_attr(text: str, kind: str) -> str:
    v = text_value(text)
    if v is None:
        return ""
    try:
        parse_attr(v, kind)
    except ValueParseError as e:
        return str(e)
    return ""


__all__ = ["Inspector", "text_value", "value_text"]
