package dev.kvtier.device;

/**
 * The deadline of the device request the current thread is serving, so that a device whose
 * requests can wait (a network device: a reply, a reconnect) fails them by the caller's
 * deadline, not by its own timeout counted from when it started: the bound a caller was
 * promised then holds end to end, queue wait included. Set by the I/O engine around each
 * request; none outside one. Allocates nothing.
 */
public final class RequestDeadline {
    /** Per thread: the deadline, or {@link #NONE}. */
    private static final ThreadLocal<long[]> DEADLINE = ThreadLocal.withInitial(() -> new long[] {RequestDeadline.NONE});
    private static final long NONE = Long.MIN_VALUE;

    private RequestDeadline() {
    }

    /** Runs the current thread's next device calls under {@code nanoTime} (a {@link System#nanoTime} value). */
    public static void set(long nanoTime) {
        DEADLINE.get()[0] = nanoTime == NONE ? NONE + 1 : nanoTime;
    }

    /** The current thread serves no request with a deadline any more. */
    public static void clear() {
        DEADLINE.get()[0] = NONE;
    }

    /** Nanoseconds left before the current request's deadline (at most {@code limit}; negative when past). */
    public static long remainingNanos(long limit) {
        long d = DEADLINE.get()[0];
        return d == NONE ? limit : Math.min(limit, d - System.nanoTime());
    }
}
