"""The writer on its own thread, on fake models (tests/fakes.py): the engine's steps queue their
events and return at once, the writer's thread writes the CSV rows and faces in order, closing
drains it, a slow disk never slows a step, and the hub hears every row and every step's view."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from facecore.config import CaptureConfig, FacesConfig, LogConfig, load_config
from facecore.csvlog import CsvLog, read_log
from facecore.errors import UsageError
from facecore.facestore import FaceStore
from facecore.retention import Pruned
from fakes import ColourDetector, ColourRecognizer, frames
from realtime.engine.step import Engine
from realtime.events.records import PRUNE_S, EventLog, EventMaker
from realtime.events.hub import SIGHTING, VIEW, Hub
from realtime.events.keeper import KeepRules
from realtime.engine.pipeline import SourceStage
from realtime.events.writer import Writer, prune_apart

SOURCES = ("door", "hall")
STEPS = 12


class SlowCsv(CsvLog):
    """A CSV log on a disk that hangs: each append waits until ``go`` is set (``hang_s`` at most),
    and notes the thread it ran on."""

    def __init__(self, path, hang_s: float = 1.0):
        super().__init__(path)
        self.go, self.hang_s, self.threads = threading.Event(), hang_s, set()

    def append(self, row):
        self.threads.add(threading.current_thread().name)
        self.go.wait(self.hang_s)
        return super().append(row)


@pytest.fixture
def engine():
    config = load_config(None, ["detector.every_n_frames=1", "tracker.recognize_every=1",
                                "tracker.vote_min=2", "tracker.vote_window=2"])
    detector = ColourDetector(config.detector)
    stages = [SourceStage(name, config, detector, True) for name in SOURCES]
    return Engine(stages, detector, ColourRecognizer(["ada", "grace"]))


def clips():
    return {"door": frames([[("ada", 40, 40, 60)]] * STEPS),
            "hall": frames([[("grace", 150, 60, 50), ("stranger", 20, 20, 40)]] * STEPS)}


def run_steps(engine, events) -> tuple[list[float], int]:
    """Every step of :func:`clips` as the recognition thread runs it: the engine step, then the
    events of each source. Returns each step's seconds and the rows due."""
    times, due, scenes = [], 0, clips()
    for i in range(STEPS):
        start = time.perf_counter()
        batch = {name: clip[i] for name, clip in scenes.items()}
        for name, snapshot in engine.step(batch).items():
            due += events.record(snapshot, batch[name].image)
        times.append(time.perf_counter() - start)
    return times, due


def test_a_hung_csv_disk_does_not_slow_the_steps_and_close_writes_every_row_in_order(tmp_path, engine, monkeypatch):
    stored_on = set()
    add = FaceStore.add
    monkeypatch.setattr(FaceStore, "add", lambda self, *a: stored_on.add(threading.current_thread().name) or add(self, *a))
    csv_log = SlowCsv(tmp_path / "rec.csv")
    log = EventLog(csv_log, LogConfig(cooldown_s=0.0), str(tmp_path / "faces"), keep=KeepRules())
    writer = Writer(log)
    times, due = run_steps(engine, writer)
    assert read_log(tmp_path / "rec.csv") == [] and writer.rows == 0  # the writer is still stuck on its first row
    assert max(times) < 0.25, f"a step waited for the disk: {max(times):.3f} s"  # one row waits 1 s
    assert due == 2 * (STEPS - 1) + 1  # ada and grace every step once named, the stranger once
    csv_log.go.set()
    writer.close()
    rows = read_log(tmp_path / "rec.csv")
    assert len(rows) == due and writer.unwritten == 0
    order = [(int(r["frame"]), SOURCES.index(r["source"])) for r in rows]
    assert order == sorted(order)  # in the order the steps made them
    assert all(r["snapshot"] for r in rows) and len(FaceStore(tmp_path / "faces").ids()) >= due
    assert csv_log.threads == stored_on == {"facecam-writer"}


@pytest.mark.slow  # seconds, not a fraction of one: the full suite runs it, the fast lane does not
def test_the_same_hung_disk_stalls_a_step_when_events_are_written_on_the_step_thread(tmp_path, engine):
    """What the writer's thread is for: the log applied inline waits for the disk."""
    csv_log = SlowCsv(tmp_path / "rec.csv", hang_s=0.1)
    log = EventLog(csv_log, LogConfig(cooldown_s=0.0))
    times, _ = run_steps(engine, log)
    log.close()
    assert max(times) >= 0.1


