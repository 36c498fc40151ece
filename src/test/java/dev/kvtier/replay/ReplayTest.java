package dev.kvtier.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.CachePolicy;
import dev.kvtier.PrefillModel;
import dev.kvtier.trace.Trace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Replays of a four-request Mooncake slice whose hit tokens are worked out by hand. */
class ReplayTest {
    private static final String SLICE = String.join("\n",
            "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 1, \"hash_ids\": [1, 2]}",
            "{\"timestamp\": 1, \"input_length\": 1536, \"output_length\": 1, \"hash_ids\": [1, 2, 3]}",
            "{\"timestamp\": 2, \"input_length\": 600, \"output_length\": 1, \"hash_ids\": [1, 4]}",
            "{\"timestamp\": 3, \"input_length\": 1024, \"output_length\": 1, \"hash_ids\": [1, 5]}");
    private static final long INPUT = 1024 + 1536 + 600 + 1024;

    @TempDir
    Path dir;

    /** Request 2 hits blocks 1 and 2 (1,024 tokens), 3 and 4 hit block 1 (512 each); 4's partial block is never stored. */
    @Test
    void everyPolicyThatKeepsNewBlocksHitsTheWorkedOutTokens() throws IOException {
        for (CachePolicy p : new CachePolicy[] {CachePolicy.LRU, CachePolicy.COSTAWARE, CachePolicy.OPT,
            CachePolicy.WRITE_LIMIT}) {
            ReplayResult r = replay(p, 64, 0);
            assertEquals(INPUT, r.inputTokens());
            assertEquals(2048, r.hitTokens(), p + " hit tokens");
            assertEquals(2048, r.hitTokensByTier()[0]);
            assertEquals(0, r.wrongBlocks());
        }
    }

    /** Nothing is kept on first sight: request 2 stores blocks 1 and 2, so only requests 3 and 4 hit (block 1). */
    @Test
    void secondHitKeepsBlocksOnTheirSecondSighting() throws IOException {
        assertEquals(1024, replay(CachePolicy.SECOND_HIT, 64, 0).hitTokens());
    }

    /** With two DRAM blocks and an SSD tier, the same hits, and the demoter's SSD writes are counted. */
    @Test
    void aSmallDramSpillsToTheSsd() throws IOException {
        ReplayResult r = replay(CachePolicy.LRU, 2, 64);
        assertEquals(2048, r.hitTokens());
        assertTrue(r.blocksWritten()[1] > 0 && r.bytesWritten()[1] > 0, "no SSD writes counted");
        assertEquals(0, r.wrongBlocks());
    }

    @Test
    void badConfigurationsAreNamed() {
        assertMessage("replay needs at least one DRAM block, was 0",
                () -> new ReplayConfig(CachePolicy.LRU, 0, 0, 0, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("tier capacities must be >= 0 blocks: ssd -1",
                () -> new ReplayConfig(CachePolicy.LRU, 1, -1, 0, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("--remote-blocks needs --remote-uri",
                () -> new ReplayConfig(CachePolicy.LRU, 1, 0, 8, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("an SSD tier needs a work directory",
                () -> new ReplayConfig(CachePolicy.LRU, 1, 8, 0, 512, 4096, null, null, PrefillModel.DEFAULT, false));
        assertMessage("replay needs blockTokens >= 1 and blockBytes >= 16, was 512 and 8",
                () -> new ReplayConfig(CachePolicy.LRU, 1, 0, 0, 512, 8, dir, null, PrefillModel.DEFAULT, false));
    }

    private static void assertMessage(String message, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(message), "expected \"" + message + "\" in: " + e.getMessage());
    }

    private ReplayResult replay(CachePolicy policy, long dram, long ssd) throws IOException {
        Path file = Files.writeString(dir.resolve("slice.jsonl"), SLICE);
        Trace t = Trace.read(file, null);
        ReplayConfig c = new ReplayConfig(policy, dram, ssd, 0, t.blockTokens(), 4096, dir, null, PrefillModel.DEFAULT, false);
        return Replay.run(t, c, n -> { });
    }
}
