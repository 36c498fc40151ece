package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdProtocol.CMD_FLUSH;
import static dev.kvtier.nbd.NbdProtocol.CMD_READ;
import static dev.kvtier.nbd.NbdProtocol.REPLY_ERROR_OFFSET;
import static dev.kvtier.nbd.NbdProtocol.REPLY_FLAG_DONE;
import static dev.kvtier.nbd.NbdProtocol.REPLY_NONE;
import static dev.kvtier.nbd.NbdProtocol.REPLY_OFFSET_DATA;
import static dev.kvtier.nbd.NbdProtocol.REPLY_OFFSET_HOLE;
import static dev.kvtier.nbd.NbdProtocol.SIMPLE_REPLY_MAGIC;
import static dev.kvtier.nbd.NbdProtocol.STRUCTURED_REPLY_MAGIC;

import dev.kvtier.nbd.NbdConnection.Request;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.Map;

/**
 * Reads one reply (simple, or one chunk of a structured reply) and applies it to its request:
 * read data goes straight into the request's buffer at the offset the chunk names, holes are
 * zero-filled, errors are kept until the final chunk.
 *
 * <p><b>Invariant: no byte lands outside the request's window, and a read succeeds only when its
 * reply delivered every byte of it exactly once.</b> Every field of a chunk is checked before it
 * is used (protocol specification, "Structured reply types"): a content chunk describes at least
 * one byte, lies within the request and overlaps no earlier content chunk of the same reply; an
 * error chunk's error is nonzero, its message fits the chunk and its offset, if any, lies within
 * the request. A chunk's place in the request is {@code offset - request offset} (the unsigned
 * offsets' difference modulo 2^64), which must lie in {@code [0, length]} before
 * {@code length - place} is compared with the chunk's size: nothing is added that could
 * overflow. Anything that does not fit (an unknown cookie, a chunk outside its request, an
 * overlapping or malformed chunk) is a protocol error that fails the connection. A final chunk
 * that leaves bytes of a read uncovered with no error chunk before it (the server MUST cover the
 * whole range when there is no error) fails that read, naming the bytes; error offsets are not
 * tracked, since an error chunk fails the read anyway.
 *
 * <p><b>Coverage.</b> Chunks may come in any order. A read first tracks the end of the covered
 * prefix of its range ({@code Request.covered}): a chunk starting there extends it at no cost
 * (servers normally send chunks in order), one starting inside it overlaps. The first
 * chunk starting beyond it switches that read to a bitmap of its bytes ({@code Request.scattered},
 * one bit a byte, allocated once: an eighth of the read's own size), which finds overlaps among
 * chunks in any order.
 */
final class ReplyReader {
    private static final int MAX_ERROR_CHUNK = 64 * 1024;

    private final NbdWire ch;
    private final boolean structured;
    private final ByteBuffer magic = NbdConnection.bigEndian(4);
    private final ByteBuffer simple = NbdConnection.bigEndian(12);
    private final ByteBuffer chunk = NbdConnection.bigEndian(16);
    private final ByteBuffer scratch = NbdConnection.bigEndian(MAX_ERROR_CHUNK);
    private final ByteBuffer zeros = ByteBuffer.allocateDirect(64 * 1024);

    ReplyReader(NbdWire ch, boolean structured) {
        this.ch = ch;
        this.structured = structured;
    }

    void next(Map<Long, Request> pending) throws IOException {
        ch.readFully(magic.clear());
        int m = magic.getInt(0);
        if (m == SIMPLE_REPLY_MAGIC) {
            simpleReply(pending);
        } else if (m == STRUCTURED_REPLY_MAGIC && structured) {
            structuredChunk(pending);
        } else {
            throw new NbdException(String.format("unexpected reply magic %08x", m));
        }
    }

