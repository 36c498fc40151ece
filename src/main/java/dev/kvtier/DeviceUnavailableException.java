package dev.kvtier;

/**
 * A tier's device could not be opened or read at {@code build()}: a file that cannot be
 * created or is in use by another process, a file that is not a regular file or block device,
 * an NBD server that does not answer or refuses the export. A server may build again without
 * that tier ({@link #tier()}), or retry later.
 */
public final class DeviceUnavailableException extends KvTierException {
    private static final long serialVersionUID = 1L;
    private final Tier tier;

    DeviceUnavailableException(Tier tier, String message, Throwable cause) {
        super(message, cause);
        this.tier = tier;
    }

    /** The tier whose device is unavailable: {@link Tier#SSD} or {@link Tier#REMOTE}. */
    public Tier tier() {
        return tier;
    }
}
