package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.nbd.NbdServer;
import dev.kvtier.offline.OfflineKnobs;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Engine defects found by review, each reproduced through the public API on real devices; each
 * test failed (or hung) on the engine before its fix.
 */
class EngineScenarioTest {
    private static final int BLOCK = 64 * 1024;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    /**
     * Background writes end: with an SSD larger than the remote tier, copying an SSD-only block to
     * the remote tier must not take the slot of a block that is also on the SSD (it would turn
     * SSD-only and be copied back, pushing out the next: unbounded writes, awaitIdle never
     * returning).
     */
    @Test
    void ssdToRemoteCopiesEndWhenTheRemoteTierIsSmallerThanTheSsd() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "16M");
                KvTierCache cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                        .dramCapacityBytes(4L * BLOCK)
                        .localSsd(dir.resolve("ssd.slots"), SsdFixtures.ssdBytes(35, BLOCK, false))
                        .remote(RemoteTier.builder(server.uri(), KvTierCacheBuilder.deviceBytesFor(8, BLOCK)).ways(4).build())
                        .flushOnClose(Duration.ZERO).build()) {
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                for (int i = 0; i < 40; i++) {
                    BlockKey[] chain = SsdFixtures.namespace("livelock").keysFromHashes(new long[] {1000 + i});
                    cache.store(chain, new ByteBuffer[] {SsdFixtures.payload(chain[0], BLOCK)});
                    cache.awaitIdle();
                }
            }, "awaitIdle returns after every store");
            Thread.sleep(2_000); // blocks set aside for want of a slot are retried each second: still bounded
            assertTrue(cache.stats().storedBlocks(Tier.REMOTE) <= 40,
                    "at most one remote write per block stored: " + cache.stats());
            ((TieredCache) cache).checkInvariants();
        }
    }

    /**
     * A load pins every block it will copy before it takes a page to promote any of them: the
     * page for block 0 (on the SSD only) must not come from evicting block 1 of the same load
     * (in DRAM only, refused a write by admission, so droppable). Driven by the {@code opt}
     * policy with a future the test sets, so every eviction and refusal is deterministic.
     */
    @Test
    void aLoadsPromotionNeverEvictsItsOwnTail() {
        Map<Long, Long> next = new HashMap<>();
        BlockKey[] a = SsdFixtures.namespace("tail").keysFromHashes(new long[] {1, 2});
        BlockKey[] f1 = SsdFixtures.namespace("tail").keysFromHashes(new long[] {3});
        BlockKey[] f2 = SsdFixtures.namespace("tail").keysFromHashes(new long[] {4});
        KvTierCacheBuilder opt = SsdFixtures.builder(dir.resolve("tail.slots"), BLOCK, 2, 16, false, Compression.NONE)
                .demoteAhead(1.0).flushOnClose(Duration.ZERO);
        try (KvTierCache cache = OfflineKnobs.building((hi, lo) -> next.getOrDefault(lo, Long.MAX_VALUE), null,
                opt::build)) {
            next.put(a[0].lo(), 10L);
            next.put(f1[0].lo(), 1L);
            next.put(f2[0].lo(), 1L);
            store(cache, a, 0);
            cache.awaitIdle();
            store(cache, f1, 0);
            cache.awaitIdle();
            store(cache, f2, 0); // evicts a0's clean DRAM copy, used furthest in the future
            cache.awaitIdle();
            assertEquals(Tier.SSD, cache.match(new BlockKey[] {a[0]}).tier(0), "a0 is on the SSD only");
            next.put(f1[0].lo(), 100L);
            next.put(f2[0].lo(), 100L);
            next.put(a[1].lo(), 10L);
            assertEquals(1, store(cache, a, 1), "a1 enters DRAM under its parent on the SSD");
            next.put(a[1].lo(), Long.MAX_VALUE); // never used again: its write is refused, so it is droppable
            cache.awaitIdle();
            BlockHandle first = cache.acquire(f1[0]);
            try (BlockHandle pinned = first != null ? first : cache.acquire(f2[0])) {
                assertTrue(pinned != null, "a filler is in DRAM beside a1");
                PrefixMatch m = cache.match(a);
                cache.awaitIdle();
                assertEquals(Tier.SSD, m.tier(0));
                assertEquals(Tier.DRAM, m.tier(1));
                ByteBuffer[] dst = {ByteBuffer.allocateDirect(BLOCK), ByteBuffer.allocateDirect(BLOCK)};
                assertEquals(2, cache.load(m, dst).join());
                for (int i = 0; i < 2; i++) {
                    assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), a[i]), "block " + i);
                }
            }
            ((TieredCache) cache).checkInvariants();
        }
    }

    private static int store(KvTierCache cache, BlockKey[] chain, int i) {
        ByteBuffer[] src = new ByteBuffer[i + 1]; // indexed like the keys; only src[i] is read
        src[i] = SsdFixtures.payload(chain[i], BLOCK);
        return cache.store(chain, src, i, 1);
    }

    /**
     * A load does not read a remote slot our own demoter is rewriting: it ends before that block
     * (a miss), instead of reading a wiped header, counting a mismatch and dropping the block.
     * The remote tier has one slot, and nbdkit delays every write by a second, so the rewrite
     * (wipe, payload, header) of block a's slot by block x's demotion spans three seconds; the
     * load runs in the middle of it.
     */
    @Test
    void aLoadSkipsARemoteSlotOurDemoterIsRewriting() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("--filter=delay", "memory", "16M", "wdelay=1");
                KvTierCache cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                        .dramCapacityBytes(2L * BLOCK).demoteAhead(1.0)
                        .remote(RemoteTier.builder(server.uri(), KvTierCacheBuilder.deviceBytesFor(1, BLOCK)).ways(1)
                                .timeout(Duration.ofSeconds(10)).build()).flushOnClose(Duration.ZERO).build()) {
            BlockKey[] a = SsdFixtures.namespace("claimed").keysFromHashes(new long[] {1});
            BlockKey[] x = SsdFixtures.namespace("claimed").keysFromHashes(new long[] {2});
            BlockKey[] y = SsdFixtures.namespace("claimed").keysFromHashes(new long[] {3});
            cache.store(a, new ByteBuffer[] {SsdFixtures.payload(a[0], BLOCK)});
            cache.awaitIdle();
            assertEquals(1, cache.stats().storedBlocks(Tier.REMOTE), "a is on the remote tier");
            cache.store(x, new ByteBuffer[] {SsdFixtures.payload(x[0], BLOCK)}); // unplaceable while a is in DRAM
            long storedX = System.nanoTime();
            cache.store(y, new ByteBuffer[] {SsdFixtures.payload(y[0], BLOCK)}); // evicts a's clean DRAM copy
            PrefixMatch m = cache.match(a);
            assertEquals(Tier.REMOTE, m.tier(0), "a is on the remote tier only");
            // x is retried a second after it was set aside; its wipe lands a second later, its header a second after that
            Thread.sleep(Math.max(0, 3_000 - (System.nanoTime() - storedX) / 1_000_000));
            assertEquals(0, cache.load(cache.match(a), new ByteBuffer[] {ByteBuffer.allocateDirect(BLOCK)}).join(),
                    "the slot is being rewritten: a miss");
            assertEquals(0, cache.stats().mismatchedBlocks(Tier.REMOTE) + cache.stats().corruptBlocks(Tier.REMOTE),
                    "nothing read from the slot being rewritten: " + cache.stats());
            cache.awaitIdle();
            assertEquals(2, cache.stats().storedBlocks(Tier.REMOTE), "x took the slot: " + cache.stats());
            ((TieredCache) cache).checkInvariants();
        }
    }
}
