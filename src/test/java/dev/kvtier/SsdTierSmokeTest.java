package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
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
                    cache.store(keys, i, 8, slice(bufs, i));
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

    private TieredCache open(Path file, Compression c) {
        return (TieredCache) KvTierCache.builder().blockTokens(16).blockBytes(4096).dramCapacityBytes(16 * 4096)
                .localSsd(file, 1 << 20).ssdCompression(c).build();
    }

    private static ByteBuffer[] slice(ByteBuffer[] b, int from) {
        return java.util.Arrays.copyOfRange(b, from, b.length);
    }

    private static ByteBuffer[] fresh(int n) {
        ByteBuffer[] b = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(4096);
        }
        return b;
    }
}
