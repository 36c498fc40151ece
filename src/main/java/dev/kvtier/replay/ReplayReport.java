package dev.kvtier.replay;

import dev.kvtier.LatencySnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * The replay report: one self-contained HTML page (inline CSS and SVG charts, no script, no
 * network, no other file) of a set of replay runs of one trace.
 *
 * <ol>
 *   <li>Hit rate against total capacity (DRAM + SSD + REMOTE, in blocks, with tokens on the top
 *       axis), one line per policy, log-scale x. For a Mooncake trace, when the reference
 *       directory holds {@value #REFERENCE_CSV}, the published "conversation" curve of the
 *       FAST'25 paper's Fig. 9 is overlaid (its token capacities divided by the block size).</li>
 *   <li>Hits by tier: the hit rate of each run, stacked by the tier the hit blocks came from.</li>
 *   <li>Writes below DRAM: encoded bytes and blocks written to SSD and REMOTE per run.</li>
 *   <li>Load latency: p50 to p99.9 of nanoseconds per {@code load} call, every run that made
 *       load calls (or, past ten such runs, each policy's smallest
 *       and largest cache).</li>
 *   <li>A table of every run with all of {@link ReplayResult}'s figures.</li>
 * </ol>
 *
 * <p>Charts are drawn with JFreeChart into JFreeSVG, headless; both are optional dependencies
 * (command line only), so this class needs them on the class path.
 */
public final class ReplayReport {
    /** The digitized Fig. 9 of Mooncake (FAST'25), looked for in the reference directory. */
    public static final String REFERENCE_CSV = "mooncake_fast25_fig9_digitized.csv";
    /** The legend label of the overlaid reference curve. */
    public static final String REFERENCE_LABEL = ReportCharts.REFERENCE_LABEL;

    private ReplayReport() {
    }

    /** Writes DIR/index.html (self-contained: no network, no external files) and returns its path. */
    public static Path write(Path dir, String traceName, String traceFormat, int blockTokens,
            List<ReplayResult> results, Path referenceDirOrNull) throws IOException {
        Objects.requireNonNull(dir, "report directory");
        if (results == null || results.isEmpty()) {
            throw new IllegalArgumentException("replay report needs at least one replay result, got "
                    + (results == null ? "null" : "none"));
        }
        for (int i = 0; i < results.size(); i++) {
            ReplayResult r = results.get(i);
            if (r == null) {
                throw new IllegalArgumentException("replay result " + i + " is null");
            }
            if (r.policy() == null) {
                throw new IllegalArgumentException("replay result " + i + " has no policy name");
            }
        }
        if (blockTokens < 1) {
            throw new IllegalArgumentException("blockTokens must be >= 1, was " + blockTokens);
        }
        List<ReplayResult> runs = List.copyOf(results);
        String name = traceName == null || traceName.isBlank() ? "trace" : traceName;

        String referenceNote = null;
        List<ReportCharts.Point> reference = null;
        if ("mooncake".equalsIgnoreCase(traceFormat == null ? "" : traceFormat.trim()) && referenceDirOrNull != null) {
            Path csv = referenceDirOrNull.resolve(REFERENCE_CSV);
            if (Files.isRegularFile(csv)) {
                reference = readReference(csv, blockTokens);
                referenceNote = "Dashed: " + REFERENCE_LABEL + ", the published hit rate of Mooncake's conversation "
                        + "trace against cache capacity (digitized from the paper, " + csv.getFileName()
                        + "), its capacities converted to blocks as tokens / " + blockTokens
                        + ". It comes from the paper's own simulator, so it is context, not an expected value.";
            } else {
                referenceNote = "No published reference curve: " + csv + " was not found.";
            }
        }

        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true"); // charts are drawn without a display
        }
        String html = page(name, traceFormat, blockTokens, runs, reference, referenceNote);

        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create the replay report directory " + dir + ": " + e, e);
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("the replay report directory " + dir + " is not a directory");
        }
        Path out = dir.resolve("index.html");
        Path tmp = dir.resolve(".index.html.tmp");
        try {
            Files.writeString(tmp, html, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the first failure is the one to report
            }
            throw new IOException("cannot write the replay report " + out + ": " + e, e);
        }
        return out;
    }

    // ---------------------------------------------------------------- the page

    private static String page(String trace, String format, int blockTokens, List<ReplayResult> runs,
            List<ReportCharts.Point> reference, String referenceNote) {
        List<String> labels = labels(runs);
        boolean[] tiers = tiersShown(runs);
        int empty = 0;
        for (ReplayResult r : runs) {
            empty += hasLoads(r) ? 0 : 1;
        }
        List<Integer> latencyRuns = ReportCharts.latencyRuns(runs);
        int wide = ReportCharts.widthFor(runs.size());

        ReportCharts.Svg hit = ReportCharts.svg(ReportCharts.hitRateVsCapacity(runs, blockTokens, reference),
                "chart-hit-rate", ReportCharts.WIDTH, ReportCharts.HEIGHT);
        ReportCharts.Svg byTier = ReportCharts.svg(ReportCharts.hitsByTier(runs, labels, tiers), "chart-tiers", wide,
                ReportCharts.HEIGHT);
        ReportCharts.Svg writes = ReportCharts.svg(ReportCharts.writes(runs, labels, tiers), "chart-writes", wide,
                ReportCharts.HEIGHT + 160);
        ReportCharts.Svg latency = ReportCharts.svg(ReportCharts.latency(runs, labels, latencyRuns, empty),
                "chart-latency", ReportCharts.WIDTH, ReportCharts.HEIGHT);

        StringBuilder h = new StringBuilder(256 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>kvtier replay: ").append(esc(trace)).append("</title>\n<style>\n").append(CSS)
                .append("</style>\n</head>\n<body>\n<main>\n");
        h.append("<h1>kvtier replay: ").append(esc(trace)).append("</h1>\n");
        summary(h, format, blockTokens, runs, labels);

        h.append("<section id=\"hit-rate\">\n<h2>1. Hit rate against capacity</h2>\n")
                .append("<p>Hit rate is token-weighted: over every request, the tokens of the leading blocks that hit "
                        + "(a block counts only while every block before it in the request hit too), divided by all "
                        + "input tokens. Capacity is DRAM + SSD + REMOTE in blocks (bottom axis) and in tokens "
                        + "(top axis, blocks × ").append(blockTokens).append(").</p>\n");
        if (referenceNote != null) {
            h.append("<p class=\"note\">").append(esc(referenceNote)).append("</p>\n");
        }
        figure(h, hit);
        h.append("</section>\n");

        h.append("<section id=\"tiers\">\n<h2>2. Hits by tier</h2>\n")
                .append("<p>Each run's hit rate split by the tier each hit block was loaded from. Bars are labelled "
                        + "<code>#run policy DRAM/SSD/REMOTE</code> (capacities in blocks), as in the table.</p>\n");
        figure(h, byTier);
        h.append("</section>\n");

        h.append("<section id=\"writes\">\n<h2>3. Writes below DRAM</h2>\n")
                .append("<p>Encoded bytes and blocks each run wrote to its SSD and REMOTE tiers (DRAM writes are not "
                        + "device writes and are not counted).</p>\n");
        figure(h, writes);
        h.append("</section>\n");

        h.append("<section id=\"latency\">\n<h2>4. Load latency</h2>\n")
                .append("<p>Percentiles of the time of one <code>load</code> call (all blocks of one prefix hit, "
                        + "from whatever tiers hold them), in microseconds.");
        if (empty > 0) {
            h.append(" Runs that made no load call, left out: ");
            List<String> none = new ArrayList<>();
            for (int k = 0; k < runs.size(); k++) {
                if (!hasLoads(runs.get(k))) {
                    none.add(labels.get(k));
                }
            }
            h.append(esc(String.join(", ", none))).append('.');
        }
        h.append("</p>\n");
        figure(h, latency);
        h.append("</section>\n");

        h.append("<section id=\"runs\">\n<h2>5. Every run</h2>\n");
        table(h, runs, labels);
        h.append("</section>\n");

        h.append("<footer>Generated by kvtier ").append(esc(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()))
                .append(". Charts: JFreeChart, drawn as inline SVG by JFreeSVG. This page loads nothing else.</footer>\n")
                .append("</main>\n</body>\n</html>\n");
        return h.toString();
    }

    private static void summary(StringBuilder h, String format, int blockTokens, List<ReplayResult> runs,
            List<String> labels) {
        long minReq = Long.MAX_VALUE;
        long maxReq = 0;
        long minTok = Long.MAX_VALUE;
        long maxTok = 0;
        int best = 0;
        long wrong = 0;
        for (int k = 0; k < runs.size(); k++) {
            ReplayResult r = runs.get(k);
            minReq = Math.min(minReq, r.requests());
            maxReq = Math.max(maxReq, r.requests());
            minTok = Math.min(minTok, r.inputTokens());
            maxTok = Math.max(maxTok, r.inputTokens());
            wrong += r.wrongBlocks();
            if (r.hitRate() > runs.get(best).hitRate()) {
                best = k;
            }
        }
        h.append("<dl class=\"summary\">\n");
        dt(h, "Trace format", format == null || format.isBlank() ? "unknown" : format);
        dt(h, "Block size", blockTokens + " tokens");
        dt(h, "Runs", Integer.toString(runs.size()));
        dt(h, "Requests", minReq == maxReq ? count(minReq) : count(minReq) + " – " + count(maxReq));
        dt(h, "Input tokens", minTok == maxTok ? count(minTok) : count(minTok) + " – " + count(maxTok));
        dt(h, "Best hit rate", pct(runs.get(best).hitRate()) + " (" + labels.get(best) + ")");
        h.append("</dl>\n");
        if (wrong > 0) {
            h.append("<p class=\"alarm\">").append(count(wrong))
                    .append(" loaded block(s) held the wrong bytes: the cache is broken (see the table).</p>\n");
        }
    }

    private static void table(StringBuilder h, List<ReplayResult> runs, List<String> labels) {
        h.append("<div class=\"table\"><table>\n<thead>\n<tr>")
                .append("<th rowspan=\"2\">#</th><th rowspan=\"2\">Policy</th>")
                .append("<th colspan=\"3\">Capacity (blocks)</th>")
                .append("<th rowspan=\"2\">Requests</th><th rowspan=\"2\">Input tokens</th>")
                .append("<th colspan=\"4\">Hit rate</th>")
                .append("<th colspan=\"2\">Blocks written</th><th colspan=\"2\">Bytes written</th>")
                .append("<th colspan=\"3\">Evictions</th><th colspan=\"3\">Rejected</th>")
                .append("<th rowspan=\"2\">Prefill saved (s)</th><th rowspan=\"2\">Wrong blocks</th>")
                .append("<th rowspan=\"2\">Wall (s)</th><th colspan=\"3\">Load latency (µs)</th></tr>\n<tr>")
                .append("<th>DRAM</th><th>SSD</th><th>REMOTE</th>")
                .append("<th>all</th><th>DRAM</th><th>SSD</th><th>REMOTE</th>")
                .append("<th>SSD</th><th>REMOTE</th><th>SSD</th><th>REMOTE</th>")
                .append("<th>DRAM</th><th>SSD</th><th>REMOTE</th><th>DRAM</th><th>SSD</th><th>REMOTE</th>")
                .append("<th>p50</th><th>p99</th><th>max</th></tr>\n</thead>\n<tbody>\n");
        for (int k = 0; k < runs.size(); k++) {
            ReplayResult r = runs.get(k);
            h.append("<tr><td>").append(k + 1).append("</td><td class=\"policy\">").append(esc(r.policy()))
                    .append("</td>");
            for (int t = 0; t < 3; t++) {
                num(h, count(at(r.capacityBlocks(), t)));
            }
            num(h, count(r.requests()));
            num(h, count(r.inputTokens()));
            h.append("<td class=\"n strong\">").append(pct(r.hitRate())).append("</td>");
            for (int t = 0; t < 3; t++) {
                num(h, r.hitTokensByTier() == null || r.hitTokensByTier().length <= t ? "–" : pct(r.hitRate(t)));
            }
            for (int t = 1; t < 3; t++) {
                num(h, count(at(r.blocksWritten(), t)));
            }
            for (int t = 1; t < 3; t++) {
                long b = at(r.bytesWritten(), t);
                h.append("<td class=\"n\" title=\"").append(b).append(" bytes\">").append(bytes(b)).append("</td>");
            }
            for (int t = 0; t < 3; t++) {
                num(h, count(at(r.evictions(), t)));
            }
            for (int t = 0; t < 3; t++) {
                num(h, count(at(r.rejected(), t)));
            }
            num(h, fixed(r.prefillSecondsSaved(), 2));
            h.append(r.wrongBlocks() > 0 ? "<td class=\"n alarm\">" : "<td class=\"n\">").append(count(r.wrongBlocks()))
                    .append("</td>");
            num(h, fixed(r.wallSeconds(), 2));
            LatencySnapshot l = r.loadLatency();
            if (hasLoads(r)) {
                num(h, fixed(l.p50Nanos() / 1000.0, 1));
                num(h, fixed(l.p99Nanos() / 1000.0, 1));
                num(h, fixed(l.maxNanos() / 1000.0, 1));
            } else {
                num(h, "–");
                num(h, "–");
                num(h, "–");
            }
            h.append("</tr>\n");
        }
        h.append("</tbody>\n</table></div>\n");
    }

    private static void figure(StringBuilder h, ReportCharts.Svg svg) {
        h.append(svg.wide() ? "<figure class=\"chart wide\">\n" : "<figure class=\"chart\">\n").append(svg.element())
                .append("\n</figure>\n");
    }

    // ---------------------------------------------------------------- the reference curve

    /** Reads capacity_tokens and conversation from the digitized Fig. 9 CSV, as blocks → hit rate. */
    static List<ReportCharts.Point> readReference(Path csv, int blockTokens) throws IOException {
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        List<ReportCharts.Point> points = new ArrayList<>();
        int capacity = -1;
        int conversation = -1;
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] cells = line.split(",", -1);
            if (capacity < 0) {
                for (int c = 0; c < cells.length; c++) {
                    String col = cells[c].strip().toLowerCase(Locale.ROOT);
                    if (col.equals("capacity_tokens")) {
                        capacity = c;
                    } else if (col.equals("conversation")) {
                        conversation = c;
                    }
                }
                if (capacity < 0 || conversation < 0) {
                    throw new IOException(csv + ": header line " + (n + 1)
                            + " needs columns capacity_tokens and conversation, was: " + line);
                }
                continue;
            }
            try {
                double tokens = Double.parseDouble(cells[capacity].strip());
                double rate = Double.parseDouble(cells[conversation].strip());
                if (tokens > 0 && rate >= 0 && rate <= 1) {
                    points.add(new ReportCharts.Point(tokens / blockTokens, rate));
                } else {
                    throw new NumberFormatException("capacity must be > 0 and hit rate within 0..1");
                }
            } catch (RuntimeException e) {
                throw new IOException(csv + ": line " + (n + 1) + " is not capacity_tokens,...,conversation numbers ("
                        + e.getMessage() + "): " + line, e);
            }
        }
        if (points.isEmpty()) {
            throw new IOException(csv + ": no data rows");
        }
        return points;
    }

    // ---------------------------------------------------------------- helpers

    static long totalCapacity(ReplayResult r) {
        long sum = 0;
        for (int t = 0; t < 3; t++) {
            sum += at(r.capacityBlocks(), t);
        }
        return Math.max(1, sum);
    }

    static long at(long[] a, int i) {
        return a == null || i >= a.length ? 0 : a[i];
    }

    private static boolean hasLoads(ReplayResult r) {
        return r.loadLatency() != null && r.loadLatency().count() > 0;
    }

    /** Which tiers the charts show: DRAM always, a lower tier when any run has it or hit in it. */
    private static boolean[] tiersShown(List<ReplayResult> runs) {
        boolean[] shown = {true, false, false};
        for (ReplayResult r : runs) {
            for (int t = 1; t < 3; t++) {
                shown[t] |= at(r.capacityBlocks(), t) > 0 || at(r.hitTokensByTier(), t) > 0
                        || at(r.blocksWritten(), t) > 0;
            }
        }
        return shown;
    }

    /** "#k policy dram/ssd/remote": unique, and the same in every chart and the table. */
    static List<String> labels(List<ReplayResult> runs) {
        List<String> labels = new ArrayList<>(runs.size());
        for (int k = 0; k < runs.size(); k++) {
            ReplayResult r = runs.get(k);
            labels.add("#" + (k + 1) + " " + r.policy() + " " + at(r.capacityBlocks(), 0) + "/"
                    + at(r.capacityBlocks(), 1) + "/" + at(r.capacityBlocks(), 2));
        }
        return labels;
    }

    private static void dt(StringBuilder h, String term, String value) {
        h.append("<div><dt>").append(esc(term)).append("</dt><dd>").append(esc(value)).append("</dd></div>\n");
    }

    private static void num(StringBuilder h, String text) {
        h.append("<td class=\"n\">").append(esc(text)).append("</td>");
    }

    private static String count(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.2f%%", v * 100);
    }

    private static String fixed(double v, int digits) {
        return String.format(Locale.ROOT, "%,." + digits + "f", v);
    }

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            :root { color-scheme: light; }
            body { margin: 0; background: #f6f7f9; color: #1d2330;
              font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
            main { max-width: 1180px; margin: 0 auto; padding: 24px 24px 48px; }
            h1 { font-size: 24px; margin: 0 0 12px; }
            h2 { font-size: 18px; margin: 32px 0 6px; }
            p { margin: 4px 0 10px; max-width: 900px; }
            p.note { color: #3d4656; font-style: italic; }
            .alarm { color: #b00020; font-weight: 600; }
            code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: #eceef2; padding: 1px 4px;
              border-radius: 3px; }
            dl.summary { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 0 0 8px; padding: 12px 16px;
              background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
            dl.summary div { display: flex; flex-direction: column; }
            dt { font-size: 12px; color: #5b6475; }
            dd { margin: 0; font-weight: 600; }
            figure.chart { margin: 8px 0 0; padding: 8px; background: #fff; border: 1px solid #dde1e7;
              border-radius: 6px; overflow-x: auto; }
            figure.chart svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
            figure.chart.wide svg { max-width: none; }
            div.table { overflow-x: auto; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
            table { border-collapse: collapse; font-size: 12px; white-space: nowrap; }
            th, td { padding: 4px 8px; border-bottom: 1px solid #e6e9ee; }
            th { background: #eef1f5; font-weight: 600; text-align: center; border-left: 1px solid #dde1e7; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            td.strong { font-weight: 700; }
            td.policy { font-weight: 600; }
            tbody tr:nth-child(even) { background: #fafbfc; }
            tbody tr:hover { background: #eef4ff; }
            footer { margin-top: 28px; color: #6b7384; font-size: 12px; }
            """;
}
