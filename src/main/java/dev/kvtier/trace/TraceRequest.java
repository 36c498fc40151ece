package dev.kvtier.trace;

import java.util.Arrays;
import java.util.Objects;

/**
 * One request. hashIds: one id per block, in prompt order; the last block may be partial
 * (tokens beyond {@code hashIds.length * blockTokens} are never cacheable). Ids are only
 * meaningful together with {@code source}, the index of the file they came from (the replay's
 * namespace). The array is shared, not copied: do not modify it. Equality compares the ids'
 * contents.
 *
 * @param timeSeconds  arrival time in seconds from the start of its file's trace
 * @param inputTokens  prompt tokens
 * @param outputTokens generated tokens
 * @param hashIds      block ids in prompt order
 * @param source       0-based index of the trace file (files of a directory sorted by name)
 */
public record TraceRequest(double timeSeconds, int inputTokens, int outputTokens, long[] hashIds, int source) {

    public TraceRequest {
        Objects.requireNonNull(hashIds, "hashIds");
        if (!(timeSeconds >= 0) || Double.isInfinite(timeSeconds)) {
            throw new IllegalArgumentException("timeSeconds must be finite and >= 0: " + timeSeconds);
        }
        if (inputTokens < 0 || outputTokens < 0 || source < 0) {
            throw new IllegalArgumentException("negative inputTokens, outputTokens or source: "
                    + inputTokens + ", " + outputTokens + ", " + source);
        }
    }

    /**
     * Tokens of block {@code i}: {@code blockTokens}, except the last block of a Mooncake
     * request, which gets the remainder of inputTokens; never negative. (In general:
     * {@code min(blockTokens, max(0, inputTokens - i * blockTokens))}.)
     *
     * @throws IndexOutOfBoundsException unless {@code 0 <= i < hashIds.length}
     */
    public int blockTokens(int i, int blockTokens) {
        Objects.checkIndex(i, hashIds.length);
        if (blockTokens <= 0) {
            throw new IllegalArgumentException("blockTokens must be positive: " + blockTokens);
        }
        long rest = (long) inputTokens - (long) i * blockTokens;
        return (int) Math.max(0, Math.min(blockTokens, rest));
    }

    /**
     * Number of full blocks, {@code min(hashIds.length, inputTokens / blockTokens)}: the leading
     * blocks a server stores, since a partial last block (Mooncake's) never is.
     */
    public int fullBlocks(int blockTokens) {
        if (blockTokens <= 0) {
            throw new IllegalArgumentException("blockTokens must be positive: " + blockTokens);
        }
        return Math.min(hashIds.length, inputTokens / blockTokens);
    }

    /** Number of blocks, {@code hashIds.length}. */
    public int blocks() {
        return hashIds.length;
    }

    /** Tokens covered by the blocks: the sum of {@link #blockTokens(int, int)} over all blocks. */
    public long cacheableTokens(int blockTokens) {
        if (blockTokens <= 0) {
            throw new IllegalArgumentException("blockTokens must be positive: " + blockTokens);
        }
        return Math.min(inputTokens, (long) hashIds.length * blockTokens);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TraceRequest r
                && Double.compare(timeSeconds, r.timeSeconds) == 0
                && inputTokens == r.inputTokens
                && outputTokens == r.outputTokens
                && source == r.source
                && Arrays.equals(hashIds, r.hashIds);
    }

    @Override
    public int hashCode() {
        return Objects.hash(timeSeconds, inputTokens, outputTokens, source) * 31 + Arrays.hashCode(hashIds);
    }

    @Override
    public String toString() {
        String ids = hashIds.length <= 8 ? Arrays.toString(hashIds)
                : Arrays.toString(Arrays.copyOf(hashIds, 8)).replace("]", ", ... (" + hashIds.length + ")]");
        return "TraceRequest[t=" + timeSeconds + "s, in=" + inputTokens + ", out=" + outputTokens
                + ", source=" + source + ", hashIds=" + ids + "]";
    }
}
