package dev.kvtier.io;

import dev.kvtier.device.BlockDevice;
import dev.kvtier.device.RequestDeadline;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
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
 * <p><b>Timeouts and cancellation.</b> Every request carries a deadline, its submission plus
 * the engine's timeout; one still queued at its deadline fails with a {@link TimeoutException}
 * without touching the device, and one abandoned is skipped. A request on the device runs
 * under that same deadline ({@link RequestDeadline}): a device that can wait (the NBD client:
 * a reply, a reconnect) fails it then, so the bound holds from submission, queue wait
 * included (local files do not hang).
 *
 * <p><b>Failures.</b> Every request accepted is reported once, whatever its task throws (an
 * {@link Error} too, as the failure), and no worker is lost to a throw. Once the device has
 * {@linkplain BlockDevice#failed() failed}, reads fail at once and writes are declined, without
 * being queued.
 *
 * <p><b>Two ways to submit.</b> A {@link Request} is the engine's own form: the submitter owns
 * it and may reuse it once {@link Request#done} was called, and the engine allocates nothing
 * per request (queue entries are pooled), so the hot paths of loads and demotion allocate
 * nothing per block. An {@link IoTask} is wrapped in a request that completes a future.
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
    /** Workers waiting for a request, parked (a Condition would allocate a node per wait); under {@link #lock}. */
    private final ArrayDeque<Thread> idle;
    private final ArrayDeque<Queued> reads = new ArrayDeque<>();
    private final ArrayDeque<Queued> writes = new ArrayDeque<>();
    /** Queue entries to reuse; under {@link #lock}. */
    private final ArrayDeque<Queued> spare = new ArrayDeque<>();
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
        this.idle = new ArrayDeque<>(depth);
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

    /**
     * Device work that reports back: {@link #run} on an engine thread, then {@link #done} once,
     * with null or what went wrong (refused, timed out in the queue, thrown by {@code run}, the
     * engine closed). The engine does not touch a request after calling {@code done}, so its
     * owner may submit it again from there on.
     */
    public interface Request {
        /** Does the work; returns the bytes it moved. */
        long run() throws IOException;

        /** The request is over: {@code failure} is null when {@link #run} returned normally. */
        void done(Throwable failure);

        /** Whether the request is no longer wanted; a queued one is then reported without running. */
        default boolean abandoned() {
            return false;
        }
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
        FutureRequest r = new FutureRequest(task);
        submitRead(r);
        return r.future;
    }

    /**
     * Runs {@code task} as background write work, or returns null when the write queue is full
     * or the device has failed.
     */
    public CompletableFuture<Void> tryWrite(IoTask task) {
        FutureRequest r = new FutureRequest(task);
        return tryWrite(r) ? r.future : null;
    }

    /** Queues {@code r} with read priority; a read refused (device failed, queue full) is reported failed at once. */
    public void submitRead(Request r) {
        if (device.failed()) {
            failedReads.incrementAndGet();
            r.done(new IOException(device.describe() + " has failed"));
        } else if (!offer(Kind.READ, r, reads, readCapacity)) {
            failedReads.incrementAndGet();
            r.done(new IOException(device.describe() + ": read queue full (" + readCapacity + ")"));
        }
    }

    /** Queues {@code r} as background write work; false (and {@code r} not reported) when declined. */
    public boolean tryWrite(Request r) {
        if (device.failed() || !offer(Kind.WRITE, r, writes, writeCapacity)) {
            declinedWrites.incrementAndGet();
            return false;
        }
        return true;
    }

    /** Queues {@code r}; false when the queue is full. A closed engine reports it failed (after the lock is released). */
    private boolean offer(Kind kind, Request r, ArrayDeque<Queued> queue, int capacity) {
        Thread waiting;
        lock.lock();
        try {
            if (closed) {
                waiting = null;
            } else if (queue.size() >= capacity) {
                return false;
            } else {
                Queued q = spare.isEmpty() ? new Queued() : spare.poll();
                q.kind = kind;
                q.request = r;
                q.submitted = System.nanoTime();
                queue.add(q);
                waiting = idle.poll();
                if (waiting == null) {
                    return true;
                }
            }
        } finally {
            lock.unlock();
        }
        if (waiting == null) {
            r.done(new IOException(device.describe() + ": I/O engine closed"));
        } else {
            LockSupport.unpark(waiting); // after the unlock: the worker wakes to a free lock
        }
        return true;
    }

    private void work() {
        Queued q = new Queued();
        while (take(q)) {
            Throwable failure;
            try {
                failure = execute(q);
            } catch (Throwable e) { // an Error too: a waiter must never wait forever, nor a worker die
                failure = e;
            }
            if (failure != null && q.kind == Kind.READ && !(failure instanceof CancellationException)) {
                failedReads.incrementAndGet();
            }
            try {
                q.request.done(failure);
            } catch (Throwable e) {
                Thread t = Thread.currentThread();
                t.getUncaughtExceptionHandler().uncaughtException(t, e);
            }
            q.request = null;
        }
    }

    /** Moves the next request, reads first, into {@code into}; false once closed and drained. */
    private boolean take(Queued into) {
        lock.lock();
        try {
            while (true) {
                Queued q = reads.isEmpty() ? writes.poll() : reads.poll();
                if (q != null) {
                    into.kind = q.kind;
                    into.request = q.request;
                    into.submitted = q.submitted;
                    q.request = null;
                    spare.add(q);
                    return true;
                }
                if (closed) {
                    return false;
                }
                idle.push(Thread.currentThread());
                lock.unlock();
                try {
                    LockSupport.park(this);
                } finally {
                    lock.lock();
                    idle.remove(Thread.currentThread()); // if woken otherwise than by offer
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Runs a request; what went wrong, or null. */
    private Throwable execute(Queued q) throws IOException {
        long start = System.nanoTime();
        if (q.request.abandoned()) {
            return new CancellationException("abandoned");
        }
        if (start - q.submitted > timeoutNanos) {
            timedOut.incrementAndGet();
            return new TimeoutException(device.describe() + ": " + q.kind + " waited longer than its timeout in the queue");
        }
        long bytes;
        RequestDeadline.set(q.submitted + timeoutNanos);
        try {
            bytes = q.request.run();
        } finally {
            RequestDeadline.clear();
        }
        long end = System.nanoTime();
        latency[q.kind.ordinal()].recordValue(Math.min(MAX_LATENCY_NS, end - q.submitted));
        updateBandwidth(q.kind, bytes, end - start);
        return null;
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
            for (Thread t : idle) {
                LockSupport.unpark(t);
            }
            idle.clear();
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

    /** A queue entry (pooled): a request, its kind and when it was submitted. */
    private static final class Queued {
        Kind kind;
        Request request;
        long submitted;
    }

    /** An {@link IoTask} as a request that completes a future; a cancelled future abandons it. */
    private static final class FutureRequest implements Request {
        final IoTask task;
        final CompletableFuture<Void> future = new CompletableFuture<>();

        FutureRequest(IoTask task) {
            this.task = task;
        }

        @Override
        public long run() throws IOException {
            return task.run();
        }

        @Override
        public void done(Throwable failure) {
            if (failure == null) {
                future.complete(null);
            } else {
                future.completeExceptionally(failure);
            }
        }

        @Override
        public boolean abandoned() {
            return future.isDone();
        }
    }
}
