"""The five seed diagrams carry DOMAIN.md §4's reading, and SpiffWorkflow 3.2.0 runs them end to end."""

import re

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.expressions import SafeScriptEngine
from tests.diagrams.helpers import BPMN_DIR, NS, parse

# Transcribed from /work/shared/DOMAIN.md §4: lanes in column order; per step
# (no, lane, ISO duration or None, kelengkapan or None, output or None); decisions (after step, Ya -> step,
# Tidak -> step); start/end lanes; main-path total as (working days, minutes).
SOPS = {
    "sop_000_layanan_publik": {
        "lanes": ["Klien", "Duta Layanan", "Kasubag/Kasubid"],
        "start": "Klien", "end": "Klien", "kantor": "MALUT", "zona_waktu": "Asia/Jayapura",
        "steps": [
            ("1", "Klien", "PT5M", "Kartu Tanda Penduduk", "Buku Tamu"),
            ("2", "Duta Layanan", "PT5M", "Dokumen Pendukung Layanan", "Informasi jenis layanan yang dibutuhkan"),
            ("3", "Duta Layanan", "PT5M", "Dokumen Pendukung Layanan", "Petugas layanan sesuai layanan"),
            ("4", "Duta Layanan", "PT5M", "Informasi", "Laporan Pelaksanaan Pelayanan Publik"),
            ("5", "Kasubag/Kasubid", "PT5M", "Dokumentasi", "Laporan Pelaksanaan Pelayanan Publik terkait TI"),
            ("6", "Klien", "PT5M", "Dokumentasi", "Indeks Kepuasan Masyarakat"),
        ],
        "decisions": [],
        "totals": {(): (0, 30)},
    },
    "sop_001_standar_pelayanan": {
        "lanes": ["Ka Kanwil", "Kadiv Administrasi", "Kabag Program dan Humas", "Kasubbag Program dan Pelaporan",
                  "Pelaksana"],
        "start": "Ka Kanwil", "end": "Ka Kanwil", "kantor": "", "zona_waktu": "Asia/Jakarta",
        "steps": [
            ("1", "Ka Kanwil", None, None, "Disposisi"),
            ("2", "Kadiv Administrasi", "PT15M", "Disposisi", "Disposisi"),
            ("3", "Kabag Program dan Humas", "PT15M", "Disposisi", "Disposisi"),
            ("4", "Kasubbag Program dan Pelaporan", "PT3H", "Disposisi", "Rencana kegiatan dan arahan"),
            ("5", "Pelaksana", "P3D", "Rencana kegiatan dan arahan", "Draft SP/MP"),
            ("6", "Kasubbag Program dan Pelaporan", "PT3H", "Draft SP/MP", "Rencana kegiatan & draft SP/MP"),
            ("7", "Pelaksana", "P1D", "Rencana kegiatan & draft SP/MP", "Bahan dan draft SP/MP"),
            ("8", "Kasubbag Program dan Pelaporan", "P1D", "Bahan dan draft SP/MP", "Konsep laporan & draft SP/MP"),
            ("9", "Kabag Program dan Humas", "PT30M", "Konsep laporan & draft SP/MP", "Konsep laporan & draft SP/MP"),
            ("10", "Kadiv Administrasi", "PT30M", "Konsep laporan & draft SP/MP", "Laporan & draft SP/MP"),
            ("11", "Ka Kanwil", "PT30M", "Laporan & draft SP/MP", "SP/MP kantor wilayah"),
        ],
        "decisions": [("6", "7", "5"), ("9", "10", "8"), ("10", "11", "9")],
        "totals": {(): (5, 8 * 60)},
    },
    "sop_002_kelompok_rentan": {
        "lanes": ["Pemohon", "Petugas Pengamanan", "Duta Pelayanan", "Petugas Pelayanan", "Manajer On Duty"],
        "start": "Pemohon", "end": "Manajer On Duty", "kantor": "DKI", "zona_waktu": "Asia/Jakarta",
        "steps": [
            ("1", "Pemohon", "PT3M", "Dropzone, petunjuk arah", "Pelayanan kepada kelompok rentan"),
            ("2", "Petugas Pengamanan", "PT3M", "Petunjuk arah, sarana prasarana", "Sarana dan antrian khusus"),
            ("3", "Duta Pelayanan", "PT3M", "Sarana, komputer, aplikasi antrian, printer",
             "Informasi prosedur, nomor antrian, registrasi"),
            ("4", "Petugas Pelayanan", "PT10M", "Sarana, komputer, form survei",
             "Layanan diberikan; penilaian masyarakat"),
            ("5", "Petugas Pengamanan", "PT3M", "Dropzone, petunjuk arah", "Pelayanan kepada kelompok rentan"),
            ("6", "Duta Pelayanan", "PT3M", "Laporan pelayanan", "Laporan pelayanan"),
        ],
        "decisions": [],
        "totals": {(): (0, 25)},
    },
    "sop_003_pengaduan_masyarakat": {
        "lanes": ["Divisi Terkait", "Kakanwil", "Kadiv", "Kabag P2", "Kasubag PPHTI", "Pelapor"],
        "start": "Pelapor", "end": "Pelapor", "kantor": "BABEL", "zona_waktu": "Asia/Jakarta",
        "steps": [
            ("1", "Pelapor", "PT30M", "Surat", "Mengetahui permasalahan"),
            ("2", "Kakanwil", "PT10M", "Disposisi", "Disposisi/instruksi"),
            ("3", "Kadiv", "PT15M", "Disposisi", "Laporan"),
            ("4", "Kabag P2", "PT15M", "Disposisi", "Laporan"),
            ("5", "Kasubag PPHTI", "PT60M", "Berkas laporan", "Hasil telaahan"),
            ("6", "Kasubag PPHTI", "PT25M", "Draft nota dinas", "Nota dinas"),
            ("7", "Kasubag PPHTI", "PT25M", "Draft nota dinas", "Nota dinas"),
            ("8", "Kabag P2", "PT20M", "Nota dinas", "Nota dinas"),
            ("9", "Kadiv", "PT15M", "Nota dinas", "Nota dinas"),
            ("10", "Divisi Terkait", "PT20M", "Laporan/press release", "Laporan/press release"),
            ("11", "Kakanwil", "PT10M", "Laporan/press release", "Laporan/press release"),
            ("12", "Kadiv", "PT10M", "Laporan/press release", "Laporan/press release"),
            ("13", "Kabag P2", "PT15M", "Laporan/press release", "Laporan/press release"),
            ("14", "Kasubag PPHTI", "PT20M", "Laporan/press release", "Laporan/press release"),
        ],
        "decisions": [],
        "totals": {(): (0, 290)},
    },
    "sop_004_yankomas": {
        "lanes": ["Masyarakat", "Tim Yankomas", "Kakanwil", "Kadiv Yankum", "Kabid HAM", "Kasubbid Pemajuan HAM",
                  "Institusi Terkait"],
        "start": "Masyarakat", "end": "Masyarakat", "kantor": "BENGKULU", "zona_waktu": "Asia/Jakarta",
        "steps": [
            ("1", "Masyarakat", "PT15M", None, None),
            ("2", "Tim Yankomas", "PT15M", "Surat Pengaduan", None),
            ("3", "Tim Yankomas", "PT15M", "Surat Pengaduan", "Disposisi"),
            ("4a", "Kakanwil", None, "Surat Pengaduan", "Disposisi"),
            ("4b", "Kadiv Yankum", None, "Surat Pengaduan", "Disposisi"),
            ("4c", "Kabid HAM", None, "Surat Pengaduan", "Disposisi"),
            ("4d", "Kasubbid Pemajuan HAM", "P2D", "Surat Pengaduan", None),
            ("5", "Kasubbid Pemajuan HAM", "P3D", "Surat Pengaduan", "Disposisi dan usulan audiensi"),
            ("6", "Kasubbid Pemajuan HAM", "P2D", "Surat Rekomendasi", "Disposisi dan usulan audiensi"),
            ("7", "Tim Yankomas", "P22D", "Surat Rekomendasi", "Hasil Evaluasi"),
        ],
        "decisions": [("4d", "5", "6")],
        # with the audience (Ya at the decision) and without it (Tidak)
        "totals": {(): (29, 45), (("Keputusan_4d", "Tidak"),): (26, 45)},
    },
}

