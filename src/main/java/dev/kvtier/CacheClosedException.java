package dev.kvtier;

/** The cache was closed: no call but {@code close()} and {@code stats()} may be made on it, nor on its handles. */
public final class CacheClosedException extends KvTierException {
    private static final long serialVersionUID = 1L;

    CacheClosedException(String message) {
        super(message, null);
    }
}
