package dev.kvtier.key;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 of the chain step {@code tag || parent(16 bytes, big-endian hi then lo) || body},
 * truncated to its first 128 bits (big-endian hi, lo). Tag 1 hashes token ids (each a 4-byte
 * little-endian int), tag 2 hashes one caller-supplied 64-bit block hash (little-endian).
 *
 * <p>The encoding is fixed forever for format version 1 of the keys: it is the same in every
 * JVM, process and machine, which the published test vectors in the tests pin down. One
 * digest and one scratch array per thread: hashing allocates nothing per block once warm.
 */
final class ChainHasher {
    static final byte TAG_TOKENS = 1;
    static final byte TAG_EXTERNAL = 2;

    private static final ThreadLocal<ChainHasher> LOCAL = ThreadLocal.withInitial(ChainHasher::new);

    private final MessageDigest sha256;
    private final byte[] out = new byte[32];
    private byte[] scratch = new byte[17 + 4 * 64];

    private ChainHasher() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    static ChainHasher get() {
        return LOCAL.get();
    }

    /** Hashes {@code tokens[off, off+count)} under the parent; result in {@link #hi()}, {@link #lo()}. */
    void hashTokens(long parentHi, long parentLo, int[] tokens, int off, int count) {
        int len = 17 + 4 * count;
        if (scratch.length < len) {
            scratch = new byte[len];
        }
        putHeader(TAG_TOKENS, parentHi, parentLo);
        for (int i = 0, p = 17; i < count; i++, p += 4) {
            int t = tokens[off + i];
            scratch[p] = (byte) t;
            scratch[p + 1] = (byte) (t >>> 8);
            scratch[p + 2] = (byte) (t >>> 16);
            scratch[p + 3] = (byte) (t >>> 24);
        }
        digest(len);
    }

    /** Hashes one external 64-bit block hash under the parent. */
    void hashExternal(long parentHi, long parentLo, long blockHash) {
        putHeader(TAG_EXTERNAL, parentHi, parentLo);
        for (int i = 0; i < 8; i++) {
            scratch[17 + i] = (byte) (blockHash >>> (8 * i));
        }
        digest(25);
    }

    long hi() {
        return readLong(0);
    }

    long lo() {
        return readLong(8);
    }

    private void putHeader(byte tag, long parentHi, long parentLo) {
        scratch[0] = tag;
        for (int i = 0; i < 8; i++) {
            scratch[1 + i] = (byte) (parentHi >>> (56 - 8 * i));
            scratch[9 + i] = (byte) (parentLo >>> (56 - 8 * i));
        }
    }

    private void digest(int len) {
        sha256.update(scratch, 0, len);
        try {
            sha256.digest(out, 0, out.length);
        } catch (java.security.DigestException e) {
            throw new IllegalStateException(e);
        }
    }

    private long readLong(int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (out[off + i] & 0xFF);
        }
        return v;
    }
}
