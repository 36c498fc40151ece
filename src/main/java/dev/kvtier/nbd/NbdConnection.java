package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdProtocol.CMD_DISC;
import static dev.kvtier.nbd.NbdProtocol.CMD_FLAG_FUA;
import static dev.kvtier.nbd.NbdProtocol.CMD_FLUSH;
import static dev.kvtier.nbd.NbdProtocol.CMD_READ;
import static dev.kvtier.nbd.NbdProtocol.CMD_TRIM;
import static dev.kvtier.nbd.NbdProtocol.CMD_WRITE;
import static dev.kvtier.nbd.NbdProtocol.CMD_WRITE_ZEROES;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.util.BitSet;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLContext;

/**
 * One NBD connection in the transmission phase: many requests in flight, matched to their
 * replies by cookie. Senders write a request (header, then payload for a write) under a send
 * lock; a request without payload (a read) is queued instead and written by whichever thread
 * holds or next takes the lock, so no sender of a read waits behind a write's payload. One
 * reader thread reads replies, simple or structured, copies read data straight into the
 * caller's buffer and completes the request's future: dependent actions run on the reader
 * thread (an asynchronous read is verified there and may send the next request from there).
 *
 * <p><b>Failure.</b> A reply that breaks the protocol, a socket error, or a request older than
 * its timeout (checked every {@link #WATCHDOG_TICK_MS} ms) aborts the whole connection: the socket is
 * closed, and the reader, once it has stopped touching buffers, fails every request in flight.
 * So a caller never gets a failure while its buffer is still being written, and a server that
 * stops answering costs at most one timeout. Reconnecting is the caller's business.
 *
 * <p><b>TLS.</b> With an {@link SSLContext}, the handshake negotiates TLS first (see
 * {@link NbdHandshake}) and everything above runs unchanged over the TLS stream; aborting still
 * closes the TCP channel under it, which unblocks the reader and any sender.
 */
public final class NbdConnection implements AutoCloseable {
    /** What one request costs in {@link #outstanding()} beside its bytes: a round trip's worth. */
    static final long REQUEST_WEIGHT = 16 * 1024;
    /** How often request deadlines are checked. */
    public static final long WATCHDOG_TICK_MS = 50;
    /** Most queued requests without payload written by one system call. */
    private static final int UNSENT_BATCH = 32;
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvtier-nbd-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final SocketChannel channel;
    private final NbdWire wire;
    private final NbdExport export;
    private final long timeoutNanos;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final ByteBuffer requestHeader = ByteBuffer.allocateDirect(NbdProtocol.REQUEST_BYTES);
    /** Queued requests without payload, written together; under the send lock. */
    private final ByteBuffer unsentHeaders = ByteBuffer.allocateDirect(UNSENT_BATCH * NbdProtocol.REQUEST_BYTES);
    private final Map<Long, Request> pending = new ConcurrentHashMap<>();
    /** Requests without payload (reads, flushes) waiting for the send lock; see {@link #flushUnsent}. */
    private final Queue<Request> unsent = new ConcurrentLinkedQueue<>();
    private final AtomicLong cookies = new AtomicLong();
    /** Bytes (plus {@link #REQUEST_WEIGHT} each) of the requests in flight: how busy the connection is. */
    private final AtomicLong outstanding = new AtomicLong();
    private final Thread reader;
    private final ScheduledFuture<?> watchdog;
    private volatile IOException failure;

    private NbdConnection(SocketChannel channel, NbdWire wire, NbdExport export, long timeoutNanos) {
        this.channel = channel;
        this.wire = wire;
        this.export = export;
        this.timeoutNanos = timeoutNanos;
        this.reader = new Thread(this::readReplies, "kvtier-nbd-reader " + export.describe());
        reader.setDaemon(true);
        reader.start();
        this.watchdog = WATCHDOG.scheduleWithFixedDelay(this::checkDeadlines, WATCHDOG_TICK_MS, WATCHDOG_TICK_MS, TimeUnit.MILLISECONDS);
    }

    /**
     * Connects to {@code host:port}, negotiates {@code exportName} (fixed newstyle, structured
     * replies when offered, block-size information) and enters transmission. Every request
     * must be answered within {@code timeoutMillis}, the handshake too.
     */
    public static NbdConnection open(String host, int port, String exportName, long timeoutMillis) throws IOException {
        return open(host, port, exportName, timeoutMillis, null);
    }

