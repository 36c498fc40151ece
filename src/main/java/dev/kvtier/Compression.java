package dev.kvtier;

/** How a persistent tier encodes block payloads. A block that does not shrink is stored raw. */
public enum Compression {
    /** Payloads are stored as they are. */
    NONE,
    /** LZ4 block compression. */
    LZ4,
    /** LZ4 after splitting 2-byte elements into high and low bytes: for bf16 and fp16 KV. */
    LZ4_SHUFFLE2
}
