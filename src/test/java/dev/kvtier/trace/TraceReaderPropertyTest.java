package dev.kvtier.trace;

import static dev.kvtier.trace.TraceFiles.fails;
import static dev.kvtier.trace.TraceFiles.write;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.quicktheories.core.Gen;
import org.quicktheories.core.RandomnessSource;

/**
 * The readers against every variation the formats allow, generated with QuickTheories (its
 * randomness drives the whole generator, so failures shrink): random valid Mooncake and
 * kv-cache-tester files, each optional field present, null or missing, unknown fields with
 * scalar, nested object and array values in every object, fields in any order, blank lines or
 * random whitespace, empty {@code hash_ids}, zero and shorter-than-a-block input, equal times,
 * subagents nested two deep, read (format given and detected) as exactly the generator's
 * requests, block size and defaulted-field counts. The same files with one field wrongly typed
 * or one required field missing fail with the file, the line and the problem; cut short, they
 * fail as malformed JSON at their last line.
 */
class TraceReaderPropertyTest {
    private static final TraceFormat M = TraceFormat.MOONCAKE;
    private static final TraceFormat K = TraceFormat.KV_CACHE_TESTER;
    private static final int EXAMPLES = 300;
    /** Unknown field names, none a field its object's reader (or format detection) looks at. */
    private static final List<String> MOONCAKE_EXTRAS = List.of("session", "model", "meta", "x", "tags", "output");
    private static final List<String> DOC_EXTRAS = List.of("id", "models", "tool_tokens", "system_tokens", "totals", "x");
    private static final List<String> REQUEST_EXTRAS = List.of("model", "api_time", "input_types", "output_types",
            "stop", "think_time", "ttft", "x");
    private static final List<String> SUBAGENT_EXTRAS = List.of("agent_id", "subagent_type", "total_tokens",
            "tool_use_count", "status", "models", "tool_tokens");
    /** Keys of nested unknown objects: anything, the readers' own names included. */
    private static final List<String> ANY_KEYS = List.of("a", "requests", "t", "hash_ids", "timestamp", "in", "é");
    private static final List<String> STRINGS = List.of("", "n", "quote \" backslash \\", "line\nbreak\ttab",
            "unicode é ✓ \u0001", "{\"not\": [\"json\"]}");
    private static final List<String> RAW_NUMBERS = List.of("1e3", "-2.5E-3", "123456789012345678901234567890",
            "-0", "0.0");

    @TempDir
    Path dir;

    @Test
    void validFilesReadAsTheGeneratorsModel() {
        Set<String> seen = new TreeSet<>();
        for (TraceFormat f : new TraceFormat[] {M, K}) {
            qt().withExamples(EXAMPLES).forAll(files(f, false)).checkAssert(c -> {
                for (TraceFormat given : new TraceFormat[] {f, null}) {
                    Trace t = assertDoesNotThrow(() -> Trace.read(write(dir, c.name(), c.text()), given));
                    assertEquals(f, t.format());
                    assertEquals(c.blockTokens(), t.blockTokens());
                    assertEquals(c.requests(), t.requests());
                    assertEquals(c.defaulted(), t.defaultedFields());
                }
                seen.addAll(c.features());
            });
        }
        List<String> expected = new ArrayList<>(List.of("mooncake in 0", "mooncake in short", "mooncake equal times",
                "kv-cache-tester in 0", "kv-cache-tester in short", "kv-cache-tester equal times",
                "kv-cache-tester subagent depth 2"));
        for (String value : List.of("null", "scalar", "object", "array")) {
            expected.add("mooncake extra " + value);
            expected.add("kv-cache-tester extra " + value);
        }
        for (Presence p : Presence.values()) {
            expected.add("mooncake output_length " + p);
            for (String field : List.of("out", "duration_ms", "block_size", "hash_id_scope")) {
                expected.add("kv-cache-tester " + field + " " + p);
            }
        }
        assertTrue(seen.containsAll(expected), () -> "never generated: "
                + expected.stream().filter(e -> !seen.contains(e)).toList());
    }

