package dev.kvtier;

/**
 * A tier's device holds kvtier data this cache cannot use: another format version, block size,
 * slot geometry or set ways, sealed with another secret (or sealed when this cache has no
 * secret, or the other way round). The message names the device, what differs and how to
 * reformat it ({@link KvTierCacheBuilder#reinitializeIncompatibleDevices}, which loses its
 * blocks). Nothing was written to the device.
 */
public final class DeviceIncompatibleException extends DeviceException {
    private static final long serialVersionUID = 1L;

    DeviceIncompatibleException(Tier tier, String message, Throwable cause) {
        super(tier, message, cause);
    }
}
