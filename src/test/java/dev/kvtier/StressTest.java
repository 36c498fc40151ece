package dev.kvtier;

import static dev.kvtier.Blocks.NS;
import static dev.kvtier.Blocks.OTHER_NS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import net.openhft.chronicle.core.Jvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several threads run a bounded mix of match, load (buffers and addresses), store (whole prompts
 * and tails, from buffers and addresses), acquire-and-hold and invalidate over prompts with shared
 * prefixes, on a DRAM tier far smaller than the working set so eviction never stops. Every block
 * loaded or pinned is compared byte for byte with the payload derived from its key, and a held
 * block is re-checked while the others churn. Afterwards the index invariants hold, no pin
 * remains, and the counters add up to what the threads saw. A second run adds an SSD tier.
 */
class StressTest {
    private static final int THREADS = 4;
    private static final int OPS_PER_THREAD = 100_000;
    private static final int BYTES = 4096;
    private static final int PAGES = 24;
    private static final int FAMILIES = 4;
    private static final int PROMPTS_PER_FAMILY = 6;

    private final List<BlockKey[]> prompts = new ArrayList<>();
    private final Map<BlockKey, byte[]> expected = new HashMap<>();
    private final Map<BlockKey, ByteBuffer> source = new HashMap<>();
    private final AtomicLong mismatches = new AtomicLong();
    private final AtomicReference<String> firstMismatch = new AtomicReference<>();
    private final AtomicLong loaded = new AtomicLong();
    private final AtomicLong stored = new AtomicLong();
    private final AtomicLong acquired = new AtomicLong();

    @Test
    void mixedConcurrentWorkloadNeverServesAWrongByte() throws Exception {
        buildPrompts();
        TieredCache cache = Blocks.cache(BYTES, PAGES);
        runWorkers(cache, OPS_PER_THREAD);
        assertEquals(0, mismatches.get(), firstMismatch.get());
        cache.checkInvariants();
        CacheStats s = cache.stats();
        assertEquals(0, s.activePins(), "pins left after every handle closed and every load finished");
        assertEquals(0, s.leakedPins());
        assertEquals(loaded.get(), s.loadedBlocks());
        assertEquals(stored.get(), s.storedBlocks(Tier.DRAM));
        assertEquals(acquired.get(), s.acquires());
        assertTrue(s.evictedBlocks(Tier.DRAM) > 10L * PAGES, "eviction was constant: " + s);
        assertTrue(s.loadedBlocks() > 1000, "loads hit: " + s);
        assertEquals(s.storedBlocks(Tier.DRAM), s.residentBlocks(Tier.DRAM) + s.evictedBlocks(Tier.DRAM)
                + s.invalidatedBlocks(), "every stored block is resident, evicted or invalidated: " + s);
        assertTrue(s.residentBlocks(Tier.DRAM) <= PAGES);
        cache.close();
        assertTrue(cache.offHeapReleased());
    }

    /**
     * The same workload over DRAM and a small SSD tier with compression, so the demoter,
     * promotions, SSD eviction and slot wipes race with the threads. Zero wrong bytes, zero
     * corrupt reads, consistent allocators and no pins left.
     */
    @Test
    void withAnSsdTierNeverServesAWrongByte(@TempDir Path dir) throws Exception {
        buildPrompts();
        TieredCache cache = (TieredCache) KvTierCache.builder().blockTokens(Blocks.TOKENS).blockBytes(BYTES)
                .dramCapacityBytes(PAGES / 2 * BYTES).localSsd(dir.resolve("stress.slots"), 48L * (BYTES + 128) + 8192)
                .ssdCompression(Compression.LZ4).build();
        runWorkers(cache, OPS_PER_THREAD / 4);
        assertEquals(0, mismatches.get(), firstMismatch.get());
        cache.checkInvariants();
        CacheStats s = cache.stats();
        assertEquals(0, s.activePins());
        assertEquals(0, s.corruptBlocks(Tier.SSD) + s.mismatchedBlocks(Tier.SSD) + s.readErrors(Tier.SSD), s.toString());
        assertEquals(loaded.get(), s.loadedBlocks());
        assertTrue(s.storedBlocks(Tier.SSD) > 100 && s.loadedBlocks(Tier.SSD) > 100 && s.promotedBlocks() > 0,
                "the SSD tier took part: " + s);
        cache.close();
        assertTrue(cache.offHeapReleased());
    }

