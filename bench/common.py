"""What every benchmark shares: PostgreSQL throwaway schemas, an app, statistics and the JSON result file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sqlite3
import statistics
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

POSTGRES_URL = os.environ.get("ALUR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RESULTS = ROOT / "bench" / "results"


def summary(samples: list[float]) -> dict:
    """Milliseconds: n, median, p95, p99, mean and max of samples in seconds."""
    ordered = sorted(samples)

    def rank(q):
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {"n": len(samples), "median_ms": statistics.median(samples) * 1000, "p95_ms": rank(0.95),
            "p99_ms": rank(0.99), "mean_ms": statistics.fmean(samples) * 1000, "max_ms": ordered[-1] * 1000}


def postgres_schema():
    """A throwaway schema, as tests/conftest.py makes them: (url, drop, server version) or (None, reason, None)."""
    try:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"alur_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
            version = conn.execute(text("SHOW server_version")).scalar()
    except Exception as err:  # noqa: BLE001 - any failure means "no server"
        return None, f"{type(err).__name__}: {err}".splitlines()[0], None

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()

    return f"{POSTGRES_URL}?options=-csearch_path%3D{name}", drop, version


def database(backend: str, folder):
    """A fresh database of `backend` ("sqlite" in `folder`, or a PostgreSQL throwaway schema): (url, drop or None,
    PostgreSQL version or None); when PostgreSQL is unreachable, (None, why, None)."""
    if backend == "sqlite":
        return f"sqlite:///{Path(folder) / 'alur.db'}", None, None
    if backend == "postgresql":
        return postgres_schema()
    raise SystemExit(f"unknown backend {backend!r}")


def postgres_version() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return version
    except Exception:  # noqa: BLE001
        return None


def machine(pg_version: str | None = None) -> dict:
    """The machine's description every result carries."""
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu_model": model or platform.processor() or platform.machine(),
            "memory": memory, "platform": platform.platform(), "python": platform.python_version(),
            "spiffworkflow": importlib.metadata.version("SpiffWorkflow"),
            "sqlalchemy": importlib.metadata.version("SQLAlchemy"), "sqlite": sqlite3.sqlite_version,
            "postgresql": pg_version if pg_version is not None else postgres_version()}


def write_result(name: str, payload: dict, output: str | Path | None = None) -> Path:
    """Write bench/results/<name>.json (or `output`) with the date and the machine; returns the path."""
    out = Path(output) if output else RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "date": datetime.now(UTC).isoformat(timespec="seconds"), **payload}
    document.setdefault("machine", machine())
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")
    return out


def print_table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[h for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)
