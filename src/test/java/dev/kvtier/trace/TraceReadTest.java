package dev.kvtier.trace;

import static dev.kvtier.trace.TraceFiles.ids;
import static dev.kvtier.trace.TraceFiles.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Format detection, directories (merge order, sources), missing paths. */
class TraceReadTest {
    private static final String MOONCAKE_LINE =
            "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 5, \"hash_ids\": [1, 2]}\n";
    private static final String KCT_DOC = "{\"id\": \"t\", \"block_size\": 64, \"requests\": [{\"t\": 0, \"type\": \"n\", "
            + "\"in\": 64, \"out\": 1, \"hash_ids\": [1]}]}";

    @TempDir
    Path dir;

    @Test
    void detectsTheFormatFromContent() throws Exception {
        assertEquals(TraceFormat.MOONCAKE, Trace.detect(write(dir, "a.jsonl", "\n\n  " + MOONCAKE_LINE)));
        assertEquals(TraceFormat.MOONCAKE, Trace.detect(write(dir, "b.txt",
                "{\"hash_ids\": [1], \"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}")));
        assertEquals(TraceFormat.KV_CACHE_TESTER, Trace.detect(write(dir, "c.json", KCT_DOC)));
        // The file name does not matter.
        assertEquals(TraceFormat.KV_CACHE_TESTER, Trace.read(write(dir, "d.jsonl", KCT_DOC), null).format());
        assertEquals(TraceFormat.MOONCAKE, Trace.read(write(dir, "e.json", MOONCAKE_LINE), null).format());
    }

    @Test
    void undetectableContentIsAnError() {
        TraceFiles.fails(dir, "x.json", null, "\n{\"foo\": 1,\n \"bar\": {\"requests\": []}}\n", 2,
                "cannot detect the trace format");
        TraceFiles.fails(dir, "y.json", null, "\n[1, 2]", 2, "not a trace: expected a JSON object, got an array");
        TraceFiles.fails(dir, "z.json", null, "hash_ids", 1, "malformed JSON");
    }

    @Test
    void anExplicitFormatThatDoesNotFitIsNamed() {
        TraceFiles.fails(dir, "k.json", TraceFormat.MOONCAKE, KCT_DOC, 1, "looks like a kv-cache-tester trace, not mooncake");
        TraceFiles.fails(dir, "m.jsonl", TraceFormat.KV_CACHE_TESTER, MOONCAKE_LINE, 1,
                "looks like a mooncake trace, not kv-cache-tester");
    }

    private static String kct(double... times) {
        StringBuilder b = new StringBuilder("{\"block_size\": 64, \"requests\": [");
        for (int i = 0; i < times.length; i++) {
            b.append(i == 0 ? "" : ",\n").append("{\"t\": ").append(times[i])
                    .append(", \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [").append(i).append("]}");
        }
        return b.append("]}").toString();
    }

    @Test
    void directoryMergesByTimeStablyWithOneSourcePerFile() throws Exception {
        Path d = Files.createDirectory(dir.resolve("sessions"));
        // Written out of name order; read sorted by name: a=0, b=1, c=2.
        write(d, "c.json", kct(0, 5));
        write(d, "a.json", kct(0, 2, 5, 9));
        write(d, "b.json", kct(1, 2));
        write(d, "LICENSE", "not a trace");
        write(d, ".hidden.json", "garbage");
        Files.createDirectory(d.resolve("sub.json"));
        Trace t = Trace.read(d, null);
        assertEquals("sessions", t.name());
        assertEquals(TraceFormat.KV_CACHE_TESTER, t.format());
        assertEquals(3, t.sources());
        assertEquals(List.of("a.json", "b.json", "c.json"), t.sourceNames());
        assertEquals(8 * 64, t.inputTokens());
        // (time, source, id): ties keep file order, then order within the file.
        String order = t.requests().stream()
                .map(r -> (int) r.timeSeconds() + ":" + r.source() + ":" + r.hashIds()[0])
                .reduce((x, y) -> x + " " + y).orElseThrow();
        assertEquals("0:0:0 0:2:0 1:1:0 2:0:1 2:1:1 5:0:2 5:2:1 9:0:3", order);
        assertEquals(t, t); // sanity
        assertEquals(TraceFormat.KV_CACHE_TESTER, Trace.read(d, TraceFormat.KV_CACHE_TESTER).format());
    }

