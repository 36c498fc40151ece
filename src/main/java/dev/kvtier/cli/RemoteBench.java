package dev.kvtier.cli;

import dev.kvtier.CacheStats;
import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierCacheBuilder;
import dev.kvtier.PrefixMatch;
import dev.kvtier.RemoteTier;
import dev.kvtier.Tier;
import dev.kvtier.device.NbdDevice;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier bench remote}: the remote tier's demotion and load over a real NBD export, beside
 * a standard NBD client ({@code fio --ioengine=nbd}, from Debian's fio package) reading and
 * writing the same export in the same run. Medians over the measured rounds, after warm-up.
 *
 * <p><b>Demote.</b> First the cache's region is written with zeros once ({@code prefill_gib_s};
 * not with {@code --no-prefill}), so that the demote writes, like fio's measured pass, land on
 * memory the server has already allocated. Then a cache whose DRAM holds two chains of
 * {@code --blocks} blocks, no SSD, the remote tier on the first {@code --capacity-mib} of the
 * export, and the least {@code demoteAhead} (one page), so that the demoter does not write
 * while a chain is stored. It first stores, flushes and invalidates one warm-up chain of its
 * own namespace {@code --demote-warmup} times, unmeasured, so that the JIT has compiled the
 * write path (fio needs none) while the warm-up rewrites the same slots instead of filling the
 * export with chains older than the measured ones (which a full set replaces first, but
 * four small exports filled that way once lost a measured block in CI), then the warm-up
 * and measured rounds. Each round stores a fresh chain and calls {@code flush()}, which writes
 * every block of it down with the demoter's writes in flight ({@code demote_writes_in_flight}):
 * {@code demote_gib_s} is the chain's bytes over store and flush, {@code demote_write_gib_s}
 * over the flush alone (the writes, as fio's are; the store is a copy into DRAM, see
 * {@code bench dram}), and the round fails unless every block reached the remote tier.
 *
 * <p><b>Load.</b> A second cache (a fresh process's view: empty index, DRAM of 2 blocks) on the
 * same export. Each round matches a chain, which finds its blocks by reading their sets'
 * headers ({@code first_match_ms}), then loads it into direct buffers, all blocks in parallel
 * on the I/O engine ({@code queue_depth} reads in flight), every byte checked:
 * {@code load_gib_s} is the chain's bytes over the load. Then {@code --latency-samples}
 * single-block loads of blocks the cache knows but does not hold in DRAM give
 * {@code load_p50_us} and {@code load_p99_us} (match + load of one block).
 *
 * <p><b>Warm-up.</b> {@code --warmup} rounds of each phase, and before the measured loads
 * {@code --load-warmup} more loads of the warm-up chains, so that both paths run compiled.
 *
 * <p><b>Several exports.</b> With several {@code --uri}s the remote tier is sharded over them
 * ({@code exports}); depths and connections ({@code queue_depth}, {@code connections},
 * {@code demote_writes_in_flight}) are per export, and every fio run below runs its jobs on
 * each export at once, reporting their sum.
 *
 * <p><b>Baseline.</b> fio reads the first GiB (at most {@code --capacity-mib}) of the cache's region of each export in blocks of the same
 * size at the same queue depth on one connection ({@code fio_read_gib_s}; with as many jobs, so
 * connections, as the cache has connections, the same reads in flight in all:
 * {@code fio_read_jobs_gib_s}), and writes as much after the cache's region at the demoter's
 * queue depth on one connection ({@code fio_write_gib_s}) and, the next span, as
 * {@code fio_write_jobs} jobs sharing that depth ({@code fio_write_jobs_gib_s}), twice,
 * reporting the second pass, when the server has allocated the region as it has the cache's;
 * so fio never clobbers the cache's slots: each export must hold {@code --capacity-mib} plus
 * twice that span. {@code load_ratio} and {@code demote_ratio} are against one fio connection
 * per export, the {@code _jobs} ratios against fio with as many connections;
 * {@code sealed_load_ratio} and {@code sealed_demote_ratio} put the sealed run against the
 * same fio figures. Without fio on the PATH the baseline fields are absent.
 */
@Command(name = "remote", mixinStandardHelpOptions = true,
        description = "Remote-tier demotion and load over an NBD export against fio --ioengine=nbd on the same "
                + "export; prints one JSON object last.")
final class RemoteBench implements Callable<Integer> {
    @Option(names = "--uri", required = true, split = ",",
            description = "NBD export, nbd://host:port/[export]; several, comma-separated, shard the remote tier.")
    List<URI> uris;

    @Option(names = "--capacity-mib", defaultValue = "2048",
            description = "MiB of each export the cache uses (default ${DEFAULT-VALUE}); fio writes twice as much"
                    + " (at most 2 GiB) after them.")
    long capacityMib;

    @Option(names = "--ways", defaultValue = "16",
            description = "Slots per set of the remote tier (default ${DEFAULT-VALUE}, as the library formats a blank"
                    + " export): enough that no set receives more of the bench's blocks than it holds (checked).")
    int ways;

    @Option(names = "--block-bytes", defaultValue = "2097152", description = "Bytes per block (default ${DEFAULT-VALUE}).")
    int blockBytes;

    @Option(names = "--blocks", defaultValue = "32", description = "Blocks per chain, one chain per round (default ${DEFAULT-VALUE}).")
    int blocks;

    @Option(names = "--rounds", defaultValue = "5", description = "Measured rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "2", description = "Warm-up rounds (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--connections", defaultValue = "4", description = "NBD connections (default ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--latency-samples", defaultValue = "200",
            description = "Single-block loads timed for the percentiles (default ${DEFAULT-VALUE}).")
    int latencySamples;

    @Option(names = "--load-warmup", defaultValue = "20",
            description = "Extra warm-up loads of the warm-up chains before the measured loads, so that the JIT has"
                    + " compiled the read path (default ${DEFAULT-VALUE}).")
    int loadWarmup;

    @Option(names = "--demote-warmup", defaultValue = "25",
            description = "Times one warm-up chain (its own namespace, invalidated after each) is demoted before the measured"
                    + " rounds, so that the JIT has compiled the write path; it rewrites the same slots each time"
                    + " (default ${DEFAULT-VALUE}).")
    int demoteWarmup;

    @Option(names = "--no-prefill", description = "Do not write the cache's region once before the demote phase.")
    boolean noPrefill;

    @Option(names = "--json", description = "Print only the JSON line.")
    boolean jsonOnly;

    @Option(names = "--sealed", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Run demotion and load again on a sealed export (RemoteTier secret: AES-256-GCM) and report the"
                    + " ratio to the plain run (default on; --no-sealed skips it).")
    boolean sealedRun;

    /** The secret of the sealed run; null while the plain run is measured. */
    private byte[] secret;

    /** The demoter's writes in flight per export ({@code Demoter.WRITES_PER_DEVICE}, not public API). */
    private static final int WRITES_IN_FLIGHT = 8;
    /** The most the check allows for the chance that a set overflows with the bench's blocks ({@link #setOverflowChance}). */
    private static final double MAX_SET_OVERFLOW = 1e-3;
    /** More than any round's flush takes; a round whose flush stops short fails its check. */
    private static final Duration FLUSH_BUDGET = Duration.ofMinutes(1);

    private final Namespace ns = Namespace.builder("bench/remote").blockTokens(16).build();
    /** The demotion warm-up's chain: rewritten each round, so the warm-up fills no more of the export than one chain. */
    private final Namespace warmNs = Namespace.builder("bench/remote/warm-up").blockTokens(16).build();
    private ByteBuffer[] src;
    private ByteBuffer[] dst;
    private BlockKey[][] chains;
    /** Per measured round: match of a chain this cache has not seen (its blocks found on the export). */
    private double[] matchMs;

    @Override
    public Integer call() throws Exception {
        check(blockBytes >= 16 && blocks >= 1 && rounds >= 1 && warmup >= 0 && demoteWarmup >= 0 && latencySamples >= 1,
                "--block-bytes must be at least 16; --blocks, --rounds, --latency-samples positive; --warmup and"
                        + " --demote-warmup not negative");
        int total = warmup + rounds;
        long capacity = capacityMib << 20;
        check(warmup > 0 || loadWarmup == 0, "--load-warmup loads the warm-up chains: it needs --warmup of at least 1");
        check(ways >= 1 && ways <= 64, "--ways must be in [1, 64]");
        long sets = uris.size() * (capacity / (blockBytes + 4096L) / ways); // a slot: the block and at most a page of header
        double overflow = setOverflowChance((long) total * blocks, sets, ways);
        check(overflow <= MAX_SET_OVERFLOW, String.format(Locale.ROOT, "--capacity-mib (each export's) and --ways: the"
                + " %d blocks written ((--warmup + --rounds) x --blocks) fall into %d sets of %d slots by key hash, and"
                + " some set would receive more than %d of them with probability %.4f (at most %s), replacing one of"
                + " the bench's own blocks; raise --capacity-mib or --ways, or write fewer blocks", (long) total * blocks,
                sets, ways, ways, overflow, MAX_SET_OVERFLOW));
        src = new ByteBuffer[blocks];
        dst = new ByteBuffer[blocks];
        for (int i = 0; i < blocks; i++) {
            src[i] = Payloads.block(blockBytes, Payloads.Kind.RANDOM, 7000 + i);
            dst[i] = ByteBuffer.allocateDirect(blockBytes);
        }
        chains = new BlockKey[total][];
        double prefill = noPrefill ? Double.NaN : prefill(capacity);
        Demotion demote = demotePhase(capacity);
        double[] load = new double[1];
        Histogram latency = loadPhase(capacity, load);
        Demotion sealedDemote = null;
        double sealedLoad = Double.NaN;
        Histogram sealedLatency = null;
        if (sealedRun) {
            double[] plainMatch = matchMs;
            secret = "kvtier bench remote secret (32B)".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            sealedDemote = demotePhase(capacity);
            double[] sealedLoads = new double[1];
            sealedLatency = loadPhase(capacity, sealedLoads);
            sealedLoad = sealedLoads[0];
            secret = null;
            matchMs = plainMatch;
        }
        int depth = 4 * connections;
        Fio fio = Fio.available() ? new Fio(uris, blockBytes) : null;
        long span = Math.min(1L << 30, capacity);
        double fioRead = fio == null ? Double.NaN : fio.run("read", 0, span, depth, 1);
        double fioReadJobs = fio == null ? Double.NaN : fio.run("read", 0, span, depth / connections, connections);
        double fioWrite = Double.NaN;
        double fioWriteJobs = Double.NaN;
        int writeJobs = Math.min(connections, WRITES_IN_FLIGHT);
        for (int pass = 0; fio != null && pass < 2; pass++) {
            fioWrite = fio.run("write", capacity, span, WRITES_IN_FLIGHT, 1);
            fioWriteJobs = fio.run("write", capacity + span, span, WRITES_IN_FLIGHT / writeJobs, writeJobs);
        }
        report(prefill, demote, load[0], latency, depth, new Fio.Figures(fioRead, fioReadJobs, fioWrite, fioWriteJobs),
                sealedDemote, sealedLoad, sealedLatency);
        return 0;
    }

    /**
     * Writes zeros once over the cache's region of the export (through kvtier's NBD client, 8
     * MiB-requests, 8 in flight; returns GiB/s), so that the demote phase overwrites memory the
     * server has allocated, as fio's second write pass does: {@code nbdkit memory} writes into
     * fresh pages at less than half the speed (measured with fio: 0.9 against 2.1 GiB/s). Zeros
     * read as empty slot headers; the cache formats the region on open.
     */
    private double prefill(long capacity) throws IOException {
        long t0 = System.nanoTime();
        long done = 0;
        for (URI uri : uris) {
            done += prefill(uri, capacity);
        }
        return Format.gibPerSecond(done, System.nanoTime() - t0);
    }

    /** Writes zeros over the cache's region of one export; returns the bytes written. */
    private long prefill(URI uri, long capacity) throws IOException {
        int chunk = 8 << 20;
        int window = 8;
        ByteBuffer zeros = ByteBuffer.allocateDirect(chunk);
        long done = 0;
        try (NbdDevice d = NbdDevice.open(uri, capacity, connections, 10_000)) {
            long size = d.size();
            NbdDevice.PendingWrite[] inFlight = new NbdDevice.PendingWrite[window];
            int k = 0;
            for (long at = 0; at < size; at += chunk, k++) {
                if (inFlight[k % window] != null) {
                    inFlight[k % window].await();
                }
                int n = (int) Math.min(chunk, size - at);
                inFlight[k % window] = d.startWrite(at, zeros.duplicate().limit(n));
                done += n;
            }
            for (NbdDevice.PendingWrite w : inFlight) {
                if (w != null) {
                    w.await();
                }
            }
        }
        return done;
    }

    /** A cache on the export; sealed in the sealed run (the export is then formatted anew). */
    private KvTierCacheBuilder builder(long capacity, int dramBlocks) {
        KvTierCacheBuilder b = KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                .dramCapacityBytes((long) dramBlocks * ((blockBytes + 63) & -64)).demoteAhead(1.0)
                .reinitializeIncompatibleDevices(true);
        RemoteTier.Builder remote = RemoteTier.builder(uris, capacity).connections(connections).ways(ways)
                .timeout(Duration.ofSeconds(10))
                .lookupBudget(Duration.ofSeconds(10)); // a throughput bench: a loaded machine must not cut a match short
        return b.remote((secret == null ? remote : remote.secret(secret)).build());
    }

    /** Demotion's GiB/s: store and flush together, and the flush alone (the writes). */
    private record Demotion(double total, double writes) { }

    private Demotion demotePhase(long capacity) {
        double[] gib = new double[rounds];
        double[] writesGib = new double[rounds];
        try (KvTierCache cache = builder(capacity, 2 * blocks).demoteAhead(1.0 / (2 * blocks)).build()) {
            BlockKey[] warm = warmNs.keysFromHashes(chainHashes(0));
            for (int k = 0; k < demoteWarmup; k++) {
                cache.store(warm, src);
                cache.flush(FLUSH_BUDGET);
                cache.invalidate(warmNs); // so the next round writes the same keys again, over the same slots
            }
            for (int r = -warmup; r < rounds; r++) {
                int id = r + warmup;
                chains[id] = chain(id);
                stamp(id);
                CacheStats before = cache.stats();
                long t0 = System.nanoTime();
                cache.store(chains[id], src);
                long stored = System.nanoTime();
                cache.flush(FLUSH_BUDGET);
                long t1 = System.nanoTime();
                long written = cache.stats().storedBlocks(Tier.REMOTE) - before.storedBlocks(Tier.REMOTE);
                if (written != blocks) {
                    throw new IllegalStateException("demote round " + r + ": wrote " + written + " of " + blocks
                            + " blocks to the remote tier: " + cache.stats());
                }
                if (r >= 0) {
                    gib[r] = Format.gibPerSecond((long) blocks * blockBytes, t1 - t0);
                    writesGib[r] = Format.gibPerSecond((long) blocks * blockBytes, t1 - stored);
                }
            }
        }
        return new Demotion(median(gib), median(writesGib));
    }

    /** Chain loads (their median GiB/s into {@code gibOut[0]}); returns single-block load latencies. */
    private Histogram loadPhase(long capacity, double[] gibOut) {
        double[] gib = new double[rounds];
        matchMs = new double[rounds];
        Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(1), 3);
        try (KvTierCache cache = builder(capacity, 2).build()) {
            PrefixMatch m = new PrefixMatch();
            for (int r = -warmup; r < rounds; r++) {
                int id = r + warmup;
                clear();
                long t0 = System.nanoTime();
                cache.match(chains[id], m);
                long t1 = System.nanoTime();
                int loaded = cache.load(m, dst).join();
                long t2 = System.nanoTime();
                if (loaded != blocks) {
                    throw new IllegalStateException("load round " + r + ": loaded " + loaded + " of " + blocks
                            + " (matched " + m.hitBlocks() + "): " + cache.stats());
                }
                verify(id, blocks);
                if (r >= 0) {
                    gib[r] = Format.gibPerSecond((long) blocks * blockBytes, t2 - t1);
                    matchMs[r] = (t1 - t0) / 1e6;
                }
                if (r == -1) {
                    warmLoads(cache, m);
                }
            }
            sampleLatency(cache, latency);
            CacheStats s = cache.stats();
            long bad = s.corruptBlocks(Tier.REMOTE) + s.mismatchedBlocks(Tier.REMOTE) + s.readErrors(Tier.REMOTE);
            check(bad == 0, bad + " remote reads failed their checks: " + s);
        }
        gibOut[0] = median(gib);
        return latency;
    }

    /** Loads the warm-up chains (already matched) {@code --load-warmup} times, checked, not timed. */
    private void warmLoads(KvTierCache cache, PrefixMatch m) {
        for (int k = 0; k < loadWarmup; k++) {
            int id = k % warmup;
            clear();
            cache.match(chains[id], m);
            int loaded = cache.load(m, dst).join();
            if (loaded != blocks) {
                throw new IllegalStateException("warm-up load: loaded " + loaded + " of " + blocks + ": " + cache.stats());
            }
            verify(id, blocks);
        }
    }

    /** Loads one block at a time, each the first block of the last chain not read most recently. */
    private void sampleLatency(KvTierCache cache, Histogram into) {
        PrefixMatch m = new PrefixMatch();
        ByteBuffer[] one = {dst[0]};
        for (int n = 0; n < latencySamples; n++) {
            BlockKey[] prefix = {chains[n % chains.length][0]};
            long t0 = System.nanoTime();
            cache.match(prefix, m);
            int loaded = cache.load(m, one).join();
            long t1 = System.nanoTime();
            if (loaded != 1) {
                throw new IllegalStateException("single-block load " + n + " missed: " + cache.stats());
            }
            if (m.tier(0) == Tier.REMOTE) {
                into.recordValue(t1 - t0);
            }
        }
        check(into.getTotalCount() > 0, "no single-block load came from the remote tier; raise --warmup + --rounds");
    }

    private void report(double prefill, Demotion demote, double load, Histogram latency, int depth, Fio.Figures fio,
            Demotion sealedDemote, double sealedLoad, Histogram sealedLatency) {
        int writeJobs = Math.min(connections, WRITES_IN_FLIGHT);
        double p50 = latency.getValueAtPercentile(50) / 1e3;
        double p99 = latency.getValueAtPercentile(99) / 1e3;
        double firstMatch = median(matchMs);
        if (!jsonOnly) {
            System.out.printf(Locale.ROOT, "kvtier bench remote: %s, %d rounds (after %d warm-up) of %d blocks of %s,"
                    + " medians; %d connections per export%n", uris.stream().map(URI::toString)
                    .collect(java.util.stream.Collectors.joining(", ")), rounds, warmup, blocks, Format.bytes(blockBytes),
                    connections);
            String each = uris.size() == 1 ? "" : " on each of " + uris.size() + " exports";
            Format.Table t = new Format.Table();
            t.row("fio read", gib(fio.read()) + "  fio --ioengine=nbd, iodepth " + depth + ", 1 connection" + each + " ("
                    + connections + " jobs x iodepth " + depth / connections + ": " + gib(fio.readJobs()) + ")");
            t.row("load", gib(load) + String.format(Locale.ROOT, "  %.2f of fio (%.2f of fio with %d jobs): load of a"
                    + " chain, %d reads in flight%s, every header and CRC checked, every byte compared", load / fio.read(),
                    load / fio.readJobs(), connections, depth, each));
            t.row("first match", String.format(Locale.ROOT, "%.1f ms to find the %d blocks of a chain on the export",
                    firstMatch, blocks));
            t.row("load latency", String.format(Locale.ROOT, "p50 %.0f us, p99 %.0f us: match + load of one block (%d samples)",
                    p50, p99, latency.getTotalCount()));
            t.row("fio write", gib(fio.write()) + "  fio --ioengine=nbd, iodepth " + WRITES_IN_FLIGHT + ", 1 connection"
                    + each + " (" + writeJobs + " jobs x iodepth " + WRITES_IN_FLIGHT / writeJobs + ": "
                    + gib(fio.writeJobs()) + "), second pass");
            t.row("demote writes", gib(demote.writes()) + String.format(Locale.ROOT, "  %.2f of fio (%.2f of fio with %d"
                    + " jobs): the flush() of a stored chain, %d writes in flight%s",
                    demote.writes() / fio.write(), demote.writes() / fio.writeJobs(), writeJobs, WRITES_IN_FLIGHT, each));
            t.row("demote", gib(demote.total()) + String.format(Locale.ROOT, "  %.2f of fio: store (a copy into DRAM) +"
                    + " those writes, region prefilled (%s)", demote.total() / fio.write(), gib(prefill)));
            if (sealedDemote != null) {
                t.row("sealed", String.format(Locale.ROOT, "demote writes %s (%.2f of fio, %.2f of plain), load %s (%.2f"
                        + " of fio, %.2f of plain), one block p50 %.0f us, p99 %.0f us: the same phases with a RemoteTier"
                        + " secret (AES-256-GCM on every block)", gib(sealedDemote.writes()), sealedDemote.writes() / fio.write(),
                        sealedDemote.writes() / demote.writes(), gib(sealedLoad), sealedLoad / fio.read(), sealedLoad / load,
                        sealedLatency.getValueAtPercentile(50) / 1e3, sealedLatency.getValueAtPercentile(99) / 1e3));
            }
            t.print(System.out);
        }
        Json j = new Json().put("bench", "remote").put("exports", uris.size()).put("block_bytes", blockBytes)
                .put("blocks", blocks).put("rounds", rounds).put("connections", connections).put("queue_depth", depth)
                .put("load_gib_s", load).put("load_p50_us", p50).put("load_p99_us", p99)
                .put("first_match_ms", firstMatch).put("demote_gib_s", demote.total())
                .put("demote_write_gib_s", demote.writes()).put("demote_writes_in_flight", WRITES_IN_FLIGHT)
                .put("prefilled", !Double.isNaN(prefill));
        if (!Double.isNaN(prefill)) {
            j.put("prefill_gib_s", prefill);
        }
        if (sealedDemote != null) {
            j.put("sealed_demote_write_gib_s", sealedDemote.writes()).put("sealed_load_gib_s", sealedLoad)
                    .put("sealed_demote_write_of_plain", sealedDemote.writes() / demote.writes())
                    .put("sealed_load_of_plain", sealedLoad / load)
                    .put("sealed_load_p50_us", sealedLatency.getValueAtPercentile(50) / 1e3)
                    .put("sealed_load_p99_us", sealedLatency.getValueAtPercentile(99) / 1e3);
        }
        if (!Double.isNaN(fio.read())) {
            j.put("fio_read_gib_s", fio.read()).put("fio_read_jobs_gib_s", fio.readJobs())
                    .put("load_ratio", load / fio.read()).put("load_ratio_jobs", load / fio.readJobs())
                    .put("fio_write_gib_s", fio.write()).put("fio_write_jobs", writeJobs)
                    .put("fio_write_jobs_gib_s", fio.writeJobs()).put("demote_ratio", demote.total() / fio.write())
                    .put("demote_write_ratio", demote.writes() / fio.write())
                    .put("demote_write_ratio_jobs", demote.writes() / fio.writeJobs());
            if (sealedDemote != null) {
                j.put("sealed_load_ratio", sealedLoad / fio.read())
                        .put("sealed_demote_write_ratio", sealedDemote.writes() / fio.write());
            }
        }
        System.out.println(j);
    }

    /**
     * fio's nbd engine against the same exports: {@code jobs} jobs (connections) on each export,
     * all at once; the bandwidth of the run, all exports together, GiB/s.
     */
    private record Fio(List<URI> uris, int blockBytes) {
        /** fio's GiB/s: reads and writes on one connection per export, and with as many jobs as the cache's connections. */
        record Figures(double read, double readJobs, double write, double writeJobs) { }

        private static final Pattern BW = Pattern.compile("\"bw_bytes\"\\s*:\\s*(\\d+)");

        static boolean available() {
            try {
                return new ProcessBuilder("fio", "--version").redirectErrorStream(true).start().waitFor() == 0;
            } catch (IOException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        double run(String rw, long offset, long size, int iodepth, int jobs) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>(List.of("fio", "--ioengine=nbd", "--rw=" + rw, "--bs=" + blockBytes,
                    "--iodepth=" + iodepth, "--numjobs=" + jobs, "--offset=" + offset, "--size=" + size / jobs,
                    "--offset_increment=" + size / jobs, "--group_reporting", "--output-format=json"));
            for (int i = 0; i < uris.size(); i++) { // options before the first --name apply to every job
                cmd.add("--name=kvtier-baseline-" + i);
                cmd.add("--uri=" + uris.get(i));
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException("fio failed: " + String.join(" ", cmd) + "\n" + out);
            }
            Matcher section = Pattern.compile("\"" + rw + "\"\\s*:\\s*\\{").matcher(out);
            if (!section.find()) {
                throw new IOException("no " + rw + " section in fio's output:\n" + out);
            }
            Matcher m = BW.matcher(out).region(section.end(), out.length());
            if (!m.find()) {
                throw new IOException("no bandwidth in fio's output:\n" + out);
            }
            return Long.parseLong(m.group(1)) / (double) (1L << 30);
        }
    }

    private BlockKey[] chain(int id) {
        return ns.keysFromHashes(chainHashes(id));
    }

    private long[] chainHashes(int id) {
        long[] hashes = new long[blocks];
        for (int i = 0; i < blocks; i++) {
            hashes[i] = ((long) id << 32) | i;
        }
        return hashes;
    }

    private void stamp(int id) {
        for (int i = 0; i < blocks; i++) {
            src[i].putLong(0, id).putLong(8, i);
        }
    }

    private void clear() {
        for (ByteBuffer b : dst) {
            b.putLong(0, -1L);
        }
    }

    private void verify(int id, int n) {
        for (int i = 0; i < n; i++) {
            ByteBuffer d = dst[i];
            boolean ok = d.getLong(0) == id && d.getLong(8) == i
                    && d.duplicate().position(16).equals(src[i].duplicate().position(16));
            if (!ok) {
                throw new IllegalStateException("WRONG BYTES: block " + i + " of chain " + id
                        + " loaded from the remote tier differs from what was stored");
            }
        }
    }

    private static String gib(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.2f GiB/s", v);
    }

    /**
     * The chance that some of {@code sets} sets receives more than {@code ways} of {@code n}
     * blocks placed by key hash (balls into bins; the sets taken as independent):
     * {@code 1 - P(Binomial(n, 1/sets) <= ways)^sets}.
     */
    static double setOverflowChance(long n, long sets, int ways) {
        if (sets <= 1) {
            return sets == 1 && n <= ways ? 0 : 1;
        }
        double p = 1.0 / sets;
        double term = Math.pow(1 - p, n); // P(X = 0)
        double atMostWays = 0;
        for (int k = 0; k <= ways && k <= n; k++) {
            atMostWays += term;
            term *= (double) (n - k) / (k + 1) * p / (1 - p);
        }
        return 1 - Math.pow(Math.min(1, atMostWays), sets);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("kvtier bench remote: " + message);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
