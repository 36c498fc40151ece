package dev.kvtier;

/**
 * A tier's device could not be opened or read at {@code build()}: a file that cannot be
 * created or is in use by another process, a file that is not a regular file or block device,
 * an NBD server that does not answer or refuses the export. A server may build again without
 * that tier ({@link #tier()}), or retry later.
 */
public final class DeviceUnavailableException extends DeviceException {
    private static final long serialVersionUID = 1L;

    DeviceUnavailableException(Tier tier, String message, Throwable cause) {
        super(tier, message, cause);
    }
}