    @Test
    void directoryOfMooncakeFiles() throws Exception {
        Path d = Files.createDirectory(dir.resolve("mc"));
        write(d, "2.jsonl", MOONCAKE_LINE.replace("\"timestamp\": 0", "\"timestamp\": 500"));
        write(d, "1.jsonl", MOONCAKE_LINE + MOONCAKE_LINE.replace("\"timestamp\": 0", "\"timestamp\": 1000"));
        Trace t = Trace.read(d, TraceFormat.MOONCAKE);
        assertEquals(512, t.blockTokens());
        assertEquals(List.of(new TraceRequest(0, 600, 5, ids(1, 2), 0), new TraceRequest(0.5, 600, 5, ids(1, 2), 1),
                new TraceRequest(1, 600, 5, ids(1, 2), 0)), t.requests());
    }

    @Test
    void directoryFilesMustAgree() throws Exception {
        Path d = Files.createDirectory(dir.resolve("mixed"));
        write(d, "a.json", KCT_DOC);
        write(d, "b.jsonl", MOONCAKE_LINE);
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> Trace.read(d, null));
        assertEquals("b.jsonl", e.file());
        assertTrue(e.getMessage().contains("a mooncake trace, but a.json is kv-cache-tester"), e.getMessage());

        Path d2 = Files.createDirectory(dir.resolve("sizes"));
        write(d2, "a.json", KCT_DOC);
        write(d2, "b.json", "{\"id\": \"t\",\n\"block_size\": 32, \"requests\": [{\"t\": 0, \"type\": \"n\", "
                + "\"in\": 64, \"out\": 1, \"hash_ids\": [1, 2]}]}");
        e = assertThrows(TraceFormatException.class, () -> Trace.read(d2, null));
        assertEquals("b.json line 2: block_size 32 differs from 64 in a.json; the files of a directory must agree",
                e.getMessage());

