package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.core.Jvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Segmented loads and stores against an engine that keeps KV per (layer, K|V), as Jlama and
 * paged engines do: a block's 8 segments live in 8 separate regions, block-major within each.
 * Stored from segments and loaded into buffers (and the reverse) the bytes are a block's
 * contiguous layout; from DRAM, from the SSD after a restart (reads on I/O threads, with and
 * without a deadline, with a listener), every segment lands where {@link BlockSegments} says.
 */
class SegmentsTest {
    private static final int SEGMENT = 1024;
    private static final int SEGMENTS = 8; // 4 layers x K|V
    private static final int BLOCK = SEGMENT * SEGMENTS;
    private static final BlockKey[] CHAIN = SsdFixtures.namespace("segments")
            .keysFromHashes(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    /** One region per segment index, block b's segment s at {@code regions[s] + b * SEGMENT}. */
    private static final class Engine implements BlockSegments {
        final ByteBuffer[] regions = new ByteBuffer[SEGMENTS];

        Engine() {
            for (int s = 0; s < SEGMENTS; s++) {
                regions[s] = ByteBuffer.allocateDirect(CHAIN.length * SEGMENT);
                while (regions[s].hasRemaining()) {
                    regions[s].put((byte) 0x5A);
                }
            }
        }

        @Override
        public long address(int block, int segment) {
            return Jvm.address(regions[segment]) + (long) block * SEGMENT;
        }

        /** Computes block {@code b}: the contiguous payload of its key, scattered. */
        void compute(int b) {
            ByteBuffer p = SsdFixtures.payload(CHAIN[b], BLOCK);
            for (int s = 0; s < SEGMENTS; s++) {
                regions[s].duplicate().position(b * SEGMENT).put(p.duplicate().position(s * SEGMENT).limit((s + 1) * SEGMENT));
            }
        }

        /** Block {@code b} gathered back into its contiguous layout. */
        ByteBuffer gathered(int b) {
            ByteBuffer out = ByteBuffer.allocateDirect(BLOCK);
            for (int s = 0; s < SEGMENTS; s++) {
                out.put(regions[s].duplicate().position(b * SEGMENT).limit((b + 1) * SEGMENT));
            }
            return out.clear();
        }

        void assertHolds(int blocks) {
            for (int b = 0; b < blocks; b++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(gathered(b), CHAIN[b]), "block " + b);
            }
        }
    }

    @Test
    void segmentsRoundTripThroughDramInBothDirectionsAndAgainstBuffers() {
        try (KvTierCache cache = KvTierCache.builder().blockTokens(SsdFixtures.TOKENS).blockBytes(BLOCK)
                .dramCapacityBytes(32L * BLOCK).build()) {
            Engine computed = new Engine();
            for (int b = 0; b < CHAIN.length; b++) {
                computed.compute(b);
            }
            assertEquals(4, cache.store(CHAIN, SEGMENT, computed, 0, 4));
            assertEquals(6, cache.store(CHAIN, SEGMENT, computed, 4, 6), "a range: block i from segments of block i");
            ByteBuffer[] contiguous = new ByteBuffer[CHAIN.length];
            for (int b = 0; b < CHAIN.length; b++) {
                contiguous[b] = ByteBuffer.allocateDirect(BLOCK);
            }
            PrefixMatch m = cache.match(CHAIN);
            assertEquals(CHAIN.length, cache.load(m, contiguous).join());
            for (int b = 0; b < CHAIN.length; b++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(contiguous[b].clear(), CHAIN[b]), "stored from segments, block " + b);
            }
            Engine loaded = new Engine();
            List<Integer> heard = new CopyOnWriteArrayList<>();
            assertEquals(CHAIN.length, cache.load(m, SEGMENT, loaded, heard::add, null).join());
            loaded.assertHolds(CHAIN.length);
            assertEquals(CHAIN.length, heard.get(heard.size() - 1));
            Engine whole = new Engine(); // one segment per block: a block as one address
            assertEquals(CHAIN.length, cache.load(m, BLOCK, (block, segment) -> Jvm.address(contiguous[block]), null, null).join());
            assertEquals(CHAIN.length, cache.load(m, SEGMENT, whole, null, Duration.ofSeconds(10)).join());
            whole.assertHolds(CHAIN.length);
        }
    }

    @Test
    void segmentsFromTheSsdLandWhereTheEngineSays() throws Exception {
        Path file = dir.resolve("segments.slots");
        try (KvTierCache cache = builder(file).build()) {
            Engine computed = new Engine();
            for (int b = 0; b < CHAIN.length; b++) {
                computed.compute(b);
            }
            assertEquals(CHAIN.length, cache.store(CHAIN, SEGMENT, computed, 0, CHAIN.length));
            assertEquals(CHAIN.length, cache.flush(Duration.ofSeconds(30)));
        }
        for (Duration deadline : new Duration[] {null, Duration.ofSeconds(30)}) {
            try (KvTierCache cache = builder(file).build()) {
                PrefixMatch m = cache.match(CHAIN);
                assertEquals(CHAIN.length, m.hitBlocks(Tier.SSD), "recovered on the SSD only");
                Engine loaded = new Engine();
                List<Integer> heard = new CopyOnWriteArrayList<>();
                assertEquals(CHAIN.length, cache.load(m, SEGMENT, loaded, heard::add, deadline).get(30, TimeUnit.SECONDS));
                loaded.assertHolds(CHAIN.length);
                assertEquals(CHAIN.length, heard.get(heard.size() - 1));
                cache.awaitIdle();
                assertEquals(CHAIN.length, cache.match(CHAIN).hitBlocks(Tier.DRAM), "promoted: " + cache.stats());
                assertTrue(cache.stats().loadedBlocks(Tier.SSD) >= CHAIN.length, cache.stats().toString());
                ((TieredCache) cache).checkInvariants();
            }
        }
    }

    private static KvTierCacheBuilder builder(Path file) {
        return SsdFixtures.builder(file, BLOCK, 32, 4 * CHAIN.length, false, Compression.NONE);
    }
}
