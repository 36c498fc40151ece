package dev.kvtier.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.BlockDevice;
import dev.kvtier.io.IoEngine.Kind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * The I/O engine on an in-memory device whose operations can be held at a gate: round trips,
 * reads served before queued writes, bounded queues (declined writes, failed reads), requests
 * that outwait their deadline in the queue, cancellation, measurements, tasks that throw
 * errors, a failed device, and close draining.
 */
class IoEngineTest {
    private static final long WAIT_S = 10;

    @Test
    void writesThenReadsRoundTrip() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, false);
        try (IoEngine io = new IoEngine(d, 4, 64, 64, 5_000)) {
            CompletableFuture<?>[] w = new CompletableFuture<?>[32];
            for (int i = 0; i < w.length; i++) {
                w[i] = io.tryWrite(i * 4096L, filled(4096, i));
            }
            CompletableFuture.allOf(w).get(WAIT_S, TimeUnit.SECONDS);
            for (int i = 0; i < w.length; i++) {
                ByteBuffer dst = ByteBuffer.allocateDirect(4096);
                io.read(i * 4096L, dst).get(WAIT_S, TimeUnit.SECONDS);
                assertEquals(filled(4096, i), dst, "block " + i);
            }
            assertTrue(io.bandwidth(Kind.READ) > 0 && io.bandwidth(Kind.WRITE) > 0);
            assertEquals(32, io.latency(Kind.READ).getTotalCount());
            assertEquals(32, io.latency(Kind.WRITE).getTotalCount());
        }
    }

    @Test
    void aQueuedReadGoesBeforeQueuedWrites() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, true);
        try (IoEngine io = new IoEngine(d, 1, 8, 8, 5_000)) {
            CompletableFuture<Void> first = io.tryWrite(0, filled(16, 1));
            d.awaitArrivals(1);
            CompletableFuture<Void> w1 = io.tryWrite(16, filled(16, 2));
            CompletableFuture<Void> w2 = io.tryWrite(32, filled(16, 3));
            CompletableFuture<Void> read = io.read(0, ByteBuffer.allocateDirect(16));
            d.open();
            CompletableFuture.allOf(first, w1, w2, read).get(WAIT_S, TimeUnit.SECONDS);
            assertEquals(List.of("W0", "R0", "W16", "W32"), d.log, "the read overtook the queued writes");
        }
    }

    @Test
    void aFullWriteQueueDeclinesAtOnceAndAFullReadQueueFailsAtOnce() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, true);
        try (IoEngine io = new IoEngine(d, 1, 1, 2, 5_000)) {
            CompletableFuture<Void> running = io.tryWrite(0, filled(16, 1));
            d.awaitArrivals(1);
            assertNotNull(io.tryWrite(16, filled(16, 2)));
            assertNotNull(io.tryWrite(32, filled(16, 3)));
            assertNull(io.tryWrite(48, filled(16, 4)), "a third queued write is declined");
            assertEquals(1, io.declinedWrites());
            assertEquals(1.0, io.writePressure());
            assertNotNull(io.read(0, ByteBuffer.allocateDirect(16)));
            CompletableFuture<Void> refused = io.read(0, ByteBuffer.allocateDirect(16));
            assertTrue(refused.isCompletedExceptionally(), "a read beyond the read queue fails at once");
            d.open();
            running.get(WAIT_S, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRequestThatOutwaitsItsDeadlineInTheQueueFailsWithoutTouchingTheDevice() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, true);
        try (IoEngine io = new IoEngine(d, 1, 8, 8, 100)) {
            CompletableFuture<Void> running = io.tryWrite(0, filled(16, 1));
            d.awaitArrivals(1);
            CompletableFuture<Void> late = io.read(0, ByteBuffer.allocateDirect(16));
            Thread.sleep(300);
            d.open();
            ExecutionException e = assertThrows(ExecutionException.class, () -> late.get(WAIT_S, TimeUnit.SECONDS));
            assertInstanceOf(TimeoutException.class, e.getCause());
            running.get(WAIT_S, TimeUnit.SECONDS);
            assertEquals(List.of("W0"), d.log);
            assertEquals(1, io.timedOutRequests());
        }
    }

    @Test
    void aCancelledQueuedRequestIsSkipped() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, true);
        try (IoEngine io = new IoEngine(d, 1, 8, 8, 5_000)) {
            CompletableFuture<Void> running = io.tryWrite(0, filled(16, 1));
            d.awaitArrivals(1);
            CompletableFuture<Void> cancelled = io.tryWrite(16, filled(16, 2));
            CompletableFuture<Void> kept = io.tryWrite(32, filled(16, 3));
            cancelled.cancel(false);
            d.open();
            CompletableFuture.allOf(running, kept).get(WAIT_S, TimeUnit.SECONDS);
            assertEquals(List.of("W0", "W32"), d.log);
        }
    }

    @Test
    void deviceErrorsFailTheRequestAndAreCounted() throws Exception {
        GatedDevice d = new GatedDevice(4096, false);
        try (IoEngine io = new IoEngine(d, 2, 8, 8, 5_000)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> io.read(1 << 20, ByteBuffer.allocateDirect(16)).get(WAIT_S, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, e.getCause());
            assertEquals(1, io.failedReads());
        }
    }

    /** Whatever a task throws, an Error too, its future completes and the one worker goes on to the next. */
    @Test
    void aTaskThatThrowsAnErrorFailsItsFutureAndTheWorkerGoesOn() throws Exception {
        GatedDevice d = new GatedDevice(4096, false);
        try (IoEngine io = new IoEngine(d, 1, 8, 8, 5_000)) {
            List<Throwable> thrown = List.of(new InternalError("a fault occurred in an unsafe memory access operation"),
                    new StackOverflowError(), new IllegalStateException("bug"));
            for (Throwable t : thrown) {
                CompletableFuture<Void> read = io.submitRead(() -> {
                    throw sneaky(t);
                });
                ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(WAIT_S, TimeUnit.SECONDS));
                assertEquals(t, e.getCause());
                CompletableFuture<Void> write = io.tryWrite(() -> {
                    throw sneaky(t);
                });
                e = assertThrows(ExecutionException.class, () -> write.get(WAIT_S, TimeUnit.SECONDS));
                assertEquals(t, e.getCause());
            }
            assertEquals(3, io.failedReads());
            io.read(0, ByteBuffer.allocateDirect(16)).get(WAIT_S, TimeUnit.SECONDS);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    @Test
    void onAFailedDeviceReadsFailAtOnceAndWritesAreDeclinedWithoutReachingIt() throws Exception {
        GatedDevice d = new GatedDevice(4096, true);
        try (IoEngine io = new IoEngine(d, 1, 8, 8, 5_000)) {
            d.failed = true;
            CompletableFuture<Void> read = io.read(0, ByteBuffer.allocateDirect(16));
            assertTrue(read.isCompletedExceptionally(), "failed before read() returned");
            assertNull(io.tryWrite(0, filled(16, 1)));
            assertEquals(1, io.failedReads());
            assertEquals(1, io.declinedWrites());
            assertEquals(0, io.queued(Kind.READ) + io.queued(Kind.WRITE));
            d.open();
            assertEquals(List.of(), d.log);
        }
    }

    @Test
    void closeFinishesQueuedWorkAndRefusesNewWork() throws Exception {
        GatedDevice d = new GatedDevice(1 << 20, true);
        IoEngine io = new IoEngine(d, 1, 8, 8, 5_000);
        CompletableFuture<Void> a = io.tryWrite(0, filled(16, 1));
        CompletableFuture<Void> b = io.tryWrite(16, filled(16, 2));
        d.awaitArrivals(1);
        Thread closer = new Thread(io::close);
        closer.start();
        d.open();
        closer.join(TimeUnit.SECONDS.toMillis(WAIT_S));
        assertTrue(a.isDone() && b.isDone() && !a.isCompletedExceptionally() && !b.isCompletedExceptionally());
        assertTrue(io.read(0, ByteBuffer.allocateDirect(16)).isCompletedExceptionally());
        assertThrows(IllegalArgumentException.class, () -> new IoEngine(d, 0, 1, 1, 1));
    }

    private static ByteBuffer filled(int n, int seed) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        for (int i = 0; i < n; i++) {
            b.put(i, (byte) (seed * 31 + i));
        }
        return b;
    }

    /** An in-memory device that logs each operation and, when gated, holds each one until opened. */
    private static final class GatedDevice implements BlockDevice {
        final List<String> log = new CopyOnWriteArrayList<>();
        private final ByteBuffer bytes;
        private final Semaphore arrivals = new Semaphore(0);
        private volatile boolean gated;
        volatile boolean failed;
        private final Object gate = new Object();

        GatedDevice(int size, boolean gated) {
            this.bytes = ByteBuffer.allocateDirect(size);
            this.gated = gated;
        }

        void awaitArrivals(int n) throws InterruptedException {
            assertTrue(arrivals.tryAcquire(n, WAIT_S, TimeUnit.SECONDS), "the engine reached the device");
        }

        void open() {
            synchronized (gate) {
                gated = false;
                gate.notifyAll();
            }
        }

        private void pass(String op) throws IOException {
            log.add(op);
            arrivals.release();
            synchronized (gate) {
                while (gated) {
                    try {
                        gate.wait();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
            }
        }

        @Override
        public long size() {
            return bytes.capacity();
        }

        @Override
        public int alignment() {
            return 1;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            if (offset + dst.remaining() > size()) {
                throw new IOException("outside the device");
            }
            pass("R" + offset);
            dst.duplicate().put(bytes.duplicate().position((int) offset).limit((int) offset + dst.remaining()));
        }

        @Override
        public void write(long offset, ByteBuffer src) throws IOException {
            pass("W" + offset);
            bytes.duplicate().position((int) offset).put(src.duplicate());
        }

        @Override
        public boolean failed() {
            return failed;
        }

        @Override
        public void flush() {
        }

        @Override
        public String describe() {
            return "gated memory device";
        }

        @Override
        public void close() {
        }
    }
}
