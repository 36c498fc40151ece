package dev.kvtier.nbd;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Just enough of an NBD server for one connection on 127.0.0.1, to send replies no real server
 * sends: fixed newstyle; {@code NBD_OPT_STRUCTURED_REPLY} acknowledged or refused as asked;
 * {@code NBD_OPT_GO} answered with a 1 MiB export (flush supported); any other option refused
 * with {@code NBD_REP_ERR_UNSUP}. Each request after that goes to the script, which writes
 * whatever replies it likes, well-formed or not; the server closes the connection when the
 * script returns false, on {@code NBD_CMD_DISC}, or when the client goes away.
 */
final class ScriptedNbdServer implements AutoCloseable {
    private static final long SIZE = 1 << 20;

    /** A request the client sent (a write's payload already skipped). */
    record Request(int type, long cookie, long offset, int length) {
    }

    interface Script {
        /** Answers {@code q}; false closes the connection. */
        boolean answer(Request q, Replies out) throws IOException;
    }

    private final ServerSocket listener;
    private final Thread thread;

    ScriptedNbdServer(boolean structured, Script script) throws IOException {
        listener = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
        thread = new Thread(() -> serve(structured, script), "scripted-nbd-server");
        thread.setDaemon(true);
        thread.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    NbdConnection connect(long timeoutMillis) throws IOException {
        return NbdConnection.open("127.0.0.1", port(), "", timeoutMillis);
    }

    private void serve(boolean structured, Script script) {
        try (Socket s = listener.accept()) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            Replies out = new Replies(new DataOutputStream(new BufferedOutputStream(s.getOutputStream())));
            out.out.writeLong(NbdProtocol.NBDMAGIC);
            out.out.writeLong(NbdProtocol.IHAVEOPT);
            out.out.writeShort(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
            out.out.flush();
            in.readInt(); // client flags
            while (true) {
                if (in.readLong() != NbdProtocol.IHAVEOPT) {
                    return;
                }
                int option = in.readInt();
                in.skipNBytes(in.readInt());
                if (option == NbdProtocol.OPT_GO) {
                    out.optionReply(option, NbdProtocol.REP_INFO, 12);
                    out.out.writeShort(NbdProtocol.INFO_EXPORT);
                    out.out.writeLong(SIZE);
                    out.out.writeShort(NbdProtocol.TF_HAS_FLAGS | NbdProtocol.TF_SEND_FLUSH);
                    out.optionReply(option, NbdProtocol.REP_ACK, 0);
                    out.out.flush();
                    break;
                }
                boolean ack = option == NbdProtocol.OPT_STRUCTURED_REPLY && structured;
                out.optionReply(option, ack ? NbdProtocol.REP_ACK : NbdProtocol.REP_ERR_UNSUP, 0);
                out.out.flush();
            }
            while (in.readInt() == NbdProtocol.REQUEST_MAGIC) {
                in.readShort(); // flags
                Request q = new Request(in.readShort(), in.readLong(), in.readLong(), in.readInt());
                if (q.type() == NbdProtocol.CMD_DISC) {
                    return;
                }
                if (q.type() == NbdProtocol.CMD_WRITE) {
                    in.skipNBytes(q.length());
                }
                boolean more = script.answer(q, out);
                out.out.flush();
                if (!more) {
                    return;
                }
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    /** Writes replies, simple or structured, as they are told: nothing is checked. */
    static final class Replies {
        private final DataOutputStream out;

        private Replies(DataOutputStream out) {
            this.out = out;
        }

        private void optionReply(int option, int type, int length) throws IOException {
            out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
            out.writeInt(option);
            out.writeInt(type);
            out.writeInt(length);
        }

        /** A simple reply followed by {@code data} (which may be shorter than the request). */
        void simple(long cookie, int error, byte[] data) throws IOException {
            out.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC);
            out.writeInt(error);
            out.writeLong(cookie);
            out.write(data);
        }

        /** A structured reply chunk header whose length field says {@code length}. */
        void chunkHeader(int flags, int type, long cookie, int length) throws IOException {
            out.writeInt(NbdProtocol.STRUCTURED_REPLY_MAGIC);
            out.writeShort(flags);
            out.writeShort(type);
            out.writeLong(cookie);
            out.writeInt(length);
        }

        /** {@code NBD_REPLY_TYPE_OFFSET_DATA}: {@code data} at device {@code offset}. */
        void data(int flags, long cookie, long offset, byte[] data) throws IOException {
            chunkHeader(flags, NbdProtocol.REPLY_OFFSET_DATA, cookie, 8 + data.length);
            out.writeLong(offset);
            out.write(data);
        }

        /** {@code NBD_REPLY_TYPE_OFFSET_HOLE}: {@code size} (unsigned) bytes of zeros at {@code offset}. */
        void hole(int flags, long cookie, long offset, int size) throws IOException {
            chunkHeader(flags, NbdProtocol.REPLY_OFFSET_HOLE, cookie, 12);
            out.writeLong(offset);
            out.writeInt(size);
        }

        /** {@code NBD_REPLY_TYPE_ERROR} with {@code message}. */
        void error(int flags, long cookie, int error, String message) throws IOException {
            byte[] m = message.getBytes(StandardCharsets.UTF_8);
            chunkHeader(flags, NbdProtocol.REPLY_ERROR, cookie, 6 + m.length);
            out.writeInt(error);
            out.writeShort(m.length);
            out.write(m);
        }

        /** {@code NBD_REPLY_TYPE_NONE} with {@code NBD_REPLY_FLAG_DONE}. */
        void done(long cookie) throws IOException {
            chunkHeader(NbdProtocol.REPLY_FLAG_DONE, NbdProtocol.REPLY_NONE, cookie, 0);
        }

        /** Raw bytes: the payload of a chunk written with {@link #chunkHeader}. */
        void raw(byte[] bytes) throws IOException {
            out.write(bytes);
        }

        /** Sends what was written so far (a separate TCP segment, as a rule). */
        void flush() throws IOException {
            out.flush();
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        thread.interrupt();
    }
}
