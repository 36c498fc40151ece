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
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.TargetTempDir;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Faults injected into real servers: nbdkit's delay and error filters, a server stopped with
 * SIGSTOP, a server killed with SIGKILL in the middle of a load. What must hold: no caller
 * hangs (every future completes, within about the connection's timeout), no wrong byte is
 * ever returned as a success, no buffer is written after its request has failed, and a new
 * connection works once the server is back.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NbdFaultTest {
    private static final byte GUARD = (byte) 0xA5;

    @TempDir(factory = TargetTempDir.class)
    Path dir;

    /** A read the server holds for 5 s, on a connection with a 500 ms timeout. */
    @Test
    void aReadTheServerDoesNotAnswerFailsWithinTheTimeout() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("--filter=delay", "memory", "16M", "rdelay=5");
                NbdConnection c = server.connect(500)) {
            await(c.write(4096, pattern(1, 4096, 65536), false), "write (not delayed)");
            ByteBuffer dst = filled(65536, GUARD);
            ByteBuffer other = filled(1000, GUARD);
            long start = System.nanoTime();
            CompletableFuture<Void> read = c.read(4096, dst);
            CompletableFuture<Void> second = c.read(200_000, other);
            Throwable cause = awaitFailure(read, 5_000, "the delayed read");
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(millis >= 400, "failed after " + millis + " ms, before its timeout");
            assertInstanceOf(IOException.class, cause);
            awaitFailure(second, 1_000, "the other read in flight");
            assertFalse(c.isOpen(), "a timed-out connection must say it is closed");
            assertTrue(c.read(0, ByteBuffer.allocateDirect(10)).isCompletedExceptionally(),
                    "a request on the failed connection fails at once");

            Thread.sleep(300); // the reader has stopped; nothing may land in the buffers now
            assertAll(dst, GUARD, "the failed read's buffer");
            assertAll(other, GUARD, "the other failed read's buffer");

            try (NbdConnection fresh = server.connect(10_000)) {
                assertTrue(fresh.isOpen(), "the server itself is fine; a new connection works");
                await(fresh.write(0, pattern(2, 0, 10), false), "write on a new connection");
            }
        }
    }

    /**
     * A server that stops answering (SIGSTOP) while 8 MiB writes are being sent: the senders
     * block on a full socket, and the timeout must unblock them and fail every request.
     */
    @Test
    void aStoppedServerFailsBlockedWritesWithinTheTimeout() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("memory", "64M")) {
            NbdConnection c = server.connect(500);
            try {
                server.signal("STOP");
                long start = System.nanoTime();
                CompletableFuture<List<CompletableFuture<Void>>> submitted = CompletableFuture.supplyAsync(() -> {
                    List<CompletableFuture<Void>> writes = new ArrayList<>();
                    for (int i = 0; i < 4; i++) {
                        writes.add(c.write((long) i << 23, ByteBuffer.allocateDirect(8 << 20), false));
                    }
                    return writes;
                });
                List<CompletableFuture<Void>> writes = submitted.get(5, TimeUnit.SECONDS);
                for (CompletableFuture<Void> w : writes) {
                    awaitFailure(w, 5_000, "a write to a stopped server");
                }
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue(millis < 5_000, "took " + millis + " ms");
                assertFalse(c.isOpen());
            } finally {
                server.signal("CONT");
                c.close();
            }
            try (NbdConnection fresh = server.connect(10_000)) {
                await(fresh.flush(), "flush on a new connection after SIGCONT");
            }
        }
    }

    /**
     * nbdkit's error filter fails half of the requests with EIO once a trigger file exists:
     * failed requests name EIO, successful reads return exactly what was written, a failed
     * write leaves the old bytes (the filter fails it before the plugin runs), and the
     * connection stays usable throughout.
     */
    @Test
    void injectedErrorsFailSomeRequestsAndNeverReturnWrongBytes() throws Exception {
        Path trigger = dir.resolve("inject");
        int n = 256;
        int len = 4099;
        long stride = 8192;
        try (NbdServer server = NbdServer.nbdkit("--filter=error", "memory", "16M", "error=EIO", "error-rate=50%",
                "error-file=" + trigger); NbdConnection c = server.connect(10_000)) {
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                writes.add(c.write(i * stride + 1, pattern(1, i * stride + 1, len), false));
            }
            writes.forEach(w -> await(w, "write before errors are enabled"));

            Files.createFile(trigger);
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            ByteBuffer[] dst = new ByteBuffer[n];
            for (int i = 0; i < n; i++) {
                dst[i] = filled(len, GUARD);
                reads.add(c.read(i * stride + 1, dst[i]));
            }
            int readErrors = 0;
            for (int i = 0; i < n; i++) {
                if (outcome(reads.get(i), "read " + i)) {
                    assertPattern(1, i * stride + 1, dst[i], "successful read " + i + " with errors injected");
                } else {
                    readErrors++;
                }
            }
            assertTrue(readErrors > 0 && readErrors < n, readErrors + " of " + n + " reads failed");

            List<CompletableFuture<Void>> rewrites = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                rewrites.add(c.write(i * stride + 1, pattern(2, i * stride + 1, len), false));
            }
            boolean[] rewritten = new boolean[n];
            int writeErrors = 0;
            for (int i = 0; i < n; i++) {
                rewritten[i] = outcome(rewrites.get(i), "rewrite " + i);
                writeErrors += rewritten[i] ? 0 : 1;
            }
            assertTrue(writeErrors > 0 && writeErrors < n, writeErrors + " of " + n + " writes failed");
            assertTrue(c.isOpen(), "injected errors must not fail the connection");

            Files.delete(trigger);
            for (int i = 0; i < n; i++) {
                ByteBuffer b = filled(len, GUARD);
                await(c.read(i * stride + 1, b), "read " + i + " after errors are disabled");
                assertPattern(rewritten[i] ? 2 : 1, i * stride + 1, b,
                        "range " + i + " whose rewrite " + (rewritten[i] ? "succeeded" : "failed"));
            }
        }
    }

    /** True if {@code f} succeeded; false if it failed with the injected EIO; anything else fails the test. */
    private static boolean outcome(CompletableFuture<Void> f, String what) throws InterruptedException {
        try {
            f.get(20, TimeUnit.SECONDS);
            return true;
        } catch (ExecutionException e) {
            assertInstanceOf(NbdException.class, e.getCause(), what);
            assertTrue(e.getCause().getMessage().contains("EIO"), what + ": " + e.getCause().getMessage());
            return false;
        } catch (TimeoutException e) {
            throw new AssertionError(what + ": no completion within 20 s");
        }
    }

    /**
     * SIGKILL while 8 reads are in flight (held by the delay filter): every read fails well
     * within the timeout and writes nothing into its buffer; a server restarted on the same
     * port on the same file serves the bytes written before the kill to a new connection.
     */
    @Test
    void killingTheServerFailsReadsInFlightAndARestartedServerHasTheData() throws Exception {
        Path file = sparseFile("disk.img", 16 << 20);
        int n = 8;
        int len = 100_001;
        long timeoutMs = 3_000;
        try (NbdServer server = NbdServer.nbdkit("--filter=delay", "file", file.toString(), "rdelay=10")) {
            try (NbdConnection c = server.connect(timeoutMs)) {
                for (int i = 0; i < n; i++) {
                    await(c.write(i * 1_000_000L + 3, pattern(7, i * 1_000_000L + 3, len), false), "write " + i);
                }
                await(c.flush(), "flush");
                List<CompletableFuture<Void>> reads = new ArrayList<>();
                ByteBuffer[] dst = new ByteBuffer[n];
                for (int i = 0; i < n; i++) {
                    dst[i] = filled(len, GUARD);
                    reads.add(c.read(i * 1_000_000L + 3, dst[i]));
                }
                Thread.sleep(100); // the reads reach the server and wait in its delay filter
                long pid = server.pid();
                server.kill();
                assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
                long killed = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    Throwable cause = awaitFailure(reads.get(i), timeoutMs, "read " + i + " after SIGKILL");
                    assertInstanceOf(IOException.class, cause);
                }
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                assertTrue(millis < timeoutMs, "the reads took " + millis + " ms to fail");
                assertFalse(c.isOpen());
                Thread.sleep(100);
                for (int i = 0; i < n; i++) {
                    assertAll(dst[i], GUARD, "buffer of failed read " + i);
                }
            }

            int port = server.port();
            server.restart("file", file.toString());
            assertEquals(port, server.port());
            try (NbdConnection c = server.connect(10_000)) {
                assertEquals(16 << 20, c.export().size());
                for (int i = 0; i < n; i++) {
                    ByteBuffer b = filled(len, GUARD);
                    await(c.read(i * 1_000_000L + 3, b), "read " + i + " after the restart");
                    assertPattern(7, i * 1_000_000L + 3, b, "range " + i + " after the restart");
                }
            }
        }
    }

    /**
     * SIGKILL in the middle of a large transfer: 16 reads of 8 MiB into heap buffers (the
     * copy through a temporary direct buffer makes the reader the bottleneck, so the server is
     * ahead and the kill, as soon as the first read has arrived, usually lands in the middle of
     * a reply's data: about 3 times in 4 on loopback; the kill is repeated up to 8 times on a
     * server restarted on the same port). Every read must complete, with its data or a failure,
     * within the timeout. With simple replies ({@code --no-sr}) this finds the bug that
     * {@link #aBreakInTheMiddleOfASimpleReplysDataFailsThatRead} shows deterministically.
     */
    @ParameterizedTest(name = "structured replies: {0}")
    @ValueSource(booleans = {true, false})
    void killingTheServerInTheMiddleOfAReplyFailsEveryRead(boolean structured) throws Exception {
        Path file = sparseFile("big.img", 128 << 20);
        int n = 16;
        int len = 8 << 20;
        long timeoutMs = 2_000;
        ByteBuffer[] dst = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            dst[i] = ByteBuffer.allocate(len);
        }
        String[] args = structured ? new String[] {"file", file.toString()}
                : new String[] {"--no-sr", "file", file.toString()};
        int broken = 0;
        try (NbdServer server = NbdServer.nbdkit(args)) {
            for (int attempt = 1; attempt <= 8; attempt++) {
                if (attempt > 1) {
                    server.restart();
                }
                try (NbdConnection c = server.connect(timeoutMs)) {
                    assertEquals(structured, c.export().structuredReplies());
                    List<CompletableFuture<Void>> reads = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        reads.add(c.read((long) i * len, dst[i]));
                    }
                    CompletableFuture.anyOf(reads.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
                    server.kill();
                    long killed = System.nanoTime();
                    int ok = 0;
                    int failed = 0;
                    for (int i = 0; i < n; i++) {
                        long left = timeoutMs + 1_000 - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                        try {
                            reads.get(i).get(Math.max(1, left), TimeUnit.MILLISECONDS);
                            ok++;
                        } catch (ExecutionException e) {
                            failed++;
                        } catch (TimeoutException e) {
                            throw new AssertionError("attempt " + attempt + ": read " + i + " of " + n
                                    + " never completed after the server was killed (structured replies: "
                                    + structured + "; " + ok + " succeeded, " + failed + " failed before it)");
                        }
                    }
                    if (ok < n) {
                        broken++;
                        assertFalse(c.isOpen());
                    }
                }
            }
        }
        assertTrue(broken > 0, "the kill always came too late to break anything: every read had completed");
    }

    /**
     * A scripted NBD server without structured replies sends a read's simple reply header and
     * half its data, then stops sending (STALL) or closes the connection (CLOSE). The read must
     * fail within the timeout either way. FULL (all the data) checks the script itself.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"FULL", "STALL", "CLOSE"})
    void aBreakInTheMiddleOfASimpleReplysDataFailsThatRead(String mode) throws Exception {
        try (ScriptedNbdServer server = new ScriptedNbdServer(false, (q, out) -> {
            int send = mode.equals("FULL") ? q.length() : q.length() / 2;
            out.simple(q.cookie(), 0, NbdBytes.patternArray(9, q.offset(), send));
            return !mode.equals("CLOSE"); // STALL, FULL: no more replies, until the client closes
        })) {
            NbdConnection c = server.connect(500);
            try {
                assertFalse(c.export().structuredReplies());
                ByteBuffer dst = filled(65536, GUARD);
                CompletableFuture<Void> read = c.read(8192, dst);
                if (mode.equals("FULL")) {
                    await(read, "read of a complete reply");
                    assertPattern(9, 8192, dst, "the scripted server's data");
                    return;
                }
                Throwable cause = awaitFailure(read, 3_000, "read whose reply broke off halfway (" + mode + ")");
                assertInstanceOf(IOException.class, cause);
                assertFalse(c.isOpen());
            } finally {
                c.close();
            }
        }
    }

    private Path sparseFile(String name, long size) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
        return file;
    }
}
