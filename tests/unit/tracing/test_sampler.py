"""Parent-based sampling with a ratio: the SDK's TraceIdRatioBased rule for new traces."""

from __future__ import annotations

from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from portway.tracing.context import SpanContext
from portway.tracing.sampler import Sampler


def test_a_parent_decides_whatever_the_ratio() -> None:
    sampled, unsampled = SpanContext(1, 1, 1), SpanContext(1, 1, 0)
    assert Sampler(0.0).sampled(5, sampled)
    assert not Sampler(1.0).sampled(5, unsampled)


def test_ratio_zero_and_one() -> None:
    assert not any(Sampler(0.0).sampled(t, None) for t in (1, 2**63, 2**64 - 1, 2**128 - 1))
    assert all(Sampler(1.0).sampled(t, None) for t in (1, 2**63, 2**64 - 1, 2**128 - 1))


def test_new_traces_agree_with_the_sdks_ratio_sampler() -> None:
    for ratio in (0.01, 0.25, 0.5, 0.9):
        ours, sdk = Sampler(ratio), TraceIdRatioBased(ratio)
        for trace_id in (1, 2**60, (2**64 - 1) // 3, 2**64 - 2, 0xABCDEF << 64 | 2**62, 2**128 - 1):
            expected = sdk.should_sample(None, trace_id, "x").decision is Decision.RECORD_AND_SAMPLE
            assert ours.sampled(trace_id, None) is expected, (ratio, trace_id)
