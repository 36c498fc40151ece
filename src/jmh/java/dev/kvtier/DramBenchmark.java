/*
 * Run (mvnw and mvn alike; the jmh profile starts JMH with the Chronicle flags of the JDK that
 * runs Maven, and the benchmark forks inherit them):
 *
 *   ./mvnw -Pjmh test-compile exec:exec -Djmh.args="DramBenchmark -f 1 -wi 2 -i 3"
 *
 * Other benchmarks the same way (MatchBenchmark, KeyHashBenchmark); an empty jmh.args runs all,
 * "-h" lists JMH's options, and "-p blockBytes=65536" changes the block size here.
 */
package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
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
 * Copy throughput of the DRAM tier through the public API, beside the plain off-heap memcpy it
 * is built on, for blocks of {@code blockBytes} (default 2 MiB: Llama-3-8B bf16 KV at B = 16).
 *
 * <p><b>Units.</b> Every invocation copies {@value #BLOCKS} blocks. The score is blocks per
 * second ({@code @OperationsPerInvocation}); the {@code :bytes} line beside it counts bytes, so
 * its "ops/s" are bytes/s. GiB/s = bytes/s / 2^30 (= blocks/s / 512 for 2 MiB blocks).
 *
 * <p><b>Working set.</b> Each cache holds {@value #RING_BLOCKS} blocks (128 MiB at 2 MiB), more
 * than a last-level cache, and the invocations walk through all of them, so the cache side of
 * every copy comes from or goes to DRAM as in a server; the caller's side is the same
 * {@value #BLOCKS} direct buffers every time (a server's staging buffers). All buffers are
 * plain {@code ByteBuffer.allocateDirect} ones.
 *
 * <ul>
 *   <li>{@code load}: {@link KvTierCache#load(PrefixMatch, ByteBuffer[])} of one fully resident
 *       chain of {@value #BLOCKS} blocks into direct buffers. The cache is filled with such
 *       chains and each is matched once in setup; invocations take the chains in turn.
 *   <li>{@code store}: {@link KvTierCache#store(BlockKey[], ByteBuffer[])} of a chain of
 *       {@value #BLOCKS} blocks from direct buffers into a full cache. The chains rotate over
 *       twice as many blocks as the cache holds, so LRU has always evicted a chain before it
 *       comes round again: every store really copies all its blocks (it fails otherwise) and
 *       first evicts as many, the steady state of a full cache. There is deliberately no
 *       {@code @Setup(Level.Invocation)} {@code invalidate}: it would add JMH's per-call
 *       timestamping and measure stores into an empty cache instead of a full one.
 *   <li>{@code loadBaseline}, {@code storeBaseline}: the same bytes copied with
 *       {@code UnsafeMemory.copyMemory(long, long, int)}, the method the DRAM tier's copies
 *       resolve to, between plain direct buffers of the same shapes: from a ring of
 *       {@value #RING_BLOCKS} blocks into {@value #BLOCKS} fixed ones, and back. The gap to
 *       {@code load}/{@code store} is the cache's own cost: argument checks, lock, index
 *       lookups, pins, LRU, eviction, metrics.
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(DramBenchmark.BLOCKS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DramBenchmark {
    static final int BLOCKS = 8;
    static final int RING_BLOCKS = 64;
    private static final Namespace NAMESPACE = Namespace.builder("bench-model").blockTokens(16).build();

    /** A cache full of resident chains, each matched once. */
    @State(Scope.Thread)
    public static class Load {
        @Param("2097152")
        public int blockBytes;

        KvTierCache cache;
        PrefixMatch[] matches;
        ByteBuffer[] dst;
        int next;

        @Setup
        public void setUp() {
            cache = newCache(blockBytes);
            ByteBuffer[] src = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(1));
            matches = new PrefixMatch[capacityBlocks(cache) / BLOCKS];
            for (int c = 0; c < matches.length; c++) {
                cache.store(chain(c), src);
            }
            for (int c = 0; c < matches.length; c++) {
                matches[c] = cache.match(chain(c));
                if (matches[c].hitBlocks() != BLOCKS) {
                    throw new IllegalStateException("chain " + c + " not resident: " + matches[c]);
                }
            }
            dst = BenchBlocks.blocks(BLOCKS, blockBytes, null);
        }

        @TearDown
        public void tearDown() {
            cache.close();
        }
    }

    /** A full cache and more chains than it holds. */
    @State(Scope.Thread)
    public static class Store {
        @Param("2097152")
        public int blockBytes;

        KvTierCache cache;
        BlockKey[][] chains;
        ByteBuffer[] src;
        int next;

        @Setup
        public void setUp() {
            cache = newCache(blockBytes);
            chains = new BlockKey[2 * ((capacityBlocks(cache) + BLOCKS - 1) / BLOCKS)][];
            for (int c = 0; c < chains.length; c++) {
                chains[c] = chain(c);
            }
            src = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(2));
        }

        @TearDown
        public void tearDown() {
            cache.close();
        }
    }

    /** Plain direct buffers: a ring of {@value #RING_BLOCKS} blocks and {@value #BLOCKS} fixed ones. */
    @State(Scope.Thread)
    public static class Memcpy {
        @Param("2097152")
        public int blockBytes;

        ByteBuffer[] ring;
        ByteBuffer[] fixed;
        long[] ringAddress;
        long[] fixedAddress;
        int nextGroup;

        @Setup
        public void setUp() {
            ring = BenchBlocks.blocks(RING_BLOCKS, blockBytes, new SplittableRandom(3));
            fixed = BenchBlocks.blocks(BLOCKS, blockBytes, new SplittableRandom(4));
            ringAddress = addresses(ring);
            fixedAddress = addresses(fixed);
        }

        int nextRingOffset() {
            int offset = nextGroup * BLOCKS;
            nextGroup = (nextGroup + 1) % (RING_BLOCKS / BLOCKS);
            return offset;
        }
    }

    /** Bytes copied; reported per second next to the score. */
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
    public int load(Load s, Traffic traffic) {
        PrefixMatch match = s.matches[s.next];
        s.next = (s.next + 1) % s.matches.length;
        int n = s.cache.load(match, s.dst).join();
        if (n != BLOCKS) {
            throw new IllegalStateException("loaded " + n + " of " + BLOCKS + " blocks");
        }
        traffic.bytes += (long) n * s.blockBytes;
        return n;
    }

    @Benchmark
    public int store(Store s, Traffic traffic) {
        BlockKey[] keys = s.chains[s.next];
        s.next = (s.next + 1) % s.chains.length;
        int n = s.cache.store(keys, s.src);
        if (n != BLOCKS) {
            throw new IllegalStateException("stored " + n + " of " + BLOCKS + " blocks");
        }
        traffic.bytes += (long) n * s.blockBytes;
        return n;
    }

    @Benchmark
    public void loadBaseline(Memcpy s, Traffic traffic) {
        int offset = s.nextRingOffset();
        for (int i = 0; i < BLOCKS; i++) {
            UnsafeMemory.copyMemory(s.ringAddress[offset + i], s.fixedAddress[i], s.blockBytes);
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    @Benchmark
    public void storeBaseline(Memcpy s, Traffic traffic) {
        int offset = s.nextRingOffset();
        for (int i = 0; i < BLOCKS; i++) {
            UnsafeMemory.copyMemory(s.fixedAddress[i], s.ringAddress[offset + i], s.blockBytes);
        }
        traffic.bytes += (long) BLOCKS * s.blockBytes;
    }

    private static KvTierCache newCache(int blockBytes) {
        return KvTierCache.builder()
                .blockTokens(16)
                .blockBytes(blockBytes)
                .dramCapacityBytes((long) RING_BLOCKS * blockBytes)
                .build();
    }

    /** Blocks the cache holds: {@value #RING_BLOCKS}, or fewer when pages are padded to 64 bytes. */
    private static int capacityBlocks(KvTierCache cache) {
        return (int) cache.stats().capacityBlocks(Tier.DRAM);
    }

    /** Chain {@code c}: {@value #BLOCKS} keys, distinct from every other chain's from the first. */
    private static BlockKey[] chain(int c) {
        long[] hashes = new long[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            hashes[i] = (long) c * BLOCKS + i;
        }
        return NAMESPACE.keysFromHashes(hashes);
    }

    private static long[] addresses(ByteBuffer[] buffers) {
        long[] addresses = new long[buffers.length];
        for (int i = 0; i < buffers.length; i++) {
            addresses[i] = Jvm.address(buffers[i]);
        }
        return addresses;
    }
}
