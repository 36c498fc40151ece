package dev.kvtier.trace;

import static dev.kvtier.trace.TraceFiles.fails;
import static dev.kvtier.trace.TraceFiles.ids;
import static dev.kvtier.trace.TraceFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading small inline kv-cache-tester documents, good and bad. */
class KvCacheTesterTraceTest {
    private static final TraceFormat K = TraceFormat.KV_CACHE_TESTER;

    @TempDir
    Path dir;

    /** Requests one per line, so that line numbers are easy to state. */
    private static String docWith(String header, String... requests) {
        return "{\"id\": \"trace_x\", \"models\": [\"m\"], " + header + "\"requests\": [\n"
                + String.join(",\n", requests) + "\n]}\n";
    }

    private static String doc(String... requests) {
        return docWith("\"block_size\": 64, \"hash_id_scope\": \"local\", ", requests);
    }

    private static final String R0 = "{\"t\": 0.0, \"type\": \"n\", \"model\": \"m\", \"in\": 130, \"out\": 9, \"hash_ids\": [1, 2], \"api_time\": 1.5}";
    private static final String R1 = "{\"t\": 13.0, \"type\": \"s\", \"in\": 200, \"out\": 4, \"hash_ids\": [1, 2, 3]}";

    @Test
    void readsKnownContents() throws Exception {
        for (TraceFormat f : new TraceFormat[] {K, null}) {
            Trace t = Trace.read(write(dir, "trace_0001.json", doc(R0, R1)), f);
            assertEquals("trace_0001.json", t.name());
            assertEquals(K, t.format());
            assertEquals(64, t.blockTokens());
            assertEquals(1, t.sources());
            assertEquals(330, t.inputTokens());
            assertEquals(List.of(new TraceRequest(0, 130, 9, ids(1, 2), 0), new TraceRequest(13, 200, 4, ids(1, 2, 3), 0)),
                    t.requests());
            // floor: 130 tokens are 2 full blocks (the last 2 tokens are not cacheable).
            assertEquals(64, t.requests().get(0).blockTokens(1, t.blockTokens()));
        }
    }

    @Test
    void blockSizeFromTheFileAndDefault() throws Exception {
        Trace t = Trace.read(write(dir, "bs.json", docWith("\"block_size\": 32, ",
                "{\"t\": 1, \"type\": \"n\", \"in\": 100, \"out\": 1, \"hash_ids\": [5, 6, 7]}")), K);
        assertEquals(32, t.blockTokens());
        t = Trace.read(write(dir, "nobs.json", docWith("", R0)), K);
        assertEquals(64, t.blockTokens());
        // block_size after the requests still applies to them.
        t = Trace.read(write(dir, "late.json", "{\"requests\": [{\"t\": 1, \"type\": \"n\", \"in\": 100, \"out\": 1, "
                + "\"hash_ids\": [5, 6, 7]}], \"block_size\": 32}"), null);
        assertEquals(32, t.blockTokens());
    }

    @Test
    void subagentRequestsAreTimedFromTheSubagentStart() throws Exception {
        // The container's t (300.5) is when the subagent finished; it ran 200 s, so it started at
        // 100.5 and its requests are at 100.5 + 0 and 100.5 + 20; they sort before the session's
        // request at t=150. Nested ids share the file's source.
        String sub = "{\"t\": 300.5, \"type\": \"subagent\", \"agent_id\": \"agent_001\", \"duration_ms\": 200000, \"requests\": [\n"
                + "{\"t\": 0.0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [100]},\n"
                + "{\"t\": 20.0, \"type\": \"n\", \"in\": 128, \"out\": 1, \"hash_ids\": [100, 101]}\n"
                + "], \"status\": \"completed\"}";
        String r150 = "{\"t\": 150.0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [1]}";
        String r400 = "{\"t\": 400.0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [2]}";
        Trace t = Trace.read(write(dir, "sub.json", doc(R0, r150, sub, r400)), null);
        List<TraceRequest> r = t.requests();
        assertEquals(5, r.size());
        assertEquals(new TraceRequest(0, 130, 9, ids(1, 2), 0), r.get(0));
        assertEquals(new TraceRequest(100.5, 64, 1, ids(100), 0), r.get(1));
        assertEquals(new TraceRequest(120.5, 128, 1, ids(100, 101), 0), r.get(2));
        assertEquals(150.0, r.get(3).timeSeconds());
        assertEquals(400.0, r.get(4).timeSeconds());
    }

    @Test
    void subagentWithoutDurationStartsAtItsT() throws Exception {
        String sub = "{\"t\": 50, \"type\": \"subagent\", \"requests\": [{\"t\": 2, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [9]}]}";
        Trace t = Trace.read(write(dir, "sub.json", doc(R0, sub)), K);
        assertEquals(52.0, t.requests().get(1).timeSeconds());
    }

