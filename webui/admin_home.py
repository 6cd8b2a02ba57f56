"""The admin area's front page, linking to what the user may do; it gathers the area's page modules."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from webui import (
    admin_cases,
    admin_deploy,
    admin_lanes,
    admin_migration,
    admin_offices,
    admin_processes,
    admin_users,
)
from webui.admin_access import (
    allowed,
    bp,
    is_global_admin,
    is_office_admin,
    may_model,
    may_open_area,
)

# Each module adds its routes to the one `admin` blueprint; registering it brings all of them.
PAGES = (admin_cases, admin_deploy, admin_lanes, admin_migration, admin_offices, admin_processes, admin_users)


@bp.route("/kelola")
@allowed(may_open_area)
def index():
    roles = current_user.roles
    return render_template("admin/index.html", may_model=may_model(roles), case_admin=is_office_admin(roles),
                           global_admin=is_global_admin(roles))


def init_app(app) -> None:
    admin_deploy.init_app(app)
