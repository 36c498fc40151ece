package dev.kvtier.cli;

import dev.kvtier.ByteSize;
import dev.kvtier.CachePolicy;
import dev.kvtier.CacheStats;
import dev.kvtier.Compression;
import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierCacheBuilder;
import dev.kvtier.PrefillModel;
import dev.kvtier.PrefixMatch;
import dev.kvtier.RemoteTier;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import dev.kvtier.replay.Replay;
import dev.kvtier.replay.ReplayConfig;
import dev.kvtier.replay.ReplayPolicy;
import dev.kvtier.replay.ReplayReport;
import dev.kvtier.replay.ReplayResult;
import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceFormat;
import dev.kvtier.trace.TraceRequest;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.ToLongFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier demo}: replays a generated multi-tenant chat workload (or, with {@code --trace},
 * a real trace) through a real cache, as an inference server would call it (match, load the
 * hits, compute and store the rest), with a real payload per block, and prints a short table.
 * Hit tokens and stores follow {@link Replay}'s definition: every block id is looked up, a
 * partial last one included (it hits with its remaining tokens), and only full blocks are
 * stored; every request's input tokens count, however short.
 * Every loaded block is checked: its key is stamped in its first and last 16 bytes, and every
 * 64th block is compared whole. Then, unless {@code --no-report}, the replay engine
 * ({@link Replay}) runs the same workload under every policy, DRAM only at a quarter to twice
 * the demo's DRAM and at the demo's DRAM and SSD, with 4 KiB payloads, and writes the HTML
 * report to {@code DATA_DIR/report}.
 *
 * <p>The cache has a DRAM tier and, unless {@code --no-ssd}, an SSD tier on
 * {@code DATA_DIR/ssd.slots}. That file outlives the run: the next run reopens it, reports how
 * many blocks it recovered and how long the index rebuild took, and serves them (the same seed
 * replays the same conversations, so it hits them). A block's payload depends only on its key
 * and the block size (bf16-like data, so compression has something to do), so blocks from any
 * earlier run are checked like new ones. {@code --reset} deletes the file first.
 *
 * <p>With {@code --remote nbd://host:port/export} a third tier, shared by every process that
 * attaches the export, takes the blocks the SSD tier gives up (or, with {@code --no-ssd}, those
 * DRAM gives up); a later run, or a run on another machine, finds them there.
 *
 * <p>With {@code --metrics-port} the cache's meters ({@link dev.kvtier.KvTierMetrics}) are served
 * for Prometheus ({@link MetricsEndpoint}) from the build of the cache until it closes, and
 * {@code --metrics-hold-seconds} keeps them served that long after the workload.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Replay a generated multi-tenant chat workload through a real cache.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--requests", paramLabel = "N",
            description = "Requests to replay (default " + GENERATED_REQUESTS + " generated, or the whole trace).")
    Integer requests;

    @Option(names = "--trace", paramLabel = "PATH",
            description = "Replay this trace (a Mooncake or kv-cache-tester file or directory) instead of the generated workload.")
    Path tracePath;

    @Option(names = "--format", paramLabel = "NAME", description = "The trace's format: mooncake or kv-cache-tester (default: detected).")
    String format;

    @Option(names = "--skip-bad-files",
            description = "With a --trace directory: skip malformed trace files, each named on stderr with why, instead of failing.")
    boolean skipBadFiles;

    @Option(names = "--report", paramLabel = "DIR",
            description = "Where the policy-comparison report goes (default DATA_DIR/report).")
    Path reportDir;

    @Option(names = "--no-report", description = "Skip the policy-comparison replays and their report.")
    boolean noReport;

    @Option(names = "--tenants", defaultValue = "4", description = "Tenants, each its own namespace (default ${DEFAULT-VALUE}).")
    int tenants;

    @Option(names = "--block-tokens", defaultValue = "32",
            description = "Tokens per block of the generated workload; a trace brings its own (default ${DEFAULT-VALUE}).")
    int blockTokens;

    @Option(names = "--block-bytes", defaultValue = "262144", description = "Bytes per block (default ${DEFAULT-VALUE}).")
    int blockBytes;

    @Option(names = "--dram-mib", defaultValue = "256", description = "DRAM tier size in MiB (default ${DEFAULT-VALUE}).")
    long dramMib;

    @Option(names = "--seed", defaultValue = "42", description = "Workload seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--data-dir", defaultValue = "kvtier-data", paramLabel = "DIR",
            description = "Directory for the SSD tier's file, created when missing (default ${DEFAULT-VALUE}, under the current directory).")
    Path dataDir;

    @Option(names = "--ssd-mib", defaultValue = "1024",
            description = "SSD tier size in MiB, a sparse file; an existing file of another size is refused, see --reset (default ${DEFAULT-VALUE}).")
    long ssdMib;

    @Option(names = "--compression", defaultValue = "NONE",
            description = "SSD payload encoding: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Compression compression;

    @Option(names = "--no-ssd", description = "DRAM tier only.")
    boolean noSsd;

    @Option(names = "--reset", description = "Delete the SSD tier's file first: start from an empty SSD; "
            + "reformat a remote export written with other settings (its blocks are lost).")
    boolean reset;

    @Option(names = "--policy", defaultValue = "adaptive", paramLabel = "NAME",
            description = "adaptive, costaware, lru, second-hit or write-limit (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--remote", paramLabel = "URI", split = ",",
            description = "Add the shared remote tier on an NBD export, e.g. nbd://127.0.0.1:10809/ (see the README to "
                    + "start one); several exports (repeat the option, or separate them by commas) shard the tier over them.")
    List<URI> remote;

    @Option(names = "--remote-mib", defaultValue = "2048",
            description = "MiB of the export the remote tier uses; every process sharing it must use the same (default ${DEFAULT-VALUE}).")
    long remoteMib;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve the cache's meters for Prometheus at http://HOST:PORT/metrics while the demo runs (0: a free port).")
    Integer metricsPort;

    @Option(names = "--metrics-hold-seconds", defaultValue = "0", paramLabel = "S",
            description = "With --metrics-port: keep serving this long after the workload, before the cache closes (default ${DEFAULT-VALUE}).")
    long metricsHoldSeconds;

    private static final int GENERATED_REQUESTS = 2000;
    /** Payload bytes of the report's replays: small, so that 25 of them take seconds. */
    static final int REPORT_BLOCK_BYTES = 4096;
    /** The report's DRAM-only replays, as multiples of the demo's DRAM blocks. */
    private static final double[] REPORT_DRAM_SCALES = {0.25, 0.5, 1, 2};

    private ByteBuffer[] buffers = new ByteBuffer[0];
    private ByteBuffer template;
    private long firstTokens;
    private long firstHitTokens;
    private long wrongBlocks;
    private long verifiedBlocks;

    @Override
    public Integer call() throws IOException {
        if (requests != null && requests < 1) { // before the data directory is touched (--reset deletes)
            throw new IllegalArgumentException("--requests must be at least 1, was " + requests);
        }
        Path ssdFile = null;
        if (!noSsd) {
            Files.createDirectories(dataDir);
            ssdFile = dataDir.toAbsolutePath().normalize().resolve("ssd.slots");
            System.out.println("data directory: " + ssdFile.getParent());
            if (reset && Files.deleteIfExists(ssdFile)) {
                System.out.println("--reset: deleted " + ssdFile);
            }
        } else {
            System.out.println("no SSD tier (--no-ssd)");
        }
        Trace workload = workload();
        int blockTokens = workload.blockTokens();
        KvTierCacheBuilder builder = KvTierCache.builder().policy(CachePolicy.parse(policy))
                .blockTokens(blockTokens).blockBytes(blockBytes)
                .dramCapacityBytes(ByteSize.mib(dramMib));
        if (ssdFile != null) {
            builder.localSsd(ssdFile, ByteSize.mib(ssdMib)).ssdCompression(compression);
        }
        if (remote != null) {
            builder.remote(RemoteTier.builder(remote, ByteSize.mib(remoteMib)).compression(compression).build())
                    .reinitializeIncompatibleDevices(reset);
            System.out.println("remote tier: " + String.join(", ", remote.stream().map(URI::toString).toList()) + ", "
                    + remoteMib + " MiB" + (remote.size() > 1 ? " each" : ""));
        }
        Namespace[] ns = namespaces(workload);
        template = Payloads.block(blockBytes, Payloads.Kind.BF16, 0x6b76746965724cL);
        int count = workload.requests().size();
        long tokens = 0;
        long hitTokens = 0;
        int firstRequests = Math.max(1, count / 20);
        long loadNanos = 0;
        long storeNanos = 0;
        long storedBlocks = 0;
        long wallStart = System.nanoTime();
        KvTierCache opened;
        try {
            opened = builder.build();
        } catch (IllegalStateException | IllegalArgumentException e) {
            System.err.println("kvtier demo: " + e.getMessage());
            boolean unreachable = remote != null && e.getMessage().contains("Connect");
            System.err.println(unreachable
                    ? "kvtier demo: is an NBD server running at each of " + remote + "? The README says how to start one"
                    : "kvtier demo: run with --reset to start from an empty SSD file and reformat an incompatible "
                            + "remote export, or pick another --data-dir");
            return 2;
        }
        CacheStats stats;
        try (KvTierCache cache = opened; MetricsEndpoint endpoint = metricsPort == null ? null
                : MetricsEndpoint.start(cache, metricsPort)) {
            if (endpoint != null) {
                System.out.println("metrics: http://localhost:" + endpoint.port() + MetricsEndpoint.PATH);
            }
            if (ssdFile != null) {
                printSsd(cache.stats(), ssdFile);
            }
            PrefixMatch match = new PrefixMatch();
            for (int r = 0; r < count; r++) {
                TraceRequest req = workload.requests().get(r);
                BlockKey[] keys = ns[req.source()].keysFromHashes(req.hashIds());
                tokens += req.inputTokens();
                firstTokens += r < firstRequests ? req.inputTokens() : 0;
                if (keys.length == 0) {
                    continue;
                }
                ensureBuffers(keys.length);
                cache.match(keys, match);
                long t0 = System.nanoTime();
                int loaded = cache.load(match, buffers).join();
                loadNanos += System.nanoTime() - t0;
                verify(keys, loaded);
                long hit = 0;
                for (int i = 0; i < loaded; i++) {
                    hit += req.blockTokens(i, blockTokens);
                }
                hitTokens += hit;
                firstHitTokens += r < firstRequests ? hit : 0;
                int full = req.fullBlocks(blockTokens);
                if (loaded < full) {
                    computeBlocks(keys, loaded, full);
                    long t1 = System.nanoTime();
                    storedBlocks += cache.store(keys, buffers, loaded, full - loaded);
                    storeNanos += System.nanoTime() - t1;
                }
            }
            stats = cache.stats();
            print(workload, stats, tokens, hitTokens, loadNanos, storedBlocks, storeNanos, System.nanoTime() - wallStart);
            holdMetrics(endpoint);
        }
        printClose(opened.stats());
        if (!noReport) { // after close: the replays need none of the demo cache's memory
            report(workload, stats.capacityBlocks(Tier.DRAM), stats.capacityBlocks(Tier.SSD));
        }
        return wrongBlocks == 0 ? 0 : 1;
    }

    /** With an endpoint, keeps it serving {@code --metrics-hold-seconds} before the cache closes. */
    private void holdMetrics(MetricsEndpoint endpoint) {
        if (endpoint == null || metricsHoldSeconds <= 0) {
            return;
        }
        System.out.println("metrics: serving " + metricsHoldSeconds + " s more (--metrics-hold-seconds)");
        try {
            Thread.sleep(java.util.concurrent.TimeUnit.SECONDS.toMillis(metricsHoldSeconds));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The requests to replay: the trace given, or the generated chat workload as a trace (each
     * block's id is its token-hashed key, so equal ids mean equal prefixes); at most
     * {@code --requests} of them.
     */
    private Trace workload() throws IOException {
        if (tracePath != null) {
            Trace t = Trace.read(tracePath, format == null ? null : TraceFormat.parse(format), skipBadFiles);
            ReplayCommand.printSkipped(t, System.err);
            System.out.println("trace: " + t + "; " + ReplayCommand.defaulted(t));
            return requests == null ? t : t.head(requests);
        }
        return chatTrace(seed, tenants, requests == null ? GENERATED_REQUESTS : requests, blockTokens);
    }

    /** The generated chat workload as a trace: {@code requests} requests of {@code tenants} tenants. */
    static Trace chatTrace(long seed, int tenants, int requests, int blockTokens) {
        ChatWorkload chat = new ChatWorkload(seed, tenants);
        List<TraceRequest> out = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int t = 0; t < tenants; t++) {
            names.add("tenant-" + t);
        }
        Namespace[] hashing = namespaces(tenants, "demo/llama-3-8b", blockTokens);
        for (int r = 0; r < requests; r++) {
            ChatWorkload.Request q = chat.next();
            BlockKey[] keys = hashing[q.tenant()].blockKeys(q.tokens());
            long[] ids = new long[keys.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = keys[i].lo();
            }
            out.add(new TraceRequest(r * 0.1, q.tokens().length, 0, ids, q.tenant()));
        }
        return Trace.of("generated chat, seed " + seed, blockTokens, out, names);
    }

    /** One namespace per source of the workload (a tenant of the generated one). */
    private Namespace[] namespaces(Trace t) {
        return namespaces(t.sources(), t.format() == null ? "demo/llama-3-8b" : "demo/" + t.name(), t.blockTokens());
    }

    private static Namespace[] namespaces(int n, String model, int blockTokens) {
        Namespace[] ns = new Namespace[n];
        for (int i = 0; i < n; i++) {
            ns[i] = Namespace.builder(model).weightsFingerprint("demo-weights").tenantSalt("tenant-" + i)
                    .blockTokens(blockTokens).build();
        }
        return ns;
    }

    /**
     * Replays the same workload through the replay engine under every policy, DRAM only at a
     * quarter to twice the demo's DRAM, and at the demo's DRAM and SSD; prints each policy's hit
     * rate at the demo's capacities and writes the HTML report.
     */
    private void report(Trace t, long dramBlocks, long ssdBlocks) throws IOException {
        Path dir = reportDir != null ? reportDir : dataDir.resolve("report");
        Path work = Files.createTempDirectory("kvtier-demo-replay");
        try {
            ReplayConfig base = new ReplayConfig(ReplayPolicy.COSTAWARE, dramBlocks, 0, 0, t.blockTokens(),
                    REPORT_BLOCK_BYTES, work, null, PrefillModel.DEFAULT, false);
            List<ReplayResult> results = new ArrayList<>();
            StringBuilder line = new StringBuilder();
            for (ReplayPolicy p : ReplayPolicy.values()) {
                ReplayResult atDemo = null;
                for (double f : REPORT_DRAM_SCALES) {
                    ReplayResult r = Replay.run(t,
                            base.withPolicy(p).withCapacity(Math.max(1, Math.round(dramBlocks * f)), 0, 0), n -> { });
                    results.add(r);
                    atDemo = f == 1 ? r : atDemo;
                }
                if (ssdBlocks > 0) {
                    atDemo = Replay.run(t, base.withPolicy(p).withCapacity(dramBlocks, ssdBlocks, 0), n -> { });
                    results.add(atDemo);
                }
                line.append(String.format(Locale.ROOT, "%s%s %.3f", line.length() == 0 ? "" : ", ", p.id(),
                        atDemo.hitRate()));
            }
            Path page = ReplayReport.write(dir, t.name(), t.format() == null ? "generated" : t.format().id(),
                    t.blockTokens(), results, Files.isDirectory(ReplayCommand.REFERENCE) ? ReplayCommand.REFERENCE : null);
            System.out.printf(Locale.ROOT, "replay engine, same workload, DRAM %d%s blocks, hit rate by policy: %s%n",
                    dramBlocks, ssdBlocks > 0 ? " + SSD " + ssdBlocks : "", line);
            System.out.println("report (" + results.size() + " replays, hit rate against capacity per policy): " + page);
        } finally {
            deleteTree(work);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private void ensureBuffers(int n) {
        if (buffers.length < n) {
            ByteBuffer[] grown = java.util.Arrays.copyOf(buffers, Math.max(n, buffers.length * 2));
            for (int i = buffers.length; i < grown.length; i++) {
                grown[i] = ByteBuffer.allocateDirect(blockBytes);
            }
            buffers = grown;
        }
    }

    /** Stands in for prefill: writes the payloads of blocks {@code [from, to)} into {@code buffers[from, to)}. */
    private void computeBlocks(BlockKey[] keys, int from, int to) {
        for (int i = from; i < to; i++) {
            ByteBuffer b = buffers[i];
            b.clear();
            b.put(template.duplicate()).clear();
            stamp(b, keys[i]);
        }
    }

    private void stamp(ByteBuffer b, BlockKey key) {
        if (blockBytes >= 32) {
            b.putLong(0, key.hi()).putLong(8, key.lo());
            b.putLong(blockBytes - 16, key.lo()).putLong(blockBytes - 8, key.hi());
        }
    }

    private void verify(BlockKey[] keys, int loaded) {
        for (int i = 0; i < loaded; i++) {
            ByteBuffer b = buffers[i];
            boolean ok = blockBytes < 32 || (b.getLong(0) == keys[i].hi() && b.getLong(8) == keys[i].lo()
                    && b.getLong(blockBytes - 16) == keys[i].lo() && b.getLong(blockBytes - 8) == keys[i].hi());
            if (ok && (verifiedBlocks++ & 63) == 0) {
                ByteBuffer expected = template.duplicate();
                ByteBuffer actual = b.duplicate();
                int skip = Math.min(16, blockBytes);
                ok = expected.position(skip).limit(Math.max(skip, blockBytes - 16))
                        .equals(actual.position(skip).limit(Math.max(skip, blockBytes - 16)));
            }
            wrongBlocks += ok ? 0 : 1;
        }
    }

    private void printSsd(CacheStats s, Path file) {
        long slots = s.capacityBlocks(Tier.SSD);
        String recovered = s.recoveredBlocks(Tier.SSD) == 0 ? "no blocks recovered (empty file)"
                : String.format(Locale.ROOT, "recovered %d blocks in %d ms", s.recoveredBlocks(Tier.SSD),
                        s.ssdRecoveryMillis());
        System.out.printf(Locale.ROOT, "SSD tier: %s, %d slots (%s), compression %s: %s%n", file, slots,
                Format.bytes(slots * (long) blockBytes), compression, recovered);
    }

    private void print(Trace w, CacheStats s, long tokens, long hitTokens, long loadNanos, long storedBlocks,
            long storeNanos, long wallNanos) {
        long dramBlocks = s.capacityBlocks(Tier.DRAM);
        boolean ssd = s.capacityBlocks(Tier.SSD) > 0;
        boolean far = s.capacityBlocks(Tier.REMOTE) > 0;
        System.out.printf("kvtier demo: %d requests of %s from %d %s, %d tokens/block, %s/block, DRAM %d MiB (%d blocks)%s%s%n",
                w.requests().size(), w.name(), w.sources(), w.format() == null ? "tenants" : "sources", w.blockTokens(),
                Format.bytes(blockBytes), dramMib, dramBlocks,
                ssd ? String.format(", SSD %d blocks", s.capacityBlocks(Tier.SSD)) : "",
                far ? String.format(", remote %d blocks", s.capacityBlocks(Tier.REMOTE)) : "");
        Format.Table t = new Format.Table();
        t.row("requests", Long.toString(w.requests().size()));
        t.row("input tokens", Long.toString(tokens));
        t.row("prefix hit rate (tokens)", String.format("%.3f", tokens == 0 ? 0.0 : (double) hitTokens / tokens));
        t.row("  in the first 5% of requests", String.format("%.3f%s",
                firstTokens == 0 ? 0.0 : (double) firstHitTokens / firstTokens,
                ssd && s.recoveredBlocks(Tier.SSD) > 0 ? " (warm start: blocks recovered from the SSD file)"
                        : far && s.discoveredBlocks(Tier.REMOTE) > 0 ? " (warm start: blocks found on the remote tier)"
                        : ssd || far ? " (cold start)" : ""));
        t.row("hits by tier", perTier(ssd, far, true, s::loadedBlocks));
        t.row("blocks stored", Long.toString(storedBlocks));
        t.row("refused by admission (" + policy + ")", perTier(ssd, far, true, s::rejectedBlocks)
                + String.format(Locale.ROOT, "; share of recent new blocks admitted to DRAM %.2f", s.admitShare(Tier.DRAM)));
        if (ssd || far) {
            t.row("blocks demoted", perTier(ssd, far, false, s::storedBlocks)
                    + (compression == Compression.NONE ? "" : String.format(Locale.ROOT, " (compressed %.2fx)",
                            s.compressionRatio(ssd ? Tier.SSD : Tier.REMOTE))));
            t.row("blocks promoted to DRAM", Long.toString(s.promotedBlocks()));
            t.row("blocks evicted", String.format("DRAM %d (%d without a copy below: dropped)%s",
                    s.evictedBlocks(Tier.DRAM), s.droppedBlocks(), ssd ? ", SSD " + s.evictedBlocks(Tier.SSD) : ""));
        } else {
            t.row("blocks evicted", Long.toString(s.evictedBlocks(Tier.DRAM)));
        }
        if (ssd) {
            t.row("SSD at open", s.recoveredBlocks(Tier.SSD) == 0 ? "empty"
                    : String.format("recovered %d blocks in %d ms", s.recoveredBlocks(Tier.SSD), s.ssdRecoveryMillis()));
            t.row("SSD at end", String.format("%d of %d slots hold blocks", s.residentBlocks(Tier.SSD),
                    s.capacityBlocks(Tier.SSD)));
        }
        if (far) {
            t.row("remote tier", String.format("%d blocks found there after a local miss; this process knows %d of %d slots",
                    s.discoveredBlocks(Tier.REMOTE), s.residentBlocks(Tier.REMOTE), s.capacityBlocks(Tier.REMOTE)));
        }
        if (ssd || far) {
            long corrupt = s.corruptBlocks(Tier.SSD) + s.corruptBlocks(Tier.REMOTE);
            t.row("failed reads (misses)", String.format("corrupt %d, mismatched %d, read errors %d", corrupt,
                    s.mismatchedBlocks(Tier.SSD) + s.mismatchedBlocks(Tier.REMOTE),
                    s.readErrors(Tier.SSD) + s.readErrors(Tier.REMOTE)));
        }
        t.row("load throughput", Format.rate(s.loadedBytes(), loadNanos));
        t.row("store throughput", Format.rate(storedBlocks * blockBytes, storeNanos));
        t.row("load latency p50/p99", Format.micros(s.loadLatency().p50Nanos())
                + " / " + Format.micros(s.loadLatency().p99Nanos()));
        t.row("wrong blocks served", wrongBlocks + " of " + s.loadedBlocks() + " checked");
        t.row("wall time", String.format("%.2f s", wallNanos / 1e9));
        t.print(System.out);
    }

    /** What the clean close wrote down for the next run (a flush of the DRAM-only blocks). */
    private static void printClose(CacheStats s) {
        long ssd = s.flushedBlocks(Tier.SSD);
        long remote = s.flushedBlocks(Tier.REMOTE);
        String below = s.capacityBlocks(Tier.SSD) > 0 ? "SSD" : "remote tier";
        if (s.flushes() > 0 && ssd + remote == 0) {
            System.out.println("closed: every block in DRAM already had a copy on the " + below + "; nothing to write");
        } else if (s.flushes() > 0) {
            System.out.printf(Locale.ROOT, "closed: wrote the %d blocks kept only in DRAM to the %s in %d ms%s%n",
                    ssd + remote, below, s.flushMillis(),
                    s.incompleteFlushes() > 0 ? " (stopped early: no room, a failed write or the time budget)" : "");
        }
    }

    /** "DRAM a, SSD b, remote c blocks" over the tiers present. */
    private static String perTier(boolean ssd, boolean far, boolean dram, ToLongFunction<Tier> count) {
        StringBuilder b = new StringBuilder();
        if (dram) {
            b.append("DRAM ").append(count.applyAsLong(Tier.DRAM));
        }
        if (ssd) {
            b.append(b.length() > 0 ? ", " : "").append("SSD ").append(count.applyAsLong(Tier.SSD));
        }
        if (far) {
            b.append(b.length() > 0 ? ", " : "").append("remote ").append(count.applyAsLong(Tier.REMOTE));
        }
        return b.append(" blocks").toString();
    }
}
