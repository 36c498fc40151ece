package dev.kvtier;

import dev.kvtier.io.IoEngine;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import java.util.List;
import java.util.Objects;

/**
 * A point-in-time snapshot of a cache's counters (cumulative since it was built), gauges (the
 * state now: resident and capacity blocks, active pins, admit shares, device bandwidth and
 * failure) and latency distributions. Immutable, and free of third-party types: latencies are
 * {@link LatencySnapshot}s.
 *
 * <p>{@link #minus} turns two snapshots of one cache into the interval between them: counters
 * and latency distributions are those of the interval, gauges those of the later snapshot.
 */
public final class CacheStats {
    private final long[][] counts;
    private final long[] resident;
    private final long[] capacity;
    private final int activePins;
    private final long recoveryMillis;
    private final LatencySnapshot[] latency;
    private final DeviceIo[] io;
    private final double[] admitShares;

    /**
     * What a tier's device did, measured by its I/O engine: request latency from submission to
     * completion (a load's read of one block, a demotion's write of one block), moving averages
     * of bandwidth (bytes per second of device time, 0 before any request; gauges), writes
     * declined because the queue was full or the device had failed, requests that outwaited
     * their deadline, and whether the device has failed now (for example its file was
     * truncated): then its blocks are misses and its writes are declined until the cache is
     * reopened.
     */
    public record DeviceIo(LatencySnapshot readLatency, LatencySnapshot writeLatency, double readBytesPerSecond,
            double writeBytesPerSecond, long declinedWrites, long timedOutRequests, boolean failed) {

        /** Checks that no component is null. */
        public DeviceIo {
            Objects.requireNonNull(readLatency, "readLatency");
            Objects.requireNonNull(writeLatency, "writeLatency");
        }

        /** The devices of one tier together: latencies merged, bandwidths and counts summed, failed when all failed. */
        static DeviceIo of(List<IoEngine> engines) {
            LatencySnapshot read = LatencySnapshot.empty();
            LatencySnapshot write = LatencySnapshot.empty();
            double readBw = 0;
            double writeBw = 0;
            long declined = 0;
            long timedOut = 0;
            boolean failed = true;
            for (IoEngine e : engines) {
                read = read.plus(LatencySnapshot.of(e.latency(IoEngine.Kind.READ)));
                write = write.plus(LatencySnapshot.of(e.latency(IoEngine.Kind.WRITE)));
                readBw += e.bandwidth(IoEngine.Kind.READ);
                writeBw += e.bandwidth(IoEngine.Kind.WRITE);
                declined += e.declinedWrites();
                timedOut += e.timedOutRequests();
                failed &= e.device().failed();
            }
            return new DeviceIo(read, write, readBw, writeBw, declined, timedOut, failed);
        }

        /** The interval since {@code earlier}: latencies and counts of the interval, bandwidths and failure of this one. */
        public DeviceIo minus(DeviceIo earlier) {
            Objects.requireNonNull(earlier, "earlier");
            return new DeviceIo(readLatency.minus(earlier.readLatency), writeLatency.minus(earlier.writeLatency),
                    readBytesPerSecond, writeBytesPerSecond, declinedWrites - earlier.declinedWrites,
                    timedOutRequests - earlier.timedOutRequests, failed);
        }
    }

    CacheStats(CacheMetrics m, long[] residentBlocks, long[] capacityBlocks, int activePins, long recoveryMillis,
            List<List<IoEngine>> engines, double[] admitShares) {
        this.counts = new long[Counter.values().length][CacheMetrics.TIERS];
        for (Counter c : Counter.values()) {
            for (int t = 0; t < CacheMetrics.TIERS; t++) {
                counts[c.ordinal()][t] = c.perTier() ? m.get(c, t) : t == 0 ? m.get(c) : 0;
            }
        }
        this.resident = residentBlocks.clone();
        this.capacity = capacityBlocks.clone();
        this.activePins = activePins;
        this.recoveryMillis = recoveryMillis;
        this.latency = new LatencySnapshot[Op.values().length];
        for (Op op : Op.values()) {
            latency[op.ordinal()] = LatencySnapshot.of(m.latency(op));
        }
        this.io = new DeviceIo[CacheMetrics.TIERS];
        for (int t = 0; t < engines.size(); t++) {
            io[t] = engines.get(t).isEmpty() ? null : DeviceIo.of(engines.get(t));
        }
        this.admitShares = admitShares.clone();
    }