    @Test
    void nestedSubagentsCompose() throws Exception {
        String inner = "{\"t\": 10, \"type\": \"subagent\", \"duration_ms\": 5000, \"requests\": [{\"t\": 1, \"type\": \"n\", \"in\": 0, \"out\": 1, \"hash_ids\": []}]}";
        String outer = "{\"t\": 100, \"type\": \"subagent\", \"duration_ms\": 60000, \"requests\": [" + inner + "]}";
        Trace t = Trace.read(write(dir, "nest.json", doc(R0, outer)), K);
        // outer starts at 40, inner at 40 + 10 - 5 = 45, its request at 46.
        assertEquals(46.0, t.requests().get(1).timeSeconds(), 1e-9);
    }

    /**
     * Optional fields null or missing take their defaults and are counted: out 0, block_size 64,
     * hash_id_scope local, duration_ms (nested requests timed from the subagent's t). The
     * published trace_0295 has async_launched subagents with null duration_ms.
     */
    @Test
    void optionalFieldsNullOrMissingTakeTheirDefaultsAndAreCounted() throws Exception {
        String async = "{\"t\": 50.5, \"type\": \"subagent\", \"duration_ms\": null, \"total_tokens\": null, "
                + "\"status\": \"async_launched\", \"requests\": [{\"t\": 2, \"type\": \"n\", \"in\": 64, \"out\": null, "
                + "\"hash_ids\": [9]}]}";
        String noOut = "{\"t\": 60, \"type\": \"s\", \"in\": 0, \"hash_ids\": []}";
        Trace t = Trace.read(write(dir, "opt.json", docWith("\"block_size\": null, ", R0, async, noOut)), K);
        assertEquals(List.of(new TraceRequest(0, 130, 9, ids(1, 2), 0), new TraceRequest(52.5, 64, 0, ids(9), 0),
                new TraceRequest(60, 0, 0, ids(), 0)), t.requests());
        assertEquals(64, t.blockTokens());
        assertEquals(Map.of("block_size", 1L, "hash_id_scope", 1L, "duration_ms", 1L, "out", 2L), t.defaultedFields());
        assertEquals(List.of("block_size", "duration_ms", "hash_id_scope", "out"), List.copyOf(t.defaultedFields().keySet()));
        assertEquals(Map.of(), Trace.read(write(dir, "full.json", doc(R0, R1)), K).defaultedFields());
    }

    @Test
    void requiredFieldsMustNotBeNull() {
        fails(dir, "r.json", K, doc(R0, "{\"t\": null, \"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3,
                "t must be a non-negative number, got null");
        fails(dir, "r.json", K, doc(R0, "{\"t\": 20, \"type\": null, \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3,
                "type must be a string, got null");
        fails(dir, "r.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": null, \"out\": 0, \"hash_ids\": []}"), 3,
                "in must be a non-negative integer, got null");
        fails(dir, "r.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": null}"), 3,
                "hash_ids must be an array, got null");
        fails(dir, "r.json", K, doc(R0, "{\"t\": 20, \"type\": \"subagent\", \"requests\": null}"), 3,
                "requests must be an array, got null");
        fails(dir, "r.json", K, "{\"requests\": null}", 1, "requests must be an array, got null");
    }

    @Test
    void malformedJson() {
        fails(dir, "bad.json", K, doc(R0, R1, "{\"t\": 14.0, \"type\": \"n\" \"in\": 0}"), 4, "malformed JSON");
        fails(dir, "trunc.json", K, doc(R0, R1).substring(0, doc(R0, R1).length() - 4), 3, "malformed JSON");
        fails(dir, "dup.json", K, doc(R0, "{\"t\": 14.0, \"t\": 15.0, \"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"),
                3, "Duplicate field");
        fails(dir, "after.json", K, doc(R0) + "{}\n", 4, "content after the end of the document");
        fails(dir, "arr.json", K, "[" + R0 + "]", 1, "expected a JSON object, got an array");
    }

