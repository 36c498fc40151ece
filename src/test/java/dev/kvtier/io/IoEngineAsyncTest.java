package dev.kvtier.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.device.NbdDevice;
import dev.kvtier.nbd.NbdServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Continuations ({@link IoEngine#submitAsyncRead}) on a real NBD export: each is reported once;
 * the engine's depth bounds those in flight, and is reached (nbdkit's delay filter holds every
 * read 20 ms); a stalled server (SIGSTOP) holds the depth's worth on the device, the rest fail
 * at their deadline in the queue without being started, the ones started fail by the
 * connection's watchdog, all within the timeout and a margin; a full read queue refuses at once.
 */
@Timeout(60)
class IoEngineAsyncTest {
    private static final int BYTES = 4096;

    @Test
    void theDepthBoundsContinuationsInFlightAndIsReached() throws Exception {
        try (NbdServer server = NbdServer.nbdkit("--filter=delay", "memory", "16M", "rdelay=20ms");
                NbdDevice device = NbdDevice.open(server.uri(), 16 << 20, 2, 5_000);
                IoEngine io = new IoEngine(device, 4, 256, 16, 5_000)) {
            AtomicInteger active = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            List<Read> reads = new ArrayList<>();
            CountDownLatch over = new CountDownLatch(64);
            for (int i = 0; i < 64; i++) {
                Read r = new Read(device, i * (long) BYTES, active, most, over);
                reads.add(r);
                io.submitAsyncRead(r);
            }
            assertTrue(over.await(30, TimeUnit.SECONDS), "every read reported");
            for (Read r : reads) {
                assertEquals(1, r.done.get(), "reported once");
                assertEquals(1, r.starts.get(), "started once");
                assertNull(r.failure);
            }
            assertEquals(4, most.get(), "at most the depth in flight on the device, and the depth reached");
            assertEquals(4, io.peakInFlight());
            assertEquals(0, io.failedReads());
            assertTrue(io.latency(IoEngine.Kind.READ).getTotalCount() >= 64, "latency recorded");
        }
    }

    @Test
    void onAStalledServerQueuedReadsFailAtTheirDeadlineWithoutStarting() throws Exception {
        long timeout = 500;
        try (NbdServer server = NbdServer.nbdkit("memory", "16M");
                NbdDevice device = NbdDevice.open(server.uri(), 16 << 20, 1, timeout);
                IoEngine io = new IoEngine(device, 2, 6, 16, timeout)) {
            AtomicInteger active = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            List<Read> reads = new ArrayList<>();
            CountDownLatch over = new CountDownLatch(8);
            server.signal("STOP");
            assertTrue(server.awaitStopped(), "nbdkit stopped");
            try {
                long t0 = System.nanoTime();
                for (int i = 0; i < 9; i++) {
                    Read r = new Read(device, i * (long) BYTES, active, most, over);
                    reads.add(r);
                    io.submitAsyncRead(r);
                }
                Read refused = reads.get(8);
                assertEquals(1, refused.done.get(), "the read queue (6) was full: refused at once");
                assertEquals(0, refused.starts.get());
                assertTrue(over.await(10, TimeUnit.SECONDS), "every read reported");
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(ms <= timeout + 300, "the last read failed " + ms + " ms after submission");
            } finally {
                server.signal("CONT");
            }
            int started = 0;
            for (Read r : reads.subList(0, 8)) {
                assertEquals(1, r.done.get(), "reported once");
                if (r.starts.get() == 1) {
                    started++;
                    assertInstanceOf(IOException.class, r.failure, "failed by the watchdog");
                } else {
                    assertInstanceOf(TimeoutException.class, r.failure, "failed in the queue");
                }
            }
            assertEquals(2, started, "the depth's worth started, the rest never touched the device");
            assertEquals(2, io.peakInFlight());
            assertEquals(6, io.timedOutRequests());
            assertEquals(9, io.failedReads());
        }
    }

    /** A continuation reading {@value #BYTES} bytes, counting how many run at once on the device. */
    private static final class Read implements IoEngine.AsyncRequest {
        final NbdDevice device;
        final long offset;
        final ByteBuffer dst = ByteBuffer.allocateDirect(BYTES);
        final AtomicInteger active;
        final AtomicInteger most;
        final CountDownLatch over;
        final AtomicInteger starts = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Read(NbdDevice device, long offset, AtomicInteger active, AtomicInteger most, CountDownLatch over) {
            this.device = device;
            this.offset = offset;
            this.active = active;
            this.most = most;
            this.over = over;
        }

        @Override
        public void start(long deadlineNanos, IoEngine.Completion finish) {
            starts.incrementAndGet();
            most.accumulateAndGet(active.incrementAndGet(), Math::max);
            device.startReadBatch(new long[] {offset}, new ByteBuffer[] {dst}, 1, deadlineNanos, e -> {
                active.decrementAndGet();
                finish.finished(BYTES, e);
            });
        }

        @Override
        public void done(Throwable f) {
            failure = f;
            done.incrementAndGet();
            over.countDown();
        }
    }
}