    /** The interval from {@code earlier} to {@code later}; see {@link #minus}. */
    private CacheStats(CacheStats later, CacheStats earlier) {
        this.counts = new long[later.counts.length][];
        for (int c = 0; c < counts.length; c++) {
            counts[c] = new long[later.counts[c].length];
            for (int t = 0; t < counts[c].length; t++) {
                long d = later.counts[c][t] - earlier.counts[c][t];
                if (d < 0) {
                    throw notEarlier(Counter.values()[c] + " went from " + earlier.counts[c][t] + " to "
                            + later.counts[c][t]);
                }
                counts[c][t] = d;
            }
        }
        this.resident = later.resident;
        this.capacity = later.capacity;
        this.activePins = later.activePins;
        this.recoveryMillis = later.recoveryMillis;
        this.latency = new LatencySnapshot[later.latency.length];
        for (int op = 0; op < latency.length; op++) {
            latency[op] = later.latency[op].minus(earlier.latency[op]);
        }
        this.io = new DeviceIo[later.io.length];
        for (int t = 0; t < io.length; t++) {
            if ((later.io[t] == null) != (earlier.io[t] == null)) {
                throw notEarlier("the " + Tier.values()[t] + " tier is in one snapshot only");
            }
            io[t] = later.io[t] == null ? null : later.io[t].minus(earlier.io[t]);
        }
        this.admitShares = later.admitShares;
    }

    private static IllegalArgumentException notEarlier(String what) {
        return new IllegalArgumentException("minus: the argument is not an earlier snapshot of the same cache: " + what);
    }

    /**
     * What happened between {@code earlier} and this snapshot, both taken from the same cache by
     * {@link KvTierCache#stats()}, {@code earlier} first: every counter and every latency
     * distribution ({@link #matchLatency()}, {@link DeviceIo#readLatency()}, ...) covers the
     * interval only; gauges ({@link #residentBlocks}, {@link #capacityBlocks},
     * {@link #activePins}, {@link #admitShare}, device bandwidths and {@link DeviceIo#failed})
     * and {@link #ssdRecoveryMillis} are this snapshot's. Derived figures ({@link #hitRate},
     * {@link #compressionRatio}) are those of the interval. Throws
     * {@link IllegalArgumentException} when a counter of {@code earlier} is above this one's (it
     * was taken later, or from another cache).
     */
    public CacheStats minus(CacheStats earlier) {
        return new CacheStats(this, Objects.requireNonNull(earlier, "earlier"));
    }

    /**
     * Blocks admission refused for {@code tier}: for DRAM, new blocks a store did not keep (with
     * the rest of their chain); for a device tier, blocks not written to it.
     */
    public long rejectedBlocks(Tier tier) {
        return of(Counter.REJECTED_BLOCKS, tier);
    }

    /** The share of new chains the admission policy admits into {@code tier} now, 0 to 1. */
    public double admitShare(Tier tier) {
        return admitShares[tier.ordinal()];
    }

    /** What {@code tier}'s device did (see {@link DeviceIo}), or null for DRAM and absent tiers. */
    public DeviceIo deviceIo(Tier tier) {
        return io[tier.ordinal()];
    }

    private long total(Counter c) {
        long s = 0;
        for (long v : counts[c.ordinal()]) {
            s += v;
        }
        return s;
    }

    private long of(Counter c, Tier t) {
        return counts[c.ordinal()][t.ordinal()];
    }

    private long one(Counter c) {
        return counts[c.ordinal()][0];
    }

    /** Calls to {@code match}. */
    public long matchCalls() {
        return one(Counter.MATCH_CALLS);
    }

    /** Keys asked for by {@code match}. */
    public long lookupBlocks() {
        return one(Counter.LOOKUP_BLOCKS);
    }

    /** Blocks {@code match} found, in all tiers. */
    public long hitBlocks() {
        return total(Counter.HIT_BLOCKS);
    }

    /** Blocks {@code match} found in {@code tier}. */
    public long hitBlocks(Tier tier) {
        return of(Counter.HIT_BLOCKS, tier);
    }

