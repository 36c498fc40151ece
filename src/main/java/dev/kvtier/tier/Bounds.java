package dev.kvtier.tier;

/**
 * Whether internal bounds checks run. On by default; {@code -Dkvtier.boundsChecks=false} turns
 * them off, and because the flag is {@code static final} the JIT then removes the checks.
 */
public final class Bounds {
    public static final boolean CHECKED =
            !"false".equalsIgnoreCase(System.getProperty("kvtier.boundsChecks"));

    private Bounds() {
    }
}
