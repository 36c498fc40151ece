package dev.kvtier;

/**
 * The base of what kvtier throws for a condition a server can act on without reading messages:
 * a device it cannot reach ({@link DeviceUnavailableException}: start without that tier, or
 * retry), a device in another format ({@link DeviceIncompatibleException}: reformat it or point
 * elsewhere), JVM flags missing ({@link MissingJvmFlagsException}), the cache closed
 * ({@link CacheClosedException}). Bad arguments are {@link IllegalArgumentException}s instead.
 * It is an {@link IllegalStateException}: code that catches that catches these too.
 */
public class KvTierException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    KvTierException(String message, Throwable cause) {
        super(message, cause);
    }
}
