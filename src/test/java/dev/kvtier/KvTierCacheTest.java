package dev.kvtier;

import static dev.kvtier.Blocks.NS;
import static dev.kvtier.Blocks.OTHER_NS;
import static dev.kvtier.Blocks.bytes;
import static dev.kvtier.Blocks.directBuffers;
import static dev.kvtier.Blocks.directPayload;
import static dev.kvtier.Blocks.directPayloads;
import static dev.kvtier.Blocks.payload;
import static dev.kvtier.Blocks.prompt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import net.openhft.chronicle.core.Jvm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The public cache API on the DRAM tier: stored bytes come back identical through every buffer
 * kind; match reports leading runs of published keys only; duplicates are not rewritten and
 * orphans are declined; eviction is LRU under the prefix rule; pinned blocks survive churn and
 * invalidation until their handle closes; counters are exact; close frees the off-heap memory;
 * a leaked handle is detected and its pin released.
 */
class KvTierCacheTest {
    private static final int BYTES = 100; // not a multiple of the 64-byte page alignment

    private TieredCache cache;

    @AfterEach
    void closeCache() {
        if (cache != null) {
            cache.checkInvariants();
            cache.close();
            assertTrue(cache.offHeapReleased());
        }
    }

    @Test
    void directBuffersRoundTrip() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 3);
        assertEquals(3, cache.store(keys, directPayloads(keys, BYTES)));
        PrefixMatch m = cache.match(keys);
        assertEquals(3, m.hitBlocks());
        ByteBuffer[] dst = directBuffers(3, BYTES);
        assertEquals(3, cache.load(m, dst).join());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(payload(keys[i], BYTES), bytes(dst[i]), "block " + i);
            assertEquals(0, dst[i].position());
        }
    }

    @Test
    void heapBuffersWithOffsetsRoundTrip() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 2);
        ByteBuffer[] src = new ByteBuffer[2];
        for (int i = 0; i < 2; i++) {
            byte[] array = new byte[BYTES + 9];
            System.arraycopy(payload(keys[i], BYTES), 0, array, 9, BYTES);
            src[i] = ByteBuffer.wrap(array, 9, BYTES);
        }
        assertEquals(2, cache.store(keys, src));
        assertEquals(9, src[0].position(), "store leaves the position alone");
        ByteBuffer[] dst = {ByteBuffer.allocate(BYTES + 5).position(5), ByteBuffer.allocate(BYTES + 5).position(5)};
        dst[0].limit(5 + BYTES);
        dst[1].limit(5 + BYTES);
        assertEquals(2, cache.load(cache.match(keys), dst).join());
        for (int i = 0; i < 2; i++) {
            assertEquals(5, dst[i].position(), "load leaves the position alone");
            assertArrayEquals(payload(keys[i], BYTES), bytes(dst[i]));
        }
    }

    @Test
    void nativeAddressesRoundTrip() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 3);
        ByteBuffer[] src = directPayloads(keys, BYTES);
        long[] srcAddresses = Arrays.stream(src).mapToLong(Jvm::address).toArray();
        assertEquals(3, cache.store(keys, srcAddresses, 0, 3));
        ByteBuffer[] dst = directBuffers(3, BYTES);
        long[] dstAddresses = Arrays.stream(dst).mapToLong(Jvm::address).toArray();
        assertEquals(3, cache.load(cache.match(keys), dstAddresses).join());
        ByteBuffer[] heap = {ByteBuffer.allocate(BYTES), ByteBuffer.allocate(BYTES), ByteBuffer.allocate(BYTES)};
        assertEquals(3, cache.load(cache.match(keys), heap).join());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(payload(keys[i], BYTES), bytes(dst[i]), "address block " + i);
            assertArrayEquals(payload(keys[i], BYTES), bytes(heap[i]), "heap block " + i);
        }
    }

    @Test
    void matchReportsOnlyTheLeadingRunOfStoredKeys() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 5);
        assertEquals(0, cache.match(keys).hitBlocks(), "nothing is visible before a store");
        cache.store(keys, directPayloads(keys, BYTES), 0, 3);
        PrefixMatch m = cache.match(keys);
        assertEquals(3, m.hitBlocks());
        assertEquals(5, m.requestedBlocks());
        assertEquals(3L * Blocks.TOKENS, m.hitTokens());
        assertEquals(3, m.hitBlocks(Tier.DRAM));
        assertEquals(0, m.hitBlocks(Tier.SSD));
        assertEquals(Tier.DRAM, m.tier(2));
        assertThrows(IndexOutOfBoundsException.class, () -> m.tier(3));
        assertSame(keys[4], m.key(4));
        assertEquals(2, cache.match(Arrays.copyOf(keys, 2)).hitBlocks());
        int[] diverging = Blocks.tokens(1, 4);
        diverging[2 * Blocks.TOKENS] = -1;
        assertEquals(2, cache.match(NS.blockKeys(diverging)).hitBlocks(), "shared prefix of two blocks");
        assertEquals(0, cache.match(Arrays.copyOfRange(keys, 3, 5)).hitBlocks());
        assertEquals(0, cache.match(prompt(OTHER_NS, 1, 5)).hitBlocks(), "same tokens, other namespace");
        PrefixMatch reused = new PrefixMatch();
        assertSame(reused, cache.match(keys, reused));
        assertEquals(3, reused.hitBlocks());
        assertSame(reused, cache.match(prompt(NS, 9, 1), reused));
        assertEquals(0, reused.hitBlocks());
        assertEquals(1, reused.requestedBlocks());
    }

    @Test
    void loadOfAPartialMatchLeavesTheRestOfTheBuffersAlone() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 4);
        cache.store(keys, directPayloads(keys, BYTES), 0, 2);
        ByteBuffer[] dst = new ByteBuffer[4];
        for (int i = 0; i < 4; i++) {
            dst[i] = ByteBuffer.allocate(BYTES);
            Arrays.fill(dst[i].array(), (byte) 0x3C);
        }
        assertEquals(2, cache.load(cache.match(keys), dst).join());
        assertArrayEquals(payload(keys[1], BYTES), bytes(dst[1]));
        byte[] untouched = new byte[BYTES];
        Arrays.fill(untouched, (byte) 0x3C);
        assertArrayEquals(untouched, bytes(dst[2]));
        assertArrayEquals(untouched, bytes(dst[3]));
        assertEquals(0, cache.load(new PrefixMatch(), new ByteBuffer[0]).join(), "an empty match loads nothing");
    }

    /**
     * One array of buffers per prompt, indexed by block: load fills the matched head, the server
     * computes the rest into the same array, and a ranged store reads each block from its own
     * index. Both buffer kinds and addresses.
     */
    @Test
    void aRangedStoreReadsTheBuffersAtTheKeysIndicesAsLoadFillsThem() {
        cache = Blocks.cache(BYTES, 16);
        BlockKey[] keys = prompt(NS, 1, 6);
        assertEquals(2, cache.store(keys, directPayloads(keys, BYTES), 0, 2));
        ByteBuffer[] blocks = directBuffers(6, BYTES);
        assertEquals(2, cache.load(cache.match(keys), blocks).join());
        for (int i = 2; i < 4; i++) {
            blocks[i].duplicate().put(payload(keys[i], BYTES));
        }
        assertEquals(2, cache.store(keys, blocks, 2, 2));
        long[] addresses = Arrays.stream(directPayloads(keys, BYTES)).mapToLong(Jvm::address).toArray();
        assertEquals(2, cache.store(keys, addresses, 4, 2));
        ByteBuffer[] dst = directBuffers(6, BYTES);
        assertEquals(6, cache.load(cache.match(keys), dst).join());
        for (int i = 0; i < 6; i++) {
            assertArrayEquals(payload(keys[i], BYTES), bytes(dst[i]), "block " + i);
        }
    }

    /** A prompt shorter than one block is normal traffic: an empty chain matches, loads and stores nothing. */
    @Test
    void emptyChainIsAZeroBlockRequest() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] kept = prompt(NS, 1, 2);
        assertEquals(2, cache.store(kept, directPayloads(kept, BYTES)));
        BlockKey[] empty = NS.blockKeys(new int[Blocks.TOKENS - 1]);
        assertEquals(0, empty.length, "a prompt shorter than one block has no keys");

        PrefixMatch m = cache.match(empty);
        assertEquals(0, m.hitBlocks());
        assertEquals(0, m.hitTokens());
        assertSame(m, cache.match(empty, m));
        assertEquals(0, cache.load(m, new ByteBuffer[0]).join());
        assertEquals(0, cache.load(m, new long[0]).join());
        assertEquals(0, cache.store(empty, new ByteBuffer[0]));
        assertEquals(0, cache.store(empty, new long[0], 0, 0));
        assertEquals(0, cache.store(kept, new ByteBuffer[0], 2, 0), "an empty range at the end of a chain");
        assertEquals(0, cache.store(kept, new ByteBuffer[0], 1, 0), "an empty range inside a chain");

        CacheStats s = cache.stats();
        assertEquals(2, s.matchCalls());
        assertEquals(0, s.lookupBlocks());
        assertEquals(0, s.missBlocks());
        assertEquals(2, s.residentBlocks(Tier.DRAM));
        assertEquals(0, s.storeOrphanBlocks() + s.storeDuplicateBlocks() + s.storeNoSpaceBlocks());
        assertEquals(2, cache.match(kept).hitBlocks(), "the cache is as it was");
    }

    @Test
    void loadServesFewerBlocksWhenTheyLeftAfterTheMatch() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 3);
        cache.store(keys, directPayloads(keys, BYTES));
        PrefixMatch m = cache.match(keys);
        cache.invalidate(NS);
        ByteBuffer[] dst = directBuffers(3, BYTES);
        assertEquals(0, cache.load(m, dst).join());
        assertEquals(3, cache.stats().loadLostBlocks());
        assertArrayEquals(new byte[BYTES], bytes(dst[0]));
    }

    @Test
    void aBlockIsVisibleOnlyWithAllItsBytes() throws Exception {
        int big = 4 << 20;
        cache = Blocks.cache(big, 4);
        BlockKey[][] prompts = new BlockKey[8][];
        Map<BlockKey, byte[]> expected = new HashMap<>();
        for (int p = 0; p < prompts.length; p++) {
            prompts[p] = prompt(NS, p, 2);
            for (BlockKey k : prompts[p]) {
                expected.put(k, payload(k, big));
            }
        }
        AtomicInteger verified = new AtomicInteger(-1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        // The reader spins on acquire for the last block being stored and reads it the moment it shows;
        // the writer stores the next prompt (recycling the pages of an older one) only after that.
        Thread reader = new Thread(() -> {
            ByteBuffer[] dst = directBuffers(2, big);
            try {
                for (int p = 0; p < prompts.length; p++) {
                    BlockHandle last;
                    do {
                        last = cache.acquire(prompts[p][1]);
                    } while (last == null);
                    try (BlockHandle h = last) {
                        assertArrayEquals(expected.get(prompts[p][1]), bytes(h.bytes()), "prompt " + p + " acquired");
                    }
                    assertEquals(2, cache.load(cache.match(prompts[p]), dst).join());
                    for (int i = 0; i < 2; i++) {
                        assertArrayEquals(expected.get(prompts[p][i]), bytes(dst[i]), "prompt " + p + " block " + i);
                    }
                    verified.set(p);
                }
            } catch (Throwable t) {
                failure.set(t);
                verified.set(Integer.MAX_VALUE);
            }
        });
        reader.start();
        for (int p = 0; p < prompts.length && failure.get() == null; p++) {
            ByteBuffer[] src = Arrays.stream(prompts[p]).map(k -> ByteBuffer.wrap(expected.get(k)))
                    .toArray(ByteBuffer[]::new);
            assertEquals(2, cache.store(prompts[p], src));
            while (verified.get() < p) {
                Thread.onSpinWait();
            }
        }
        reader.join();
        if (failure.get() != null) {
            fail(failure.get());
        }
    }

    @Test
    void duplicateBlocksAreNotRewritten() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 4);
        assertEquals(2, cache.store(keys, directPayloads(keys, BYTES), 0, 2));
        BlockKey[] impostors = prompt(NS, 2, 4);
        assertEquals(2, cache.store(keys, directPayloads(impostors, BYTES)), "only the two new blocks");
        assertEquals(0, cache.store(keys, directPayloads(impostors, BYTES)));
        assertEquals(6, cache.stats().storeDuplicateBlocks());
        ByteBuffer[] dst = directBuffers(4, BYTES);
        assertEquals(4, cache.load(cache.match(keys), dst).join());
        assertArrayEquals(payload(keys[0], BYTES), bytes(dst[0]), "first write kept");
        assertArrayEquals(payload(keys[1], BYTES), bytes(dst[1]), "first write kept");
        assertArrayEquals(payload(impostors[2], BYTES), bytes(dst[2]));
        assertEquals(4, cache.stats().residentBlocks(Tier.DRAM));
    }

    @Test
    void orphanBlocksAreDeclined() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] keys = prompt(NS, 1, 4);
        ByteBuffer[] src = directPayloads(keys, BYTES);
        assertEquals(0, cache.store(keys, src, 2, 2));
        assertEquals(2, cache.stats().storeOrphanBlocks());
        assertNull(cache.acquire(keys[2]), "an orphan is not kept");
        assertEquals(0, cache.stats().residentBlocks(Tier.DRAM));
        assertEquals(1, cache.store(keys, src, 0, 1));
        assertEquals(0, cache.store(keys, src, 2, 2), "parent keys[1] still absent");
        assertEquals(3, cache.store(keys, src, 1, 3), "continuing under keys[0]");
        ByteBuffer[] dst = directBuffers(4, BYTES);
        assertEquals(4, cache.load(cache.match(keys), dst).join());
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(payload(keys[i], BYTES), bytes(dst[i]));
        }
    }

    @Test
    void evictionTakesTheLeastRecentlyUsedBlock() {
        cache = Blocks.cache(BYTES, 3, CachePolicy.LRU);
        BlockKey[] x = prompt(NS, 1, 1);
        BlockKey[] y = prompt(NS, 2, 1);
        BlockKey[] z = prompt(NS, 3, 1);
        BlockKey[] w = prompt(NS, 4, 1);
        for (BlockKey[] p : new BlockKey[][] {x, y, z}) {
            cache.store(p, directPayloads(p, BYTES));
        }
        cache.match(x);
        assertEquals(1, cache.store(w, directPayloads(w, BYTES)));
        assertEquals(0, cache.match(y).hitBlocks(), "y was the least recently used");
        assertEquals(1, cache.match(x).hitBlocks());
        assertEquals(1, cache.match(z).hitBlocks());
        assertEquals(1, cache.match(w).hitBlocks());
        cache.load(cache.match(z), directBuffers(1, BYTES));
        cache.acquire(w[0]).close();
        assertEquals(1, cache.store(y, directPayloads(y, BYTES)));
        assertEquals(0, cache.match(x).hitBlocks(), "x was the least recently used");
        assertEquals(2, cache.stats().evictedBlocks(Tier.DRAM));
    }

    @Test
    void childrenLeaveBeforeTheirParentsEvenWhenParentsAreColder() {
        cache = Blocks.cache(BYTES, 4, CachePolicy.LRU);
        BlockKey[] chain = prompt(NS, 1, 4);
        ByteBuffer[] src = directPayloads(chain, BYTES);
        cache.store(chain, src);
        for (int i = 1; i <= 4; i++) {
            for (int j = 0; j <= 4 - i; j++) {
                cache.acquire(chain[j]).close(); // cold to hot: root first, leaf last, other prompts hotter
            }
            for (int j = 1; j < i; j++) {
                cache.acquire(prompt(NS, 100 + j, 1)[0]).close();
            }
            BlockKey[] other = prompt(NS, 100 + i, 1);
            assertEquals(1, cache.store(other, directPayloads(other, BYTES)));
            assertEquals(4 - i, cache.match(chain).hitBlocks(), "after " + i + " evictions the leaf went first");
            cache.checkInvariants();
        }
        assertEquals(4, cache.stats().evictedBlocks(Tier.DRAM));
    }

    @Test
    void pinnedBlocksSurviveChurnIntact() {
        cache = Blocks.cache(BYTES, 4, CachePolicy.LRU);
        BlockKey[] pinned = prompt(NS, 1, 2);
        cache.store(pinned, directPayloads(pinned, BYTES));
        BlockHandle handle = cache.acquire(pinned[1]);
        assertNotNull(handle);
        for (int i = 0; i < 50; i++) {
            BlockKey[] other = prompt(NS, 100 + i, 2);
            assertEquals(2, cache.store(other, directPayloads(other, BYTES)));
            assertArrayEquals(payload(pinned[1], BYTES), bytes(handle.bytes()), "round " + i);
            assertEquals(2, cache.match(pinned).hitBlocks(), "a pinned block and its parent stay");
        }
        ByteBuffer[] dst = directBuffers(2, BYTES);
        assertEquals(2, cache.load(cache.match(pinned), dst).join());
        assertArrayEquals(payload(pinned[0], BYTES), bytes(dst[0]));
        assertEquals(1, cache.stats().activePins());
        handle.close();
        assertEquals(0, cache.stats().activePins());
        for (int i = 0; i < 4; i++) {
            BlockKey[] other = prompt(NS, 200 + i, 1);
            cache.store(other, directPayloads(other, BYTES));
        }
        assertEquals(0, cache.match(pinned).hitBlocks(), "evictable once unpinned");
    }

    @Test
    void aStoreIsDeclinedWhenEveryPageIsPinned() {
        cache = Blocks.cache(BYTES, 2);
        BlockKey[] chain = prompt(NS, 1, 2);
        cache.store(chain, directPayloads(chain, BYTES));
        BlockHandle leaf = cache.acquire(chain[1]);
        BlockKey[] other = prompt(NS, 2, 1);
        assertEquals(0, cache.store(other, directPayloads(other, BYTES)));
        assertEquals(1, cache.stats().storeNoSpaceBlocks());
        assertEquals(0, cache.match(other).hitBlocks());
        assertArrayEquals(payload(chain[1], BYTES), bytes(leaf.bytes()));
        leaf.close();
        assertEquals(1, cache.store(other, directPayloads(other, BYTES)));
    }

    @Test
    void acquireGivesAPinnedReadOnlyZeroCopyView() {
        cache = Blocks.cache(BYTES, 4);
        BlockKey[] keys = prompt(NS, 1, 2);
        cache.store(keys, directPayloads(keys, BYTES));
        assertNull(cache.acquire(prompt(NS, 2, 1)[0]), "absent");
        assertNull(cache.acquire(prompt(NS, 1, 3)[2]), "child of a kept block, itself absent");
        try (BlockHandle h = cache.acquire(keys[1])) {
            assertEquals(keys[1], h.key());
            assertEquals(BYTES, h.length());
            ByteBuffer b = h.bytes();
            assertTrue(b.isReadOnly());
            assertEquals(0, b.position());
            assertEquals(BYTES, b.limit());
            assertEquals(h.address(), Jvm.address(b), "the view is the block's memory");
            assertArrayEquals(payload(keys[1], BYTES), bytes(b));
            assertEquals(1, cache.stats().activePins());
        }
        assertEquals(0, cache.stats().activePins());
    }

    @Test
    void invalidateDropsOnlyItsNamespaceAndPinnedBlocksStayReadable() {
        cache = Blocks.cache(BYTES, 8);
        BlockKey[] mine = prompt(NS, 1, 3);
        BlockKey[] theirs = prompt(OTHER_NS, 1, 3);
        cache.store(mine, directPayloads(mine, BYTES));
        cache.store(theirs, directPayloads(theirs, BYTES));
        BlockHandle handle = cache.acquire(mine[2]);
        assertEquals(0, cache.invalidate(Namespace.builder("never-stored").blockTokens(Blocks.TOKENS).build()));
        assertEquals(3, cache.invalidate(NS));
        assertEquals(0, cache.match(mine).hitBlocks());
        assertNull(cache.acquire(mine[0]));
        assertEquals(3, cache.match(theirs).hitBlocks());
        assertEquals(3, cache.stats().residentBlocks(Tier.DRAM));
        assertEquals(3, cache.stats().invalidatedBlocks());
        for (int i = 0; i < 20; i++) {
            BlockKey[] churn = prompt(OTHER_NS, 100 + i, 2);
            cache.store(churn, directPayloads(churn, BYTES));
            assertArrayEquals(payload(mine[2], BYTES), bytes(handle.bytes()), "pinned page not reused, round " + i);
        }
        assertEquals(3, cache.store(mine, directPayloads(mine, BYTES)), "stored again while the old copy is pinned");
        ByteBuffer[] dst = directBuffers(3, BYTES);
        assertEquals(3, cache.load(cache.match(mine), dst).join());
        assertArrayEquals(payload(mine[2], BYTES), bytes(dst[2]));
        assertArrayEquals(payload(mine[2], BYTES), bytes(handle.bytes()));
        handle.close();
        cache.checkInvariants();
        assertEquals(0, cache.stats().activePins());
        assertEquals(3, cache.match(mine).hitBlocks(), "closing the old handle leaves the new copy");
    }

    @Test
    void countersHaveExactValues() {
        cache = Blocks.cache(64, 4);
        BlockKey[] a5 = prompt(NS, 1, 5);
        BlockKey[] a = Arrays.copyOf(a5, 3);
        BlockKey[] b = prompt(NS, 2, 2);
        assertEquals(3, cache.store(a, directPayloads(a, 64)));
        assertEquals(3, cache.match(a).hitBlocks());
        PrefixMatch m = cache.match(a5);
        assertEquals(3, cache.load(m, directBuffers(3, 64)).join());
        assertEquals(0, cache.store(a, directPayloads(a, 64)));
        assertEquals(2, cache.store(b, directPayloads(b, 64)), "evicts a[2], the coldest leaf");
        assertEquals(1, cache.store(a, directPayloads(a, 64), 2, 1), "evicts b[1]");
        BlockKey[] c = prompt(NS, 3, 2);
        assertEquals(0, cache.store(c, directPayloads(c, 64), 1, 1));
        assertNull(cache.acquire(c[0]));
        BlockHandle h = cache.acquire(a[0]);
        assertEquals(1, cache.stats().activePins());
        h.close();
        assertEquals(0, cache.invalidate(OTHER_NS));

        CacheStats s = cache.stats();
        assertEquals(2, s.matchCalls());
        assertEquals(8, s.lookupBlocks());
        assertEquals(6, s.hitBlocks());
        assertEquals(6, s.hitBlocks(Tier.DRAM));
        assertEquals(0, s.hitBlocks(Tier.SSD));
        assertEquals(2, s.missBlocks());
        assertEquals(0.75, s.hitRate());
        assertEquals(1, s.loadCalls());
        assertEquals(3, s.loadedBlocks());
        assertEquals(3, s.loadedBlocks(Tier.DRAM));
        assertEquals(192, s.loadedBytes());
        assertEquals(0, s.loadLostBlocks());
        assertEquals(5, s.storeCalls());
        assertEquals(6, s.storedBlocks(Tier.DRAM));
        assertEquals(384, s.storedBytes(Tier.DRAM));
        assertEquals(3, s.storeDuplicateBlocks());
        assertEquals(1, s.storeOrphanBlocks());
        assertEquals(0, s.storeNoSpaceBlocks());
        assertEquals(2, s.evictedBlocks(Tier.DRAM));
        assertEquals(0, s.invalidatedBlocks());
        assertEquals(1, s.acquires());
        assertEquals(0, s.leakedPins());
        assertEquals(0, s.activePins());
        assertEquals(4, s.residentBlocks(Tier.DRAM));
        assertEquals(4, s.capacityBlocks(Tier.DRAM));
        assertEquals(0, s.capacityBlocks(Tier.SSD));
        assertEquals(2, s.matchLatency().count());
        assertEquals(1, s.loadLatency().count());
        assertEquals(5, s.storeLatency().count());
        assertEquals(3, cache.match(a).hitBlocks());
        assertEquals(1, cache.match(b).hitBlocks());
    }

    @Test
    void closeFreesTheOffHeapMemoryAndIsIdempotent() {
        TieredCache c = Blocks.cache(BYTES, 4);
        assertEquals(Blocks.TOKENS, c.blockTokens());
        assertEquals(BYTES, c.blockBytes());
        BlockKey[] keys = prompt(NS, 1, 2);
        c.store(keys, directPayloads(keys, BYTES));
        assertFalse(c.offHeapReleased());
        c.close();
        assertTrue(c.offHeapReleased());
        c.close();
        assertTrue(c.offHeapReleased());
    }

    @Test
    void closeWithAnOpenHandleStillFreesTheMemory() {
        TieredCache c = Blocks.cache(BYTES, 4);
        BlockKey[] keys = prompt(NS, 1, 1);
        c.store(keys, directPayloads(keys, BYTES));
        BlockHandle h = c.acquire(keys[0]);
        c.close();
        assertTrue(c.offHeapReleased());
        h.close();
        assertThrows(IllegalStateException.class, h::bytes);
    }

    @Test
    void aLeakedHandleIsReportedAndItsPageQuarantined() throws InterruptedException {
        cache = Blocks.cache(BYTES, 2);
        BlockKey[] keys = prompt(NS, 1, 1);
        cache.store(keys, directPayloads(keys, BYTES));
        acquireAndDrop(keys[0]);
        assertEquals(1, cache.stats().activePins());
        for (int i = 0; i < 50 && cache.stats().leakedPins() == 0; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(1, cache.stats().leakedPins(), "the collected handle was not reported");
        assertEquals(0, cache.stats().activePins());
        assertEquals(0, cache.match(keys).hitBlocks(), "the leaked block left the cache");
        BlockKey[] other = prompt(NS, 2, 2);
        assertEquals(1, cache.store(other, directPayloads(other, BYTES)),
                "its page stays quarantined: a view of it may still be in use");
    }

    private void acquireAndDrop(BlockKey key) {
        assertNotNull(cache.acquire(key));
    }

    @Test
    void storeAcceptsAReadOnlyDirectSource() {
        cache = Blocks.cache(BYTES, 4);
        BlockKey[] keys = prompt(NS, 1, 1);
        assertEquals(1, cache.store(keys, new ByteBuffer[] {directPayload(keys[0], BYTES).asReadOnlyBuffer()}));
        ByteBuffer[] dst = directBuffers(1, BYTES);
        cache.load(cache.match(keys), dst).join();
        assertArrayEquals(payload(keys[0], BYTES), bytes(dst[0]));
    }
}
