package dev.kvtier.codec;

import dev.kvtier.format.FormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 block compression (lz4-java; the safe decompressor only, its output length checked
 * against the header), optionally after a byte shuffle for 2-byte element types: bf16 and fp16
 * KV compresses far better once the high bytes (sign, exponent: few distinct values) are
 * separated from the noisy low bytes. The shuffle writes all even-index bytes, then all
 * odd-index bytes (a trailing odd byte stays last); it works on 8 bytes at a time.
 */
public final class Lz4Codec implements BlockCodec {
    /** Codec ids as written in slot headers. */
    public static final int ID_LZ4 = 1;
    public static final int ID_LZ4_SHUFFLE2 = 2;

    private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
    private static final ThreadLocal<ByteBuffer[]> SCRATCH = ThreadLocal.withInitial(() -> new ByteBuffer[1]);

    private final boolean shuffle;
    private final LZ4Compressor compressor = FACTORY.fastCompressor();
    private final LZ4SafeDecompressor decompressor = FACTORY.safeDecompressor();

    public Lz4Codec(boolean shuffle2) {
        this.shuffle = shuffle2;
    }

    @Override
    public int id() {
        return shuffle ? ID_LZ4_SHUFFLE2 : ID_LZ4;
    }

    @Override
    public int encode(ByteBuffer src, ByteBuffer dst) {
        int n = src.remaining();
        ByteBuffer in = src;
        if (shuffle) {
            in = scratch(n);
            shuffle(src, src.position(), in, 0, n);
        }
        try {
            int len = compressor.compress(in, in.position(), n, dst, dst.position(), Math.min(dst.remaining(), n - 1));
            return len < n ? len : -1;
        } catch (LZ4Exception notSmaller) {
            return -1;
        }
    }

    @Override
    public void decode(ByteBuffer src, ByteBuffer dst, int blockLength) throws FormatException {
        if (dst.remaining() < blockLength) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, block is " + blockLength);
        }
        ByteBuffer out = shuffle ? scratch(blockLength) : dst;
        int outAt = shuffle ? 0 : dst.position();
        int n;
        try {
            n = decompressor.decompress(src, src.position(), src.remaining(), out, outAt, blockLength);
        } catch (LZ4Exception e) {
            throw new FormatException("LZ4 payload does not decode: " + e.getMessage());
        }
        if (n != blockLength) {
            throw new FormatException("LZ4 payload decodes to " + n + " bytes, header says " + blockLength);
        }
        if (shuffle) {
            unshuffle(out, 0, dst, dst.position(), blockLength);
        }
    }

    /** even bytes of {@code src[from, from+n)} to {@code dst[to, to+h)}, odd ones after them (h = ceil(n/2)). */
    static void shuffle(ByteBuffer src, int from, ByteBuffer dst, int to, int n) {
        ByteBuffer s = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer d = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int half = (n + 1) / 2;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long x = s.getLong(from + i);
            d.putInt(to + i / 2, (int) compact(x));
            d.putInt(to + half + i / 2, (int) compact(x >>> 8));
        }
        for (; i < n; i++) {
            d.put(to + ((i & 1) == 0 ? i / 2 : half + i / 2), s.get(from + i));
        }
    }

    /** The inverse of {@link #shuffle}. */
    static void unshuffle(ByteBuffer src, int from, ByteBuffer dst, int to, int n) {
        ByteBuffer s = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer d = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int half = (n + 1) / 2;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long even = spread(s.getInt(from + i / 2) & 0xFFFFFFFFL);
            long odd = spread(s.getInt(from + half + i / 2) & 0xFFFFFFFFL);
            d.putLong(to + i, even | (odd << 8));
        }
        for (; i < n; i++) {
            d.put(to + i, s.get(from + ((i & 1) == 0 ? i / 2 : half + i / 2)));
        }
    }

    /** Bytes 0, 2, 4, 6 of {@code x} packed into the low 4 bytes. */
    private static long compact(long x) {
        long e = x & 0x00FF00FF00FF00FFL;
        e = (e | (e >>> 8)) & 0x0000FFFF0000FFFFL;
        return (e | (e >>> 16)) & 0xFFFFFFFFL;
    }

    /** The inverse of {@link #compact}: the low 4 bytes to bytes 0, 2, 4, 6. */
    private static long spread(long x) {
        long e = (x | (x << 16)) & 0x0000FFFF0000FFFFL;
        return (e | (e << 8)) & 0x00FF00FF00FF00FFL;
    }

    private static ByteBuffer scratch(int n) {
        ByteBuffer[] holder = SCRATCH.get();
        if (holder[0] == null || holder[0].capacity() < n) {
            holder[0] = ByteBuffer.allocateDirect(n);
        }
        return holder[0];
    }
}
