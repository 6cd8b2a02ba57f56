"""Drafts: diagrams an analyst is still editing in the browser's modeler, until one is deployed as a new version."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import forms
from engine import diagrams, limits, services, xml
from engine.clock import utcnow
from engine.errors import AlurError, FormInvalid, NotFound, NotPermitted, StaleInstance
from engine.identity import may_deploy, may_model  # noqa: F401 - the web asks the same questions through here
from engine.model import Problem
from engine.sop_template import template_xml
from forms.model import REQUIRED, TOO_LONG

MAX_BYTES = 5 * 1024 * 1024
MAX_NOTE = 2000
MAX_NAME = 300


@dataclass
class Draft:
    """A diagram being edited; `row_version` moves on every save, so a stale save is caught."""

    id: int | None
    name: str
    key: str | None  # the process id of the diagram as last saved (None when it could not be read)
    based_on_key: str | None
    based_on_version: int | None
    xml: bytes
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    row_version: int = 1
    deployed_version: int | None = None

    @property
    def filename(self) -> str:
        return f"{self.key or 'rancangan'}.bpmn"

    @property
    def text(self) -> str:
        """The XML as text for the editor, in whatever encoding the file declares (the modeler saves UTF-8)."""
        try:
            return self.xml.decode("utf-8")
        except UnicodeDecodeError:
            tree, _ = xml.parse(self.xml)
            encoding = tree.docinfo.encoding if tree is not None else None
            try:
                return self.xml.decode(encoding or "utf-8", "replace")
            except LookupError:
                return self.xml.decode("utf-8", "replace")


@dataclass(frozen=True)
class Source:
    """A deployed version a draft can start from."""

    key: str
    name: str
    version: int
    retired: bool


@dataclass(frozen=True)
class Deployed:
    """What deploying a draft did: the version it became, and whether it is new (identical bytes make none)."""

    key: str
    version: int
    created: bool
    report: diagrams.LintReport


# --- permissions ----------------------------------------------------------------------------------------------------

def _require_modeler(uow, actor) -> None:
    if not may_model(uow.directory.roles_of(actor)):
        raise NotPermitted(f"'{actor}' may not edit diagrams: that needs the role analyst, deployer or admin.",
                           user=actor)


def _require_deployer(uow, actor) -> None:
    if not may_deploy(uow.directory.roles_of(actor)):
        raise NotPermitted(f"'{actor}' may not deploy diagrams: that needs the role deployer or admin.", user=actor)


def _draft(uow, draft_id) -> Draft:
    draft = uow.drafts.get(draft_id)
    if draft is None:
        raise NotFound(f"No draft {draft_id}.", draft=draft_id)
    return draft


# --- reading ----------------------------------------------------------------------------------------------------------

def list_drafts(uow, *, actor) -> list[Draft]:
    """Every draft (without its XML), the most recently saved first."""
    with uow:
        _require_modeler(uow, actor)
        return uow.drafts.list()


def get(uow, draft_id, *, actor) -> Draft:
    """One draft with its XML."""
    with uow:
        _require_modeler(uow, actor)
        return _draft(uow, draft_id)


def sources(uow, *, actor) -> list[Source]:
    """The deployed versions a new draft can start from, by process and newest version first."""
    with uow:
        _require_modeler(uow, actor)
        found = [Source(d.key, d.name, d.version, d.retired_at is not None) for d in uow.deployments.list()]
    return sorted(found, key=lambda s: (s.name.lower(), s.key, -s.version))


# --- creating ---------------------------------------------------------------------------------------------------------

def create(uow, *, actor, name, clock=utcnow) -> Draft:
    """A new SOP from the template: a pool with two lanes, one step with a one-hour standard time."""
    name = " ".join((name or "").split())
    if not name:
        raise FormInvalid("Give the new SOP a name.", fields={"name": forms.Message(REQUIRED, {})})
    if len(name) > MAX_NAME:
        raise FormInvalid(f"The name is longer than {MAX_NAME} characters.",
                          fields={"name": forms.Message(TOO_LONG, {"max": MAX_NAME})})
    with uow:
        _require_modeler(uow, actor)
        key = _free_key(uow, name)
        draft = _new(name, key, None, None, template_xml(key, name), actor, clock())
        draft.id = uow.drafts.add(draft)
        uow.commit()
    return draft


def create_from_version(uow, key, version, *, actor, clock=utcnow) -> Draft:
    """A draft holding a copy of a deployed version's diagram."""
    with uow:
        _require_modeler(uow, actor)
        deployment = uow.deployments.by_version(key, version)
        if deployment is None:
            raise NotFound(f"No deployed version {version} of '{key}'.", key=key, version=version)
        data = uow.deployments.xml(deployment.id)
        draft = _new(deployment.name, key, key, version, data, actor, clock())
        draft.id = uow.drafts.add(draft)
        uow.commit()
    return draft


def _new(name, key, based_on_key, based_on_version, data, actor, now) -> Draft:
    return Draft(id=None, name=name, key=key, based_on_key=based_on_key, based_on_version=based_on_version,
                 xml=data, created_by=actor, created_at=now, updated_by=actor, updated_at=now)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:50].rstrip("_") or "baru"


