package dev.kvtier.cli;

import dev.kvtier.CachePolicy;
import dev.kvtier.PrefillModel;
import dev.kvtier.replay.Replay;
import dev.kvtier.replay.ReplayConfig;
import dev.kvtier.replay.ReplayReport;
import dev.kvtier.replay.ReplayResult;
import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceFormat;
import dev.kvtier.trace.TraceFormatException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier replay}: replays a production trace (Mooncake JSON-lines or kv-cache-tester
 * JSON) through a real cache, once per policy and capacity given, and reports hit rates,
 * writes and modelled prefill time saved ({@link Replay} defines them).
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay a prefix-hash trace through a real cache under each policy and capacity given.")
final class ReplayCommand implements Callable<Integer> {
    static final Path REFERENCE = Path.of("..", "shared", "traces", "reference");

    @Option(names = "--trace", required = true, paramLabel = "PATH",
            description = "A trace file, or a directory of kv-cache-tester files (one namespace per file).")
    Path trace;

    @Option(names = "--format", paramLabel = "NAME", description = "mooncake or kv-cache-tester (default: detected).")
    String format;

    @Option(names = "--skip-bad-files",
            description = "A directory's malformed trace files are skipped, each named on stderr with why, instead of failing the run.")
    boolean skipBadFiles;

    @Option(names = "--policy", defaultValue = "costaware", split = ",", paramLabel = "NAME",
            description = "costaware, lru, second-hit, write-limit, opt; comma-separated for several (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--dram-blocks", defaultValue = "5859", split = ",", paramLabel = "N",
            description = "DRAM capacity in blocks; comma-separated for several runs (default ${DEFAULT-VALUE}).")
    List<Long> dramBlocks;

    @Option(names = "--ssd-blocks", defaultValue = "0", split = ",", paramLabel = "N",
            description = "SSD capacity in blocks, 0 for none; comma-separated for several runs (default ${DEFAULT-VALUE}).")
    List<Long> ssdBlocks;

    @Option(names = "--remote-blocks", defaultValue = "0", split = ",", paramLabel = "N",
            description = "Remote capacity in blocks, 0 for none (needs --remote-uri) (default ${DEFAULT-VALUE}).")
    List<Long> remoteBlocks;

    @Option(names = "--remote-uri", paramLabel = "URI", description = "NBD export for the remote tier, e.g. nbd://127.0.0.1:10809/.")
    URI remoteUri;

    @Option(names = "--block-tokens", paramLabel = "N", description = "Tokens per block (default: the trace format's, 512 or 64).")
    Integer blockTokens;