def test_the_hub_hears_each_row_with_its_event_id_and_a_view_per_step_and_source(tmp_path, engine):
    hub = Hub()
    sightings, views = hub.subscribe([SIGHTING]), hub.subscribe([VIEW])
    database = tmp_path / "events.db"
    writer = Writer(EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0), database=str(database),
                             hub=hub))
    _, due = run_steps(engine, writer)
    writer.close()
    heard = [m.record for m in iter(lambda: sightings.get(0), None)]
    rows = read_log(tmp_path / "rec.csv")
    assert len(heard) == len(rows) == due
    assert [(h["name"], h["frame"], h["source"]) for h in heard] == [(r["name"], int(r["frame"]), r["source"])
                                                                     for r in rows]
    with sqlite3.connect(database) as db:
        ids = [e for (e,) in db.execute("SELECT event FROM sightings ORDER BY rowid")]
    assert [h["event"] for h in heard] == ids and all(isinstance(e, int) for e in ids)
    assert len(set(ids)) == 3  # ada at the door, grace and the stranger in the hall
    seen = [m.record for m in iter(lambda: views.get(0), None)]
    assert len(seen) == STEPS * len(SOURCES)
    assert [v["source"] for v in seen[:2]] == list(SOURCES) and [v["frame"] for v in seen[-2:]] == [STEPS - 1] * 2
    hall = seen[-1]
    assert sorted(hall["names"]) == ["grace", "unknown"] and len(hall["boxes"]) == len(hall["tracks"]) == 2
    assert all(isinstance(x, float) for box in hall["boxes"] for x in box) and hall["stale"] == [False, False]


def test_a_full_queue_drops_the_oldest_steps_counted_and_said_once(tmp_path, engine, caplog):
    csv_log = SlowCsv(tmp_path / "rec.csv", hang_s=30.0)
    writer = Writer(EventLog(csv_log, LogConfig(cooldown_s=0.0)), maxsize=2)
    with caplog.at_level(logging.WARNING, "realtime.events.writer"):
        _, due = run_steps(engine, writer)
    assert writer.dropped > 0 and writer.status.startswith("EVENT LOG BEHIND")
    assert len([r for r in caplog.records if "behind" in r.getMessage()]) == 1
    csv_log.go.set()
    writer.close()
    assert len(read_log(tmp_path / "rec.csv")) + writer.dropped == due and writer.unwritten == writer.dropped


def test_what_stops_the_writer_reaches_the_recognition_thread(tmp_path, engine):
    log = EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0))
    writer = Writer(log)

    def refuse(events):
        raise UsageError("the CSV log has other columns")

    log.write = refuse
    scenes = clips()
    with pytest.raises(UsageError, match="other columns"):  # on a later step, once the writer met it
        for i in range(STEPS):
            batch = {name: clip[i] for name, clip in scenes.items()}
            for name, snapshot in engine.step(batch).items():
                writer.record(snapshot, batch[name].image)
            writer.flush(5.0)
    writer.close()  # raised once: closing does not raise it again


def test_the_daily_prune_beside_recognition_runs_in_a_child_process_and_deletes_what_is_old(tmp_path, engine):
    now, clock = [0.0], lambda: now[0]
    keep = KeepRules(FacesConfig(retention_days=1), CaptureConfig())
    log = EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0), str(tmp_path / "faces"), clock=clock,
                   keep=keep)
    writer = Writer(log)
    assert log.retain is prune_apart
    _, due = run_steps(engine, writer)
    writer.flush()
    store = FaceStore(tmp_path / "faces")
    old = next(f for f in store.faces() if f.row)  # the face of a CSV row
    store.update(old, time=(datetime.now(timezone.utc) - timedelta(days=2)).isoformat())
    rows = read_log(tmp_path / "rec.csv")
    with_old = [r for r in rows if r["snapshot"].endswith(f"{old.id}.jpg")]
    now[0] += PRUNE_S  # a day later: the next events applied prune first
    scenes = clips()
    frame = scenes["door"][STEPS - 1]
    writer.write([EventMaker(LogConfig(cooldown_s=0.0)).events(engine.step({"door": frame})["door"], frame.image)[0]])
    writer.close()
    assert old.id not in FaceStore(tmp_path / "faces").ids() and old.id not in log._kept  # the bound counts it no more
    kept = read_log(tmp_path / "rec.csv")
    assert len(kept) == due + 1 and [r for r in kept if r["snapshot"].endswith(f"{old.id}.jpg")] == []
    assert len(with_old) == 1  # that row is still there, its cell emptied


