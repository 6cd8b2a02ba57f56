"""Front-end packages installed from npm by the set-up command (bpmn-js), served read-only."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("vendor", __name__)

# Only what the diagram view and the modeler need leave node_modules (assets/: their css and the icon font).
ALLOWED = {
    "bpmn-js": ("dist/bpmn-navigated-viewer.production.min.js", "dist/bpmn-modeler.production.min.js", "dist/assets/"),
}


@bp.route("/vendor/<package>/<path:filename>")
def asset(package, filename):
    prefixes = ALLOWED.get(package)
    if not prefixes or ".." in Path(filename).parts or not filename.startswith(prefixes):
        abort(404)
    folder = Path(current_app.config["NODE_MODULES"]) / package
    return send_from_directory(folder, filename, max_age=86400)


def installed(app) -> bool:
    return (Path(app.config["NODE_MODULES"]) / "bpmn-js" / ALLOWED["bpmn-js"][0]).exists()