    /**
     * As {@link #open(String, int, String, long)}; with {@code tls} non-null, TLS is required
     * ({@code NBD_OPT_STARTTLS}, then a TLS handshake trusting what {@code tls} trusts and
     * checking that the server's certificate names {@code host}). The timeout covers the TLS
     * handshake too.
     */
    public static NbdConnection open(String host, int port, String exportName, long timeoutMillis, SSLContext tls)
            throws IOException {
        String where = (tls == null ? "nbd://" : "nbds://") + host + ":" + port + "/" + exportName;
        SocketChannel ch = SocketChannel.open();
        // Set before the guard closes the channel: the blocked read fails while the guard still
        // runs, when cancelling it would still succeed.
        AtomicBoolean expired = new AtomicBoolean();
        ScheduledFuture<?> guard = WATCHDOG.schedule(() -> {
            expired.set(true);
            closeQuietly(ch);
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        try {
            ch.socket().connect(new InetSocketAddress(host, port), (int) Math.min(Integer.MAX_VALUE, timeoutMillis));
            ch.socket().setTcpNoDelay(true);
            NbdHandshake handshake = new NbdHandshake(ch, host, port, exportName, tls);
            NbdExport export = handshake.negotiate(exportName);
            if (!guard.cancel(false) || expired.get()) {
                throw new IOException(where + ": handshake timed out");
            }
            return new NbdConnection(ch, handshake.wire(), export, TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
        } catch (RuntimeException e) {
            guard.cancel(false);
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            // The guard closing the channel under a blocked read shows up as any I/O error,
            // a failed TLS handshake included: report it as the timeout it is.
            guard.cancel(false);
            closeQuietly(ch);
            if (expired.get()) {
                throw new NbdException(where + ": handshake timed out after " + timeoutMillis + " ms", e);
            }
            throw e instanceof NbdException ? e : new IOException(where + ": " + e, e);
        }
    }

    /** What the server said about the export. */
    public NbdExport export() {
        return export;
    }

    /** The TLS protocol and cipher suite in use, or null on a plain connection. */
    public String tls() {
        return wire.tls();
    }

    /**
     * Bytes of the requests sent and not yet answered, plus {@value #REQUEST_WEIGHT} per request:
     * a request sent on a connection waits behind everything before it (the server reads each
     * connection's requests in order, a write's payload with it, and sends its replies in turn),
     * so a caller with several connections sends on the least busy.
     */
    public long outstanding() {
        return outstanding.get();
    }

    /** False once the connection has failed or been closed. */
    public boolean isOpen() {
        return failure == null && channel.isOpen();
    }

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst} (position unchanged). */
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return send(CMD_READ, 0, offset, dst.remaining(), null, null, dst);
    }

    /**
     * As {@link #read(long, ByteBuffer)}, but queued to be sent by the next {@link #sendQueued}
     * (or any send on this connection), so that reads queued together go out in one system call;
     * and the request must be answered by {@code deadlineNanos} ({@link System#nanoTime}) when
     * that is sooner than the connection's timeout: past it the watchdog aborts the connection,
     * and the future fails only once the reader no longer writes into {@code dst}.
     */
    public CompletableFuture<Void> queueRead(long offset, ByteBuffer dst, long deadlineNanos) {
        return send(request(CMD_READ, offset, dst.remaining(), null, dst, deadlineNanos), 0, null, null, false);
    }

    /**
     * As {@link #queueRead(long, ByteBuffer, long)}, one request whose first
     * {@code head.remaining()} bytes land in {@code head} and the rest in {@code dst} (a
     * scattering read: a slot's header and payload in one round trip).
     */
    public CompletableFuture<Void> queueRead(long offset, ByteBuffer head, ByteBuffer dst, long deadlineNanos) {
        long length = (long) head.remaining() + dst.remaining();
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a read of " + length + " bytes is beyond one NBD request");
        }
        return send(request(CMD_READ, offset, (int) length, head, dst, deadlineNanos), 0, null, null, false);
    }

    /** Sends the requests queued by {@link #queueRead}, unless another thread holding the send lock will. */
    public void sendQueued() {
        flushUnsent();
    }

