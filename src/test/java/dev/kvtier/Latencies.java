package dev.kvtier;

import org.HdrHistogram.Histogram;

/** Test fixture: a {@link LatencySnapshot} of given values, for code that reports snapshots (the replay report). */
public final class Latencies {
    private Latencies() {
    }

    /** A snapshot holding exactly {@code nanos}. */
    public static LatencySnapshot of(long... nanos) {
        Histogram h = new Histogram(3_600_000_000_000L, 2);
        for (long n : nanos) {
            h.recordValue(n);
        }
        return LatencySnapshot.of(h);
    }
}
