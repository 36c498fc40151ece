package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * No GC on the hot path: in steady state, match (reusing its answer), load (with and without a
 * listener, and into segments) and store (also from segments) allocate
 * nothing per block. Measured with the JVM's per-thread allocation counter over many calls on
 * a 512-block chain: any per-block object (16 bytes or more) would cost at least 8 KiB per
 * call, while the bound allows a few small per-call objects (the load's future).
 */
class AllocationTest {
    private static final int BLOCKS = 512;
    private static final int CALLS = 2_000;
    private static final long PER_CALL_BOUND = 512;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Test
    void matchLoadAndStoreAllocateNothingPerBlock() {
        for (CachePolicy policy : new CachePolicy[] {CachePolicy.LRU, CachePolicy.COSTAWARE, CachePolicy.ADAPTIVE}) {
            run(policy);
        }
    }

    /** Under lru every store is kept (a whole chain evicted each time); costaware may refuse the store. */
    private void run(CachePolicy policy) {
        Namespace ns = Namespace.builder("alloc").blockTokens(16).build();
        long[] ids = new long[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            ids[i] = i;
        }
        BlockKey[] keys = ns.keysFromHashes(ids);
        BlockKey[] other = Namespace.builder("alloc-other").blockTokens(16).build().keysFromHashes(ids);
        ByteBuffer[] buffers = new ByteBuffer[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            buffers[i] = ByteBuffer.allocateDirect(64);
        }
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(64)
                .dramCapacityBytes(BLOCKS * 64L).policy(policy).build()) {
            PrefixMatch match = new PrefixMatch();
            Runnable matchOp = () -> cache.match(keys, match);
            Runnable loadOp = () -> cache.load(match, buffers).join();
            int[] heard = {0};
            LoadListener listener = n -> heard[0] = n;
            Runnable loadHeardOp = () -> {
                cache.load(match, buffers, listener, null).join();
                assertEquals(BLOCKS, heard[0]);
            };
            boolean[] flip = {false};
            Runnable storeOp = () -> {
                flip[0] = !flip[0];
                int stored = cache.store(flip[0] ? other : keys, buffers);
                assertTrue(policy != CachePolicy.LRU || stored == BLOCKS, "lru keeps every store");
            };
            storeOp.run();
            storeOp.run();
            cache.match(keys, match);
            assertEquals(BLOCKS, match.hitBlocks());
            assertAllocationFree(policy + " match", matchOp);
            assertAllocationFree(policy + " load", loadOp);
            assertAllocationFree(policy + " load with a listener", loadHeardOp);
            BlockSegments halves = (block, segment) -> net.openhft.chronicle.core.Jvm.address(buffers[block]) + segment * 32L;
            assertAllocationFree(policy + " segmented load", () -> cache.load(match, 32, halves, null, null).join());
            assertAllocationFree(policy + " segmented store", () -> {
                flip[0] = !flip[0];
                cache.store(flip[0] ? other : keys, 32, halves, 0, BLOCKS);
            });
            assertAllocationFree(policy + " store", storeOp);
            StoreResult result = new StoreResult();
            assertAllocationFree(policy + " store with a result", () -> {
                flip[0] = !flip[0];
                cache.store(flip[0] ? other : keys, buffers, 0, BLOCKS, result);
                assertEquals(BLOCKS, result.requested());
            });
        }
    }

    private void assertAllocationFree(String what, Runnable op) {
        for (int i = 0; i < CALLS; i++) {
            op.run();
        }
        long tid = Thread.currentThread().getId();
        long before = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < CALLS; i++) {
            op.run();
        }
        long perCall = (threads.getThreadAllocatedBytes(tid) - before) / CALLS;
        assertTrue(perCall < PER_CALL_BOUND, what + " allocated " + perCall + " bytes per call of "
                + BLOCKS + " blocks");
    }
}
