"""The drafts repository: diagrams being edited in the modeler, saved with optimistic locking."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from adapters import tables as t
from engine.drafts import Draft

_LIST_COLUMNS = [c for c in t.drafts.c if c.name != "xml"]


def _draft(row, xml=b"") -> Draft:
    return Draft(**{f: getattr(row, f) for f in Draft.__dataclass_fields__ if f != "xml"}, xml=xml)


class Drafts:
    def __init__(self, conn):
        self.conn = conn

    def add(self, d: Draft) -> int:
        return self.conn.execute(insert(t.drafts).values(
            name=d.name, key=d.key, based_on_key=d.based_on_key, based_on_version=d.based_on_version, xml=d.xml,
            created_by=d.created_by, created_at=d.created_at, updated_by=d.updated_by, updated_at=d.updated_at,
            row_version=d.row_version, deployed_version=d.deployed_version,
        ).returning(t.drafts.c.id)).scalar_one()

    def get(self, draft_id) -> Draft | None:
        row = self.conn.execute(select(t.drafts).where(t.drafts.c.id == draft_id)).first()
        return _draft(row, bytes(row.xml)) if row else None

    def list(self) -> list[Draft]:
        """Every draft without its XML, the most recently saved first."""
        rows = self.conn.execute(select(*_LIST_COLUMNS).order_by(t.drafts.c.updated_at.desc(), t.drafts.c.id.desc()))
        return [_draft(r) for r in rows]

    def save(self, d: Draft) -> bool:
        """Write the draft over the row it was read as; False when the row moved on meanwhile."""
        result = self.conn.execute(
            update(t.drafts).where(t.drafts.c.id == d.id, t.drafts.c.row_version == d.row_version)
            .values(name=d.name, key=d.key, xml=d.xml, updated_by=d.updated_by, updated_at=d.updated_at,
                    row_version=d.row_version + 1))
        return result.rowcount == 1

    def mark_deployed(self, draft_id, version: int) -> None:
        self.conn.execute(update(t.drafts).where(t.drafts.c.id == draft_id).values(deployed_version=version))

    def delete(self, draft_id) -> None:
        self.conn.execute(delete(t.drafts).where(t.drafts.c.id == draft_id))
