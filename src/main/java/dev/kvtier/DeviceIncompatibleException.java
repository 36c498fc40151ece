package dev.kvtier;

/**
 * A tier's device holds kvtier data this cache cannot use: another format version, block size,
 * slot geometry or set ways, sealed with another secret (or sealed when this cache has no
 * secret, or the other way round). The message names the device, what differs and how to
 * reformat it ({@link KvTierCacheBuilder#reinitializeIncompatibleDevices}, which loses its
 * blocks). Nothing was written to the device.
 */
public final class DeviceIncompatibleException extends KvTierException {
    private static final long serialVersionUID = 1L;
    private final Tier tier;

    DeviceIncompatibleException(Tier tier, String message, Throwable cause) {
        super(message, cause);
        this.tier = tier;
    }

    /** The tier whose device is incompatible: {@link Tier#SSD} or {@link Tier#REMOTE}. */
    public Tier tier() {
        return tier;
    }
}
