"""The command line registers only the subcommands of the command named (start-up time), so the table
of which module owns which command must stay true, and help must still list every command."""

from __future__ import annotations

import argparse
import importlib

import pytest

from tui.cli import COMMAND_MODULES, build_parser, main, modules_needed

EVERY_MODULE = list(COMMAND_MODULES)


def registered(parser: argparse.ArgumentParser) -> set[str]:
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return set(actions[0].choices) if actions else set()


@pytest.mark.parametrize("module_name", EVERY_MODULE)
def test_each_module_registers_the_commands_the_table_gives_it(module_name: str) -> None:
    parser = argparse.ArgumentParser()
    module = importlib.import_module(f"tui.commands.{module_name}")
    module.register(parser.add_subparsers())
    assert registered(parser) == set(COMMAND_MODULES[module_name])


@pytest.mark.parametrize(
    ("arguments", "needed"),
    [
        ([], []),
        (["--home", "/tmp/h"], []),
        (["--home", "/tmp/h", "study", "fastai-lesson4"], ["study"]),
        (["--debug", "import", "anki", "deck.apkg"], ["transfer"]),
        (["stats", "--json"], ["study"]),
        (["lab", "run", "collab", "--help"], ["lab"]),
        (["--help"], EVERY_MODULE),
        (["-h", "pack"], EVERY_MODULE),
        (["no-such-command"], EVERY_MODULE),
    ],
)
def test_only_the_named_command_s_module_is_loaded(arguments: list[str], needed: list[str]) -> None:
    assert modules_needed(arguments) == needed
    parser = build_parser(arguments)
    assert registered(parser) == {name for module in needed for name in COMMAND_MODULES[module]}


def test_help_and_a_mistyped_command_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert all(name in shown for commands in COMMAND_MODULES.values() for name in commands)
    with pytest.raises(SystemExit):
        main(["stat"])
    assert "invalid choice: 'stat'" in capsys.readouterr().err
