package dev.kvtier.nbd;

import static dev.kvtier.nbd.NbdProtocol.FLAG_FIXED_NEWSTYLE;
import static dev.kvtier.nbd.NbdProtocol.FLAG_NO_ZEROES;
import static dev.kvtier.nbd.NbdProtocol.IHAVEOPT;
import static dev.kvtier.nbd.NbdProtocol.INFO_BLOCK_SIZE;
import static dev.kvtier.nbd.NbdProtocol.INFO_EXPORT;
import static dev.kvtier.nbd.NbdProtocol.NBDMAGIC;
import static dev.kvtier.nbd.NbdProtocol.OPTION_REPLY_MAGIC;
import static dev.kvtier.nbd.NbdProtocol.OPT_GO;
import static dev.kvtier.nbd.NbdProtocol.OPT_STARTTLS;
import static dev.kvtier.nbd.NbdProtocol.OPT_STRUCTURED_REPLY;
import static dev.kvtier.nbd.NbdProtocol.REP_ACK;
import static dev.kvtier.nbd.NbdProtocol.REP_ERR_TLS_REQD;
import static dev.kvtier.nbd.NbdProtocol.REP_FLAG_ERROR;
import static dev.kvtier.nbd.NbdProtocol.REP_INFO;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The client side of the fixed-newstyle handshake (NBD protocol specification, doc/proto.md,
 * "Fixed newstyle negotiation"): check the server's greeting, send our flags; with TLS,
 * {@code NBD_OPT_STARTTLS} ("Option types") and, on its ACK, a TLS handshake over the same
 * socket, after which every further byte is encrypted ("TLS support": a client that requires
 * TLS does not go on without it, nothing negotiated before it is kept); then ask
 * for structured replies, then {@code NBD_OPT_GO} with the export name and a request for
 * block-size information, and read the option replies up to the final ACK. A server that
 * requires TLS answers a plain client's options with {@code NBD_REP_ERR_TLS_REQD}, reported as
 * such.
 */
final class NbdHandshake {
    private static final int MAX_OPTION_REPLY = 64 * 1024;
    /** Used when the server sends no block-size information: the protocol's safe maximum. */
    private static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    private final SocketChannel ch;
    private final String host;
    private final int port;
    private final String describe;
    private final SSLContext tls;
    private NbdWire wire;

    /** With {@code tls} non-null, TLS is required (an {@code nbds://} export). */
    NbdHandshake(SocketChannel ch, String host, int port, String exportName, SSLContext tls) {
        this.ch = ch;
        this.host = host;
        this.port = port;
        this.describe = (tls == null ? "nbd://" : "nbds://") + host + ":" + port + "/" + exportName;
        this.tls = tls;
        this.wire = NbdWire.plain(ch);
    }

    /** The stream to go on with in transmission: the channel, or TLS over it. */
    NbdWire wire() {
        return wire;
    }

    NbdExport negotiate(String exportName) throws IOException {
        ByteBuffer greeting = NbdConnection.bigEndian(18);
        wire.readFully(greeting);
        greeting.flip();
        if (greeting.getLong() != NBDMAGIC || greeting.getLong() != IHAVEOPT) {
            throw new NbdException(host + ":" + port + " is not a newstyle NBD server");
        }
        int serverFlags = greeting.getShort() & 0xFFFF;
        if ((serverFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new NbdException(host + ":" + port + " does not speak fixed newstyle NBD");
        }
        int clientFlags = FLAG_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES);
        wire.writeFully(NbdConnection.bigEndian(4).putInt(clientFlags).flip());
        if (tls == null) {
            return go(exportName, structuredReplies());
        }
        startTls();
        try {
            return go(exportName, structuredReplies());
        } catch (SSLException e) {
            // With TLS 1.3 the server's verdict on our client certificate arrives after the handshake.
            throw new NbdException(describe + ": TLS handshake failed: " + reason(e), e);
        } catch (NbdException e) {
            throw e;
        } catch (IOException e) {
            throw new NbdException(describe + ": TLS handshake failed: the server closed the connection right after it ("
                    + e.getMessage() + "); does it require a client certificate the SSLContext does not have, or does"
                    + " not trust?", e);
        }
    }