class HeldPrune:
    """A prune in progress until ``release`` is set (as :class:`realtime.events.writer.PendingPrune`)."""

    def __init__(self):
        self.release, self.waited = threading.Event(), False

    def done(self) -> bool:
        return self.release.is_set()

    def result(self) -> Pruned:
        self.waited = True
        assert self.release.wait(5.0)
        return Pruned()


def test_rows_go_on_being_written_while_the_daily_prune_runs_and_close_waits_for_it(tmp_path, engine):
    now, clock = [0.0], lambda: now[0]
    log = EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0), str(tmp_path / "faces"), clock=clock,
                   keep=KeepRules(FacesConfig(retention_days=1), CaptureConfig()))
    writer, started = Writer(log), []
    log.retain = lambda *args, **kwargs: started.append(HeldPrune()) or started[-1]
    now[0] += PRUNE_S  # a day later: the next events applied start a prune
    _, due = run_steps(engine, writer)
    assert writer.flush(5.0) and len(started) == 1 and log.pruning is started[0]
    assert len(read_log(tmp_path / "rec.csv")) == due > 0  # no row waited for the prune
    now[0] += PRUNE_S  # another day: still one prune at a time
    frame = clips()["door"][STEPS - 1]
    writer.write(EventMaker(LogConfig(cooldown_s=0.0)).events(engine.step({"door": frame})["door"], frame.image))
    assert writer.flush(5.0) and len(started) == 1
    threading.Timer(0.3, started[0].release.set).start()
    writer.close()  # waits for the prune: nothing is left half done
    assert started[0].waited and log.pruning is None


def test_the_writer_sees_a_prune_end_without_waiting_for_new_events(tmp_path, engine):
    now, clock = [0.0], lambda: now[0]
    log = EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0), str(tmp_path / "faces"), clock=clock,
                   keep=KeepRules(FacesConfig(retention_days=1), CaptureConfig()))
    writer, held = Writer(log), HeldPrune()
    log.retain = lambda *args, **kwargs: held
    now[0] += PRUNE_S
    run_steps(engine, writer)
    assert writer.flush(5.0) and log.pruning is held
    held.release.set()
    deadline = time.monotonic() + 5.0
    while log.pruning is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.pruning is None and held.waited
    writer.close()


def test_a_view_carries_its_picture_only_while_someone_watches_that_source(tmp_path, engine):
    hub = Hub()
    views = hub.subscribe([VIEW])
    writer = Writer(EventLog(None, LogConfig(cooldown_s=0.0), hub=hub))
    scenes = clips()

    def step(i):
        batch = {name: clip[i] for name, clip in scenes.items()}
        for name, snapshot in engine.step(batch).items():
            writer.record(snapshot, batch[name].image)
        return {m.record["source"]: m.record for m in iter(lambda: views.get(0), None)}, batch

    seen, _ = step(0)
    assert set(seen) == set(SOURCES) and not any("picture" in v for v in seen.values())
    unwatch = hub.watch("hall")
    second = hub.watch("hall")
    seen, batch = step(1)
    assert seen["hall"]["picture"] is batch["hall"].image and "picture" not in seen["door"]
    unwatch()
    unwatch()  # a second call changes nothing: the other watcher still looks
    assert hub.watching() == {"hall"}
    second()
    seen, _ = step(2)
    assert not hub.watched("hall") and not any("picture" in v for v in seen.values())
    writer.close()


def test_kept_faces_are_encoded_to_jpeg_on_the_writer_thread_not_the_recognition_thread(tmp_path, engine,
                                                                                        monkeypatch):
    import realtime.events.keeper as keeper

    encoded_on = []
    encode = keeper.encode_jpeg
    monkeypatch.setattr(keeper, "encode_jpeg",
                        lambda crop: encoded_on.append(threading.current_thread().name) or encode(crop))
    writer = Writer(EventLog(CsvLog(tmp_path / "rec.csv"), LogConfig(cooldown_s=0.0), str(tmp_path / "faces"),
                             keep=KeepRules()))
    _, due = run_steps(engine, writer)
    writer.close()
    assert due and len(encoded_on) >= due and set(encoded_on) == {"facecam-writer"}
    stored = FaceStore(tmp_path / "faces")
    assert len(stored.ids()) >= due
