package dev.kvtier.cli;

import dev.kvtier.PrefillModel;
import dev.kvtier.replay.Replay;
import dev.kvtier.replay.ReplayBound;
import dev.kvtier.replay.ReplayConfig;
import dev.kvtier.replay.ReplayPolicy;
import dev.kvtier.replay.ReplayReport;
import dev.kvtier.replay.ReplayResult;
import dev.kvtier.replay.TraceFamilies;
import dev.kvtier.replay.TraceSplit;
import dev.kvtier.replay.Workloads;
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
 * writes and modelled prefill time saved ({@link Replay} defines them). Without {@code --trace}
 * or {@code --generate} it replays every trace family in {@code ../shared/traces}
 * ({@link TraceFamilies}: each at its own capacities, under every policy), each judged against
 * lru and opt; it exits 1 if any run exceeds opt or loaded a wrong block.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay a prefix-hash trace (or, without --trace and --generate, every trace in ../shared/traces)"
                + " through a real cache under each policy and capacity given.")
final class ReplayCommand implements Callable<Integer> {
    static final Path TRACES = Path.of("..", "shared", "traces");
    static final Path REFERENCE = TRACES.resolve("reference");
    private static final long DEFAULT_DRAM_BLOCKS = 5859;
    /** The policies replayed over all traces when none is given (lru and opt are added as for any run). */
    private static final List<String> EVERY_POLICY = List.of("adaptive", "costaware", "second-hit", "write-limit");

    @Option(names = "--trace", paramLabel = "PATH",
            description = "A trace file, or a directory of kv-cache-tester files (one namespace per file). Without it"
                    + " (and without --generate), every trace family in ../shared/traces at its own capacities.")
    Path trace;

    @Option(names = "--generate", paramLabel = "SHAPE",
            description = "Instead of --trace, a generated workload: short-prompts, shared-system-prompts, document-bursts"
                    + " or tenant-mix (64-token blocks).")
    String generate;

