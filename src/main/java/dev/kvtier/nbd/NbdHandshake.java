package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdProtocol.FLAG_FIXED_NEWSTYLE;
import static dev.kvtier.nbd.NbdProtocol.FLAG_NO_ZEROES;
import static dev.kvtier.nbd.NbdProtocol.IHAVEOPT;
import static dev.kvtier.nbd.NbdProtocol.INFO_BLOCK_SIZE;
import static dev.kvtier.nbd.NbdProtocol.INFO_EXPORT;
import static dev.kvtier.nbd.NbdProtocol.NBDMAGIC;
import static dev.kvtier.nbd.NbdProtocol.OPTION_REPLY_MAGIC;
import static dev.kvtier.nbd.NbdProtocol.OPT_GO;
import static dev.kvtier.nbd.NbdProtocol.OPT_STRUCTURED_REPLY;
import static dev.kvtier.nbd.NbdProtocol.REP_ACK;
import static dev.kvtier.nbd.NbdProtocol.REP_FLAG_ERROR;
import static dev.kvtier.nbd.NbdProtocol.REP_INFO;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * The client side of the fixed-newstyle handshake: check the server's greeting, send our
 * flags, ask for structured replies, then {@code NBD_OPT_GO} with the export name and a request
 * for block-size information, and read the option replies up to the final ACK.
 */
final class NbdHandshake {
    private static final int MAX_OPTION_REPLY = 64 * 1024;
    /** Used when the server sends no block-size information: the protocol's safe maximum. */
    private static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    private NbdHandshake() {
    }

    static NbdExport negotiate(SocketChannel ch, String server, String exportName) throws IOException {
        ByteBuffer greeting = NbdConnection.bigEndian(18);
        NbdConnection.readFully(ch, greeting);
        greeting.flip();
        if (greeting.getLong() != NBDMAGIC || greeting.getLong() != IHAVEOPT) {
            throw new NbdException(server + " is not a newstyle NBD server");
        }
        int serverFlags = greeting.getShort() & 0xFFFF;
        if ((serverFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new NbdException(server + " does not speak fixed newstyle NBD");
        }
        int clientFlags = FLAG_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES);
        write(ch, NbdConnection.bigEndian(4).putInt(clientFlags).flip());
        boolean structured = structuredReplies(ch, server);
        return go(ch, server, exportName, structured);
    }

    private static boolean structuredReplies(SocketChannel ch, String server) throws IOException {
        sendOption(ch, OPT_STRUCTURED_REPLY, NbdConnection.bigEndian(0));
        Reply r = readReply(ch, server, OPT_STRUCTURED_REPLY);
        return r.type == REP_ACK;
    }

    private static NbdExport go(SocketChannel ch, String server, String exportName, boolean structured)
            throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = NbdConnection.bigEndian(4 + name.length + 2 + 2);
        data.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_BLOCK_SIZE).flip();
        sendOption(ch, OPT_GO, data);
        long size = -1;
        int flags = 0;
        int min = 1;
        int preferred = 4096;
        int max = DEFAULT_MAX_PAYLOAD;
        String describe = "nbd://" + server + "/" + exportName;
        while (true) {
            Reply r = readReply(ch, server, OPT_GO);
            if (r.type == REP_ACK) {
                break;
            }
            if ((r.type & REP_FLAG_ERROR) != 0) {
                throw new NbdException(describe + ": the server refused the export (reply " + (r.type & ~REP_FLAG_ERROR)
                        + "): " + r.message());
            }
            if (r.type != REP_INFO || r.data.remaining() < 2) {
                continue;
            }
            int info = r.data.getShort() & 0xFFFF;
            if (info == INFO_EXPORT && r.data.remaining() >= 10) {
                size = r.data.getLong();
                flags = r.data.getShort() & 0xFFFF;
            } else if (info == INFO_BLOCK_SIZE && r.data.remaining() >= 12) {
                min = r.data.getInt();
                preferred = r.data.getInt();
                max = r.data.getInt();
            }
        }
        if (size < 0) {
            throw new NbdException(describe + ": the server did not say how large the export is");
        }
        return new NbdExport(describe, size, flags, Math.max(1, min), Math.max(1, preferred),
                Math.max(1, Math.min(max, DEFAULT_MAX_PAYLOAD)), structured);
    }

    private static void sendOption(SocketChannel ch, int option, ByteBuffer data) throws IOException {
        ByteBuffer header = NbdConnection.bigEndian(16);
        header.putLong(IHAVEOPT).putInt(option).putInt(data.remaining()).flip();
        write(ch, header);
        write(ch, data);
    }

    private static Reply readReply(SocketChannel ch, String server, int option) throws IOException {
        ByteBuffer header = NbdConnection.bigEndian(20);
        NbdConnection.readFully(ch, header);
        header.flip();
        if (header.getLong() != OPTION_REPLY_MAGIC || header.getInt() != option) {
            throw new NbdException(server + ": malformed option reply");
        }
        int type = header.getInt();
        int length = header.getInt();
        if (length < 0 || length > MAX_OPTION_REPLY) {
            throw new NbdException(server + ": option reply of " + length + " bytes");
        }
        ByteBuffer data = NbdConnection.bigEndian(length);
        NbdConnection.readFully(ch, data);
        return new Reply(type, data.flip());
    }

    private static void write(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private record Reply(int type, ByteBuffer data) {
        String message() {
            byte[] b = new byte[data.remaining()];
            data.duplicate().get(b);
            return b.length == 0 ? "(no message)" : new String(b, StandardCharsets.UTF_8);
        }
    }
}