HEADER_PROPERTIES = ["nomor", "tanggal_pembuatan", "tanggal_efektif", "disahkan_oleh", "dasar_hukum",
                     "peringatan", "kantor", "kantor_nama", "zona_waktu"]
KNOWN_HEADER_PROPERTIES = set(HEADER_PROPERTIES) | {
    "tanggal_revisi", "kualifikasi_pelaksana", "keterkaitan", "peralatan", "pencatatan"}

ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


class Diagram:
    """Read-only view of one seed file, with the lookups the assertions need."""

    def __init__(self, key):
        self.key = key
        self.tree = parse(BPMN_DIR / f"{key}.bpmn")
        self.root = self.tree.getroot()
        (self.process,) = self.root.findall("bpmn:process", NS)
        self.by_id = {el.get("id"): el for el in self.process.iter() if el.get("id")}
        self.lane_of = {ref.text: ref.getparent().get("name")
                        for ref in self.process.findall("bpmn:laneSet/bpmn:lane/bpmn:flowNodeRef", NS)}
        self.flows = self.process.findall("bpmn:sequenceFlow", NS)

    def find(self, path):
        return self.process.findall(path, NS)

    def outgoing(self, node_id):
        return [f for f in self.flows if f.get("sourceRef") == node_id]

    def properties(self, el):
        return {p.get("name"): p.get("value")
                for p in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}

    def timer_of(self, task_id):
        events = [b for b in self.find("bpmn:boundaryEvent") if b.get("attachedToRef") == task_id]
        return events[0] if events else None

    def skip_merges(self, node_id):
        """The first non-merge node reached from node_id (merge = exclusive gateway with one outgoing flow)."""
        while self.by_id[node_id].tag == f"{{{NS['bpmn']}}}exclusiveGateway" and len(self.outgoing(node_id)) == 1:
            node_id = self.outgoing(node_id)[0].get("targetRef")
        return node_id


