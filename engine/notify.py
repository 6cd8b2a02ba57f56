"""Notifications: which messages a change produces, written to the outbox in the change's own transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.model import Contact, Instance, OutboxMessage, WorkItem

DEFAULT_TIMEZONE = "Asia/Jakarta"
# The abbreviations the web UI shows (webui/i18n.py); the engine does not import the web layer.
ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")
SUPERVISOR_FALLBACK = "admin"
TASK_POINTER = "Buka tugas melalui tautan berikut:"  # the sender puts the link on the next line
CASE_POINTER = "Buka kasus melalui tautan berikut:"
OPT_OUT = "Tidak ingin menerima e-mail dari Alur? Minta administrator mematikannya."


def steps_ready(uow, instance, items, now) -> None:
    """New work items became ready (to the holders of each item's role in the case's office)."""
    items_for: dict[str, list[WorkItem]] = {}
    holders, known = uow.directory.holders_and_contacts([i.role for i in items if i.role], instance.office)
    for item in items:
        for username in holders.get(item.role, []) if item.role else []:
            items_for.setdefault(username, []).append(item)
    contacts = [known[name] for name in sorted(items_for) if name in known]
    if not contacts:
        return
    case = _Case.of(uow, instance)
    for contact in contacts:
        mine = items_for[contact.username]  # every item ready for one person in this change: one message
        subject, intro, details, pointer, link = (_ready_text_many(case, mine) if len(mine) > 1
                                                  else _ready_text_one(case, mine[0]))
        roles = ", ".join(sorted({f'"{item.role}"' for item in mine}))
        reason = f"Anda menerima e-mail ini karena memegang peran {roles} di {case.office}."
        digest = hashlib.sha256("|".join(sorted(item.id for item in mine)).encode()).hexdigest()[:32]
        _queue(uow, "step_ready", contact, case, subject, _body(contact, intro, details, reason, pointer), link,
               f"step_ready:{digest}:{contact.username}", now)


def sla_breached(uow, instance, item, step, now) -> None:
    """A step overran its standard time (to its claimer or the role's holders, and the supervisor role)."""
    case = _Case.of(uow, instance)
    reasons: dict[str, tuple[str, str]] = {}  # username -> (why they hear of it, the link they get)
    if item.claimed_by:
        reasons[item.claimed_by] = ("Anda menerima e-mail ini karena Anda mengambil langkah ini.", f"/tugas/{item.id}")
    elif item.role:
        why = f'Anda menerima e-mail ini karena memegang peran "{item.role}" di {case.office}.'
        reasons.update((name, (why, f"/tugas/{item.id}")) for name in uow.directory.holders(item.role, instance.office))
    supervisor = supervisor_role(case.properties, item.lane)
    why = f'Anda menerima e-mail ini sebagai penyelia (peran "{supervisor}" di {case.office}).'
    for name in uow.directory.holders(supervisor, instance.office):
        reasons.setdefault(name, (why, f"/kasus/{instance.id}"))
    handler = f"diambil oleh {item.claimed_by}" if item.claimed_by else f'belum diambil (peran "{item.role}")'
    details = [*_item_lines(case, item), f"Penanganan  : {handler}", *_case_lines(case)]
    subject = f"[Alur] Lewat batas waktu: {item.step_name} ({instance.number})"
    intro = "Langkah berikut telah melewati batas waktunya dan belum selesai."
    for contact in uow.directory.contacts(reasons):
        why, link = reasons[contact.username]
        pointer = TASK_POINTER if link.startswith("/tugas") else CASE_POINTER
        _queue(uow, "sla_breached", contact, case, subject, _body(contact, intro, details, why, pointer), link,
               f"sla_breached:{item.id}:{contact.username}", now)


def case_completed(uow, instance, now) -> None:
    """A case reached its end (to whoever started it)."""
    contacts = uow.directory.contacts([instance.started_by]) if instance.started_by else []
    if not contacts:
        return
    case = _Case.of(uow, instance)
    details = [*_case_lines(case), f"Dimulai     : {local_time(instance.started_at, case.timezone)}",
               f"Selesai     : {local_time(instance.ended_at or now, case.timezone)}"]
    subject = f"[Alur] Kasus selesai: {instance.number} ({case.sop})"
    body = _body(contacts[0], "Kasus yang Anda mulai telah selesai diproses.", details,
                 "Anda menerima e-mail ini karena Anda memulai kasus ini.", CASE_POINTER)
    _queue(uow, "case_completed", contacts[0], case, subject, body, f"/kasus/{instance.id}",
           f"case_completed:{instance.id}:{contacts[0].username}", now)


def supervisor_role(properties: dict, lane: str | None) -> str:
    """Who hears of a step's SLA breach: `supervisor_<lane>`, else `supervisor` (process properties), else admin."""
    chosen = properties.get(f"supervisor_{lane}") if lane else None
    return (chosen or properties.get("supervisor") or SUPERVISOR_FALLBACK).strip() or SUPERVISOR_FALLBACK


def local_time(moment: datetime | None, timezone: str = DEFAULT_TIMEZONE) -> str:
    """A moment in Indonesian, in the office's local time: 'Senin, 2 Maret 2026 pukul 14.05 WIB'."""
    if moment is None:
        return "tidak ditentukan"
    local = moment.astimezone(ZoneInfo(timezone))
    zone = ZONE_NAMES.get(timezone) or local.strftime("%Z")
    return (f"{DAYS[local.weekday()]}, {local.day} {MONTHS[local.month - 1]} {local.year} "
            f"pukul {local:%H.%M} {zone}")


@dataclass(frozen=True)
class _Case:
    """What every message says about its case."""

    instance: Instance
    sop: str
    office: str
    timezone: str
    properties: dict

    @classmethod
    def of(cls, uow, instance) -> _Case:
        deployment = uow.deployments.of_case(instance.deployment_id)
        office = uow.directory.office(instance.office) if instance.office else None
        return cls(instance, deployment.name if deployment else instance.key,
                   office.name if office else (instance.office or "-"),
                   office.timezone if office else DEFAULT_TIMEZONE,
                   deployment.properties if deployment else {})


def _case_lines(case) -> list[str]:
    return [f"SOP         : {case.sop}", f"Nomor kasus : {case.instance.number}", f"Kantor      : {case.office}"]


def _item_lines(case, item) -> list[str]:
    due = [f"Batas waktu : {local_time(item.due_at, case.timezone)}"] if item.due_at else []
    return [f"Langkah     : {_one_line(item.step_name)}", *due]


def _ready_text_one(case, item):
    subject = f"[Alur] Tugas baru: {item.step_name} ({case.instance.number})"
    details = [*_item_lines(case, item), *_case_lines(case)]
    return subject, "Ada tugas baru untuk Anda di Alur.", details, TASK_POINTER, f"/tugas/{item.id}"


def _ready_text_many(case, items):
    subject = f"[Alur] {len(items)} tugas baru: {case.instance.number} ({case.sop})"
    intro = f"Ada {len(items)} tugas baru untuk Anda pada kasus {case.instance.number}:"
    listed = [f"- {_one_line(item.step_name)}" + (f" (batas waktu {local_time(item.due_at, case.timezone)})"
                                                   if item.due_at else "") for item in items]
    return subject, intro, [*listed, "", *_case_lines(case)], "Buka daftar Tugas Saya melalui tautan berikut:", "/tugas"


def _one_line(text: str) -> str:
    return " ".join(text.split())  # step names may hold the line breaks of a diagram's label


def _body(contact: Contact, intro: str, details: list[str], reason: str, pointer: str) -> str:
    """Plain text; the sender puts the link, made absolute, on the line after it."""
    return "\n".join([f"Yth. {contact.name},", "", intro, "", *details, "", reason, OPT_OUT, "", pointer])


def _queue(uow, kind, contact, case, subject, body, link, dedupe_key, now) -> None:
    subject = _one_line(subject)[:300]  # a header may hold no line break
    uow.outbox.queue(OutboxMessage(kind=kind, recipient=contact.username, address=contact.email, subject=subject,
                                   body=body, link=link, dedupe_key=dedupe_key, created_at=now,
                                   instance_id=case.instance.id, next_attempt_at=now))
