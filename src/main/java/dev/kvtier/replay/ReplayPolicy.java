package dev.kvtier.replay;

import dev.kvtier.CachePolicy;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The policies a replay runs: every server policy ({@link CachePolicy}) and {@link #OPT},
 * Belady's offline optimum, which needs the future and so exists for replays only.
 */
public enum ReplayPolicy {
    ADAPTIVE(CachePolicy.ADAPTIVE), COSTAWARE(CachePolicy.COSTAWARE), LRU(CachePolicy.LRU),
    SECOND_HIT(CachePolicy.SECOND_HIT), WRITE_LIMIT(CachePolicy.WRITE_LIMIT),
    /** Belady's offline optimum with bypass, given every block's next use; for reference only. */
    OPT(null);

    private final CachePolicy server;

    ReplayPolicy(CachePolicy server) {
        this.server = server;
    }

    /** The server policy this is, or null for {@link #OPT}. */
    public CachePolicy cachePolicy() {
        return server;
    }

    /** The command line's name: the server policy's id, or {@code opt}. */
    public String id() {
        return server == null ? "opt" : server.id();
    }

    /** The policy named {@code name} (as {@link #id()}, case-insensitive). */
    public static ReplayPolicy parse(String name) {
        for (ReplayPolicy p : values()) {
            if (p.id().equalsIgnoreCase(name == null ? "" : name.trim())) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown policy '" + name + "': expected one of "
                + Arrays.stream(values()).map(ReplayPolicy::id).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return id();
    }
}
