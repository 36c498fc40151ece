package dev.kvtier;

import static dev.kvtier.Blocks.NS;
import static dev.kvtier.Blocks.directPayloads;
import static dev.kvtier.Blocks.prompt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each reason a store gives for blocks it did not store, provoked for real on a real cache, and
 * the same counts in {@link CacheStats}: already kept, parent missing, refused by admission, no
 * DRAM page; and a streaming store (longer than DRAM) whose first piece stops counts its later
 * pieces under the same reason.
 */
class StoreResultTest {
    private static final int BYTES = 64;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void alreadyKeptBlocksAreSkippedAndTheRestStored() {
        try (TieredCache cache = Blocks.cache(BYTES, 8, CachePolicy.LRU)) {
            BlockKey[] keys = prompt(NS, 1, 5);
            ByteBuffer[] src = directPayloads(keys, BYTES);
            StoreResult r = new StoreResult();
            assertEquals(3, cache.store(keys, src, 0, 3, r));
            assertCounts(r, 3, 3, 0, 0, 0, 0);
            assertEquals(2, cache.store(keys, src, 0, 5, r), "the same result object, reused");
            assertCounts(r, 5, 2, 3, 0, 0, 0);
            assertEquals(3, cache.stats().storeDuplicateBlocks());
        }
    }

    @Test
    void blocksWhoseParentIsNotKeptAreNotStored() {
        try (TieredCache cache = Blocks.cache(BYTES, 8, CachePolicy.LRU)) {
            BlockKey[] keys = prompt(NS, 2, 5);
            StoreResult r = new StoreResult();
            assertEquals(0, cache.store(keys, directPayloads(keys, BYTES), 2, 3, r));
            assertCounts(r, 3, 0, 0, 3, 0, 0);
            assertEquals(3, cache.stats().storeOrphanBlocks());
        }
    }

    @Test
    void blocksAdmissionRefusesAreNotStored() {
        try (TieredCache cache = Blocks.cache(BYTES, 8, CachePolicy.SECOND_HIT)) {
            BlockKey[] keys = prompt(NS, 3, 4);
            ByteBuffer[] src = directPayloads(keys, BYTES);
            StoreResult r = new StoreResult();
            assertEquals(0, cache.store(keys, src, 0, 4, r), "second-hit: never looked up, so never seen twice");
            assertCounts(r, 4, 0, 0, 0, 4, 0);
            assertEquals(4, cache.stats().rejectedBlocks(Tier.DRAM));
            cache.match(keys);
            cache.match(keys);
            assertEquals(4, cache.store(keys, src, 0, 4, r), "seen twice now");
            assertCounts(r, 4, 4, 0, 0, 0, 0);
        }
    }

    @Test
    void blocksWithoutAFreeablePageAreNotStored() {
        try (TieredCache cache = Blocks.cache(BYTES, 4, CachePolicy.LRU)) {
            BlockKey[] held = prompt(NS, 4, 4);
            cache.store(held, directPayloads(held, BYTES));
            List<BlockHandle> pins = new ArrayList<>();
            for (BlockKey k : held) {
                pins.add(pinned(cache.acquire(k)));
            }
            BlockKey[] keys = prompt(NS, 5, 3);
            StoreResult r = new StoreResult();
            assertEquals(0, cache.store(keys, directPayloads(keys, BYTES), 0, 3, r), "every page is pinned");
            assertCounts(r, 3, 0, 0, 0, 0, 3);
            assertEquals(3, cache.stats().storeNoSpaceBlocks());
            pins.forEach(BlockHandle::close);
            assertEquals(3, cache.store(keys, directPayloads(keys, BYTES), 0, 3, r));
            assertCounts(r, 3, 3, 0, 0, 0, 0);
        }
    }

    @Test
    void aStreamingStoreCountsThePiecesAfterTheOneThatStoppedUnderItsReason() {
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("ssd"), 4096, 4, 64, false, Compression.NONE)
                .storeWait(Duration.ofSeconds(5)).flushOnClose(Duration.ZERO).build()) {
            BlockKey[] keys = SsdFixtures.namespace("stream").keysFromHashes(longs(12));
            ByteBuffer[] src = new ByteBuffer[12];
            for (int i = 0; i < 12; i++) {
                src[i] = SsdFixtures.payload(keys[i], 4096);
            }
            StoreResult r = new StoreResult();
            assertEquals(0, cache.store(keys, src, 1, 11, r), "11 blocks in pieces of 2 pages; the first is an orphan");
            assertCounts(r, 11, 0, 0, 11, 0, 0);
            assertEquals(11, cache.stats().storeOrphanBlocks(), "stats count every piece too");
            assertEquals(12, cache.store(keys, src, 0, 12, r), "the whole chain streams through");
            assertCounts(r, 12, 12, 0, 0, 0, 0);
        }
    }

    @Test
    void aNullResultIsBadInput() {
        try (TieredCache cache = Blocks.cache(BYTES, 4)) {
            BlockKey[] keys = prompt(NS, 6, 1);
            assertThrows(NullPointerException.class, () -> cache.store(keys, directPayloads(keys, BYTES), 0, 1, null));
            assertEquals(0, cache.stats().storeCalls());
        }
    }

    private static void assertCounts(StoreResult r, int requested, int stored, int alreadyKept, int parentMissing,
            int refused, int noSpace) {
        String s = r.toString();
        assertEquals(requested, r.requested(), s);
        assertEquals(stored, r.stored(), s);
        assertEquals(alreadyKept, r.alreadyKept(), s);
        assertEquals(parentMissing, r.parentMissing(), s);
        assertEquals(refused, r.refusedByAdmission(), s);
        assertEquals(noSpace, r.noSpace(), s);
    }

    private static BlockHandle pinned(BlockHandle h) {
        assertNotNull(h);
        return h;
    }

    private static long[] longs(int n) {
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = 1_000 + i;
        }
        return a;
    }
}