    private void runWorkers(TieredCache cache, int ops) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = 1000 + t;
                workers.add(pool.submit(() -> work(cache, new Random(seed), ops)));
            }
            for (Future<?> f : workers) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    /** Families share a two-block prefix; each prompt adds one to four blocks of its own. */
    private void buildPrompts() {
        for (int f = 0; f < FAMILIES; f++) {
            Namespace ns = f % 2 == 0 ? NS : OTHER_NS;
            for (int p = 0; p < PROMPTS_PER_FAMILY; p++) {
                int[] tokens = Blocks.tokens(f, 3 + p % 4);
                for (int i = 2 * Blocks.TOKENS; i < tokens.length; i++) {
                    tokens[i] += 1_000 * (p + 1);
                }
                BlockKey[] keys = ns.blockKeys(tokens);
                prompts.add(keys);
                for (BlockKey k : keys) {
                    expected.computeIfAbsent(k, key -> Blocks.payload(key, BYTES));
                    source.computeIfAbsent(k, key -> Blocks.directPayload(key, BYTES).asReadOnlyBuffer());
                }
            }
        }
    }

    private void work(TieredCache cache, Random rnd, int ops) {
        ByteBuffer[] direct = Blocks.directBuffers(6, BYTES);
        long[] addresses = Arrays.stream(direct).mapToLong(Jvm::address).toArray();
        ByteBuffer[] heap = new ByteBuffer[6];
        for (int i = 0; i < heap.length; i++) {
            heap[i] = ByteBuffer.allocate(BYTES);
        }
        PrefixMatch reused = new PrefixMatch();
        BlockHandle held = null;
        for (int op = 0; op < ops; op++) {
            BlockKey[] keys = prompts.get(rnd.nextInt(prompts.size()));
            int dice = rnd.nextInt(100);
            if (dice < 35) {
                PrefixMatch m = cache.match(keys, reused);
                int kind = rnd.nextInt(3);
                int n = kind == 2 ? cache.load(m, addresses).join() : cache.load(m, kind == 0 ? direct : heap).join();
                assertTrue(n <= m.hitBlocks());
                loaded.addAndGet(n);
                for (int i = 0; i < n; i++) {
                    verify(keys[i], kind == 1 ? heap[i] : direct[i], "load");
                }
            } else if (dice < 65) {
                int from = rnd.nextInt(keys.length);
                int count = keys.length - from;
                int n;
                if (rnd.nextBoolean()) {
                    long[] src = new long[keys.length]; // indexed like the keys
                    for (int j = 0; j < count; j++) {
                        src[from + j] = Jvm.address(source.get(keys[from + j]));
                    }
                    n = cache.store(keys, src, from, count);
                } else {
                    ByteBuffer[] src = new ByteBuffer[keys.length];
                    for (int j = 0; j < count; j++) {
                        src[from + j] = j % 2 == 0 ? source.get(keys[from + j]) : ByteBuffer.wrap(expected.get(keys[from + j]));
                    }
                    n = cache.store(keys, src, from, count);
                }
                stored.addAndGet(n);
            } else if (dice < 85) {
                if (held != null) {
                    verify(held.key(), held.bytes(), "held handle before close");
                    held.close();
                }
                held = cache.acquire(keys[rnd.nextInt(keys.length)]);
                if (held != null) {
                    acquired.incrementAndGet();
                    verify(held.key(), held.bytes(), "acquire");
                }
            } else if (dice < 87) {
                cache.invalidate(rnd.nextBoolean() ? NS : OTHER_NS);
            } else {
                PrefixMatch m = cache.match(keys);
                assertTrue(m.hitBlocks() <= keys.length);
            }
            if (held != null && op % 16 == 0) {
                verify(held.key(), held.bytes(), "held handle while others churn");
            }
        }
        if (held != null) {
            held.close();
        }
    }

    private void verify(BlockKey key, ByteBuffer actual, String where) {
        byte[] got = Blocks.bytes(actual);
        if (!Arrays.equals(expected.get(key), got)) {
            mismatches.incrementAndGet();
            firstMismatch.compareAndSet(null, where + ": wrong bytes for " + key);
        }
    }
}
