package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.offline.OfflineKnobs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A costaware cache with an SSD write budget, on a policy clock the test moves: over random
 * sequences of stores (new chains, some repeating earlier ones so that they are seen before)
 * and clock advances, the bytes written to the SSD never exceed the budget's burst plus its
 * rate times the time elapsed, and once DRAM has overflowed the budget has let some write
 * through.
 */
class WriteBudgetCacheTest {
    private static final int BLOCK = 4096;
    private static final int DRAM_BLOCKS = 8;
    private static final int SSD_BLOCKS = 64;
    private static final double RATE = BLOCK; // one block a second

    @TempDir(factory = TargetTempDir.class)
    Path tmp;

    @Test
    void ssdWritesStayWithinTheBudgetOverTime() {
        qt().withExamples(25).forAll(lists().of(integers().between(0, Integer.MAX_VALUE)).ofSizeBetween(20, 120))
                .checkAssert(this::run);
    }

    private void run(List<Integer> ops) {
        Path file = tmp.resolve("ssd.slots");
        try {
            Files.deleteIfExists(file);
            AtomicLong now = new AtomicLong(1_000);
            long slotBytes = (long) SSD_BLOCKS * (128 + BLOCK);
            Namespace ns = Namespace.builder("budget").blockTokens(4).build();
            ByteBuffer[] src = new ByteBuffer[4];
            for (int i = 0; i < src.length; i++) {
                src[i] = ByteBuffer.allocateDirect(BLOCK);
            }
            long written;
            long elapsed;
            long intoDram;
            KvTierCacheBuilder b = KvTierCache.builder().blockTokens(4).blockBytes(BLOCK)
                    .dramCapacityBytes((long) DRAM_BLOCKS * BLOCK).localSsd(file,
                            DeviceLayout.METADATA_BYTES + ((slotBytes + 4095) & -4096))
                    .writeBudget(Tier.SSD, RATE);
            try (KvTierCache cache = OfflineKnobs.building(null, now::get, b::build)) {
                for (int op : ops) {
                    long[] ids = chain(op);
                    BlockKey[] keys = ns.keysFromHashes(ids);
                    int hit = cache.match(keys).hitBlocks();
                    if (hit < keys.length) {
                        cache.store(keys, src, hit, keys.length - hit);
                    }
                    cache.awaitIdle();
                    now.addAndGet((op >>> 8) % 1_500 * 1_000_000L); // 0 to 1.5 s
                }
                written = cache.stats().storedBlocks(Tier.SSD) * BLOCK;
                intoDram = cache.stats().storedBlocks(Tier.DRAM);
                elapsed = now.get() - 1_000;
            }
            double allowed = RATE + RATE * elapsed * 1e-9;
            assertTrue(written <= allowed, "wrote " + written + " bytes to the SSD, budget allows " + allowed);
            assertTrue(written > 0 || intoDram <= DRAM_BLOCKS, "DRAM overflowed, yet the budget stopped every write");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One to four blocks; a quarter of the chains repeat one of 16 earlier ones. */
    private static long[] chain(int op) {
        int n = 1 + op % 4;
        long base = (op & 0xC0) == 0 ? 1_000 * ((op >>> 2) % 16) : 1_000_000L + op;
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = base + i;
        }
        return ids;
    }
}
