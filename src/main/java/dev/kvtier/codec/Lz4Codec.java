package dev.kvtier.codec;

import dev.kvtier.format.FormatException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.UnsafeMemory;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 block compression (lz4-java; the safe decompressor only, its output length checked
 * against the header), optionally after a byte shuffle for 2-byte element types: bf16 and fp16
 * KV compresses far better once the high bytes (sign, exponent: few distinct values) are
 * separated from the noisy low bytes. The shuffle writes all even-index bytes, then all
 * odd-index bytes (a trailing odd byte stays last); on direct buffers it works on 8 bytes at a
 * time in native memory, on heap buffers byte by byte.
 */
public final class Lz4Codec implements BlockCodec {
    /** Codec ids as written in slot headers. */
    public static final int ID_LZ4 = 1;
    public static final int ID_LZ4_SHUFFLE2 = 2;

    private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
    private static final UnsafeMemory MEMORY = UnsafeMemory.MEMORY;
    private static final boolean BIG_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;
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
        if (n == 0) {
            return -1;
        }
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
        if (src.isDirect() && dst.isDirect()) {
            shuffle(Jvm.address(src) + from, Jvm.address(dst) + to, n);
            return;
        }
        int half = (n + 1) / 2;
        for (int i = 0; i < n; i++) {
            dst.put(to + ((i & 1) == 0 ? i / 2 : half + i / 2), src.get(from + i));
        }
    }

    /** The inverse of {@link #shuffle}. */
    static void unshuffle(ByteBuffer src, int from, ByteBuffer dst, int to, int n) {
        if (src.isDirect() && dst.isDirect()) {
            unshuffle(Jvm.address(src) + from, Jvm.address(dst) + to, n);
            return;
        }
        int half = (n + 1) / 2;
        for (int i = 0; i < n; i++) {
            dst.put(to + i, src.get(from + ((i & 1) == 0 ? i / 2 : half + i / 2)));
        }
    }

    /** Native-memory shuffle, 8 bytes at a time (little-endian words). */
    private static void shuffle(long src, long dst, int n) {
        int half = (n + 1) / 2;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long x = littleEndian(MEMORY.readLong(src + i));
            MEMORY.writeInt(dst + i / 2, littleEndian((int) compact(x)));
            MEMORY.writeInt(dst + half + i / 2, littleEndian((int) compact(x >>> 8)));
        }
        for (; i < n; i++) {
            MEMORY.writeByte(dst + ((i & 1) == 0 ? i / 2 : half + i / 2), MEMORY.readByte(src + i));
        }
    }

    private static void unshuffle(long src, long dst, int n) {
        int half = (n + 1) / 2;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long even = spread(littleEndian(MEMORY.readInt(src + i / 2)) & 0xFFFFFFFFL);
            long odd = spread(littleEndian(MEMORY.readInt(src + half + i / 2)) & 0xFFFFFFFFL);
            MEMORY.writeLong(dst + i, littleEndian(even | (odd << 8)));
        }
        for (; i < n; i++) {
            MEMORY.writeByte(dst + i, MEMORY.readByte(src + ((i & 1) == 0 ? i / 2 : half + i / 2)));
        }
    }

    private static long littleEndian(long v) {
        return BIG_ENDIAN ? Long.reverseBytes(v) : v;
    }

    private static int littleEndian(int v) {
        return BIG_ENDIAN ? Integer.reverseBytes(v) : v;
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
