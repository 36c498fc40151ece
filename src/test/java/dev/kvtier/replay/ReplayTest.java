package dev.kvtier.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.PrefillModel;
import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays of small Mooncake slices whose hit tokens are worked out by hand, and of a generated
 * trace, a third of whose prompts are shorter than one block, against an unbounded-cache model.
 */
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
        for (ReplayPolicy p : new ReplayPolicy[] {ReplayPolicy.LRU, ReplayPolicy.COSTAWARE, ReplayPolicy.OPT,
            ReplayPolicy.WRITE_LIMIT}) {
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
        assertEquals(1024, replay(ReplayPolicy.SECOND_HIT, 64, 0).hitTokens());
    }

    /** With two DRAM blocks and an SSD tier, the same hits, and the demoter's SSD writes are counted. */
    @Test
    void aSmallDramSpillsToTheSsd() throws IOException {
        ReplayResult r = replay(ReplayPolicy.LRU, 2, 64);
        assertEquals(2048, r.hitTokens());
        assertTrue(r.blocksWritten()[1] > 0 && r.bytesWritten()[1] > 0, "no SSD writes counted");
        assertEquals(0, r.wrongBlocks());
    }

    /**
     * Prompts shorter than one block, and partial last blocks, hit where a longer prompt stored a
     * full block with that id: request 2 hits its partial block 1 (100 tokens), 5 blocks 1 and
     * its partial 2 (512 + 188), 8 its partial 7, stored full by 7 (50). 3 and 6 miss: 7 was only
     * ever partial then, and partial blocks are not stored. Every request's input counts, the
     * empty one's 0 too. For opt this holds only if a partial lookup is a next use: otherwise it
     * would bypass block 2 (stored by 1, next looked up by 5 as a partial block) and block 7.
     */
    @Test
    void shortPromptsAndPartialLastBlocksHitBlocksLongerPromptsStored() throws IOException {
        String slice = String.join("\n",
                "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 1, \"hash_ids\": [1, 2]}",
                "{\"timestamp\": 1, \"input_length\": 100, \"output_length\": 1, \"hash_ids\": [1]}",
                "{\"timestamp\": 2, \"input_length\": 300, \"output_length\": 1, \"hash_ids\": [7]}",
                "{\"timestamp\": 3, \"input_length\": 0, \"output_length\": 1, \"hash_ids\": []}",
                "{\"timestamp\": 4, \"input_length\": 700, \"output_length\": 1, \"hash_ids\": [1, 2]}",
                "{\"timestamp\": 5, \"input_length\": 200, \"output_length\": 1, \"hash_ids\": [7]}",
                "{\"timestamp\": 6, \"input_length\": 812, \"output_length\": 1, \"hash_ids\": [7, 8]}",
                "{\"timestamp\": 7, \"input_length\": 50, \"output_length\": 1, \"hash_ids\": [7]}");
        Trace t = Trace.read(Files.writeString(dir.resolve("short.jsonl"), slice), null);
        for (ReplayPolicy p : ReplayPolicy.values()) {
            ReplayResult r = replay(t, p, 64, 0);
            assertEquals(8, r.requests(), p + " requests");
            assertEquals(1024 + 100 + 300 + 0 + 700 + 200 + 812 + 50, r.inputTokens(), p + " input tokens");
            // second-hit keeps a block on its second sighting: block 1 when 5 stores it, 7 when 7 does.
            assertEquals(p == ReplayPolicy.SECOND_HIT ? 50 : 100 + 512 + 188 + 50, r.hitTokens(), p + " hit tokens");
            assertEquals(0, r.wrongBlocks());
        }
    }

    /**
     * A generated Mooncake trace, a third of its prompts shorter than one block (some empty, some
     * repeating a conversation's first block, some an id no prompt stores), replays to the end
     * under every policy. With room for every block, every policy but second-hit (which keeps a
     * block only on its second sighting) hits exactly what an unbounded cache would; with 8
     * blocks, none hits more.
     */
    @Test
    void aTraceOfManyShortPromptsReplaysToTheEndUnderEveryPolicy() throws IOException {
        Random random = new Random(7);
        StringBuilder lines = new StringBuilder();
        Set<Long> stored = new HashSet<>();
        long input = 0;
        long unbounded = 0;
        long shortHits = 0;
        int shortPrompts = 0;
        int n = 600;
        for (int q = 0; q < n; q++) {
            long conversation = random.nextInt(8) * 100L; // its block i has id conversation + i
            int length;
            long[] ids;
            if (random.nextInt(3) == 0) {
                shortPrompts++;
                length = random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(511);
                ids = length == 0 ? new long[0] : new long[] {random.nextInt(3) == 0 ? 10_000 + q : conversation};
            } else {
                int blocks = 1 + random.nextInt(12);
                length = (blocks - 1) * 512 + 1 + random.nextInt(512);
                ids = new long[blocks];
                for (int i = 0; i < blocks; i++) {
                    ids[i] = conversation + i;
                }
            }
            lines.append(String.format("{\"timestamp\": %d, \"input_length\": %d, \"output_length\": 1, \"hash_ids\": %s}\n",
                    q * 10, length, Arrays.toString(ids)));
            input += length;
            long hit = 0;
            for (int i = 0; i < ids.length && stored.contains(ids[i]); i++) {
                hit += Math.min(512, length - 512 * i);
            }
            unbounded += hit;
            shortHits += length < 512 ? hit : 0;
            for (int i = 0; i < length / 512; i++) {
                stored.add(ids[i]);
            }
        }
        assertTrue(shortPrompts > n / 4 && shortHits > 0, "the generator makes short prompts that hit");
        Trace t = Trace.read(Files.writeString(dir.resolve("generated.jsonl"), lines), TraceFormat.MOONCAKE);
        for (ReplayPolicy p : ReplayPolicy.values()) {
            for (long dram : new long[] {stored.size(), 8}) {
                ReplayResult r = replay(t, p, dram, 0);
                assertEquals(n, r.requests(), p + " requests");
                assertEquals(input, r.inputTokens(), p + " input tokens");
                assertEquals(0, r.wrongBlocks());
                if (dram > 8 && p != ReplayPolicy.SECOND_HIT) {
                    assertEquals(unbounded, r.hitTokens(), p + " hit tokens with room for every block");
                } else {
                    assertTrue(r.hitTokens() <= unbounded, p + " " + dram + " blocks hit " + r.hitTokens()
                            + " tokens, more than an unbounded cache's " + unbounded);
                }
            }
        }
    }

    @Test
    void badConfigurationsAreNamed() {
        assertMessage("replay needs at least one DRAM block, was 0",
                () -> new ReplayConfig(ReplayPolicy.LRU, 0, 0, 0, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("tier capacities must be >= 0 blocks: ssd -1",
                () -> new ReplayConfig(ReplayPolicy.LRU, 1, -1, 0, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("--remote-blocks needs --remote-uri",
                () -> new ReplayConfig(ReplayPolicy.LRU, 1, 0, 8, 512, 4096, dir, null, PrefillModel.DEFAULT, false));
        assertMessage("an SSD tier needs a work directory",
                () -> new ReplayConfig(ReplayPolicy.LRU, 1, 8, 0, 512, 4096, null, null, PrefillModel.DEFAULT, false));
        assertMessage("replay needs blockTokens >= 1 and blockBytes >= 16, was 512 and 8",
                () -> new ReplayConfig(ReplayPolicy.LRU, 1, 0, 0, 512, 8, dir, null, PrefillModel.DEFAULT, false));
    }

    private static void assertMessage(String message, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(message), "expected \"" + message + "\" in: " + e.getMessage());
    }

    private ReplayResult replay(ReplayPolicy policy, long dram, long ssd) throws IOException {
        return replay(Trace.read(Files.writeString(dir.resolve("slice.jsonl"), SLICE), null), policy, dram, ssd);
    }

    private ReplayResult replay(Trace t, ReplayPolicy policy, long dram, long ssd) throws IOException {
        ReplayConfig c = new ReplayConfig(policy, dram, ssd, 0, t.blockTokens(), 4096, dir, null, PrefillModel.DEFAULT, false);
        return Replay.run(t, c, n -> { });
    }
}
