package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time of one {@link KvTierCache#match(BlockKey[], PrefixMatch)}, the metadata-only lookup a
 * server makes per request, reusing one {@link PrefixMatch} so that matching allocates nothing.
 * Blocks are 64 bytes: only the index is exercised, and thousands of blocks fit. Score: ns per
 * match call (run with {@code DramBenchmark}'s command, naming this class).
 *
 * <ul>
 *   <li>{@code prefix1000}: a prompt of {@value #PREFIX_BLOCKS} blocks (16,000 tokens at B = 16),
 *       all resident, so every call hits every block: {@value #PREFIX_BLOCKS} index lookups
 *       and LRU touches under the lock. Divide by {@value #PREFIX_BLOCKS} for ns per block.
 *   <li>{@code zipf}: requests drawn from a skewed population of prompts sharing prefixes, in
 *       the manner of Caffeine's Zipf-distributed benchmarks. {@value #SYSTEM_PROMPTS} system
 *       prompts of {@value #SYSTEM_BLOCKS} blocks each start {@value #PROMPTS} prompts, each
 *       with a suffix of its own of 1 to {@value #MAX_SUFFIX_BLOCKS} blocks; prompt popularity
 *       follows Zipf with exponent {@value #ZIPF_EXPONENT} (ranks shuffled over the prompts).
 *       The cache, a quarter the size of all distinct blocks, is warmed by replaying
 *       {@value #WARM_REQUESTS} requests as a server would (match, then store the whole
 *       prompt), so popular prefixes are resident and rare suffixes partly evicted; then a
 *       pre-drawn trace of {@value #TRACE} requests is matched in turn. Matching changes only
 *       the LRU order, never what is resident, so the cache stays as warmed.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MatchBenchmark {
    static final int PREFIX_BLOCKS = 1000;
    static final int SYSTEM_PROMPTS = 32;
    static final int SYSTEM_BLOCKS = 32;
    static final int PROMPTS = 8192;
    static final int MAX_SUFFIX_BLOCKS = 64;
    static final double ZIPF_EXPONENT = 0.99;
    static final int WARM_REQUESTS = 100_000;
    static final int TRACE = 1 << 16;
    private static final int BLOCK_TOKENS = 16;
    private static final int BLOCK_BYTES = 64;
    private static final int VOCABULARY = 128_256;
    private static final Namespace NAMESPACE =
            Namespace.builder("bench-model").blockTokens(BLOCK_TOKENS).build();

    /** One fully resident prompt of {@value #PREFIX_BLOCKS} blocks. */
    @State(Scope.Thread)
    public static class Resident {
        KvTierCache cache;
        BlockKey[] keys;
        PrefixMatch into;

        @Setup
        public void setUp() {
            cache = newCache(PREFIX_BLOCKS);
            keys = NAMESPACE.blockKeys(tokens(new SplittableRandom(1), PREFIX_BLOCKS));
            cache.store(keys, sources(PREFIX_BLOCKS));
            into = cache.match(keys, new PrefixMatch());
            if (into.hitBlocks() != PREFIX_BLOCKS) {
                throw new IllegalStateException("prefix not resident: " + into);
            }
        }

        @TearDown
        public void tearDown() {
            cache.close();
        }
    }

    /** A cache warmed by a Zipf-distributed request stream, and a trace of further requests. */
    @State(Scope.Thread)
    public static class ZipfRequests {
        KvTierCache cache;
        BlockKey[][] trace;
        PrefixMatch into;
        int next;

        @Setup
        public void setUp() {
            SplittableRandom random = new SplittableRandom(2);
            BlockKey[][] systemPrompts = new BlockKey[SYSTEM_PROMPTS][];
            for (int s = 0; s < SYSTEM_PROMPTS; s++) {
                systemPrompts[s] = NAMESPACE.blockKeys(tokens(random, SYSTEM_BLOCKS));
            }
            BlockKey[][] prompts = new BlockKey[PROMPTS][];
            long distinctBlocks = (long) SYSTEM_PROMPTS * SYSTEM_BLOCKS;
            for (int p = 0; p < PROMPTS; p++) {
                BlockKey[] system = systemPrompts[random.nextInt(SYSTEM_PROMPTS)];
                int suffixBlocks = 1 + random.nextInt(MAX_SUFFIX_BLOCKS);
                int[] suffix = tokens(random, suffixBlocks);
                BlockKey[] own = NAMESPACE.blockKeys(system[SYSTEM_BLOCKS - 1], suffix, 0, suffix.length);
                prompts[p] = Arrays.copyOf(system, SYSTEM_BLOCKS + suffixBlocks);
                System.arraycopy(own, 0, prompts[p], SYSTEM_BLOCKS, suffixBlocks);
                distinctBlocks += suffixBlocks;
            }

            Zipf zipf = new Zipf(PROMPTS, ZIPF_EXPONENT, random);
            cache = newCache((int) (distinctBlocks / 4));
            ByteBuffer[] src = sources(SYSTEM_BLOCKS + MAX_SUFFIX_BLOCKS);
            into = new PrefixMatch();
            for (int r = 0; r < WARM_REQUESTS; r++) {
                BlockKey[] keys = prompts[zipf.next()];
                if (cache.match(keys, into).hitBlocks() < keys.length) {
                    cache.store(keys, src);
                }
            }
            trace = new BlockKey[TRACE][];
            for (int r = 0; r < TRACE; r++) {
                trace[r] = prompts[zipf.next()];
            }
        }

        @TearDown
        public void tearDown() {
            cache.close();
        }
    }

    @Benchmark
    public int prefix1000(Resident s) {
        return s.cache.match(s.keys, s.into).hitBlocks();
    }

    @Benchmark
    public int zipf(ZipfRequests s) {
        BlockKey[] keys = s.trace[s.next];
        s.next = (s.next + 1) & (TRACE - 1);
        return s.cache.match(keys, s.into).hitBlocks();
    }

    private static KvTierCache newCache(int blocks) {
        return KvTierCache.builder()
                .blockTokens(BLOCK_TOKENS)
                .blockBytes(BLOCK_BYTES)
                .dramCapacityBytes((long) blocks * BLOCK_BYTES)
                .build();
    }

    private static int[] tokens(SplittableRandom random, int blocks) {
        return random.ints(blocks * BLOCK_TOKENS, 0, VOCABULARY).toArray();
    }

    /** {@code n} sources for a store: one block-sized buffer, repeated (its content is not read back). */
    private static ByteBuffer[] sources(int n) {
        ByteBuffer[] src = new ByteBuffer[n];
        Arrays.fill(src, ByteBuffer.allocateDirect(BLOCK_BYTES));
        return src;
    }

    /**
     * Draws items 0 to n-1, rank r (from 0) with probability proportional to 1/(r+1)^exponent,
     * by inverting the cumulative distribution; ranks are assigned to items in a random order.
     */
    private static final class Zipf {
        private final double[] cumulative;
        private final int[] itemOfRank;
        private final SplittableRandom random;

        Zipf(int n, double exponent, SplittableRandom random) {
            this.random = random;
            cumulative = new double[n];
            double sum = 0;
            for (int r = 0; r < n; r++) {
                sum += 1 / Math.pow(r + 1, exponent);
                cumulative[r] = sum;
            }
            for (int r = 0; r < n; r++) {
                cumulative[r] /= sum;
            }
            itemOfRank = new int[n];
            for (int i = 0; i < n; i++) {
                int j = random.nextInt(i + 1);
                itemOfRank[i] = itemOfRank[j];
                itemOfRank[j] = i;
            }
        }

        int next() {
            int r = Arrays.binarySearch(cumulative, random.nextDouble());
            return itemOfRank[Math.min(r < 0 ? -r - 1 : r, cumulative.length - 1)];
        }
    }
}