    @Test
    void aWronglyTypedOrMissingFieldFailsWithFileLineAndProblem() {
        for (TraceFormat f : new TraceFormat[] {M, K}) {
            qt().withExamples(EXAMPLES).forAll(files(f, true)).checkAssert(c -> {
                for (TraceFormat given : new TraceFormat[] {f, null}) {
                    assertEquals(c.problem(), fails(dir, c.name(), given, c.text(), c.line(), c.problem()).problem());
                }
            });
        }
    }

    /** Cut inside an object (Mooncake: a line's), a file ends before the object does. */
    @Test
    void aFileCutShortIsMalformedJsonAtItsLastLine() {
        for (TraceFormat f : new TraceFormat[] {M, K}) {
            qt().withExamples(EXAMPLES).forAll(files(f, false), integers().between(0, Integer.MAX_VALUE))
                    .checkAssert((c, at) -> {
                        int[] span = c.objects().get(at % c.objects().size());
                        String cut = c.text().substring(0, span[0] + 1 + at % (span[1] - span[0]));
                        int line = 1 + (int) cut.chars().filter(ch -> ch == '\n').count();
                        fails(dir, c.name(), f, cut, line, "malformed JSON: ");
                        fails(dir, c.name(), null, cut, line, "malformed JSON: ");
                    });
        }
    }

    private enum Presence { PRESENT, NULL, MISSING }

    /**
     * A generated file and what reading it gives: requests, block size and defaulted fields,
     * the variations it has; for a corrupted one, the line and problem of its failure. Objects:
     * the offsets of each top-level object's braces.
     */
    private record Sample(String name, String text, List<TraceRequest> requests, int blockTokens,
            Map<String, Long> defaulted, Set<String> features, int line, String problem, List<int[]> objects) {
    }

    /** JSON text written as it is (numbers JSON allows but the model does not hold, bad values). */
    private record Raw(String text) {
    }

    /**
     * A field a corruption may break: the value kinds it must hold, and for a required field
     * the problem its absence makes (null: not tested missing, or optional).
     */
    private record Slot(Map<String, Object> object, String field, Kind kind, boolean required, String missing) {
    }

    /** Wrongly typed values for a kind of field, each with the problem it makes ({@code %s}: the field). */
    private enum Kind {
        INT("%s must be a non-negative integer, got null", "\"12\"", "%s must be a non-negative integer, got string \"12\"",
                "12.5", "%s must be a non-negative integer, got 12.5", "true", "%s must be a non-negative integer, got true",
                "{\"a\": 1}", "%s must be a non-negative integer, got an object",
                "[1]", "%s must be a non-negative integer, got an array", "-3", "%s must not be negative, got -3",
                "99999999999", "%s 99999999999 is too large"),
        BLOCK_SIZE(INT, "0", "%s must be positive"),
        NUMBER("%s must be a non-negative number, got null", "\"1.5\"", "%s must be a non-negative number, got string \"1.5\"",
                "false", "%s must be a non-negative number, got false", "[]", "%s must be a non-negative number, got an array",
                "{}", "%s must be a non-negative number, got an object", "-0.5", "%s must not be negative, got -0.5"),
        STRING("%s must be a string, got null", "1", "%s must be a string, got 1",
                "[\"n\"]", "%s must be a string, got an array", "true", "%s must be a string, got true"),
        SCOPE(STRING, "\"global\"", "%s \"global\" is not supported (only \"local\")"),
        ARRAY("%s must be an array, got null", "7", "%s must be an array, got 7", "{}", "%s must be an array, got an object",
                "\"x\"", "%s must be an array, got string \"x\""),
        IDS(ARRAY, "[1, \"x\"]", "%s must hold non-negative integers, got string \"x\" at index 1",
                "[-1]", "%s[0] must not be negative, got -1", "[2.5]", "%s must hold non-negative integers, got 2.5 at index 0",
                "[null]", "%s must hold non-negative integers, got null at index 0");

        final String ifNull;
        final List<String> bad;

        Kind(String ifNull, String... bad) {
            this.ifNull = ifNull;
            this.bad = List.of(bad);
        }

        Kind(Kind base, String... more) {
            this.ifNull = base.ifNull;
            List<String> all = new ArrayList<>(base.bad);
            all.addAll(Arrays.asList(more));
            this.bad = List.copyOf(all);
        }
    }

