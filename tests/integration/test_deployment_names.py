"""The SOP names every inbox page shows are kept per process: a version deployed by another process, or by this
one, shows at once; retiring a version changes nothing; the list is always what the database holds."""

from __future__ import annotations

from sqlalchemy import text

from engine import services, versions
from tests.conftest import add_user, fixture_file, make_app


def names(app) -> list[tuple[str, str]]:
    with app.uow(write=False) as uow:
        return uow.deployments.names()


def fresh_names(app) -> list[tuple[str, str]]:
    """Read without any process cache: (key, name of the newest version), by name."""
    with app.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.key, d.name FROM deployments d WHERE d.version = "
            "(SELECT max(version) FROM deployments e WHERE e.key = d.key) ORDER BY d.name"))
        return [tuple(row) for row in rows]


def test_names_follow_deployments_of_any_process(app, tmp_path):
    add_user(app, "penerap", ("deployer", None))
    other = make_app(str(app.engine.url.render_as_string(hide_password=False)), tmp_path / "other")  # 2nd process
    try:
        assert names(app) == names(other) == []
        loop_name, loop = fixture_file("decision_loop.bpmn")
        services.deploy(other.uow(), [(loop_name, loop)], actor="penerap", office="T")
        assert names(app) == [("review_loop", "Review loop")]
        assert names(app) == [("review_loop", "Review loop")]  # from the cache now, the same

        # A new version with a new name, deployed by the other process: its name replaces the old one.
        services.deploy(other.uow(), [(loop_name, loop.replace(b'name="Review loop"', b'name="Zulu loop"'))],
                        actor="penerap", office="T")
        assert names(app) == [("review_loop", "Zulu loop")] == fresh_names(app)

        # A second SOP, deployed by this process, sorts by name.
        parallel_name, parallel = fixture_file("parallel_review.bpmn")
        services.deploy(app.uow(), [(parallel_name, parallel)], actor="penerap", office="T")
        expected = [("parallel_review", "Pemeriksaan paralel"), ("review_loop", "Zulu loop")]
        assert names(app) == names(other) == fresh_names(app) == expected

        # Retiring a version leaves the names as they are (the inbox filters by every deployed SOP).
        versions.retire(other.uow(), "review_loop", 2, actor="penerap")
        assert names(app) == names(other) == fresh_names(app) == expected

        # What a caller does with the list does not change the next one.
        names(app).clear()
        assert names(app) == expected
    finally:
        other.engine.dispose()
