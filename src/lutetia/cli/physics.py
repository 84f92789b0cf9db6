"""``lutetia decay``: 177Lu activity at one time from the activity at another."""

from __future__ import annotations

import argparse
import math
from typing import Any, Final

from lutetia.cli.output import emit_json, finite, parse_aware
from lutetia.errors import BadInputError

#: ICRP-107 half-lives (h) of the nuclides ``decay`` is asked about in practice,
#: so that it answers without loading the decay database (and numpy). Each is
#: ``nuclide(name).half_life_h`` exactly (tests/test_cli_foundation.py checks);
#: any other ``--nuclide`` is read from the database.
HALF_LIVES_H: Final[dict[str, float]] = {"Lu-177": 6.647 * 24.0}


def register(commands: Any) -> None:
    """Add the physics subcommands."""
    decay = commands.add_parser(
        "decay",
        help="177Lu activity at T1 from the activity at T0 (ICRP-107 half-life)",
        description="Decay-correct a 177Lu activity between two timezone-aware times. "
        "T1 may be before T0 (back-correction to a reference time).",
    )
    decay.add_argument("--activity-gbq", type=finite, required=True, metavar="A")
    decay.add_argument("--from", dest="start", required=True, metavar="T0")
    decay.add_argument("--to", dest="end", required=True, metavar="T1")
    decay.add_argument("--nuclide", default="Lu-177", help=argparse.SUPPRESS)
    decay.add_argument("--json", action="store_true", help="print one JSON object")
    decay.set_defaults(handler=run_decay)


def run_decay(args: argparse.Namespace) -> int:
    """Print the decayed activity."""
    from lutetia.nuclides import activity_at, decay_factor, elapsed_h, nuclide
    from lutetia.nuclides.data import SOURCE

    if args.activity_gbq < 0:
        raise BadInputError("--activity-gbq", f"{args.activity_gbq!r} must not be negative")
    start = parse_aware(args.start, option="--from")
    end = parse_aware(args.end, option="--to")
    name: str = args.nuclide
    half_life_h = HALF_LIVES_H.get(name)
    if half_life_h is None:
        half_life_h = nuclide(name).half_life_h
    try:
        factor = decay_factor(start, end, half_life_h)
        activity_gbq = activity_at(args.activity_gbq, start, end, half_life_h)
    except OverflowError:
        factor = activity_gbq = math.inf
    if not math.isfinite(activity_gbq):
        raise BadInputError(
            "--to",
            f"{args.activity_gbq:g} GBq at --from back-corrected to {end.isoformat()} "
            "is out of range: --to is too long before --from",
        )
    document: dict[str, Any] = {
        "nuclide": name,
        "half_life_h": half_life_h,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "elapsed_h": elapsed_h(start, end),
        "decay_factor": factor,
        "activity_gbq": activity_gbq,
        "source": SOURCE,
    }
    if args.json:
        emit_json(document)
    else:
        print(
            f"{name} (T½ {half_life_h / 24:.3f} d, ICRP-107): "
            f"{args.activity_gbq:g} GBq at {document['from']} → "
            f"{document['activity_gbq']:.4f} GBq at {document['to']}\n"
            f"elapsed {document['elapsed_h']:.2f} h, decay factor {document['decay_factor']:.5f}"
        )
    return 0
