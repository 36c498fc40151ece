package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdProtocol.CMD_READ;
import static dev.kvtier.nbd.NbdProtocol.REPLY_ERROR;
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
import java.util.Map;

/**
 * Reads one reply (simple, or one chunk of a structured reply) and applies it to its request:
 * read data goes straight into the request's buffer at the offset the chunk names, holes are
 * zero-filled, errors are kept until the final chunk. Anything that does not fit the request
 * it names (an unknown cookie, data outside the requested range, a malformed chunk) is a
 * protocol error that fails the connection, so no byte lands outside the caller's range.
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
        if (error == 0 && r.type == CMD_READ) {
            ch.readFully(region(r, r.offset, r.length));
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
        applyChunk(r, type, length);
        if ((flags & REPLY_FLAG_DONE) != 0) {
            pending.remove(cookie);
            r.settle();
            if (r.error != null) {
                r.future.completeExceptionally(r.error);
            } else {
                r.future.complete(null);
            }
        }
    }

    private void applyChunk(Request r, int type, int length) throws IOException {
        if (type == REPLY_OFFSET_DATA && r.type == CMD_READ && length >= 8) {
            long offset = readLong();
            ch.readFully(region(r, offset, length - 8));
        } else if (type == REPLY_OFFSET_HOLE && r.type == CMD_READ && length == 12) {
            long offset = readLong();
            zeroFill(region(r, offset, readInt()));
        } else if (type == REPLY_ERROR || type == REPLY_ERROR_OFFSET || (type & 0x8000) != 0) {
            r.error = readError(r, length);
        } else if (type == REPLY_NONE && length == 0) {
            return;
        } else {
            throw new NbdException("unexpected reply chunk type " + type + " of " + length + " bytes");
        }
    }

    /** The part of the request's buffer that device range [offset, offset+n) maps to. */
    private static ByteBuffer region(Request r, long offset, long n) throws NbdException {
        if (offset < r.offset || n < 0 || offset + n > r.offset + r.length) {
            throw new NbdException("reply data [" + offset + ", " + (offset + n) + ") outside the request ["
                    + r.offset + ", " + (r.offset + r.length) + ")");
        }
        ByteBuffer d = r.dst.duplicate();
        int at = r.dst.position() + (int) (offset - r.offset);
        return d.limit(at + (int) n).position(at);
    }

    private NbdException readError(Request r, int length) throws IOException {
        if (length < 6 || length > MAX_ERROR_CHUNK) {
            throw new NbdException("error chunk of " + length + " bytes");
        }
        ch.readFully(scratch.clear().limit(length));
        int error = scratch.getInt(0);
        int messageLength = Math.min(scratch.getShort(4) & 0xFFFF, length - 6);
        byte[] message = new byte[messageLength];
        scratch.position(6);
        scratch.get(message);
        return new NbdException("the server failed the request at offset " + r.offset + ": "
                + NbdProtocol.errorName(error) + (messageLength == 0 ? "" : " (" + new String(message,
                StandardCharsets.UTF_8) + ")"));
    }

    private long readLong() throws IOException {
        ch.readFully(scratch.clear().limit(8));
        return scratch.getLong(0);
    }

    private int readInt() throws IOException {
        ch.readFully(scratch.clear().limit(4));
        return scratch.getInt(0);
    }

    private void zeroFill(ByteBuffer b) {
        while (b.hasRemaining()) {
            int n = Math.min(b.remaining(), zeros.capacity());
            b.put(zeros.duplicate().limit(n));
        }
    }
}
