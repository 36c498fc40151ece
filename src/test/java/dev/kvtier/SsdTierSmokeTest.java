package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** DRAM + SSD end to end: spill, load from SSD, promote, reopen and find the blocks again. */
class SsdTierSmokeTest {
    @TempDir
    Path dir;

    @Test
    void blocksSpillToSsdAndSurviveReopen() throws Exception {
        Namespace ns = Namespace.builder("ssd-smoke").blockTokens(16).build();
        long[] ids = new long[64];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        BlockKey[] keys = ns.keysFromHashes(ids);
        ByteBuffer[] bufs = new ByteBuffer[64];
        for (int i = 0; i < 64; i++) {
            bufs[i] = ByteBuffer.allocateDirect(4096);
            for (int j = 0; j < 4096; j += 8) {
                bufs[i].putLong(j, keys[i].lo() * 31 + j);
            }
        }
        Path file = dir.resolve("ssd.slots");
        for (Compression c : Compression.values()) {
            try (TieredCache cache = open(file, c)) {
                for (int i = 0; i < 64; i += 8) {
                    cache.store(keys, bufs, i, 8);
                    cache.awaitIdle();
                }
                CacheStats s = cache.stats();
                assertTrue(s.storedBlocks(Tier.SSD) > 0, "spilled to SSD: " + s);
                PrefixMatch m = cache.match(keys);
                assertEquals(64, m.hitBlocks(), "whole chain still kept: " + s);
                assertTrue(m.hitBlocks(Tier.SSD) > 0);
                ByteBuffer[] out = fresh(64);
                assertEquals(64, cache.load(m, out).join(), () -> c + " " + cache.stats());
                for (int i = 0; i < 64; i++) {
                    assertEquals(bufs[i], out[i], "block " + i);
                }
                cache.checkInvariants();
            }
            try (TieredCache cache = open(file, c)) {
                CacheStats s = cache.stats();
                assertTrue(s.recoveredBlocks(Tier.SSD) > 0, "recovered " + s);
                PrefixMatch m = cache.match(keys);
                assertTrue(m.hitBlocks() > 0, "found after reopen: " + s);
                ByteBuffer[] out = fresh(64);
                int n = cache.load(m, out).join();
                assertEquals(m.hitBlocks(), n);
                for (int i = 0; i < n; i++) {
                    assertEquals(bufs[i], out[i], "block " + i + " after reopen");
                }
                cache.checkInvariants();
                cache.invalidate(ns);
            }
        }
    }

    /**
     * A parent whose only copy is on SSD keeps it while a child in DRAM needs it: with the SSD
     * full of the chain's ancestors, the child's demotion is declined rather than evicting the
     * parent (which would orphan the child).
     */
    @Test
    void ssdKeepsTheParentOfAChildStillInDram() {
        Namespace ns = Namespace.builder("ssd-parent").blockTokens(16).build();
        BlockKey[] keys = ns.keysFromHashes(new long[] {1, 2, 3, 4, 5});
        ByteBuffer[] bufs = fresh(5);
        try (TieredCache cache = (TieredCache) KvTierCache.builder().blockTokens(16).blockBytes(4096)
                .dramCapacityBytes(4 * 4096).localSsd(dir.resolve("small.slots"), 8192 + 5 * 4224)
                .demoteAhead(1.0).build()) {
            assertEquals(4, cache.stats().capacityBlocks(Tier.SSD));
            assertEquals(4, cache.store(keys, bufs, 0, 4));
            cache.awaitIdle();
            assertEquals(4, cache.stats().storedBlocks(Tier.SSD), "write-through filled the SSD");
            assertEquals(1, cache.store(keys, bufs, 4, 1), "the parent's clean DRAM copy made room");
            cache.awaitIdle();
            assertTrue(cache.stats().demoteDeclinedBlocks() >= 1, () -> "no SSD slot could be freed for the child "
                    + cache.stats() + " declined " + cache.stats().demoteDeclinedBlocks());
            assertEquals(5, cache.match(keys).hitBlocks());
            cache.checkInvariants();
        }
    }

    /**
     * An SSD no larger than DRAM: every SSD block also sits in DRAM soon, and writing one more
     * must not evict another's SSD copy (that only moves the dirty page around, and the demoter
     * did so forever, so awaitIdle never returned). Every store is followed by awaitIdle.
     */
    @Test
    @Timeout(60)
    void anSsdSmallerThanDramLetsTheDemoterRest() {
        Namespace ns = Namespace.builder("ssd-small").blockTokens(16).build();
        ByteBuffer[] bufs = fresh(24);
        try (TieredCache cache = (TieredCache) SsdFixtures.builder(dir.resolve("smaller.slots"), 4096, 64, 60, false,
                Compression.NONE).build()) {
            for (int p = 0; p < 300; p++) {
                long[] ids = new long[8 + p % 17];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = i < 4 ? p % 5 * 100 + i : 1_000 * p + i; // a shared head, then the request's own blocks
                }
                BlockKey[] keys = ns.keysFromHashes(ids);
                int hit = cache.match(keys).hitBlocks();
                cache.store(keys, bufs, hit, keys.length - hit);
                cache.awaitIdle();
            }
            assertTrue(cache.stats().storedBlocks(Tier.SSD) > 0, "nothing was demoted: " + cache.stats());
            cache.checkInvariants();
        }
    }

    private TieredCache open(Path file, Compression c) {
        return (TieredCache) KvTierCache.builder().blockTokens(16).blockBytes(4096).dramCapacityBytes(16 * 4096)
                .localSsd(file, 1 << 20).ssdCompression(c).build();
    }

    private static ByteBuffer[] fresh(int n) {
        ByteBuffer[] b = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(4096);
        }
        return b;
    }
}
