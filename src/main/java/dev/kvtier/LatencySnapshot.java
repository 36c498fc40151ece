package dev.kvtier;

import java.util.Objects;
import org.HdrHistogram.Histogram;

/**
 * The distribution of one operation's latency at a point in time, in nanoseconds: how many
 * were recorded, their mean, any percentile and the maximum. Immutable; values are exact to
 * two significant decimal digits (a recorded value is reported as the highest value of its
 * bucket, at most 1% above it), between 0 and one hour (longer ones are recorded as one hour).
 *
 * <p>{@link #minus} gives the distribution of the values recorded between two snapshots of the
 * same recorder: counts per bucket subtract exactly, so percentiles, mean and maximum of the
 * interval are those of the values recorded in it (the maximum to the bucket's precision).
 */
public final class LatencySnapshot {
    private static final long MAX_NANOS = 3_600_000_000_000L;
    private static final LatencySnapshot EMPTY = new LatencySnapshot(new Histogram(MAX_NANOS, 2));

    /** Owned: never handed out, never changed after construction. */
    private final Histogram histogram;

    private LatencySnapshot(Histogram owned) {
        this.histogram = owned;
    }

    /** A snapshot of {@code recorded}'s values now (copied). */
    static LatencySnapshot of(Histogram recorded) {
        return new LatencySnapshot(recorded.copy());
    }

    /** A snapshot with no values. */
    public static LatencySnapshot empty() {
        return EMPTY;
    }

    /** Values recorded. */
    public long count() {
        return histogram.getTotalCount();
    }

    /** Mean of the values in nanoseconds, or 0 without values. */
    public double meanNanos() {
        return count() == 0 ? 0 : histogram.getMean();
    }

    /**
     * The value in nanoseconds that {@code percentile} percent of the values are at or below,
     * for {@code percentile} in [0, 100]; 0 without values.
     */
    public long percentileNanos(double percentile) {
        if (!(percentile >= 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile must be in [0, 100], was " + percentile);
        }
        return count() == 0 ? 0 : histogram.highestEquivalentValue(histogram.getValueAtPercentile(percentile));
    }

    /** The median in nanoseconds. */
    public long p50Nanos() {
        return percentileNanos(50);
    }

    public long p90Nanos() {
        return percentileNanos(90);
    }

    public long p99Nanos() {
        return percentileNanos(99);
    }

    public long p999Nanos() {
        return percentileNanos(99.9);
    }

    /** The largest value in nanoseconds, or 0 without values. */
    public long maxNanos() {
        return count() == 0 ? 0 : histogram.highestEquivalentValue(histogram.getMaxValue());
    }

    /**
     * The values recorded after {@code earlier} up to this snapshot. Throws
     * {@link IllegalArgumentException} when {@code earlier} has a value this one does not (it
     * is not an earlier snapshot of the same recorder).
     */
    public LatencySnapshot minus(LatencySnapshot earlier) {
        Objects.requireNonNull(earlier, "earlier");
        Histogram interval = histogram.copy();
        try {
            interval.subtract(earlier.histogram);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("minus: the earlier latency snapshot has values this one has not; "
                    + "it is not an earlier snapshot of the same cache (" + e.getMessage() + ")", e);
        }
        return new LatencySnapshot(interval);
    }

    /** The two snapshots' values together (the devices of one tier). */
    LatencySnapshot plus(LatencySnapshot other) {
        Histogram sum = histogram.copy();
        sum.add(other.histogram);
        return new LatencySnapshot(sum);
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "LatencySnapshot[count=%d mean=%.0fns p50=%dns p99=%dns max=%dns]",
                count(), meanNanos(), p50Nanos(), p99Nanos(), maxNanos());
    }
}
