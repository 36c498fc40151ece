package dev.kvtier.metrics;

import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The cache's live counters and latency recorders. Counters are {@link LongAdder}s indexed by
 * {@link Counter} (and by tier where the counter is per tier); latencies go to HdrHistogram
 * {@link Recorder}s, which are wait-free and allocate nothing on record. {@link #latency}
 * folds the recorder's interval into a running total, so snapshots are cumulative.
 */
public final class CacheMetrics {
    /** Number of tiers counters are kept for (DRAM, SSD, REMOTE). */
    public static final int TIERS = 3;

    /** What is counted. Per-tier counters have {@link #TIERS} slots. */
    public enum Counter {
        MATCH_CALLS(false), LOOKUP_BLOCKS(false), HIT_BLOCKS(true), MISS_BLOCKS(false),
        LOAD_CALLS(false), LOAD_CANCELS(false), LOADED_BLOCKS(true), LOADED_BYTES(true), LOAD_LOST_BLOCKS(false),
        STORE_CALLS(false), STORED_BLOCKS(true), STORED_BYTES(true), STORE_DUPLICATE_BLOCKS(false),
        STORE_ORPHAN_BLOCKS(false), STORE_NO_SPACE_BLOCKS(false),
        EVICTED_BLOCKS(true), INVALIDATED_BLOCKS(false), ACQUIRES(false), LEAKED_PINS(false),
        /** Device bytes written for blocks (after compression). */
        ENCODED_BYTES(true),
        /** DRAM blocks dropped without a copy in a lower tier. */
        DROPPED_BLOCKS(false),
        DEMOTE_DECLINED_BLOCKS(false), DEMOTE_FAILED_BLOCKS(false),
        /** Blocks read from a tier and copied into DRAM, by the tier read from. */
        PROMOTED_BLOCKS(true),
        /** Reads that failed a header or payload check, or decoding. */
        CORRUPT_BLOCKS(true),
        /** Reads whose slot held another block than the index said. */
        MISMATCHED_BLOCKS(true),
        READ_ERRORS(true), WRITE_ERRORS(true), WIPED_SLOTS(true), RECOVERED_BLOCKS(true), RECOVERY_DISCARDED_SLOTS(true),
        /** Blocks another process wrote, found on a shared tier by a lookup. */
        DISCOVERED_BLOCKS(true),
        /** Blocks admission refused: into DRAM on store (with the rest of their chain), or a write to a device tier. */
        REJECTED_BLOCKS(true),
        /** Blocks written to a tier by a flush (explicit, or on close). */
        FLUSHED_BLOCKS(true),
        /** Flushes run; those that ended with blocks left (time budget spent, no room, a failed write); their time. */
        FLUSHES(false), INCOMPLETE_FLUSHES(false), FLUSH_NANOS(false),
        /** Time stores waited for the demoter to clean a DRAM page (back-pressure). */
        STORE_WAIT_NANOS(false);

        final boolean perTier;

        Counter(boolean perTier) {
            this.perTier = perTier;
        }

        /** Whether this counter is kept per tier. */
        public boolean perTier() {
            return perTier;
        }
    }

    /** Which operation a latency belongs to. */
    public enum Op { MATCH, LOAD, STORE }

    private static final long MAX_LATENCY_NS = 3_600_000_000_000L;

    private final LongAdder[][] counters = new LongAdder[Counter.values().length][];
    private final Recorder[] recorders = new Recorder[Op.values().length];
    private final Histogram[] totals = new Histogram[Op.values().length];
    private final Observers observers = new Observers();

    public CacheMetrics() {
        for (Counter c : Counter.values()) {
            counters[c.ordinal()] = new LongAdder[c.perTier ? TIERS : 1];
            for (int t = 0; t < counters[c.ordinal()].length; t++) {
                counters[c.ordinal()][t] = new LongAdder();
            }
        }
        for (Op op : Op.values()) {
            recorders[op.ordinal()] = new Recorder(MAX_LATENCY_NS, 2);
            totals[op.ordinal()] = new Histogram(MAX_LATENCY_NS, 2);
        }
    }

    /** Who hears of each operation as it ends (timers, events); see {@link CacheObserver}. */
    public Observers observers() {
        return observers;
    }

    public void add(Counter c, long n) {
        counters[c.ordinal()][0].add(n);
    }

    public void add(Counter c, int tier, long n) {
        counters[c.ordinal()][tier].add(n);
    }

    public long get(Counter c) {
        long sum = 0;
        for (LongAdder a : counters[c.ordinal()]) {
            sum += a.sum();
        }
        return sum;
    }

    public long get(Counter c, int tier) {
        return counters[c.ordinal()][tier].sum();
    }

    /** Records one operation's latency in nanoseconds. */
    public void record(Op op, long nanos) {
        recorders[op.ordinal()].recordValue(Math.min(Math.max(nanos, 0), MAX_LATENCY_NS));
    }

    /** A copy of all latencies recorded for {@code op} so far. */
    public synchronized Histogram latency(Op op) {
        Histogram total = totals[op.ordinal()];
        total.add(recorders[op.ordinal()].getIntervalHistogram());
        return total.copy();
    }
}
