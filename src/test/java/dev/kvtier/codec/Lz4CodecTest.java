package dev.kvtier.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.booleans;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.kvtier.format.FormatException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * LZ4 with and without the 2-byte shuffle: exact round trips for every kind and length of
 * data, the shuffle's definition, "does not shrink" as -1, and broken input as
 * {@link FormatException} with nothing written outside the block.
 */
class Lz4CodecTest {
    private static final byte GUARD = (byte) 0xC3;

    enum Kind { RANDOM, ZERO, BF16, RUNS }

    /**
     * {@code n} bytes of the given kind. BF16: little-endian bf16 values, mostly positive and
     * mostly in [1, 2), as KV tensors are: the high bytes (sign, exponent) take few values, the
     * low bytes (exponent bit, mantissa) are noise, so LZ4 alone finds nothing to match.
     */
    static byte[] data(Kind kind, int n, long seed) {
        Random rnd = new Random(seed);
        byte[] b = new byte[n];
        switch (kind) {
            case RANDOM -> rnd.nextBytes(b);
            case ZERO -> { }
            case BF16 -> {
                for (int i = 0; i + 1 < n; i += 2) {
                    double scale = rnd.nextInt(10) == 0 ? 0.5 : 1;
                    float f = (float) ((1 + rnd.nextDouble()) * scale * (rnd.nextInt(10) == 0 ? -1 : 1));
                    int bf16 = Float.floatToRawIntBits(f) >>> 16;
                    b[i] = (byte) bf16; // little-endian, as a GPU lays out bf16
                    b[i + 1] = (byte) (bf16 >>> 8);
                }
                if ((n & 1) != 0) {
                    b[n - 1] = 0x3F;
                }
            }
            default -> {
                for (int i = 0; i < n; ) {
                    byte v = (byte) rnd.nextInt();
                    for (int run = 1 + rnd.nextInt(40); run > 0 && i < n; run--) {
                        b[i++] = v;
                    }
                }
            }
        }
        return b;
    }

    @Test
    void shuffleThenUnshuffleIsTheIdentityAndMatchesItsDefinition() {
        // buffers: 0 all direct (the native-memory path), 1 all heap, 2 heap source, 3 heap target
        qt().withExamples(2000).forAll(integers().between(0, 300), integers().between(0, 9), integers().between(0, 9),
                longs().all()).checkAssert((n, from, to, seed) -> {
                    int kinds = (int) Math.floorMod(seed, 4L);
                    byte[] src = new byte[from + n + 5];
                    new Random(seed).nextBytes(src);
                    ByteBuffer s = buffer(src.length, kinds == 0 || kinds == 3);
                    s.put(0, src);
                    ByteBuffer shuffled = buffer(to + n + 5, kinds == 0 || kinds == 2);
                    fill(shuffled, GUARD);
                    Lz4Codec.shuffle(s, from, shuffled, to, n);
                    int half = (n + 1) / 2;
                    for (int i = 0; i < n; i++) {
                        int at = (i & 1) == 0 ? i / 2 : half + i / 2;
                        assertEquals(src[from + i], shuffled.get(to + at), "byte " + i + " of " + n);
                    }
                    assertGuarded(shuffled, to, n);
                    ByteBuffer back = buffer(from + n + 5, kinds == 0 || kinds == 3);
                    fill(back, GUARD);
                    Lz4Codec.unshuffle(shuffled, to, back, from, n);
                    byte[] got = new byte[n];
                    back.get(from, got);
                    assertArrayEquals(Arrays.copyOfRange(src, from, from + n), got);
                    assertGuarded(back, from, n);
                    assertEquals(0, s.position());
                    assertEquals(0, shuffled.position());
                });
    }

    private static ByteBuffer buffer(int n, boolean direct) {
        return direct ? ByteBuffer.allocateDirect(n) : ByteBuffer.allocate(n);
    }

    @Test
    void everyKindAndLengthRoundTripsExactly() {
        qt().withExamples(1500).forAll(integers().between(0, Kind.values().length - 1),
                integers().between(1, 5000).mix(integers().between(1, 17), 40), booleans().all(), longs().all())
                .checkAssert((kind, n, shuffle, seed) -> roundTrip(Kind.values()[kind], n, shuffle, seed));
    }

    @Test
    void fixedCases() {
        for (boolean shuffle : new boolean[] {false, true}) {
            for (int n : new int[] {1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 4095, 4096, 4097, 1 << 16,
                (1 << 16) + 3}) {
                for (Kind kind : Kind.values()) {
                    int len = roundTrip(kind, n, shuffle, n * 31L + kind.ordinal());
                    if (kind == Kind.ZERO && n >= 64) {
                        assertTrue(len > 0 && len < n / 4, "zeros of " + n + " compress: " + len);
                    }
                    if (kind == Kind.RANDOM && n >= 64) {
                        assertEquals(-1, len, "random bytes do not shrink: " + n);
                    }
                    if (n < 8) {
                        assertEquals(-1, len, "nothing under 8 bytes shrinks: " + kind + " " + n);
                    }
                }
            }
        }
    }

