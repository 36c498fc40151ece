package dev.kvtier;

/**
 * The future, for the {@link CachePolicy#OPT} reference policy: when each block key will next be
 * looked up. Only an offline replay knows this; servers never configure it.
 */
@FunctionalInterface
public interface NextUseOracle {
    /**
     * The time (any increasing clock, such as a request number) at which key {@code (hi, lo)} is
     * next looked up after now, or {@link Long#MAX_VALUE} when never.
     */
    long nextUse(long hi, long lo);
}
