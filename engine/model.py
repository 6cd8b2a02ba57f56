"""Plain data the engine works with; persistence maps these to rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Problem:
    """One lint finding: where it is and a plain sentence saying what is wrong."""

    file: str
    line: int | None
    element: str | None
    message: str
    severity: str = "error"  # "error" refuses the deployment, "warning" does not

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        element = f" [{self.element}]" if self.element else ""
        return f"{where}:{element} {self.severity}: {self.message}"


@dataclass(frozen=True)
class Decision:
    """The choice a step records for the exclusive gateway that follows it."""

    gateway_id: str
    variable: str
    choices: tuple[str, ...]
    labels: tuple[str, ...] = ()  # the names of the gateway's outgoing flows, as the form shows them

    def as_dict(self) -> dict:
        return {"gateway_id": self.gateway_id, "variable": self.variable, "choices": list(self.choices),
                "labels": list(self.labels or self.choices)}


@dataclass(frozen=True)
class Step:
    """A human task of a deployed diagram, with its SOP metadata."""

    id: str
    name: str
    lane_id: str | None
    lane: str | None
    documentation: str = ""
    sla: str | None = None
    kelengkapan: str | None = None
    output: str | None = None
    keterangan: str | None = None
    decision: Decision | None = None
    form: tuple = ()

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("id", "name", "lane_id", "lane", "documentation", "sla",
                                           "kelengkapan", "output", "keterangan")}
        d["decision"] = self.decision.as_dict() if self.decision else None
        d["form"] = list(self.form)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        dec = d.get("decision")
        return cls(
            **{k: d.get(k) for k in ("id", "name", "lane_id", "lane", "sla", "kelengkapan", "output", "keterangan")},
            documentation=d.get("documentation") or "",
            decision=Decision(dec["gateway_id"], dec["variable"], tuple(dec["choices"]),
                              tuple(dec.get("labels") or dec["choices"])) if dec else None,
            form=tuple(d.get("form") or ()),
        )


@dataclass
class ProcessInfo:
    """What lint learned about one process of a diagram."""

    key: str
    name: str
    executable: bool
    documentation: str = ""
    properties: dict = field(default_factory=dict)
    lanes: list[tuple[str, str]] = field(default_factory=list)  # (lane id, lane name) in document order
    steps: list[Step] = field(default_factory=list)
    start_lanes: list[str] = field(default_factory=list)
    start_form: tuple = ()  # camunda:formData of the start event
    main_path: list[str] = field(default_factory=list)  # step ids, in order


@dataclass
class Deployment:
    id: int | None
    key: str
    version: int
    name: str
    sha256: str
    filename: str
    xml: bytes
    spec_json: str
    steps: list[Step]
    office: str | None
    deployed_by: str | None
    deployed_at: datetime | None
    note: str | None = None
    properties: dict = field(default_factory=dict)
    lanes: list[str] = field(default_factory=list)
    start_lanes: list[str] = field(default_factory=list)  # whoever holds one of these roles may start a case
    start_form: tuple = ()
    main_path: list[str] = field(default_factory=list)
    retired_at: datetime | None = None  # set: no new cases start on this version; running cases finish on it
    retired_by: str | None = None

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@dataclass
class Instance:
    id: int | None
    deployment_id: int
    key: str
    version: int
    office: str | None
    number: str
    status: str  # running | completed | cancelled | suspended
    state: str
    serializer_version: str
    row_version: int
    started_by: str | None
    started_at: datetime
    ended_at: datetime | None = None


@dataclass
class WorkItem:
    id: str  # SpiffWorkflow task id
    instance_id: int
    process_key: str  # its case's SOP (instances.key, fixed for the case's life): the inbox filters on it
    step_id: str
    step_name: str
    lane: str | None
    role: str | None
    office: str | None
    state: str  # ready | completed | cancelled
    ready_at: datetime
    due_at: datetime | None = None
    overdue: bool = False
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    suspended: bool = False  # its case is suspended: the item waits in no inbox (Camunda's task suspension state)


@dataclass(frozen=True)
class InboxEntry:
    """A row of the inbox: a ready work item with what the list shows of its case."""

    item: WorkItem
    key: str
    number: str
    process_name: str
    timezone: str


@dataclass
class Timer:
    id: str  # SpiffWorkflow task id of the waiting timer event
    instance_id: int
    event_id: str  # BPMN id of the timer event
    work_item_id: str | None  # the step it watches, when it is a boundary timer on a human task
    kind: str  # sla | timer
    due_at: datetime
    state: str = "waiting"  # waiting | fired | cancelled


@dataclass
class AuditEvent:
    instance_id: int | None
    at: datetime
    actor: str | None
    type: str
    step_id: str | None = None
    data: dict = field(default_factory=dict)
    id: int | None = None


@dataclass
class Attachment:
    id: str
    instance_id: int
    work_item_id: str | None
    field: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class IncomingFile:
    """A file submitted with a form: what validation looks at (`upload`, a forms.Upload) and its bytes."""

    upload: object
    stream: object


@dataclass(frozen=True)
class Contact:
    """Where to reach a user by e-mail (only users who have an address and want notifications)."""

    username: str
    name: str
    email: str


@dataclass
class OutboxMessage:
    """An e-mail waiting in the outbox, written in the same transaction as the change it reports."""

    kind: str  # step_ready | sla_breached | case_completed
    recipient: str
    address: str
    subject: str
    body: str
    link: str  # a path of the web UI; the sender prefixes the public base URL
    dedupe_key: str  # the same event never queues the same message twice
    created_at: datetime
    instance_id: int | None = None
    id: int | None = None
    state: str = "pending"  # pending | sending (claimed under a lease) | sent | failed
    attempts: int = 0
    next_attempt_at: datetime | None = None  # while sending: when the claim's lease runs out
    last_error: str | None = None
    sent_at: datetime | None = None
