package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CacheStats} is a snapshot (later work does not change it) and {@link CacheStats#minus}
 * gives the interval between two: counters and latencies of the interval, gauges of the later
 * one; {@link LatencySnapshot#minus} reports the interval's own percentiles.
 */
class CacheStatsTest {
    private static final int BYTES = 4096;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void anIntervalCountsWhatHappenedInItAndTakesGaugesFromTheLaterSnapshot() {
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("ssd"), BYTES, 32, 64, false, Compression.NONE)
                .build()) {
            BlockKey[] first = SsdFixtures.namespace("m").blockKeys(new int[4 * SsdFixtures.TOKENS]);
            cache.store(first, payloads(first));
            cache.match(first);
            cache.awaitIdle();
            CacheStats before = cache.stats();

            BlockKey[] second = SsdFixtures.namespace("m").blockKeys(tokens(12));
            assertEquals(12, cache.store(second, payloads(second)));
            assertEquals(12, cache.match(second).hitBlocks());
            cache.flush(java.time.Duration.ofSeconds(10));
            CacheStats after = cache.stats();
            CacheStats interval = after.minus(before);

            assertEquals(1, before.storeCalls(), "a snapshot does not follow the cache");
            assertEquals(1, before.storeLatency().count());
            assertEquals(1, interval.storeCalls());
            assertEquals(1, interval.matchCalls());
            assertEquals(12, interval.lookupBlocks());
            assertEquals(12, interval.storedBlocks(Tier.DRAM));
            assertEquals(1, interval.matchLatency().count());
            assertEquals(1, interval.storeLatency().count());
            assertEquals(after.storedBlocks(Tier.SSD) - before.storedBlocks(Tier.SSD), interval.storedBlocks(Tier.SSD));
            assertTrue(interval.storedBlocks(Tier.SSD) > 0, "the second prompt went down to the SSD: " + after);
            assertEquals(after.residentBlocks(Tier.DRAM), interval.residentBlocks(Tier.DRAM), "gauges are the later snapshot's");
            assertEquals(after.capacityBlocks(Tier.SSD), interval.capacityBlocks(Tier.SSD));
            assertEquals(after.activePins(), interval.activePins());
            assertEquals(1.0, interval.hitRate(), "the interval's own hit rate");

            CacheStats.DeviceIo io = interval.deviceIo(Tier.SSD);
            long writesBefore = before.deviceIo(Tier.SSD).writeLatency().count();
            assertEquals(after.deviceIo(Tier.SSD).writeLatency().count() - writesBefore, io.writeLatency().count());
            assertTrue(io.writeLatency().count() > 0);
            assertEquals(after.deviceIo(Tier.SSD).writeBytesPerSecond(), io.writeBytesPerSecond());
            assertNull(interval.deviceIo(Tier.DRAM));

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> before.minus(after));
            assertTrue(e.getMessage().contains("not an earlier snapshot"), e.getMessage());
            assertThrows(NullPointerException.class, () -> after.minus(null));
        }
    }

    @Test
    void anIntervalsLatencyIsItsOwnNotTheWholeRun() {
        long[] fast = new long[1_000];
        java.util.Arrays.fill(fast, 1_000);
        long[] both = java.util.Arrays.copyOf(fast, 1_010);
        java.util.Arrays.fill(both, 1_000, 1_010, 5_000_000);
        LatencySnapshot earlier = Latencies.of(fast);
        LatencySnapshot later = Latencies.of(both);
        assertEquals(1_000, later.p50Nanos(), 10, "the whole run's median is the fast calls'");

        LatencySnapshot interval = later.minus(earlier);
        assertEquals(10, interval.count());
        assertEquals(5_000_000, interval.p50Nanos(), 50_000);
        assertEquals(5_000_000, interval.maxNanos(), 50_000);
        assertEquals(5_000_000, interval.meanNanos(), 50_000);
        assertEquals(0, later.minus(later).count());
        assertEquals(0, LatencySnapshot.empty().maxNanos());
        assertThrows(IllegalArgumentException.class, () -> earlier.minus(later));
        assertThrows(IllegalArgumentException.class, () -> later.percentileNanos(100.5));
    }

    private static int[] tokens(int blocks) {
        int[] t = new int[blocks * SsdFixtures.TOKENS];
        for (int i = 0; i < t.length; i++) {
            t[i] = 7_000 + i;
        }
        return t;
    }

    private static ByteBuffer[] payloads(BlockKey[] keys) {
        ByteBuffer[] b = new ByteBuffer[keys.length];
        for (int i = 0; i < keys.length; i++) {
            b[i] = SsdFixtures.payload(keys[i], BYTES);
        }
        return b;
    }
}
