package dev.kvtier.nbd;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Test data for the NBD tests: a byte pattern that is a function of the device offset and a
 * seed (so a shifted, stale or misplaced range never verifies), and bounded waits.
 */
final class NbdBytes {
    private NbdBytes() {
    }

    /** The pattern byte at device offset {@code at} for {@code seed}. */
    static byte at(long seed, long at) {
        long x = (at + 1) * 0x9E3779B97F4A7C15L + seed * 0xC2B2AE3D27D4EB4FL;
        x ^= x >>> 29;
        x *= 0xBF58476D1CE4E5B9L;
        return (byte) (x >>> 56);
    }

    /** A direct buffer holding the pattern for device range [offset, offset + length). */
    static ByteBuffer pattern(long seed, long offset, int length) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int i = 0; i < length; i++) {
            b.put(i, at(seed, offset + i));
        }
        return b;
    }

    /** The pattern for device range [offset, offset + length), as an array. */
    static byte[] patternArray(long seed, long offset, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = at(seed, offset + i);
        }
        return b;
    }

    /** Fails unless {@code b}'s remaining bytes are the pattern for the device range at {@code offset}. */
    static void assertPattern(long seed, long offset, ByteBuffer b, String what) {
        int p = b.position();
        for (int i = 0; i < b.remaining(); i++) {
            byte want = at(seed, offset + i);
            byte got = b.get(p + i);
            if (got != want) {
                fail(what + ": byte " + i + " of " + b.remaining() + " (device offset " + (offset + i) + ") is "
                        + got + ", expected " + want);
            }
        }
    }

    /** Fails unless {@code b}'s remaining bytes all equal {@code value}. */
    static void assertAll(ByteBuffer b, byte value, String what) {
        int p = b.position();
        for (int i = 0; i < b.remaining(); i++) {
            if (b.get(p + i) != value) {
                fail(what + ": byte " + i + " of " + b.remaining() + " is " + b.get(p + i) + ", expected " + value);
            }
        }
    }

    static ByteBuffer filled(int length, byte value) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int i = 0; i < length; i++) {
            b.put(i, value);
        }
        return b;
    }

    /** Waits for {@code f} (bounded: a hang fails the test instead of blocking the build). */
    static void await(CompletableFuture<?> f, String what) {
        try {
            f.get(20, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            fail(what + ": no completion within 20 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(what + ": interrupted");
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Waits up to {@code millis} for {@code f} to fail, and returns its cause; fails the test if
     * it succeeds or does not complete in time.
     */
    static Throwable awaitFailure(CompletableFuture<?> f, long millis, String what) {
        try {
            f.get(millis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            fail(what + ": still not complete after " + millis + " ms (a hang)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(what + ": interrupted");
        } catch (ExecutionException e) {
            return e.getCause();
        }
        return fail(what + ": succeeded, expected a failure");
    }
}
