package dev.kvtier.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.PrefillModel;
import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The default policy on generated workloads of shapes no constant of it was chosen on: never
 * more than 0.003 of hit rate behind {@code lru}, at three DRAM capacities each and with an SSD;
 * and no policy above the {@code opt} bound, with a device tier too.
 */
class GeneratedWorkloadsTest {
    private static final int REQUESTS = 6000;
    private static final long[] CAPACITIES = {500, 2000, 8000};
    private static final double SLACK = 0.003;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Workloads.Shape.class)
    void theDefaultIsNeverBehindLru(Workloads.Shape shape) throws IOException {
        Trace t = Workloads.generate(shape, REQUESTS, 7);
        for (long c : CAPACITIES) {
            ReplayResult lru = replay(t, ReplayPolicy.LRU, c, 0);
            ReplayResult adaptive = replay(t, ReplayPolicy.ADAPTIVE, c, 0);
            ReplayResult opt = replay(t, ReplayPolicy.OPT, c, 0);
            System.out.printf(Locale.ROOT, "%s %d blocks: adaptive %.4f lru %.4f opt %.4f%n", shape.id(), c,
                    adaptive.hitRate(), lru.hitRate(), opt.hitRate());
            assertTrue(adaptive.hitRate() >= lru.hitRate() - SLACK, shape.id() + " at " + c + " blocks: adaptive "
                    + adaptive.hitRate() + " behind lru " + lru.hitRate());
            assertTrue(opt.hitRate() >= adaptive.hitRate() && opt.hitRate() >= lru.hitRate(),
                    shape.id() + " at " + c + " blocks: a policy above opt");
            assertEquals(0, adaptive.wrongBlocks());
        }
    }

    /** With an SSD (DRAM 500 + SSD 2,000 blocks) the default's shadows are two-level: not behind lru there either. */
    @ParameterizedTest
    @EnumSource(Workloads.Shape.class)
    void theDefaultIsNeverBehindLruWithAnSsd(Workloads.Shape shape) throws IOException {
        Trace t = Workloads.generate(shape, REQUESTS, 7);
        ReplayResult lru = replay(t, ReplayPolicy.LRU, 500, 2000);
        ReplayResult adaptive = replay(t, ReplayPolicy.ADAPTIVE, 500, 2000);
        System.out.printf(Locale.ROOT, "%s 500 + SSD 2000 blocks: adaptive %.4f lru %.4f%n", shape.id(), adaptive.hitRate(),
                lru.hitRate());
        assertTrue(adaptive.hitRate() >= lru.hitRate() - SLACK, shape.id() + " with an SSD: adaptive "
                + adaptive.hitRate() + " behind lru " + lru.hitRate());
        assertEquals(0, adaptive.wrongBlocks());
    }

    /** With an SSD, opt is Belady over DRAM and SSD together: above every policy on the tiered cache. */
    @Test
    void optBoundsEveryPolicyWithADeviceTier() throws IOException {
        Trace t = Workloads.generate(Workloads.Shape.TENANT_MIX, 1500, 3);
        ReplayResult opt = replay(t, ReplayPolicy.OPT, 100, 400);
        assertEquals(100, opt.capacityBlocks()[0]);
        assertEquals(400, opt.capacityBlocks()[1]);
        List<ReplayResult> all = new ArrayList<>(List.of(opt));
        for (ReplayPolicy p : new ReplayPolicy[] {ReplayPolicy.LRU, ReplayPolicy.SECOND_HIT, ReplayPolicy.COSTAWARE,
            ReplayPolicy.ADAPTIVE}) {
            all.add(replay(t, p, 100, 400));
        }
        for (ReplayBound.Row row : ReplayBound.rows(all)) {
            assertTrue(!row.exceeds(), row.run().policy() + " " + row.run().hitRate() + " above opt " + opt.hitRate());
        }
    }

    /** The halves of a trace split it: by files for several sources, by time for one. */
    @Test
    void halvesPartitionTheTrace() {
        Trace t = Workloads.generate(Workloads.Shape.TENANT_MIX, 900, 5);
        Trace first = TraceSplit.half(t, TraceSplit.Half.FIRST);
        Trace second = TraceSplit.half(t, TraceSplit.Half.SECOND);
        assertEquals(t.requests().size(), first.requests().size() + second.requests().size());
        for (TraceRequest r : first.requests()) {
            assertTrue(r.source() < 2, "first half by files: sources 0 and 1 of 3");
        }
        Trace one = Workloads.generate(Workloads.Shape.SHORT_PROMPTS, 900, 5);
        Trace early = TraceSplit.half(one, TraceSplit.Half.FIRST);
        assertTrue(early.requests().size() > 400 && early.requests().size() < 500, "by time: the first half");
        assertTrue(TraceSplit.half(one, TraceSplit.Half.SECOND).requests().get(0).timeSeconds() >= one.durationSeconds() / 2);
    }

    private ReplayResult replay(Trace t, ReplayPolicy p, long dram, long ssd) throws IOException {
        ReplayConfig c = new ReplayConfig(p, dram, ssd, 0, t.blockTokens(), 64, dir, null, PrefillModel.DEFAULT, false);
        return Replay.run(t, c, n -> { });
    }
}