        Path d3 = Files.createDirectory(dir.resolve("onebad"));
        write(d3, "a.json", KCT_DOC);
        write(d3, "b.json", KCT_DOC.replace("\"in\": 64", "\"in\": 63"));
        e = assertThrows(TraceFormatException.class, () -> Trace.read(d3, TraceFormat.KV_CACHE_TESTER));
        assertTrue(e.getMessage().startsWith("b.json line 1: hash_ids has 1 id"), e.getMessage());
    }

    /**
     * With skipBadFiles a directory's bad files (malformed, another format, another block size)
     * are left out and named with their line; the files read get consecutive sources. Without,
     * the first bad file fails the read; a single bad file fails either way.
     */
    @Test
    void skipBadFilesLeavesOutADirectorysBadFilesAndNamesThem() throws Exception {
        Path d = Files.createDirectory(dir.resolve("some-bad"));
        write(d, "a.json", "{\"requests\": [\n{\"t\": 0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [1]},\n"
                + "{\"t\": 1, \"type\": \"n\", \"in\": 64, \"out\": \"x\", \"hash_ids\": [1]}]}");
        write(d, "b.json", KCT_DOC.replace("\"out\": 1, ", ""));
        write(d, "c.jsonl", MOONCAKE_LINE);
        write(d, "d.json", "{\"block_size\": 32,\n\"requests\": [{\"t\": 0, \"type\": \"n\", \"in\": 64, \"out\": 1, \"hash_ids\": [1, 2]}]}");
        write(d, "e.json", KCT_DOC.replace("[1]", "[7]"));
        write(d, "f.json", "{\"requests\": [{\"t\": 0, \"type\": \"n\",");
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> Trace.read(d, null));
        assertEquals("a.json line 3: out must be a non-negative integer, got string \"x\"", e.getMessage());

        Trace t = Trace.read(d, null, true);
        assertEquals(List.of("b.json", "e.json"), t.sourceNames());
        assertEquals(List.of(new TraceRequest(0, 64, 0, ids(1), 0), new TraceRequest(0, 64, 1, ids(7), 1)), t.requests());
        assertEquals(List.of("a.json line 3: out must be a non-negative integer, got string \"x\"",
                "c.jsonl: a mooncake trace, but b.json is kv-cache-tester; a directory must hold one format",
                "d.json line 1: block_size 32 differs from 64 in b.json; the files of a directory must agree",
                "f.json line 1: malformed JSON"),
                t.skippedFiles().stream().map(x -> x.getMessage().startsWith("f.json line 1: malformed JSON")
                        ? "f.json line 1: malformed JSON" : x.getMessage()).toList());
        assertEquals(List.of("a.json", "c.jsonl", "d.json", "f.json"),
                t.skippedFiles().stream().map(TraceFormatException::file).toList());
        assertEquals(Map.of("out", 1L, "hash_id_scope", 2L), t.defaultedFields(), "of the files read only");

        Path allBad = Files.createDirectory(dir.resolve("all-bad"));
        write(allBad, "x.json", "[]");
        write(allBad, "y.jsonl", "{\"timestamp\": 0}");
        e = assertThrows(TraceFormatException.class, () -> Trace.read(allBad, null, true));
        assertEquals("all-bad: all 2 trace files are bad, skipped; the first: x.json line 1: not a trace: expected a "
                + "JSON object, got an array", e.getMessage());
        Path single = write(dir, "single.jsonl", "{\"timestamp\": 0}");
        e = assertThrows(TraceFormatException.class, () -> Trace.read(single, null, true));
        assertEquals("single.jsonl line 1: input_length missing", e.getMessage());
    }

    @Test
    void emptyDirectoryIsAnError() throws Exception {
        Path d = Files.createDirectory(dir.resolve("nothing"));
        write(d, "README.md", "no traces here");
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> Trace.read(d, null));
        assertEquals("nothing: no trace files (*.json, *.jsonl) in the directory", e.getMessage());
    }

    @Test
    void missingPathIsNoSuchFile() {
        Path p = dir.resolve("nope/trace.jsonl");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Trace.read(p, null));
        assertEquals(p + ": no such trace file or directory", e.getMessage());
        assertThrows(NoSuchFileException.class, () -> Trace.read(p, TraceFormat.MOONCAKE));
    }

    @Test
    void aTraceBuiltInMemoryKeepsItsRequestsAndRefusesDisorder() {
        TraceRequest a = new TraceRequest(0, 64, 0, new long[] {1, 2}, 0);
        TraceRequest b = new TraceRequest(1, 32, 0, new long[] {1}, 1);
        Trace t = Trace.of("generated", 32, List.of(a, b), List.of("tenant-0", "tenant-1"));
        assertEquals(List.of(a, b), t.requests());
        assertEquals(null, t.format());
        assertEquals(2, t.sources());
        assertEquals(96, t.inputTokens());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Trace.of("x", 32, List.of(b, a), List.of("s0", "s1")));
        assertEquals("request 1 is out of time order or names source 0 of 2", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Trace.of("x", 32, List.of(b), List.of("s0")));
        assertThrows(IllegalArgumentException.class, () -> Trace.of("x", 0, List.of(a), List.of("s0")));
        Trace head = t.head(1);
        assertEquals(List.of(a), head.requests());
        assertEquals(2, head.sources());
        assertEquals(t, t.head(5));
        assertThrows(IllegalArgumentException.class, () -> t.head(-1));
    }
}
