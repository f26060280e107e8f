"""Create and edit an integration (modal). The core validates; its messages show inline.

The form only gathers text. It converts dollars to cents and digits to ints for convenience, and
passes anything it cannot read to the core unchanged, so the message a user sees for a field is the
core's. Nothing is saved until the core accepts the whole form.

An edit saves only the fields the user changed (settings as a `config_patch`), each with the value
it showed when the form opened as `expected`: a field someone else changed meanwhile is refused by
the core, shown on that field, and nothing is saved; a change of other fields is kept.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from core import (
    CATALOGUE,
    DuplicateNameError,
    IntegrationDetailResult,
    ProviderType,
    ValidationError,
)
from tui import format as fmt
from tui.screens.base import ByokModal
from tui.widgets.keybar import KeyBar

# core field name -> the widget whose error label shows its message
FIELD_WIDGET = {
    "name": "name",
    "provider_type": "provider",
    "credential": "credential",
    "config": "base_url",
    "config.base_url": "base_url",
    "config.api_version": "api_version",
    "config.region": "region",
    "default_model": "model",
    "budget_limit_cents": "budget",
    "token_limit_month": "tokens",
    "rate_limit_rpm": "rpm",
    "budget_period": "period",
    "alert_thresholds": "thresholds",
}
# Where a provider's base URL and model mean something else than an API root and a model name.
PLACEHOLDERS: dict[ProviderType, tuple[str, str]] = {
    ProviderType.AZURE_OPENAI: (
        "required: https://{resource}.openai.azure.com",
        "your deployment's name, e.g. gpt-4o-prod",
    ),
}
FIELDS = (
    "name",
    "provider",
    "credential",
    "base_url",
    "api_version",
    "region",
    "model",
    "budget",
    "tokens",
    "period",
    "thresholds",
    "rpm",
)
PERIODS = [("month (UTC calendar month)", "month"), ("week (from Monday 00:00 UTC)", "week"),
           ("day (UTC)", "day")]  # fmt: skip


class FormScreen(ByokModal[str | None]):
    """Dismisses with the saved integration's id, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="form.save", tooltip="Save (enter in a field too)"),
        Binding("escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without saving"),
    ]
    """
    | Key(s) | Binding id | Description |
    | :- | :- | :- |
    | ctrl+s | form.save | Save (enter in a field too) |
    | esc | form.cancel | Close without saving |
    """

    def __init__(
        self,
        existing: IntegrationDetailResult | None = None,
        probed_models: list[str] | None = None,
    ) -> None:
        super().__init__(id="form")
        self.existing = existing
        self.probed_models = probed_models or []
        self._opened: dict[str, Any] = {}  # values() as the form opened, to tell what changed

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        ex = self.existing
        title = f"Edit {ex.name}" if ex else "New integration"
        with VerticalScroll(id="form-box"):
            yield Static(fmt.safe(title), id="form-title")
            yield Static("", id="form-error", classes="error")
            yield from self._text_field(
                "name", "Name", ex.name if ex else "", placeholder="e.g. openai-prod"
            )
            options = [(info.display_name, kind.value) for kind, info in CATALOGUE.items()]
            yield from self._field(
                "provider",
                "Provider",
                Select(
                    options,
                    value=fmt.value(ex.provider_type) if ex else ProviderType.OPENAI.value,
                    allow_blank=False,
                    id="provider",
                    disabled=ex is not None,
                ),
            )
            hint = (
                (
                    f"now {ex.credential_hint} ({fmt.value(ex.credential_source)}); "
                    "leave empty to keep"
                )
                if ex and ex.credential_hint
                else "API key, env:NAME or file:/absolute/path"
            )
            yield from self._text_field("credential", "Credential", "", hint, password=True)
            cfg = ex.config if ex else {}
            yield from self._text_field("base_url", "Base URL", str(cfg.get("base_url", "")))
            yield from self._text_field(
                "api_version", "API version", str(cfg.get("api_version", "")), "2024-10-21"
            )
            yield from self._text_field("region", "Region", str(cfg.get("region", "")), "us-east-1")
            if self.probed_models:
                yield from self._field(
                    "model_select",
                    "Models",
                    Select(
                        [(fmt.safe(m), m) for m in self.probed_models],
                        prompt="from the last probe",
                        id="model_select",
                        value=ex.default_model
                        if ex and ex.default_model in self.probed_models
                        else Select.NULL,
                    ),
                )
            yield from self._text_field(
                "model",
                "Model",
                (ex.default_model or "") if ex else "",
                "default model (free text)",
            )
            budget = ex.budget_limit_cents if ex else 0
            tokens = ex.token_limit_month if ex else 0
            rpm = ex.rate_limit_rpm if ex else 0
            yield from self._text_field(
                "budget",
                "Budget $",
                f"{budget / 100:.2f}" if budget else "",
                "per budget period, in dollars; empty = unlimited",
            )
            yield from self._text_field(
                "tokens", "Tokens", str(tokens or ""), "per budget period; empty = unlimited"
            )
            yield from self._field(
                "period",
                "Period",
                Select(
                    PERIODS,
                    value=ex.budget_period if ex else "month",
                    allow_blank=False,
                    id="period",
                ),
            )
            yield from self._text_field(
                "thresholds",
                "Alerts at %",
                ", ".join(map(str, ex.alert_thresholds if ex else (80, 100))),
                "percents of the limits, e.g. 80, 100; empty = no alerts",
            )
            yield from self._text_field(
                "rpm", "RPM", str(rpm or ""), "requests per minute; empty = unlimited"
            )
            with Horizontal(id="form-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="form-save")
                yield Button("Cancel (esc)", id="form-cancel")
        yield KeyBar()

    def _text_field(
        self, key: str, label: str, value: str, placeholder: str = "", *, password: bool = False
    ) -> ComposeResult:
        box = Input(value=value, placeholder=placeholder, password=password, id=key)
        yield from self._field(key, label, box)

    def _field(self, key: str, label: str, widget: Any) -> ComposeResult:
        with Horizontal(classes="form-row", id=f"row-{key}"):
            yield Label(label, classes="form-label")
            yield widget
        yield Label("", id=f"err-{key}", classes="field-error")

    def on_mount(self) -> None:
        for key in FIELDS:
            self.query_one(f"#err-{key}", Label).display = False
        self.query_one("#form-error", Static).display = False
        for box in self.query(Input):
            box.cursor_blink = self.app.cursor_blink
        self._provider_changed()
        self._opened = self.values()
        self._untouched = self._typed()
        self.query_one("#name", Input).focus()

    def _typed(self) -> tuple[object, ...]:
        """What the form holds now: every field and select (to tell whether anything was typed)."""
        return (*(box.value for box in self.query(Input)), *(s.value for s in self.query(Select)))

    @on(Select.Changed, "#provider")
    def _provider_changed(self) -> None:
        kind = self.provider()
        info = CATALOGUE[kind]
        base = self.query_one("#base_url", Input)
        base.placeholder = (
            "required: the API root, e.g. http://127.0.0.1:8000/v1"
            if info.needs_base_url
            else f"optional; default {info.default_base_url or 'none'}"
        )
        self.query_one("#row-api_version").display = info.needs_api_version
        self.query_one("#row-region").display = info.needs_region
        model = self.query_one("#model", Input)
        model.suggester = SuggestFromList(list(info.suggested_models), case_sensitive=False)
        if info.suggested_models and not self.probed_models:
            model.placeholder = "e.g. " + ", ".join(info.suggested_models[:2])
        if kind in PLACEHOLDERS:
            base.placeholder, model.placeholder = PLACEHOLDERS[kind]

    @on(Select.Changed, "#model_select")
    def _model_picked(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self.query_one("#model", Input).value = str(event.value)

    def provider(self) -> ProviderType:
        if self.existing is not None:
            return ProviderType(self.existing.provider_type)
        return ProviderType(str(self.query_one("#provider", Select).value))

    # -- saving ---------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The form as core fields (text the form cannot read goes to the core unchanged)."""

        def text(key: str) -> str:
            return self.query_one(f"#{key}", Input).value

        kind = self.provider()
        info = CATALOGUE[kind]
        config: dict[str, Any] = dict(self.existing.config) if self.existing else {}
        config["base_url"] = text("base_url").strip()
        if info.needs_api_version or "api_version" in config:
            config["api_version"] = text("api_version").strip()
        if info.needs_region or "region" in config:
            config["region"] = text("region").strip()
        config = {k: v for k, v in config.items() if v not in ("", None)}
        fields: dict[str, Any] = {
            "name": text("name"),
            "default_model": text("model").strip() or None,
            "config": config,
            "budget_limit_cents": fmt.cents_from_dollars(text("budget")),
            "token_limit_month": fmt.int_or_text(text("tokens")),
            "rate_limit_rpm": fmt.int_or_text(text("rpm")),
            "budget_period": self.query_one("#period", Select).value,
            "alert_thresholds": text("thresholds"),
        }
        credential = text("credential")
        if self.existing is None:
            fields["provider_type"] = kind.value
            fields["credential"] = credential
        elif credential:
            fields["credential"] = credential
        return fields

    def edits(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """An edit's changed fields, and the value each showed when the form opened."""
        ex = self.existing
        assert ex is not None
        now, opened = self.values(), self._opened
        changes = {k: now[k] for k in now if k != "config" and now[k] != opened.get(k)}
        expected: dict[str, Any] = {k: getattr(ex, k) for k in changes if k != "credential"}
        if "credential" in changes:
            expected["credential"] = ex.credential_hint
        new_cfg, old_cfg = now["config"], opened["config"]
        keys = {*new_cfg, *old_cfg}
        patch = {k: new_cfg.get(k) for k in keys if new_cfg.get(k) != old_cfg.get(k)}
        if patch:
            changes["config_patch"] = patch
            expected.update({f"config.{k}": ex.config.get(k) for k in patch})
        return changes, expected

    def show_errors(self, errors: dict[str, str]) -> None:
        for key in FIELDS:
            self.query_one(f"#err-{key}", Label).display = False
        general: list[str] = []
        first: str | None = None
        for field, message in errors.items():
            widget_key = FIELD_WIDGET.get(field)
            if widget_key is None:
                general.append(f"{field}: {message}")
                continue
            label = self.query_one(f"#err-{widget_key}", Label)
            label.update(fmt.safe(f"↑ {message}"))
            label.display = True
            first = first or widget_key
        box = self.query_one("#form-error", Static)
        box.update(fmt.safe("\n".join(general)))
        box.display = bool(general)
        if first is not None:
            widget = self.query_one(f"#{first}")
            widget.focus()
            widget.scroll_visible(animate=False)

    @on(Input.Submitted)
    @on(Button.Pressed, "#form-save")
    def action_save(self) -> None:
        self.save()

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        """Close without saving; asks first when something was typed."""
        if self._typed() == self._untouched:
            self.dismiss(None)
            return
        from tui.screens.confirm import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmScreen("Discard what you typed?", "Nothing is saved.", yes="Discard"),
            answered,
        )

    @work(exclusive=True, group="form-save", exit_on_error=False)
    async def save(self) -> None:
        facade = await self.app.data.get_facade()
        tenant = self.app.data.tenant_id
        fields = self.values()
        saved: IntegrationDetailResult | None
        try:
            if self.existing is None:
                saved = await facade.create_integration(tenant, **fields)
            else:
                changes, expected = self.edits()
                if not changes:  # nothing to write: not even updated_at moves
                    self.dismiss(self.existing.id)
                    return
                saved = await facade.update_integration(
                    tenant, self.existing.id, expected=expected, **changes
                )
        except (ValidationError, DuplicateNameError) as exc:
            self.show_errors(dict(exc.errors))
            return
        if saved is None:
            self.show_errors({"integration": "it was deleted meanwhile (by another process?)"})
            return
        self.dismiss(saved.id)
