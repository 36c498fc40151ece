package dev.kvtier.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Block payloads for the demo and the benchmarks: random bytes, or bf16-like KV. */
final class Payloads {
    /** What a generated block holds. */
    enum Kind {
        /** Uniformly random bytes: incompressible, the worst case for a codec. */
        RANDOM,
        /**
         * bf16 values as KV tensors hold them: little-endian 2-byte elements, each the top half of
         * a float drawn from a normal distribution whose scale changes every 128 elements (one
         * head dimension), so signs and exponents repeat while mantissas are noise.
         */
        BF16
    }

    private Payloads() {
    }

    /** A new direct buffer of {@code bytes} filled with {@code kind} data from {@code seed}. */
    static ByteBuffer block(int bytes, Kind kind, long seed) {
        ByteBuffer b = ByteBuffer.allocateDirect(bytes);
        fill(b, kind, seed);
        return b;
    }

    /** Fills {@code b[0, capacity)} with {@code kind} data from {@code seed}; position and limit stay. */
    static void fill(ByteBuffer b, Kind kind, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        ByteBuffer d = b.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        if (kind == Kind.RANDOM) {
            while (d.remaining() >= 8) {
                d.putLong(r.nextLong());
            }
        } else {
            double scale = 1;
            for (int i = 0; d.remaining() >= 2; i++) {
                if (i % 128 == 0) {
                    scale = Math.exp(r.nextDouble(-3, 1));
                }
                float v = (float) (r.nextGaussian() * scale);
                d.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }
        while (d.hasRemaining()) {
            d.put((byte) r.nextInt());
        }
    }
}
