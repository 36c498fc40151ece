package dev.kvtier.examples.jlama;

import dev.kvtier.KvTierCache;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * A separate inference process for the tests: serves one request through kvtier and exits,
 * leaving the prompt's blocks on the cache's SSD file or remote export (a clean close flushes
 * DRAM to the tier below). Prints {@code generated=<ids>} and {@code stored=<blocks>}.
 *
 * <pre>
 * PrefixWriter --model DIR --model-id ID --seed S --prompt-tokens N --generate G  (CacheSpec options)
 * </pre>
 */
public final class PrefixWriter {
    private PrefixWriter() {
    }

    public static void main(String[] args) {
        Path model = Path.of(arg(args, "--model"));
        String modelId = arg(args, "--model-id");
        long seed = Long.parseLong(arg(args, "--seed"));
        int promptTokens = Integer.parseInt(arg(args, "--prompt-tokens"));
        int generate = Integer.parseInt(arg(args, "--generate"));
        CacheSpec spec = CacheSpec.fromArgs(args);
        try (JlamaEngine engine = JlamaEngine.load(model)) {
            int rounds = engine.warmUp(Integer.parseInt(argOr(args, "--warmup-tokens", "160")), 12);
            System.out.println("warmup=" + rounds);
            int[] prompt = Serving.randomTokens(seed, promptTokens, engine.config().vocabularySize, true);
            try (KvTierCache cache = spec.open()) {
                JlamaPrefixCache pc = new JlamaPrefixCache(engine, cache, modelId);
                Serving.Result r = Serving.withCache(pc, engine, prompt, generate);
                System.out.println("matched=" + r.prefill().matchedBlocks);
                System.out.println("stored=" + r.storedBlocks());
                System.out.println("generated=" + Arrays.stream(r.generated()).mapToObj(Integer::toString)
                        .collect(Collectors.joining(",")));
                int flushed = cache.flush(java.time.Duration.ofSeconds(30));
                System.out.println("flushed=" + flushed);
            }
        }
        System.out.flush();
        // Jlama's worker pool threads are not daemons.
        System.exit(0);
    }

    static String arg(String[] args, String name) {
        String v = argOr(args, name, null);
        if (v == null) {
            throw new IllegalArgumentException("missing " + name);
        }
        return v;
    }

    static String argOr(String[] args, String name, String dflt) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return dflt;
    }
}