    /** Files of {@code format}, valid or with one corruption. */
    private static Gen<Sample> files(TraceFormat format, boolean corrupt) {
        Gen<Sample> g = in -> new Builder(new Draw(in), format).build(corrupt);
        return g.describedAs(c -> c.name() + (c.problem() == null ? "" : " (expecting line " + c.line() + ": "
                + c.problem() + ")") + ":\n" + c.text());
    }

    /** QuickTheories' randomness as the generator draws it. */
    private record Draw(RandomnessSource in) {
        int between(int lo, int hi) {
            return integers().between(lo, hi).generate(in);
        }

        boolean oneIn(int n) {
            return between(1, n) == 1;
        }

        <T> T pick(List<T> from) {
            return from.get(between(0, from.size() - 1));
        }

        <T> List<T> shuffled(List<T> items) {
            List<T> rest = new ArrayList<>(items);
            List<T> out = new ArrayList<>();
            while (!rest.isEmpty()) {
                out.add(rest.remove(between(0, rest.size() - 1)));
            }
            return out;
        }

        long id() {
            return oneIn(4) ? between(0, 100) : longs().between(0, Long.MAX_VALUE).generate(in);
        }
    }

    /** Builds one file: the model (requests, defaults, variations) and its JSON text. */
    private static final class Builder {
        private final Draw d;
        private final TraceFormat format;
        private final List<TraceRequest> requests = new ArrayList<>();
        private final Map<String, Long> defaulted = new TreeMap<>();
        private final Set<String> features = new TreeSet<>();
        private final List<Slot> slots = new ArrayList<>();

        Builder(Draw d, TraceFormat format) {
            this.d = d;
            this.format = format;
        }

        Sample build(boolean corrupt) {
            List<Object> objects = new ArrayList<>();
            int blockTokens = format == M ? mooncake(objects) : kvCacheTester(objects);
            Object mark = null;
            String problem = null;
            if (corrupt) {
                Slot s = d.pick(slots);
                if (s.missing() != null && d.oneIn(3)) {
                    s.object().remove(s.field());
                    mark = s.object();
                    problem = s.missing();
                } else {
                    List<String> bad = new ArrayList<>(s.kind().bad);
                    if (s.required()) {
                        bad.addAll(List.of("null", s.kind().ifNull));
                    }
                    int i = 2 * d.between(0, bad.size() / 2 - 1);
                    mark = new Raw(bad.get(i));
                    s.object().put(s.field(), mark);
                    problem = String.format(bad.get(i + 1), s.field());
                }
            }
            Writer w = new Writer(d, format == K, mark);
            List<int[]> spans = new ArrayList<>();
            for (Object o : objects) {
                w.blankLines();
                int start = w.b.length();
                w.value(o);
                spans.add(new int[] {start, w.b.length() - 1});
                w.b.append(o == objects.get(objects.size() - 1) && d.oneIn(4) ? "" : "\n");
            }
            List<TraceRequest> sorted = new ArrayList<>(requests);
            sorted.sort(Comparator.comparingDouble(TraceRequest::timeSeconds)); // stable, as Trace sorts
            return new Sample(format == M ? "gen.jsonl" : "gen.json", w.b.toString(), sorted, blockTokens, defaulted,
                    features, w.markLine, problem, spans);
        }

        private int mooncake(List<Object> lines) {
            double ms = 0;
            int n = d.between(1, 8);
            for (int q = 0; q < n; q++) {
                ms += time(q);
                int input = input(512);
                long[] ids = ids((input + 511) / 512);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("timestamp", ms);
                r.put("input_length", (long) input);
                r.put("hash_ids", list(ids));
                long output = d.between(0, 5000);
                if (optional(r, "output_length", output) != Presence.PRESENT) {
                    output = 0;
                }
                finish(r, MOONCAKE_EXTRAS);
                slots.add(new Slot(r, "timestamp", Kind.NUMBER, true, "timestamp missing"));
                slots.add(new Slot(r, "input_length", Kind.INT, true, "input_length missing"));
                slots.add(new Slot(r, "hash_ids", Kind.IDS, true, "hash_ids missing"));
                slots.add(new Slot(r, "output_length", Kind.INT, false, null));
                requests.add(new TraceRequest(ms / 1000.0, input, (int) output, ids, 0));
                lines.add(r);
            }
            return 512;
        }

