"""The `alur` command line: every write goes through the engine's use cases."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from adapters import bootstrap, gctune, mail
from engine import services
from engine.errors import AlurError, DiagramInvalid, NotFound

log = logging.getLogger("alur")


class UsageError(AlurError):
    code = "usage"


def _json_arg(text, what="--data"):
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{what} is not valid JSON: {err.msg} at character {err.pos + 1}") from err
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object, like '{{\"keputusan\": \"Ya\"}}'")
    return value


def _read_files(paths):
    files = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"{path}: no such file")
        files.append((str(p), p.read_bytes()))
    return files


def _fmt_time(value):
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def _print_json(value):
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def cmd_init(app, args):
    bootstrap.upgrade_schema(app)
    where = app.sqlite_path or app.engine.url.render_as_string(hide_password=True)
    print(f"Schema is up to date. Database: {where}")


def cmd_lint(app, args):
    report = services.lint(_read_files(args.files), allow_non_executable=args.allow_non_executable)
    if args.json:
        _print_json({"ok": report.ok, "problems": [p.__dict__ for p in report.problems]})
    else:
        for line in services.diagrams.problem_lines(report.problems):
            print(line)
        for info in report.processes:
            print(f"{info.key}: {len(info.steps)} steps, lanes: {', '.join(n for _, n in info.lanes)}")
        print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    return 0 if report.ok else 1


def cmd_deploy(app, args):
    results, report = services.deploy(app.uow(), _read_files(args.files), actor=args.actor, office=args.office,
                                      note=args.note, allow_non_executable=args.allow_non_executable)
    for line in services.diagrams.problem_lines(report.warnings):
        print(line)
    for dep, created in results:
        verb = "deployed as version" if created else "unchanged, still version"
        print(f"{dep.key} {verb} {dep.version} ({len(dep.steps)} steps, office {dep.office or 'any'})")


def cmd_processes(app, args):
    with app.uow(write=False) as uow:
        deployments = uow.deployments.list()
    if args.json:
        _print_json([{"key": d.key, "version": d.version, "name": d.name, "office": d.office,
                      "deployed_at": d.deployed_at, "deployed_by": d.deployed_by, "steps": len(d.steps)}
                     for d in deployments])
        return
    for d in deployments:
        print(f"{d.key} v{d.version}  {d.name}  office={d.office or 'any'}  steps={len(d.steps)}  "
              f"deployed {_fmt_time(d.deployed_at)} by {d.deployed_by or '-'}")


def cmd_start(app, args):
    instance = services.start(app.uow(), args.key, actor=args.actor, version=args.version,
                              data=_json_arg(args.data), office=args.office)
    print(f"Started case {instance.number} (id {instance.id}) of {instance.key} v{instance.version} "
          f"in office {instance.office}")
    _print_open_items(app, instance.id)


def _print_open_items(app, instance_id):
    details = services.show(app.uow(write=False), instance_id)
    for item in details["work_items"]:
        if item.state == "ready":
            print(f"  ready: {item.id}  {item.step_name}  [{item.role}]  due {_fmt_time(item.due_at)}")
    if details["instance"].status == "completed":
        print(f"  case {details['instance'].number} is completed")


def _work_item_rows(items):
    return [{"id": w.id, "instance_id": w.instance_id, "step": w.step_id, "name": w.step_name, "role": w.role,
             "office": w.office, "ready_at": w.ready_at, "due_at": w.due_at, "overdue": w.overdue,
             "claimed_by": w.claimed_by} for w in items]


def cmd_tasks(app, args):
    items = services.work_for(app.uow(write=False), user=args.actor, role=args.role)
    if args.json:
        _print_json(_work_item_rows(items))
        return
    for w in items:
        flag = " OVERDUE" if w.overdue else ""
        print(f"{w.id}  case {w.instance_id}  {w.step_name}  [{w.role} @ {w.office}]  "
              f"due {_fmt_time(w.due_at)}{flag}")
    print(f"{len(items)} ready work item(s)")


def _resolve_work_item(app, ref):
    if len(ref) >= 36:
        return ref
    if len(ref) < 6:
        raise UsageError("give at least the first 6 characters of the work item id")
    with app.uow(write=False) as uow:
        matches = uow.work_items.ready_ids_starting_with(ref)
    if not matches:
        raise NotFound(f"No ready work item starts with '{ref}'.")
    if len(matches) > 1:
        raise NotFound(f"'{ref}' matches several ready work items; give more of the id")
    return matches[0]


def cmd_complete(app, args):
    item_id = _resolve_work_item(app, args.work_item)
    instance = services.complete(app.uow(), item_id, actor=args.actor, data=_json_arg(args.data))
    print(f"Completed {item_id} in case {instance.number}")
    _print_open_items(app, instance.id)


def cmd_instances(app, args):
    with app.uow(write=False) as uow:
        instances = uow.instances.list()
    if args.json:
        _print_json([{"id": i.id, "number": i.number, "key": i.key, "version": i.version, "office": i.office,
                      "status": i.status, "started_by": i.started_by, "started_at": i.started_at,
                      "ended_at": i.ended_at} for i in instances])
        return
    for i in instances:
        print(f"{i.id}  {i.number}  {i.key} v{i.version}  {i.status}  office={i.office}  "
              f"started {_fmt_time(i.started_at)} by {i.started_by}")


def _instance_id(app, ref):
    if ref.isdigit():
        return int(ref)
    with app.uow(write=False) as uow:
        instance_id = uow.instances.id_by_number(ref)
    if instance_id is None:
        raise NotFound(f"No case '{ref}'.")
    return instance_id


def cmd_show(app, args):
    d = services.show(app.uow(write=False), _instance_id(app, args.instance))
    i = d["instance"]
    if args.json:
        _print_json({
            "id": i.id, "number": i.number, "key": i.key, "version": i.version, "office": i.office,
            "status": i.status, "started_by": i.started_by, "started_at": i.started_at, "ended_at": i.ended_at,
            "history": [{"at": e.at, "actor": e.actor, "type": e.type, "step": e.step_id, "data": e.data}
                        for e in d["history"]],
            "work_items": _work_item_rows([w for w in d["work_items"] if w.state == "ready"]),
            "timers": [{"id": t.id, "event": t.event_id, "kind": t.kind, "due_at": t.due_at,
                        "work_item": t.work_item_id} for t in d["timers"]],
        })
        return
    print(f"Case {i.number} (id {i.id}): {i.key} v{i.version}, office {i.office}, {i.status}")
    print("History:")
    for e in d["history"]:
        step = f" {e.step_id}" if e.step_id else ""
        print(f"  {_fmt_time(e.at)}  {e.type}{step}  by {e.actor or 'system'}")
    print("Open work items:")
    for w in d["work_items"]:
        if w.state == "ready":
            print(f"  {w.id}  {w.step_name}  [{w.role}]  due {_fmt_time(w.due_at)}"
                  f"{'  OVERDUE' if w.overdue else ''}")
    print("Pending timers:")
    for t in d["timers"]:
        print(f"  {t.id}  {t.event_id} ({t.kind})  due {_fmt_time(t.due_at)}")


def _worker_round(app, postman, args) -> bool:
    """Fire due timers, then send due e-mail, up to --batch of each; True when it did any (more may wait)."""
    fired = services.fire_due_timers(app.uow, limit=args.batch)
    if fired or args.once:
        print(f"fired {fired} timer(s)", flush=True)
    sent = postman.round(limit=args.batch)  # logs its own failures: a mail server's trouble stops no timer
    if sent:
        print(f"sent {sent} e-mail(s)", flush=True)
    return bool(fired or sent)


def cmd_worker(app, args):
    """Fire timers and send e-mail until stopped; a failed round (the database away) is retried with backoff.

    A round that fired or sent anything is followed at once by the next, so a backlog is drained without pauses
    (with several workers each round's share may be less than a batch); the worker sleeps --interval only after
    a round with nothing to do.
    """
    postman = mail.Postman(app.uow, app.mailer)
    if not args.once:
        gctune.tune()
    failures = 0
    while True:
        try:
            busy = _worker_round(app, postman, args)
            failures = 0
        except Exception:
            if args.once:
                raise
            failures += 1
            wait = min(60.0, args.interval * 2 ** failures)
            logging.getLogger("alur.worker").exception("worker round failed (%d in a row); next try in %.0f s",
                                                       failures, wait)
            time.sleep(wait)
            continue
        if args.once:
            return
        if not busy:
            time.sleep(args.interval)


def build_parser():
    p = argparse.ArgumentParser(prog="alur", description="Run SOPs as BPMN processes.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or upgrade the database schema").set_defaults(func=cmd_init)

    lint = sub.add_parser("lint", help="check diagrams without deploying")
    lint.add_argument("files", nargs="+")
    lint.add_argument("--allow-non-executable", action="store_true")
    lint.add_argument("--json", action="store_true")
    lint.set_defaults(func=cmd_lint)

    deploy = sub.add_parser("deploy", help="deploy diagrams as new versions")
    deploy.add_argument("files", nargs="+")
    deploy.add_argument("--office")
    deploy.add_argument("--note")
    deploy.add_argument("--as", dest="actor")
    deploy.add_argument("--allow-non-executable", action="store_true")
    deploy.set_defaults(func=cmd_deploy)

    procs = sub.add_parser("processes", help="list deployed processes and versions")
    procs.add_argument("--json", action="store_true")
    procs.set_defaults(func=cmd_processes)

    start = sub.add_parser("start", help="start a case")
    start.add_argument("key")
    start.add_argument("--version", type=int)
    start.add_argument("--data")
    start.add_argument("--office")
    start.add_argument("--as", dest="actor", required=True)
    start.set_defaults(func=cmd_start)

    tasks = sub.add_parser("tasks", help="list ready work items")
    tasks.add_argument("--role")
    tasks.add_argument("--as", dest="actor")
    tasks.add_argument("--json", action="store_true")
    tasks.set_defaults(func=cmd_tasks)

    complete = sub.add_parser("complete", help="complete a work item")
    complete.add_argument("work_item")
    complete.add_argument("--as", dest="actor", required=True)
    complete.add_argument("--data")
    complete.set_defaults(func=cmd_complete)

    inst = sub.add_parser("instances", help="list cases")
    inst.add_argument("--json", action="store_true")
    inst.set_defaults(func=cmd_instances)

    show = sub.add_parser("show", help="show a case: history, open work, timers")
    show.add_argument("instance", help="case id or number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)

    worker = sub.add_parser("worker", help="fire due timers and send pending e-mail")
    worker.add_argument("--once", action="store_true")
    worker.add_argument("--interval", type=float, default=1.0)
    worker.add_argument("--batch", type=int, default=100)
    worker.set_defaults(func=cmd_worker)

    from adapters import cli_lanes, cli_offices, cli_users, cli_versions

    cli_users.add_parser(sub)
    cli_lanes.add_parser(sub)
    cli_offices.add_parser(sub)
    cli_versions.add_parser(sub)

    from adapters import demo
    demo.add_parser(sub)
    serve = sub.add_parser("serve", help="run the web UI (gunicorn)")
    serve.add_argument("--host", default=os.environ.get("ALUR_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("ALUR_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("ALUR_WEB_WORKERS", "2")),
                       help="web processes (default 2)")
    serve.add_argument("--threads", type=int, default=int(os.environ.get("ALUR_WEB_THREADS", "8")),
                       help="request threads per web process (default 8)")
    serve.add_argument("--with-worker", action="store_true", help="also run the timer worker as a child process")
    serve.set_defaults(func=cmd_serve)
    return p


def cmd_serve(app, args):
    from adapters import bootstrap
    from adapters.serve import serve

    bootstrap.upgrade_schema(app)
    app.engine.dispose()  # no connection may cross the fork into gunicorn's workers
    url = f"http://{args.host}:{args.port}/"
    serve(args.host, args.port, args.workers, args.with_worker, threads=args.threads,
          on_ready=lambda: print(f"Alur is running at {url}  (Ctrl-C stops it)", flush=True))


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        app = bootstrap.build()
        if args.command not in ("init", "demo", "lint", "serve"):
            _require_schema(app)
        return args.func(app, args) or 0
    except DiagramInvalid as err:
        print(f"alur: {err.message}", file=sys.stderr)
        for line in services.diagrams.problem_lines(err.problems):
            print(f"  {line}", file=sys.stderr)
        return 1
    except AlurError as err:
        print(f"alur: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`alur tasks | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as err:  # noqa: BLE001 - the CLI promise: a one-line reason, never a traceback
        log.debug("internal error", exc_info=True)
        print(f"alur: internal error: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        return 70


def _require_schema(app):
    from adapters import bootstrap

    if not bootstrap.schema_is_current(app):
        raise AlurError("The database schema is missing or older than this version of Alur; run `alur init` first.")


if __name__ == "__main__":
    sys.exit(main())