    @Option(names = "--block-bytes", defaultValue = "4096", paramLabel = "N",
            description = "Payload bytes per block; small keeps long traces fast (default ${DEFAULT-VALUE}).")
    int blockBytes;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "Where SSD tier files go (default: a temporary directory).")
    Path workDir;

    @Option(names = "--prefill-tokens-per-second", defaultValue = "10000", paramLabel = "T",
            description = "Prefill model: tokens per second at short context (default ${DEFAULT-VALUE}).")
    double prefillTokensPerSecond;

    @Option(names = "--context-doubling-tokens", defaultValue = "32768", paramLabel = "D",
            description = "Prefill model: context at which a token costs twice as much (default ${DEFAULT-VALUE}).")
    double contextDoublingTokens;

    @Option(names = "--weigh-by-prefill",
            description = "costaware weighs each hit by the prefill time it saves (the model above); runs named costaware-prefill.")
    boolean weighByPrefill;

    @Option(names = "--json", description = "One JSON object per run, each on its own line; no progress bar.")
    boolean json;

    @Option(names = "--report", paramLabel = "DIR", description = "Also write an HTML report with charts to DIR/index.html.")
    Path report;

    @Override
    public Integer call() throws IOException {
        Trace t = Trace.read(trace, format == null ? null : TraceFormat.parse(format), skipBadFiles);
        printSkipped(t, System.err);
        Path dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("kvtier-replay");
        ReplayConfig base = new ReplayConfig(CachePolicy.parse(policies.get(0)), dramBlocks.get(0), 0, 0,
                blockTokens != null ? blockTokens : t.blockTokens(), blockBytes, dir, remoteUri,
                new PrefillModel(prefillTokensPerSecond, contextDoublingTokens), weighByPrefill);
        List<ReplayConfig> runs = runs(base);
        PrintStream out = System.out;
        if (!json) {
            out.printf(Locale.ROOT, "%s (%s): %,d requests, %,d input tokens, %d-token blocks, %d runs%n", t.name(),
                    t.format(), t.requests().size(), t.inputTokens(), base.blockTokens(), runs.size());
            out.println(defaulted(t));
        }
        List<ReplayResult> results = new ArrayList<>();
        for (ReplayConfig c : runs) {
            ReplayResult r = replay(t, c);
            results.add(r);
            out.println(json ? toJson(r).put("defaulted_fields", defaultedJson(t)) : line(r));
        }
        if (report != null) {
            Path page = ReplayReport.write(report, t.name(), t.format().id(), base.blockTokens(), results,
                    Files.isDirectory(REFERENCE) ? REFERENCE : null);
            if (!json) {
                out.println("report: " + page);
            }
        }
        return results.stream().anyMatch(r -> r.wrongBlocks() > 0) ? 1 : 0;
    }

    /** One line per file a read with --skip-bad-files left out: {@code file:line: problem}. */
    static void printSkipped(Trace t, PrintStream err) {
        for (TraceFormatException e : t.skippedFiles()) {
            err.println("skipped bad trace file " + e.file() + (e.line() > 0 ? ":" + e.line() : "") + ": " + e.problem());
        }
    }

    /** "defaulted optional fields (null or missing): out 3, duration_ms 1", or "...: none". */
    static String defaulted(Trace t) {
        StringBuilder b = new StringBuilder("defaulted optional fields (null or missing): ");
        t.defaultedFields().forEach((field, n) -> b.append(field).append(' ').append(n).append(", "));
        return t.defaultedFields().isEmpty() ? b.append("none").toString() : b.substring(0, b.length() - 2);
    }

    private static Json defaultedJson(Trace t) {
        Json j = new Json();
        t.defaultedFields().forEach(j::put);
        return j;
    }

    /** One configuration per policy and capacity combination, policies outermost. */
    private List<ReplayConfig> runs(ReplayConfig base) {
        List<ReplayConfig> runs = new ArrayList<>();
        for (String p : policies) {
            CachePolicy policy = CachePolicy.parse(p);
            for (long d : dramBlocks) {
                for (long s : ssdBlocks) {
                    for (long r : remoteBlocks) {
                        runs.add(base.withPolicy(policy).withCapacity(d, s, r));
                    }
                }
            }
        }
        return runs;
    }

    private ReplayResult replay(Trace t, ReplayConfig c) throws IOException {
        if (json || System.console() == null) {
            return Replay.run(t, c, n -> { });
        }
        String task = String.format(Locale.ROOT, "%s %d/%d/%d", c.policy().id(), c.dramBlocks(), c.ssdBlocks(),
                c.remoteBlocks());
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(t.requests().size())
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).clearDisplayOnFinish().build()) {
            return Replay.run(t, c, bar::stepTo);
        }
    }

    private static String line(ReplayResult r) {
        return String.format(Locale.ROOT,
                "%-11s dram %6d ssd %7d remote %7d | hit rate %.4f (dram %.4f ssd %.4f remote %.4f) | written ssd %,d"
                        + " remote %,d | saved %.0f s | wrong %d | %.1f s",
                r.policy(), r.capacityBlocks()[0], r.capacityBlocks()[1], r.capacityBlocks()[2], r.hitRate(),
                r.hitRate(0), r.hitRate(1), r.hitRate(2), r.blocksWritten()[1], r.blocksWritten()[2],
                r.prefillSecondsSaved(), r.wrongBlocks(), r.wallSeconds());
    }

    static Json toJson(ReplayResult r) {
        return new Json().put("trace", r.trace()).put("policy", r.policy()).put("requests", r.requests())
                .put("input_tokens", r.inputTokens()).put("hit_tokens", r.hitTokens()).put("hit_rate", r.hitRate())
                .put("hit_rate_by_tier", tiers(r.hitRate(0), r.hitRate(1), r.hitRate(2)))
                .put("capacity_blocks", tiers(r.capacityBlocks()))
                .put("blocks_written", devices(r.blocksWritten())).put("bytes_written", devices(r.bytesWritten()))
                .put("evictions", tiers(r.evictions())).put("rejected", tiers(r.rejected()))
                .put("prefill_seconds_saved", r.prefillSecondsSaved()).put("wrong_blocks", r.wrongBlocks())
                .put("wall_seconds", r.wallSeconds());
    }

    private static Json tiers(double dram, double ssd, double remote) {
        return new Json().put("dram", dram).put("ssd", ssd).put("remote", remote);
    }

    private static Json tiers(long[] v) {
        return new Json().put("dram", v[0]).put("ssd", v[1]).put("remote", v[2]);
    }

    private static Json devices(long[] v) {
        return new Json().put("ssd", v[1]).put("remote", v[2]);
    }
}
