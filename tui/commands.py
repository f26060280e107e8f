"""The command palette's commands, generated from the key bindings (as posting does).

One command per `Binding` of the screen the palette was opened on and of the app: its
description is the command, its tooltip and key the help line, running it runs the binding's
action. So a new Binding is a new command, and the palette cannot drift from the keys. A
binding that Textual's own commands already name (Quit) is left to them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, NamedTuple

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "escape": "esc",
    "space": "space",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "plus": "+",
    "minus": "-",
    "colon": ":",
    "dollar_sign": "$",
}


def key_label(key: str) -> str:
    """A binding's keys as the console writes them (`slash` -> `/`)."""
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


class BindingCommand(NamedTuple):
    title: str
    help: str
    run: Callable[[], Awaitable[Any]]


def binding_commands(screen: Screen[Any]) -> list[BindingCommand]:
    """The screen's bindings, then the app's, as commands; one per title."""
    app = screen.app
    keymap: dict[str, str] = getattr(app, "key_overrides", {})  # a ByokApp's keymap file
    taken = {command.title for command in app.get_system_commands(screen)}
    commands = []
    for node in (screen, app):
        for binding in node.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            if binding.description in taken:
                continue
            taken.add(binding.description)
            commands.append(
                BindingCommand(
                    binding.description,
                    f"{binding.tooltip or binding.description}"
                    f" ({key_label(keymap.get(binding.id or '', binding.key))})",
                    partial(app.run_action, binding.action, node),
                )
            )
    return commands


class BindingCommands(Provider):
    """The palette's source of the binding commands."""

    async def discover(self) -> Hits:
        for command in binding_commands(self.screen):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in binding_commands(self.screen):
            if (score := matcher.match(command.title)) > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
