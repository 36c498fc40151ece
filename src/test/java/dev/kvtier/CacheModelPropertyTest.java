package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.nbd.NbdServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Random sequences of store / match / load / acquire / release / invalidate / reopen, run
 * against a real cache beside a simple model (which keys were ever stored and not invalidated
 * since, which handles are open), in several configurations, with and without an SSD tier
 * (and its background demoter), and with a remote tier on a real nbdkit export (one per run). After every
 * step it checks: loaded and pinned bytes are
 * exactly the stored bytes; match reports only stored keys as one leading run; the whole chain
 * above a pinned block stays matchable; without an SSD tier, no block is in DRAM below one kept
 * nowhere (no orphan is admitted or left behind); DRAM residency never exceeds capacity; the index and
 * allocator invariants hold; no read is ever found corrupt; under a policy that admits every
 * block into DRAM ({@code lru}, {@code write-limit}), a store that fits, with no pins open and
 * no demotion in flight (so not with a remote tier, whose set-aside blocks are retried on a
 * timer), keeps every block it was given, and so does {@code costaware} when DRAM has a free
 * page for each ({@code second-hit} may refuse any new block). Reopening on the same SSD file (a restart) serves only
 * stored keys with exact bytes. At the end, close frees all off-heap memory.
 *
 * <p>An operation is one random int: the low 3 bits pick the operation, the rest its operands.
 */
class CacheModelPropertyTest {
    private static final int[][] CONFIGS = {
        // blockTokens, blockBytes, DRAM blocks, SSD blocks (0: no SSD tier), compression ordinal,
        // remote blocks (0: no remote tier; else on a shared nbdkit export, 4 ways)
        {4, 64, 4, 0, 0, 0}, {4, 64, 16, 0, 0, 0}, {16, 4099, 8, 0, 0, 0}, {16, 256, 64, 0, 0, 0},
        {4, 64, 4, 6, 0, 0}, {4, 512, 6, 10, 1, 0}, {16, 4099, 8, 24, 2, 0},
        {4, 128, 4, 0, 0, 16}, {4, 256, 6, 10, 0, 24},
    };
    private static final AtomicInteger RUNS = new AtomicInteger();
    /** Over all runs: blocks written to a remote tier, and found there by discovery (the remote paths ran). */
    private static final AtomicLong REMOTE_WRITES = new AtomicLong();
    private static final AtomicLong REMOTE_FOUND = new AtomicLong();
    /** Policies run: lru and write-limit admit every block into DRAM, so a store that fits keeps all. */
    private static final CachePolicy[] POLICIES = {CachePolicy.LRU, CachePolicy.COSTAWARE, CachePolicy.SECOND_HIT,
        CachePolicy.WRITE_LIMIT};
    private static final int PROMPTS = 12;
    private static final int MAX_BLOCKS = 10;

    @Test
    void randomOperationSequencesAgreeWithTheModel() {
        qt().withExamples(300).withShrinkCycles(100)
                .forAll(integers().between(0, CONFIGS.length - 1), integers().between(0, POLICIES.length - 1),
                        lists().of(integers().between(0, Integer.MAX_VALUE)).ofSizeBetween(1, 120))
                .checkAssert((config, policy, ops) -> new Run(CONFIGS[config], POLICIES[policy]).execute(ops));
        assertTrue(REMOTE_WRITES.get() > 0 && REMOTE_FOUND.get() > 0, "the remote tier was written "
                + REMOTE_WRITES + " times and blocks found there " + REMOTE_FOUND + " times");
    }

    /** One cache, its workload and its model. */
    private static final class Run {
        private final int blockBytes;
        private final int capacity;
        private final int ssdBlocks;
        private final int remoteBlocks;
        /** Whether a tier below DRAM exists (and with it the demoter). */
        private final boolean devices;
        private final Compression compression;
        private final CachePolicy policy;
        private final Namespace[] namespaces = new Namespace[2];
        private final BlockKey[][] prompts = new BlockKey[PROMPTS][];
        private final Set<BlockKey> stored = new HashSet<>();
        private final List<BlockHandle> handles = new ArrayList<>();
        private final Map<BlockHandle, BlockKey> handleKeys = new HashMap<>();
        /** Handles whose block was invalidated: still readable, no longer in the index. */
        private final Set<BlockHandle> detached = new HashSet<>();
        private final ByteBuffer[] buffers;
        private Path dir;
        /** This run's own export (its invalidation table must not fill with other runs' records), or null. */
        private NbdServer remote;

        Run(int[] config, CachePolicy policy) {
            this.policy = policy;
            int blockTokens = config[0];
            blockBytes = config[1];
            capacity = config[2];
            ssdBlocks = config[3];
            compression = Compression.values()[config[4]];
            remoteBlocks = config[5];
            devices = ssdBlocks > 0 || remoteBlocks > 0;
            String model = "model-" + RUNS.incrementAndGet();
            for (int n = 0; n < namespaces.length; n++) {
                namespaces[n] = Namespace.builder(model).tenantSalt("tenant-" + n).blockTokens(blockTokens).build();
            }
            for (int p = 0; p < PROMPTS; p++) {
                prompts[p] = namespaces[p % 2].blockKeys(tokens(p, blockTokens));
            }
            buffers = new ByteBuffer[MAX_BLOCKS];
            for (int i = 0; i < MAX_BLOCKS; i++) {
                buffers[i] = ByteBuffer.allocateDirect(blockBytes);
            }
        }