    private void simpleReply(Map<Long, Request> pending) throws IOException {
        ch.readFully(simple.clear());
        int error = simple.getInt(0);
        long cookie = simple.getLong(4);
        Request r = pending.get(cookie);
        if (r == null) {
            throw new NbdException("reply for unknown request " + cookie);
        }
        // With structured replies a read's reply must be structured, and a reply that has begun as
        // chunks ends with a chunk (for a request other than a read, only error chunks can precede
        // the final one: a content chunk or NONE without DONE fails the connection).
        if (structured && (r.type == CMD_READ || r.error != null)) {
            throw new NbdException("a simple reply to the " + (r.type == CMD_READ ? "read" : "request") + " at offset "
                    + Long.toUnsignedString(r.offset) + (r.type == CMD_READ
                    ? ", though structured replies were negotiated" : ", whose structured reply had begun"));
        }
        if (error == 0 && r.type == CMD_READ) {
            readInto(r, 0, r.length);
        }
        pending.remove(cookie);
        r.settle();
        if (error != 0) {
            r.future.completeExceptionally(new NbdException("the server failed the request at offset " + r.offset
                    + ": " + NbdProtocol.errorName(error)));
        } else {
            r.future.complete(null);
        }
    }

    private void structuredChunk(Map<Long, Request> pending) throws IOException {
        ch.readFully(chunk.clear());
        int flags = chunk.getShort(0) & 0xFFFF;
        int type = chunk.getShort(2) & 0xFFFF;
        long cookie = chunk.getLong(4);
        int length = chunk.getInt(12);
        Request r = pending.get(cookie);
        if (r == null) {
            throw new NbdException("reply chunk for unknown request " + cookie);
        }
        if (length < 0) {
            throw new NbdException("reply chunk of " + (length & 0xFFFFFFFFL) + " bytes");
        }
        boolean done = (flags & REPLY_FLAG_DONE) != 0;
        applyChunk(r, type, length, done);
        if (done) {
            pending.remove(cookie);
            r.settle();
            NbdException failure = r.error != null ? r.error : uncovered(r);
            if (failure != null) {
                r.future.completeExceptionally(failure);
            } else {
                r.future.complete(null);
            }
        }
    }

    private void applyChunk(Request r, int type, int length, boolean done) throws IOException {
        if (type == REPLY_OFFSET_DATA && r.type == CMD_READ && length >= 9) {
            int n = length - 8;
            readInto(r, cover(r, readLong(), n), n);
        } else if (type == REPLY_OFFSET_HOLE && r.type == CMD_READ && length == 12) {
            ch.readFully(scratch.clear().limit(12));
            long n = scratch.getInt(8) & 0xFFFFFFFFL;
            zeroFill(r, cover(r, scratch.getLong(0), n), (int) n);
        } else if ((type & 0x8000) != 0) {
            r.error = readError(r, type, length);
        } else if (type != REPLY_NONE || length != 0) {
            throw new NbdException("unexpected reply chunk type " + type + " of " + length + " bytes");
        } else if (!done) {
            throw new NbdException("NBD_REPLY_TYPE_NONE without NBD_REPLY_FLAG_DONE");
        }
    }

    /**
     * Records device range [offset, offset + n) of read {@code r} as delivered, after checking that
     * it lies within the request and overlaps nothing delivered before; returns its place in the request.
     */
    private static int cover(Request r, long offset, long n) throws NbdException {
        int at = place(r, offset, n);
        int end = at + (int) n;
        if (r.scattered == null && at == r.covered) {
            r.covered = end;
            return at;
        }
        if (r.scattered == null && at > r.covered) {
            r.scattered = new BitSet(r.length);
            r.scattered.set(0, r.covered);
        }
        int overlap = r.scattered == null ? at : r.scattered.nextSetBit(at);
        if (overlap >= 0 && overlap < end) {
            throw new NbdException("reply chunk of " + n + " bytes at offset " + Long.toUnsignedString(offset)
                    + " overlaps bytes the same reply already delivered, at offset " + Long.toUnsignedString(
                    r.offset + overlap));
        }
        r.scattered.set(at, end);
        return at;
    }