        private int kvCacheTester(List<Object> documents) {
            Map<String, Object> doc = new LinkedHashMap<>();
            int size = d.pick(List.of(16, 32, 64, 128));
            int blockTokens = optional(doc, "block_size", size) == Presence.PRESENT ? size : 64;
            optional(doc, "hash_id_scope", "local");
            doc.put("requests", requests(blockTokens, 0, 0));
            finish(doc, DOC_EXTRAS);
            slots.add(new Slot(doc, "block_size", Kind.BLOCK_SIZE, false, null));
            slots.add(new Slot(doc, "hash_id_scope", Kind.SCOPE, false, null));
            slots.add(new Slot(doc, "requests", Kind.ARRAY, true, null));
            documents.add(doc);
            return blockTokens;
        }

        /** A requests array whose times count from {@code frameStart}; at depth 0 it starts with a request. */
        private List<Object> requests(int blockTokens, int depth, double frameStart) {
            List<Object> out = new ArrayList<>();
            int n = d.between(depth == 0 ? 1 : 0, 5);
            double t = 0;
            for (int i = 0; i < n; i++) {
                t += time(i);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("t", t);
                if ((depth > 0 || i > 0) && depth < 2 && d.oneIn(4)) {
                    r.put("type", "subagent");
                    long durationMs = 250L * d.between(0, (int) (4 * t));
                    double start = optional(r, "duration_ms", durationMs) == Presence.PRESENT ? t - durationMs / 1000.0 : t;
                    features.add(format + " subagent depth " + (depth + 1));
                    r.put("requests", requests(blockTokens, depth + 1, frameStart + start));
                    finish(r, SUBAGENT_EXTRAS);
                    slots.add(new Slot(r, "t", Kind.NUMBER, true, "t missing"));
                    slots.add(new Slot(r, "type", Kind.STRING, true, "type missing"));
                    slots.add(new Slot(r, "requests", Kind.ARRAY, true, "subagent requests missing"));
                    slots.add(new Slot(r, "duration_ms", Kind.NUMBER, false, null));
                } else {
                    r.put("type", d.oneIn(2) ? "n" : "s");
                    int input = input(blockTokens);
                    long[] ids = ids(input / blockTokens);
                    r.put("in", (long) input);
                    r.put("hash_ids", list(ids));
                    long output = d.between(0, 5000);
                    if (optional(r, "out", output) != Presence.PRESENT) {
                        output = 0;
                    }
                    finish(r, REQUEST_EXTRAS);
                    slots.add(new Slot(r, "t", Kind.NUMBER, true, "t missing"));
                    slots.add(new Slot(r, "type", Kind.STRING, true, "type missing"));
                    slots.add(new Slot(r, "in", Kind.INT, true, "in missing"));
                    slots.add(new Slot(r, "hash_ids", Kind.IDS, true, "hash_ids missing"));
                    slots.add(new Slot(r, "out", Kind.INT, false, null));
                    requests.add(new TraceRequest(frameStart + t, input, (int) output, ids, 0));
                }
                out.add(r);
            }
            return out;
        }

        /** The step from the previous time: quarter units (exact in binary), one in three 0. */
        private double time(int i) {
            if (d.oneIn(3)) {
                if (i > 0) {
                    features.add(format + " equal times");
                }
                return 0;
            }
            return d.between(1, 4000) / 4.0;
        }

        /** Input tokens: 0, fewer than one block, or up to six blocks. */
        private int input(int blockTokens) {
            return switch (d.between(0, 4)) {
                case 0 -> {
                    features.add(format + " in 0");
                    yield 0;
                }
                case 1 -> {
                    features.add(format + " in short");
                    yield d.between(1, blockTokens - 1);
                }
                default -> d.between(blockTokens, 6 * blockTokens);
            };
        }

        private long[] ids(int n) {
            long[] ids = new long[n];
            for (int i = 0; i < n; i++) {
                ids[i] = d.id();
            }
            return ids;
        }