    /** Keys {@code match} did not find (the rest of each chain after its first miss). */
    public long missBlocks() {
        return one(Counter.MISS_BLOCKS);
    }

    /** Hit blocks over looked-up blocks, or 0 before the first lookup. */
    public double hitRate() {
        long n = lookupBlocks();
        return n == 0 ? 0 : (double) hitBlocks() / n;
    }

    /** Loads whose future completed or was cancelled. */
    public long loadCalls() {
        return one(Counter.LOAD_CALLS);
    }

    /** Loads the caller cancelled (among {@link #loadCalls}); their undelivered blocks count as lost. */
    public long cancelledLoads() {
        return one(Counter.LOAD_CANCELS);
    }

    /** Blocks copied to callers, from all tiers. */
    public long loadedBlocks() {
        return total(Counter.LOADED_BLOCKS);
    }

    public long loadedBlocks(Tier tier) {
        return of(Counter.LOADED_BLOCKS, tier);
    }

    public long loadedBytes() {
        return total(Counter.LOADED_BYTES);
    }

    /** Blocks a load could not serve although match had reported them (evicted in between, or failed). */
    public long loadLostBlocks() {
        return one(Counter.LOAD_LOST_BLOCKS);
    }

    public long storeCalls() {
        return one(Counter.STORE_CALLS);
    }

    /** Blocks newly written into {@code tier}. */
    public long storedBlocks(Tier tier) {
        return of(Counter.STORED_BLOCKS, tier);
    }

    public long storedBytes(Tier tier) {
        return of(Counter.STORED_BYTES, tier);
    }

    /** Blocks a store skipped because they were already kept. */
    public long storeDuplicateBlocks() {
        return one(Counter.STORE_DUPLICATE_BLOCKS);
    }

    /** Blocks a store declined because their parent is not kept (prefix rule). */
    public long storeOrphanBlocks() {
        return one(Counter.STORE_ORPHAN_BLOCKS);
    }

    /** Blocks a store declined because every page was pinned or being written. */
    public long storeNoSpaceBlocks() {
        return one(Counter.STORE_NO_SPACE_BLOCKS);
    }

    public long evictedBlocks(Tier tier) {
        return of(Counter.EVICTED_BLOCKS, tier);
    }

    public long invalidatedBlocks() {
        return one(Counter.INVALIDATED_BLOCKS);
    }

    public long acquires() {
        return one(Counter.ACQUIRES);
    }

    /** Handles that were garbage collected without {@code close()}. */
    public long leakedPins() {
        return one(Counter.LEAKED_PINS);
    }

    /** Pins held right now (open handles and loads in progress). */
    public int activePins() {
        return activePins;
    }

    /** Blocks readable in {@code tier} right now. */
    public long residentBlocks(Tier tier) {
        return resident[tier.ordinal()];
    }

    /** Blocks {@code tier} can hold; 0 when the tier is absent. */
    public long capacityBlocks(Tier tier) {
        return capacity[tier.ordinal()];
    }

    /** Blocks evicted from DRAM that had no copy in a lower tier, so left the cache. */
    public long droppedBlocks() {
        return one(Counter.DROPPED_BLOCKS);
    }

    /** Demotions not attempted because the lower tier had no slot that could be freed. */
    public long demoteDeclinedBlocks() {
        return one(Counter.DEMOTE_DECLINED_BLOCKS);
    }

    /** Demotions whose device write failed (device full or failing). */
    public long demoteFailedBlocks() {
        return one(Counter.DEMOTE_FAILED_BLOCKS);
    }

    /** Blocks read from a lower tier and copied back into DRAM. */
    public long promotedBlocks() {
        return total(Counter.PROMOTED_BLOCKS);
    }

    /** Blocks read from {@code tier} and copied back into DRAM. */
    public long promotedBlocks(Tier tier) {
        return of(Counter.PROMOTED_BLOCKS, tier);
    }

    /** Reads from {@code tier} that failed a checksum, header, seal or decoding check: served as misses. */
    public long corruptBlocks(Tier tier) {
        return of(Counter.CORRUPT_BLOCKS, tier);
    }

    /** Reads from {@code tier} whose slot held another block than expected: served as misses. */
    public long mismatchedBlocks(Tier tier) {
        return of(Counter.MISMATCHED_BLOCKS, tier);
    }

