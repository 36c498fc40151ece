package dev.kvtier;

import java.util.List;

/** The JVM lacks flags kvtier's off-heap memory needs (Chronicle Bytes); the message has the line to add. */
public final class MissingJvmFlagsException extends KvTierException {
    private static final long serialVersionUID = 1L;
    private final List<String> missing;

    MissingJvmFlagsException(List<String> missing, String required) {
        super("kvtier needs JVM flags for Chronicle Bytes; missing: " + String.join(" ", missing)
                + ". Start the JVM with: " + required, null);
        this.missing = List.copyOf(missing);
    }

    /** The flags missing, one per element. */
    public List<String> missingFlags() {
        return missing;
    }
}