        /** Puts {@code value}, null or nothing; the latter two counted as defaulted. */
        private Presence optional(Map<String, Object> r, String field, Object value) {
            Presence p = d.pick(List.of(Presence.values()));
            features.add(format + " " + field + " " + p);
            if (p != Presence.MISSING) {
                r.put(field, p == Presence.PRESENT ? value : null);
            }
            if (p != Presence.PRESENT) {
                defaulted.merge(field, 1L, Long::sum);
            }
            return p;
        }

        /** Adds up to three unknown fields, then puts all fields in a random order. */
        private void finish(Map<String, Object> r, List<String> extras) {
            for (String name : d.shuffled(extras).subList(0, d.between(0, 3))) {
                r.put(name, any(0, true));
            }
            List<Map.Entry<String, Object>> fields = d.shuffled(new ArrayList<>(r.entrySet()));
            r.clear();
            fields.forEach(e -> r.put(e.getKey(), e.getValue()));
        }

        /** Any JSON value; nested objects and arrays up to depth 2. */
        private Object any(int depth, boolean top) {
            Object v = switch (d.between(0, depth < 2 ? 7 : 5)) {
                case 0 -> null;
                case 1 -> d.oneIn(2);
                case 2 -> d.oneIn(2) ? (long) d.between(-1000, 1000) : longs().all().generate(d.in());
                case 3 -> d.between(-4000, 4000) / 8.0;
                case 4 -> new Raw(d.pick(RAW_NUMBERS));
                case 5 -> d.pick(STRINGS);
                case 6 -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    for (String k : d.shuffled(ANY_KEYS).subList(0, d.between(0, 3))) {
                        m.put(k, any(depth + 1, false));
                    }
                    yield m;
                }
                default -> {
                    List<Object> l = new ArrayList<>();
                    for (int i = d.between(0, 3); i > 0; i--) {
                        l.add(any(depth + 1, false));
                    }
                    yield l;
                }
            };
            if (top) {
                features.add(format + " extra " + (v == null ? "null" : v instanceof Map ? "object"
                        : v instanceof List ? "array" : "scalar"));
            }
            return v;
        }

        private static List<Object> list(long[] ids) {
            List<Object> l = new ArrayList<>();
            for (long id : ids) {
                l.add(id);
            }
            return l;
        }
    }

    /**
     * Writes values as JSON: between tokens no space, a space or (multi-line) a newline;
     * remembers the line at which {@code mark} starts.
     */
    private static final class Writer {
        final StringBuilder b = new StringBuilder();
        private final Draw d;
        private final boolean multiLine;
        private final Object mark;
        int markLine;

        Writer(Draw d, boolean multiLine, Object mark) {
            this.d = d;
            this.multiLine = multiLine;
            this.mark = mark;
        }

        void value(Object v) {
            if (v == mark && v != null) {
                markLine = 1 + (int) b.chars().filter(c -> c == '\n').count();
            }
            if (v instanceof Map<?, ?> m) {
                b.append('{');
                String sep = "";
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    b.append(sep);
                    space();
                    string((String) e.getKey());
                    space();
                    b.append(':');
                    space();
                    value(e.getValue());
                    sep = ",";
                }
                space();
                b.append('}');
            } else if (v instanceof List<?> l) {
                b.append('[');
                String sep = "";
                for (Object o : l) {
                    b.append(sep);
                    space();
                    value(o);
                    sep = ",";
                }
                space();
                b.append(']');
            } else if (v instanceof String s) {
                string(s);
            } else if (v instanceof Raw r) {
                b.append(r.text());
            } else if (v instanceof Double x && x == Math.rint(x) && d.oneIn(2)) {
                b.append((long) (double) x);
            } else {
                b.append(v); // null, a boolean, a long, a double
            }
        }

        void blankLines() {
            for (int i = d.between(0, 2) - 1; i > 0; i--) {
                b.append(d.oneIn(2) ? "\n" : "  \n");
            }
        }

        private void space() {
            b.append(switch (d.between(0, multiLine ? 4 : 1)) {
                case 0 -> "";
                case 1 -> " ";
                case 2 -> "\n";
                case 3 -> "\n    ";
                default -> "\t";
            });
        }

        private void string(String s) {
            b.append('"');
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    case '\t' -> b.append("\\t");
                    default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
                }
            }
            b.append('"');
        }
    }
}