@pytest.fixture(params=sorted(SOPS), ids=str)
def sop(request):
    return Diagram(request.param), SOPS[request.param]


def test_process_is_executable_and_named_after_the_pool(sop):
    d, _ = sop
    participants = d.root.findall("bpmn:collaboration/bpmn:participant", NS)
    assert len(participants) == 1
    assert participants[0].get("processRef") == d.key
    assert d.process.get("isExecutable") == "true"
    assert d.process.get("name") and participants[0].get("name") == d.process.get("name")


def test_header_properties_and_documentation(sop):
    d, table = sop
    props = d.properties(d.process)
    assert set(HEADER_PROPERTIES) <= set(props)
    assert set(props) <= KNOWN_HEADER_PROPERTIES
    assert props["kantor"] == table["kantor"]
    assert props["zona_waktu"] == table["zona_waktu"]
    assert all(v.strip() for k, v in props.items() if k not in ("kantor", "kantor_nama")), "no empty values"
    assert re.match(r"^1\. ", props["dasar_hukum"]) and "\n2. " in props["dasar_hukum"]
    doc = d.process.findtext("bpmn:documentation", namespaces=NS)
    assert props["nomor"] in doc and "Perbaikan ejaan:" in doc


def test_lanes_are_the_sop_columns_in_order(sop):
    d, table = sop
    lanes = d.find("bpmn:laneSet/bpmn:lane")
    assert [lane.get("name") for lane in lanes] == table["lanes"]
    for lane in lanes:
        assert re.fullmatch(r"Lane_[A-Za-z0-9]+", lane.get("id"))
    assert len(d.find("bpmn:laneSet")) == 1


def test_every_flow_node_sits_in_exactly_one_lane(sop):
    d, _ = sop
    refs = [r.text for r in d.find("bpmn:laneSet/bpmn:lane/bpmn:flowNodeRef")]
    nodes = [el.get("id") for el in d.process if el.get("id") and el.tag.split("}")[1] not in (
        "sequenceFlow", "laneSet", "documentation", "extensionElements")]
    assert sorted(refs) == sorted(nodes)
    for event in d.find("bpmn:boundaryEvent"):
        assert d.lane_of[event.get("id")] == d.lane_of[event.get("attachedToRef")]


