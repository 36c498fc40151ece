package dev.kvtier;

import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.metrics.CacheMetrics.Counter;
import dev.kvtier.metrics.CacheMetrics.Op;
import org.HdrHistogram.Histogram;

/**
 * A point-in-time snapshot of a cache's counters (cumulative since it was built), gauges and
 * latency histograms (nanoseconds per call). Immutable.
 */
public final class CacheStats {
    private final long[][] counts = new long[Counter.values().length][CacheMetrics.TIERS];
    private final long[] resident = new long[CacheMetrics.TIERS];
    private final long[] capacity = new long[CacheMetrics.TIERS];
    private final int activePins;
    private final Histogram[] latency = new Histogram[Op.values().length];

    CacheStats(CacheMetrics m, long[] residentBlocks, long[] capacityBlocks, int activePins) {
        for (Counter c : Counter.values()) {
            for (int t = 0; t < CacheMetrics.TIERS; t++) {
                counts[c.ordinal()][t] = t == 0 ? m.get(c) : 0;
            }
        }
        for (Counter c : new Counter[] {Counter.HIT_BLOCKS, Counter.LOADED_BLOCKS, Counter.LOADED_BYTES,
                Counter.STORED_BLOCKS, Counter.STORED_BYTES, Counter.EVICTED_BLOCKS}) {
            for (int t = 0; t < CacheMetrics.TIERS; t++) {
                counts[c.ordinal()][t] = m.get(c, t);
            }
        }
        System.arraycopy(residentBlocks, 0, resident, 0, resident.length);
        System.arraycopy(capacityBlocks, 0, capacity, 0, capacity.length);
        this.activePins = activePins;
        for (Op op : Op.values()) {
            latency[op.ordinal()] = m.latency(op);
        }
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

    public long loadCalls() {
        return one(Counter.LOAD_CALLS);
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

    /** Nanoseconds per {@code match} call. */
    public Histogram matchLatency() {
        return latency[Op.MATCH.ordinal()].copy();
    }

    /** Nanoseconds per {@code load} call. */
    public Histogram loadLatency() {
        return latency[Op.LOAD.ordinal()].copy();
    }

    /** Nanoseconds per {@code store} call. */
    public Histogram storeLatency() {
        return latency[Op.STORE.ordinal()].copy();
    }

    @Override
    public String toString() {
        return String.format("CacheStats[lookups=%d hits=%d (dram %d) loaded=%d lost=%d stored=%d "
                        + "evicted=%d resident=%d/%d pins=%d leaked=%d]",
                lookupBlocks(), hitBlocks(), hitBlocks(Tier.DRAM), loadedBlocks(), loadLostBlocks(),
                storedBlocks(Tier.DRAM), evictedBlocks(Tier.DRAM), residentBlocks(Tier.DRAM),
                capacityBlocks(Tier.DRAM), activePins, leakedPins());
    }
}
