package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A clean restart is a warm one: 100 blocks stored into a DRAM + SSD cache come back after
 * {@code close()} and a reopen, with DRAM larger than the data (nothing demoted before the close)
 * and smaller (some demoted while the chains were stored, each store followed by
 * {@code awaitIdle()}, the rest written by the close), on a mapped and an O_DIRECT file,
 * under each policy that admits every block into DRAM; {@code flush()} keeps them across a
 * {@code kill -9} that follows it. Control: closing with {@code flushOnClose(ZERO)} loses the
 * DRAM-only blocks, so the tests can tell a flush from none. Every load goes into poisoned
 * buffers and is checked byte for byte.
 */
class WarmRestartTest {
    static final int BLOCK = 4096;
    static final int CHAINS = 10;
    static final int BLOCKS_PER_CHAIN = 10;
    static final int SSD_SLOTS = 256;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @ParameterizedTest(name = "DRAM {0} blocks, direct {1}, {2}")
    @CsvSource({"128, false, COSTAWARE", "64, false, COSTAWARE", "128, true, COSTAWARE", "64, true, LRU",
            "128, false, WRITE_LIMIT"})
    void cleanCloseKeepsEveryStoredBlock(int dramBlocks, boolean direct, CachePolicy policy) {
        Path file = dir.resolve("warm.slots");
        List<BlockKey[]> chains = chains("warm");
        CacheStats closed;
        KvTierCache cache = builder(file, dramBlocks, direct).policy(policy).build();
        try {
            for (BlockKey[] chain : chains) {
                assertEquals(BLOCKS_PER_CHAIN, storeAll(cache, List.<BlockKey[]>of(chain)));
                cache.awaitIdle();
            }
            assertEquals(0, cache.stats().droppedBlocks(), "the demoter kept up: no block was lost before the close");
        } finally {
            cache.close();
            closed = cache.stats();
        }
        assertEquals(1, closed.flushes(), closed.toString());
        assertEquals(0, closed.incompleteFlushes(), closed.toString());
        if (dramBlocks > CHAINS * BLOCKS_PER_CHAIN) {
            assertTrue(closed.flushedBlocks(Tier.SSD) > 0, "the close wrote the DRAM-only blocks: " + closed);
        }
        try (KvTierCache reopened = builder(file, dramBlocks, direct).policy(policy).build()) {
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, reopened.stats().recoveredBlocks(Tier.SSD));
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, loadAll(reopened, chains));
        }
    }

    /** The control: without the close's flush, a DRAM larger than the data keeps nothing across a restart. */
    @Test
    void closingWithoutAFlushLosesTheDramOnlyBlocks() {
        Path file = dir.resolve("cold.slots");
        List<BlockKey[]> chains = chains("cold");
        try (KvTierCache cache = builder(file, 128, false).flushOnClose(Duration.ZERO).build()) {
            storeAll(cache, chains);
            cache.awaitIdle();
        }
        try (KvTierCache reopened = builder(file, 128, false).build()) {
            assertEquals(0, reopened.stats().recoveredBlocks(Tier.SSD));
            assertEquals(0, loadAll(reopened, chains));
        }
    }

    @Test
    void anExplicitFlushWritesWhatTheWatermarkLeft() {
        Path file = dir.resolve("flush.slots");
        List<BlockKey[]> chains = chains("flush");
        try (KvTierCache cache = builder(file, 128, false).flushOnClose(Duration.ZERO).build()) {
            storeAll(cache, chains);
            cache.awaitIdle();
            assertEquals(0, cache.stats().storedBlocks(Tier.SSD), "nothing was written below the watermark");
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, cache.flush(Duration.ofSeconds(30)));
            assertEquals(0, cache.flush(Duration.ofSeconds(30)), "a second flush finds nothing to write");
            CacheStats s = cache.stats();
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, s.flushedBlocks(Tier.SSD));
            assertEquals(2, s.flushes());
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, loadAll(cache, chains), "flushed blocks stay in DRAM");
        }
    }

    @Test
    void aFlushThatCannotFinishInTimeEndsIncomplete() {
        Path file = dir.resolve("slow.slots");
        try (KvTierCache cache = builder(file, 128, false).flushOnClose(Duration.ZERO).build()) {
            storeAll(cache, chains("slow"));
            assertEquals(0, cache.flush(Duration.ZERO));
            assertEquals(1, cache.stats().incompleteFlushes());
        }
    }

    @Test
    void withoutATierBelowDramFlushWritesNothing() {
        try (KvTierCache cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                .dramCapacityBytes(128L * BLOCK).build()) {
            storeAll(cache, chains("dram"));
            assertEquals(0, cache.flush(Duration.ofSeconds(1)));
        }
    }

    /** A child stores the blocks, flushes, says so, and is killed with SIGKILL: the blocks come back. */
    @ParameterizedTest(name = "direct {0}")
    @CsvSource({"false", "true"})
    void flushedBlocksSurviveKillDashNine(boolean direct) throws Exception {
        Path file = dir.resolve("killed.slots");
        List<String> flags = ChildJvm.cacheFlags();
        flags.add("-Xmx128m");
        Process p = ChildJvm.start(flags, FlushWorker.class, file.toString(), String.valueOf(direct));
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                lines.add(line);
                if (line.startsWith("FLUSHED")) {
                    break;
                }
            }
            assertTrue(p.isAlive(), "the worker is still running when it is killed: " + lines);
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertEquals(137, p.exitValue(), String.join("\n", lines));
        assertEquals("FLUSHED " + CHAINS * BLOCKS_PER_CHAIN, lines.get(lines.size() - 1));
        try (KvTierCache reopened = builder(file, 128, direct).build()) {
            assertEquals(CHAINS * BLOCKS_PER_CHAIN, loadAll(reopened, chains("killed")));
        }
    }

    /** Child: stores {@link #chains} of "killed" into a fresh cache, flushes, prints FLUSHED n, then waits to be killed. */
    public static final class FlushWorker {
        public static void main(String[] args) throws InterruptedException {
            KvTierCache cache = builder(Path.of(args[0]), 128, Boolean.parseBoolean(args[1]))
                    .flushOnClose(Duration.ZERO).build();
            storeAll(cache, chains("killed"));
            cache.awaitIdle();
            System.out.println("FLUSHED " + cache.flush(Duration.ofSeconds(30)));
            System.out.flush();
            Thread.sleep(60_000);
            System.exit(1);
        }
    }

    /** A DRAM + SSD cache whose demoter keeps room for two chains' stores. */
    static KvTierCacheBuilder builder(Path file, int dramBlocks, boolean direct) {
        return SsdFixtures.builder(file, BLOCK, dramBlocks, SSD_SLOTS, direct, Compression.NONE)
                .demoteAhead(2.0 * BLOCKS_PER_CHAIN / dramBlocks);
    }

    static List<BlockKey[]> chains(String model) {
        Namespace ns = SsdFixtures.namespace(model);
        List<BlockKey[]> chains = new ArrayList<>();
        for (int c = 0; c < CHAINS; c++) {
            int[] tokens = new int[BLOCKS_PER_CHAIN * SsdFixtures.TOKENS];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = c * 100_003 + i;
            }
            chains.add(ns.blockKeys(tokens));
        }
        return chains;
    }

    static int storeAll(KvTierCache cache, List<BlockKey[]> chains) {
        return storeAll(cache, chains, BLOCK);
    }

    static int storeAll(KvTierCache cache, List<BlockKey[]> chains, int blockBytes) {
        int stored = 0;
        for (BlockKey[] chain : chains) {
            ByteBuffer[] src = new ByteBuffer[chain.length];
            for (int i = 0; i < chain.length; i++) {
                src[i] = SsdFixtures.payload(chain[i], blockBytes);
            }
            stored += cache.store(chain, src);
        }
        return stored;
    }

    /** Matches and loads every chain into poisoned buffers; every block loaded must be exact. Returns how many. */
    static int loadAll(KvTierCache cache, List<BlockKey[]> chains) {
        return loadAll(cache, chains, BLOCK);
    }

    static int loadAll(KvTierCache cache, List<BlockKey[]> chains, int blockBytes) {
        int loaded = 0;
        for (BlockKey[] chain : chains) {
            ByteBuffer[] dst = new ByteBuffer[chain.length];
            for (int i = 0; i < dst.length; i++) {
                dst[i] = ByteBuffer.allocateDirect(blockBytes);
                while (dst[i].hasRemaining()) {
                    dst[i].put((byte) 0xA5);
                }
                dst[i].clear();
            }
            int n = cache.load(cache.match(chain), dst).join();
            for (int i = 0; i < n; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i], chain[i]), "block " + i + " of a chain");
            }
            loaded += n;
        }
        return loaded;
    }
}
