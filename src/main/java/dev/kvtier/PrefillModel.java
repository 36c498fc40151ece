package dev.kvtier;

/**
 * How long the served model takes to prefill tokens, which is what a cache hit saves.
 *
 * <p>A token costs a fixed part (projections, MLP) plus a part that grows with the context
 * before it (attention), so the token at context length {@code c} takes
 * {@code (1 + c / contextDoublingTokens) / tokensPerSecond} seconds: {@code tokensPerSecond} is
 * the prefill throughput at short context, {@code contextDoublingTokens} the context at which a
 * token costs twice as much. Summed over {@code n} tokens from {@code start}:
 * {@code n / T * (1 + (start + n / 2) / D)}. The defaults (10,000 tokens/s, 32,768) are about an
 * 8B dense model on one current data-centre GPU; measure and set the model actually served.
 */
public record PrefillModel(double tokensPerSecond, double contextDoublingTokens) {
    public static final PrefillModel DEFAULT = new PrefillModel(10_000, 32_768);

    public PrefillModel {
        if (!(tokensPerSecond > 0) || !Double.isFinite(tokensPerSecond)) {
            throw new IllegalArgumentException("PrefillModel: tokensPerSecond must be positive, was " + tokensPerSecond);
        }
        if (!(contextDoublingTokens > 0) || !Double.isFinite(contextDoublingTokens)) {
            throw new IllegalArgumentException("PrefillModel: contextDoublingTokens must be positive, was "
                    + contextDoublingTokens);
        }
    }

    /** Seconds to prefill {@code tokens} tokens that start at context length {@code startToken}. */
    public double seconds(long startToken, int tokens) {
        return tokens / tokensPerSecond * (1 + (startToken + tokens / 2.0) / contextDoublingTokens);
    }
}