    /** Writes {@code src}'s remaining bytes at {@code offset}; with {@code fua}, durably. */
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        boolean useFua = fua && export.canFua();
        return send(CMD_WRITE, useFua ? CMD_FLAG_FUA : 0, offset, src.remaining(), src, null, null);
    }

    /**
     * Writes {@code head}'s remaining bytes and then {@code tail}'s as one request at
     * {@code offset} (a gathering write: neither is copied); with {@code fua}, durably.
     */
    public CompletableFuture<Void> write(long offset, ByteBuffer head, ByteBuffer tail, boolean fua) {
        boolean useFua = fua && export.canFua();
        long length = (long) head.remaining() + tail.remaining();
        if (length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a write of " + length + " bytes is beyond one NBD request");
        }
        return send(CMD_WRITE, useFua ? CMD_FLAG_FUA : 0, offset, (int) length, head, tail, null);
    }

    /** Makes completed writes durable (a no-op future when the server has no flush). */
    public CompletableFuture<Void> flush() {
        return export.canFlush() ? send(CMD_FLUSH, 0, 0, 0, null, null, null) : CompletableFuture.completedFuture(null);
    }

    /** Discards a range (a hint; may read back as anything). */
    public CompletableFuture<Void> trim(long offset, int length) {
        return export.canTrim() ? send(CMD_TRIM, 0, offset, length, null, null, null) : CompletableFuture.completedFuture(null);
    }

    /** Writes zeros over a range without sending them. */
    public CompletableFuture<Void> writeZeroes(long offset, int length) {
        if (!export.canWriteZeroes()) {
            return write(offset, ByteBuffer.allocateDirect(length), false);
        }
        return send(CMD_WRITE_ZEROES, 0, offset, length, null, null, null);
    }

    /** Sends a request; a write's payload is {@code payload}, then {@code more} when not null. */
    private CompletableFuture<Void> send(int type, int flags, long offset, int length, ByteBuffer payload,
            ByteBuffer more, ByteBuffer dst) {
        return send(request(type, offset, length, null, dst, Long.MAX_VALUE), flags, payload, more, true);
    }

    /**
     * A request (a read's bytes into {@code head}, then {@code dst}) to be answered by
     * {@code deadlineNanos} ({@link System#nanoTime}) or within the timeout, whichever is sooner.
     */
    private Request request(int type, long offset, int length, ByteBuffer head, ByteBuffer dst, long deadlineNanos) {
        long now = System.nanoTime();
        long deadline = deadlineNanos == Long.MAX_VALUE || deadlineNanos - now > timeoutNanos ? now + timeoutNanos : deadlineNanos;
        return new Request(type, offset, length, head, dst, deadline, outstanding);
    }

    /** Sends {@code r}; a request without payload is sent now only with {@code sendNow} (see {@link #queueRead}). */
    private CompletableFuture<Void> send(Request r, int flags, ByteBuffer payload, ByteBuffer more, boolean sendNow) {
        int type = r.type;
        long offset = r.offset;
        int length = r.length;
        IOException f = failure;
        if (f != null) {
            r.future.completeExceptionally(f);
            return r.future;
        }
        long cookie = cookies.incrementAndGet();
        outstanding.addAndGet(r.weight);
        pending.put(cookie, r);
        f = failure;
        if (f != null) {
            if (pending.remove(cookie) != null) {
                r.settle();
                r.future.completeExceptionally(f);
            }
            return r.future;
        }
        if (payload == null) {
            r.flags = flags;
            r.cookie = cookie;
            unsent.add(r);
            if (sendNow) {
                flushUnsent();
            }
            return r.future;
        }
        sendLock.lock();
        try {
            writeHeader(flags, type, cookie, offset, length);
            if (more == null) {
                wire.writeFully(requestHeader, payload.duplicate());
            } else {
                wire.writeFully(requestHeader, payload.duplicate(), more.duplicate());
            }
            writeUnsent();
        } catch (IOException e) {
            abort(e);
        } finally {
            sendLock.unlock();
        }
        flushUnsent();
        return r.future;
    }

    /**
     * Writes the requests without payload queued in {@link #unsent} unless another thread holds
     * the send lock: that one writes them before it lets the lock go, and looks again after, so
     * none is stranded. A thread sending a read (the connection's reader too, starting the next
     * request from a completion) never waits for a write's payload to go out.
     */
    private void flushUnsent() {
        while (!unsent.isEmpty() && sendLock.tryLock()) {
            try {
                writeUnsent();
            } catch (IOException e) {
                abort(e);
            } finally {
                sendLock.unlock();
            }
        }
    }

    /** Under the send lock: writes every queued request without payload, up to {@link #UNSENT_BATCH} per system call. */
    private void writeUnsent() throws IOException {
        Request q = unsent.poll();
        while (q != null) {
            unsentHeaders.clear();
            do {
                unsentHeaders.putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) q.flags).putShort((short) q.type)
                        .putLong(q.cookie).putLong(q.offset).putInt(q.length);
                q = unsentHeaders.hasRemaining() ? unsent.poll() : null;
            } while (q != null);
            wire.writeFully(unsentHeaders.flip());
            q = unsent.poll();
        }
    }

    /** Under the send lock: fills {@link #requestHeader}. */
    private void writeHeader(int flags, int type, long cookie, long offset, int length) {
        requestHeader.clear();
        requestHeader.putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) flags).putShort((short) type)
                .putLong(cookie).putLong(offset).putInt(length).flip();
    }

    /**
     * The reader thread: replies until the connection fails, then fail what is left. An
     * {@link Error} (out of memory, say) fails the requests too, then goes on up: no request is
     * left waiting on a dead reader.
     */
    private void readReplies() {
        ReplyReader in = new ReplyReader(wire, export.structuredReplies());
        try {
            while (true) {
                in.next(pending);
            }
        } catch (Throwable e) {
            failAll(e);
            if (e instanceof Error error) {
                throw error;
            }
        }
    }

    /** The connection is over: closes it and fails every request in flight with the first cause. */
    private void failAll(Throwable e) {
        IOException cause = failure != null ? failure : e instanceof IOException ? (IOException) e : new IOException(e);
        failure = cause;
        closeQuietly(channel);
        watchdog.cancel(false);
        for (Long cookie : pending.keySet()) {
            Request r = pending.remove(cookie);
            if (r != null) {
                r.settle();
                r.future.completeExceptionally(cause);
            }
        }
    }

    private void checkDeadlines() {
        long now = System.nanoTime();
        for (Request r : pending.values()) {
            if (now - r.deadline > 0) {
                abort(new NbdException(export.describe() + ": a request at offset " + r.offset + " got no reply within "
                        + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms"));
                return;
            }
        }
    }

    /** Fails the connection: closes the socket; the reader then fails every request in flight. */
    private void abort(IOException cause) {
        if (failure == null) {
            failure = cause;
        }
        closeQuietly(channel);
    }

    @Override
    public void close() {
        if (failure == null && channel.isOpen()) {
            sendLock.lock();
            try {
                requestHeader.clear();
                requestHeader.putInt(NbdProtocol.REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_DISC)
                        .putLong(0).putLong(0).putInt(0).flip();
                wire.writeFully(requestHeader);
            } catch (IOException ignored) {
                // closing anyway
            } finally {
                sendLock.unlock();
            }
        }
        abort(new IOException(export.describe() + ": connection closed"));
        watchdog.cancel(false);
        try {
            reader.join(TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    /** A request in flight. */
    static final class Request {
        final int type;
        final long offset;
        final int length;
        /** A read's first bytes go here when not null (see {@link NbdConnection#queueRead(long, ByteBuffer, ByteBuffer, long)}), the rest to {@link #dst}. */
        final ByteBuffer head;
        final ByteBuffer dst;
        final long deadline;
        final CompletableFuture<Void> future = new CompletableFuture<>();
        final long weight;
        private final AtomicLong outstanding;
        // Reader-thread state of a structured reply; see ReplyReader.
        NbdException error;
        /** A read's bytes [0, covered) delivered, while {@link #scattered} is null. */
        int covered;
        /** A read's delivered bytes, once a chunk came out of order. */
        BitSet scattered;
        // Set by a sender that leaves the request to whoever holds the send lock (see flushUnsent).
        int flags;
        long cookie;

        Request(int type, long offset, int length, ByteBuffer head, ByteBuffer dst, long deadline, AtomicLong outstanding) {
            this.type = type;
            this.head = head;
            this.offset = offset;
            this.length = length;
            this.dst = dst;
            this.deadline = deadline;
            this.weight = (length & 0xFFFFFFFFL) + REQUEST_WEIGHT;
            this.outstanding = outstanding;
        }

        /** Called once, by whoever removed the request from the pending map, before completing it. */
        void settle() {
            outstanding.addAndGet(-weight);
        }
    }

    static ByteBuffer bigEndian(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.BIG_ENDIAN);
    }
}
