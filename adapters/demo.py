"""`alur demo`: offices, one demo account per lane role, the seed SOPs deployed, one case walked through."""

from __future__ import annotations

import argparse
import re
import unicodedata
from pathlib import Path

from adapters.sql import Office
from engine import services
from engine.passwords import hash_password

SEED_DIR = Path(__file__).resolve().parent.parent / "bpmn"
OFFICES = [
    Office("MALUT", "Kanwil Maluku Utara", "Asia/Jayapura", "working"),
    Office("DKI", "Kanwil DKI Jakarta", "Asia/Jakarta", "working"),
    Office("BABEL", "Kanwil Kep. Bangka Belitung", "Asia/Jakarta", "working"),
    Office("BENGKULU", "Kanwil Bengkulu", "Asia/Jakarta", "working"),
]
TEMPLATE_OFFICE = "DKI"  # where the demo runs SOP templates that belong to no office
DEMO_PASSWORD = "demo12345"
WALK_KEY = "sop_003_pengaduan_masyarakat"
DEMO_MAIL_DOMAIN = "demo.alur.local"
# Accounts that draw and deploy SOPs for every office: (username, full name, roles).
MODELERS = [("analis", "Analis SOP", ("analyst",)), ("penerap", "Penerap SOP", ("analyst", "deployer"))]


def slug(text: str) -> str:
    """A login name part from a lane name: 'Kasubag PPHTI' -> 'kasubag-pphti'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "peran"


def demo_username(lane: str, office: str) -> str:
    return f"{slug(lane)}.{office.lower()}"


def demo_email(username: str) -> str:
    """A demo account's address: a reserved-looking domain no mail server delivers to."""
    return f"{username}@{DEMO_MAIL_DOMAIN}"


def seed(app, files=None) -> list[tuple[str, str, str]]:
    """Create offices and the admin, deploy the seed diagrams, and an account per lane role; return the accounts."""
    files = files or sorted(SEED_DIR.glob("*.bpmn"))
    # Every demo account has the published demo password: one scrypt hash (a sixth of a second) serves them all.
    demo_hash = hash_password(DEMO_PASSWORD)
    with app.uow() as uow:
        for office in OFFICES:
            uow.directory.add_office(office)
        if not uow.directory.exists("admin"):
            uow.directory.add_user("admin", demo_hash, "Administrator", demo_email("admin"),
                                   services.utcnow())
        uow.directory.grant("admin", "admin", None)
        for username, full_name, roles in MODELERS:
            if not uow.directory.exists(username):
                uow.directory.add_user(username, demo_hash, full_name, demo_email(username),
                                       services.utcnow())
            for role in roles:
                uow.directory.grant(username, role, None)
        uow.commit()
    results, _ = services.deploy(app.uow(), [(str(f), Path(f).read_bytes()) for f in files], actor="admin",
                                 note="seed SOPs")
    accounts = [("admin", "admin", "*"), *((username, "+".join(roles), "*") for username, _, roles in MODELERS)]
    with app.uow() as uow:
        for deployment, _created in results:
            office = deployment.office or TEMPLATE_OFFICE
            for lane in deployment.lanes:
                username = demo_username(lane, office)
                if not uow.directory.exists(username):
                    uow.directory.add_user(username, demo_hash, f"{lane} ({office})",
                                           demo_email(username), services.utcnow())
                uow.directory.grant(username, lane, office)
                accounts.append((username, lane, office))
        uow.commit()
    return accounts


def walk(app, key=WALK_KEY, out=print) -> int:
    """Run one case of `key` from start to end as the demo accounts, choosing 'Ya' at every decision."""
    with app.uow(write=False) as uow:
        deployment = uow.deployments.latest(key)
    office = deployment.office or TEMPLATE_OFFICE
    starter = demo_username(deployment.start_lanes[0], office) if deployment.start_lanes else "admin"
    instance = services.start(app.uow(), key, actor=starter, office=office)
    out(f"Case {instance.number} of '{deployment.name}' started by {starter}")
    for _ in range(200):
        items = [w for w in services.show(app.uow(write=False), instance.id)["work_items"] if w.state == "ready"]
        if not items:
            break
        for item in items:
            step = deployment.step(item.step_id)
            data = {step.decision.variable: step.decision.choices[0]} if step and step.decision else {}
            user = demo_username(item.role, office)
            services.complete(app.uow(), item.id, actor=user, data=data)
            out(f"  {item.step_name}  [{item.role}] done by {user}" + (f"  {data}" if data else ""))
    final = services.show(app.uow(write=False), instance.id)["instance"]
    out(f"Case {final.number} is {final.status}; see `alur show {final.number}`")
    return instance.id


def start_samples(app, out=print) -> None:
    """One case of each seed SOP, started by its start lane's account, so every demo inbox has work."""
    with app.uow(write=False) as uow:
        if uow.instances.list():
            return
        deployments = {d.key: d for d in uow.deployments.list()}
    for deployment in deployments.values():
        office = deployment.office or TEMPLATE_OFFICE
        starter = demo_username(deployment.start_lanes[0], office) if deployment.start_lanes else "admin"
        instance = services.start(app.uow(), deployment.key, actor=starter, office=office)
        out(f"  {instance.number}  {deployment.name}  (started by {starter})")


def cmd_demo(app, args):
    from adapters import bootstrap

    bootstrap.upgrade_schema(app)
    print(f"Database: {app.sqlite_path or app.engine.url.render_as_string(hide_password=True)}")
    accounts = seed(app)
    print(f"Deployed {len(list(SEED_DIR.glob('*.bpmn')))} seed SOPs. Demo accounts (password '{DEMO_PASSWORD}'):")
    for username, role, office in accounts:
        print(f"  {username:40s} {role} @ {office}")
    if args.walk:
        walk(app)
    if args.no_serve:
        return
    print("Sample cases:")
    start_samples(app)
    from adapters.serve import serve

    app.engine.dispose()  # no connection may cross the fork into gunicorn's workers
    url = f"http://{args.host}:{args.port}/"
    serve(args.host, args.port, args.workers, True,
          on_ready=lambda: print(f"\nAlur is running at {url} with the timer worker. Log in as one of the accounts "
                                 f"above (password '{DEMO_PASSWORD}'), e.g. admin. Ctrl-C stops it.", flush=True))


def add_parser(sub):
    demo = sub.add_parser("demo", help="offices, demo accounts, the seed SOPs and sample cases; then serve the UI")
    demo.add_argument("--walk", action="store_true", help="also walk one SOP 003 case to its end on the console")
    demo.add_argument("--no-serve", action="store_true", help="set everything up and exit")
    demo.add_argument("--no-walk", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--workers", type=int, default=2)
    demo.set_defaults(func=cmd_demo)
