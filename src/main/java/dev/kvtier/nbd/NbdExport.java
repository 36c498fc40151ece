package dev.kvtier.nbd;

/**
 * What the server told us about an export during the handshake: its size, transmission flags,
 * block-size constraints, and whether structured replies were agreed.
 */
public record NbdExport(String describe, long size, int flags, int minBlock, int preferredBlock, int maxPayload,
        boolean structuredReplies) {

    public boolean readOnly() {
        return (flags & NbdProtocol.TF_READ_ONLY) != 0;
    }

    public boolean canFlush() {
        return (flags & NbdProtocol.TF_SEND_FLUSH) != 0;
    }

    public boolean canFua() {
        return (flags & NbdProtocol.TF_SEND_FUA) != 0;
    }

    public boolean canTrim() {
        return (flags & NbdProtocol.TF_SEND_TRIM) != 0;
    }

    public boolean canWriteZeroes() {
        return (flags & NbdProtocol.TF_SEND_WRITE_ZEROES) != 0;
    }

    /** The server allows several connections to one export, each seeing the others' flushed writes. */
    public boolean canMultiConn() {
        return (flags & NbdProtocol.TF_CAN_MULTI_CONN) != 0;
    }
}
