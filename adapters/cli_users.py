"""`alur users …`: accounts, passwords and role grants, through the engine's identity use cases."""

from __future__ import annotations

import sys

from engine import identity
from engine.errors import AlurError, NotFound


def _actor(args):
    # Without --as the command acts as the server's operator, who holds the database anyway.
    return args.actor or identity.OPERATOR


def _password(args) -> str:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        raise AlurError("give --password or --password-stdin")
    return password


def _where(office) -> str:
    return office or "every office"


def cmd_add(app, args):
    identity.create_user(app.uow(), actor=_actor(args), username=args.username, full_name=args.name or args.username,
                         email=args.email, password=_password(args))
    print(f"added user {args.username}")


def cmd_list(app, args):
    for user in identity.users(app.uow(write=False), actor=_actor(args)):
        grants = ", ".join(f"{role}@{office or '*'}" for office, role in user.grants)
        mailing = f"{user.email} (e-mail {'on' if user.notifications else 'off'})" if user.email else "-"
        print(f"{user.username}  {user.full_name}  {'active' if user.active else 'inactive'}  {mailing}  {grants}")


def cmd_grant(app, args):
    new = identity.grant(app.uow(), args.username, args.role, args.office, actor=_actor(args))
    print(f"granted '{args.role}' in {_where(args.office)} to {args.username}" if new
          else f"{args.username} already holds '{args.role}' in {_where(args.office)}")


def cmd_revoke(app, args):
    gone = identity.revoke(app.uow(), args.username, args.role, args.office, actor=_actor(args))
    print(f"revoked '{args.role}' in {_where(args.office)} from {args.username}" if gone
          else f"{args.username} does not hold '{args.role}' in {_where(args.office)}")


def cmd_active(app, args):
    active = args.users_cmd == "activate"
    identity.set_active(app.uow(), args.username, active, actor=_actor(args))
    print(f"{args.username} is {'active' if active else 'deactivated: no roles, no login, claimed steps released'}")


def cmd_reset_password(app, args):
    identity.reset_password(app.uow(), args.username, _password(args), actor=_actor(args))
    print(f"password of {args.username} reset; their open sessions have ended")


def cmd_notify(app, args):
    with app.uow() as uow:
        if not uow.directory.exists(args.username):
            raise NotFound(f"No user '{args.username}'.")
        uow.directory.set_notifications(args.username, args.state == "on")
        uow.commit()
    print(f"e-mail notifications {args.state} for {args.username}")


def _with_password(parser):
    parser.add_argument("--password")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")


def _command(usub, name, func, text, *, as_user=True):
    parser = usub.add_parser(name, help=text)
    if as_user:
        parser.add_argument("--as", dest="actor", help="act as this user, whose rights are checked (default: the "
                                                       "server's operator)")
    parser.set_defaults(func=func)
    return parser


def add_parser(sub):
    users = sub.add_parser("users", help="manage users and roles")
    usub = users.add_subparsers(dest="users_cmd", required=True)
    add = _command(usub, "add", cmd_add, f"add a user (password: at least {identity.MIN_PASSWORD} characters)")
    add.add_argument("username")
    _with_password(add)
    add.add_argument("--name")
    add.add_argument("--email", help="where notifications go (none: the user gets no e-mail)")
    _command(usub, "list", cmd_list, "users, their e-mail and grants")
    for name, func, text in (("grant", cmd_grant, "give a role in an office (no --office: every office)"),
                             ("revoke", cmd_revoke, "take a role back (no --office: the every-office grant)")):
        parser = _command(usub, name, func, text)
        parser.add_argument("username")
        parser.add_argument("role")
        parser.add_argument("--office")
    for name, text in (("deactivate", "lock an account out at once (its grants are kept)"),
                       ("activate", "let a deactivated account back in")):
        _command(usub, name, cmd_active, text).add_argument("username")
    reset = _command(usub, "reset-password", cmd_reset_password, "set a new password, ending the user's sessions")
    reset.add_argument("username")
    _with_password(reset)
    notify = _command(usub, "notify", cmd_notify, "turn a user's e-mail notifications on or off", as_user=False)
    notify.add_argument("username")
    notify.add_argument("state", choices=["on", "off"])