def test_steps_are_user_tasks_with_lane_name_timer_and_mutu_baku(sop):
    d, table = sop
    tasks = {t.get("id"): t for t in d.find("bpmn:userTask")}
    assert sorted(tasks) == sorted(f"Langkah_{no}" for no, *_ in table["steps"])
    for no, lane, duration, kelengkapan, output in table["steps"]:
        task = tasks[f"Langkah_{no}"]
        assert d.lane_of[task.get("id")] == lane, no
        assert task.get("name").startswith(f"{no}. "), no
        assert task.findtext("bpmn:documentation", namespaces=NS).strip(), no
        props = d.properties(task)
        assert props.get("kelengkapan") == kelengkapan, no
        assert props.get("output") == output, no
        assert "–" not in props.values() and "-" not in props.values()
        timer = d.timer_of(task.get("id"))
        if duration is None:
            assert timer is None and "waktu" not in props, no
            continue
        assert timer is not None, no
        assert timer.get("cancelActivity") == "false"
        assert timer.get("id") == f"SLA_Langkah_{no}"
        assert timer.get("name") == f"Waktu baku {props['waktu']}"
        value = timer.find("bpmn:timerEventDefinition/bpmn:timeDuration", NS)
        assert value.text == duration, no
        assert value.get(f"{{{NS['xsi']}}}type") == "bpmn:tFormalExpression"


def test_sla_breach_path_ends_in_an_escalation(sop):
    d, _ = sop
    (escalation,) = d.root.findall("bpmn:escalation", NS)
    assert escalation.get("id") == "Escalation_SLA" and escalation.get("escalationCode") == "sla_breached"
    for timer in d.find("bpmn:boundaryEvent"):
        (flow,) = d.outgoing(timer.get("id"))
        end = d.by_id[flow.get("targetRef")]
        assert end.get("id") == f"SLA_Terlampaui_{timer.get('attachedToRef')}"
        assert end.tag == f"{{{NS['bpmn']}}}endEvent" and end.get("name") == "SLA terlampaui"
        definition = end.find("bpmn:escalationEventDefinition", NS)
        assert definition is not None and definition.get("escalationRef") == "Escalation_SLA"
        assert d.lane_of[end.get("id")] == d.lane_of[timer.get("attachedToRef")]


def test_decisions_are_gateways_with_ya_and_tidak(sop):
    d, table = sop
    gateways = [g for g in d.find("bpmn:exclusiveGateway") if len(d.outgoing(g.get("id"))) > 1]
    assert sorted(g.get("id") for g in gateways) == sorted(f"Keputusan_{no}" for no, _, _ in table["decisions"])
    for no, ya, tidak in table["decisions"]:
        gateway = d.by_id[f"Keputusan_{no}"]
        assert gateway.get("name", "").endswith("?")
        (into,) = [f for f in d.flows if f.get("targetRef") == gateway.get("id")]
        assert into.get("sourceRef") == f"Langkah_{no}"
        flows = {f.get("name"): f for f in d.outgoing(gateway.get("id"))}
        assert sorted(flows) == ["Tidak", "Ya"]
        for answer, target in (("Ya", ya), ("Tidak", tidak)):
            condition = flows[answer].find("bpmn:conditionExpression", NS)
            assert condition.text == f'keputusan == "{answer}"'
            assert condition.get(f"{{{NS['xsi']}}}type") == "bpmn:tFormalExpression"
            assert d.skip_merges(flows[answer].get("targetRef")) == f"Langkah_{target}"


def test_start_and_end_events_sit_where_the_sop_draws_them(sop):
    d, table = sop
    (start,) = d.find("bpmn:startEvent")
    ends = [e for e in d.find("bpmn:endEvent") if e.find("bpmn:escalationEventDefinition", NS) is None]
    assert len(ends) == 1
    assert d.lane_of[start.get("id")] == table["start"]
    assert d.lane_of[ends[0].get("id")] == table["end"]


def iso_parts(value):
    days, hours, minutes = (int(g or 0) for g in ISO.fullmatch(value).groups())
    return days, hours * 60 + minutes


