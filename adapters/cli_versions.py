"""`alur versions | diff | migrate | retire`: the versions of a process, what changed, and moving cases between them."""

from __future__ import annotations

import json

from engine import migration, permissions, versions


def _time(value):
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _print_json(value):
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _viewer(args):
    return args.actor or permissions.OPERATOR


def cmd_versions(app, args):
    infos = versions.list_versions(app.uow(write=False), args.key, viewer=_viewer(args))
    if args.json:
        _print_json([{"version": i.deployment.version, "name": i.deployment.name, "office": i.deployment.office,
                      "deployed_at": i.deployment.deployed_at, "deployed_by": i.deployment.deployed_by,
                      "note": i.deployment.note, "running": i.running, "cases": i.total, "current": i.is_current,
                      "retired_at": i.deployment.retired_at, "retired_by": i.deployment.retired_by}
                     for i in infos])
        return
    rows = [("VERSION", "DEPLOYED", "BY", "RUNNING", "CASES", "STATUS", "NOTE")]
    for i in infos:
        d = i.deployment
        status = "current" if i.is_current else (f"retired {_time(d.retired_at)[:10]} by {d.retired_by or '-'}"
                                                 if d.retired_at else "")
        rows.append((f"v{d.version}", _time(d.deployed_at), d.deployed_by or "-", str(i.running), str(i.total),
                     status, " ".join((d.note or "").split())))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    print(f"{args.key}: {infos[0].deployment.name}")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    if not any(i.is_current for i in infos):
        print("Every version is retired: no new case can start.")


def cmd_diff(app, args):
    d = versions.diff(app.uow(write=False), args.key, args.old, args.new, viewer=_viewer(args))
    if args.json:
        _print_json(d.as_dict())
        return
    print(f"{d.key}: version {d.old_version} → version {d.new_version}")
    if d.empty:
        print("No differences in steps, lanes, standard times or gateways.")
        return
    _section("Steps added", [f"+ {s.id}  '{s.name}'  [{s.lane}]  {s.sla or 'no standard time'}"
                             for s in d.steps_added])
    _section("Steps removed", [f"- {s.id}  '{s.name}'  [{s.lane}]" for s in d.steps_removed])
    _section("Steps changed", [f"~ {new.id}  " + "; ".join(_change(old, new, f) for f in fields)
                               for old, new, fields in d.steps_changed])
    _section("Lanes added", [f"+ {lane}" for lane in d.lanes_added])
    _section("Lanes removed", [f"- {lane}" for lane in d.lanes_removed])
    _section("Gateways added", [f"+ {g}  '{name}'" for g, name in d.gateways_added])
    _section("Gateways removed", [f"- {g}  '{name}'" for g, name in d.gateways_removed])
    _section("Gateways changed", [f"~ {g}  '{name}': {', '.join(fields)} changed"
                                  for g, name, fields in d.gateways_changed])
    if d.old_total != d.new_total:
        print(f"Main path standard time: {d.old_total or 'none'} → {d.new_total or 'none'}")
    else:
        print(f"Main path standard time: {d.old_total or 'none'} (unchanged)")


def _section(title, lines):
    if lines:
        print(f"{title}:")
        for line in lines:
            print(f"  {line}")


def _change(old, new, field):
    if field == "sla":
        return f"standard time {old.sla or 'none'} → {new.sla or 'none'}"
    if field in ("name", "lane", "kelengkapan", "output", "keterangan"):
        return f"{field} {_short(getattr(old, field))} → {_short(getattr(new, field))}"
    return f"{field} changed"


def _short(value, limit=60):
    text = " ".join(str(value).split()) if value else "none"
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{text}'" if value else text


def cmd_migrate(app, args):
    result = migration.migrate(app.uow, args.key, args.old, args.new, actor=args.actor, dry_run=args.dry_run)
    moved = "can move" if result.dry_run else "moved"
    count = len(result.movable) if result.dry_run else len(result.moved)
    print(f"{result.key}: version {result.from_version} → version {result.to_version}: {count} case(s) {moved}, "
          f"{len(result.blocked)} blocked" + ("  (dry run: nothing was changed)" if result.dry_run else ""))
    for case in result.cases:
        number = f"{case.instance.number} (id {case.instance.id})"
        if case.movable:
            print(f"  {moved:<9} {number}" + (f": {'; '.join(case.changes)}" if case.changes else ""))
        else:
            for reason in case.reasons:
                print(f"  {'blocked':<9} {number}: {reason}")
    return 1 if result.blocked else 0


def cmd_retire(app, args):
    change = versions.restore if args.restore else versions.retire
    deployment = change(app.uow(), args.key, args.version, actor=_viewer(args), reason=args.reason)
    state = f"retired (since {_time(deployment.retired_at)})" if deployment.retired_at else "open for new cases"
    print(f"{args.key} version {args.version} is {state}")
    with app.uow(write=False) as uow:
        current = uow.deployments.current(args.key)
    print(f"new cases start on version {current.version}" if current else
          "every version is retired: no new case can start")


def add_parser(sub):
    listing = sub.add_parser("versions", help="the versions of a process: cases on each, which one is current")
    listing.add_argument("key")
    listing.add_argument("--as", dest="actor", help="read as this user (checks their grants)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_versions)

    diff = sub.add_parser("diff", help="what changed between two versions: steps, lanes, standard times, gateways")
    diff.add_argument("key")
    diff.add_argument("old", type=int, metavar="V1")
    diff.add_argument("new", type=int, metavar="V2")
    diff.add_argument("--as", dest="actor", help="read as this user (checks their grants)")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=cmd_diff)

    move = sub.add_parser("migrate", help="move the open cases of one version to another (exit 1 when some "
                                          "cases are blocked)")
    move.add_argument("key")
    move.add_argument("--from", dest="old", type=int, required=True, metavar="V")
    move.add_argument("--to", dest="new", type=int, required=True, metavar="W")
    move.add_argument("--dry-run", action="store_true", help="only list which cases could move and why not")
    move.add_argument("--as", "--actor", dest="actor", required=True, help="an admin of every office")
    move.set_defaults(func=cmd_migrate)

    retire = sub.add_parser("retire", help="stop new cases from starting on a version (--restore: allow again)")
    retire.add_argument("key")
    retire.add_argument("version", type=int)
    retire.add_argument("--restore", action="store_true")
    retire.add_argument("--reason")
    retire.add_argument("--as", "--actor", dest="actor", help="a deployer or an admin (default: the operator)")
    retire.set_defaults(func=cmd_retire)
