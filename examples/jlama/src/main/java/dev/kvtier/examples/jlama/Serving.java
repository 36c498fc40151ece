package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;

/**
 * One request end to end: prefill (with or without kvtier), greedy decoding, and the time to
 * first token. Both paths decode the same way, so only the prefill differs.
 */
public final class Serving {
    private Serving() {
    }

    /** What a request produced and what it took. */
    public record Result(int[] generated, float[] firstLogits, JlamaPrefixCache.Prefill prefill, long ttftNanos,
            long storeNanos, int storedBlocks) {
    }

    /** The prompt prefilled through kvtier ({@code cache}), then {@code count} tokens greedily; new blocks stored. */
    public static Result withCache(JlamaPrefixCache cache, JlamaEngine engine, int[] prompt, int count) {
        try (KvBufferCache.KvBuffer kv = engine.newKvBuffer()) {
            long t0 = System.nanoTime();
            JlamaPrefixCache.Prefill p = cache.prefill(prompt, kv);
            float[] first = new float[engine.config().vocabularySize];
            engine.logits(p.last, first);
            int token = JlamaEngine.argmax(first);
            long ttft = System.nanoTime() - t0;
            p.last.close();
            p.last = null;
            int[] out = decode(engine, kv, prompt.length, token, count);
            long s0 = System.nanoTime();
            int stored = cache.storeNewBlocks(p, kv);
            return new Result(out, first, p, ttft, System.nanoTime() - s0, stored);
        }
    }

    /** The whole prompt computed by the engine (no kvtier), then {@code count} tokens greedily. */
    public static Result recompute(JlamaEngine engine, int[] prompt, int count) {
        try (KvBufferCache.KvBuffer kv = engine.newKvBuffer()) {
            long t0 = System.nanoTime();
            AbstractTensor last = engine.prefill(prompt, 0, prompt.length, kv);
            long t1 = System.nanoTime();
            float[] first = new float[engine.config().vocabularySize];
            engine.logits(last, first);
            int token = JlamaEngine.argmax(first);
            long ttft = System.nanoTime() - t0;
            last.close();
            JlamaPrefixCache.Prefill p = new JlamaPrefixCache.Prefill();
            p.promptTokens = prompt.length;
            p.prefillNanos = t1 - t0;
            return new Result(decode(engine, kv, prompt.length, token, count), first, p, ttft, 0, 0);
        }
    }

    private static int[] decode(JlamaEngine engine, KvBufferCache.KvBuffer kv, int promptLength, int first, int count) {
        int[] out = new int[count];
        if (count == 0) {
            return out;
        }
        out[0] = first;
        float[] logits = new float[engine.config().vocabularySize];
        for (int i = 1; i < count; i++) {
            AbstractTensor h = engine.step(out[i - 1], promptLength + i - 1, kv);
            engine.logits(h, logits);
            h.close();
            out[i] = JlamaEngine.argmax(logits);
        }
        return out;
    }

    /** {@code a} followed by {@code b}. */
    public static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** {@code length} pseudo-random token ids (never BOS/EOS/PAD) from {@code seed}; BOS first if {@code bos}. */
    public static int[] randomTokens(long seed, int length, int vocab, boolean bos) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        int[] t = new int[length];
        for (int i = 0; i < length; i++) {
            t[i] = i == 0 && bos ? ByteTokenizer.BOS : ByteTokenizer.OFFSET + r.nextInt(vocab - ByteTokenizer.OFFSET);
        }
        return t;
    }
}
