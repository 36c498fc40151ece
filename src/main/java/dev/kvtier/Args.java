package dev.kvtier;

import dev.kvtier.key.BlockKey;
import java.nio.ByteBuffer;

/** Argument checks shared by the public entry points; each message names what was wrong. */
final class Args {
    private Args() {
    }

    static void requireNonNull(Object o, String name) {
        if (o == null) {
            throw new NullPointerException(name + " must not be null");
        }
    }

    static void requireKey(BlockKey key, int blockTokens) {
        requireNonNull(key, "key");
        if (key.namespace().blockTokens() != blockTokens) {
            throw new IllegalArgumentException("key " + key.toHex() + " comes from a namespace with "
                    + key.namespace().blockTokens() + " tokens per block; this cache uses " + blockTokens);
        }
    }

    /**
     * {@code keys[from, from+count)} is a chain of this cache's keys. An empty chain (a prompt
     * shorter than one block) is valid.
     */
    static void requireChain(BlockKey[] keys, int from, int count, int blockTokens) {
        requireNonNull(keys, "keys");
        if (count < 0) {
            throw new IllegalArgumentException("keys count must not be negative (count " + count + ")");
        }
        if (from < 0 || from > keys.length - count) {
            throw new IllegalArgumentException("keys range [" + from + ", " + ((long) from + count)
                    + ") is outside an array of " + keys.length);
        }
        for (int i = from; i < from + count; i++) {
            if (keys[i] == null) {
                throw new NullPointerException("keys[" + i + "] must not be null");
            }
            requireKey(keys[i], blockTokens);
            if (i > from && !keys[i].isChildOf(keys[i - 1])) {
                throw new IllegalArgumentException("keys[" + i + "] is not the child of keys[" + (i - 1)
                        + "]: keys must be one prefix chain, as Namespace.blockKeys makes them");
            }
        }
    }

    /** {@code buffers[from, from+count)} are blocks: non-null, exactly {@code blockBytes} remaining. */
    static void requireBuffers(ByteBuffer[] buffers, int from, int count, int blockBytes, boolean writable) {
        requireNonNull(buffers, "buffers");
        if (count > 0 && buffers.length < from + count) { // an empty range reads nothing
            throw new IllegalArgumentException(rangeNeeds(from, count, "buffers") + buffers.length);
        }
        for (int i = from; i < from + count; i++) {
            ByteBuffer b = buffers[i];
            if (b == null) {
                throw new NullPointerException("buffers[" + i + "] must not be null");
            }
            if (b.remaining() != blockBytes) {
                throw new IllegalArgumentException("buffers[" + i + "] has " + b.remaining()
                        + " bytes remaining; a block is exactly " + blockBytes + " bytes");
            }
            if (writable && b.isReadOnly()) {
                throw new IllegalArgumentException("buffers[" + i + "] is read-only; load needs writable buffers");
            }
        }
    }

    /** {@code addresses[from, from+count)} are not the null address. */
    static void requireAddresses(long[] addresses, int from, int count) {
        requireNonNull(addresses, "addresses");
        if (count > 0 && addresses.length < from + count) {
            throw new IllegalArgumentException(rangeNeeds(from, count, "addresses") + addresses.length);
        }
        for (int i = from; i < from + count; i++) {
            if (addresses[i] == 0) {
                throw new IllegalArgumentException("addresses[" + i + "] is the null address");
            }
        }
    }

    /**
     * {@code segmentBytes} divides {@code blockBytes}, and every segment of blocks
     * {@code [from, from+count)} has an address other than 0 (each asked once here).
     */
    static void requireSegments(BlockSegments segments, int segmentBytes, int from, int count, int blockBytes) {
        requireNonNull(segments, "segments");
        if (segmentBytes < 1 || segmentBytes > blockBytes || blockBytes % segmentBytes != 0) {
            throw new IllegalArgumentException("segmentBytes must divide the block's " + blockBytes
                    + " bytes, was " + segmentBytes);
        }
        for (int i = from, n = blockBytes / segmentBytes; i < from + count; i++) {
            for (int s = 0; s < n; s++) {
                if (segments.address(i, s) == 0) {
                    throw new IllegalArgumentException("segments.address(" + i + ", " + s + ") is the null address");
                }
            }
        }
    }

    /**
     * The start of the message for too short an array: blocks {@code [from, from+count)} are read
     * from (or written to) the elements of the same indices.
     */
    private static String rangeNeeds(int from, int count, String what) {
        if (from == 0) {
            return count + " blocks need " + count + " " + what + ", got ";
        }
        return "blocks [" + from + ", " + (from + count) + ") are in " + what + "[" + from + ", " + (from + count)
                + ") (indexed like the keys, as load's are), so " + (from + count) + " " + what + " are needed, got ";
    }

    static void requireFits(int count, int capacityBlocks) {
        if (count > capacityBlocks) {
            throw new IllegalArgumentException("a store of " + count + " blocks exceeds the DRAM tier's "
                    + capacityBlocks + " blocks (with a tier below DRAM, storeWaitMillis lets it stream through)");
        }
    }
}