    @Option(names = "--requests", defaultValue = "20000", paramLabel = "N",
            description = "Requests of a --generate workload (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "Seed of a --generate workload (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--format", paramLabel = "NAME", description = "mooncake or kv-cache-tester (default: detected).")
    String format;

    @Option(names = "--skip-bad-files",
            description = "A directory's malformed trace files are skipped, each named on stderr with why, instead of failing the run.")
    boolean skipBadFiles;

    @Option(names = "--policy", split = ",", paramLabel = "NAME",
            description = "adaptive, costaware, lru, second-hit, write-limit, opt; comma-separated for several"
                    + " (default: adaptive with --trace or --generate, every policy over all traces).")
    List<String> policies;

    @Option(names = "--dram-blocks", split = ",", paramLabel = "N",
            description = "DRAM capacity in blocks; comma-separated for several runs (default 5859; over all traces,"
                    + " each family's capacities).")
    List<Long> dramBlocks;

    @Option(names = "--ssd-blocks", split = ",", paramLabel = "N",
            description = "SSD capacity in blocks, 0 for none; comma-separated for several runs (default 0; over all"
                    + " traces, each family's capacities).")
    List<Long> ssdBlocks;

    @Option(names = "--remote-blocks", split = ",", paramLabel = "N",
            description = "Remote capacity in blocks, 0 for none (needs --remote-uri) (default 0).")
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

    @Option(names = "--half", defaultValue = "all", paramLabel = "WHICH",
            description = "all, first or second: replay half of the trace, by time for one file, by files for a directory"
                    + " (choose constants on the first, judge on the second) (default ${DEFAULT-VALUE}).")
    String half;

    @Option(names = "--repeat", defaultValue = "1", paramLabel = "N",
            description = "Replay each run N times in a row in this JVM and report the last, with the least wall time of the N"
                    + " (the first warms the JIT up): per-request cost against lru's (default ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--no-bound",
            description = "Do not add the lru and opt runs each capacity is compared against (no gap closed, no bound check).")
    boolean noBound;

    @Option(names = "--json", description = "One JSON object per run, each on its own line; no progress bar.")
    boolean json;

    @Option(names = "--report", paramLabel = "DIR", description = "Also write an HTML report with charts to DIR/index.html.")
    Path report;

    @Override
    public Integer call() throws IOException {
        if (repeat < 1) {
            throw new IllegalArgumentException("--repeat must be at least 1, got " + repeat);
        }
        if (trace != null && generate != null) {
            throw new IllegalArgumentException("give at most one of --trace PATH or --generate SHAPE");
        }
        Path dir = workDir != null ? Files.createDirectories(workDir) : Files.createTempDirectory("kvtier-replay");
        if (trace != null || generate != null) {
            Trace read = generate != null ? Workloads.generate(Workloads.Shape.parse(generate), requests, seed)
                    : Trace.read(trace, format == null ? null : TraceFormat.parse(format), skipBadFiles);
            return replayAll(read, capacities(dramBlocks == null ? List.of(DEFAULT_DRAM_BLOCKS) : dramBlocks,
                    ssdBlocks, remoteBlocks), policies == null ? List.of("adaptive") : policies, dir, report) ? 0 : 1;
        }
        List<TraceFamilies.Family> families = Files.isDirectory(TRACES) ? TraceFamilies.find(TRACES) : List.of();
        if (families.isEmpty()) {
            throw new IllegalArgumentException("no --trace or --generate given and no traces in " + TRACES.toAbsolutePath());
        }
        boolean ok = true;
        for (TraceFamilies.Family f : families) {
            Trace read = Trace.read(f.path(), f.format(), skipBadFiles);
            List<long[]> caps = dramBlocks == null && ssdBlocks == null && remoteBlocks == null ? familyCapacities(f)
                    : capacities(dramBlocks == null ? List.of(DEFAULT_DRAM_BLOCKS) : dramBlocks, ssdBlocks, remoteBlocks);
            ok &= replayAll(read, caps, policies == null ? EVERY_POLICY : policies, dir,
                    report == null ? null : report.resolve(f.name()));
        }
        return ok ? 0 : 1;
    }

    /**
     * Replays {@code read} (the half asked for) at each capacity under each policy, prints the runs
     * and the summary against lru and the bound, writes the report if asked; false when a block
     * was wrong or a run exceeded the bound.
     */
    private boolean replayAll(Trace read, List<long[]> capacities, List<String> policyNames, Path dir, Path reportDir)
            throws IOException {
        printSkipped(read, System.err);
        Trace t = TraceSplit.half(read, TraceSplit.Half.parse(half));
        ReplayConfig base = new ReplayConfig(ReplayPolicy.parse(policyNames.get(0)), capacities.get(0)[0], 0, 0,
                blockTokens != null ? blockTokens : t.blockTokens(), blockBytes, dir, remoteUri,
                new PrefillModel(prefillTokensPerSecond, contextDoublingTokens), weighByPrefill);
        List<ReplayConfig> runs = runs(base, policyNames, capacities);
        PrintStream out = System.out;
        if (!json) {
            out.printf(Locale.ROOT, "%s (%s): %,d requests, %,d input tokens, %d-token blocks, %d runs%n", t.name(),
                    read.format(), t.requests().size(), t.inputTokens(), base.blockTokens(), runs.size());
            out.println(defaulted(read));
        }
        List<ReplayResult> results = new ArrayList<>();
        for (ReplayConfig c : runs) {
            ReplayResult r = replay(t, c);
            results.add(r);
            out.println(json ? toJson(r).put("defaulted_fields", defaultedJson(read)) : line(r));
        }
        if (reportDir != null) {
            Path page = ReplayReport.write(reportDir, t.name(), read.format() == null ? "generated" : read.format().id(),
                    base.blockTokens(), results, Files.isDirectory(REFERENCE) ? REFERENCE : null);
            if (!json) {
                out.println("report: " + page);
            }
        }
        boolean bounded = noBound || bound(results, out);
        return results.stream().noneMatch(r -> r.wrongBlocks() > 0) && bounded;
    }

    /** Every combination of the capacities given, {DRAM, SSD, REMOTE} blocks (an absent list is 0). */
    private static List<long[]> capacities(List<Long> dram, List<Long> ssd, List<Long> remote) {
        List<long[]> all = new ArrayList<>();
        for (long d : dram) {
            for (long s : ssd == null ? List.of(0L) : ssd) {
                for (long r : remote == null ? List.of(0L) : remote) {
                    all.add(new long[] {d, s, r});
                }
            }
        }
        return all;
    }

    /** A family's own capacities, {DRAM, SSD, 0}. */
    private static List<long[]> familyCapacities(TraceFamilies.Family f) {
        List<long[]> all = new ArrayList<>();
        for (long[] c : f.capacities()) {
            all.add(new long[] {c[0], c[1], 0});
        }
        return all;
    }

    /**
     * Prints each run against lru and the opt bound of its capacities (a table, or one JSON
     * object per run with {@code "summary": true}); returns false, naming them on stderr, when a
     * run exceeds the bound.
     */
    private boolean bound(List<ReplayResult> results, PrintStream out) {
        boolean ok = true;
        if (!json) {
            out.println("against lru and the bound (opt; with device tiers: Belady over their total capacity):");
            out.println("policy       dram    ssd      remote  | hit rate | gap closed | SSD bytes written | µs/request (x lru)");
        }
        for (ReplayBound.Row row : ReplayBound.rows(results)) {
            ReplayResult r = row.run();
            if (json) {
                out.println(new Json().put("summary", true).put("trace", r.trace()).put("policy", r.policy())
                        .put("capacity_blocks", tiers(r.capacityBlocks())).put("hit_rate", r.hitRate())
                        .put("gap_closed", row.gapClosed())
                        .put("ssd_bytes_written", r.bytesWritten()[1]).put("ns_per_request", nanosPerRequest(r))
                        .put("cost_vs_lru", row.lru() == null ? Double.NaN : nanosPerRequest(r) / nanosPerRequest(row.lru()))
                        .put("exceeds_bound", row.exceeds()));
            } else {
                out.printf(Locale.ROOT, "%-11s %6d %7d %7d | %.4f   | %s | %,17d | %8.1f (%s)%s%n", r.policy(),
                        r.capacityBlocks()[0], r.capacityBlocks()[1], r.capacityBlocks()[2], r.hitRate(),
                        Double.isNaN(row.gapClosed()) ? "       -  " : String.format(Locale.ROOT, "%9.1f%%", 100 * row.gapClosed()),
                        r.bytesWritten()[1], nanosPerRequest(r) / 1e3,
                        row.lru() == null ? "-" : String.format(Locale.ROOT, "%.2f", nanosPerRequest(r) / nanosPerRequest(row.lru())),
                        row.exceeds() ? "  EXCEEDS THE BOUND" : "");
            }
            if (row.exceeds()) {
                ok = false;
                System.err.printf(Locale.ROOT, "replay: %s at DRAM %d SSD %d REMOTE %d hit %.6f, above opt's %.6f: the bound"
                        + " does not hold%n", r.policy(), r.capacityBlocks()[0], r.capacityBlocks()[1],
                        r.capacityBlocks()[2], r.hitRate(), row.opt().hitRate());
            }
        }
        return ok;
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

    /** One configuration per policy and capacity, policies outermost; lru and opt added unless --no-bound. */
    private List<ReplayConfig> runs(ReplayConfig base, List<String> policyNames, List<long[]> capacities) {
        List<ReplayConfig> runs = new ArrayList<>();
        List<ReplayPolicy> all = new ArrayList<>();
        for (String p : policyNames) {
            ReplayPolicy policy = ReplayPolicy.parse(p);
            if (!all.contains(policy)) {
                all.add(policy);
            }
        }
        if (!noBound) { // every capacity is judged against lru and the bound
            for (ReplayPolicy p : new ReplayPolicy[] {ReplayPolicy.LRU, ReplayPolicy.OPT}) {
                if (!all.contains(p)) {
                    all.add(p);
                }
            }
        }
        for (ReplayPolicy policy : all) {
            for (long[] c : capacities) {
                runs.add(base.withPolicy(policy).withCapacity(c[0], c[1], c[2]));
            }
        }
        return runs;
    }

    /** Wall time per request of a run, the whole replay loop (match, load, store, policy). */
    static double nanosPerRequest(ReplayResult r) {
        return r.requests() == 0 ? 0 : r.wallSeconds() * 1e9 / r.requests();
    }

    /** Replays {@code c} {@link #repeat} times; the last result, with the least wall time of them. */
    private ReplayResult replay(Trace t, ReplayConfig c) throws IOException {
        ReplayResult r = replayOnce(t, c);
        double least = r.wallSeconds();
        for (int i = 1; i < repeat; i++) {
            r = replayOnce(t, c);
            least = Math.min(least, r.wallSeconds());
        }
        return repeat == 1 ? r : new ReplayResult(r.trace(), r.policy(), r.requests(), r.inputTokens(), r.hitTokens(),
                r.hitTokensByTier(), r.capacityBlocks(), r.blocksWritten(), r.bytesWritten(), r.evictions(), r.rejected(),
                r.prefillSecondsSaved(), r.wrongBlocks(), least, r.loadLatency());
    }

    private ReplayResult replayOnce(Trace t, ReplayConfig c) throws IOException {
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