def test_main_path_total_standard_time(sop):
    d, table = sop
    for choices, expected in table["totals"].items():
        choice = dict(choices)
        (node,) = [s.get("id") for s in d.find("bpmn:startEvent")]
        days = minutes = 0
        seen = set()
        while True:
            assert node not in seen, f"loop through {node}"
            seen.add(node)
            timer = d.timer_of(node)
            if timer is not None:
                add_days, add_minutes = iso_parts(timer.findtext(".//bpmn:timeDuration", namespaces=NS))
                days, minutes = days + add_days, minutes + add_minutes
            flows = d.outgoing(node)
            if not flows:
                break
            if len(flows) > 1:
                flows = [f for f in flows if f.get("name") == choice.get(node, "Ya")]
            node = flows[0].get("targetRef")
        assert (days, minutes) == expected, choices


# --- executability: SpiffWorkflow with the engine's safe evaluator ----------------------------------------


def load_workflow(key):
    parser = BpmnParser()
    parser.add_bpmn_xml(parse(BPMN_DIR / f"{key}.bpmn").getroot(), filename=f"{key}.bpmn")
    spec = parser.get_spec(key)
    workflow = BpmnWorkflow(spec, parser.get_subprocess_specs(key), script_engine=SafeScriptEngine())
    workflow.do_engine_steps()
    return workflow


def run(key, answers=None, limit=60):
    """Complete READY user tasks until the process ends; answers: step id -> list of keputusan values."""
    answers = {k: list(v) for k, v in (answers or {}).items()}
    workflow = load_workflow(key)
    lanes = dict((f"Langkah_{no}", lane) for no, lane, *_ in SOPS[key]["steps"])
    order = []
    for _ in range(limit):
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        assert len(ready) == 1, [t.task_spec.bpmn_id for t in ready]
        task = ready[0]
        step = task.task_spec.bpmn_id
        assert task.task_spec.lane == lanes[step], step
        if step.replace("Langkah_", "") in [no for no, _, _ in SOPS[key]["decisions"]]:
            queue = answers.get(step) or ["Ya"]
            task.data["keputusan"] = queue.pop(0) if len(queue) > 1 else queue[0]
            answers[step] = queue
        task.run()
        workflow.do_engine_steps()
        order.append(step.replace("Langkah_", ""))
    assert workflow.completed, order
    return order


@pytest.mark.parametrize("key", sorted(SOPS))
def test_spiffworkflow_runs_the_ya_path_in_step_order(key):
    expected = [no for no, *_ in SOPS[key]["steps"]]
    assert run(key) == expected


def test_rework_loops_return_to_the_step_that_produced_the_work():
    order = run("sop_001_standar_pelayanan", {"Langkah_6": ["Tidak", "Ya"], "Langkah_9": ["Tidak", "Ya"],
                                              "Langkah_10": ["Tidak", "Ya"]})
    assert order == ["1", "2", "3", "4", "5", "6", "5", "6", "7", "8", "9", "8", "9", "10", "9", "10", "11"]


def test_yankomas_without_audience_skips_step_5():
    order = run("sop_004_yankomas", {"Langkah_4d": ["Tidak"]})
    assert order == ["1", "2", "3", "4a", "4b", "4c", "4d", "6", "7"]


def test_breached_sla_leaves_the_step_open_and_the_process_completes():
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

    workflow = load_workflow("sop_003_pengaduan_masyarakat")
    (timer,) = [t for t in workflow.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "SLA_Langkah_1"]
    timer._set_internal_data(event_value="2000-01-01T00:00:00+00:00")  # due long ago
    workflow.refresh_timers()
    workflow.do_engine_steps()
    (breach,) = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "SLA_Terlampaui_Langkah_1"]
    assert breach.state == TaskState.COMPLETED
    serializer = BpmnWorkflowSerializer()
    workflow = serializer.deserialize_json(serializer.serialize_json(workflow))
    workflow.script_engine = SafeScriptEngine()
    (ready,) = workflow.get_tasks(state=TaskState.READY, manual=True)
    assert ready.task_spec.bpmn_id == "Langkah_1" and not workflow.completed
    for _ in range(30):
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            break
        ready[0].run()
        workflow.do_engine_steps()
    assert workflow.completed
