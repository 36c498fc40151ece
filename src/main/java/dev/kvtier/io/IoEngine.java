package dev.kvtier.io;

import dev.kvtier.device.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The asynchronous I/O engine of one device: two bounded queues, one for reads (on the
 * critical path of time-to-first-token) and one for writes (background demotion and
 * promotion), served by {@code depth} worker threads, so at most {@code depth} requests are in
 * flight on the device. A worker always takes a queued read before a queued write.
 *
 * <p><b>Back-pressure.</b> A write offered to a full write queue is declined at once
 * ({@link #tryWrite} returns null) so that the caller, the admission policy, can drop or
 * delay it; nothing ever blocks the submitting thread. A read offered to a full read queue
 * fails at once (a miss for the caller).
 *
 * <p><b>Timeouts and cancellation.</b> Every request carries a deadline; one still queued at
 * its deadline fails with a {@link TimeoutException} without touching the device, and one
 * whose future was cancelled is skipped. A request already on the device is bounded by the
 * device's own timeout (the NBD client's watchdog; local files do not hang).
 *
 * <p><b>Failures.</b> Every request's future completes, whatever its task throws (an
 * {@link Error} too, exceptionally), and no worker is lost to a throw. Once the device has
 * {@linkplain BlockDevice#failed() failed}, reads fail at once and writes are declined, without
 * being queued.
 *
 * <p><b>Measurements</b> for the admission policy: latency from submission to completion per
 * kind (HdrHistogram), and an exponentially weighted moving average of bandwidth per kind
 * (bytes over device service time, weight 1/16 per completion).
 */
public final class IoEngine implements AutoCloseable {
    /** Kinds of work. */
    public enum Kind { READ, WRITE }

    private static final long MAX_LATENCY_NS = TimeUnit.MINUTES.toNanos(10);

    private final BlockDevice device;
    private final int readCapacity;
    private final int writeCapacity;
    private final long timeoutNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Request> reads = new ArrayDeque<>();
    private final ArrayDeque<Request> writes = new ArrayDeque<>();
    private final Thread[] workers;
    private final Recorder[] latency = {new Recorder(MAX_LATENCY_NS, 2), new Recorder(MAX_LATENCY_NS, 2)};
    private final Histogram[] latencyTotal = {new Histogram(MAX_LATENCY_NS, 2), new Histogram(MAX_LATENCY_NS, 2)};
    private final AtomicLong[] bandwidthBits = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong declinedWrites = new AtomicLong();
    private final AtomicLong failedReads = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private boolean closed;

    public IoEngine(BlockDevice device, int depth, int readCapacity, int writeCapacity, long timeoutMillis) {
        if (depth < 1 || readCapacity < 1 || writeCapacity < 1 || timeoutMillis < 1) {
            throw new IllegalArgumentException("IoEngine: depth, queue capacities and timeout must be positive, were "
                    + depth + ", " + readCapacity + ", " + writeCapacity + ", " + timeoutMillis);
        }
        this.device = device;
        this.readCapacity = readCapacity;
        this.writeCapacity = writeCapacity;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        this.workers = new Thread[depth];
        for (int i = 0; i < depth; i++) {
            workers[i] = new Thread(this::work, "kvtier-io " + device.describe() + " #" + i);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    public BlockDevice device() {
        return device;
    }

    /** One unit of device work, run on an engine thread; returns the bytes it moved. */
    @FunctionalInterface
    public interface IoTask {
        long run() throws IOException;
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset}; fails at once when the read queue is full. */
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return submitRead(() -> {
            device.read(offset, dst);
            return dst.remaining();
        });
    }

    /** Writes {@code src}'s remaining bytes at {@code offset}, or returns null when the write queue is full. */
    public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src) {
        return tryWrite(() -> {
            device.write(offset, src);
            return src.remaining();
        });
    }

    /**
     * Runs {@code task} (several device reads that belong together, such as a slot's header and
     * payload) with read priority; fails at once when the read queue is full.
     */
    public CompletableFuture<Void> submitRead(IoTask task) {
        Request r = new Request(Kind.READ, task, System.nanoTime());
        if (device.failed()) {
            failedReads.incrementAndGet();
            r.future.completeExceptionally(new IOException(device.describe() + " has failed"));
        } else if (!offer(r, reads, readCapacity)) {
            failedReads.incrementAndGet();
            r.future.completeExceptionally(new IOException(device.describe() + ": read queue full ("
                    + readCapacity + ")"));
        }
        return r.future;
    }

    /**
     * Runs {@code task} as background write work, or returns null when the write queue is full
     * or the device has failed.
     */
    public CompletableFuture<Void> tryWrite(IoTask task) {
        Request r = new Request(Kind.WRITE, task, System.nanoTime());
        if (device.failed() || !offer(r, writes, writeCapacity)) {
            declinedWrites.incrementAndGet();
            return null;
        }
        return r.future;
    }

    private boolean offer(Request r, ArrayDeque<Request> queue, int capacity) {
        lock.lock();
        try {
            if (closed) {
                r.future.completeExceptionally(new IOException(device.describe() + ": I/O engine closed"));
                return true;
            }
            if (queue.size() >= capacity) {
                return false;
            }
            queue.add(r);
            work.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    private void work() {
        for (Request r; (r = take()) != null; ) {
            try {
                execute(r);
            } catch (Throwable e) { // an Error too: a waiter must never wait forever, nor a worker die
                if (r.kind == Kind.READ) {
                    failedReads.incrementAndGet();
                }
                r.future.completeExceptionally(e);
            }
        }
    }

    /** The next request, reads first; null once closed and drained. */
    private Request take() {
        lock.lock();
        try {
            while (true) {
                Request r = reads.isEmpty() ? writes.poll() : reads.poll();
                if (r != null) {
                    return r;
                }
                if (closed) {
                    return null;
                }
                work.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    private void execute(Request r) throws IOException {
        long start = System.nanoTime();
        if (r.future.isDone()) {
            return;
        }
        if (start - r.submitted > timeoutNanos) {
            timedOut.incrementAndGet();
            r.future.completeExceptionally(new TimeoutException(device.describe() + ": " + r.kind
                    + " waited longer than its timeout in the queue"));
            return;
        }
        long bytes = r.task.run();
        long end = System.nanoTime();
        latency[r.kind.ordinal()].recordValue(Math.min(MAX_LATENCY_NS, end - r.submitted));
        updateBandwidth(r.kind, bytes, end - start);
        r.future.complete(null);
    }

    private void updateBandwidth(Kind kind, long bytes, long nanos) {
        double sample = bytes / (Math.max(1, nanos) / 1e9);
        AtomicLong bits = bandwidthBits[kind.ordinal()];
        long old;
        long updated;
        do {
            old = bits.get();
            double prev = Double.longBitsToDouble(old);
            updated = Double.doubleToRawLongBits(prev == 0 ? sample : prev + (sample - prev) / 16);
        } while (!bits.compareAndSet(old, updated));
    }

    /** Moving average of device bandwidth for {@code kind}, bytes per second (0 before any request). */
    public double bandwidth(Kind kind) {
        return Double.longBitsToDouble(bandwidthBits[kind.ordinal()].get());
    }

    /** A copy of all latencies (submission to completion, nanoseconds) recorded for {@code kind}. */
    public synchronized Histogram latency(Kind kind) {
        Histogram total = latencyTotal[kind.ordinal()];
        total.add(latency[kind.ordinal()].getIntervalHistogram());
        return total.copy();
    }

    /** Requests waiting right now, of {@code kind}. */
    public int queued(Kind kind) {
        lock.lock();
        try {
            return kind == Kind.READ ? reads.size() : writes.size();
        } finally {
            lock.unlock();
        }
    }

    /** How full the write queue is, 0 to 1: the admission policy's measure of pressure. */
    public double writePressure() {
        return queued(Kind.WRITE) / (double) writeCapacity;
    }

    public long declinedWrites() {
        return declinedWrites.get();
    }

    public long failedReads() {
        return failedReads.get();
    }

    public long timedOutRequests() {
        return timedOut.get();
    }

    /**
     * Stops taking requests, lets the workers finish what is queued, and waits for them. The
     * device is not closed: it belongs to the caller.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread t : workers) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** A queued request. */
    private static final class Request {
        final Kind kind;
        final IoTask task;
        final long submitted;
        final CompletableFuture<Void> future = new CompletableFuture<>();

        Request(Kind kind, IoTask task, long submitted) {
            this.kind = kind;
            this.task = task;
            this.submitted = submitted;
        }
    }
}
