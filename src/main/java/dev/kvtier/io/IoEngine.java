package dev.kvtier.io;

import dev.kvtier.device.BlockDevice;
import dev.kvtier.device.RequestDeadline;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
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
 * <p><b>Continuations.</b> On a device that {@linkplain BlockDevice#readsAsync reads
 * asynchronously}, a read may be an {@link AsyncRequest}: it is started without blocking and
 * finished by whichever thread completes its I/O (NBD: the connection's reader), so it costs no
 * hand-off to a worker. The engine's {@code depth} bounds everything in flight, workers' requests
 * and continuations together ({@code inFlight}, under the lock; a worker takes a request only
 * below the depth). An asynchronous read goes through the read queue like any other, in order
 * and within its capacity, and is started by whichever thread finds the engine below its depth
 * with it at the head ({@link #dispatch}): the submitting thread, the thread finishing another
 * continuation, or a worker. Starting never recurses: a continuation that finishes while its
 * thread is starting others leaves the next start to that thread's loop. A queued request past
 * its deadline is failed by a sweep every {@value #SWEEP_MS} ms without touching the device (a
 * stalled device finishes nothing, so no completion would come to dispatch it); a started one
 * runs under the deadline of its submission, which the device enforces.
 *
 * <p><b>Measurements</b> for the admission policy: latency from submission to completion per
 * kind (HdrHistogram), and an exponentially weighted moving average of bandwidth per kind
 * (bytes over device service time, weight 1/16 per completion).
 */
public final class IoEngine implements AutoCloseable {
    /** Kinds of work. */
    public enum Kind { READ, WRITE }

    private static final long MAX_LATENCY_NS = TimeUnit.MINUTES.toNanos(10);
    /** How often queued requests of an engine with continuations are checked against their deadlines. */
    static final long SWEEP_MS = 20;
    private static final ScheduledExecutorService SWEEPER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvtier-io-sweeper");
        t.setDaemon(true);
        return t;
    });

    private final BlockDevice device;
    private final int depth;
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
    /** Requests run by workers plus continuations started and not finished; under {@link #lock}, at most {@link #depth}. */
    private int inFlight;
    /** The most ever in flight at once (for tests and diagnostics); under {@link #lock}. */
    private int peakInFlight;
    /** Whether this thread is in {@link #dispatch}'s loop (a nested call leaves the work to it). */
    private final ThreadLocal<boolean[]> dispatching = ThreadLocal.withInitial(() -> new boolean[1]);
    /** The queue deadline sweep, on an engine of a device that reads asynchronously; else null. */
    private final ScheduledFuture<?> sweep;
    private boolean closed;

    public IoEngine(BlockDevice device, int depth, int readCapacity, int writeCapacity, long timeoutMillis) {
        if (depth < 1 || readCapacity < 1 || writeCapacity < 1 || timeoutMillis < 1) {
            throw new IllegalArgumentException("IoEngine: depth, queue capacities and timeout must be positive, were "
                    + depth + ", " + readCapacity + ", " + writeCapacity + ", " + timeoutMillis);
        }
        this.device = device;
        this.depth = depth;
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
        this.sweep = device.readsAsync()
                ? SWEEPER.scheduleWithFixedDelay(this::expireQueued, SWEEP_MS, SWEEP_MS, TimeUnit.MILLISECONDS)
                : null;
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

    /**
     * Device work that runs as a continuation (see the class comment): {@link #start} sends it
     * and returns; the thread completing its I/O calls the {@link Completion}, once; then the
     * engine calls {@link #done}, once, and does not touch the request again.
     */
    public interface AsyncRequest {
        /**
         * Starts the work without blocking; it must be over by {@code deadlineNanos}
         * ({@link System#nanoTime}) and then call {@code finish} exactly once, on any thread. A
         * start that throws must have started nothing (the throw is the request's failure).
         */
        void start(long deadlineNanos, Completion finish);

        /** The request is over: {@code failure} is null when the work finished without one. */
        void done(Throwable failure);

        /** Whether the request is no longer wanted; a queued one is then reported without starting. */
        default boolean abandoned() {
            return false;
        }
    }

    /** How the work of an {@link AsyncRequest} says it is over. */
    public interface Completion {
        /** The work moved {@code bytes}, or failed with {@code failure} (null: it did not). */
        void finished(long bytes, Throwable failure);
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

    /**
     * Runs {@code r} as a read continuation (only on a device that {@linkplain BlockDevice#readsAsync
     * reads asynchronously}): started at once on this thread when the engine is below its depth
     * and no read waits, else queued; a read refused (device failed, queue full, engine closed)
     * is reported failed at once.
     */
    public void submitAsyncRead(AsyncRequest r) {
        IOException refused = null;
        lock.lock();
        try {
            if (device.failed()) {
                refused = new IOException(device.describe() + " has failed");
            } else if (closed) {
                refused = new IOException(device.describe() + ": I/O engine closed");
            } else if (reads.size() >= readCapacity) {
                refused = new IOException(device.describe() + ": read queue full (" + readCapacity + ")");
            } else {
                Queued q = spare.isEmpty() ? new Queued() : spare.poll();
                q.kind = Kind.READ;
                q.async = r;
                q.submitted = System.nanoTime();
                reads.add(q);
            }
        } finally {
            lock.unlock();
        }
        if (refused != null) {
            failedReads.incrementAndGet();
            r.done(refused);
        } else {
            dispatch();
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
        boolean ran = false;
        while (take(q, ran)) {
            ran = q.async == null;
            if (!ran) {
                start(q.recycled());
                continue;
            }
            Throwable failure;
            try {
                failure = execute(q);
            } catch (Throwable e) { // an Error too: a waiter must never wait forever, nor a worker die
                failure = e;
            }
            if (failure != null && q.kind == Kind.READ && !(failure instanceof CancellationException)) {
                failedReads.incrementAndGet();
            }
            report(q.request, failure);
            q.request = null;
        }
    }

    /** Calls {@code r.done}; a throw goes to the thread's handler, so no worker or reader dies of it. */
    private static void report(Request r, Throwable failure) {
        try {
            r.done(failure);
        } catch (Throwable e) {
            uncaught(e);
        }
    }

    /** As {@link #report(Request, Throwable)}, for a continuation. */
    private static void report(AsyncRequest r, Throwable failure) {
        try {
            r.done(failure);
        } catch (Throwable e) {
            uncaught(e);
        }
    }

    private static void uncaught(Throwable e) {
        Thread t = Thread.currentThread();
        t.getUncaughtExceptionHandler().uncaughtException(t, e);
    }

    /**
     * Moves the next request, reads first, into {@code into} once the engine is below its depth,
     * counting it in flight; {@code ranOne}: the worker's previous request is over. False once
     * closed and drained. Wakes another idle worker when more could run.
     */
    private boolean take(Queued into, boolean ranOne) {
        Thread another = null;
        lock.lock();
        try {
            if (ranOne) {
                inFlight--;
            }
            while (true) {
                Queued q = inFlight < depth ? (reads.isEmpty() ? writes.poll() : reads.poll()) : null;
                if (q != null) {
                    into.kind = q.kind;
                    into.request = q.request;
                    into.async = q.async;
                    into.submitted = q.submitted;
                    q.request = null;
                    q.async = null;
                    spare.add(q);
                    countInFlight();
                    if (inFlight < depth && !(reads.isEmpty() && writes.isEmpty())) {
                        another = idle.poll();
                    }
                    return true;
                }
                if (closed && reads.isEmpty() && writes.isEmpty()) {
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
            if (another != null) {
                LockSupport.unpark(another);
            }
        }
    }

    /** Under the lock: one more request in flight. */
    private void countInFlight() {
        inFlight++;
        peakInFlight = Math.max(peakInFlight, inFlight);
    }

    /**
     * Starts queued continuations on this thread while the engine is below its depth and one is
     * at the head of the queues; a request for a worker there wakes one instead. A call made
     * while this thread is already in the loop (a continuation finishing as it starts) returns
     * at once: the loop goes on, so starts never recurse.
     */
    private void dispatch() {
        boolean[] busy = dispatching.get();
        if (busy[0]) {
            return;
        }
        busy[0] = true;
        try {
            for (Queued q = nextToStart(); q != null; q = nextToStart()) {
                start(q);
            }
        } finally {
            busy[0] = false;
        }
    }

    /** The continuation to start now, counted in flight, or null (a worker is woken for a request at the head). */
    private Queued nextToStart() {
        Thread worker = null;
        lock.lock();
        try {
            ArrayDeque<Queued> queue = reads.isEmpty() ? writes : reads;
            Queued head = queue.peek();
            if (head == null || inFlight >= depth) {
                return null;
            }
            if (head.async != null) {
                queue.poll();
                countInFlight();
                return head;
            }
            worker = idle.poll();
            return null;
        } finally {
            lock.unlock();
            if (worker != null) {
                LockSupport.unpark(worker);
            }
        }
    }

    /** Starts a continuation counted in flight, unless it was abandoned or waited past its deadline in the queue. */
    private void start(Queued q) {
        AsyncRequest r = q.async;
        long now = System.nanoTime();
        if (r.abandoned()) {
            finish(q, 0, new CancellationException("abandoned"));
        } else if (now - q.submitted > timeoutNanos) {
            timedOut.incrementAndGet();
            finish(q, 0, queueTimeout(q.kind));
        } else {
            q.started = now;
            try {
                r.start(q.submitted + timeoutNanos, q);
            } catch (Throwable e) { // started nothing, by contract
                finish(q, 0, e);
            }
        }
    }

    /**
     * A continuation is over: accounted, its slot freed and given to the next queued request,
     * then reported (the next request is sent before this one's owner does its part).
     */
    private void finish(Queued q, long bytes, Throwable failure) {
        AsyncRequest r = q.async;
        if (failure == null) {
            long end = System.nanoTime();
            latency[q.kind.ordinal()].recordValue(Math.min(MAX_LATENCY_NS, end - q.submitted));
            updateBandwidth(q.kind, bytes, end - q.started);
        } else if (!(failure instanceof CancellationException)) {
            failedReads.incrementAndGet();
        }
        lock.lock();
        try {
            inFlight--;
            q.async = null;
            spare.add(q);
        } finally {
            lock.unlock();
        }
        dispatch();
        report(r, failure);
    }

    /** Fails the requests queued past their deadline (the oldest are at the heads), without touching the device. */
    private void expireQueued() {
        while (true) {
            Queued q;
            lock.lock();
            try {
                q = reads.peek();
                if (q == null || System.nanoTime() - q.submitted <= timeoutNanos) {
                    return;
                }
                reads.poll();
            } finally {
                lock.unlock();
            }
            timedOut.incrementAndGet();
            failedReads.incrementAndGet();
            Throwable failure = queueTimeout(Kind.READ);
            AsyncRequest async = q.async;
            Request r = q.request;
            recycle(q);
            if (async != null) {
                report(async, failure);
            } else {
                report(r, failure);
            }
        }
    }

    private void recycle(Queued q) {
        lock.lock();
        try {
            q.request = null;
            q.async = null;
            spare.add(q);
        } finally {
            lock.unlock();
        }
    }

    private TimeoutException queueTimeout(Kind kind) {
        return new TimeoutException(device.describe() + ": " + kind + " waited longer than its timeout in the queue");
    }

    /** Runs a request; what went wrong, or null. */
    private Throwable execute(Queued q) throws IOException {
        long start = System.nanoTime();
        if (q.request.abandoned()) {
            return new CancellationException("abandoned");
        }
        if (start - q.submitted > timeoutNanos) {
            timedOut.incrementAndGet();
            return queueTimeout(q.kind);
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

    /** The most requests ever in flight at once, continuations included (never above the depth). */
    public int peakInFlight() {
        lock.lock();
        try {
            return peakInFlight;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops taking requests, lets the workers finish what is queued, and waits for them. The
     * device is not closed: it belongs to the caller.
     */
    @Override
    public void close() {
        if (sweep != null) {
            sweep.cancel(false);
        }
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

    /**
     * A queue entry (pooled): a request or a continuation, its kind, when it was submitted and
     * started; a continuation's entry is its {@link Completion} while it runs.
     */
    private final class Queued implements Completion {
        Kind kind;
        Request request;
        AsyncRequest async;
        long submitted;
        long started;

        /** A copy in a pooled entry of a continuation a worker took (the worker's own entry stays its own). */
        Queued recycled() {
            Queued q;
            lock.lock();
            try {
                q = spare.isEmpty() ? new Queued() : spare.poll();
            } finally {
                lock.unlock();
            }
            q.kind = kind;
            q.async = async;
            q.submitted = submitted;
            async = null;
            return q;
        }

        @Override
        public void finished(long bytes, Throwable failure) {
            finish(this, bytes, failure);
        }
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
