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

import dev.kvtier.TargetTempDir;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NbdConnection} against qemu-nbd serving a sparse raw file (one server for the class,
 * regions of the file per test). qemu-nbd negotiates structured replies and sends the unwritten
 * parts of a read as hole chunks, which nbdkit does not; and the file itself shows whether the
 * bytes landed where they should.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QemuNbdInteropTest {
    private static final long MiB = 1 << 20;
    /** A multiple of 512 (qemu rounds a raw file's size up to one) but not of a MiB. */
    private static final long SIZE = 24 * MiB + 3 * 512;
    private static final long TIMEOUT_MS = 10_000;

    private static final long ROUND_TRIP = 0; // 12 MiB
    private static final long PIPELINE = 12 * MiB; // 4 x 1 MiB
    private static final long HOLES = 16 * MiB; // 2 MiB, written before the server starts
    private static final long FLUSH = 18 * MiB; // 2 MiB
    /** Data written into the file directly, before the server starts: {offset, length}, all in HOLES. */
    private static final long[][] PRE_WRITTEN = {{HOLES + 4096, 8192}, {HOLES + MiB + 1, 1000}};

    @TempDir(factory = TargetTempDir.class)
    static Path dir;
    private static Path file;
    private static NbdServer server;

    @BeforeAll
    static void startServer() throws IOException {
        file = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
            for (long[] w : PRE_WRITTEN) {
                f.getChannel().write(pattern(61, w[0], (int) w[1]), w[0]);
            }
        }
        server = NbdServer.qemuNbd(file);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void exportSizeIsTheFileSizeAndFlagsAreReported() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            NbdExport e = c.export();
            assertEquals(Files.size(file), e.size());
            assertTrue(e.structuredReplies(), "qemu-nbd offers structured replies");
            assertFalse(e.readOnly());
            assertTrue(e.canFlush());
            assertTrue(e.canTrim());
            assertTrue(e.canWriteZeroes());
            assertTrue(e.canMultiConn(), "qemu-nbd --shared=8 on a writable export");
            assertEquals(1, e.minBlock(), "a raw file without O_DIRECT has no alignment");
            assertEquals(32 << 20, e.maxPayload());
        }
    }

    /** Odd offsets and lengths from 1 byte to 8 MiB; the gaps between them stay zero; the file agrees. */
    @Test
    void roundTripsAtUnalignedOffsetsAndLengths() throws IOException {
        int[] lengths = {1, 3, 511, 513, 4097, 65537, (1 << 20) + 7, 8 << 20};
        long seed = 62;
        long[] offsets = new long[lengths.length];
        long at = ROUND_TRIP + 5;
        for (int i = 0; i < lengths.length; i++) {
            offsets[i] = at;
            at += lengths[i] + 4097 + i;
        }
        long end = at;
        assertTrue(end < ROUND_TRIP + 12 * MiB);
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            for (int i = 0; i < lengths.length; i++) {
                await(c.write(offsets[i], pattern(seed, offsets[i], lengths[i]), false), "write " + i);
            }
            for (int i = 0; i < lengths.length; i++) {
                ByteBuffer dst = filled(lengths[i], (byte) 0x5A);
                await(c.read(offsets[i], dst), "read " + i);
                assertPattern(seed, offsets[i], dst, "read of " + lengths[i] + " bytes at " + offsets[i]);
            }
            // One read over everything: data chunks for the ranges, holes (zeros) for the gaps.
            ByteBuffer all = filled((int) (end - ROUND_TRIP), (byte) 0x5A);
            await(c.read(ROUND_TRIP, all), "read of the whole area");
            await(c.flush(), "flush");
            try (FileChannel f = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer raw = ByteBuffer.allocateDirect(all.capacity());
                while (raw.hasRemaining() && f.read(raw, ROUND_TRIP + raw.position()) > 0) {
                    // read on
                }
                raw.flip();
                assertEquals(raw, all, "the file's bytes and what qemu-nbd returned");
            }
            for (int i = 0; i < lengths.length; i++) {
                int rel = (int) (offsets[i] - ROUND_TRIP);
                assertPattern(seed, offsets[i], all.duplicate().position(rel).limit(rel + lengths[i]), "range " + i);
                int gapEnd = i + 1 < lengths.length ? (int) (offsets[i + 1] - ROUND_TRIP) : all.capacity();
                assertAll(all.duplicate().position(rel + lengths[i]).limit(gapEnd), (byte) 0, "gap after " + i);
            }
        }
    }

    /** Data written into the file before the server started, between holes, read in one request. */
    @Test
    void holesAroundDataReadAsZeros() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            ByteBuffer dst = filled((int) (2 * MiB), (byte) 0x5A);
            await(c.read(HOLES, dst), "read over data and holes");
            int from = 0;
            for (long[] w : PRE_WRITTEN) {
                int rel = (int) (w[0] - HOLES);
                assertAll(dst.duplicate().position(from).limit(rel), (byte) 0, "hole before " + w[0]);
                assertPattern(61, w[0], dst.duplicate().position(rel).limit(rel + (int) w[1]), "data at " + w[0]);
                from = rel + (int) w[1];
            }
            assertAll(dst.duplicate().position(from), (byte) 0, "hole at the end");
        }
    }

    /** 4 threads x 200 writes in flight on one connection, then 200 reads each, every byte checked. */
    @Test
    void manyRequestsInFlightFromSeveralThreads() throws Exception {
        int threads = 4;
        int requests = 200;
        long region = MiB;
        int slot = (int) (region / requests);
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    long base = PIPELINE + t * region;
                    long seed = 200 + t;
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
                            await(writes.get(i), "write " + i);
                        }
                        List<CompletableFuture<Void>> reads = new ArrayList<>();
                        ByteBuffer[] dst = new ByteBuffer[requests];
                        for (int i = 0; i < requests; i++) {
                            dst[i] = filled(len[i], (byte) 0x5A);
                            reads.add(c.read(off[i], dst[i]));
                        }
                        for (int i = 0; i < requests; i++) {
                            await(reads.get(i), "read " + i);
                            assertPattern(seed, off[i], dst[i], "read " + i + " of thread seed " + seed);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : results) {
                    f.get(30, TimeUnit.SECONDS);
                }
                assertTrue(c.isOpen());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** FUA write, write zeroes, trim (qemu-nbd ignores discards by default: only its completion counts), flush. */
    @Test
    void flushWriteZeroesAndTrim() throws IOException {
        int n = (int) MiB;
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            await(c.write(FLUSH, pattern(63, FLUSH, n), true), "FUA write");
            long zeroAt = FLUSH + 300_001;
            int zeroLength = 99_999;
            await(c.writeZeroes(zeroAt, zeroLength), "write zeroes");
            await(c.trim(FLUSH + n, 65536), "trim");
            await(c.flush(), "flush");
            ByteBuffer dst = filled(n, (byte) 0x5A);
            await(c.read(FLUSH, dst), "read back");
            int z = (int) (zeroAt - FLUSH);
            assertPattern(63, FLUSH, dst.duplicate().limit(z), "before the zeroes");
            assertAll(dst.duplicate().position(z).limit(z + zeroLength), (byte) 0, "zeroed range");
            assertPattern(63, zeroAt + zeroLength, dst.duplicate().position(z + zeroLength), "after the zeroes");
        }
        try (NbdConnection other = server.connect(TIMEOUT_MS)) {
            ByteBuffer dst = ByteBuffer.allocateDirect(4096);
            await(other.read(FLUSH + 4096, dst), "read on another connection");
            assertPattern(63, FLUSH + 4096, dst, "another connection sees the flushed write");
        }
    }

    @Test
    void readBeyondTheEndFailsThatRequestOnly() throws IOException {
        try (NbdConnection c = server.connect(TIMEOUT_MS)) {
            Throwable e = awaitFailure(c.read(SIZE - 100, ByteBuffer.allocateDirect(200)), 5_000, "read across the end");
            assertInstanceOf(NbdException.class, e);
            assertTrue(e.getMessage().contains("EINVAL"), e.getMessage());
            assertTrue(c.isOpen());
            await(c.read(SIZE - 100, ByteBuffer.allocateDirect(100)), "read of the last 100 bytes");
        }
    }

    @Test
    void unknownExportNameIsRefused() throws IOException {
        Path small = dir.resolve("small.raw");
        try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
            f.setLength(MiB);
        }
        try (NbdServer named = NbdServer.qemuNbd(small, "--export-name", "kv")) {
            try (NbdConnection c = named.connect("kv", TIMEOUT_MS)) {
                assertEquals(MiB, c.export().size());
            }
            NbdException e = assertThrows(NbdException.class, () -> named.connect("nope", TIMEOUT_MS).close());
            assertTrue(e.getMessage().contains("refused"), e.getMessage());
        }
    }
}
