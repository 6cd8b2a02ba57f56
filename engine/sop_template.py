"""The diagram a new SOP starts from: a pool, two lanes and one step with a standard time (bpmn/README.md)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def template_xml(key: str, name: str) -> bytes:
    """A small valid SOP to start from, following bpmn/README.md's conventions."""
    return _TEMPLATE.format(key=key, name=quoteattr(name), doc=escape(name)).encode("utf-8")


_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" \
id="Definitions_{key}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Alur" exporterVersion="1" \
modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.22.0">
  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name={name} processRef="{key}"/>
  </bpmn:collaboration>
  <bpmn:process id="{key}" name={name} isExecutable="true">
    <bpmn:documentation>{doc}</bpmn:documentation>
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_Pemohon" name="Pemohon">
        <bpmn:flowNodeRef>Mulai</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Selesai</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_Petugas" name="Petugas">
        <bpmn:flowNodeRef>Langkah_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>SLA_Langkah_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>SLA_Terlampaui_Langkah_1</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Mulai" name="Mulai">
      <bpmn:outgoing>Flow_Mulai</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Langkah_1" name="1. Memeriksa permohonan">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="kelengkapan" value="Surat permohonan"/>
          <camunda:property name="output" value="Hasil pemeriksaan"/>
          <camunda:property name="waktu" value="1 jam"/>
        </camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_Mulai</bpmn:incoming>
      <bpmn:outgoing>Flow_Langkah_1</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="SLA_Langkah_1" name="Waktu baku 1 jam" cancelActivity="false" attachedToRef="Langkah_1">
      <bpmn:outgoing>Flow_SLA_Langkah_1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_Langkah_1">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="SLA_Terlampaui_Langkah_1" name="SLA terlampaui">
      <bpmn:incoming>Flow_SLA_Langkah_1</bpmn:incoming>
      <bpmn:escalationEventDefinition id="EscalationEventDefinition_Langkah_1" escalationRef="Escalation_SLA"/>
    </bpmn:endEvent>
    <bpmn:endEvent id="Selesai" name="Selesai">
      <bpmn:incoming>Flow_Langkah_1</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_Mulai" sourceRef="Mulai" targetRef="Langkah_1"/>
    <bpmn:sequenceFlow id="Flow_Langkah_1" sourceRef="Langkah_1" targetRef="Selesai"/>
    <bpmn:sequenceFlow id="Flow_SLA_Langkah_1" sourceRef="SLA_Langkah_1" targetRef="SLA_Terlampaui_Langkah_1"/>
  </bpmn:process>
  <bpmn:escalation id="Escalation_SLA" name="SLA terlampaui" escalationCode="sla_breached"/>
  <bpmndi:BPMNDiagram id="BPMNDiagram_{key}">
    <bpmndi:BPMNPlane id="BPMNPlane_{key}" bpmnElement="Collaboration_{key}">
      <bpmndi:BPMNShape id="Participant_{key}_di" bpmnElement="Participant_{key}" isHorizontal="true">
        <dc:Bounds x="160" y="80" width="700" height="330"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_Pemohon_di" bpmnElement="Lane_Pemohon" isHorizontal="true">
        <dc:Bounds x="190" y="80" width="670" height="150"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_Petugas_di" bpmnElement="Lane_Petugas" isHorizontal="true">
        <dc:Bounds x="190" y="230" width="670" height="180"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Mulai_di" bpmnElement="Mulai">
        <dc:Bounds x="242" y="137" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="245" y="180" width="30" height="14"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Langkah_1_di" bpmnElement="Langkah_1">
        <dc:Bounds x="340" y="265" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="SLA_Langkah_1_di" bpmnElement="SLA_Langkah_1">
        <dc:Bounds x="372" y="327" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="320" y="366" width="60" height="27"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="SLA_Terlampaui_Langkah_1_di" bpmnElement="SLA_Terlampaui_Langkah_1">
        <dc:Bounds x="472" y="352" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="516" y="363" width="80" height="14"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Selesai_di" bpmnElement="Selesai">
        <dc:Bounds x="662" y="137" width="36" height="36"/>
        <bpmndi:BPMNLabel><dc:Bounds x="660" y="180" width="40" height="14"/></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_Mulai_di" bpmnElement="Flow_Mulai">
        <di:waypoint x="278" y="155"/>
        <di:waypoint x="310" y="155"/>
        <di:waypoint x="310" y="305"/>
        <di:waypoint x="340" y="305"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_Langkah_1_di" bpmnElement="Flow_Langkah_1">
        <di:waypoint x="440" y="305"/>
        <di:waypoint x="680" y="305"/>
        <di:waypoint x="680" y="173"/>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_SLA_Langkah_1_di" bpmnElement="Flow_SLA_Langkah_1">
        <di:waypoint x="390" y="363"/>
        <di:waypoint x="390" y="370"/>
        <di:waypoint x="472" y="370"/>
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