        /** Prompts share prefixes: prompt p shares its first (p % 4) * 2 blocks with prompt 0 or 1. */
        private static int[] tokens(int p, int blockTokens) {
            int blocks = 3 + p % (MAX_BLOCKS - 2);
            int shared = (p % 4) * 2 * blockTokens;
            int[] t = new int[blocks * blockTokens];
            for (int i = 0; i < t.length; i++) {
                t[i] = i < shared ? i : 1_000 * (p + 1) + i;
            }
            return t;
        }

        void execute(List<Integer> ops) {
            try {
                dir = Files.createTempDirectory("kvtier-model");
                TieredCache cache = open();
                try {
                    for (int op : ops) {
                        cache = step(cache, op);
                        check(cache);
                    }
                } finally {
                    closeHandles();
                    cache.close();
                    REMOTE_WRITES.addAndGet(cache.stats().storedBlocks(Tier.REMOTE));
                    REMOTE_FOUND.addAndGet(cache.stats().discoveredBlocks(Tier.REMOTE));
                }
                assertTrue(cache.offHeapReleased(), "off-heap memory freed at close");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                deleteDir();
                if (remote != null) {
                    remote.close();
                }
            }
        }

        private NbdServer remote() {
            if (remote == null) {
                try {
                    remote = NbdServer.nbdkit("memory", "16M");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return remote;
        }

        private TieredCache open() {
            KvTierCacheBuilder b = KvTierCache.builder().blockTokens(namespaces[0].blockTokens())
                    .blockBytes(blockBytes).dramCapacityBytes((long) capacity * ((blockBytes + 63) & -64)).policy(policy);
            if (ssdBlocks > 0) {
                long slotBytes = (long) ssdBlocks * (128 + blockBytes);
                b.localSsd(dir.resolve("ssd.slots"), DeviceLayout.METADATA_BYTES + ((slotBytes + 4095) & -4096))
                        .ssdCompression(compression);
            }
            if (remoteBlocks > 0) {
                b.remote(RemoteTier.builder(remote().uri(), KvTierCacheBuilder.deviceBytesFor(remoteBlocks, blockBytes))
                        .ways(4).recheckAfter(Duration.ZERO)
                        .lookupBudget(Duration.ofSeconds(10)) // a loaded machine must not cut a match short
                        .build());
            }
            return (TieredCache) b.build();
        }

        private TieredCache step(TieredCache cache, int op) {
            int a = (op >>> 3) % PROMPTS;
            int b = (op >>> 8) & 0xFFFF;
            BlockKey[] keys = prompts[a];
            switch (op & 7) {
                case 0 -> store(cache, keys, 1 + b % Math.min(keys.length, capacity));
                case 1 -> {
                    return b % 8 == 0 && devices ? reopen(cache) : store(cache, keys, 1 + b % Math.min(keys.length, capacity));
                }
                case 2 -> load(cache, keys);
                case 3 -> acquire(cache, keys[b % keys.length]);
                case 4 -> releaseHandle(b);
                case 5 -> storeTail(cache, keys, b % keys.length);
                case 6 -> invalidate(cache, namespaces[b % 2]);
                default -> cache.match(keys);
            }
            return cache;
        }

        private TieredCache store(TieredCache cache, BlockKey[] keys, int n) {
            for (int i = 0; i < n; i++) {
                fill(buffers[i], keys[i]);
            }
            boolean admitsAll = policy == CachePolicy.LRU || policy == CachePolicy.WRITE_LIMIT;
            boolean fits = n <= capacity && handles.isEmpty() && (admitsAll || policy == CachePolicy.COSTAWARE);
            if (fits && devices) {
                cache.awaitIdle();
            }
            // costaware admits whatever finds a free page
            fits &= admitsAll || n <= capacity - cache.stats().residentBlocks(Tier.DRAM);
            // with a remote tier the demoter also starts writes on its own (blocks set aside for want of
            // a slot are retried a second later), so awaitIdle cannot promise that none is in flight
            fits &= remoteBlocks == 0;
            cache.store(keys, buffers, 0, n);
            for (int i = 0; i < n; i++) {
                stored.add(keys[i]);
            }
            if (fits) {
                assertEquals(n, cache.match(Arrays.copyOf(keys, n)).hitBlocks(), "a store that fits keeps every block");
            }
            return cache;
        }

        /** Closes the cache (handles first) and opens a new one on the same SSD file: a restart. */
        private TieredCache reopen(TieredCache cache) {
            closeHandles();
            cache.close();
            return open();
        }

        /** Stores blocks from {@code from} on; declined unless the parent is kept. */
        private void storeTail(TieredCache cache, BlockKey[] keys, int from) {
            int count = Math.min(keys.length - from, capacity);
            boolean parentKept = from == 0 || cache.match(Arrays.copyOf(keys, from)).hitBlocks() == from;
            for (int i = 0; i < count; i++) {
                fill(buffers[from + i], keys[from + i]);
            }
            int n = cache.store(keys, buffers, from, count);
            if (!parentKept && !devices) {
                assertEquals(0, n, "blocks under a missing parent are declined");
            }
            for (int i = 0; i < count && (parentKept || n > 0); i++) {
                stored.add(keys[from + i]);
            }
        }

        private void load(TieredCache cache, BlockKey[] keys) {
            PrefixMatch m = cache.match(keys);
            for (int i = 0; i < m.hitBlocks(); i++) {
                buffers[i].clear();
                buffers[i].put(0, (byte) ~buffers[i].get(0));
            }
            int n = cache.load(m, buffers).join();
            if (!devices) {
                assertEquals(m.hitBlocks(), n, "DRAM only, one thread: nothing is evicted between match and load");
            }
            assertTrue(n <= m.hitBlocks());
            for (int i = 0; i < n; i++) {
                verify(buffers[i], keys[i]);
            }
        }

        private void acquire(TieredCache cache, BlockKey key) {
            BlockHandle h = cache.acquire(key);
            if (h != null) {
                assertTrue(stored.contains(key), "acquire found a key never stored: " + key);
                verify(h.bytes(), key);
                handles.add(h);
                handleKeys.put(h, key);
            }
        }

        private void releaseHandle(int b) {
            if (!handles.isEmpty()) {
                BlockHandle h = handles.remove(b % handles.size());
                handleKeys.remove(h);
                detached.remove(h);
                h.close();
            }
        }

        private void closeHandles() {
            for (BlockHandle h : handles) {
                h.close();
            }
            handles.clear();
            handleKeys.clear();
            detached.clear();
        }

        private void invalidate(TieredCache cache, Namespace ns) {
            cache.invalidate(ns);
            stored.removeIf(k -> k.namespace().equals(ns));
            for (BlockHandle h : handles) {
                if (h.key().namespace().equals(ns)) {
                    detached.add(h);
                }
            }
            for (BlockKey[] keys : prompts) {
                if (keys[0].namespace().equals(ns)) {
                    assertEquals(0, cache.match(keys).hitBlocks(), "invalidated namespace is gone");
                }
            }
        }

        private void check(TieredCache cache) {
            cache.checkInvariants();
            CacheStats s = cache.stats();
            assertTrue(s.residentBlocks(Tier.DRAM) <= capacity, "DRAM capacity exceeded: " + s);
            assertTrue(s.residentBlocks(Tier.SSD) <= s.capacityBlocks(Tier.SSD), "SSD capacity: " + s);
            assertEquals(0, s.corruptBlocks(Tier.SSD) + s.mismatchedBlocks(Tier.SSD) + s.corruptBlocks(Tier.REMOTE),
                    "no read found corrupt: " + s);
            assertEquals(handles.size(), s.activePins(), "pins held = handles open");
            for (BlockKey[] keys : prompts) {
                PrefixMatch m = cache.match(keys);
                for (int i = 0; i < m.hitBlocks(); i++) {
                    assertTrue(stored.contains(keys[i]), "match reports a key never stored: " + keys[i]);
                }
                for (int i = m.hitBlocks() + 1; !devices && i < keys.length; i++) { // no blocks in transit
                    try (BlockHandle orphan = cache.acquire(keys[i])) {
                        assertNull(orphan, "block " + i + " is in DRAM though block " + m.hitBlocks()
                                + " before it is kept nowhere");
                    }
                }
            }
            for (BlockHandle h : handles) {
                BlockKey key = handleKeys.get(h);
                verify(h.bytes(), key);
                if (!detached.contains(h)) {
                    BlockKey[] chain = chainTo(key);
                    assertNotNull(chain);
                    assertEquals(chain.length, cache.match(chain).hitBlocks(),
                            "a pinned block and all its ancestors stay kept");
                }
            }
        }

        private BlockKey[] chainTo(BlockKey key) {
            for (BlockKey[] keys : prompts) {
                for (int i = 0; i < keys.length; i++) {
                    if (keys[i].equals(key)) {
                        return Arrays.copyOf(keys, i + 1);
                    }
                }
            }
            return null;
        }

        private void fill(ByteBuffer b, BlockKey key) {
            b.clear();
            for (int i = 0; i < blockBytes; i++) {
                b.put(i, pattern(key, i));
            }
        }

        private void verify(ByteBuffer b, BlockKey key) {
            for (int i = 0; i < blockBytes; i++) {
                if (b.get(b.position() + i) != pattern(key, i)) {
                    throw new AssertionError("wrong byte " + i + " of block " + key);
                }
            }
        }

        /** Compressible (runs of 8 equal bytes) but key-specific. */
        private static byte pattern(BlockKey key, int i) {
            long x = key.lo() ^ (key.hi() * 31) ^ ((long) (i >>> 3) * 0x9E3779B97F4A7C15L);
            return (byte) (x ^ (x >>> 29) ^ (x >>> 47));
        }

        private void deleteDir() {
            if (dir == null) {
                return;
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
