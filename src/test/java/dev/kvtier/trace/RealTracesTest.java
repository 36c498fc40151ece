package dev.kvtier.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The published traces in {@code ../shared/traces} (see its README): counts, invariants and read
 * time. Skipped when the folder is absent; the traces are never copied into the repository.
 */
class RealTracesTest {
    private static final Path TRACES = Path.of("..", "shared", "traces");
    private static final Path MOONCAKE = TRACES.resolve("mooncake/conversation_trace.jsonl");
    private static final Path KV_CACHE_TESTER = TRACES.resolve("kv-cache-tester");

    private static Path need(Path p) {
        assumeTrue(Files.exists(p), () -> "skipped: no shared trace at " + p.toAbsolutePath().normalize()
                + " (the published traces live beside the project in ../shared/traces)");
        return p;
    }

    @Test
    void mooncakeCounts() throws Exception {
        Trace t = Trace.read(need(MOONCAKE), null);
        assertEquals(TraceFormat.MOONCAKE, t.format());
        assertEquals("conversation_trace.jsonl", t.name());
        assertEquals(512, t.blockTokens());
        assertEquals(1, t.sources());
        List<TraceRequest> rs = t.requests();
        assertEquals(12_031, rs.size());
        assertEquals(288_500, t.blockReferences());
        Set<Long> distinct = new HashSet<>();
        long refs = 0;
        for (TraceRequest r : rs) {
            for (long id : r.hashIds()) {
                distinct.add(id);
            }
            refs += r.hashIds().length;
            assertEquals((r.inputTokens() + 511) / 512, r.blocks());
            int last = r.blocks() - 1;
            assertEquals(r.inputTokens() - 512 * last, r.blockTokens(last, 512));
        }
        assertEquals(288_500, refs);
        assertEquals(182_790, distinct.size());
        assertEquals(144_793_823L, t.inputTokens());
        assertEquals(Map.of(), t.defaultedFields(), "every field present");
        assertEquals(3_536.999, t.durationSeconds(), 1e-9);
    }

    /** The README: each id always follows the same parent id (chained prefix hashes). */
    @Test
    void mooncakeIdsAlwaysHaveTheSameParent() throws Exception {
        Trace t = Trace.read(need(MOONCAKE), TraceFormat.MOONCAKE);
        Map<Long, Long> parent = new HashMap<>();
        final long root = -1;
        for (TraceRequest r : t.requests()) {
            long[] ids = r.hashIds();
            for (int i = 0; i < ids.length; i++) {
                long p = i == 0 ? root : ids[i - 1];
                Long seen = parent.putIfAbsent(ids[i], p);
                if (seen != null && seen != p) {
                    throw new AssertionError("id " + ids[i] + " follows " + p + " at t=" + r.timeSeconds()
                            + " but followed " + seen + " before");
                }
            }
        }
        assertEquals(182_790, parent.size());
    }

    @Test
    void mooncakeReadsWellUnderASecond() throws Exception {
        need(MOONCAKE);
        long best = Long.MAX_VALUE;
        long first = 0;
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            Trace t = Trace.read(MOONCAKE, null);
            long ns = System.nanoTime() - t0;
            assertEquals(12_031, t.requests().size());
            first = i == 0 ? ns : first;
            best = Math.min(best, ns);
        }
        System.out.printf("Mooncake trace: first read %.1f ms, best of 5 %.1f ms%n", first / 1e6, best / 1e6);
        assertTrue(best < 1_000_000_000L, "best read took " + best / 1e6 + " ms");
    }

    @Test
    void kvCacheTesterDirectory() throws Exception {
        long t0 = System.nanoTime();
        Trace t = Trace.read(need(KV_CACHE_TESTER), null);
        long ns = System.nanoTime() - t0;
        System.out.printf("kv-cache-tester directory: read in %.1f ms%n", ns / 1e6);
        assertEquals(TraceFormat.KV_CACHE_TESTER, t.format());
        assertEquals("kv-cache-tester", t.name());
        assertEquals(64, t.blockTokens());
        assertEquals(60, t.sources()); // LICENSE is not a trace file
        assertEquals("trace_0001.json", t.sourceNames().get(0));
        // 2,028 session requests and 66 requests nested in 5 subagents.
        assertEquals(2_094, t.requests().size());
        assertEquals(3_125_013, t.blockReferences());
        assertEquals(200_065_221L, t.inputTokens());
        assertEquals(Map.of(), t.defaultedFields(), "every field present");
        Set<String> distinct = new HashSet<>();
        int[] perSource = new int[t.sources()];
        double previous = 0;
        for (TraceRequest r : t.requests()) {
            assertTrue(r.timeSeconds() >= previous, "requests in time order");
            previous = r.timeSeconds();
            assertEquals(r.inputTokens() / 64, r.blocks());
            perSource[r.source()]++;
            for (long id : r.hashIds()) {
                distinct.add(r.source() + ":" + id); // ids are local to each file
            }
        }
        assertEquals(191_692, distinct.size());
        for (int n : perSource) {
            assertTrue(n > 0);
        }
    }

    /**
     * trace_0282 launches three subagents together just after its request at t=55 (api_time
     * 23.17 s): t - duration_ms/1000 is 78.257 s for all three, and their first requests (at
     * relative t=0) land there.
     */
    @Test
    void kvCacheTesterSubagentsStartWhenLaunched() throws Exception {
        Trace t = Trace.read(need(KV_CACHE_TESTER.resolve("trace_0282.json")), TraceFormat.KV_CACHE_TESTER);
        long atStart = t.requests().stream().filter(r -> Math.abs(r.timeSeconds() - 78.257) < 1e-6).count();
        assertEquals(3, atStart);
        // The three subagents begin with the same (subagent system prompt) ids, distinct from the session's.
        List<TraceRequest> starts = t.requests().stream().filter(r -> Math.abs(r.timeSeconds() - 78.257) < 1e-6).toList();
        assertEquals(starts.get(0).hashIds()[0], starts.get(1).hashIds()[0]);
        assertEquals(starts.get(0).hashIds()[0], starts.get(2).hashIds()[0]);
        assertTrue(t.requests().get(0).hashIds()[0] != starts.get(0).hashIds()[0]);
        // 49 session requests and 14 + 22 + 18 nested ones.
        assertEquals(49 + 54, t.requests().size());
    }
}
