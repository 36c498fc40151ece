package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdBytes.assertAll;
import static dev.kvtier.nbd.NbdBytes.assertPattern;
import static dev.kvtier.nbd.NbdBytes.await;
import static dev.kvtier.nbd.NbdBytes.awaitFailure;
import static dev.kvtier.nbd.NbdBytes.filled;
import static dev.kvtier.nbd.NbdBytes.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link NbdConnection} against a real nbdkit (memory plugin, 64 MiB, one server for the class;
 * every test uses its own region of the export, listed below).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NbdConnectionTest {
    private static final long MiB = 1 << 20;
    private static final long SIZE = 64 * MiB;
    private static final long TIMEOUT_MS = 10_000;

    // Regions of the shared export.
    private static final long ROUND_TRIP = 0; // up to 24 MiB
    private static final long PIPELINE = 24 * MiB; // 4 x 4 MiB
    private static final long HOLES = 40 * MiB; // 4 MiB, never written except where the test says
    private static final long FLUSH_TRIM_ZERO = 44 * MiB; // 2 MiB
    private static final long MULTI_CONN = 48 * MiB; // 1 MiB
    private static final long CLOSE = 50 * MiB; // 1 MiB
    private static final long SCATTER = 51 * MiB; // 1 MiB, written with a pattern

    private static NbdServer server;

    @BeforeAll
    static void startServer() throws IOException {
        server = NbdServer.nbdkit("memory", "64M");
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void handshakeReportsSizeAndFlags() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            NbdExport e = c.export();
            assertEquals(SIZE, e.size());
            assertFalse(e.readOnly());
            assertTrue(e.canFlush(), "flush");
            assertTrue(e.canFua(), "fua");
            assertTrue(e.canTrim(), "trim");
            assertTrue(e.canWriteZeroes(), "write zeroes");
            assertTrue(e.canMultiConn(), "multi-conn (memory plugin)");
            assertTrue(e.structuredReplies(), "structured replies (nbdkit offers them)");
            assertTrue(e.minBlock() >= 1 && e.minBlock() <= 512, "min block " + e.minBlock());
            assertTrue(e.maxPayload() >= 8 * MiB, "max payload " + e.maxPayload());
            assertTrue(e.describe().contains(":" + server.port()), e.describe());
            assertTrue(c.isOpen());
        }
    }

    /**
     * A scattering read ({@link NbdConnection#queueRead(long, ByteBuffer, ByteBuffer, long)}, sent
     * by {@link NbdConnection#sendQueued}): one request whose first bytes land in one buffer and
     * the rest in another, each a window of a larger buffer whose other bytes stay untouched;
     * heads of 1 byte to the whole range, several in flight at once, from odd offsets.
     */
    @Test
    void aScatteringReadSplitsOneRangeOverTwoBuffers() throws IOException {
        long seed = 23;
        int length = 70_000;
        int[] heads = {1, 128, 4096, 65_536, length - 8};
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            await(c.write(SCATTER, pattern(seed, SCATTER, length), false), "write the pattern");
            CompletableFuture<?>[] reads = new CompletableFuture<?>[heads.length];
            ByteBuffer[] headBufs = new ByteBuffer[heads.length];
            ByteBuffer[] tailBufs = new ByteBuffer[heads.length];
            for (int i = 0; i < heads.length; i++) {
                int from = 3 + i;
                headBufs[i] = filled(heads[i] + 10, (byte) 0x77).position(5).limit(5 + heads[i]);
                tailBufs[i] = filled(length - from - heads[i] + 10, (byte) 0x77).position(5)
                        .limit(5 + length - from - heads[i]);
                reads[i] = c.queueRead(SCATTER + from, headBufs[i], tailBufs[i], Long.MAX_VALUE);
            }
            c.sendQueued();
            for (int i = 0; i < heads.length; i++) {
                int from = 3 + i;
                await(reads[i], "scattering read with a head of " + heads[i] + " bytes");
                assertPattern(seed, SCATTER + from, headBufs[i], "head of " + heads[i]);
                assertPattern(seed, SCATTER + from + heads[i], tailBufs[i], "tail after " + heads[i]);
                assertAll(headBufs[i].duplicate().clear().limit(5), (byte) 0x77, "before the head");
                assertAll(headBufs[i].duplicate().clear().position(5 + heads[i]), (byte) 0x77, "after the head");
                assertAll(tailBufs[i].duplicate().clear().limit(5), (byte) 0x77, "before the tail");
                assertAll(tailBufs[i].duplicate().clear().position(tailBufs[i].limit()), (byte) 0x77, "after the tail");
            }
        }
    }

    /**
     * Writes and reads ranges from 1 byte to 8 MiB + 5 at odd offsets, from buffers whose
     * position is not 0 and into windows of larger buffers whose bytes outside the window must
     * stay untouched; then reads the whole area back in 4 MiB pieces, so a byte written outside
     * its range would show in the (zero) gaps between ranges.
     */
    @Test
    void roundTripsAtUnalignedOffsetsAndLengths() throws IOException {
        int[] lengths = {1, 2, 3, 7, 511, 512, 513, 4095, 4096, 4097, 65535, 65536, 65537, (1 << 20) + 7,
                (2 << 20) + 1, 8 << 20, (8 << 20) + 5};
        long seed = 11;
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            long[] offsets = new long[lengths.length];
            long at = ROUND_TRIP + 1;
            for (int i = 0; i < lengths.length; i++) {
                offsets[i] = at;
                at += lengths[i] + 3 + i;
            }
            long end = at;
            assertTrue(end < ROUND_TRIP + 24 * MiB);
            for (int i = 0; i < lengths.length; i++) {
                ByteBuffer src = ByteBuffer.allocateDirect(lengths[i] + 13);
                src.position(9).limit(9 + lengths[i]);
                src.put(pattern(seed, offsets[i], lengths[i])).position(9);
                await(c.write(offsets[i], src, false), "write " + lengths[i] + " bytes at " + offsets[i]);
            }
            for (int i = 0; i < lengths.length; i++) {
                boolean heap = i % 2 == 0;
                int n = lengths[i];
                ByteBuffer whole = heap ? ByteBuffer.allocate(n + 6) : ByteBuffer.allocateDirect(n + 6);
                for (int j = 0; j < n + 6; j++) {
                    whole.put(j, (byte) 0x5A);
                }
                ByteBuffer dst = whole.duplicate().position(3).limit(3 + n);
                await(c.read(offsets[i], dst), "read " + n + " bytes at " + offsets[i]);
                assertEquals(3, dst.position(), "read must not move the buffer's position");
                assertPattern(seed, offsets[i], dst, (heap ? "heap" : "direct") + " read of " + n + " bytes at "
                        + offsets[i]);
                for (int j : new int[] {0, 1, 2, n + 3, n + 4, n + 5}) {
                    assertEquals((byte) 0x5A, whole.get(j), "byte " + j + " outside the window of read " + i);
                }
            }
            int piece = 4 << 20;
            for (long p = ROUND_TRIP; p < end; p += piece) {
                int n = (int) Math.min(piece, end - p);
                ByteBuffer dst = filled(n, (byte) 0x77);
                await(c.read(p, dst), "read back " + n + " at " + p);
                for (int j = 0; j < n; j++) {
                    long o = p + j;
                    byte want = 0;
                    for (int i = 0; i < lengths.length; i++) {
                        if (o >= offsets[i] && o < offsets[i] + lengths[i]) {
                            want = NbdBytes.at(seed, o);
                            break;
                        }
                    }
                    if (dst.get(j) != want) {
                        throw new AssertionError("device offset " + o + " is " + dst.get(j) + ", expected " + want);
                    }
                }
            }
        }
    }

    /**
     * 4 threads, each with its own 4 MiB region split into 200 slots: 200 writes of random
     * length at random offsets in their slots all in flight at once, then 200 reads in flight,
     * every byte checked; the threads share one connection.
     */
    @Test
    void manyRequestsInFlightFromSeveralThreads() throws Exception {
        int threads = 4;
        int requests = 200;
        long region = 4 * MiB;
        int slot = (int) (region / requests);
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    long base = PIPELINE + t * region;
                    long seed = 100 + t;
                    results.add(pool.submit(() -> {
                        SplittableRandom rnd = new SplittableRandom(seed);
                        long[] off = new long[requests];
                        int[] len = new int[requests];
                        List<CompletableFuture<Void>> writes = new ArrayList<>();
                        for (int i = 0; i < requests; i++) {
                            len[i] = 1 + rnd.nextInt(slot - 1);
                            off[i] = base + (long) i * slot + rnd.nextInt(slot - len[i] + 1);
                            writes.add(c.write(off[i], pattern(seed, off[i], len[i]), false));
                        }
                        for (int i = 0; i < requests; i++) {
                            await(writes.get(i), "write " + i + " of thread seed " + seed);
                        }
                        List<CompletableFuture<Void>> reads = new ArrayList<>();
                        ByteBuffer[] dst = new ByteBuffer[requests];
                        for (int i = 0; i < requests; i++) {
                            dst[i] = filled(len[i], (byte) 0x5A);
                            reads.add(c.read(off[i], dst[i]));
                        }
                        for (int i = 0; i < requests; i++) {
                            await(reads.get(i), "read " + i + " of thread seed " + seed);
                            assertPattern(seed, off[i], dst[i], "read " + i + " of thread seed " + seed);
                        }
                        return requests;
                    }));
                }
                int done = 0;
                for (Future<Integer> f : results) {
                    done += f.get(30, TimeUnit.SECONDS);
                }
                assertEquals(threads * requests, done);
                assertTrue(c.isOpen());
                assertEquals(0, c.outstanding(), "nothing counted in flight once every reply is in");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** A range never written reads as zeros (whatever the buffer held), around written bytes too. */
    @Test
    void neverWrittenRegionReadsAsZeros() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            ByteBuffer dst = filled(1 << 20, (byte) 0x5A);
            await(c.read(HOLES + 2 * MiB, dst), "read of a hole");
            assertAll(dst, (byte) 0, "never written MiB");

            long at = HOLES + 100_003;
            await(c.write(at, pattern(5, at, 100), false), "write");
            ByteBuffer around = filled(256 << 10, (byte) 0x5A);
            long from = HOLES;
            await(c.read(from, around), "read around the written bytes");
            int rel = (int) (at - from);
            assertAll(around.duplicate().limit(rel), (byte) 0, "zeros before");
            assertPattern(5, at, around.duplicate().position(rel).limit(rel + 100), "written bytes");
            assertAll(around.duplicate().position(rel + 100), (byte) 0, "zeros after");
        }
    }

    /** A read past the end fails that request alone, naming the server's error; the connection goes on. */
    @Test
    void readBeyondTheEndFailsThatRequestOnly() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            long last = SIZE - 10;
            await(c.write(last, pattern(3, last, 10), false), "write the last 10 bytes");

            Throwable across = awaitFailure(c.read(last, ByteBuffer.allocateDirect(20)), 5_000, "read across the end");
            assertInstanceOf(NbdException.class, across);
            assertTrue(across.getMessage().contains("EINVAL"), across.getMessage());
            Throwable past = awaitFailure(c.read(SIZE, ByteBuffer.allocateDirect(1)), 5_000, "read past the end");
            assertInstanceOf(NbdException.class, past);
            Throwable write = awaitFailure(c.write(SIZE - 1, pattern(3, SIZE - 1, 2), false), 5_000,
                    "write across the end");
            assertInstanceOf(NbdException.class, write);
            assertTrue(write.getMessage().contains("ENOSPC") || write.getMessage().contains("EINVAL"),
                    write.getMessage());

            assertTrue(c.isOpen(), "a failed request must not fail the connection");
            ByteBuffer dst = ByteBuffer.allocateDirect(10);
            await(c.read(last, dst), "read of the last 10 bytes after the failures");
            assertPattern(3, last, dst, "the last 10 bytes");
            assertEquals(0, c.outstanding(), "failed requests are no longer counted in flight");
        }
    }

    @Test
    void flushTrimAndWriteZeroes() throws IOException {
        int n = 1 << 20;
        long base = FLUSH_TRIM_ZERO;
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            await(c.write(base, pattern(21, base, n), false), "write");
            await(c.write(base + n, pattern(21, base + n, 4096), true), "write with FUA");
            await(c.flush(), "flush");

            long trimAt = base + 64 * 1024;
            int trimLength = 128 * 1024;
            await(c.trim(trimAt, trimLength), "trim");
            long zeroAt = base + 500_001;
            int zeroLength = 70_001;
            await(c.writeZeroes(zeroAt, zeroLength), "write zeroes");
            await(c.flush(), "flush");

            ByteBuffer dst = filled(n + 4096, (byte) 0x5A);
            await(c.read(base, dst), "read back");
            int t = (int) (trimAt - base);
            int z = (int) (zeroAt - base);
            assertPattern(21, base, dst.duplicate().limit(t), "before the trimmed range");
            assertAll(dst.duplicate().position(t).limit(t + trimLength), (byte) 0, "trimmed range (memory plugin)");
            assertPattern(21, base + t + trimLength, dst.duplicate().position(t + trimLength).limit(z),
                    "between trim and zeroes");
            assertAll(dst.duplicate().position(z).limit(z + zeroLength), (byte) 0, "zeroed range");
            assertPattern(21, base + z + zeroLength, dst.duplicate().position(z + zeroLength), "after the zeroes");
        }
    }

    /** Multi-conn: a write flushed on one connection is seen by a read on another. */
    @Test
    void twoConnectionsSeeEachOthersFlushedWrites() throws IOException {
        try (NbdConnection a = server.connect(TIMEOUT_MS); NbdConnection b = server.connect(TIMEOUT_MS)) {
            assertTrue(a.export().canMultiConn());
            await(a.write(MULTI_CONN + 7, pattern(31, MULTI_CONN + 7, 300_000), false), "write on a");
            await(a.flush(), "flush on a");
            ByteBuffer dst = ByteBuffer.allocateDirect(300_000);
            await(b.read(MULTI_CONN + 7, dst), "read on b");
            assertPattern(31, MULTI_CONN + 7, dst, "b sees a's write");
        }
    }

    /** After close, the connection says so and every new request fails at once. */
    @Test
    void requestsAfterCloseFailAtOnce() throws IOException {
        NbdConnection c = server.connect(TIMEOUT_MS);
        await(c.write(CLOSE, pattern(41, CLOSE, 1000), false), "write");
        c.close();
        assertFalse(c.isOpen());
        CompletableFuture<Void> read = c.read(CLOSE, ByteBuffer.allocateDirect(1000));
        assertTrue(read.isCompletedExceptionally(), "a read after close must fail at once");
        assertTrue(c.write(CLOSE, pattern(41, CLOSE, 10), false).isCompletedExceptionally());
        assertTrue(c.flush().isCompletedExceptionally());
        c.close(); // twice is fine
    }

    @Test
    void unknownExportNameIsRefused() throws IOException {
        try (NbdServer strict = NbdServer.nbdkit("--filter=exportname", "memory", "1M", "exportname=kv",
                "exportname-strict=true")) {
            try (NbdConnection c = strict.connect("kv", TIMEOUT_MS)) {
                assertEquals(1 << 20, c.export().size());
            }
            NbdException e = assertThrows(NbdException.class, () -> strict.connect("nope", TIMEOUT_MS).close());
            assertTrue(e.getMessage().contains("nope"), e.getMessage());
        }
    }

    @Test
    void closedPortFailsQuicklyWithIOException() throws IOException {
        int port = NbdServer.freePort();
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> NbdConnection.open("127.0.0.1", port, "", 5_000)
                .close());
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis < 2_000, "refused connection took " + millis + " ms");
        assertTrue(e.getMessage().contains(Integer.toString(port)), e.getMessage());
    }

    @Test
    void aServerThatIsNotNbdIsRecognised() throws Exception {
        byte[] ssh = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".getBytes(StandardCharsets.US_ASCII);
        NbdException e = assertThrows(NbdException.class, () -> withFakeServer(ssh, port -> NbdConnection.open(
                "127.0.0.1", port, "", 5_000).close()));
        assertTrue(e.getMessage().contains("not a newstyle NBD server"), e.getMessage());

        // An oldstyle server: the right first magic, then the oldstyle one.
        ByteBuffer oldstyle = ByteBuffer.allocate(152).putLong(NbdProtocol.NBDMAGIC).putLong(0x00420281861253L)
                .putLong(1 << 20);
        NbdException old = assertThrows(NbdException.class, () -> withFakeServer(oldstyle.array(),
                port -> NbdConnection.open("127.0.0.1", port, "", 5_000).close()));
        assertTrue(old.getMessage().contains("not a newstyle NBD server"), old.getMessage());
    }

    /** A server that accepts and says nothing costs the handshake one timeout, not a hang. */
    @Test
    void aSilentServerFailsTheHandshakeWithinTheTimeout() throws Exception {
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> withFakeServer(new byte[0],
                port -> NbdConnection.open("127.0.0.1", port, "", 300).close()));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis < 5_000, "handshake with a silent server took " + millis + " ms");
        assertTrue(e.getMessage().contains("127.0.0.1"), e.getMessage());
    }

    /**
     * The handshake's timeout is reported as one, not as the AsynchronousCloseException the
     * guard's closing of the channel causes under the blocked read (the guard marks itself
     * expired before it closes, so the race with cancelling it cannot hide the timeout).
     */
    @Test
    void aHandshakeTimeoutIsReportedAsATimeout() throws Exception {
        IOException e = assertThrows(IOException.class, () -> withFakeServer(new byte[0],
                port -> NbdConnection.open("127.0.0.1", port, "", 200).close()));
        assertTrue(e.getMessage().contains("timed out"), "message: " + e.getMessage());
    }

    interface PortAction {
        void run(int port) throws Exception;
    }

    /** Runs {@code action} against a server that sends {@code greeting} and then keeps the connection open. */
    private static void withFakeServer(byte[] greeting, PortAction action) throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Thread t = new Thread(() -> {
                try (Socket s = ss.accept()) {
                    OutputStream out = s.getOutputStream();
                    out.write(greeting);
                    out.flush();
                    s.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the client closes
                } catch (IOException ignored) {
                    // the client went away
                }
            }, "fake-server");
            t.setDaemon(true);
            t.start();
            action.run(ss.getLocalPort());
        }
    }
}
