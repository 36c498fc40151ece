package dev.kvtier;

/**
 * Byte counts in binary units, so that sizes given to the builder read as what they are:
 * {@code .dramCapacityBytes(gib(64))} rather than {@code 64L << 30}. Each throws
 * {@link ArithmeticException} when the count overflows a {@code long}, and
 * {@link IllegalArgumentException} for a negative {@code n}.
 */
public final class ByteSize {
    private ByteSize() {
    }

    /** {@code n} KiB: n × 1,024 bytes. */
    public static long kib(long n) {
        return times(n, 1L << 10);
    }

    /** {@code n} MiB: n × 1,048,576 bytes. */
    public static long mib(long n) {
        return times(n, 1L << 20);
    }

    /** {@code n} GiB: n × 2^30 bytes. */
    public static long gib(long n) {
        return times(n, 1L << 30);
    }

    /** {@code n} TiB: n × 2^40 bytes. */
    public static long tib(long n) {
        return times(n, 1L << 40);
    }

    private static long times(long n, long unit) {
        if (n < 0) {
            throw new IllegalArgumentException("a byte size must not be negative, was " + n);
        }
        return Math.multiplyExact(n, unit);
    }
}
