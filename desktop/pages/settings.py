"""Settings, generated from core's schema: every field gets a widget by its type."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, cast, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.config import Secret, Settings
from voxdesk.core.config.lines import as_line, list_from_line, mapping_from_line
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.models.catalogue import Kind
from voxdesk.core.models.in_use import SETTING
from voxdesk.core.openai_client import check_key
from voxdesk.core.services import Services
from voxdesk.desktop.actions import Actions, StatusLine
from voxdesk.desktop.models import ModelPicker

SECTION_TITLES = {
    "audio": "Audio",
    "speech": "Speech to text",
    "tts": "Voice",
    "openai": "OpenAI",
    "assistant": "Assistant",
    "discord": "Discord bot",
}

# Settings chosen with a ModelPicker (installed or downloadable), by dotted name.
PICKED: dict[str, Kind] = {key: kind for kind, key in SETTING.items()}


class FieldEditor:
    """One setting's widget: shows a value, reads it back, and knows whether it was edited."""

    def __init__(self, info: FieldInfo, value: Any) -> None:
        self.kind = _plain_type(info.annotation)
        self.optional = type(None) in get_args(info.annotation)
        self.widget = self._make(info)
        self.widget.setToolTip(info.description or "")
        self.show(value)

    def _make(self, info: FieldInfo) -> QWidget:
        if self.kind is bool:
            return QCheckBox()
        if get_origin(self.kind) is Literal:
            combo = QComboBox()
            combo.addItems([str(choice) for choice in get_args(self.kind)])
            return combo
        if self.kind in (int, float):
            return _number_box(info, self.kind)
        line = QLineEdit()
        if get_origin(self.kind) is list:
            line.setPlaceholderText("none (separate several with commas)")
        elif get_origin(self.kind) is dict:
            line.setPlaceholderText(f"none (as {_pairs_example(self.kind, info)})")
        return line

    def show(self, value: Any) -> None:
        """Display ``value`` as the one in force: the editor counts as not edited."""
        widget = self.widget
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(widget, QSpinBox | QDoubleSpinBox):
            widget.setValue(value)
        else:
            assert isinstance(widget, QLineEdit)
            widget.setText(as_line(value))
        self._shown = self._state()

    def edited(self) -> bool:
        return self._state() != self._shown

    def _state(self) -> object:
        widget = self.widget
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentText()
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            return widget.value()
        assert isinstance(widget, QLineEdit)
        return widget.text()

    def value(self) -> Any:
        """The value typed or chosen; raises ValueError for a mapping not written as
        ``key: value`` pairs. Core checks the items themselves (a voice's name, an id)."""
        state = self._state()
        if not isinstance(self.widget, QLineEdit):
            return state
        text = str(state).strip()
        if get_origin(self.kind) is list:
            return list_from_line(text)
        if get_origin(self.kind) is dict:
            return mapping_from_line(text)
        # An empty box is "not set" where the field may be None, and an empty text where not.
        return None if self.optional and not text else text


def _number_box(info: FieldInfo, kind: type) -> QSpinBox | QDoubleSpinBox:
    """A spin box held to the field's bounds, showing its unit (``json_schema_extra``)."""
    box: QSpinBox | QDoubleSpinBox
    if kind is int:
        box = QSpinBox()
        low, high = _bounds(info, step=1, maximum=2**31 - 1)  # a QSpinBox holds an int32
        box.setRange(int(low), int(high))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(2)
        low, high = _bounds(info, step=0.01, maximum=1e9)
        box.setRange(low, high)
    box.setGroupSeparatorShown(True)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("unit"):
        box.setSuffix(f" {extra['unit']}")
    if extra.get("zero") and low == 0:
        box.setSpecialValueText(str(extra["zero"]))  # what 0 stands for, such as "all cores"
    return box


def _bounds(info: FieldInfo, step: float, maximum: float) -> tuple[float, float]:
    """The field's bounds for a spin box: an exclusive one moves in by ``step``."""
    low, high = 0.0, maximum
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = float(cast(float, rule.ge))
        elif isinstance(rule, annotated_types.Gt):
            low = float(cast(float, rule.gt)) + step
        elif isinstance(rule, annotated_types.Le):
            high = float(cast(float, rule.le))
        elif isinstance(rule, annotated_types.Lt):
            high = float(cast(float, rule.lt)) - step
    return low, high


