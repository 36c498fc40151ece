package dev.kvtier.trace;

import static dev.kvtier.trace.TraceFiles.fails;
import static dev.kvtier.trace.TraceFiles.range;
import static dev.kvtier.trace.TraceFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading small inline Mooncake JSON-lines traces, good and bad. */
class MooncakeTraceTest {
    private static final TraceFormat M = TraceFormat.MOONCAKE;
    private static final String GOOD = """
            {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [%s]}
            {"timestamp": 0, "input_length": 1024, "output_length": 3, "hash_ids": [0, 14]}

            {"timestamp": 1500, "output_length": 7, "hash_ids": [15], "input_length": 1, "extra": {"a": [1, 2]}}
            {"timestamp": 2500.5, "input_length": 0, "output_length": 0, "hash_ids": []}
            """.formatted(range(0, 14));

    @TempDir
    Path dir;

    @Test
    void readsKnownContents() throws Exception {
        for (TraceFormat f : new TraceFormat[] {M, null}) {
            Trace t = Trace.read(write(dir, "small.jsonl", GOOD), f);
            assertEquals("small.jsonl", t.name());
            assertEquals(M, t.format());
            assertEquals(512, t.blockTokens());
            assertEquals(1, t.sources());
            assertEquals(List.of("small.jsonl"), t.sourceNames());
            assertEquals(6758 + 1024 + 1, t.inputTokens());
            assertEquals(14 + 2 + 1, t.blockReferences());
            List<TraceRequest> r = t.requests();
            assertEquals(4, r.size());
            assertEquals(new TraceRequest(0, 6758, 500, TraceFiles.ids(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), 0),
                    r.get(0));
            assertEquals(new TraceRequest(0, 1024, 3, TraceFiles.ids(0, 14), 0), r.get(1));
            assertEquals(new TraceRequest(1.5, 1, 7, TraceFiles.ids(15), 0), r.get(2));
            assertEquals(new TraceRequest(2.5005, 0, 0, new long[0], 0), r.get(3));
            assertEquals(102, r.get(0).blockTokens(13, t.blockTokens()));
            assertEquals(512, r.get(1).blockTokens(1, t.blockTokens()));
            assertEquals(1, r.get(2).blockTokens(0, t.blockTokens()));
            assertThrows(UnsupportedOperationException.class, () -> r.remove(0));
        }
    }

    @Test
    void longIdListsGrowTheBuffer() throws Exception {
        int n = 5000; // beyond the initial scratch size
        String line = "{\"timestamp\": 3, \"input_length\": " + (n * 512 - 1) + ", \"output_length\": 1, \"hash_ids\": ["
                + range(0, n) + "]}\n";
        Trace t = Trace.read(write(dir, "long.jsonl", line + line), M);
        long[] ids = t.requests().get(1).hashIds();
        assertEquals(n, ids.length);
        assertEquals(n - 1, ids[n - 1]);
        assertEquals(511, t.requests().get(1).blockTokens(n - 1, 512));
    }

    @Test
    void idsBeyondIntRangeAreKept() throws Exception {
        Trace t = Trace.read(write(dir, "big.jsonl",
                "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 1, \"hash_ids\": [9223372036854775807, 4294967296]}\n"), M);
        assertArrayEquals(new long[] {Long.MAX_VALUE, 1L << 32}, t.requests().get(0).hashIds());
    }