def _free_key(uow, name) -> str:
    """A process id made from the name that no deployed process and no other draft uses."""
    taken = {key for key, _ in uow.deployments.names()} | {d.key for d in uow.drafts.list() if d.key}
    base = f"sop_{_slug(name)}"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


# --- saving -----------------------------------------------------------------------------------------------------------

def save(uow, draft_id, data, row_version, *, actor, clock=utcnow) -> Draft:
    """Store the editor's XML over the draft it was loaded from; refused when someone saved in between."""
    data = data.encode("utf-8") if isinstance(data, str) else bytes(data or b"")
    _check_size(data)
    with uow:
        _require_modeler(uow, actor)
        draft = _draft(uow, draft_id)
        if draft.row_version != row_version:
            raise _stale(draft)
        draft.xml, draft.updated_by, draft.updated_at = data, actor, clock()
        draft.key = process_key(data) or draft.key
        if not uow.drafts.save(draft):
            raise _stale(_draft(uow, draft_id))
        draft.row_version += 1
        uow.commit()
    return draft


def _check_size(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise AlurError(f"The diagram is {len(data) / 1048576:.1f} MB; drafts larger than "
                        f"{MAX_BYTES // 1048576} MB are refused. Nothing was saved.")
    if not data.strip():
        raise AlurError("The diagram is empty; nothing was saved.")


def _stale(current: Draft) -> StaleInstance:
    when = current.updated_at.strftime("%Y-%m-%d %H:%M UTC") if current.updated_at else "?"
    return StaleInstance(f"{current.updated_by} saved this draft at {when}, after you opened it, so your changes "
                         "were not saved. Download your diagram to keep it, then reload the page to see theirs.",
                         draft=current.id)


def process_key(data: bytes) -> str | None:
    """The id of the diagram's first process, read with the hardened parser (None when it cannot be read)."""
    tree, problem = xml.parse(data)
    if problem or tree.getroot().tag != xml.bpmn("definitions"):
        return None
    proc = tree.getroot().find(xml.bpmn("process"))
    key = proc.get("id") if proc is not None else None
    # An id longer than the column is the draft's problem to report on check, not a reason to refuse the save.
    return key if key and len(key) <= limits.MAX_ID else None


def delete(uow, draft_id, *, actor) -> None:
    """Throw a draft away (a deployed version it became stays)."""
    with uow:
        _require_modeler(uow, actor)
        _draft(uow, draft_id)
        uow.drafts.delete(draft_id)
        uow.commit()


# --- checking and deploying -------------------------------------------------------------------------------------------

def check(uow, draft_id, *, actor, data=None) -> diagrams.LintReport:
    """Lint the draft as stored, or `data` (what the editor holds now) without storing it."""
    with uow:
        _require_modeler(uow, actor)
        draft = _draft(uow, draft_id)
        newer = _newer_version(uow, draft)
    # services.check opens the unit of work again, for the directory's warnings.
    if data is not None:
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    data = draft.xml if data is None else data
    if len(data) > MAX_BYTES:
        report = diagrams.LintReport()
        report.problems.append(Problem(draft.filename, None, None, f"the diagram is {len(data) / 1048576:.1f} MB; "
                                       f"drafts larger than {MAX_BYTES // 1048576} MB are refused"))
        return report
    report = services.check(uow, [(draft.filename, data)])
    if newer:
        report.problems.append(Problem(
            draft.filename, None, None, f"this draft starts from version {draft.based_on_version} of "
            f"'{draft.based_on_key}', but version {newer} was deployed since; deploying the draft replaces "
            f"what changed in version {newer}", "warning"))
    return report


def _newer_version(uow, draft) -> int | None:
    if not draft.based_on_key or not draft.based_on_version:
        return None
    latest = uow.deployments.latest(draft.based_on_key)
    return latest.version if latest and latest.version > draft.based_on_version else None


def deploy(uow_factory, draft_id, *, actor, note, row_version=None, clock=utcnow) -> Deployed:
    """Deploy the draft as stored as the next version of its process, with a change note saying what changed."""
    note = (note or "").strip()
    if not note:
        raise FormInvalid("Say what changed in a change note; nothing was deployed.",
                          fields={"note": forms.Message(REQUIRED, {})})
    if len(note) > MAX_NOTE:
        raise FormInvalid(f"The change note is longer than {MAX_NOTE} characters; nothing was deployed.",
                          fields={"note": forms.Message(TOO_LONG, {"max": MAX_NOTE})})
    with uow_factory(write=False) as uow:
        _require_deployer(uow, actor)
        draft = _draft(uow, draft_id)
    if row_version is not None and draft.row_version != row_version:
        raise _stale(draft)
    results, report = services.deploy(uow_factory(), [(draft.filename, draft.xml)], actor=actor, note=note,
                                      clock=clock)
    if not results:
        raise AlurError("The draft holds no process that can be deployed; nothing was deployed.", draft=draft.id)
    deployment, created = results[0]
    with uow_factory() as uow:
        uow.drafts.mark_deployed(draft.id, deployment.version)
        uow.commit()
    return Deployed(deployment.key, deployment.version, created, report)