class SettingsPage(QWidget):
    saved = Signal()

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.status = StatusLine()
        self.background = Actions(self.status)
        self.editors: dict[tuple[str, str], FieldEditor] = {}
        self.pickers: dict[Kind, ModelPicker] = {}
        content = QWidget()
        form_layout = QVBoxLayout(content)
        form_layout.addWidget(self._secrets_group())
        for section, info in Settings.model_fields.items():
            form_layout.addWidget(self._section_group(section, info))
        language = self.editors[("speech", "language")].widget
        assert isinstance(language, QLineEdit)
        language.textChanged.connect(lambda text: self.pickers["whisper"].suggest_for(text))
        form_layout.addStretch(1)
        _align_labels(content.findChildren(QFormLayout))
        self.scroll_area = scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        self._wheel_scrolls = _WheelScrollsPage(scroll, content)
        save = QPushButton("Save settings")
        save.clicked.connect(lambda: self.background.run(self.save()))
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(save)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)

    def _section_group(self, section: str, info: FieldInfo) -> QGroupBox:
        group = QGroupBox(SECTION_TITLES.get(section, section.title()))
        form = QFormLayout(group)
        model: BaseModel = getattr(self.services.settings, section)
        for name, field in type(model).model_fields.items():
            if kind := PICKED.get(f"{section}.{name}"):  # chosen and saved at once, downloaded
                picker = self.pickers[kind] = ModelPicker(self.services, kind)
                form.addRow(_label(name), picker)
                continue
            editor = FieldEditor(field, getattr(model, name))
            self.editors[(section, name)] = editor
            form.addRow(_label(name), editor.widget)
        return group

    def _secrets_group(self) -> QGroupBox:
        group = QGroupBox("Secrets (stored in the OS keyring, never in the settings file)")
        form = QFormLayout(group)
        self.secret_inputs: dict[Secret, QLineEdit] = {}
        problem = self.services.secrets.keyring_problem()
        for secret in Secret:
            found = self.services.secrets.get(secret)
            line = QLineEdit()
            line.setEchoMode(QLineEdit.EchoMode.Password)
            line.setPlaceholderText(found.masked() if found else "not set")
            store = QPushButton("Store")
            store.clicked.connect(
                lambda _=False, s=secret: self.background.run(self.store_secret(s))
            )
            check = QPushButton("Check")
            check.setToolTip("Ask the service whether it accepts this (or the stored) secret")
            check.clicked.connect(
                lambda _=False, s=secret: self.background.run(self.check_secret(s))
            )
            store.setEnabled(problem is None)  # without a keyring, storing can only fail
            row = QHBoxLayout()
            row.addWidget(line, 1)
            row.addWidget(store)
            row.addWidget(check)
            form.addRow(secret.label, row)
            self.secret_inputs[secret] = line
        if problem:
            note = QLabel(problem)
            note.setWordWrap(True)
            form.addRow(note)
        return group

    def focus_secret(self, secret: Secret) -> None:
        """The field to type ``secret`` in, in view and focused."""
        line = self.secret_inputs[secret]
        line.setFocus(Qt.FocusReason.OtherFocusReason)
        self.scroll_area.ensureWidgetVisible(line)

    async def store_secret(self, secret: Secret) -> None:
        """Keep the typed secret in the OS keyring; what uses it follows (a token starts the
        bot)."""
        line = self.secret_inputs[secret]
        try:
            if not line.text().strip():
                raise VoxdeskError(f"Type the {secret.label} first.")
            await self.services.settings_store.store_secret(secret, line.text().strip())
        except VoxdeskError as error:
            self.status.say(user_message(error), error=True)
            return
        line.clear()
        found = self.services.secrets.get(secret)
        line.setPlaceholderText(found.masked() if found else "not set")
        self.status.say(f"Stored the {secret.label} in the OS keyring.")
        self.saved.emit()

    async def check_secret(self, secret: Secret) -> None:
        """Test the typed value (or the one in use) against Discord or OpenAI."""
        typed = self.secret_inputs[secret].text().strip()
        found = self.services.secrets.get(secret)
        value = typed or (found.value if found else "")
        if not value:
            self.status.say(f"There is no {secret.label} to check yet.", error=True)
            return
        self.status.say(f"Checking the {secret.label}…")
        try:
            if secret is Secret.DISCORD_TOKEN:
                from voxdesk.bridge.runner import check_token  # discord.py loads only when asked

                answer = await check_token(value)
            else:
                answer = await check_key(self.services.settings.openai, value)
        except VoxdeskError as error:
            self.status.say(user_message(error), error=True)
            return
        self.status.say(answer)

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def refresh(self) -> None:
        """Show the settings in force, which the bot or other pages may have changed
        (``!instruction set``, "Use this model"), in every field the user has not edited."""
        for (section, name), editor in self.editors.items():
            if not editor.edited():
                editor.show(getattr(getattr(self.services.settings, section), name))
        for picker in self.pickers.values():
            picker.refresh()

    def edits(self) -> dict[str, Any]:
        """The fields the user changed, by dotted name; raises ValueError, naming the field, for
        a mapping that is not written as pairs."""
        edits = {}
        for (section, name), editor in self.editors.items():
            if editor.edited():
                try:
                    edits[f"{section}.{name}"] = editor.value()
                except ValueError as error:
                    title = SECTION_TITLES.get(section, section.title())
                    raise ValueError(f"{title}, {_label(name)}: {error}") from error
        return edits

    async def save(self) -> bool:
        """Validate and save the edited fields only: a value changed elsewhere since this page
        was filled stays as it is."""
        try:
            edits = self.edits()
        except ValueError as error:
            self.status.say(f"Not saved: {error}.", error=True)
            return False
        try:
            await self.services.settings_store.update(edits)
        except VoxdeskError as error:
            self.status.say(user_message(error), error=True)
            return False
        for key in edits:
            section, _, name = key.partition(".")
            self.editors[(section, name)].show(
                getattr(getattr(self.services.settings, section), name)
            )
        path = self.services.settings_store.path
        self.status.say(f"Saved to {path}. Some changes apply when Voxdesk restarts.")
        self.saved.emit()
        return True


