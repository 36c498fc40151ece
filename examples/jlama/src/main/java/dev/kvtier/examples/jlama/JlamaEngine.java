package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.llama.LlamaModel;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.safetensors.WeightLoader;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.util.JsonSupport;
import com.github.tjake.jlama.model.llama.LlamaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * A Llama model in Jlama, driven with token ids: prefill from any start position into a
 * {@link KvBufferCache.KvBuffer}, then greedy decoding. Jlama's own {@code generate} always
 * prefills the whole prompt from the buffer's position; this class calls the same entry points
 * ({@code batchForward}, {@code forward}, {@code sample}) so that a prefix can come from kvtier.
 * Not thread-safe (Jlama's layers keep per-call scratch state); one request at a time.
 */
public final class JlamaEngine implements AutoCloseable {
    private final Path dir;
    private final AbstractModel model;
    private final KvBufferCache kvBuffers;
    private final String weightsFingerprint;

    private JlamaEngine(Path dir, AbstractModel model, String weightsFingerprint) {
        this.dir = dir;
        this.model = model;
        this.kvBuffers = new KvBufferCache(model);
        this.weightsFingerprint = weightsFingerprint;
    }

    /**
     * Loads the Llama model in {@code dir} ({@code config.json}, {@code model.safetensors}) with
     * F32 working memory, so the KV buffers hold F32.
     */
    public static JlamaEngine load(Path dir) {
        try {
            Config c = JsonSupport.om.readValue(dir.resolve("config.json").toFile(), LlamaConfig.class);
            WeightLoader w = SafeTensorSupport.loadWeights(dir.toFile());
            AbstractModel m = new LlamaModel(c, w, new ByteTokenizer(), DType.F32, DType.F32, Optional.empty());
            return new JlamaEngine(dir, m, RandomLlama.fingerprint(dir));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path dir() {
        return dir;
    }

    public AbstractModel model() {
        return model;
    }

    public Config config() {
        return model.getConfig();
    }

    /** SHA-256 of the model's files, for the kvtier namespace. */
    public String weightsFingerprint() {
        return weightsFingerprint;
    }

    /** A fresh KV buffer for one request (close it when done). */
    public KvBufferCache.KvBuffer newKvBuffer() {
        return kvBuffers.getEphemeralKvBuffer();
    }

    /**
     * Runs {@code tokens[from, to)} through the model at positions {@code from..to-1}, reading
     * the KV of positions {@code [0, from)} from {@code kv} and writing theirs into it. Returns the
     * hidden state of the last token (close it).
     */
    public AbstractTensor prefill(int[] tokens, int from, int to, KvBufferCache.KvBuffer kv) {
        if (from < 0 || to > tokens.length || from >= to) {
            throw new IllegalArgumentException("bad prefill range [" + from + ", " + to + ") of " + tokens.length);
        }
        AbstractTensor out = model.batchForward(Arrays.copyOfRange(tokens, from, to), from, kv);
        AbstractTensor last = out.slice(out.shape().first() - 1);
        // The slice shares the batch's memory; copy the row out so the batch can be released.
        AbstractTensor row = model.makeDenseTensor(1, config().embeddingLength);
        row.copyFrom(last, 0, 0, config().embeddingLength);
        out.close();
        return row;
    }

    /** One decoding step: the hidden state of {@code token} at {@code position} (close it). */
    public AbstractTensor step(int token, int position, KvBufferCache.KvBuffer kv) {
        return model.forward(token, position, kv, Optional.empty());
    }

    /** Raw logits (before any softmax) of the next token after {@code hidden}, into {@code into}. */
    public float[] logits(AbstractTensor hidden, float[] into) {
        try (AbstractTensor logits = model.makeDenseTensor(1, config().vocabularySize)) {
            model.sample(hidden, 0f, 0f, logits);
            for (int i = 0; i < into.length; i++) {
                into[i] = logits.get(0, i);
            }
            return into;
        }
    }

    /** Greedy choice: the first index of the largest logit. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Greedy decoding of {@code count} tokens after a prefilled prompt of {@code promptLength}
     * tokens whose last hidden state is {@code last} (closed here). {@code firstLogits}, if not
     * null, receives the first token's logits.
     */
    public int[] greedy(AbstractTensor last, int promptLength, int count, KvBufferCache.KvBuffer kv, float[] firstLogits) {
        float[] logits = firstLogits != null ? firstLogits : new float[config().vocabularySize];
        int[] out = new int[count];
        AbstractTensor h = last;
        for (int i = 0; i < count; i++) {
            logits(h, logits);
            h.close();
            out[i] = argmax(logits);
            if (i == 0 && firstLogits != null) {
                logits = new float[logits.length];
            }
            if (i + 1 < count) {
                h = step(out[i], promptLength + i, kv);
            }
        }
        return out;
    }

    /**
     * Runs the engine until its kernels are compiled, so the KV and logits it computes next are
     * the same bits whatever the start position and batch split of a prefill.
     *
     * <p>Jlama's Panama kernels are deterministic across start positions and batch splits once
     * the JIT has compiled them; before that (interpreter, C1) the Vector API's Java fallbacks sum
     * in another order and the same prefill gives other low bits (logits differ by about 1e-6).
     * So this repeats a prefill of {@code tokens} tokens, whole and split in two, plus a few
     * decoding steps, until two rounds in a row give bit-identical logits and split equals whole.
     * Returns the rounds it took, or -1 if {@code maxRounds} did not get there. Two stable rounds
     * do not prove every kernel is compiled for good (a kernel may still be in C1 in both); see
     * the README, "Exact or not".
     */
    public int warmUp(int tokens, int maxRounds) {
        int[] prompt = new int[tokens];
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        prompt[0] = ByteTokenizer.BOS;
        for (int i = 1; i < tokens; i++) {
            prompt[i] = ByteTokenizer.OFFSET + r.nextInt(config().vocabularySize - ByteTokenizer.OFFSET);
        }
        float[] previous = null;
        int stable = 0;
        for (int round = 1; round <= maxRounds; round++) {
            float[] whole = new float[config().vocabularySize];
            float[] split = new float[config().vocabularySize];
            try (KvBufferCache.KvBuffer a = newKvBuffer(); KvBufferCache.KvBuffer b = newKvBuffer()) {
                greedy(prefill(prompt, 0, tokens, a), tokens, 4, a, whole);
                prefill(prompt, 0, tokens / 3, b).close();
                greedy(prefill(prompt, tokens / 3, tokens, b), tokens, 4, b, split);
            }
            boolean same = Arrays.equals(whole, split) && Arrays.equals(whole, previous);
            stable = same ? stable + 1 : 0;
            previous = whole;
            if (stable >= 2) {
                return round;
            }
        }
        return -1;
    }

    @Override
    public void close() {
        kvBuffers.close();
        model.close();
    }
}