    /** Encodes, checks the contract, decodes and checks the bytes; returns the encoded length. */
    private static int roundTrip(Kind kind, int n, boolean shuffle, long seed) {
        Lz4Codec codec = new Lz4Codec(shuffle);
        byte[] data = data(kind, n, seed);
        int srcAt = (int) Math.floorMod(seed, 7L);
        ByteBuffer src = (seed & 1) == 0 ? ByteBuffer.allocateDirect(srcAt + n + 3)
                : ByteBuffer.allocate(srcAt + n + 3);
        src.put(srcAt, data).position(srcAt).limit(srcAt + n);
        // the encoder gets exactly n bytes of room, as the slot tier gives it
        ByteBuffer enc = ByteBuffer.allocateDirect(n + 16).position(3).limit(3 + n);
        fill(enc, GUARD);
        int len = codec.encode(src, enc);
        assertEquals(srcAt, src.position());
        assertEquals(srcAt + n, src.limit());
        assertEquals(3, enc.position());
        assertTrue(len == -1 || (len > 0 && len < n), "encoded length " + len + " of " + n);
        if (len < 0) {
            assertGuarded(enc, 3, n); // a refusal may have used its room, but nothing past it
            return len;
        }
        assertGuarded(enc, 3, len);
        ByteBuffer stored = enc.duplicate().position(3).limit(3 + len);
        for (boolean direct : new boolean[] {true, false}) {
            ByteBuffer out = direct ? ByteBuffer.allocateDirect(n + 20) : ByteBuffer.allocate(n + 20);
            fill(out, GUARD);
            out.position(5).limit(5 + n);
            decodeOrFail(codec, stored.duplicate(), out, n);
            assertEquals(5, out.position());
            byte[] got = new byte[n];
            out.duplicate().get(got);
            assertArrayEquals(data, got, () -> kind + " of " + n + " shuffle " + shuffle);
            assertGuarded(out, 5, n);
        }
        // a heap input decodes as well
        ByteBuffer heapIn = ByteBuffer.allocate(len);
        heapIn.put(stored.duplicate()).flip();
        ByteBuffer out = ByteBuffer.allocateDirect(n);
        decodeOrFail(codec, heapIn, out, n);
        assertEquals(ByteBuffer.wrap(data), out);
        return len;
    }

    @Test
    void shuffleHelpsBf16() {
        int n = 64 * 1024;
        byte[] bf16 = data(Kind.BF16, n, 7);
        int plain = encodedLength(new Lz4Codec(false), bf16);
        int shuffled = encodedLength(new Lz4Codec(true), bf16);
        assertTrue(shuffled > 0, "shuffled bf16 shrinks");
        assertTrue(shuffled < 0.75 * n, "shuffled bf16 shrinks: " + shuffled + " of " + n);
        assertTrue(plain == -1 || shuffled < plain, "shuffle " + shuffled + " vs plain " + plain);
    }

    @Test
    void incompressibleDataIsRefused() {
        for (int n : new int[] {16, 100, 4096, 1 << 20}) {
            byte[] random = data(Kind.RANDOM, n, n);
            assertEquals(-1, encodedLength(new Lz4Codec(false), random));
            assertEquals(-1, encodedLength(new Lz4Codec(true), random));
        }
        // a destination with less room than the input's compressed size is a refusal too
        byte[] zeros = new byte[4096];
        ByteBuffer dst = ByteBuffer.allocateDirect(4);
        assertEquals(-1, new Lz4Codec(false).encode(ByteBuffer.wrap(zeros), dst));
    }

    @Test
    void truncatedInputIsAFormatException() {
        for (boolean shuffle : new boolean[] {false, true}) {
            Lz4Codec codec = new Lz4Codec(shuffle);
            for (Kind kind : new Kind[] {Kind.ZERO, shuffle ? Kind.BF16 : Kind.RUNS, Kind.RUNS}) {
                int n = 4099;
                byte[] data = data(kind, n, 11);
                byte[] enc = encode(codec, data);
                for (int cut = 0; cut < enc.length; cut++) {
                    ByteBuffer out = ByteBuffer.allocateDirect(n + 8);
                    fill(out, GUARD);
                    out.limit(n);
                    int c = cut;
                    assertThrows(FormatException.class,
                            () -> codec.decode(ByteBuffer.wrap(enc, 0, c).slice(), out, n),
                            () -> kind + " truncated to " + c + " of " + enc.length);
                    assertGuarded(out, 0, n);
                }
            }
        }
    }

