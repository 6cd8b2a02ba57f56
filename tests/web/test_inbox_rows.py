"""The inbox's rows are written by webui/inbox.py's inbox_row, not by the template: the HTML must be what the
template wrote, byte for byte, whatever the values hold (markup, quotes, braces, None), in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string

from engine.model import InboxEntry, WorkItem
from tests.conftest import make_app
from webui import create_app

# The loop body inbox.html had before the rows moved to Python, word for word (with the due macro's output, which
# tests/web/test_time_formatting.py checks separately).
OLD_ROWS = """{% set moment, token, here = now(), csrf_token(), request.full_path.rstrip('?') %}
  {% set claim_label, release_label = _("Claim"), _("Release") %}
  {% set task_url, case_url = url_for('tasks.show', item_id='__ITEM__'), url_for('cases.show', instance_id=0) %}
  {% set claim_url, release_url = url_for('inbox.claim', item_id='__ITEM__'), url_for('inbox.release', item_id='__ITEM__') %}
  {% for e in entries %}
  {% set item = e.item %}
  <tr class="{% if item.overdue or (item.due_at and item.due_at <= moment) %}overdue{% endif %}" data-item="{{ item.id }}">
    <td><a href="{{ task_url | replace('__ITEM__', item.id) }}">{{ item.step_name }}</a><br><small class="muted">{{ item.lane }}</small></td>
    <td>{{ e.process_name }}</td>
    <td><a href="{{ case_url[:-1] ~ item.instance_id }}">{{ e.number }}</a></td>
    <td><time datetime="{{ item.ready_at.isoformat() }}">{{ item.ready_at | local_time(e.timezone, 'short') }}</time></td>
    <td>{{ due(item, e.timezone) }}</td>
    <td>{{ item.claimed_by or '–' }}</td>
    <td class="actions">
      <form method="post" action="{{ (release_url if item.claimed_by else claim_url) | replace('__ITEM__', item.id) }}">
        <input type="hidden" name="csrf_token" value="{{ token }}">
        <input type="hidden" name="next" value="{{ here }}">
        <button type="submit">{{ release_label if item.claimed_by else claim_label }}</button>
      </form>
    </td>
  </tr>
  {% endfor %}"""  # noqa: E501 - the template's lines as they were

NEW_ROWS = """{% set moment, token, here = now(), csrf_token(), request.full_path.rstrip('?') %}
  {% set claim_label, release_label = _("Claim"), _("Release") %}
  {% set row = inbox_row(moment, token, here, claim_label, release_label) %}
  {# #}
  {% for e in entries %}
  {# #}
  {{ row(e) }}
  {% endfor %}"""


@pytest.fixture(scope="module")
def flask(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    alur = make_app(f"sqlite:///{folder / 'alur.db'}", folder)
    yield create_app({"TESTING": True, "SECRET_KEY": "test"}, alur=alur)
    alur.engine.dispose()


def entries():
    now = datetime.now(UTC)
    odd = ['<b>"Periksa" & \'tanda\'</b>', "{id} {0} %s", "Langkah 1"]
    found = []
    for index, (due, overdue, claimed, lane) in enumerate([
            (now + timedelta(hours=3), False, None, "Klien"), (now - timedelta(hours=2), False, None, None),
            (None, True, "budi", "Duta"), (now + timedelta(days=2), True, '<i>"x"</i>', "<lane>"),
            (None, False, None, "Kepala")]):
        item = WorkItem(id=f"item-{index}-{'<&>' if index == 3 else 'x'}", instance_id=index + 7, process_key="key",
                        step_id="S", step_name=odd[index % 3], lane=lane, role="Klien", office="B", state="ready",
                        ready_at=now - timedelta(minutes=index * 97), due_at=due, overdue=overdue,
                        claimed_by=claimed)
        found.append(InboxEntry(item, "key", f"B/2026/{index}<>", odd[(index + 1) % 3],
                                ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")[index % 3]))
    return found


@pytest.mark.parametrize("path", ["/tugas", "/tugas?lang=en", "/tugas?sop=a&show=mine&x={id}\"<'>"])
def test_rows_are_written_as_the_template_wrote_them(flask, path):
    rows = entries()
    with flask.test_request_context(path):
        old = render_template_string(OLD_ROWS, entries=rows)
        new = render_template_string(NEW_ROWS, entries=rows)
    assert new == old
    assert "&lt;b&gt;&#34;Periksa&#34; &amp; &#39;tanda&#39;&lt;/b&gt;" in new and "<b>" not in new
    assert new.count("<tr ") == 5 and new.count('class="overdue"') == 3
