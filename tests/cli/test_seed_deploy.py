"""The seed SOPs through the real `alur` command: lint clean, and deployed to the office each belongs to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SEEDS = sorted(str(p) for p in (ROOT / "bpmn").glob("*.bpmn"))
ALUR = [str(Path(sys.executable).parent / "alur")]


def alur(env, *args):
    result = subprocess.run([*ALUR, *args], env=env, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr
    return result


def test_the_five_seed_sops_lint_with_no_problem_at_all():
    result = alur(os.environ.copy(), "lint", *SEEDS, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and len(SEEDS) == 5
    assert not [p for p in report["problems"] if p["severity"] == "error"]
    # Only the steps whose SOP sheet gives no Waktu (bpmn/README.md) lack a standard time.
    assert sorted(p["element"] for p in report["problems"] if p["severity"] == "warning") == [
        "Langkah_1", "Langkah_4a", "Langkah_4b", "Langkah_4c"]
    assert all("no standard time" in p["message"] for p in report["problems"] if p["severity"] == "warning")
    assert len([p for p in report["problems"] if p["severity"] == "info"]) == 5  # one summary per SOP


def test_the_seed_sops_deploy_to_their_offices_with_alur_deploy(database_url, tmp_path):
    env = {**os.environ, "ALUR_DATABASE_URL": database_url, "ALUR_DATA_DIR": str(tmp_path)}
    assert alur(env, "init").returncode == 0
    for code, zone in [("MALUT", "Asia/Jayapura"), ("DKI", "Asia/Jakarta"), ("BABEL", "Asia/Jakarta"),
                       ("BENGKULU", "Asia/Jakarta")]:
        assert alur(env, "offices", "add", code, f"Kanwil {code}", "--timezone", zone).returncode == 0
    assert alur(env, "users", "add", "penerap", "--password", "rahasia123").returncode == 0
    assert alur(env, "users", "grant", "penerap", "deployer").returncode == 0
    refused = alur(env, "deploy", *SEEDS, "--as", "nobody", "--note", "seed")
    assert refused.returncode == 1 and "Only a deployer or an administrator" in refused.stderr
    assert json.loads(alur(env, "processes", "--json").stdout) == []
    deployed = alur(env, "deploy", *SEEDS, "--as", "penerap", "--note", "seed")
    assert deployed.returncode == 0, deployed.stderr
    processes = json.loads(alur(env, "processes", "--json").stdout)
    assert {(p["key"], p["version"], p["office"]) for p in processes} == {
        ("sop_000_layanan_publik", 1, "MALUT"),
        ("sop_001_standar_pelayanan", 1, None),  # a ministry template: any Kanwil adopts it
        ("sop_002_kelompok_rentan", 1, "DKI"),
        ("sop_003_pengaduan_masyarakat", 1, "BABEL"),
        ("sop_004_yankomas", 1, "BENGKULU"),
    }
    template = alur(env, "deploy", SEEDS[1], "--office", "BENGKULU")
    assert "sop_001_standar_pelayanan deployed as version 2" in template.stdout