    /**
     * The place in request {@code r} of its device range [offset, offset + n), 1 <= n, checked to lie
     * within the request without forming an end that could overflow.
     */
    private static int place(Request r, long offset, long n) throws NbdException {
        long at = offset - r.offset;
        if (n < 1 || at < 0 || at > r.length || n > r.length - at) {
            throw new NbdException("a reply chunk names offset " + Long.toUnsignedString(offset) + " (" + n + " bytes)"
                    + (n < 1 ? ", but a chunk must describe at least one byte" : ", outside the request of "
                    + r.length + " bytes at offset " + Long.toUnsignedString(r.offset)));
        }
        return (int) at;
    }

    /** Null if the reply covered every byte of {@code r} (or {@code r} is no read); else a failure naming the gaps. */
    private static NbdException uncovered(Request r) {
        if (r.type != CMD_READ) {
            return null;
        }
        BitSet b = r.scattered;
        int covered = b == null ? r.covered : b.cardinality();
        if (covered == r.length) {
            return null;
        }
        int gap = b == null ? r.covered : b.nextClearBit(0);
        int gapEnd = b == null || b.nextSetBit(gap) < 0 ? r.length : b.nextSetBit(gap);
        return new NbdException("the server's reply to the read of " + r.length + " bytes at offset "
                + Long.toUnsignedString(r.offset) + " left " + (r.length - covered) + " of " + r.length
                + " bytes uncovered (the first gap: " + (gapEnd - gap) + " bytes at offset "
                + Long.toUnsignedString(r.offset + gap) + ")");
    }

    /**
     * Reads the request's bytes [at, at + n) from the wire into its buffers: those below
     * {@code r.head}'s length into {@code r.head} (a scattering read), the rest into {@code r.dst}.
     */
    private void readInto(Request r, int at, int n) throws IOException {
        int h = r.head == null ? 0 : r.head.remaining();
        if (at < h) {
            int k = Math.min(n, h - at);
            ch.readFully(window(r.head, at, k));
            at += k;
            n -= k;
        }
        if (n > 0) {
            ch.readFully(window(r.dst, at - h, n));
        }
    }

    /** As {@link #readInto}, with zeros (a hole) instead of bytes from the wire. */
    private void zeroFill(Request r, int at, int n) {
        int h = r.head == null ? 0 : r.head.remaining();
        if (at < h) {
            int k = Math.min(n, h - at);
            zeroFill(window(r.head, at, k));
            at += k;
            n -= k;
        }
        if (n > 0) {
            zeroFill(window(r.dst, at - h, n));
        }
    }

    /** The part of buffer {@code b} that bytes [at, at + n) of its range go to. */
    private static ByteBuffer window(ByteBuffer b, int at, int n) {
        int from = b.position() + at;
        return b.duplicate().limit(from + n).position(from);
    }

    private NbdException readError(Request r, int type, int length) throws IOException {
        int fixed = type == REPLY_ERROR_OFFSET ? 14 : 6;
        if (length < fixed || length > MAX_ERROR_CHUNK) {
            throw new NbdException("error chunk of type " + type + " and " + length + " bytes");
        }
        ch.readFully(scratch.clear().limit(length));
        int error = scratch.getInt(0);
        int messageLength = scratch.getShort(4) & 0xFFFF;
        if (error == 0 || messageLength > length - fixed) {
            throw new NbdException("malformed error chunk: error " + error + ", a message of " + messageLength
                    + " bytes in a chunk of " + length);
        }
        byte[] message = new byte[messageLength];
        scratch.get(6, message);
        long at = r.offset;
        if (type == REPLY_ERROR_OFFSET && r.type != CMD_FLUSH) {
            at = scratch.getLong(6 + messageLength);
            place(r, at, 1);
        }
        return new NbdException("the server failed the request at offset " + Long.toUnsignedString(at) + ": "
                + NbdProtocol.errorName(error) + (messageLength == 0 ? "" : " (" + new String(message,
                StandardCharsets.UTF_8) + ")"));
    }

    private long readLong() throws IOException {
        ch.readFully(scratch.clear().limit(8));
        return scratch.getLong(0);
    }

    private void zeroFill(ByteBuffer b) {
        while (b.hasRemaining()) {
            int n = Math.min(b.remaining(), zeros.capacity());
            b.put(zeros.duplicate().limit(n));
        }
    }
}