    /** Reads from {@code tier} that failed with an I/O error: served as misses. */
    public long readErrors(Tier tier) {
        return of(Counter.READ_ERRORS, tier);
    }

    /** Slot wipes on {@code tier} that failed with an I/O error. */
    public long writeErrors(Tier tier) {
        return of(Counter.WRITE_ERRORS, tier);
    }

    /** Device bytes written to {@code tier} for blocks, after compression. */
    public long encodedBytes(Tier tier) {
        return of(Counter.ENCODED_BYTES, tier);
    }

    /** Block bytes written to {@code tier} over device bytes used for them (1 without compression). */
    public double compressionRatio(Tier tier) {
        long encoded = encodedBytes(tier);
        return encoded == 0 ? 1.0 : (double) storedBytes(tier) / encoded;
    }

    /** Blocks the index found on {@code tier}'s device when the cache opened. */
    public long recoveredBlocks(Tier tier) {
        return of(Counter.RECOVERED_BLOCKS, tier);
    }

    /** Slots discarded at open: corrupt or stale headers, orphans, older duplicates. */
    public long recoveryDiscardedSlots(Tier tier) {
        return of(Counter.RECOVERY_DISCARDED_SLOTS, tier);
    }

    /** Blocks found on the shared {@code tier} by a lookup after a local miss (written by another process, or forgotten). */
    public long discoveredBlocks(Tier tier) {
        return of(Counter.DISCOVERED_BLOCKS, tier);
    }

    /** Milliseconds stores waited for a clean DRAM page ({@link KvTierCacheBuilder#storeWait}). */
    public long storeWaitMillis() {
        return one(Counter.STORE_WAIT_NANOS) / 1_000_000;
    }

    /** Blocks written to {@code tier} by flushes ({@link KvTierCache#flush}, and on close). */
    public long flushedBlocks(Tier tier) {
        return of(Counter.FLUSHED_BLOCKS, tier);
    }

    /** Flushes run, explicit and on close. */
    public long flushes() {
        return one(Counter.FLUSHES);
    }

    /** Flushes that ended with blocks left to write: time budget spent, no slot left, or a failed write. */
    public long incompleteFlushes() {
        return one(Counter.INCOMPLETE_FLUSHES);
    }

    /** Milliseconds spent in flushes, including waiting for one already running. */
    public long flushMillis() {
        return one(Counter.FLUSH_NANOS) / 1_000_000;
    }

    /** Milliseconds the SSD index rebuild took when the cache opened (0 without an SSD tier). */
    public long ssdRecoveryMillis() {
        return recoveryMillis;
    }

    /** Latency of {@code match} calls. */
    public LatencySnapshot matchLatency() {
        return latency[Op.MATCH.ordinal()];
    }

    /** Latency of {@code load} calls, from the call until its future completes or is cancelled. */
    public LatencySnapshot loadLatency() {
        return latency[Op.LOAD.ordinal()];
    }

    /** Latency of {@code store} calls. */
    public LatencySnapshot storeLatency() {
        return latency[Op.STORE.ordinal()];
    }

    @Override
    public String toString() {
        return String.format("CacheStats[lookups=%d hits=%d (dram %d, ssd %d, remote %d) loaded=%d lost=%d "
                        + "stored=%d demoted=%d/%d evicted=%d/%d resident=%d/%d+%d/%d+%d pins=%d leaked=%d "
                        + "corrupt=%d/%d mismatched=%d]",
                lookupBlocks(), hitBlocks(), hitBlocks(Tier.DRAM), hitBlocks(Tier.SSD), hitBlocks(Tier.REMOTE),
                loadedBlocks(), loadLostBlocks(), storedBlocks(Tier.DRAM), storedBlocks(Tier.SSD),
                storedBlocks(Tier.REMOTE), evictedBlocks(Tier.DRAM), evictedBlocks(Tier.SSD), residentBlocks(Tier.DRAM),
                capacityBlocks(Tier.DRAM), residentBlocks(Tier.SSD), capacityBlocks(Tier.SSD),
                residentBlocks(Tier.REMOTE), activePins, leakedPins(), corruptBlocks(Tier.SSD),
                corruptBlocks(Tier.REMOTE), mismatchedBlocks(Tier.REMOTE));
    }
}
