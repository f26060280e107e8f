"""Command mode (`:`, as in k9s and vim): the commands, their completion and what each runs.

A command is a word and its arguments (`:sort budget desc`). A unique prefix of a command's
name or alias is that command (`:lim`); completion offers every name, then every argument,
that starts with what is typed. Commands about the list (sort, mark, test, enable, disable,
delete) go back to the list first. Nothing here decides what an action means: each runs the
same action as its key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.screens.home import SORTS

if TYPE_CHECKING:
    from tui.app import ByokApp
    from tui.screens.home import HomeScreen

DIRECTIONS = ("asc", "desc")


class CommandError(ValueError):
    """A line that is not a command; the message says what would be."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    args: tuple[tuple[str, ...], ...] = ()  # per position: the words it takes (completion)
    required: int = 0  # how many of `args` must be given
    aliases: tuple[str, ...] = ()
    arg_names: tuple[str, ...] = ()  # per position, for the usage line; else its words

    @property
    def usage(self) -> str:
        words = [self.name]
        for index, choices in enumerate(self.args):
            shown = self.arg_names[index] if index < len(self.arg_names) else "|".join(choices)
            words.append(shown if index < self.required else f"[{shown}]")
        return ":" + " ".join(words)


SORT_NAMES = tuple(sort.name for sort in SORTS)
COMMANDS: tuple[Command, ...] = (
    Command("limits", "every integration's limits"),
    Command("log", "the health log"),
    Command("spend", "spend the providers report: drift, balances, accounts"),
    Command("sync", "sync the provider accounts now"),
    Command("new", "add an integration"),
    Command("test", "probe the marked or highlighted; all: every one", (("all",),)),
    Command("sort", "sort the list", (SORT_NAMES, DIRECTIONS), 1, arg_names=("COLUMN", "asc|desc")),
    Command("enable", "enable the marked or highlighted (asks)"),
    Command("disable", "disable the marked or highlighted (asks)"),
    Command("delete", "delete the marked or highlighted (asks)"),
    Command("mark", "mark every row the filter shows, or none", (("all", "none"),), 1),
    Command("notifications", "every notification", aliases=("notices", "messages")),
    Command("outbox", "the watcher and its alerts' deliveries", aliases=("watch",)),
    Command("help", "every key"),
    Command("refresh", "reload now"),
    Command("quit", "quit byok", aliases=("q", "q!")),
)


def _names(command: Command) -> tuple[str, ...]:
    return (command.name, *command.aliases)


def find(word: str) -> Command:
    """The command `word` names: a name or alias, else a unique prefix of one."""
    exact = [c for c in COMMANDS if word in _names(c)]
    if exact:
        return exact[0]
    matches = [c for c in COMMANDS if any(n.startswith(word) for n in _names(c))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f":{c.name}" for c in matches)
        raise CommandError(f":{word} could be {names}: type more of it.")
    raise CommandError(f"Unknown command :{word}. Tab completes; :help lists every key.")


def parse(line: str) -> tuple[Command, list[str]]:
    words = line.strip().removeprefix(":").split()
    if not words:
        raise CommandError("Type a command: Tab shows them.")
    command = find(words[0].casefold())
    args = [w.casefold() for w in words[1:]]
    if len(args) < command.required or len(args) > len(command.args):
        raise CommandError(f"Usage: {command.usage}")
    for arg, choices in zip(args, command.args, strict=False):
        if arg not in choices:
            raise CommandError(f"{arg!r} is not one of {', '.join(choices)}: {command.usage}")
    return command, args


def completions(line: str) -> list[str]:
    """Every whole line that completes `line` (without its `:`), in the commands' order."""
    text = line.lstrip().removeprefix(":")
    words = text.split(" ")
    if len(words) == 1:
        return [n for c in COMMANDS for n in _names(c) if n.startswith(words[0].casefold())]
    try:
        command = find(words[0].casefold())
    except CommandError:
        return []
    position = len(words) - 2
    if position >= len(command.args):
        return []
    head = " ".join([command.name, *words[1:-1]])
    return [f"{head} {w}" for w in command.args[position] if w.startswith(words[-1].casefold())]


def describe(line: str) -> str:
    """The hint under the command line: the commands that fit what is typed; once one is
    chosen, its usage and the words its next argument takes."""
    candidates = completions(line)
    words = line.strip().removeprefix(":").split()
    in_args = len(words) > 1 or (bool(words) and line.endswith(" "))
    if words and (in_args or len(candidates) <= 1):
        try:
            command = find(words[0].casefold())
        except CommandError:
            command = None
        if command is not None:
            if in_args and candidates:
                return f"{command.usage}  " + "  ".join(c.rsplit(" ", 1)[-1] for c in candidates)
            return f"{command.usage}  {command.help}"
    if not candidates:
        return "no such command: Tab completes, esc cancels"
    word = words[0].casefold() if words else ""
    return "  ".join(c.name for c in COMMANDS if any(n.startswith(word) for n in _names(c)))


def run_command(app: ByokApp, line: str) -> None:
    """Run `line`, or say why it is not a command (a notification, kept like any)."""
    try:
        command, args = parse(line)
    except CommandError as exc:
        app.notify(str(exc), title="Command", severity="error", timeout=6)
        return
    run = RUNS[command.name]
    run(app, args)


def _on_list(
    action: Callable[[HomeScreen, list[str]], None],
) -> Callable[[ByokApp, list[str]], None]:
    """A command about the list: back to it first (closing the screens above), then act."""

    def run(app: ByokApp, args: list[str]) -> None:
        home = app.home()
        if home is None:
            return
        while app.screen is not home:
            app.pop_screen()
        action(home, args)

    return run


def _sort(home: HomeScreen, args: list[str]) -> None:
    home.sort_by(args[0], None if len(args) < 2 else args[1] == "desc")


def _mark(home: HomeScreen, args: list[str]) -> None:
    home.mark_all() if args[0] == "all" else home.clear_marks()


def _test(app: ByokApp, args: list[str]) -> None:
    if args:
        app.action_test_all()
    else:
        _on_list(lambda home, _: home.action_test())(app, args)


def _refresh(app: ByokApp, args: list[str]) -> None:
    app.refresh_screens()


RUNS: dict[str, Callable[[ByokApp, list[str]], None]] = {
    "limits": lambda app, _: app.action_limits(),
    "log": lambda app, _: app.action_health_log(),
    "spend": lambda app, _: app.action_spend(),
    "sync": lambda app, _: app.action_sync(),
    "new": lambda app, _: app.action_new(),
    "test": _test,
    "sort": _on_list(_sort),
    "enable": _on_list(lambda home, _: home.action_enable()),
    "disable": _on_list(lambda home, _: home.action_disable()),
    "delete": _on_list(lambda home, _: home.action_delete()),
    "mark": _on_list(_mark),
    "notifications": lambda app, _: app.action_notifications(),
    "outbox": lambda app, _: app.action_outbox(),
    "help": lambda app, _: app.action_help(),
    "refresh": _refresh,
    "quit": lambda app, _: app.exit(),
}
