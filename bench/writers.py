"""How writers in separate processes share one SQLite file: the front door's wait behind busy
workers, with the cross-process writer queue (``threads.writer_queue``) and without it (SQLite's
busy handler alone).

One process stores like the front door (a 4 KB row, ``first=True``, every few milliseconds) and
records how long each store took; ``workers`` processes write like the pipeline (ten 4 KB rows
and a few milliseconds of CPU inside each transaction, back to back). Both modes run in the same
invocation, one after the other, on fresh files:

    python -m bench.writers [--seconds 5] [--workers 2] [--hold-ms 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from threads import db

ROW = b"x" * 4096


def _busy(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _worker(url: str, until: float, hold_ms: float, counts) -> None:  # noqa: ANN001
    engine = db.make_engine(url)
    done = 0
    while time.time() < until:
        with db.session_scope(engine) as session:
            for _ in range(10):
                session.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": ROW})
            _busy(hold_ms)
        done += 1
    counts.put(done)


def _front(url: str, until: float, every_ms: float, results) -> None:  # noqa: ANN001
    engine = db.make_engine(url)
    waits = []
    while time.time() < until:
        started = time.perf_counter()
        with db.session_scope(engine, first=True) as session:
            session.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": ROW})
        waits.append((time.perf_counter() - started) * 1000)
        time.sleep(every_ms / 1000)
    results.put(waits)


def measure(queue: bool, seconds: float, workers: int, hold_ms: float) -> dict:
    db.CROSS_PROCESS_QUEUE = queue  # inherited by the forked processes below
    db._WRITER_LOCKS.clear()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'w.sqlite3'}"
        engine = db.make_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        engine.dispose()
        context = multiprocessing.get_context("fork")
        counts, results = context.Queue(), context.Queue()
        until = time.time() + seconds
        processes = [context.Process(target=_worker, args=(url, until, hold_ms, counts))
                     for _ in range(workers)]
        processes.append(context.Process(target=_front, args=(url, until, 5.0, results)))
        for process in processes:
            process.start()
        waits = results.get()
        done = sum(counts.get() for _ in range(workers))
        for process in processes:
            process.join()
    waits.sort()
    return {
        "queue": queue,
        "front_stores": len(waits),
        "front_p50_ms": round(statistics.median(waits), 2),
        "front_p99_ms": round(waits[int(len(waits) * 0.99) - 1], 2),
        "front_max_ms": round(waits[-1], 2),
        "worker_transactions_per_s": round(done / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hold-ms", type=float, default=4.0)
    args = parser.parse_args()
    for queue in (False, True):
        print(json.dumps(measure(queue, args.seconds, args.workers, args.hold_ms)))


if __name__ == "__main__":
    main()
