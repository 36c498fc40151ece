package dev.kvtier.examples.jlama;

import com.github.tjake.jlama.safetensors.prompt.PromptSupport;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.safetensors.tokenizer.TokenizerModel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The smallest tokenizer Jlama's {@code LlamaModel} accepts: one token per UTF-8 byte (id = byte
 * + 3), with PAD 0, BOS 1 and EOS 2. The example drives the engine with token ids; this is only
 * there so the model can be constructed and so tests and the benchmark can write prompts as text.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int PAD = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    public static final int OFFSET = 3;

    /** Token ids of {@code text}, BOS first. */
    public static int[] encodeWithBos(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length + 1];
        ids[0] = BOS;
        for (int i = 0; i < b.length; i++) {
            ids[i + 1] = (b[i] & 0xFF) + OFFSET;
        }
        return ids;
    }

    @Override
    public List<String> tokenize(String sentence) {
        List<String> out = new ArrayList<>();
        for (long id : encode(sentence)) {
            out.add(decode(id));
        }
        return out;
    }

    @Override
    public long[] encode(String sentence) {
        byte[] b = sentence.getBytes(StandardCharsets.UTF_8);
        long[] ids = new long[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = (b[i] & 0xFF) + OFFSET;
        }
        return ids;
    }

    @Override
    public String decode(long id) {
        if (id < OFFSET || id >= OFFSET + 256) {
            return "<" + id + ">";
        }
        return new String(new byte[] {(byte) (id - OFFSET)}, StandardCharsets.ISO_8859_1);
    }

    @Override
    public String decode(long[] ids) {
        StringBuilder sb = new StringBuilder();
        for (long id : ids) {
            sb.append(decode(id));
        }
        return sb.toString();
    }

    @Override
    public Optional<PromptSupport> promptSupport() {
        return Optional.empty();
    }

    /** None: this tokenizer has no vocabulary file. */
    @Override
    public TokenizerModel getModel() {
        return null;
    }
}
