/*
 * Run (see DramBenchmark for how the jmh profile passes the JVM flags):
 *
 *   ./mvnw -Pjmh test-compile exec:exec -Djmh.args="SsdBenchmark -f 1 -wi 1 -i 3"
 *
 * Files go to a fresh directory under java.io.tmpdir, or under -Dkvtier.bench.dir=DIR (pass it
 * with -jvmArgsAppend inside jmh.args), and are deleted at tear-down. Single groups:
 * "SsdBenchmark.demote", "SsdBenchmark.load", "SsdBenchmark.restart".
 */
package dev.kvtier;

import dev.kvtier.format.DeviceLayout;
import dev.kvtier.format.SlotHeader;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The SSD tier (a memory-mapped file) through the public API, beside plain copies of the same
 * bytes to and from a file in the same directory, in the same run, for blocks of
 * {@code blockBytes} (default 2 MiB); and the warm-restart time of a 100,000-slot tier.
 *
 * <p><b>Units.</b> The throughput benchmarks move {@value #BLOCKS} blocks per invocation; the
 * score is blocks per second and the {@code :bytes} line counts bytes per second. GiB/s =
 * bytes/s / 2^30 (= blocks/s / 512 for 2 MiB blocks). {@code restart} is milliseconds per
 * open, single shot.
 *
 * <ul>
 *   <li>{@code demote}: {@code store} of a fresh chain of {@value #BLOCKS} blocks into a cache
 *       whose DRAM holds exactly one chain, with {@code demoteAhead(1.0)}, then
 *       {@code awaitIdle()}: the invocation ends when the background demoter has written every
 *       block to the SSD file (checked at each iteration's end: SSD writes = DRAM stores, none
 *       dropped). So it is the DRAM copy plus the SSD write, as a server sees it when it waits
 *       for its blocks to be safe. The SSD tier holds {@value #SSD_CHAINS} chains; once full,
 *       each write first evicts the oldest chain's slots, as in steady state.
 *   <li>{@code demoteBaselineMmap}: the same bytes copied into a {@link MappedByteBuffer} of a
 *       file of the same size in the same directory, chain-sized regions in turn;
 *       {@code demoteBaselineChannel}: the same with {@link FileChannel#write(ByteBuffer, long)}.
 *       No side fsyncs: the cache does not sync per block.
 *   <li>{@code load}: {@code load} of a chain that is on SSD only (filled by a first cache,
 *       then reopened with a DRAM tier of 2 blocks, so that promotions keep at most 2 blocks
 *       in DRAM and the next chain's promotions evict them) into direct buffers; chains in
 *       turn. Each iteration fails unless at least 90% of the blocks came from SSD.
 *   <li>{@code loadBaselineMmap}: memcpy of the same number of blocks out of a read-only
 *       mapping of the cache's own file, at its slot payload offsets;
 *       {@code loadBaselineChannel}: {@link FileChannel#read(ByteBuffer, long)} of the same.
 *   <li>{@code restart}: build a cache on an existing file of {@code restartSlots} slots of
 *       {@code restartBlockBytes}-byte blocks (every slot holds a block, in chains of 100) and
 *       rebuild its index from the slot headers; the page cache is warm. Each iteration's
 *       tear-down checks that every block was recovered and closes the cache.
 * </ul>
 *
 * All files live in the page cache on a machine with enough RAM, so these are page-cache
 * figures for cache and baseline alike, not the drive's.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SsdBenchmark {
    static final int BLOCKS = 8;
    static final int SSD_CHAINS = 8;
    static final int RESTART_CHAIN = 100;
    private static final Namespace NAMESPACE = Namespace.builder("bench-ssd").blockTokens(16).build();

    /** A DRAM tier of one chain over an SSD tier of {@value #SSD_CHAINS} chains, writing everything down. */
    @State(Scope.Thread)
    public static class Demote {
        @Param("2097152")
        public int blockBytes;

        Path dir;
        KvTierCache cache;
        BlockKey[][] chains;
        ByteBuffer[] src;
        int next;

        @Setup
        public void setUp() throws IOException {
            dir = tempDir();
            cache = KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                    .dramCapacityBytes((long) BLOCKS * page(blockBytes))
                    .localSsd(dir.resolve("kvtier.slots"), deviceBytes(SSD_CHAINS * BLOCKS, blockBytes))
                    .demoteAhead(1.0).build();
            // More chains than DRAM and SSD hold together, so a chain has left the cache before it comes round.
            chains = new BlockKey[2 * (SSD_CHAINS + 1)][];
            for (int c = 0; c < chains.length; c++) {
                chains[c] = chain(c, BLOCKS);
            }
            src = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(1));
        }

        @TearDown(Level.Iteration)
        public void check() {
            CacheStats s = cache.stats();
            long toSsd = s.storedBlocks(Tier.SSD);
            long toDram = s.storedBlocks(Tier.DRAM);
            if (toSsd != toDram || s.droppedBlocks() != 0) {
                throw new IllegalStateException("demotion fell behind: " + toDram + " blocks stored, " + toSsd
                        + " written to SSD, " + s.droppedBlocks() + " dropped: " + s);
            }
        }

        @TearDown
        public void tearDown() {
            cache.close();
            deleteTree(dir);
        }
    }

    /** A file of the SSD tier's data size in its own temporary directory, mapped and open. */
    @State(Scope.Thread)
    public static class WriteBaseline {
        @Param("2097152")
        public int blockBytes;

        Path dir;
        FileChannel channel;
        MappedByteBuffer[] regions;
        ByteBuffer[] src;
        int next;

        @Setup
        public void setUp() throws IOException {
            dir = tempDir();
            channel = FileChannel.open(dir.resolve("baseline.bin"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            long chainBytes = (long) BLOCKS * blockBytes;
            regions = new MappedByteBuffer[SSD_CHAINS];
            for (int c = 0; c < SSD_CHAINS; c++) {
                regions[c] = channel.map(FileChannel.MapMode.READ_WRITE, c * chainBytes, chainBytes);
            }
            src = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(1));
        }

        int nextRegion() {
            int r = next;
            next = (next + 1) % SSD_CHAINS;
            return r;
        }

        @TearDown
        public void tearDown() throws IOException {
            channel.close();
            deleteTree(dir);
        }
    }

    /** {@value #SSD_CHAINS} chains on SSD only, under a 2-block DRAM tier; the cache file mapped read-only. */
    @State(Scope.Thread)
    public static class Load {
        @Param("2097152")
        public int blockBytes;

        Path dir;
        KvTierCache cache;
        PrefixMatch[] matches;
        ByteBuffer[] dst;
        FileChannel channel;
        MappedByteBuffer mapped;
        DeviceLayout layout;
        int next;
        long loadedAtStart;
        long ssdAtStart;

        @Setup
        public void setUp() throws IOException {
            dir = tempDir();
            Path file = dir.resolve("kvtier.slots");
            int slots = SSD_CHAINS * BLOCKS;
            long bytes = deviceBytes(slots, blockBytes);
            ByteBuffer[] src = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(2));
            try (KvTierCache fill = open(file, bytes, BLOCKS)) {
                for (int c = 0; c < SSD_CHAINS; c++) {
                    for (int i = 0; i < BLOCKS; i++) {
                        src[i].putLong(0, c * 1000L + i);
                    }
                    fill.store(chain(c, BLOCKS), src);
                    fill.awaitIdle();
                }
                if (fill.stats().storedBlocks(Tier.SSD) != slots) {
                    throw new IllegalStateException("fill wrote " + fill.stats().storedBlocks(Tier.SSD) + " of "
                            + slots + " blocks to SSD: " + fill.stats());
                }
            }
            cache = open(file, bytes, 2);
            matches = new PrefixMatch[SSD_CHAINS];
            for (int c = 0; c < SSD_CHAINS; c++) {
                matches[c] = cache.match(chain(c, BLOCKS));
                if (matches[c].hitBlocks(Tier.SSD) != BLOCKS) {
                    throw new IllegalStateException("chain " + c + " not on SSD after reopening: " + matches[c]);
                }
            }
            dst = BenchBlocks.blocks(BLOCKS, blockBytes, null);
            channel = FileChannel.open(file, StandardOpenOption.READ);
            mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            layout = new DeviceLayout(1, slots, 16, blockBytes, 0);
        }

        private KvTierCache open(Path file, long bytes, int dramBlocks) {
            return KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                    .dramCapacityBytes((long) dramBlocks * page(blockBytes)).localSsd(file, bytes)
                    .demoteAhead(1.0).build();
        }

        int nextChain() {
            int c = next;
            next = (next + 1) % SSD_CHAINS;
            return c;
        }

        @Setup(Level.Iteration)
        public void mark() {
            CacheStats s = cache.stats();
            loadedAtStart = s.loadedBlocks();
            ssdAtStart = s.loadedBlocks(Tier.SSD);
        }

        @TearDown(Level.Iteration)
        public void check() {
            CacheStats s = cache.stats();
            long loaded = s.loadedBlocks() - loadedAtStart;
            long fromSsd = s.loadedBlocks(Tier.SSD) - ssdAtStart;
            if (loaded > 0 && fromSsd < 0.9 * loaded) {
                throw new IllegalStateException("only " + fromSsd + " of " + loaded + " loaded blocks came from SSD: " + s);
            }
            if (s.corruptBlocks(Tier.SSD) + s.mismatchedBlocks(Tier.SSD) + s.readErrors(Tier.SSD) != 0) {
                throw new IllegalStateException("failed SSD reads: " + s);
            }
        }

        @TearDown
        public void tearDown() throws IOException {
            cache.close();
            channel.close();
            deleteTree(dir);
        }
    }

    /** A file whose every slot holds a block; the cache opened on it by the current shot. */
    @State(Scope.Benchmark)
    public static class Restart {
        @Param("100000")
        public int restartSlots;

        @Param("64")
        public int restartBlockBytes;

        Path dir;
        Path file;
        long bytes;
        long filled;
        KvTierCache cache;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            dir = tempDir();
            file = dir.resolve("kvtier.slots");
            bytes = deviceBytes(restartSlots, restartBlockBytes);
            ByteBuffer[] src = BenchBlocks.blocks(RESTART_CHAIN, restartBlockBytes, new SplittableRandom(3));
            try (KvTierCache fill = open()) {
                long slots = fill.stats().capacityBlocks(Tier.SSD);
                for (int c = 0; (long) (c + 1) * RESTART_CHAIN <= slots; c++) {
                    fill.store(chain(c, RESTART_CHAIN), src);
                    fill.awaitIdle();
                    filled += RESTART_CHAIN;
                }
                if (fill.stats().storedBlocks(Tier.SSD) != filled || filled < restartSlots - RESTART_CHAIN) {
                    throw new IllegalStateException("fill wrote only " + fill.stats().storedBlocks(Tier.SSD)
                            + " blocks: " + fill.stats());
                }
            }
        }

        KvTierCache open() {
            return KvTierCache.builder().blockTokens(16).blockBytes(restartBlockBytes)
                    .dramCapacityBytes((long) RESTART_CHAIN * page(restartBlockBytes))
                    .localSsd(file, bytes).demoteAhead(1.0).build();
        }

        @TearDown(Level.Iteration)
        public void closeShot() {
            if (cache != null) {
                CacheStats s = cache.stats();
                cache.close();
                cache = null;
                if (s.recoveredBlocks(Tier.SSD) != filled) {
                    throw new IllegalStateException("reopen recovered " + s.recoveredBlocks(Tier.SSD) + " of "
                            + filled + " blocks: " + s);
                }
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            deleteTree(dir);
        }
    }

    /** Bytes moved; reported per second next to the score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public int demote(Demote s, Traffic traffic) {
        BlockKey[] keys = s.chains[s.next];
        s.next = (s.next + 1) % s.chains.length;
        int n = s.cache.store(keys, s.src);
        if (n != BLOCKS) {
            throw new IllegalStateException("stored " + n + " of " + BLOCKS + " blocks");
        }
        s.cache.awaitIdle();
        traffic.bytes += (long) n * s.blockBytes;
        return n;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public void demoteBaselineMmap(WriteBaseline s, Traffic traffic) {
        MappedByteBuffer region = s.regions[s.nextRegion()];
        for (int i = 0; i < BLOCKS; i++) {
            region.duplicate().position(i * s.blockBytes).put(s.src[i].duplicate());
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public void demoteBaselineChannel(WriteBaseline s, Traffic traffic) throws IOException {
        long base = (long) s.nextRegion() * BLOCKS * s.blockBytes;
        for (int i = 0; i < BLOCKS; i++) {
            ByteBuffer b = s.src[i].duplicate();
            long p = base + (long) i * s.blockBytes;
            while (b.hasRemaining()) {
                p += s.channel.write(b, p);
            }
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public int load(Load s, Traffic traffic) {
        int c = s.nextChain();
        int n = s.cache.load(s.matches[c], s.dst).join();
        if (n != BLOCKS || s.dst[BLOCKS - 1].getLong(0) != c * 1000L + BLOCKS - 1) {
            throw new IllegalStateException("loaded " + n + " of " + BLOCKS + " blocks of chain " + c
                    + ", or wrong bytes");
        }
        traffic.bytes += (long) n * s.blockBytes;
        return n;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public void loadBaselineMmap(Load s, Traffic traffic) {
        int c = s.nextChain();
        for (int i = 0; i < BLOCKS; i++) {
            int at = (int) s.layout.payloadOffset((long) c * BLOCKS + i);
            s.dst[i].duplicate().put(s.mapped.duplicate().position(at).limit(at + s.blockBytes));
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    @Benchmark
    @OperationsPerInvocation(BLOCKS)
    public void loadBaselineChannel(Load s, Traffic traffic) throws IOException {
        int c = s.nextChain();
        for (int i = 0; i < BLOCKS; i++) {
            ByteBuffer b = s.dst[i].duplicate();
            long p = s.layout.payloadOffset((long) c * BLOCKS + i);
            while (b.hasRemaining()) {
                int n = s.channel.read(b, p);
                if (n < 0) {
                    throw new IllegalStateException("end of file at " + p);
                }
                p += n;
            }
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2)
    @Measurement(iterations = 5)
    public long restart(Restart s) {
        s.cache = s.open();
        return s.cache.stats().recoveredBlocks(Tier.SSD);
    }

    /** Bytes of a mapped SSD file with at least {@code slots} slots of {@code blockBytes}, in whole pages. */
    static long deviceBytes(int slots, int blockBytes) {
        long bytes = DeviceLayout.METADATA_BYTES + (long) slots * (SlotHeader.BYTES + blockBytes);
        return (bytes + 4095) & -4096L;
    }

    private static long page(int blockBytes) {
        return (blockBytes + 63) & -64L;
    }

    private static BlockKey[] chain(int c, int length) {
        long[] hashes = new long[length];
        for (int i = 0; i < length; i++) {
            hashes[i] = ((long) c << 32) | i;
        }
        return NAMESPACE.keysFromHashes(hashes);
    }

    private static Path tempDir() throws IOException {
        String base = System.getProperty("kvtier.bench.dir");
        if (base == null) {
            return Files.createTempDirectory("kvtier-ssd-bench");
        }
        Files.createDirectories(Path.of(base));
        return Files.createTempDirectory(Path.of(base), "kvtier-ssd-bench");
    }

    private static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
