"""`cardlab config list|get|set`: read and change the study settings in config.toml.

Every change is checked with the same rules as the file itself and written atomically, keeping the
file's comments and other tables.
"""

from __future__ import annotations

import argparse
import json
import sys

from tui.commands import home_from_args
from tui.safe_text import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser(
        "config",
        help="show or change the study settings (config.toml)",
        description="Show or change the study settings kept in config.toml; each value is checked "
        "before it is written.",
    )
    actions = config.add_subparsers(dest="config_command", metavar="ACTION")
    listing = actions.add_parser("list", help="every setting, its value and what it means")
    listing.add_argument("--json", action="store_true", help="one JSON object of key: value")
    listing.set_defaults(handler=run_list)
    get = actions.add_parser("get", help="print one setting's value")
    get.add_argument("key", metavar="KEY")
    get.set_defaults(handler=run_get)
    put = actions.add_parser(
        "set",
        help="change one setting (no VALUE: back to its default)",
        description='Set KEY to VALUE: TOML (20, 0.85, true, [1, 10], "Europe/Paris") or a bare word '
        "(Europe/Paris, 1,10). With no VALUE the setting goes back to its default.",
    )
    put.add_argument("key", metavar="KEY")
    put.add_argument("value", metavar="VALUE", nargs="?")
    put.set_defaults(handler=run_set)
    for parser in (listing, get, put):
        parser.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    config.set_defaults(handler=lambda args: _usage(config))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(message: str) -> int:
    print(f"cardlab config: {printable(message, one_line=True)}", file=sys.stderr)
    return 1


def run_list(args: argparse.Namespace) -> int:
    from cards.config import DESCRIPTIONS, ConfigError, load_config, setting_text

    try:
        config = load_config(home_from_args(args))
    except ConfigError as err:
        return _fail(str(err))
    if args.json:
        print(json.dumps({key: getattr(config, key) for key in DESCRIPTIONS}, indent=2))
        return 0
    width = max(map(len, DESCRIPTIONS))
    for key, meaning in DESCRIPTIONS.items():
        value = setting_text(config, key) or "(unset)"
        print(printable(f"{key:<{width}}  {value}\n{'':<{width}}  {meaning}"))
    return 0


def run_get(args: argparse.Namespace) -> int:
    from cards.config import ConfigError, check_key, load_config, setting_text

    try:
        check_key(args.key)
        print(printable(setting_text(load_config(home_from_args(args)), args.key), one_line=True))
    except ConfigError as err:
        return _fail(str(err))
    return 0


def run_set(args: argparse.Namespace) -> int:
    from cards.config import ConfigError, load_config, save_config, setting_text, with_setting

    home = home_from_args(args)
    try:
        config = with_setting(load_config(home), args.key, args.value)
    except ConfigError as err:
        return _fail(str(err))
    home.ensure()
    save_config(home, config)
    value = setting_text(config, args.key) or "(unset)"
    print(printable(f"{args.key} = {value}", one_line=True))
    return 0
