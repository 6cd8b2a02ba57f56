"""The deployments repository: every version of every process, its files, and which one new cases start on."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

from sqlalchemy import and_, bindparam, case, func, insert, select, update

from adapters import reads
from adapters import tables as t
from engine.model import Deployment, Step


def _deployment(row) -> Deployment:
    meta = json.loads(row.meta_json)
    return Deployment(
        id=row.id, key=row.key, version=row.version, name=row.name, sha256=row.sha256, filename=row.filename,
        xml=b"", spec_json="", steps=[Step.from_dict(s) for s in json.loads(row.steps_json)],
        office=row.office, deployed_by=row.deployed_by, deployed_at=row.deployed_at, note=row.note,
        properties=meta.get("properties", {}), lanes=meta.get("lanes", []),
        start_lanes=meta.get("start_lanes", []), start_form=tuple(meta.get("start_form") or ()),
        main_path=meta.get("main_path") or [s["id"] for s in json.loads(row.steps_json)],
        retired_at=row.retired_at, retired_by=row.retired_by,
    )


_DEPLOYMENT_COLUMNS = [c for c in t.deployments.c if c.name not in ("spec_json", "xml", "files_json")]


def _file_entry(filename: str, data: bytes) -> dict:
    try:
        return {"filename": filename, "xml": data.decode("utf-8")}
    except UnicodeDecodeError:  # a diagram saved in another encoding is kept byte for byte
        return {"filename": filename, "xml_base64": base64.b64encode(data).decode("ascii")}


def _file_bytes(entry: dict) -> tuple[str, bytes]:
    if "xml_base64" in entry:
        return entry["filename"], base64.b64decode(entry["xml_base64"])
    return entry["filename"], entry["xml"].encode("utf-8")


def _names():
    c = t.deployments.c
    newest = select(c.key, func.max(c.version).label("version")).group_by(c.key).subquery()
    return (select(c.key, c.name).join(newest, and_(c.key == newest.c.key, c.version == newest.c.version))
            .order_by(c.name))


_NAMES = _names()
_NAMES_MARK = select(func.count(), func.max(t.deployments.c.id)).select_from(t.deployments)
_CURRENT = (select(t.deployments.c.key, t.deployments.c.version, t.deployments.c.id)
            .where(t.deployments.c.retired_at.is_(None)))
_CURRENT_OF_KEY = (select(t.deployments.c.id)
                   .where(t.deployments.c.key == bindparam("key"), t.deployments.c.retired_at.is_(None))
                   .order_by(t.deployments.c.version.desc()).limit(1))
# The same, with the directory's version beside it (Directory.version): starting a case reads both in one round trip.
_CURRENT_OF_KEY_AND_DIRECTORY = _CURRENT_OF_KEY.add_columns(
    select(t.counters.c.value).where(t.counters.c.name == "directory").scalar_subquery().label("directory_version"))
_NAMES_KEY = "names"  # in the per-process cache next to the deployments by id (Deployments.of_case)


class Deployments:
    def __init__(self, conn, cache: dict | None = None, names_mark: tuple[int, int | None] | None = None):
        self.conn, self._names_mark = conn, names_mark
        self._cache = cache if cache is not None else {}

    def add(self, d: Deployment, files=()) -> int:
        """Store a version; `files` are the other (filename, bytes) deployed with it, e.g. called processes."""
        meta = {"properties": d.properties, "lanes": d.lanes, "start_lanes": d.start_lanes,
                "start_form": list(d.start_form), "main_path": d.main_path}
        return self.conn.execute(insert(t.deployments).values(
            # The file's name as given (a long path from the CLI keeps its end: the column holds 300 characters).
            key=d.key, version=d.version, name=d.name, sha256=d.sha256, filename=d.filename[-300:], xml=d.xml,
            spec_json=d.spec_json, steps_json=json.dumps([s.to_dict() for s in d.steps]), meta_json=json.dumps(meta),
            office=d.office, deployed_by=d.deployed_by, deployed_at=d.deployed_at, note=d.note,
            files_json=json.dumps([_file_entry(name, data) for name, data in files]) if files else None,
        ).returning(t.deployments.c.id)).scalar_one()

    def lock(self, key) -> None:
        """Serialize deploys of one process until the transaction ends, so two never take the same version number.

        SQLite writers hold the database lock already (BEGIN IMMEDIATE); PostgreSQL takes an advisory lock per key.
        """
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"alur.deploy:{key}", 0))))

    def _one(self, *where):
        row = self.conn.execute(select(*_DEPLOYMENT_COLUMNS).where(*where)
                                .order_by(t.deployments.c.version.desc()).limit(1)).first()
        return _deployment(row) if row else None

    def get(self, deployment_id):
        return self._one(t.deployments.c.id == deployment_id)

    def of_case(self, deployment_id):
        """A version as its cases run on it: what it deployed never changes, so it is read once per process.
        (Only whether it is retired can change, which running cases do not look at; get() reads it fresh.)"""
        deployment = self._cache.get(deployment_id)
        if deployment is None:
            deployment = self.get(deployment_id)
            if deployment is not None:
                if len(self._cache) >= 1024:
                    self._cache.clear()
                self._cache[deployment_id] = deployment
        return deployment

    def xml(self, deployment_id) -> bytes:
        return self.conn.execute(select(t.deployments.c.xml).where(t.deployments.c.id == deployment_id)).scalar_one()

    def spec_json(self, deployment_id) -> str:
        return self.conn.execute(select(t.deployments.c.spec_json)
                                 .where(t.deployments.c.id == deployment_id)).scalar_one()

    def latest(self, key):
        return self._one(t.deployments.c.key == key)

    def current(self, key):
        """The version new cases start on: the newest one not retired. Which one it is is read each time; its
        content once per process (of_case)."""
        found = reads.first(self.conn, _CURRENT_OF_KEY, {"key": key})
        return self._current(found.id) if found else None

    def _current(self, deployment_id):
        deployment = self.of_case(deployment_id)
        # A cached copy may have been read while its version was retired, since restored.
        return deployment if deployment is None or deployment.retired_at is None else \
            replace(deployment, retired_at=None, retired_by=None)

    def current_with_directory_version(self, key):
        """(current(key), the directory's version now) in one statement; (None, None) when no version is current."""
        found = reads.first(self.conn, _CURRENT_OF_KEY_AND_DIRECTORY, {"key": key})
        if found is None:
            return None, None
        return self._current(found.id), found.directory_version

    def current_all(self) -> list[Deployment]:
        """The version new cases start on (the newest not retired) of every SOP, by key. Which versions are current
        is read each time (retiring and restoring change it); each version's content once per process (of_case)."""
        newest: dict[str, tuple[int, int]] = {}
        for key, version, deployment_id in reads.rows(self.conn, _CURRENT, {}):
            if key not in newest or version > newest[key][0]:
                newest[key] = (version, deployment_id)
        found = [self.of_case(deployment_id) for _, (_, deployment_id) in sorted(newest.items())]
        # A cached copy may have been read while its version was retired, since restored.
        return [d if d.retired_at is None else replace(d, retired_at=None, retired_by=None)
                for d in found if d is not None]

    def versions(self, key) -> list[Deployment]:
        rows = self.conn.execute(select(*_DEPLOYMENT_COLUMNS).where(t.deployments.c.key == key)
                                 .order_by(t.deployments.c.version.desc()))
        return [_deployment(r) for r in rows]

    def retire(self, deployment_id, by, at) -> None:
        self.conn.execute(update(t.deployments).where(t.deployments.c.id == deployment_id)
                          .values(retired_at=at, retired_by=by))

    def restore(self, deployment_id) -> None:
        self.conn.execute(update(t.deployments).where(t.deployments.c.id == deployment_id)
                          .values(retired_at=None, retired_by=None))

    def files(self, deployment_id) -> list[tuple[str, bytes]]:
        """The other files deployed with a version, as (filename, bytes)."""
        text = self.conn.execute(select(t.deployments.c.files_json)
                                 .where(t.deployments.c.id == deployment_id)).scalar()
        return [_file_bytes(entry) for entry in json.loads(text or "[]")]

    def case_counts(self, key=None) -> dict[int, tuple[int, int]]:
        """Per deployment id: (cases running or suspended, all cases)."""
        i = t.instances.c
        open_case = func.sum(case((i.status.in_(("running", "suspended")), 1), else_=0))
        query = select(i.deployment_id, open_case, func.count()).group_by(i.deployment_id)
        if key is not None:
            query = query.where(i.key == key)
        return {row[0]: (int(row[1] or 0), int(row[2])) for row in self.conn.execute(query)}

    def by_version(self, key, version):
        return self._one(t.deployments.c.key == key, t.deployments.c.version == version)

    def names(self) -> list[tuple[str, str]]:
        """(key, name of its newest version) of every deployed process, without parsing any step table.

        Every inbox page shows them. A version is only ever added (retiring one changes neither its key nor its
        name), so the list is kept per process with the number of versions and the highest id it was read at,
        and read again once either differs: one small query instead of the grouped one, as fresh as before.
        A read-only unit of work given CacheMarks (the web UI's, read with the session) takes the mark from them."""
        mark = self._names_mark or tuple(self.conn.execute(_NAMES_MARK).one())
        cached = self._cache.get(_NAMES_KEY)
        if cached is not None and cached[0] == mark:
            return list(cached[1])
        names = [(r.key, r.name) for r in self.conn.execute(_NAMES)]
        self._cache[_NAMES_KEY] = (mark, tuple(names))
        return names

    def list(self):
        rows = self.conn.execute(select(*_DEPLOYMENT_COLUMNS)
                                 .order_by(t.deployments.c.key, t.deployments.c.version))
        return [_deployment(r) for r in rows]
