package dev.kvtier;

/** A tier's device could not serve at {@code build()}; {@link #tier()} says which, so a server can build without it. */
public abstract class DeviceException extends KvTierException {
    private static final long serialVersionUID = 1L;
    private final Tier tier;

    DeviceException(Tier tier, String message, Throwable cause) {
        super(message, cause);
        this.tier = tier;
    }

    /** The tier whose device failed: {@link Tier#SSD} or {@link Tier#REMOTE}. */
    public Tier tier() {
        return tier;
    }
}