    /** NBD_OPT_STARTTLS, then the TLS handshake with the server's certificate checked against {@code host}. */
    private void startTls() throws IOException {
        sendOption(OPT_STARTTLS, NbdConnection.bigEndian(0));
        Reply r = readReply(OPT_STARTTLS);
        if (r.type != REP_ACK) {
            throw new NbdException(describe + ": TLS is required (nbds://) but the server "
                    + ((r.type & REP_FLAG_ERROR) != 0 ? "refused NBD_OPT_STARTTLS (" + NbdProtocol.replyName(r.type)
                    + r.detail() + ")" : "answered NBD_OPT_STARTTLS with reply type " + r.type)
                    + "; it does not offer TLS");
        }
        if (wire.hasStaged()) { // they would be read as if they had come through TLS
            throw new NbdException(describe + ": the server sent data after accepting NBD_OPT_STARTTLS, before the TLS"
                    + " handshake");
        }
        SSLSocket s;
        try {
            s = (SSLSocket) tls.getSocketFactory().createSocket(ch.socket(), host, port, true);
            s.setUseClientMode(true);
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
        } catch (SSLException e) {
            throw new NbdException(describe + ": TLS handshake failed: " + reason(e), e);
        }
        wire = NbdWire.tls(s);
    }

    private String reason(SSLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertificateException) {
                String m = String.valueOf(t.getMessage());
                return m.startsWith("No subject alternative") || m.startsWith("No name matching")
                        ? "the server's certificate does not name " + host + " (hostname verification): " + m
                        : "the server's certificate is not trusted by the SSLContext (signed by a CA it does not trust?): " + m;
            }
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    private boolean structuredReplies() throws IOException {
        sendOption(OPT_STRUCTURED_REPLY, NbdConnection.bigEndian(0));
        Reply r = readReply(OPT_STRUCTURED_REPLY);
        return r.type == REP_ACK;
    }

    private NbdExport go(String exportName, boolean structured) throws IOException {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = NbdConnection.bigEndian(4 + name.length + 2 + 2);
        data.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_BLOCK_SIZE).flip();
        sendOption(OPT_GO, data);
        long size = -1;
        int flags = 0;
        int min = 1;
        int preferred = 4096;
        int max = DEFAULT_MAX_PAYLOAD;
        while (true) {
            Reply r = readReply(OPT_GO);
            if (r.type == REP_ACK) {
                break;
            }
            if ((r.type & REP_FLAG_ERROR) != 0) {
                throw new NbdException(describe + ": the server refused the export (" + NbdProtocol.replyName(r.type)
                        + r.detail() + ")");
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

    private void sendOption(int option, ByteBuffer data) throws IOException {
        ByteBuffer header = NbdConnection.bigEndian(16);
        header.putLong(IHAVEOPT).putInt(option).putInt(data.remaining()).flip();
        wire.writeFully(header, data);
    }

    private Reply readReply(int option) throws IOException {
        ByteBuffer header = NbdConnection.bigEndian(20);
        wire.readFully(header);
        header.flip();
        if (header.getLong() != OPTION_REPLY_MAGIC || header.getInt() != option) {
            throw new NbdException(describe + ": malformed option reply");
        }
        int type = header.getInt();
        int length = header.getInt();
        if (length < 0 || length > MAX_OPTION_REPLY) {
            throw new NbdException(describe + ": option reply of " + length + " bytes");
        }
        ByteBuffer data = NbdConnection.bigEndian(length);
        wire.readFully(data);
        Reply r = new Reply(type, data.flip());
        if (type == REP_ERR_TLS_REQD) {
            throw new NbdException(describe + ": the server requires TLS (it answered "
                    + NbdProtocol.optionName(option) + " with NBD_REP_ERR_TLS_REQD" + r.detail() + ")"
                    + (tls == null ? "; use an nbds:// URI" : " although TLS was negotiated"));
        }
        return r;
    }

    private record Reply(int type, ByteBuffer data) {
        /** ": " and the server's message, or nothing when it sent none. */
        String detail() {
            byte[] b = new byte[data.remaining()];
            data.duplicate().get(b);
            return b.length == 0 ? "" : ": " + new String(b, StandardCharsets.UTF_8);
        }
    }
}
