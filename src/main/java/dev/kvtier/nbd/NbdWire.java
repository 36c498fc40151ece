package dev.kvtier.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import javax.net.ssl.SSLSocket;

/**
 * The byte stream a connection speaks NBD over: the TCP channel itself, or, after
 * {@code NBD_OPT_STARTTLS} (protocol specification, "TLS support"), a TLS session layered on
 * that channel's socket. Only one thread reads at a time (the handshake, then the reader thread)
 * and only one writes at a time (the handshake, then senders under the send lock), so each
 * direction has its own staging array. Closing the channel underneath unblocks both directions
 * in either case; that is how timeouts and aborts stop a connection.
 */
abstract class NbdWire {
    /** Reads until {@code b} is full; EOF is an error. */
    abstract void readFully(ByteBuffer b) throws IOException;

    /** Writes all of {@code b}. */
    abstract void writeFully(ByteBuffer b) throws IOException;

    /** Writes all of {@code header}, then all of {@code payload} (may be null). */
    void writeFully(ByteBuffer header, ByteBuffer payload) throws IOException {
        writeFully(header);
        if (payload != null) {
            writeFully(payload);
        }
    }

    /** Writes all of {@code header}, {@code head} and {@code tail}, in that order. */
    void writeFully(ByteBuffer header, ByteBuffer head, ByteBuffer tail) throws IOException {
        writeFully(header, head);
        writeFully(tail);
    }

    /** The negotiated TLS protocol and cipher suite, or null on a plain connection. */
    abstract String tls();

    /** Whether bytes were received that no read has taken yet. */
    boolean hasStaged() {
        return false;
    }

    static NbdWire plain(SocketChannel ch) {
        return new Plain(ch);
    }

    static NbdWire tls(SSLSocket socket) throws IOException {
        return new Tls(socket);
    }

    static EOFException closedByServer() {
        return new EOFException("the NBD server closed the connection");
    }

    /**
     * The TCP channel. Reads are buffered: a read smaller than {@link #STAGING} is served from a
     * staging buffer that one system call fills with up to that much of what has arrived (several
     * small replies at once: headers, offsets and header-sized payloads); a larger one takes what
     * is staged, then reads straight into the caller's buffer, so at most {@link #STAGING} bytes
     * of a block's payload are copied twice.
     */
    private static final class Plain extends NbdWire {
        /** The staging buffer's size; reads at least this large go straight to the caller's buffer. */
        static final int STAGING = 4096;
        private final SocketChannel ch;
        /** Bytes received and not yet read: [position, limit); only the reading thread touches it. */
        private final ByteBuffer staged = ByteBuffer.allocateDirect(STAGING).flip();
        /** The buffers of a gathering write; only one thread writes at a time. */
        private final ByteBuffer[] gather = new ByteBuffer[3];

        Plain(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        void readFully(ByteBuffer b) throws IOException {
            takeStaged(b);
            while (b.hasRemaining()) {
                if (b.remaining() >= STAGING) {
                    if (ch.read(b) < 0) {
                        throw closedByServer();
                    }
                } else {
                    staged.clear();
                    int n = ch.read(staged);
                    staged.flip();
                    if (n < 0) {
                        throw closedByServer();
                    }
                    takeStaged(b);
                }
            }
        }

        @Override
        boolean hasStaged() {
            return staged.hasRemaining();
        }

        /** Moves as many staged bytes as fit into {@code b}. */
        private void takeStaged(ByteBuffer b) {
            int n = Math.min(b.remaining(), staged.remaining());
            if (n > 0) {
                int limit = staged.limit();
                b.put(staged.limit(staged.position() + n));
                staged.limit(limit);
            }
        }

        @Override
        void writeFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }

        /** One gathering write: the kernel takes all three buffers in one call when its send buffer has room. */
        @Override
        void writeFully(ByteBuffer header, ByteBuffer head, ByteBuffer tail) throws IOException {
            gather[0] = header;
            gather[1] = head;
            gather[2] = tail;
            try {
                while (header.hasRemaining() || head.hasRemaining() || tail.hasRemaining()) {
                    ch.write(gather);
                }
            } finally {
                Arrays.fill(gather, null);
            }
        }

        @Override
        String tls() {
            return null;
        }
    }

    /** TLS through JSSE's socket streams; bytes pass through reused heap arrays into the callers' buffers. */
    private static final class Tls extends NbdWire {
        /** The largest TLS record's plaintext. */
        private static final int STAGING = 16 * 1024;
        private final SSLSocket socket;
        private final InputStream in;
        private final OutputStream out;
        private final byte[] readStaging = new byte[STAGING];
        private final byte[] writeStaging = new byte[STAGING];

        Tls(SSLSocket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        @Override
        void readFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                int n = in.read(readStaging, 0, Math.min(b.remaining(), STAGING));
                if (n < 0) {
                    throw closedByServer();
                }
                b.put(readStaging, 0, n);
            }
        }

        @Override
        void writeFully(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                int n = Math.min(b.remaining(), STAGING);
                b.get(writeStaging, 0, n);
                out.write(writeStaging, 0, n);
            }
        }

        /** The header and the start of the payload in one TLS record, not a record of 28 bytes on its own. */
        @Override
        void writeFully(ByteBuffer header, ByteBuffer payload) throws IOException {
            int h = header.remaining();
            if (payload == null || h > STAGING / 2) {
                super.writeFully(header, payload);
                return;
            }
            header.get(writeStaging, 0, h);
            int n = Math.min(payload.remaining(), STAGING - h);
            payload.get(writeStaging, h, n);
            out.write(writeStaging, 0, h + n);
            writeFully(payload);
        }

        @Override
        String tls() {
            return socket.getSession().getProtocol() + " " + socket.getSession().getCipherSuite();
        }
    }
}
