package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No allocation per block on the device tiers' hot paths: loads served from the SSD (with and
 * without a listener), and demotion (the remote tier's loads still allocate in the NBD client,
 * per request). Their work runs on I/O, demoter and socket threads, so the bytes every live
 * thread of the JVM allocated are summed around many calls. The bound allows the per-call
 * objects (the load's future, a few small ones) and, for demotion, the JDK's own: a contended
 * {@code ReentrantLock} queues a 32-byte node, and the demoter and I/O threads meet on the
 * block table's lock for every block, so on a loaded machine a share of blocks pay one. An
 * object made for every block (a lambda, a future, a buffer view: 16 bytes and more each, and
 * they come in groups) goes past it.
 */
class DeviceAllocationTest {
    private static final int BLOCKS = 256;
    private static final int BLOCK_BYTES = 4096;
    private static final int CALLS = 300;
    private static final long PER_CALL_BOUND = 2048;
    /** Demotion: per-call objects plus contended-lock nodes, at most about one block in two (see the class comment). */
    private static final long DEMOTION_BOUND = PER_CALL_BOUND + BLOCKS * 16L;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void loadsFromTheSsdAllocateNothingPerBlock() {
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("ssd"), BLOCK_BYTES, 4, 2 * BLOCKS, false,
                Compression.NONE).storeWait(Duration.ofSeconds(10)).build()) {
            assertLoadsAllocationFree(cache, Tier.SSD);
        }
    }

    @Test
    void demotionAllocatesNothingPerBlock() {
        BlockKey[][] chains = new BlockKey[2 * CALLS][];
        for (int i = 0; i < chains.length; i++) {
            chains[i] = chain("demote-" + i); // keys made before measuring: each store writes new blocks down
        }
        ByteBuffer[] src = buffers();
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("demote"), BLOCK_BYTES, BLOCKS, 4 * BLOCKS, false,
                Compression.NONE).policy(CachePolicy.LRU).storeWait(Duration.ofSeconds(10)).build()) {
            int[] turn = {0};
            IntSupplier storeAndDemote = () -> {
                int stored = cache.store(chains[turn[0]++], src);
                cache.awaitIdle();
                return stored;
            };
            long demotedBefore = cache.stats().storedBlocks(Tier.SSD);
            assertAllocationFree("demotion", storeAndDemote, DEMOTION_BOUND);
            assertEquals(2L * CALLS * BLOCKS, cache.stats().storedBlocks(Tier.SSD) - demotedBefore,
                    "every call demoted its chain: " + cache.stats());
        }
    }

    private void assertLoadsAllocationFree(KvTierCache cache, Tier tier) {
        BlockKey[] keys = chain("load-" + tier);
        assertEquals(BLOCKS, cache.store(keys, buffers()));
        cache.flush(Duration.ofSeconds(30));
        PrefixMatch match = new PrefixMatch();
        ByteBuffer[] dst = buffers();
        IntSupplier load = () -> {
            cache.match(keys, match);
            return cache.load(match, dst).join();
        };
        assertEquals(BLOCKS, load.getAsInt());
        long before = cache.stats().loadedBlocks(tier);
        assertAllocationFree(tier + " load", load, PER_CALL_BOUND);
        assertTrue(cache.stats().loadedBlocks(tier) - before >= (long) CALLS * (BLOCKS - 8),
                "the loads were served from " + tier + ": " + cache.stats());
        int[] heard = {0};
        LoadListener listener = n -> heard[0] = n; // called outside the load's lock, by one thread at a time
        IntSupplier loadHeard = () -> {
            cache.match(keys, match);
            heard[0] = 0;
            int n = cache.load(match, dst, listener, null).join();
            assertEquals(n, heard[0], "the listener heard the whole run before the future completed");
            return n;
        };
        assertAllocationFree(tier + " load with a listener", loadHeard, PER_CALL_BOUND);
    }

    private void assertAllocationFree(String what, IntSupplier op, long bound) {
        for (int i = 0; i < CALLS; i++) {
            assertEquals(BLOCKS, op.getAsInt(), what);
        }
        long[] ids = threads.getAllThreadIds();
        long before = sum(threads.getThreadAllocatedBytes(ids));
        for (int i = 0; i < CALLS; i++) {
            assertEquals(BLOCKS, op.getAsInt(), what);
        }
        long perCall = (sum(threads.getThreadAllocatedBytes(ids)) - before) / CALLS;
        assertTrue(perCall < bound, what + " allocated " + perCall + " bytes per call of " + BLOCKS
                + " blocks, over all threads");
    }

    private static long sum(long[] bytes) {
        return Arrays.stream(bytes).filter(b -> b > 0).sum();
    }

    private static BlockKey[] chain(String name) {
        long[] ids = new long[BLOCKS];
        Arrays.setAll(ids, i -> i + 1);
        return Namespace.builder(name).blockTokens(SsdFixtures.TOKENS).build().keysFromHashes(ids);
    }

    private static ByteBuffer[] buffers() {
        ByteBuffer[] b = new ByteBuffer[BLOCKS];
        Arrays.setAll(b, i -> ByteBuffer.allocateDirect(BLOCK_BYTES));
        return b;
    }
}
