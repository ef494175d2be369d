"""`cardlab models`: the model store of pretrained language models and fine-tuned encoders."""

from __future__ import annotations

import argparse
import json
import sys

from tui.commands import home_from_args

EXIT_FAILED, EXIT_USAGE = 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="pretrained language models and encoders the labs reuse")
    commands = models.add_subparsers(dest="models_command", metavar="MODELS_COMMAND")
    models.set_defaults(handler=lambda args: models.print_help() or 0)
    listing = commands.add_parser("list", help="every model in the store")
    listing.add_argument("--json", action="store_true", help="one JSON object per model")
    listing.set_defaults(handler=list_models)
    show = commands.add_parser("show", help="everything recorded about one model")
    show.add_argument("name")
    show.set_defaults(handler=show_model)
    remove = commands.add_parser("rm", help="delete a model (a lab that needs it makes it again)")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_model)
    pretrain = commands.add_parser("pretrain", help="pretrain a general language model now")
    pretrain.add_argument(
        "--corpus",
        default="generated",
        metavar="NAME|PATH",
        help="generated (default), a dataset name such as wikitext-2, or a path",
    )
    pretrain.add_argument("--name", default="general-lm", help="store name (default general-lm)")
    pretrain.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. pretrain_epochs=4, emb_sz=64",
    )
    pretrain.add_argument("--device", default="auto")
    pretrain.set_defaults(handler=pretrain_model)


def _store(args: argparse.Namespace):
    from labs.model_store import ModelStore

    return ModelStore.for_home(home_from_args(args))


def list_models(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    store = _store(args)
    entries, damaged = store.list(), store.damaged()
    if args.json:
        for entry in entries:
            print(json.dumps(asdict(entry)))
        return 0
    if not entries and not damaged:
        print("no models yet: a ULMFiT lab makes general-lm the first time, or `cardlab models pretrain`")
    for e in entries:
        ppl = f"ppl {e.valid_perplexity:.2f}" if e.valid_perplexity else ""
        print(_plain(f"{e.name:28} {e.kind:15} {e.vocab_size:>7} words  {ppl:12} {e.created}  {e.corpus}"))
    for bad in damaged:
        print(_plain(f"{bad.name:28} damaged: {bad.path}: {bad.reason} (cardlab models rm {bad.name})"))
    return 0


def show_model(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from labs.errors import LabError

    store = _store(args)
    try:
        entry = store.get(args.name)
    except LabError as error:
        print(f"cardlab models show: {error}", file=sys.stderr)
        return EXIT_FAILED
    for key, value in asdict(entry).items():
        print(_plain(f"{key:18} {value}"))
    print(f"{'file':18} {store.weights_path(entry.name)}")
    return 0


def remove_model(args: argparse.Namespace) -> int:
    from labs.errors import LabError

    try:
        entry = _store(args).remove(args.name)
    except LabError as error:
        print(f"cardlab models rm: {_plain(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    print(_plain(f"removed {entry.name}"))
    return 0


def pretrain_model(args: argparse.Namespace) -> int:
    from labs.errors import LabError
    from labs.pretrain import PRETRAIN_INFO
    from labs.runner import LabRun
    from tui.commands.lab import follow_to_end

    home = home_from_args(args)
    try:
        overrides = PRETRAIN_INFO.parse_assignments(
            [*args.assignments, f"corpus={args.corpus}", f"name={args.name}"]
        )
        run = LabRun(PRETRAIN_INFO, overrides=overrides, device=args.device, home=home, runs_dir=None)
    except LabError as error:
        print(f"cardlab models pretrain: {error}", file=sys.stderr)
        return EXIT_USAGE
    return follow_to_end(run)


def _plain(text: str) -> str:
    """Store metadata is data: control characters never reach the terminal as escape sequences."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
