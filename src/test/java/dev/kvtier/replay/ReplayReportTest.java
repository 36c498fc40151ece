package dev.kvtier.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.Latencies;
import dev.kvtier.LatencySnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayReportTest {
    @TempDir
    Path tmp;

    private static LatencySnapshot latency(long... nanos) {
        return Latencies.of(nanos);
    }

    private static ReplayResult run(String policy, long dram, long ssd, long remote, long hitDram, long hitSsd,
            long hitRemote, LatencySnapshot lat) {
        long input = 1_000_000;
        long hits = hitDram + hitSsd + hitRemote;
        long ssdBlocks = ssd > 0 ? ssd / 2 : 0;
        long remoteBlocks = remote > 0 ? remote / 3 : 0;
        return new ReplayResult("test-trace", policy, 2_000, input, hits, new long[] {hitDram, hitSsd, hitRemote},
                new long[] {dram, ssd, remote}, new long[] {0, ssdBlocks, remoteBlocks},
                new long[] {0, ssdBlocks * 4096, remoteBlocks * 4096}, new long[] {dram / 2, ssd / 4, 0},
                new long[] {0, 7, 0}, hits / 10_000.0, 0, 1.25, lat);
    }

    /** Two policies over three capacities, one SSD run, one run with a remote tier, one with no load calls. */
    private static List<ReplayResult> results() {
        List<ReplayResult> r = new ArrayList<>();
        r.add(run("lru", 100, 0, 0, 0, 0, 0, LatencySnapshot.empty())); // no hits, so no load calls
        r.add(run("lru", 1_000, 0, 0, 120_000, 0, 0, latency(900, 1_100, 1_500, 8_000)));
        r.add(run("lru", 1_000, 9_000, 0, 110_000, 140_000, 0, latency(1_000, 40_000, 60_000, 300_000)));
        r.add(run("costaware", 100, 0, 0, 30_000, 0, 0, latency(700, 800)));
        r.add(run("costaware", 1_000, 0, 0, 150_000, 0, 0, latency(800, 1_000, 1_200)));
        r.add(run("costaware", 1_000, 9_000, 20_000, 140_000, 160_000, 50_000,
                latency(1_000, 50_000, 2_000_000, 5_000_000)));
        return r;
    }

    private static void writeReferenceCsv(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(ReplayReport.REFERENCE_CSV), """
                capacity_tokens,conversation,tool_agent,synthetic,all
                10000,0.0449,0.1734,0.0003,0.0952
                1000000,0.0866,0.3864,0.1461,0.2268
                10000000,0.3263,0.5608,0.5886,0.3814
                """);
    }

    private static int count(String haystack, String needle) {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void writesSelfContainedPageWithEveryChartPolicyAndTheReferenceCurve() throws IOException {
        Path ref = tmp.resolve("reference");
        writeReferenceCsv(ref);
        Path out = ReplayReport.write(tmp.resolve("report"), "mooncake_trace", "mooncake", 512, results(), ref);

        assertEquals(tmp.resolve("report").resolve("index.html"), out);
        assertTrue(Files.isRegularFile(out));
        String html = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertEquals(4, count(html, "<svg"), "one <svg> per chart");
        for (String id : List.of("chart-hit-rate", "chart-tiers", "chart-writes", "chart-latency")) {
            assertTrue(Pattern.compile("<svg id=['\"]" + id + "['\"]").matcher(html).find(), id);
        }
        assertTrue(html.contains("lru") && html.contains("costaware"));
        assertTrue(html.contains(ReplayReport.REFERENCE_LABEL), "reference label in the page");
        assertTrue(html.contains("Mooncake FAST'25 Fig. 9 (conversation)"));
        // tokens axis and the table
        assertTrue(html.contains("tokens = blocks × 512"));
        assertEquals(6, count(html, "<tr><td>"), "one table row per run");
        assertNoExternalReferences(html);
    }

    @Test
    void svgDefsIdsAreUniqueAcrossCharts() throws IOException {
        Path out = ReplayReport.write(tmp.resolve("r"), "t", "mooncake", 512, results(), null);
        String html = Files.readString(out);
        Matcher m = Pattern.compile("\\sid=['\"]([^'\"]+)['\"]").matcher(html);
        List<String> ids = new ArrayList<>();
        while (m.find()) {
            ids.add(m.group(1));
        }
        assertFalse(ids.isEmpty());
        assertEquals(ids.size(), ids.stream().distinct().count(), "duplicate ids: " + ids);
    }

    @Test
    void noReferenceCurveForOtherFormatsOrWithoutTheCsv() throws IOException {
        Path ref = tmp.resolve("reference");
        writeReferenceCsv(ref);
        String other = Files.readString(ReplayReport.write(tmp.resolve("a"), "t", "kv-cache-tester", 64, results(),
                ref));
        assertFalse(other.contains(ReplayReport.REFERENCE_LABEL));
        String missing = Files.readString(ReplayReport.write(tmp.resolve("b"), "t", "mooncake", 512, results(),
                tmp.resolve("nowhere")));
        assertFalse(missing.contains(ReplayReport.REFERENCE_LABEL));
        assertTrue(missing.contains("was not found"));
        String none = Files.readString(ReplayReport.write(tmp.resolve("c"), "t", "mooncake", 512, results(), null));
        assertFalse(none.contains(ReplayReport.REFERENCE_LABEL));
        assertEquals(4, count(none, "<svg"));
    }

    @Test
    void singleDramOnlyRunWithoutLoadCallsStillGivesEveryChart() throws IOException {
        ReplayResult only = run("opt", 64, 0, 0, 0, 0, 0, LatencySnapshot.empty());
        Path out = ReplayReport.write(tmp.resolve("one"), "tiny <trace> & co", null, 16, List.of(only), null);
        String html = Files.readString(out);
        assertEquals(4, count(html, "<svg"));
        assertTrue(html.contains("opt"));
        assertTrue(html.contains("tiny &lt;trace&gt; &amp; co"), "trace name is escaped");
        assertFalse(html.contains("<trace>"));
        assertNoExternalReferences(html);
    }

    @Test
    void overwritesAnExistingReport() throws IOException {
        Path dir = tmp.resolve("again");
        ReplayReport.write(dir, "t", "mooncake", 512, results(), null);
        Path out = ReplayReport.write(dir, "second", "mooncake", 512, results().subList(0, 2), null);
        String html = Files.readString(out);
        assertTrue(html.contains("kvtier replay: second"));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(out), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void badInputGivesClearExceptions() throws IOException {
        Path dir = tmp.resolve("bad");
        IllegalArgumentException nul = assertThrows(IllegalArgumentException.class,
                () -> ReplayReport.write(dir, "t", "mooncake", 512, null, null));
        assertTrue(nul.getMessage().contains("at least one replay result"), nul.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> ReplayReport.write(dir, "t", "mooncake", 512, List.of(), null));
        assertTrue(empty.getMessage().contains("at least one replay result"), empty.getMessage());
        List<ReplayResult> withNull = new ArrayList<>(results());
        withNull.add(null);
        IllegalArgumentException nullElement = assertThrows(IllegalArgumentException.class,
                () -> ReplayReport.write(dir, "t", "mooncake", 512, withNull, null));
        assertTrue(nullElement.getMessage().contains("is null"), nullElement.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> ReplayReport.write(dir, "t", "mooncake", 0, results(), null));
        assertThrows(NullPointerException.class, () -> ReplayReport.write(null, "t", "mooncake", 512, results(), null));
        assertFalse(Files.exists(dir), "nothing written on bad input");

        // Unwritable: the directory's place is taken by a regular file (chmod does not stop root).
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        IOException notDir = assertThrows(IOException.class,
                () -> ReplayReport.write(file, "t", "mooncake", 512, results(), null));
        assertTrue(notDir.getMessage().contains(file.toString()), notDir.getMessage());
        IOException under = assertThrows(IOException.class,
                () -> ReplayReport.write(file.resolve("sub"), "t", "mooncake", 512, results(), null));
        assertTrue(under.getMessage().contains("replay report"), under.getMessage());
    }

    @Test
    void malformedReferenceCsvIsReported() throws IOException {
        Path ref = tmp.resolve("badref");
        Files.createDirectories(ref);
        Files.writeString(ref.resolve(ReplayReport.REFERENCE_CSV), "capacity_tokens,conversation\n10000,abc\n");
        IOException e = assertThrows(IOException.class,
                () -> ReplayReport.write(tmp.resolve("r"), "t", "mooncake", 512, results(), ref));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        Files.writeString(ref.resolve(ReplayReport.REFERENCE_CSV), "tokens,hits\n10000,0.1\n");
        IOException header = assertThrows(IOException.class,
                () -> ReplayReport.write(tmp.resolve("r"), "t", "mooncake", 512, results(), ref));
        assertTrue(header.getMessage().contains("capacity_tokens"), header.getMessage());
    }

    @Test
    void referenceCapacitiesAreConvertedToBlocks() throws IOException {
        Path ref = tmp.resolve("ref");
        writeReferenceCsv(ref);
        List<ReportCharts.Point> points = ReplayReport.readReference(ref.resolve(ReplayReport.REFERENCE_CSV), 512);
        assertEquals(3, points.size());
        assertEquals(10_000 / 512.0, points.get(0).blocks(), 1e-9);
        assertEquals(0.0449, points.get(0).hitRate(), 1e-12);
    }

    @Test
    void manyRunsPlotOnlyRepresentativeLatencies() throws IOException {
        List<ReplayResult> many = new ArrayList<>();
        for (String policy : List.of("lru", "costaware", "opt")) {
            for (long dram = 100; dram <= 100_000; dram *= 2) {
                many.add(run(policy, dram, 0, 0, 10_000, 0, 0, latency(1_000 + dram, 2_000 + dram)));
            }
        }
        List<Integer> shown = ReportCharts.latencyRuns(many);
        assertTrue(shown.size() <= ReportCharts.MAX_LATENCY_SERIES, shown.toString());
        assertEquals(6, shown.size(), "smallest and largest cache of each of 3 policies: " + shown);
        for (int k : shown) {
            long dram = many.get(k).capacityBlocks()[0];
            assertTrue(dram == 100 || dram == 51_200, "run " + k + " has " + dram + " blocks");
        }
        String html = Files.readString(ReplayReport.write(tmp.resolve("many"), "t", "mooncake", 512, many, null));
        assertEquals(4, count(html, "<svg"));
        assertTrue(html.contains("Representative runs (6 of " + many.size()), "latency subtitle says so");
    }

    /** Not even an SVG namespace URI: the page names no URL at all, so it cannot fetch one. */
    private static void assertNoExternalReferences(String html) {
        assertFalse(Pattern.compile("https?://", Pattern.CASE_INSENSITIVE).matcher(html).find(),
                "an http(s) reference in the page");
        assertFalse(html.contains("<script"), "no script");
        assertFalse(html.contains("<link"), "no linked stylesheet");
        assertFalse(html.contains("<img") || html.contains("<image"), "no image");
        assertFalse(html.contains("@import"), "no imported stylesheet");
        assertFalse(Pattern.compile("href\\s*=").matcher(html).find(), "no links or references");
        assertFalse(Pattern.compile("url\\(\\s*['\"]?(?!#)").matcher(html).find(), "only local url(#id) references");
    }
}
