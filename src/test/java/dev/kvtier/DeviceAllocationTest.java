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
 * without a listener), and
 * demotion (the remote tier's loads still allocate in the NBD client, per request). Their work runs on I/O, demoter and socket threads, so the bytes
 * every live thread of the JVM allocated are summed around many calls; a per-block object of
 * 16 bytes or more would cost at least {@code BLOCKS * 16} bytes per call, while the bound
 * allows the per-call objects (the load's future, a few small ones).
 */
class DeviceAllocationTest {
    private static final int BLOCKS = 256;
    private static final int BLOCK_BYTES = 4096;
    private static final int CALLS = 300;
    private static final long PER_CALL_BOUND = 2048;

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @Test
    void loadsFromTheSsdAllocateNothingPerBlock() {
        try (KvTierCache cache = SsdFixtures.builder(dir.resolve("ssd"), BLOCK_BYTES, 4, 2 * BLOCKS, false,
                Compression.NONE).storeWaitMillis(10_000).build()) {
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
                Compression.NONE).policy(CachePolicy.LRU).storeWaitMillis(10_000).build()) {
            int[] turn = {0};
            IntSupplier storeAndDemote = () -> {
                int stored = cache.store(chains[turn[0]++], src);
                cache.awaitIdle();
                return stored;
            };
            long demotedBefore = cache.stats().storedBlocks(Tier.SSD);
            assertAllocationFree("demotion", storeAndDemote);
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
        assertAllocationFree(tier + " load", load);
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
        assertAllocationFree(tier + " load with a listener", loadHeard);
    }

    private void assertAllocationFree(String what, IntSupplier op) {
        for (int i = 0; i < CALLS; i++) {
            assertEquals(BLOCKS, op.getAsInt(), what);
        }
        long[] ids = threads.getAllThreadIds();
        long before = sum(threads.getThreadAllocatedBytes(ids));
        for (int i = 0; i < CALLS; i++) {
            assertEquals(BLOCKS, op.getAsInt(), what);
        }
        long perCall = (sum(threads.getThreadAllocatedBytes(ids)) - before) / CALLS;
        assertTrue(perCall < PER_CALL_BOUND, what + " allocated " + perCall + " bytes per call of " + BLOCKS
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
