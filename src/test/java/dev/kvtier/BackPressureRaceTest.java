package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.BufferedFileDevice;
import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.metrics.CacheMetrics;
import dev.kvtier.tier.DramTier;
import dev.kvtier.tier.SlotTier;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store waiting for a clean page (back-pressure) releases the table's lock; what changes
 * meanwhile must not corrupt the index. On a bare block table with an SSD tier and no demoter,
 * so nothing cleans a page and each store waits until another thread frees one (found by review:
 * before, the store inserted its block under the entry of a parent freed meanwhile, often its
 * own recycled entry, so walks up the chain never ended; two stores of one key both inserted it;
 * and close() returned while a store was waiting, which then wrote into freed DRAM).
 */
class BackPressureRaceTest {
    private static final int BLOCK = 4096;
    private static final long WAIT_NANOS = 5_000_000_000L;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    private BlockTable table(int pages) throws Exception {
        DramTier dram = new DramTier((long) pages * BLOCK, BLOCK);
        SlotTier ssd = SlotTier.open(BufferedFileDevice.open(dir.resolve("t.slots"),
                SsdFixtures.ssdBytes(16, BLOCK, false), true), SsdFixtures.TOKENS, BLOCK, null, true);
        DeviceTier device = DeviceTier.local(Tier.SSD, ssd, new IoEngine(ssd.device(), 1, 16, 16, 10_000));
        return new BlockTable(dram, new DeviceTier[] {device}, new CacheMetrics(), 0.125, new CacheConfig.Policy(CachePolicy.LRU,
                null, new double[3], System::nanoTime, null, SsdFixtures.TOKENS));
    }

    private static int store(BlockTable t, BlockKey[] keys, int from, int count, long waitNanos) {
        int[] s = new int[3 * count + 3];
        int n = t.reserveStore(keys, from, count, s, waitNanos == 0 ? 0 : System.nanoTime() + waitNanos);
        t.publishStore(s, n, true);
        return n;
    }

    @Test
    void aStoreThatWaitedLooksItsParentUpAgain() throws Exception {
        BlockTable t = table(2);
        Namespace n = SsdFixtures.namespace("orphan-n");
        BlockKey[] a = n.keysFromHashes(new long[] {1, 2});
        store(t, a, 0, 1, 0);
        store(t, SsdFixtures.namespace("orphan-m").keysFromHashes(new long[] {3}), 0, 1, 0); // full, both dirty
        AtomicInteger stored = new AtomicInteger(-1);
        Thread writer = new Thread(() -> stored.set(store(t, a, 1, 1, WAIT_NANOS)));
        writer.start();
        Thread.sleep(200);
        assertTrue(writer.isAlive(), "the store waits for a page");
        assertEquals(1, t.invalidateNamespace(n.rootHi(), n.rootLo()), "its parent leaves, freeing a page");
        writer.join(3_000);
        assertFalse(writer.isAlive(), "the freed page woke the store");
        assertEquals(0, stored.get(), "the child of a parent gone meanwhile is not stored");
        t.checkInvariants();
    }

    @Test
    void twoStoresOfOneKeyThatWaitedInsertItOnce() throws Exception {
        BlockTable t = table(2);
        Namespace x = SsdFixtures.namespace("dup-x");
        store(t, x.keysFromHashes(new long[] {1}), 0, 1, 0);
        store(t, SsdFixtures.namespace("dup-y").keysFromHashes(new long[] {2}), 0, 1, 0); // full, both dirty
        BlockKey[] shared = SsdFixtures.namespace("dup-shared").keysFromHashes(new long[] {7});
        int[] got = new int[2];
        Thread[] writers = new Thread[2];
        for (int w = 0; w < 2; w++) {
            int me = w;
            writers[w] = new Thread(() -> got[me] = store(t, shared, 0, 1, 1_500_000_000L));
            writers[w].start();
        }
        Thread.sleep(200);
        t.invalidateNamespace(x.rootHi(), x.rootLo()); // one page frees
        for (Thread w : writers) {
            w.join();
        }
        assertEquals(1, got[0] + got[1], "the shared key is stored once");
        t.checkInvariants();
    }

    @Test
    void closeWaitsForAStoreInItsWaitAndTheStoreStops() throws Exception {
        BlockTable t = table(2);
        store(t, SsdFixtures.namespace("close-n").keysFromHashes(new long[] {1, 2}), 0, 2, 0); // full, dirty
        AtomicInteger outcome = new AtomicInteger(-1);
        BlockKey[] other = SsdFixtures.namespace("close-m").keysFromHashes(new long[] {9});
        Thread writer = new Thread(() -> {
            int[] s = new int[6];
            outcome.set(t.reserveStore(other, 0, 1, s, System.nanoTime() + WAIT_NANOS));
        });
        writer.start();
        Thread.sleep(200);
        long t0 = System.nanoTime();
        assertTrue(t.beginClose(), "close woke the waiting store and waited for it (it counts as a copy in flight)");
        assertTrue(System.nanoTime() - t0 < WAIT_NANOS / 2, "close did not wait out the store's budget");
        writer.join();
        assertEquals(0, outcome.get(), "a store woken by close reserves nothing (before: it took a page after close)");
        assertEquals(2, t.gauges().resident()[BlockTable.DRAM], "no page was taken");
    }
}