    @Test
    void aWrongBlockLengthIsAFormatException() throws FormatException {
        Lz4Codec codec = new Lz4Codec(false);
        byte[] enc = encode(codec, new byte[1000]);
        FormatException shorter = assertThrows(FormatException.class,
                () -> codec.decode(ByteBuffer.wrap(enc), ByteBuffer.allocateDirect(2000), 1001));
        assertEquals("LZ4 payload decodes to 1000 bytes, header says 1001", shorter.getMessage());
        ByteBuffer out = ByteBuffer.allocateDirect(2000);
        fill(out, GUARD);
        assertThrows(FormatException.class, () -> codec.decode(ByteBuffer.wrap(enc), out, 999));
        assertGuarded(out, 0, 999);
        assertThrows(IllegalArgumentException.class,
                () -> codec.decode(ByteBuffer.wrap(enc), ByteBuffer.allocateDirect(999), 1000));
        codec.decode(ByteBuffer.wrap(enc), ByteBuffer.allocateDirect(1000), 1000);
    }

    @Test
    void corruptedInputIsAFormatExceptionOrExactlyTheBlockLength() {
        // LZ4 carries no checksum (the slot header's CRC does): a corrupted stream may decode to
        // other bytes, but only ever to exactly blockLength of them, and never past them.
        qt().withExamples(2000).forAll(integers().between(0, 2), booleans().all(), integers().between(1, 8),
                longs().all()).checkAssert((kind, shuffle, flips, seed) -> {
                    Lz4Codec codec = new Lz4Codec(shuffle);
                    Kind k = new Kind[] {Kind.ZERO, shuffle ? Kind.BF16 : Kind.RUNS, Kind.RUNS}[kind];
                    Random rnd = new Random(seed);
                    int n = 1 + rnd.nextInt(3000) + 64;
                    byte[] enc = encode(codec, data(k, n, seed));
                    for (int i = 0; i < flips; i++) {
                        enc[rnd.nextInt(enc.length)] ^= (byte) (1 + rnd.nextInt(255));
                    }
                    ByteBuffer out = ByteBuffer.allocateDirect(n + 64);
                    fill(out, GUARD);
                    out.position(7).limit(7 + n);
                    try {
                        codec.decode(ByteBuffer.wrap(enc), out, n);
                    } catch (FormatException expected) {
                        // fine: detected
                    }
                    assertGuarded(out, 7, n);
                });
    }

    @Test
    void codecsAreThreadSafe() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Future<?>[] f = new Future<?>[4];
            for (int t = 0; t < f.length; t++) {
                int id = t;
                f[t] = pool.submit(() -> {
                    Lz4Codec shared = (Lz4Codec) Codecs.byId(Lz4Codec.ID_LZ4_SHUFFLE2);
                    for (int i = 0; i < 300; i++) {
                        int n = 1000 + 97 * id + i;
                        byte[] data = data(Kind.BF16, n, id * 1000L + i);
                        byte[] enc = encode(shared, data);
                        ByteBuffer out = ByteBuffer.allocateDirect(n);
                        decodeOrFail(shared, ByteBuffer.wrap(enc), out, n);
                        assertEquals(ByteBuffer.wrap(data), out);
                    }
                    return null;
                });
            }
            for (Future<?> x : f) {
                x.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void idsAreTheHeaderIds() {
        assertEquals(1, new Lz4Codec(false).id());
        assertEquals(2, new Lz4Codec(true).id());
        assertEquals(1, Codecs.byId(1).id());
        assertEquals(2, Codecs.byId(2).id());
        assertEquals(null, Codecs.byId(0));
        assertEquals(null, Codecs.byId(3));
    }

    private static int encodedLength(Lz4Codec codec, byte[] data) {
        return codec.encode(ByteBuffer.wrap(data), ByteBuffer.allocateDirect(data.length));
    }

    static byte[] encode(Lz4Codec codec, byte[] data) {
        ByteBuffer dst = ByteBuffer.allocateDirect(data.length);
        int len = codec.encode(ByteBuffer.wrap(data), dst);
        assertTrue(len > 0, "expected to compress");
        byte[] out = new byte[len];
        dst.get(0, out);
        return out;
    }

    private static void decodeOrFail(Lz4Codec codec, ByteBuffer src, ByteBuffer dst, int n) {
        try {
            codec.decode(src, dst, n);
        } catch (FormatException e) {
            fail("valid input did not decode: " + e.getMessage());
        }
    }

    private static void fill(ByteBuffer b, byte v) {
        ByteBuffer all = b.duplicate().clear();
        for (int i = 0; i < all.capacity(); i++) {
            all.put(i, v);
        }
    }

    /** Bytes of {@code b} outside [from, from+n) still hold the guard value. */
    private static void assertGuarded(ByteBuffer b, int from, int n) {
        ByteBuffer all = b.duplicate().clear();
        for (int i = 0; i < all.capacity(); i++) {
            if (i < from || i >= from + n) {
                assertEquals(GUARD, all.get(i), "byte " + i + " outside [" + from + ", " + (from + n) + ") written");
            }
        }
    }
}
