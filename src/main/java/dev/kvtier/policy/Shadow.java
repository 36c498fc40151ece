package dev.kvtier.policy;

/**
 * A miniature simulation of one candidate policy, fed the sampled keys the real cache looks up,
 * request by request in prefix order.
 */
interface Shadow {
    /** A new request begins. */
    void onRequest();

    /** A sampled key looked up, in request order; returns whether it hit. */
    boolean onLookup(long hi, long lo);

    /** Keys the candidate has written to its lowest tier so far. */
    long writes();

    /** Whether the candidate's lowest tier has taken as many keys as it has slots. */
    boolean filled();
}