    @Test
    void missingFields() {
        fails(dir, "m.json", K, doc(R0, "{\"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3, "t missing");
        fails(dir, "m.json", K, doc(R0, R1, "{\"t\": 20, \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 4, "type missing");
        fails(dir, "m.json", K, doc("{\"t\": 20, \"type\": \"s\", \"out\": 0, \"hash_ids\": []}"), 2, "in missing");
        fails(dir, "m.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 0, \"out\": 0}"), 3, "hash_ids missing");
        fails(dir, "m.json", K, doc(R0, "{\"t\": 20, \"type\": \"subagent\", \"duration_ms\": 5}"), 3, "subagent requests missing");
        fails(dir, "m.json", K, "{\"id\": \"x\",\n \"block_size\": 64}\n", 2, "requests missing");
    }

    @Test
    void wronglyTypedFields() {
        fails(dir, "w.json", K, doc(R0, "{\"t\": \"20\", \"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3,
                "t must be a non-negative number, got string \"20\"");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": 1, \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3,
                "type must be a string, got 1");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"x\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3,
                "type \"x\" unknown (expected n, s or subagent)");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64.5, \"out\": 0, \"hash_ids\": [1]}"), 3,
                "in must be a non-negative integer, got 64.5");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": true, \"hash_ids\": [1]}"), 3,
                "out must be a non-negative integer, got true");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [null]}"), 3,
                "hash_ids must hold non-negative integers, got null at index 0");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": 1}"), 3,
                "hash_ids must be an array, got 1");
        fails(dir, "w.json", K, doc(R0, "7"), 3, "a request must be an object, got 7");
        fails(dir, "w.json", K, "{\"requests\": {}}", 1, "requests must be an array, got an object");
        fails(dir, "w.json", K, docWith("\"block_size\": \"64\", ", R0), 1, "block_size must be a non-negative integer");
        fails(dir, "w.json", K, docWith("\"block_size\": 0, ", R0), 1, "block_size must be positive");
        fails(dir, "w.json", K, docWith("\"hash_id_scope\": \"global\", ", R0), 1,
                "hash_id_scope \"global\" is not supported (only \"local\")");
        fails(dir, "w.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [1], \"requests\": []}"), 3,
                "a request of type \"n\" has nested requests");
    }

    @Test
    void negativeNumbers() {
        // The whole problem: not wrapped as "cannot read: n.json line 3: ...".
        assertEquals("t must not be negative, got -20", fails(dir, "n.json", K,
                doc(R0, "{\"t\": -20, \"type\": \"n\", \"in\": 0, \"out\": 0, \"hash_ids\": []}"), 3, "t must").problem());
        assertEquals("in must not be negative, got -64", fails(dir, "n.json", K,
                doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": -64, \"out\": 0, \"hash_ids\": []}"), 3, "in must").problem());
        fails(dir, "n.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": -1, \"hash_ids\": [1]}"), 3,
                "out must not be negative, got -1");
        fails(dir, "n.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [-1]}"), 3,
                "hash_ids[0] must not be negative, got -1");
        fails(dir, "n.json", K, doc(R0, "{\"t\": 20, \"type\": \"subagent\", \"duration_ms\": -1, \"requests\": []}"), 3,
                "duration_ms must not be negative, got -1");
        fails(dir, "n.json", K, doc(R0, "{\"t\": 20, \"type\": \"subagent\", \"duration_ms\": 30000, \"requests\": []}"), 3,
                "subagent duration_ms 30000.0 is longer than its t 20.0");
    }

    @Test
    void inMustMatchTheIdCount() {
        fails(dir, "c.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 127, \"out\": 1, \"hash_ids\": [1, 2]}"), 3,
                "hash_ids has 2 ids, but in 127 needs floor(127/64) = 1");
        fails(dir, "c.json", K, doc(R0, "{\"t\": 20, \"type\": \"n\", \"in\": 192, \"out\": 1, \"hash_ids\": [1, 2]}"), 3,
                "hash_ids has 2 ids, but in 192 needs floor(192/64) = 3");
        // Checked against the file's block_size, also inside a subagent.
        fails(dir, "c.json", K, docWith("\"block_size\": 32, ", "{\"t\": 20, \"type\": \"subagent\", \"requests\": [\n"
                + "{\"t\": 0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [1]}]}"), 3,
                "hash_ids has 1 id, but in 64 needs floor(64/32) = 2");
    }

    @Test
    void timesMustNotGoBackwards() {
        fails(dir, "b.json", K, doc(R1, R0), 3, "t 0.0 is before the previous request's 13.0");
        fails(dir, "b.json", K, doc("{\"t\": 20, \"type\": \"subagent\", \"requests\": [\n"
                + "{\"t\": 5, \"type\": \"n\", \"in\": 0, \"out\": 1, \"hash_ids\": []},\n"
                + "{\"t\": 4, \"type\": \"n\", \"in\": 0, \"out\": 1, \"hash_ids\": []}]}"), 4,
                "t 4.0 is before the previous request's 5.0");
    }

    @Test
    void emptyTraces() {
        fails(dir, "e.json", K, doc(), 3, "empty trace: no requests");
        fails(dir, "e.json", K, "{\"requests\": [{\"t\": 20, \"type\": \"subagent\", \"requests\": []}]}", 1,
                "empty trace: no requests");
        fails(dir, "e.json", K, "   \n", 2, "empty trace: no requests");
    }
}