class _WheelScrollsPage(QObject):
    """The wheel scrolls the page past the choices and numbers under the pointer: a scroll
    through the form changed each one it passed (a Whisper model chosen starts its download).
    A field clicked or tabbed into takes the wheel as before."""

    def __init__(self, scroll: QScrollArea, content: QWidget) -> None:
        super().__init__(scroll)
        self.scroll = scroll
        for field in content.findChildren(QWidget):
            if isinstance(field, QComboBox | QAbstractSpinBox):
                field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel gives no focus
                field.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        if watched.hasFocus():
            return False
        QApplication.sendEvent(self.scroll.viewport(), event)
        return True


def _align_labels(forms: list[QFormLayout]) -> None:
    """Every group's fields start at one x: each form's labels as wide as the widest of all
    (a form sizes its label column by its own labels only)."""
    role = QFormLayout.ItemRole.LabelRole
    labels = [label for form in forms for row in range(form.rowCount())
              if (item := form.itemAt(row, role)) and (label := item.widget())]  # fmt: skip
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(width)


def _pairs_example(kind: Any, info: FieldInfo) -> str:
    """Two guild ids with values of the mapping's type: a language for languages only (every
    mapping showed 'en-US', a dataset's and a yes/no's too)."""
    values = get_args(kind)[1]
    if get_origin(values) is Literal:
        first, second = get_args(values)[-1], get_args(values)[0]
    elif values is bool:
        first, second = "true", "false"
    elif "language" in (info.description or "").lower():
        first, second = "en-US", "ru-RU"
    else:  # names, as of datasets
        first, second = "support", "games"
    return f"123: {first}, 456: {second}"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _plain_type(annotation: Any) -> Any:
    """``str | None`` -> ``str``; other annotations as they are."""
    if get_origin(annotation) in (types.UnionType, typing.Union):
        options = [option for option in get_args(annotation) if option is not type(None)]
        return options[0] if len(options) == 1 else str
    return annotation
