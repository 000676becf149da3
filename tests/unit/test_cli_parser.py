"""The command line's parser: built for the one command named, the same as when built whole."""

from __future__ import annotations

import argparse

import pytest

from threadline.adapters.cli.main import COMMANDS, build_parser, command_in, terminal_columns


def sub_commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_table_of_commands_names_every_command_the_modules_add_in_their_order() -> None:
    assert list(sub_commands(build_parser())) == list(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_parsed_alone_has_the_options_and_help_it_has_among_all(command: str) -> None:
    alone = sub_commands(build_parser(command))
    among_all = sub_commands(build_parser())

    assert command in alone
    assert alone[command].format_help() == among_all[command].format_help()


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["import", "x"], "import"),
        (["--home", "import", "threads"], "threads"),
        (["--home=/h", "--database-url", "postgresql://h/d", "show", "t"], "show"),
        (["--database-url=postgresql://h/d", "usage"], "usage"),
        (["--help", "import"], None),  # the help lists every command
        (["--hom", "/h", "import"], None),  # an abbreviation: argparse's to resolve
        (["imprt"], None),  # the error lists every command
        (["--home", "/h"], None),
        ([], None),
    ],
)
def test_the_command_is_read_after_the_global_options_only_when_plain(
    argv: list[str], command: str | None
) -> None:
    assert command_in(argv) == command


@pytest.mark.parametrize("columns", [None, "57", "132", "0", "wide"])
def test_help_is_as_wide_as_argparse_makes_it_without_importing_shutil_to_measure(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser()
    parsers = [parser, *sub_commands(parser).values()]
    ours = [p.format_help() for p in parsers]
    for p in parsers:
        p.formatter_class = argparse.HelpFormatter

    assert terminal_columns() == shutil.get_terminal_size().columns
    assert ours == [p.format_help() for p in parsers]
