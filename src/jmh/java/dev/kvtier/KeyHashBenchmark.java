package dev.kvtier;

import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of hashing a prompt into its chained block keys with {@link Namespace#blockKeys(int[])}:
 * one SHA-256 step per block of 16 tokens plus one {@link BlockKey} each. Each invocation keys
 * a prompt of {@value #TOKENS} random token ids ({@value #TOKENS} / 16 = 256 keys); with
 * {@code @OperationsPerInvocation} the score is ns per token (x 16 for ns per block, x
 * {@value #TOKENS} for the whole prompt). Run with {@code DramBenchmark}'s command, naming
 * this class.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(KeyHashBenchmark.TOKENS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class KeyHashBenchmark {
    static final int TOKENS = 4096;
    private static final int VOCABULARY = 128_256;

    private Namespace namespace;
    private int[] tokens;

    @Setup
    public void setUp() {
        namespace = Namespace.builder("bench-model").blockTokens(16).build();
        tokens = new SplittableRandom(1).ints(TOKENS, 0, VOCABULARY).toArray();
    }

    @Benchmark
    public BlockKey[] blockKeys() {
        return namespace.blockKeys(tokens);
    }
}
