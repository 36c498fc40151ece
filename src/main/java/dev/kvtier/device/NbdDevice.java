package dev.kvtier.device;

import dev.kvtier.nbd.NbdConnection;
import dev.kvtier.nbd.NbdException;
import dev.kvtier.nbd.NbdExport;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import javax.net.ssl.SSLContext;

/**
 * A {@link BlockDevice} on an NBD export ({@code nbd://host:port/export}, or
 * {@code nbds://host:port/export} for TLS, required, on every connection): a small pool of
 * {@link NbdConnection}s (several when the server advertises multi-conn, else one), used round
 * robin, with requests larger than the server's maximum payload split into pieces sent at once.
 *
 * <p><b>Failures.</b> A request that fails or times out fails its caller with an
 * {@link IOException} (the caller turns reads into misses and declines writes). A connection
 * that timed out or broke the protocol is closed and replaced on next use, at most once
 * per backoff period, which doubles from 100 ms to 5 s while reconnects keep failing, so a
 * server that went away costs one failed connect per period, not a storm, and nothing waits
 * longer than the request timeout.
 */
public final class NbdDevice implements BlockDevice {
    private static final long MIN_BACKOFF_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long MAX_BACKOFF_NS = TimeUnit.SECONDS.toNanos(5);
    private static final Executor RECONNECTS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "kvtier-nbd-reconnect");
        t.setDaemon(true);
        return t;
    });

    private final String host;
    private final int port;
    private final String exportName;
    private final long timeoutMillis;
    /** Null for a plain nbd:// export. */
    private final SSLContext tls;
    private final NbdExport export;
    private final long size;
    private final NbdConnection[] connections;
    private final AtomicInteger next = new AtomicInteger();
    /** A background reconnect is queued or running (see {@link #reconnectInBackground}). */
    private final AtomicBoolean reconnectQueued = new AtomicBoolean();
    /** Held while a connection is reopened; guards {@link #backoffNanos} and {@link #retryAt}. */
    private final ReentrantLock reconnecting = new ReentrantLock();
    private long backoffNanos = MIN_BACKOFF_NS;
    private long retryAt;
    private volatile boolean closed;

    private NbdDevice(String host, int port, String exportName, long timeoutMillis, SSLContext tls,
            NbdConnection first, long size, int connectionCount) {
        this.host = host;
        this.tls = tls;
        this.port = port;
        this.exportName = exportName;
        this.timeoutMillis = timeoutMillis;
        this.export = first.export();
        this.size = size;
        this.connections = new NbdConnection[connectionCount];
        connections[0] = first;
    }

    /**
     * Connects to {@code uri} ({@code nbd://host[:port]/[export]}, port 10809 by default; an
     * {@code nbds://} URI is trusted by the JVM's default TLS context) and
     * uses at most {@code capacityBytes} of the export; with {@code maxConnections} > 1 and a
     * server that allows multi-conn, opens that many connections.
     */
    public static NbdDevice open(URI uri, long capacityBytes, int maxConnections, long timeoutMillis)
            throws IOException {
        return open(uri, capacityBytes, maxConnections, timeoutMillis, null);
    }

    /**
     * As {@link #open(URI, long, int, long)}; an {@code nbds://} URI requires TLS, trusted by
     * {@code tls} (null: the JVM's default context). {@code tls} is not allowed with {@code nbd://}.
     */
    public static NbdDevice open(URI uri, long capacityBytes, int maxConnections, long timeoutMillis, SSLContext tls)
            throws IOException {
        boolean secure = "nbds".equals(uri.getScheme());
        if (!(secure || "nbd".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new IllegalArgumentException("not an nbd:// or nbds://host:port/export URI: " + uri);
        }
        if (tls != null && !secure) {
            throw new IllegalArgumentException(uri + ": a TLS context was given for a plain nbd:// URI; use nbds://");
        }
        SSLContext context = secure ? (tls != null ? tls : defaultTls(uri)) : null;
        int port = uri.getPort() < 0 ? 10809 : uri.getPort();
        String path = uri.getPath() == null ? "" : uri.getPath();
        String name = path.startsWith("/") ? path.substring(1) : path;
        NbdConnection first = NbdConnection.open(uri.getHost(), port, name, timeoutMillis, context);
        NbdExport e = first.export();
        if (e.readOnly()) {
            first.close();
            throw new NbdException(e.describe() + " is read-only");
        }
        int count = e.canMultiConn() ? Math.max(1, maxConnections) : 1;
        NbdDevice d = new NbdDevice(uri.getHost(), port, name, timeoutMillis, context, first,
                Math.min(e.size(), capacityBytes), count);
        try {
            for (int i = 1; i < count; i++) {
                d.connections[i] = NbdConnection.open(uri.getHost(), port, name, timeoutMillis, context);
            }
        } catch (IOException | RuntimeException x) {
            d.close();
            throw x;
        }
        return d;
    }

    private static SSLContext defaultTls(URI uri) throws NbdException {
        try {
            return SSLContext.getDefault();
        } catch (NoSuchAlgorithmException e) {
            throw new NbdException(uri + ": no default TLS context in this JVM (" + e.getMessage()
                    + "); pass an SSLContext", e);
        }
    }

    /** What the server said about the export at the first connect. */
    public NbdExport export() {
        return export;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int alignment() {
        int min = export.minBlock();
        return Integer.bitCount(min) == 1 && min <= 4096 ? min : 1;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst);
        NbdConnection c = connection();
        await(inPieces(offset, dst, c::read), c);
    }

    @Override
    public void readBatch(long[] offsets, ByteBuffer[] dsts, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            check(offsets[i], dsts[i]);
        }
        NbdConnection c = connection();
        await(sendReads(c, offsets, dsts, n, Long.MAX_VALUE), c);
    }

    @Override
    public boolean batchesReads() {
        return true;
    }

    @Override
    public boolean readsAsync() {
        return true;
    }

    /**
     * Sends the reads on a live connection, all at once ({@link #sendReads}); {@code then} hears of them on the
     * connection's reader thread once every one has finished (the connection's watchdog fails
     * them at the deadline). With no live connection the reads fail at once, and a reconnect is
     * left to a background thread (see {@link #reconnectInBackground}): the caller never waits for a handshake.
     */
    @Override
    public void startReadBatch(long[] offsets, ByteBuffer[] dsts, int n, long deadlineNanos, BatchCompletion then) {
        CompletableFuture<Void> all;
        try {
            for (int i = 0; i < n; i++) {
                check(offsets[i], dsts[i]);
            }
            NbdConnection c = liveConnection();
            if (c == null) {
                reconnectInBackground();
                throw new NbdException(describe() + ": no live connection; reconnecting in the background");
            }
            all = sendReads(c, offsets, dsts, n, deadlineNanos);
        } catch (IOException e) {
            then.completed(e);
            return;
        }
        all.whenComplete((v, e) -> then.completed(e == null ? null : asIoException(e)));
    }

    /**
     * Sends the reads on {@code c} in one system call: two adjacent ranges that fit one request
     * (a slot's header and payload) as one scattering read, a range beyond the server's maximum
     * payload in pieces; to be answered by {@code deadlineNanos}. The future completes when all have.
     */
    private CompletableFuture<Void> sendReads(NbdConnection c, long[] offsets, ByteBuffer[] dsts, int n,
            long deadlineNanos) {
        CompletableFuture<?>[] all = new CompletableFuture<?>[n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && offsets[i] + dsts[i].remaining() == offsets[i + 1]
                    && (long) dsts[i].remaining() + dsts[i + 1].remaining() <= export.maxPayload()) {
                all[k++] = c.queueRead(offsets[i], dsts[i], dsts[i + 1], deadlineNanos);
                i++;
            } else {
                all[k++] = inPieces(offsets[i], dsts[i], (at, piece) -> c.queueRead(at, piece, deadlineNanos));
            }
        }
        c.sendQueued();
        return CompletableFuture.allOf(k == n ? all : java.util.Arrays.copyOf(all, k));
    }

    private static IOException asIoException(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof IOException io ? io : new IOException(cause);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src);
        NbdConnection c = connection();
        await(inPieces(offset, src, (at, piece) -> c.write(at, piece, false)), c);
    }

    /** One request when head and tail fit in the server's maximum payload; else both in pieces, all sent at once. */
    @Override
    public void write(long offset, ByteBuffer head, ByteBuffer tail) throws IOException {
        int h = head.remaining();
        check(offset, h + tail.remaining());
        NbdConnection c = connection();
        if ((long) h + tail.remaining() <= export.maxPayload()) {
            await(c.write(offset, head, tail, false), c);
        } else {
            await(CompletableFuture.allOf(inPieces(offset, head, (at, piece) -> c.write(at, piece, false)),
                    inPieces(offset + h, tail, (at, piece) -> c.write(at, piece, false))), c);
        }
    }

    /**
     * Sends a write of {@code src}'s remaining bytes at {@code offset} and returns once it is on
     * the wire, before the server has answered: the caller may work meanwhile and must then
     * {@linkplain PendingWrite#await await} it. {@code src} is no longer read when this returns
     * (requests are sent whole under the connection's send lock). NBD orders nothing between
     * requests in flight: a write that must land before another is awaited before that one is sent.
     */
    public PendingWrite startWrite(long offset, ByteBuffer src) throws IOException {
        check(offset, src);
        NbdConnection c = connection();
        return new PendingWrite(inPieces(offset, src, (at, piece) -> c.write(at, piece, false)), c);
    }

    /** A write sent by {@link #startWrite} whose reply may still be on its way. */
    public final class PendingWrite {
        private final CompletableFuture<Void> reply;
        private final NbdConnection connection;

        private PendingWrite(CompletableFuture<Void> reply, NbdConnection connection) {
            this.reply = reply;
            this.connection = connection;
        }

        /** Waits for the server's reply, with the same timeout and failures as {@link NbdDevice#write}. */
        public void await() throws IOException {
            NbdDevice.this.await(reply, connection);
        }
    }

    /** Sends {@code b} as requests of at most the server's maximum payload, all at once. */
    private CompletableFuture<Void> inPieces(long offset, ByteBuffer b,
            BiFunction<Long, ByteBuffer, CompletableFuture<Void>> request) {
        int max = export.maxPayload();
        int n = b.remaining();
        CompletableFuture<?>[] parts = new CompletableFuture<?>[(n + max - 1) / max];
        for (int i = 0; i < parts.length; i++) {
            int at = i * max;
            ByteBuffer piece = b.duplicate().position(b.position() + at).limit(b.position() + Math.min(n, at + max));
            parts[i] = request.apply(offset + at, piece);
        }
        return CompletableFuture.allOf(parts);
    }

    @Override
    public void flush() throws IOException {
        for (int i = 0; i < connections.length; i++) {
            NbdConnection c = connections[i];
            if (c != null && c.isOpen()) {
                await(c.flush(), c);
            }
        }
    }

    /** The export's address: host (lower case), port, export name, whatever form of URI reached it. */
    public String address() {
        return host.toLowerCase(java.util.Locale.ROOT) + ":" + port + "/" + exportName;
    }

    @Override
    public String describe() {
        return export.describe();
    }

    @Override
    public void close() {
        closed = true;
        for (NbdConnection c : connections) {
            if (c != null) {
                c.close();
            }
        }
    }

    private void check(long offset, ByteBuffer b) throws IOException {
        check(offset, b.remaining());
    }

    private void check(long offset, long length) throws IOException {
        if (closed) {
            throw new IOException(describe() + " is closed");
        }
        if (offset < 0 || offset > size - length) {
            throw new IOException(describe() + ": access [" + offset + ", " + (offset + length)
                    + ") is outside the device's " + size + " bytes");
        }
    }

    /**
     * The live connection with the least in flight ({@link NbdConnection#outstanding}; ties go
     * round robin), reconnecting a dead one when the backoff allows. Not plain round robin: a
     * header read or a 128-byte write sent behind a 2 MiB payload on a busy connection waits
     * for that payload, which made every small request of a demotion cost about a millisecond.
     */
    private NbdConnection connection() throws IOException {
        NbdConnection best = liveConnection();
        return best != null ? best : reconnect(Math.floorMod(next.get(), connections.length));
    }

    /** The live connection with the least in flight (see {@link #connection}), or null when none is live. */
    private NbdConnection liveConnection() {
        int start = Math.floorMod(next.getAndIncrement(), connections.length);
        NbdConnection best = null;
        long least = Long.MAX_VALUE;
        for (int k = 0; k < connections.length; k++) {
            NbdConnection c = connections[(start + k) % connections.length];
            if (c != null && c.isOpen()) {
                long load = c.outstanding();
                if (load < least) {
                    least = load;
                    best = c;
                }
            }
        }
        return best;
    }

    /**
     * Reconnects a dead connection on a background thread, one at a time, within the backoff
     * (a reconnect that is not due yet fails at once): for callers that must not wait for a
     * handshake. Blocking requests still reconnect on their own thread within their deadline.
     */
    private void reconnectInBackground() {
        if (closed || !reconnectQueued.compareAndSet(false, true)) {
            return;
        }
        RECONNECTS.execute(() -> {
            try {
                reconnect(Math.floorMod(next.get(), connections.length));
            } catch (IOException e) {
                org.slf4j.LoggerFactory.getLogger(NbdDevice.class).debug("kvtier: background reconnect to {} failed: {}",
                        describe(), e.toString());
            } finally {
                reconnectQueued.set(false);
            }
        });
    }

    /**
     * Reconnects connection {@code slot}, one thread at a time, within the current request's
     * deadline ({@link RequestDeadline}): a thread that cannot have the reconnect lock, or a
     * handshake, in the time left fails at once.
     */
    private NbdConnection reconnect(int slot) throws IOException {
        long left = RequestDeadline.remainingNanos(TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        try {
            if (left <= 0 || !reconnecting.tryLock(left, TimeUnit.NANOSECONDS)) {
                throw new NbdException(describe() + ": no connection within the request's deadline");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        try {
            return reconnectLocked(slot);
        } finally {
            reconnecting.unlock();
        }
    }

    private NbdConnection reconnectLocked(int slot) throws IOException {
        NbdConnection c = connections[slot];
        if (c != null && c.isOpen()) {
            return c;
        }
        long now = System.nanoTime();
        if (now - retryAt < 0) {
            throw new NbdException(describe() + " is unreachable; next reconnect in "
                    + TimeUnit.NANOSECONDS.toMillis(retryAt - now) + " ms");
        }
        if (c != null) {
            c.close();
        }
        try {
            long left = TimeUnit.NANOSECONDS.toMillis(
                    RequestDeadline.remainingNanos(TimeUnit.MILLISECONDS.toNanos(timeoutMillis)));
            if (left < 1) {
                throw new NbdException(describe() + ": no time left in the request's deadline to reconnect");
            }
            NbdConnection fresh = NbdConnection.open(host, port, exportName, left, tls);
            connections[slot] = fresh;
            org.slf4j.LoggerFactory.getLogger(NbdDevice.class).info("kvtier: reconnected to {}", describe());
            backoffNanos = MIN_BACKOFF_NS;
            return fresh;
        } catch (IOException e) {
            retryAt = now + backoffNanos;
            backoffNanos = Math.min(MAX_BACKOFF_NS, backoffNanos * 2);
            throw e;
        }
    }

    /**
     * Waits for a reply within the device's timeout or, if sooner, the current request's
     * deadline ({@link RequestDeadline}). A reply not in by then closes the connection (so no
     * late reply lands in the caller's buffer after this fails) and fails.
     */
    private void await(CompletableFuture<?> f, NbdConnection c) throws IOException {
        long wait = RequestDeadline.remainingNanos(
                TimeUnit.MILLISECONDS.toNanos(timeoutMillis + 2 * NbdConnection.WATCHDOG_TICK_MS));
        try {
            f.get(Math.max(0, wait), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException ? (IOException) cause : new IOException(cause);
        } catch (TimeoutException e) {
            c.close();
            throw new NbdException(describe() + ": no reply within " + timeoutMillis
                    + " ms of the request (queue wait and reconnects included)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
