package dev.kvtier;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promotion into DRAM: from a page-cached SSD file after the load (the caller's copy comes
 * straight from the file; DRAM gets its copy by a read of its own), from an O_DIRECT file within
 * the load (one read serves both). Either way the caller's bytes are right and the blocks end
 * in DRAM.
 */
class PromotionTest {
    private static final int BLOCK = 8192;
    private static final int BLOCKS = 6;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    @ParameterizedTest(name = "direct {0}")
    @ValueSource(booleans = {false, true})
    void loadedBlocksEndInDramWithTheCallersBytesRight(boolean direct) {
        BlockKey[] keys = SsdFixtures.namespace("promote").keysFromHashes(new long[] {1, 2, 3, 4, 5, 6});
        Path file = dir.resolve("promote.slots");
        try (KvTierCache cache = SsdFixtures.builder(file, BLOCK, 2 * BLOCKS, 4 * BLOCKS, direct, Compression.NONE)
                .build()) {
            ByteBuffer[] src = new ByteBuffer[BLOCKS];
            for (int i = 0; i < BLOCKS; i++) {
                src[i] = SsdFixtures.payload(keys[i], BLOCK);
            }
            assertEquals(BLOCKS, cache.store(keys, src));
            cache.flush(Duration.ofSeconds(30));
        }
        try (KvTierCache cache = SsdFixtures.builder(file, BLOCK, 2 * BLOCKS, 4 * BLOCKS, direct, Compression.NONE)
                .build()) {
            PrefixMatch m = cache.match(keys);
            assertEquals(BLOCKS, m.hitBlocks(Tier.SSD), "recovered on the SSD only");
            for (int round = 0; round < 2; round++) { // one block alone (a get on the caller's thread), then all
                int n = round == 0 ? 1 : BLOCKS;
                ByteBuffer[] dst = poisoned(n);
                assertEquals(n, cache.load(cache.match(Arrays.copyOf(keys, n)), dst).join());
                for (int i = 0; i < n; i++) {
                    assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "block " + i);
                }
            }
            cache.awaitIdle();
            assertEquals(BLOCKS, cache.match(keys).hitBlocks(Tier.DRAM), cache.stats().toString());
            assertEquals(BLOCKS, cache.stats().promotedBlocks(), "each block promoted once");
            ByteBuffer[] dst = poisoned(BLOCKS);
            assertEquals(BLOCKS, cache.load(cache.match(keys), dst).join());
            for (int i = 0; i < BLOCKS; i++) {
                assertEquals(-1, SsdFixtures.firstWrongByte(dst[i].clear(), keys[i]), "from DRAM, block " + i);
            }
            ((TieredCache) cache).checkInvariants();
        }
    }

    private static ByteBuffer[] poisoned(int n) {
        ByteBuffer[] b = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            b[i] = ByteBuffer.allocateDirect(BLOCK);
            while (b[i].hasRemaining()) {
                b[i].put((byte) 0x5A);
            }
            b[i].clear();
        }
        return b;
    }
}
