"""Pooled PostgreSQL connections: tested before use only after sitting idle, and replaced when found dead."""

from __future__ import annotations

from sqlalchemy import event, text

from adapters import sql


def _statements(engine):
    seen = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_connection_in_steady_use_is_not_pinged(postgres_schema_factory):
    engine = sql.make_engine(postgres_schema_factory())
    seen = _statements(engine)
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("SELECT 2"))
    engine.dispose()
    assert seen == ["SELECT 2"] * 5  # pool_pre_ping would have sent a ping before each


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(postgres_schema_factory, monkeypatch):
    engine = sql.make_engine(postgres_schema_factory())
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with sql.make_engine(postgres_schema_factory()).connect() as admin:  # the server ends that session
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    monkeypatch.setattr(sql, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle "long enough"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def _opened(engine):
    opened = []
    event.listen(engine, "connect", lambda *args: opened.append(1))
    return opened


def _busy_threads(engine, threads: int, rounds: int) -> None:
    """`threads` threads in `rounds` bursts: in each, every thread holds a connection from the pool at the same
    time for a query, then all give them back (as a web worker's request threads do when requests come in waves)."""
    import threading

    together = threading.Barrier(threads)

    def work():
        for _ in range(rounds):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                together.wait()  # all threads hold one now
            together.wait()  # all gave theirs back

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_the_pool_keeps_a_connection_for_each_of_a_web_workers_threads(postgres_schema_factory):
    """alur serve's 8 request threads per worker: the connections they open stay open for the next requests.
    With SQLAlchemy's default pool of 5, the ones beyond it were closed at every check-in and opened again at the
    next burst (B3: about 130 new connections in 15 s, each a new server process with cold caches)."""
    engine = sql.make_engine(postgres_schema_factory())
    opened = _opened(engine)
    _busy_threads(engine, 8, 10)
    assert 1 <= len(opened) <= 8
    engine.dispose()


def test_the_pool_size_comes_from_ALUR_DB_POOL_SIZE_and_alur_serve_covers_its_threads(monkeypatch):
    from adapters import bootstrap, serve

    base = {"ALUR_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test", "ALUR_DATA_DIR": "unused"}
    assert bootstrap.build(base).engine.pool.size() == sql.POOL_SIZE == 10
    assert bootstrap.build({**base, "ALUR_DB_POOL_SIZE": "24"}).engine.pool.size() == 24
    assert bootstrap.build({**base, "ALUR_DB_POOL_SIZE": "lots"}).engine.pool.size() == sql.POOL_SIZE
    assert bootstrap.build({**base, "ALUR_DB_POOL_SIZE": "0"}).engine.pool.size() == 1

    # alur serve sets the workers' pool (they inherit its environment) to its threads + 2, unless told otherwise.
    started = []
    monkeypatch.setattr(serve, "_Gunicorn", lambda options: type("G", (), {"run": lambda self: started.append(
        (options["threads"], serve.os.environ["ALUR_DB_POOL_SIZE"]))})())
    monkeypatch.delenv("ALUR_DB_POOL_SIZE", raising=False)
    serve.serve("127.0.0.1", 0, 1, False, threads=16)
    assert started[-1] == (16, "18")
    monkeypatch.delenv("ALUR_DB_POOL_SIZE")
    serve.serve("127.0.0.1", 0, 1, False, threads=4)
    assert started[-1] == (4, "10")
    monkeypatch.setenv("ALUR_DB_POOL_SIZE", "3")
    serve.serve("127.0.0.1", 0, 1, False, threads=16)
    assert started[-1] == (16, "3")
