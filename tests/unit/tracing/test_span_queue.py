"""The export queue: bounded, batched, failures counted; driven with a scripted exporter."""

from __future__ import annotations

from collections.abc import Sequence

from portway.tracing.export import SPANS_DROPPED, SPANS_EXPORTED, SpanQueue
from portway.tracing.spans import SERVER, SpanRecord


def span(n: int) -> SpanRecord:
    return SpanRecord(f"s{n}", SERVER, 1, n + 1, 0, 0, {})


def counted(reason: str) -> float:
    return SPANS_DROPPED.labels(reason)._value.get()


class Scripted:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.batches: list[list[str]] = []

    def __call__(self, batch: Sequence[SpanRecord]) -> bool:
        self.batches.append([s.name for s in batch])
        return self.answers.pop(0) if self.answers else True


def test_batches_are_cut_at_batch_size_and_flushed_at_stop() -> None:
    exporter = Scripted([])
    exported = SPANS_EXPORTED._value.get()
    queue = SpanQueue(exporter, queue_size=100, batch_size=3, flush_interval=3600)
    for n in range(7):
        queue.put(span(n))
    queue.join(5)
    assert [name for batch in exporter.batches for name in batch] == [f"s{n}" for n in range(7)]
    assert all(len(batch) <= 3 for batch in exporter.batches)
    assert SPANS_EXPORTED._value.get() - exported == 7


def test_a_full_queue_drops_and_counts() -> None:
    exporter = Scripted([])
    before = counted("queue_full")
    queue = SpanQueue(exporter, queue_size=2, batch_size=10, flush_interval=3600)
    for n in range(5):
        queue.put(span(n))
    queue.join(5)
    assert counted("queue_full") - before == 3
    assert exporter.batches == [["s0", "s1"]]


def test_a_failed_or_raising_export_drops_its_batch_and_counts_it() -> None:
    class Raising(Scripted):
        def __call__(self, batch: Sequence[SpanRecord]) -> bool:
            super().__call__(batch)
            if len(self.batches) == 2:
                raise RuntimeError("exporter bug")
            return len(self.batches) != 1

    exporter = Raising([])
    before = counted("export_failed")
    queue = SpanQueue(exporter, queue_size=100, batch_size=2, flush_interval=3600)
    for n in range(6):
        queue.put(span(n))
    queue.join(5)
    assert len(exporter.batches) == 3
    assert counted("export_failed") - before == 4  # the failed batch and the raising one
