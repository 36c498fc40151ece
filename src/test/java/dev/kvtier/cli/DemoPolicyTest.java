package dev.kvtier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.PrefillModel;
import dev.kvtier.replay.Replay;
import dev.kvtier.replay.ReplayConfig;
import dev.kvtier.replay.ReplayPolicy;
import dev.kvtier.replay.ReplayResult;
import dev.kvtier.trace.Trace;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's workload at CI's sizes ({@code ./kvtier demo --requests 300 --ssd-mib 256}: DRAM
 * 1,024 + SSD 1,023 blocks), through the replay engine the demo ends with: the default policy is
 * not behind {@code lru}. There the SSD is no larger than DRAM, so writing every block mirrors
 * DRAM and adds little ({@code lru} makes about what DRAM alone does); the default's shadows see
 * that and write a share of chains, which the SSD then adds to DRAM: it leads {@code lru} clearly.
 */
class DemoPolicyTest {
    @TempDir
    Path dir;

    @Test
    void theDefaultIsNotBehindLruAtCiSizes() throws IOException {
        Trace chat = DemoCommand.chatTrace(42, 4, 300, 32);
        ReplayResult lru = replay(chat, ReplayPolicy.LRU);
        ReplayResult adaptive = replay(chat, ReplayPolicy.ADAPTIVE);
        System.out.printf(Locale.ROOT, "demo at CI's sizes: adaptive %.4f lru %.4f%n", adaptive.hitRate(), lru.hitRate());
        assertTrue(adaptive.hitRate() > lru.hitRate() + 0.05, "adaptive did not leave lru's mirroring writes");
        assertEquals(0, adaptive.wrongBlocks());
    }

    private ReplayResult replay(Trace t, ReplayPolicy p) throws IOException {
        return Replay.run(t, new ReplayConfig(p, 1024, 1023, 0, t.blockTokens(), DemoCommand.REPORT_BLOCK_BYTES, dir, null,
                PrefillModel.DEFAULT, false), n -> { });
    }
}