    @Test
    void noTrailingNewlineIsFine() throws Exception {
        Trace t = Trace.read(write(dir, "nonl.jsonl",
                "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": [7]}"), null);
        assertEquals(1, t.requests().size());
    }

    /** output_length is optional: null or missing is 0, counted; the required fields are not. */
    @Test
    void outputLengthNullOrMissingIsZeroAndCounted() throws Exception {
        Trace t = Trace.read(write(dir, "opt.jsonl", """
                {"timestamp": 0, "input_length": 600, "hash_ids": [1, 2]}
                {"timestamp": 1, "input_length": 600, "output_length": null, "hash_ids": [1, 2]}
                {"timestamp": 2, "input_length": 600, "output_length": 4, "hash_ids": [1, 2]}
                """), M);
        assertEquals(List.of(0, 0, 4), t.requests().stream().map(TraceRequest::outputTokens).toList());
        assertEquals(Map.of("output_length", 2L), t.defaultedFields());
        assertEquals(Map.of(), Trace.read(write(dir, "all.jsonl", L1), M).defaultedFields());
    }

    private static final String L1 = "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n";

    @Test
    void malformedJson() {
        fails(dir, "bad.jsonl", M, L1 + L1 + "{\"timestamp\": 0, \"input_length\": 600,, \"hash_ids\": [1, 2]}\n", 3,
                "malformed JSON");
        TraceFormatException e = fails(dir, "trunc.jsonl", M,
                L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2\n",
                3, "malformed JSON: Unexpected end-of-input: expected close marker for Array (start marker at line 2, column 71)");
        assertFalse(e.getMessage().contains("Source"), e.getMessage());
        fails(dir, "dup.jsonl", M, L1 + "{\"timestamp\": 0, \"timestamp\": 1, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "Duplicate field");
        fails(dir, "junk.jsonl", M, L1 + "hello\n", 2, "malformed JSON");
    }

    @Test
    void notAnObjectPerLine() {
        fails(dir, "arr.jsonl", M, L1 + "[1, 2]\n", 2, "expected one JSON object per line, got an array");
        fails(dir, "two.jsonl", M, L1 + L1.strip() + " " + L1, 2, "more than one JSON object on the line");
    }

    @Test
    void missingFields() {
        fails(dir, "m.jsonl", M, L1 + "{\"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n", 2,
                "timestamp missing");
        fails(dir, "m.jsonl", M, L1 + L1 + "{\"timestamp\": 0, \"output_length\": 5, \"hash_ids\": [1, 2]}\n", 3,
                "input_length missing");
        fails(dir, "conversation_trace.jsonl", M, L1.repeat(16) + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5}\n",
                17, "hash_ids missing");
    }

    @Test
    void wronglyTypedFields() {
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": \"0\", \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "timestamp must be a non-negative number, got string \"0\"");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600.5, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "input_length must be a non-negative integer, got 600.5");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": null, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "timestamp must be a non-negative number, got null");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": null, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "input_length must be a non-negative integer, got null");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": null}\n",
                2, "hash_ids must be an array, got null");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": {\"a\": 1}}\n",
                2, "hash_ids must be an array, got an object");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, \"2\"]}\n",
                2, "hash_ids must hold non-negative integers, got string \"2\" at index 1");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2.0]}\n",
                2, "hash_ids must hold non-negative integers, got 2.0 at index 1");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 6000000000, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "input_length 6000000000 is too large");
        fails(dir, "w.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 99999999999999999999]}\n",
                2, "hash_ids[1] 99999999999999999999 is too large");
    }

    @Test
    void negativeNumbers() {
        fails(dir, "n.jsonl", M, "{\"timestamp\": -1, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                1, "timestamp must not be negative, got -1");
        fails(dir, "n.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": -600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "input_length must not be negative, got -600");
        fails(dir, "n.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": -5, \"hash_ids\": [1, 2]}\n",
                2, "output_length must not be negative, got -5");
        fails(dir, "n.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, -2]}\n",
                2, "hash_ids[1] must not be negative, got -2");
    }

    @Test
    void inputLengthMustMatchTheIdCount() {
        fails(dir, "c.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 1025, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "hash_ids has 2 ids, but input_length 1025 needs ceil(1025/512) = 3");
        fails(dir, "c.jsonl", M, L1 + "{\"timestamp\": 0, \"input_length\": 512, \"output_length\": 5, \"hash_ids\": [1, 2]}\n",
                2, "hash_ids has 2 ids, but input_length 512 needs ceil(512/512) = 1");
        fails(dir, "c.jsonl", M, "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 5, \"hash_ids\": []}\n",
                1, "hash_ids has 0 ids, but input_length 1 needs ceil(1/512) = 1");
    }

    @Test
    void timestampsMustNotGoBackwards() {
        fails(dir, "b.jsonl", M, L1.replace("\"timestamp\": 0", "\"timestamp\": 200") + "\n"
                        + L1.replace("\"timestamp\": 0", "\"timestamp\": 100"),
                3, "timestamp 100 is before the previous request's 200");
    }

    @Test
    void emptyTraces() {
        fails(dir, "empty.jsonl", M, "", 1, "empty trace: no requests");
        fails(dir, "blank.jsonl", M, "\n  \n\n", 4, "empty trace: no requests");
        fails(dir, "empty.jsonl", null, "", 1, "empty trace: no requests");
    }
}
