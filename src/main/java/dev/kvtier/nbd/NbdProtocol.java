package dev.kvtier.nbd;

/**
 * Constants of the Network Block Device protocol, as published in the protocol specification
 * (NetworkBlockDevice/nbd, {@code doc/proto.md}): the fixed-newstyle handshake, options,
 * transmission requests, simple and structured replies. Every field is big-endian.
 */
final class NbdProtocol {
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454f5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;

    static final int OPT_ABORT = 2;
    static final int OPT_STARTTLS = 5;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;

    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_FLAG_ERROR = 1 << 31;
    static final int REP_ERR_UNSUP = REP_FLAG_ERROR + 1;
    static final int REP_ERR_POLICY = REP_FLAG_ERROR + 2;
    static final int REP_ERR_INVALID = REP_FLAG_ERROR + 3;
    static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR + 5;
    static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR + 6;
    static final int INFO_EXPORT = 0;
    static final int INFO_BLOCK_SIZE = 3;

    static final int TF_HAS_FLAGS = 1;
    static final int TF_READ_ONLY = 2;
    static final int TF_SEND_FLUSH = 4;
    static final int TF_SEND_FUA = 8;
    static final int TF_SEND_TRIM = 32;
    static final int TF_SEND_WRITE_ZEROES = 64;
    static final int TF_CAN_MULTI_CONN = 256;

    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_FLAG_FUA = 1;

    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_NONE = 0;
    static final int REPLY_OFFSET_DATA = 1;
    static final int REPLY_OFFSET_HOLE = 2;
    static final int REPLY_ERROR = (1 << 15) + 1;
    static final int REPLY_ERROR_OFFSET = (1 << 15) + 2;

    static final int REQUEST_BYTES = 28;
    static final int SIMPLE_REPLY_BYTES = 16;
    static final int STRUCTURED_REPLY_BYTES = 20;

    private NbdProtocol() {
    }

    /** The name of an option, for messages. */
    static String optionName(int option) {
        switch (option) {
            case OPT_ABORT: return "NBD_OPT_ABORT";
            case OPT_STARTTLS: return "NBD_OPT_STARTTLS";
            case OPT_GO: return "NBD_OPT_GO";
            case OPT_STRUCTURED_REPLY: return "NBD_OPT_STRUCTURED_REPLY";
            default: return "option " + option;
        }
    }

    /** The name of an option reply type, for messages. */
    static String replyName(int type) {
        switch (type) {
            case REP_ACK: return "NBD_REP_ACK";
            case REP_ERR_UNSUP: return "NBD_REP_ERR_UNSUP";
            case REP_ERR_POLICY: return "NBD_REP_ERR_POLICY";
            case REP_ERR_INVALID: return "NBD_REP_ERR_INVALID";
            case REP_ERR_TLS_REQD: return "NBD_REP_ERR_TLS_REQD";
            case REP_ERR_UNKNOWN: return "NBD_REP_ERR_UNKNOWN";
            default: return (type & REP_FLAG_ERROR) != 0 ? "error reply " + (type & ~REP_FLAG_ERROR) : "reply " + type;
        }
    }

    /** The errno name of an NBD error value, for messages. */
    static String errorName(int error) {
        switch (error) {
            case 1: return "EPERM";
            case 5: return "EIO";
            case 12: return "ENOMEM";
            case 22: return "EINVAL";
            case 28: return "ENOSPC";
            case 75: return "EOVERFLOW";
            case 95: return "ENOTSUP";
            case 108: return "ESHUTDOWN";
            default: return "error " + error;
        }
    }
}
