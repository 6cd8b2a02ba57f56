"""`alur lanes KEY`: which role does each lane's work, how many hold it, and `--set LANE=ROLE` to change it."""

from __future__ import annotations

import json

from engine import identity
from engine.errors import AlurError


def _assignment(text):
    lane, equals, role = text.partition("=")
    if not equals or not lane.strip():
        raise AlurError(f"--set '{text}': write LANE=ROLE (or LANE= for the role named like the lane)")
    return lane.strip(), role.strip()


def cmd_lanes(app, args):
    actor = args.actor or identity.OPERATOR  # without --as: the server's operator
    for text in args.set or []:
        lane, role = _assignment(text)
        result = identity.set_lane_role(app.uow(), args.key, lane, role, actor=actor)
        print(f"lane '{result.lane}' is done by the role '{result.role}'{' (its default)' if result.default else ''}")
    lanes = identity.lane_roles(app.uow(write=False), args.key, actor=actor)
    if args.json:
        print(json.dumps([{"lane": r.lane, "role": r.role, "default": r.default, "holders": r.holders,
                           "unheld": r.unheld} for r in lanes], ensure_ascii=False, indent=2))
        return
    width = max([len(r.lane) for r in lanes] + [4])
    for r in lanes:
        counts = "  ".join(f"{office}:{n}" for office, n in sorted(r.holders.items())) or "no office"
        flag = "  NOBODY HOLDS THIS ROLE" if r.unheld else ""
        mapped = "" if r.default else "  (mapped)"
        print(f"{r.lane:<{width}}  -> {r.role}{mapped}  holders {counts}{flag}")
    unheld = [r.lane for r in lanes if r.unheld]
    if unheld:
        print(f"{len(unheld)} lane(s) nobody holds: their steps would wait in no one's inbox")


def add_parser(sub):
    lanes = sub.add_parser("lanes", help="lane -> role of an SOP, with how many hold each role per office")
    lanes.add_argument("key", help="the process key, as `alur processes` lists it")
    lanes.add_argument("--set", action="append", metavar="LANE=ROLE",
                       help="let ROLE do the lane's work (LANE= restores the role named like the lane); repeatable")
    lanes.add_argument("--as", dest="actor", help="act as this user, whose rights are checked")
    lanes.add_argument("--json", action="store_true")
    lanes.set_defaults(func=cmd_lanes)
