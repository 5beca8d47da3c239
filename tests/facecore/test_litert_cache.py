"""The converted-model cache: converted once, rebuilt when missing, stale or damaged, never half seen."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from facecore.errors import ModelError
from facecore.litert.cache import cache_folder, cached_path, converted, is_current, model_key

KEY = model_key("ab" * 32, "converter 1")


class Maker:
    """A ``make`` that counts its calls and returns distinct bytes each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"model #{self.calls} ".encode() * 1000


def test_converted_once_then_read_from_the_cache(tmp_path, caplog):
    make = Maker()
    with caplog.at_level(logging.INFO, logger="facecore.litert.cache"):
        first = converted("facenet", KEY, make, tmp_path)
        second = converted("facenet", KEY, make, tmp_path)
    assert first == second == cached_path("facenet", KEY, tmp_path)
    assert make.calls == 1 and first.read_bytes().startswith(b"model #1")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "converting facenet for LiteRT, once" in lines[0] and "not converted yet" in lines[0]


def test_a_new_key_makes_a_new_file(tmp_path):
    make = Maker()
    old = converted("facenet", KEY, make, tmp_path)
    new = converted("facenet", model_key("ab" * 32, "converter 2"), make, tmp_path)
    assert old != new and make.calls == 2 and old.exists()


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_bytes(p.read_bytes()[:100]), "damaged"),                # cut short
    (lambda p: p.write_bytes(p.read_bytes().replace(b"#1", b"#9")), "damaged"),  # same size, other bytes
    (lambda p: p.with_suffix(".json").unlink(), "damaged"),                      # no record (a crash between)
    (lambda p: p.with_suffix(".json").write_text('{"key": "other"}'), "stale"),
    (lambda p: p.unlink(), "not converted yet"),
])
def test_a_damaged_stale_or_missing_file_is_converted_again(tmp_path, caplog, damage, why):
    make = Maker()
    path = converted("pnet", KEY, make, tmp_path)
    damage(path)
    assert not is_current("pnet", KEY, tmp_path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="facecore.litert.cache"):
        again = converted("pnet", KEY, make, tmp_path)
    assert make.calls == 2 and again.read_bytes().startswith(b"model #2")
    assert [why in r.getMessage() for r in caplog.records] == [True]
    assert is_current("pnet", KEY, tmp_path)


def test_an_empty_conversion_is_an_error_and_keeps_nothing(tmp_path):
    with pytest.raises(ModelError, match="empty"):
        converted("rnet", KEY, lambda: b"", tmp_path)
    assert not cached_path("rnet", KEY, tmp_path).exists()


def test_a_failed_conversion_leaves_no_file(tmp_path):
    def fail() -> bytes:
        raise RuntimeError("converter broke")

    with pytest.raises(RuntimeError):
        converted("rnet", KEY, fail, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".lock"] == []


def test_the_folder_follows_facecam_home(tmp_path):
    assert cache_folder({"FACECAM_HOME": str(tmp_path)}) == tmp_path / "weights" / "litert"
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "facecam" / "litert"


def _convert_slowly(folder: str, calls: str, out: "multiprocessing.Queue") -> None:
    def make() -> bytes:
        with open(calls, "a") as fh:
            fh.write("call\n")
        time.sleep(0.5)  # long enough for the other process to arrive meanwhile
        return b"whole model " * 50_000

    path = converted("onet", KEY, make, Path(folder))
    out.put(path.read_bytes() == b"whole model " * 50_000)


def test_two_processes_converting_at_once_convert_once_and_see_a_whole_file(tmp_path):
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    calls = tmp_path / "calls.txt"
    procs = [context.Process(target=_convert_slowly, args=(str(tmp_path / "cache"), str(calls), out))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert [out.get(timeout=5), out.get(timeout=5)] == [True, True]
    assert calls.read_text().count("call") == 1
