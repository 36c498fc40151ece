package dev.kvtier.cli;

import dev.kvtier.CacheStats;
import dev.kvtier.Compression;
import dev.kvtier.KvTierCache;
import dev.kvtier.PrefixMatch;
import dev.kvtier.Tier;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier bench ssd}: the SSD tier's demotion, load and restart beside plain file I/O of
 * the same bytes on the same filesystem, in the same run. The headline baselines are memcpys
 * to and from a mapping of a file in the page cache, the fastest copy there is; plain
 * {@link FileChannel} figures (the cache's SSD device uses pread and pwrite) are reported
 * beside them. All figures are medians over the
 * measured rounds, which follow warm-up rounds; within a round the baselines and the cache run
 * back to back, so they see the same machine noise.
 *
 * <p><b>Demote</b> (phase 1). A cache whose DRAM holds exactly one chain of {@code --blocks}
 * blocks, an SSD tier of {@code --ssd-chains} chains on {@code DIR/kvtier-bench.slots}, and
 * {@code demoteAhead(1.0)}, so the background demoter writes every block down. Each round
 * stores a fresh chain in one {@code store} call (evicting the previous chain's DRAM copies,
 * which are clean) and calls {@code awaitIdle()}. {@code demote_gib_s} is blocks × blockBytes
 * over the time from the start of {@code store} until {@code awaitIdle()} returns; the round
 * fails unless {@code storedBlocks(SSD)} grew by exactly the chain's blocks and nothing was
 * dropped. {@code demoter_gib_s} is the same bytes over the background part alone (from the end
 * of {@code store}). Baseline, {@code baseline_write_gib_s}: the same bytes copied into a
 * {@link MappedByteBuffer} of a separate file in the same directory; extra,
 * {@code baseline_write_channel_gib_s}: {@link FileChannel#write(ByteBuffer, long)} of the
 * same direct buffers to another file there. Each baseline file is as large as the SSD tier's
 * data and every round writes the next chain-sized region, as the cache's slots rotate, so
 * after the warm-up both sides overwrite pages written before. Nothing is fsynced on either
 * side: the cache does not sync per block ({@code close()} is meant to msync; its time is
 * reported as {@code close_ms}), so with files that fit in RAM these are page-cache figures,
 * not the drive's.
 *
 * <p><b>Load</b> (phase 2). The cache is closed and reopened on the same file with a DRAM tier
 * of {@code --load-dram-blocks} blocks (default 2), so every chain is on SSD only. Each round
 * matches and loads one chain (the fully recovered chains in turn) into direct buffers and
 * checks every byte of every block against what was stored; a wrong byte, a short load or a
 * corrupt read fails the run. Loads promote blocks into DRAM, but a 2-block DRAM keeps at most
 * 2 of them, evicted again by the next chain's promotions; {@code load_ssd_share} (the share of
 * loaded blocks read from SSD, from {@code loadedBlocks(SSD)}) shows how many really came from
 * the SSD tier. Baseline, {@code baseline_read_gib_s}: memcpy of the same number of blocks out
 * of a read-only mapping of the cache's own file, at the slot payload offsets of the
 * documented layout (4 KiB superblock, a 128-byte header before each payload); extra,
 * {@code baseline_read_channel_gib_s}: {@link FileChannel#read(ByteBuffer, long)} of the same
 * offsets. The baselines read {@code blockBytes} per block whatever the codec; with
 * compression the cache reads fewer bytes and decodes them.
 *
 * <p><b>Restart</b>. The phase-2 open and {@code --restarts}−1 further close/reopen cycles on
 * the same file: {@code restart_ms} is the median of {@code stats().ssdRecoveryMillis()} (the
 * index rebuilt from the slot headers), {@code restart_open_ms} the median wall time of
 * {@code build()}, {@code slots} is {@code capacityBlocks(SSD)} and {@code recovered_blocks}
 * what the rebuild found. The page cache is warm.
 *
 * <p>The three files are deleted before and after the run.
 */
@Command(name = "ssd", mixinStandardHelpOptions = true,
        description = "SSD-tier demotion, load and restart against mmap/FileChannel copies of the same "
                + "bytes on the same filesystem; prints one JSON object last.")
final class SsdBench implements Callable<Integer> {
    /** {@code SlotHeader.BYTES}, and {@code DeviceLayout.METADATA_BYTES} (superblock and invalidation table) of the documented layout. */
    private static final int HEADER_BYTES = 128;
    /** One-block gets: prompts written down, gets per measured round, and their key ids. */
    private static final int GET_BLOCKS = 64;
    private static final int GETS_PER_ROUND = 32;
    private static final long GET_IDS = 1L << 40;
    /** The fill: DRAM blocks (it stores 4x as many), and the back-pressure wait of its second run. */
    private static final int FILL_DRAM_BLOCKS = 8;
    private static final long FILL_WAIT_MS = 10_000;
    private static final long FILL_IDS = 2L << 40;
    private static final int SUPERBLOCK_BYTES = 8192;

    @Option(names = "--path", required = true, paramLabel = "DIR",
            description = "Directory for the cache file and the baseline files (created when missing).")
    Path dir;

    @Option(names = "--block-bytes", defaultValue = "2097152", description = "Bytes per block (default ${DEFAULT-VALUE}).")
    int blockBytes;

    @Option(names = "--blocks", defaultValue = "64", description = "Blocks per chain, one chain per round (default ${DEFAULT-VALUE}).")
    int blocks;

    @Option(names = "--rounds", defaultValue = "10", description = "Measured rounds of each phase (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "5",
            description = "Warm-up rounds of each phase (default ${DEFAULT-VALUE}; at least --ssd-chains, so that measured rounds overwrite).")
    int warmup;

    @Option(names = "--ssd-chains", defaultValue = "4", description = "SSD tier capacity in chains (default ${DEFAULT-VALUE}).")
    int ssdChains;

    @Option(names = "--load-dram-blocks", defaultValue = "2", description = "DRAM tier blocks while loading (default ${DEFAULT-VALUE}).")
    int loadDramBlocks;

    @Option(names = "--restarts", defaultValue = "3", description = "Reopens measured (default ${DEFAULT-VALUE}).")
    int restarts;

    @Option(names = "--compression", defaultValue = "NONE",
            description = "SSD payload encoding: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Compression compression;

    @Option(names = "--payload", defaultValue = "RANDOM",
            description = "Block contents: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}; bf16 compresses a little).")
    Payloads.Kind payload;

    @Option(names = "--json", description = "Print only the JSON line.")
    boolean jsonOnly;

    private final Namespace ns = Namespace.builder("bench/ssd").blockTokens(16).build();
    private Path cacheFile;
    private long slotBytes;
    private long chainBytes;
    private ByteBuffer[] src;
    private ByteBuffer[] dst;

    // phase 1
    private BlockKey[][] chains;
    private double writeMap;
    private double writeChannel;
    private double demote;
    private double demoter;
    private double compressionRatio;
    private long closeMs;
    // phase 2
    private double readMap;
    private double readChannel;
    private double load;
    private double ssdShare;
    private double promotedPerLoad;
    private int residentChains;
    // restart
    private final List<Long> recoveryMs = new ArrayList<>();
    // one-block gets, and a fill of 4x DRAM
    private double getMemcpy;
    private double get;
    private double getSsdShare;
    private final long[][] fill = new long[2][];
    private final List<Double> openMs = new ArrayList<>();
    private long slots;
    private long recovered;

    @Override
    public Integer call() throws IOException {
        check(blockBytes >= 16, "--block-bytes must be at least 16 (each block carries a 16-byte stamp)");
        check(blocks >= 4 && rounds >= 1 && warmup >= 0 && restarts >= 1 && loadDramBlocks >= 1,
                "--blocks must be at least 4, --rounds, --restarts and --load-dram-blocks positive, --warmup not negative");
        check(ssdChains >= 2, "--ssd-chains must be at least 2");
        slotBytes = HEADER_BYTES + (long) blockBytes;
        chainBytes = (long) blocks * blockBytes;
        check((long) blocks * slotBytes <= Integer.MAX_VALUE, "a chain (--blocks x --block-bytes) must be under 2 GiB");
        Files.createDirectories(dir);
        cacheFile = dir.resolve("kvtier-bench.slots");
        Path mapFile = dir.resolve("kvtier-bench-baseline.mmap");
        Path channelFile = dir.resolve("kvtier-bench-baseline.channel");
        long ssdBytes = (SUPERBLOCK_BYTES + (long) ssdChains * blocks * slotBytes + 4095) & -4096L;
        long needed = ssdBytes + 2L * ssdChains * chainBytes;
        FileStore store = Files.getFileStore(dir);
        check(store.getUsableSpace() > needed + (64L << 20), "the bench writes " + Format.bytes(needed) + " under "
                + dir + " but only " + store.getUsableSpace() / (1 << 20) + " MiB are free; lower --ssd-chains or --blocks");
        src = new ByteBuffer[blocks];
        dst = new ByteBuffer[blocks];
        for (int i = 0; i < blocks; i++) {
            src[i] = Payloads.block(blockBytes, payload, 1000 + i);
            dst[i] = ByteBuffer.allocateDirect(blockBytes);
        }
        deleteAll(cacheFile, mapFile, channelFile);
        try {
            demotePhase(ssdBytes, mapFile, channelFile);
            loadPhase(ssdBytes);
            restarts(ssdBytes);
            getsPhase(ssdBytes);
            fill[0] = fillPhase(ssdBytes, 0);
            fill[1] = fillPhase(ssdBytes, FILL_WAIT_MS);
        } finally {
            deleteAll(cacheFile, mapFile, channelFile);
        }
        report(store, ssdBytes);
        return 0;
    }

    private KvTierCache open(long ssdBytes, int dramBlocks) {
        return KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                .dramCapacityBytes((long) dramBlocks * ((blockBytes + 63) & -64))
                .localSsd(cacheFile, ssdBytes).ssdCompression(compression).demoteAhead(1.0).build();
    }

    private void demotePhase(long ssdBytes, Path mapFile, Path channelFile) throws IOException {
        int total = warmup + rounds;
        chains = new BlockKey[total][];
        double[] wMap = new double[rounds];
        double[] wChannel = new double[rounds];
        double[] dem = new double[rounds];
        double[] bg = new double[rounds];
        KvTierCache cache = open(ssdBytes, blocks);
        try (cache;
                FileChannel channel = FileChannel.open(channelFile, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE);
                FileChannel mapChannel = FileChannel.open(mapFile, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer[] regions = new MappedByteBuffer[ssdChains];
            for (int c = 0; c < ssdChains; c++) {
                regions[c] = mapChannel.map(FileChannel.MapMode.READ_WRITE, (long) c * chainBytes, chainBytes);
            }
            for (int r = -warmup; r < rounds; r++) {
                int id = r + warmup;
                int region = id % ssdChains;
                BlockKey[] keys = chains[id] = chain(id);
                stamp(id);
                CacheStats before = cache.stats();
                long t0 = System.nanoTime();
                for (int i = 0; i < blocks; i++) {
                    writeFully(channel, src[i], region * chainBytes + (long) i * blockBytes);
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < blocks; i++) {
                    regions[region].duplicate().position(i * blockBytes).put(src[i].duplicate());
                }
                long t2 = System.nanoTime();
                int stored = cache.store(keys, src);
                long t3 = System.nanoTime();
                cache.awaitIdle();
                long t4 = System.nanoTime();
                CacheStats after = cache.stats();
                long demoted = after.storedBlocks(Tier.SSD) - before.storedBlocks(Tier.SSD);
                long lost = after.droppedBlocks() - before.droppedBlocks()
                        + after.demoteFailedBlocks() - before.demoteFailedBlocks()
                        + after.demoteDeclinedBlocks() - before.demoteDeclinedBlocks();
                if (stored != blocks || demoted != blocks || lost != 0) {
                    throw new IllegalStateException("demote round " + r + ": stored " + stored + " and wrote "
                            + demoted + " of " + blocks + " blocks to SSD, " + lost
                            + " dropped, failed or declined: " + after);
                }
                if (r >= 0) {
                    wChannel[r] = Format.gibPerSecond(chainBytes, t1 - t0);
                    wMap[r] = Format.gibPerSecond(chainBytes, t2 - t1);
                    dem[r] = Format.gibPerSecond(chainBytes, t4 - t2);
                    bg[r] = Format.gibPerSecond(chainBytes, t4 - t3);
                }
            }
            compressionRatio = cache.stats().compressionRatio(Tier.SSD);
            long t = System.nanoTime();
            cache.close();
            closeMs = (System.nanoTime() - t) / 1_000_000;
        }
        writeMap = median(wMap);
        writeChannel = median(wChannel);
        demote = median(dem);
        demoter = median(bg);
    }

    private void loadPhase(long ssdBytes) throws IOException {
        long t = System.nanoTime();
        KvTierCache cache = open(ssdBytes, loadDramBlocks);
        recordOpen(cache, t);
        try (cache; FileChannel channel = FileChannel.open(cacheFile, StandardOpenOption.READ)) {
            List<Integer> resident = new ArrayList<>();
            PrefixMatch match = new PrefixMatch();
            for (int id = 0; id < chains.length; id++) {
                if (cache.match(chains[id], match).hitBlocks(Tier.SSD) == blocks) {
                    resident.add(id);
                }
            }
            check(!resident.isEmpty(), "no chain was found whole on the SSD tier after reopening: " + cache.stats());
            residentChains = resident.size();
            int regions = (int) Math.max(1, Math.min(ssdChains, slots / blocks));
            MappedByteBuffer[] mapped = new MappedByteBuffer[regions];
            for (int c = 0; c < regions; c++) {
                mapped[c] = channel.map(FileChannel.MapMode.READ_ONLY, SUPERBLOCK_BYTES + (long) c * blocks * slotBytes,
                        blocks * slotBytes);
            }
            int warm = Math.max(warmup, Math.max(regions, resident.size()));
            double[] rChannel = new double[rounds];
            double[] rMap = new double[rounds];
            double[] ld = new double[rounds];
            long fromSsd = 0;
            long promoted = 0;
            for (int r = -warm; r < rounds; r++) {
                int k = r + warm;
                int id = resident.get(k % resident.size());
                int region = k % regions;
                long base = SUPERBLOCK_BYTES + (long) region * blocks * slotBytes + HEADER_BYTES;
                CacheStats before = cache.stats();
                long t0 = System.nanoTime();
                for (int i = 0; i < blocks; i++) {
                    readFully(channel, dst[i], base + i * slotBytes);
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < blocks; i++) {
                    int at = (int) (HEADER_BYTES + i * slotBytes);
                    dst[i].duplicate().put(mapped[region].duplicate().position(at).limit(at + blockBytes));
                }
                long t2 = System.nanoTime();
                for (ByteBuffer b : dst) {
                    b.putLong(0, -1L);
                }
                long t3 = System.nanoTime();
                cache.match(chains[id], match);
                int loaded = cache.load(match, dst).join();
                long t4 = System.nanoTime();
                CacheStats after = cache.stats();
                if (loaded != blocks) {
                    throw new IllegalStateException("load round " + r + ": loaded " + loaded + " of " + blocks
                            + " blocks of chain " + id + " (matched " + match.hitBlocks() + "): " + after);
                }
                verify(id);
                if (r >= 0) {
                    rChannel[r] = Format.gibPerSecond(chainBytes, t1 - t0);
                    rMap[r] = Format.gibPerSecond(chainBytes, t2 - t1);
                    ld[r] = Format.gibPerSecond(chainBytes, t4 - t3);
                    fromSsd += after.loadedBlocks(Tier.SSD) - before.loadedBlocks(Tier.SSD);
                    promoted += after.promotedBlocks() - before.promotedBlocks();
                }
            }
            CacheStats s = cache.stats();
            long bad = s.corruptBlocks(Tier.SSD) + s.mismatchedBlocks(Tier.SSD) + s.readErrors(Tier.SSD);
            check(bad == 0, bad + " SSD reads failed their checks: " + s);
            readChannel = median(rChannel);
            readMap = median(rMap);
            load = median(ld);
            ssdShare = (double) fromSsd / ((long) rounds * blocks);
            promotedPerLoad = (double) promoted / rounds;
        }
    }

    private void restarts(long ssdBytes) {
        for (int n = 1; n < restarts; n++) {
            long t = System.nanoTime();
            try (KvTierCache cache = open(ssdBytes, loadDramBlocks)) {
                recordOpen(cache, t);
                if (n == restarts - 1) {
                    int id = chains.length - 1;
                    PrefixMatch m = cache.match(chains[id]);
                    int loaded = cache.load(m, dst).join();
                    if (loaded != blocks) {
                        throw new IllegalStateException("after reopening, the last chain loaded " + loaded + " of "
                                + blocks + " blocks: " + cache.stats());
                    }
                    verify(id);
                }
            }
        }
    }

    /**
     * One-block gets served from the SSD tier: single-block prompts written down and reopened with
     * a 2-block DRAM, then gets of uniformly random ones (match + load of one block, timed; every
     * byte checked after, untimed, as the memcpy it is compared with checks nothing), interleaved
     * per round with a memcpy of a random block among as many in memory.
     */
    private void getsPhase(long ssdBytes) {
        int n = (int) Math.min(GET_BLOCKS, slots / 2);
        BlockKey[] keys = new BlockKey[n];
        ByteBuffer[] memory = new ByteBuffer[n];
        deleteAll(cacheFile);
        try (KvTierCache cache = open(ssdBytes, 2)) {
            for (int k = 0; k < n; k++) {
                keys[k] = ns.keysFromHashes(new long[] {GET_IDS + k})[0];
                src[0].putLong(0, GET_IDS + k).putLong(8, 0);
                memory[k] = ByteBuffer.allocateDirect(blockBytes).put(src[0].duplicate()).flip();
                cache.store(new BlockKey[] {keys[k]}, new ByteBuffer[] {src[0]});
                cache.awaitIdle();
            }
            cache.flush(Duration.ofMinutes(1));
        }
        java.util.Random rnd = new java.util.Random(42);
        double[] gets = new double[rounds];
        double[] copies = new double[rounds];
        try (KvTierCache cache = open(ssdBytes, 2)) {
            PrefixMatch m = new PrefixMatch();
            BlockKey[] one = new BlockKey[1];
            ByteBuffer[] into = {dst[0]};
            for (int round = -warmup; round < rounds; round++) {
                long getNanos = 0;
                for (int g = 0; g < GETS_PER_ROUND; g++) {
                    int k = rnd.nextInt(n);
                    one[0] = keys[k];
                    dst[0].putLong(0, -1); // poisoned: a get that writes nothing is caught
                    long t0 = System.nanoTime();
                    int got = cache.load(cache.match(one, m), into).join();
                    getNanos += System.nanoTime() - t0;
                    if (got != 1 || dst[0].getLong(0) != GET_IDS + k
                            || !dst[0].duplicate().position(16).equals(src[0].duplicate().position(16))) {
                        throw new IllegalStateException("WRONG BYTES or a miss: get of block " + k + ": " + cache.stats());
                    }
                }
                long t1 = System.nanoTime();
                for (int g = 0; g < GETS_PER_ROUND; g++) {
                    dst[0].clear().put(memory[rnd.nextInt(n)].duplicate());
                }
                long t2 = System.nanoTime();
                if (round >= 0) {
                    gets[round] = gibs((long) GETS_PER_ROUND * blockBytes, getNanos);
                    copies[round] = gibs((long) GETS_PER_ROUND * blockBytes, t2 - t1);
                }
                dst[0].clear();
            }
            CacheStats s = cache.stats();
            getSsdShare = (double) s.loadedBlocks(Tier.SSD) / Math.max(1, s.loadedBlocks());
        }
        get = median(gets);
        getMemcpy = median(copies);
    }

    /**
     * A fill of 4x DRAM in one pass (chains of 4, stores back to back, no waiting between them),
     * then every chain loaded: kept, dropped (evicted before the demoter wrote them), refused for
     * want of a page, and the time stores waited, with back-pressure of {@code waitMs} (0: none).
     */
    private long[] fillPhase(long ssdBytes, long waitMs) {
        deleteAll(cacheFile);
        int chainsToFill = FILL_DRAM_BLOCKS; // of 4 blocks: 4x DRAM
        ByteBuffer[] four = java.util.Arrays.copyOf(src, 4);
        try (KvTierCache cache = KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                .dramCapacityBytes((long) FILL_DRAM_BLOCKS * ((blockBytes + 63) & -64)).localSsd(cacheFile, ssdBytes)
                .storeWait(Duration.ofMillis(waitMs)).flushOnClose(Duration.ZERO).build()) {
            BlockKey[][] fillChains = new BlockKey[chainsToFill][];
            long t0 = System.nanoTime();
            for (int c = 0; c < chainsToFill; c++) {
                fillChains[c] = ns.keysFromHashes(new long[] {FILL_IDS + 4L * c, FILL_IDS + 4L * c + 1,
                        FILL_IDS + 4L * c + 2, FILL_IDS + 4L * c + 3});
                cache.store(fillChains[c], four);
            }
            long fillMs = (System.nanoTime() - t0) / 1_000_000;
            cache.awaitIdle();
            long kept = 0;
            for (BlockKey[] c : fillChains) {
                kept += cache.load(cache.match(c), dst).join();
            }
            CacheStats s = cache.stats();
            return new long[] {4L * chainsToFill, kept, s.droppedBlocks(), s.storeNoSpaceBlocks(), s.storeWaitMillis(),
                    fillMs};
        } finally {
            deleteAll(cacheFile);
        }
    }

    private static double gibs(long bytes, long nanos) {
        return bytes / (nanos / 1e9) / (1L << 30);
    }

    private void recordOpen(KvTierCache cache, long startNanos) {
        openMs.add((System.nanoTime() - startNanos) / 1e6);
        CacheStats s = cache.stats();
        recoveryMs.add(s.ssdRecoveryMillis());
        long found = s.recoveredBlocks(Tier.SSD);
        if (recoveryMs.size() > 1 && found != recovered) {
            throw new IllegalStateException("reopen recovered " + found + " blocks, the one before " + recovered);
        }
        recovered = found;
        slots = s.capacityBlocks(Tier.SSD);
    }

    private void report(FileStore store, long ssdBytes) {
        double restartMs = medianLong(recoveryMs);
        double openMedian = median(openMs.stream().mapToDouble(Double::doubleValue).toArray());
        if (!jsonOnly) {
            System.out.printf(Locale.ROOT, "kvtier bench ssd: %d rounds (after %d+ warm-up) of %d blocks of %s per phase,"
                    + " medians; files in %s (%s on %s)%n", rounds, warmup, blocks, Format.bytes(blockBytes),
                    dir.toAbsolutePath(), store.type(), store.name());
            System.out.printf(Locale.ROOT, "  SSD tier: %d slots (%d MiB file), compression %s, payload %s;"
                    + " DRAM %d blocks while demoting, %d while loading%n", slots, ssdBytes >> 20, compression,
                    payload.name().toLowerCase(Locale.ROOT), blocks, loadDramBlocks);
            Format.Table t = new Format.Table();
            t.row("write baseline", gib(writeMap) + "  memcpy into a mapped file (FileChannel.write: "
                    + gib(writeChannel) + ")");
            t.row("demote", gib(demote) + String.format(Locale.ROOT, "  %.2f of baseline: store + background write"
                    + " to SSD until awaitIdle (background part alone: %s)", demote / writeMap, gib(demoter)));
            t.row("read baseline", gib(readMap) + "  memcpy from a read-only mapping of the cache file"
                    + " (FileChannel.read: " + gib(readChannel) + ")");
            t.row("load", gib(load) + String.format(Locale.ROOT, "  %.2f of baseline: match + load, every byte checked;"
                    + " %.0f%% of blocks read from SSD, %.1f promoted per load", load / readMap, 100 * ssdShare,
                    promotedPerLoad));
            t.row("restart", String.format(Locale.ROOT, "%.0f ms index rebuild, %.1f ms build() (medians of %d);"
                    + " %d blocks recovered of %d slots", restartMs, openMedian, openMs.size(), recovered, slots));
            t.row("one-block gets", gib(get) + String.format(Locale.ROOT, "  %.2f of a memcpy of a random block among %d"
                    + " in memory (%s, same rounds): match + load from a 2-block DRAM, every byte checked; %.0f%% from SSD",
                    get / getMemcpy, GET_BLOCKS, gib(getMemcpy), 100 * getSsdShare));
            for (int b = 0; b < 2; b++) {
                long[] f = fill[b];
                t.row(b == 0 ? "fill of 4x DRAM" : "  with back-pressure", String.format(Locale.ROOT,
                        "%d of %d blocks kept, %d dropped before written, %d refused for want of a page; stores took"
                        + " %d ms, waited %d ms%s", f[1], f[0], f[2], f[3], f[5], f[4],
                        b == 0 ? " (stores never wait)" : " (storeWait " + FILL_WAIT_MS + " ms)"));
            }
            if (compression != Compression.NONE) {
                t.row("compression", String.format(Locale.ROOT, "%.2fx (block bytes / bytes written)", compressionRatio));
            }
            t.print(System.out);
            System.out.printf("  Neither side fsyncs, so with files that fit in RAM these are page-cache figures, not the"
                    + " drive's (the demoting cache's close() took %d ms).%n", closeMs);
        }
        Json j = new Json().put("bench", "ssd").put("block_bytes", blockBytes).put("blocks", blocks)
                .put("rounds", rounds).put("compression", compression.name())
                .put("payload", payload.name().toLowerCase(Locale.ROOT)).put("filesystem", store.type())
                .put("baseline_read_gib_s", readMap).put("baseline_read_channel_gib_s", readChannel)
                .put("load_gib_s", load).put("load_ratio", load / readMap).put("load_ssd_share", ssdShare)
                .put("promoted_per_load", promotedPerLoad)
                .put("baseline_write_gib_s", writeMap).put("baseline_write_channel_gib_s", writeChannel)
                .put("demote_gib_s", demote).put("demote_ratio", demote / writeMap).put("demoter_gib_s", demoter)
                .put("restart_ms", restartMs).put("restart_open_ms", openMedian).put("slots", slots)
                .put("recovered_blocks", recovered).put("close_ms", closeMs)
                .put("get_gib_s", get).put("get_memcpy_gib_s", getMemcpy).put("get_ratio", get / getMemcpy)
                .put("get_ssd_share", getSsdShare)
                .put("fill_blocks", fill[0][0]).put("fill_kept", fill[0][1]).put("fill_dropped", fill[0][2])
                .put("fill_refused", fill[0][3]).put("fill_ms", fill[0][5])
                .put("fill_backpressure_kept", fill[1][1]).put("fill_backpressure_dropped", fill[1][2])
                .put("fill_backpressure_wait_ms", fill[1][4]).put("fill_backpressure_ms", fill[1][5]);
        if (compression != Compression.NONE) {
            j.put("compression_ratio", compressionRatio);
        }
        System.out.println(j);
    }

    private static String gib(double v) {
        return String.format(Locale.ROOT, "%.2f GiB/s", v);
    }

    /** Chain {@code id}: keys distinct from every other chain's from the first block on. */
    private BlockKey[] chain(int id) {
        long[] hashes = new long[blocks];
        for (int i = 0; i < blocks; i++) {
            hashes[i] = ((long) id << 32) | i;
        }
        return ns.keysFromHashes(hashes);
    }

    /** Makes the source blocks chain {@code id}'s: its id and the block index in the first 16 bytes. */
    private void stamp(int id) {
        for (int i = 0; i < blocks; i++) {
            src[i].putLong(0, id).putLong(8, i);
        }
    }

    /** Every byte of {@code dst} must be chain {@code id}'s blocks. */
    private void verify(int id) {
        for (int i = 0; i < blocks; i++) {
            ByteBuffer d = dst[i];
            boolean ok = d.getLong(0) == id && d.getLong(8) == i
                    && d.duplicate().position(16).equals(src[i].duplicate().position(16));
            if (!ok) {
                throw new IllegalStateException("WRONG BYTES: block " + i + " of chain " + id
                        + " loaded from the cache differs from what was stored");
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        ByteBuffer d = b.duplicate();
        long p = position;
        while (d.hasRemaining()) {
            p += ch.write(d, p);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        ByteBuffer d = b.duplicate();
        long p = position;
        while (d.hasRemaining()) {
            int n = ch.read(d, p);
            if (n < 0) {
                throw new EOFException("end of " + ch + " at " + p);
            }
            p += n;
        }
    }

    private static void deleteAll(Path... files) {
        for (Path f : files) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + f, e);
            }
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("kvtier bench ssd: " + message);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? 0 : s[s.length / 2];
    }

    private static double medianLong(List<Long> v) {
        return median(v.stream().mapToDouble(Long::doubleValue).toArray());
    }
}
