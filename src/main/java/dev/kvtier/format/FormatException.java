package dev.kvtier.format;

/**
 * Bytes read from a device are not a valid superblock or slot header of this format: wrong
 * magic, version or checksum, or a field out of range. The only exception the decoders throw.
 */
public final class FormatException extends Exception {
    public FormatException(String message) {
        super(message, null, false, false);
    }
}
