/*
 * Run (needs nbdkit on the PATH; see DramBenchmark for how the jmh profile passes the JVM flags):
 *
 *   ./mvnw -Pjmh test-compile exec:exec -Djmh.args="RemoteBenchmark -f 1 -wi 2 -i 3"
 */
package dev.kvtier;

import dev.kvtier.device.NbdDevice;
import dev.kvtier.io.IoEngine;
import dev.kvtier.key.BlockKey;
import dev.kvtier.key.Namespace;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The remote tier through the public API against nbdkit's memory plugin on loopback (started
 * per trial on a free port, killed at tear-down), for {@code blockBytes} blocks (default 2 MiB)
 * at {@code queueDepth} 1 and 8. The score is invocations per second; the {@code :bytes} line
 * counts bytes per second (GiB/s = bytes/s / 2^30).
 *
 * <ul>
 *   <li>{@code load}: match and load a chain of {@code queueDepth} blocks the cache knows on the
 *       remote tier only (its DRAM holds one block), so {@code queueDepth} reads are in flight;
 *       chains in turn, each checked for a full load.
 *   <li>{@code loadBaselineRaw}: the same number of reads of {@code blockBytes} from the same
 *       export through the same NBD client and I/O engine, without slot headers, checksums or
 *       the index: what the transport alone gives.
 *   <li>{@code demote}: store a chain of {@code queueDepth} new keys into a cache whose DRAM
 *       holds exactly one chain, with {@code demoteAhead(1.0)}, then {@code awaitIdle()}: the
 *       DRAM copy plus the remote writes (up to 4 in flight); once the remote tier is full,
 *       each write replaces the oldest block of its set.
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class RemoteBenchmark {
    private static final int CHAINS = 16;
    private static final long REMOTE_BYTES = 1L << 30;

    @Param({"1", "8"})
    int queueDepth;

    @Param("2097152")
    int blockBytes;

    private Process server;
    private KvTierCache reader;
    private KvTierCache writer;
    private NbdDevice raw;
    private IoEngine rawIo;
    private BlockKey[][] stored;
    private final Namespace ns = Namespace.builder("jmh/remote").blockTokens(16).build();
    private ByteBuffer[] src;
    private ByteBuffer[] dst;
    private final PrefixMatch match = new PrefixMatch();
    private final CompletableFuture<?>[] reads = new CompletableFuture<?>[64];
    private int next;
    private long written;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        URI uri = startServer();
        src = BenchBlocks.blocks(queueDepth, blockBytes, new SplittableRandom(11));
        dst = BenchBlocks.blocks(queueDepth, blockBytes, null);
        stored = chains(ns, 0);
        writer = builder(uri, queueDepth).build();
        for (BlockKey[] chain : stored) {
            writer.store(chain, src);
            writer.awaitIdle();
        }
        reader = builder(uri, 1).build();
        for (BlockKey[] chain : stored) {
            reader.match(chain, match);
        }
        raw = NbdDevice.open(uri, REMOTE_BYTES, 4, 10_000);
        rawIo = new IoEngine(raw, 16, 4096, 4096, 10_000);
    }

    private KvTierCacheBuilder builder(URI uri, int dramBlocks) {
        return KvTierCache.builder().blockTokens(16).blockBytes(blockBytes)
                .dramCapacityBytes((long) dramBlocks * ((blockBytes + 63) & -64)).demoteAhead(1.0)
                .remote(RemoteTier.builder(uri, REMOTE_BYTES).build()).reinitializeIncompatibleDevices(true);
    }

    private BlockKey[][] chains(Namespace ns, long kind) {
        BlockKey[][] c = new BlockKey[CHAINS][];
        for (int i = 0; i < CHAINS; i++) {
            long[] hashes = new long[queueDepth];
            for (int b = 0; b < queueDepth; b++) {
                hashes[b] = kind << 48 | (long) i << 16 | b;
            }
            c[i] = ns.keysFromHashes(hashes);
        }
        return c;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        rawIo.close();
        raw.close();
        reader.close();
        writer.close();
        server.destroyForcibly();
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
    public int load(Traffic traffic) {
        BlockKey[] chain = stored[next++ % CHAINS];
        reader.match(chain, match);
        int n = reader.load(match, dst).join();
        if (n != queueDepth) {
            throw new IllegalStateException("loaded " + n + " of " + queueDepth + ": " + reader.stats());
        }
        traffic.bytes += (long) n * blockBytes;
        return n;
    }

    @Benchmark
    public void loadBaselineRaw(Traffic traffic) {
        long base = (long) (next++ % CHAINS) * queueDepth * blockBytes;
        for (int i = 0; i < queueDepth; i++) {
            reads[i] = rawIo.read(base + (long) i * blockBytes, dst[i]);
        }
        for (int i = 0; i < queueDepth; i++) {
            reads[i].join();
        }
        traffic.bytes += (long) queueDepth * blockBytes;
    }

    @Benchmark
    public void demote(Traffic traffic) {
        long[] hashes = new long[queueDepth];
        long id = written++;
        for (int b = 0; b < queueDepth; b++) {
            hashes[b] = 2L << 48 | id << 16 | b;
        }
        writer.store(ns.keysFromHashes(hashes), src);
        writer.awaitIdle();
        traffic.bytes += (long) queueDepth * blockBytes;
    }

    /** Starts {@code nbdkit memory} on a free loopback port and waits until it accepts. */
    private URI startServer() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        server = new ProcessBuilder("nbdkit", "--exit-with-parent", "-f", "-i", "127.0.0.1", "-p",
                Integer.toString(port), "memory", "4G").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        for (int i = 0; i < 100; i++) {
            try (Socket probe = new Socket("127.0.0.1", port)) {
                return URI.create("nbd://127.0.0.1:" + port + "/");
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new IllegalStateException("nbdkit did not start (apt-get install nbdkit)");
    }
}
