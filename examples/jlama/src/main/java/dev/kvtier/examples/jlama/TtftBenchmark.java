package dev.kvtier.examples.jlama;

import dev.kvtier.KvTierCache;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Time to first token of multi-turn conversations on Jlama, with the prompt's prefix recomputed
 * and with it loaded from kvtier's DRAM, SSD and remote tiers, all in one run. Prints JSON.
 *
 * <p>Each conversation is a system prompt shared by all conversations, then turns: the
 * conversation so far, a new user message, and the model's greedy answer, which joins the
 * context of the next turn. Every turn is served four ways, on the same prompt:
 * <ul>
 *   <li>{@code recompute}: the engine prefills the whole prompt (no kvtier);</li>
 *   <li>{@code dram}: one long-lived DRAM-only cache (the prefix stored by the previous turn is
 *       in DRAM);</li>
 *   <li>{@code ssd}: a cache on an SSD file, closed after each turn (its clean close flushes DRAM
 *       to the file) and opened again before the next, as after a restart: the prefix comes from
 *       the file (through the page cache: it was just written);</li>
 *   <li>{@code remote}: a cache on an NBD export ({@code nbdkit memory} on loopback unless
 *       {@code --remote URI}), also closed and reopened between turns, without an SSD: the prefix
 *       is found on the export by the remote lookup and read over NBD.</li>
 * </ul>
 * Opening and closing the caches is outside the timings. TTFT is from the prompt's token ids to
 * the first generated token: hash, match, load, copy into Jlama's KV buffer, prefill of the
 * rest, and the first token's logits. The store of the new blocks happens after it, timed
 * separately.
 *
 * <pre>
 * TtftBenchmark [--shape layers=4,dim=256,...] [--block-tokens 64] [--conversations 2] [--turns 4]
 *               [--system-tokens 1000] [--user-tokens 500] [--answer-tokens 16] [--dir target/bench]
 *               [--remote nbd://HOST:PORT/ | --no-remote] [--staged] [--smoke]
 * </pre>
 */
public final class TtftBenchmark {
    static final RandomLlama.Shape DEFAULT_SHAPE = new RandomLlama.Shape(4, 256, 768, 4, 2, 4096, 8192);
    static final RandomLlama.Shape SMOKE_SHAPE = new RandomLlama.Shape(2, 128, 256, 4, 2, 300, 2048);

    private TtftBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        boolean smoke = has(args, "--smoke");
        RandomLlama.Shape shape = RandomLlama.Shape.parse(PrefixWriter.argOr(args, "--shape", ""),
                smoke ? SMOKE_SHAPE : DEFAULT_SHAPE);
        int blockTokens = Integer.parseInt(PrefixWriter.argOr(args, "--block-tokens", smoke ? "16" : "64"));
        int conversations = Integer.parseInt(PrefixWriter.argOr(args, "--conversations", smoke ? "1" : "2"));
        int turns = Integer.parseInt(PrefixWriter.argOr(args, "--turns", smoke ? "2" : "4"));
        int systemTokens = Integer.parseInt(PrefixWriter.argOr(args, "--system-tokens", smoke ? "100" : "1000"));
        int userTokens = Integer.parseInt(PrefixWriter.argOr(args, "--user-tokens", smoke ? "60" : "500"));
        int answerTokens = Integer.parseInt(PrefixWriter.argOr(args, "--answer-tokens", smoke ? "4" : "16"));
        Path dir = Path.of(PrefixWriter.argOr(args, "--dir", "target/bench")).toAbsolutePath();
        String remoteArg = PrefixWriter.argOr(args, "--remote", null);
        boolean noRemote = has(args, "--no-remote");
        boolean staged = has(args, "--staged");
        long seed = 42;

        Files.createDirectories(dir);
        long tw = System.nanoTime();
        Path modelDir = RandomLlama.write(dir.resolve("model-" + shape.layers() + "x" + shape.dim() + "-" + seed), shape, seed);
        long writeMs = ms(System.nanoTime() - tw);

        Process nbdkit = null;
        URI remote = null;
        if (remoteArg != null) {
            remote = URI.create(remoteArg);
        } else if (!noRemote) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            nbdkit = startNbdkit(port);
            remote = URI.create("nbd://127.0.0.1:" + port + "/");
        }
        try (JlamaEngine engine = JlamaEngine.load(modelDir)) {
            int vocab = engine.config().vocabularySize;
            long t0 = System.nanoTime();
            int warmRounds = engine.warmUp(smoke ? 160 : 512, smoke ? 6 : 8);
            long warmMs = ms(System.nanoTime() - t0);

            int blockBytes = JlamaPrefixCache.blockBytes(engine, blockTokens);
            int maxTokens = systemTokens + turns * (userTokens + answerTokens);
            long blocksPerConversation = maxTokens / blockTokens + 1;
            long capacityBlocks = blocksPerConversation * conversations * 2 + 64;
            Path ssdFile = dir.resolve("kv.slots");
            Files.deleteIfExists(ssdFile);
            CacheSpec dramSpec = new CacheSpec(blockTokens, blockBytes, capacityBlocks, null, 0, null, 0);
            CacheSpec ssdSpec = new CacheSpec(blockTokens, blockBytes, capacityBlocks, ssdFile, capacityBlocks, null, 0);
            CacheSpec remoteSpec = remote == null ? null
                    : new CacheSpec(blockTokens, blockBytes, capacityBlocks, null, 0, remote, capacityBlocks * 2);

            // A fresh namespace salt per run, so an export reused across runs does not serve old blocks.
            String modelId = "kvtier-example/random-llama-" + shape.layers() + "x" + shape.dim() + "/run-" + System.nanoTime();
            int[] system = Serving.randomTokens(seed, systemTokens, vocab, true);
            List<String> rows = new ArrayList<>();
            List<double[]> lastTurn = new ArrayList<>();
            // --staged: blocks go through staging buffers (allocated once for the longest prompt, as a
            // server would, and shared by the adapters) instead of kvtier's segmented load and store.
            StagingBuffers staging = staged ? new StagingBuffers(blockBytes, maxTokens / blockTokens + 1) : null;
            try (KvTierCache dramCache = dramSpec.open()) {
                JlamaPrefixCache dram = new JlamaPrefixCache(engine, dramCache, modelId, staging);
                for (int c = 0; c < conversations; c++) {
                    int[] context = system;
                    for (int t = 0; t < turns; t++) {
                        int[] prompt = Serving.concat(context,
                                Serving.randomTokens(seed * 1000 + c * 100 + t, userTokens, vocab, false));
                        Serving.Result ref = Serving.recompute(engine, prompt, answerTokens);
                        Serving.Result d = Serving.withCache(dram, engine, prompt, answerTokens);
                        Serving.Result s;
                        try (KvTierCache ssdCache = ssdSpec.open()) {
                            s = Serving.withCache(new JlamaPrefixCache(engine, ssdCache, modelId, staging), engine, prompt,
                                    answerTokens);
                        }
                        Serving.Result r = null;
                        if (remoteSpec != null) {
                            try (KvTierCache remoteCache = remoteSpec.open()) {
                                r = Serving.withCache(new JlamaPrefixCache(engine, remoteCache, modelId, staging), engine, prompt,
                                        answerTokens);
                            }
                        }
                        boolean same = Arrays.equals(ref.generated(), d.generated()) && Arrays.equals(ref.generated(), s.generated())
                                && (r == null || Arrays.equals(ref.generated(), r.generated()));
                        float maxDiff = Math.max(maxDiff(ref, d), Math.max(maxDiff(ref, s), r == null ? 0 : maxDiff(ref, r)));
                        rows.add(String.format(Locale.ROOT,
                                "    {\"conversation\": %d, \"turn\": %d, \"prompt_tokens\": %d, \"same_tokens\": %s, "
                                        + "\"first_logits_max_abs_diff\": %.3g,%n      \"recompute\": {\"ttft_ms\": %.1f},%n"
                                        + "      \"dram\": %s,%n      \"ssd\": %s,%n      \"remote\": %s}",
                                c, t + 1, prompt.length, same, maxDiff, msd(ref.ttftNanos()), json(d), json(s),
                                r == null ? "null" : json(r)));
                        if (t == turns - 1) {
                            lastTurn.add(new double[] {msd(ref.ttftNanos()), msd(d.ttftNanos()), msd(s.ttftNanos()),
                                    r == null ? Double.NaN : msd(r.ttftNanos()), prompt.length, d.prefill().reusedTokens});
                        }
                        context = Serving.concat(prompt, ref.generated());
                    }
                }
            }
            StringBuilder out = new StringBuilder();
            out.append("{\n");
            out.append(String.format(Locale.ROOT,
                    "  \"machine\": {\"cores\": %d, \"java\": \"%s\", \"max_heap_mib\": %d, \"tensor_ops\": \"%s\"},%n",
                    Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"),
                    Runtime.getRuntime().maxMemory() >> 20,
                    com.github.tjake.jlama.tensor.operations.TensorOperationsProvider.get().name()));
            KvLayout layout = KvLayout.of(engine.config(), engine.model().getWorkingDType(), blockTokens);
            out.append(String.format(Locale.ROOT,
                    "  \"model\": {\"layers\": %d, \"dim\": %d, \"hidden\": %d, \"heads\": %d, \"kv_heads\": %d, \"head_size\": %d, "
                            + "\"vocab\": %d, \"block_params\": %d, \"dtype\": \"f32\", \"kv_bytes_per_token\": %d, "
                            + "\"write_ms\": %d, \"warmup_ms\": %d, \"warmup_rounds\": %d},%n",
                    shape.layers(), shape.dim(), shape.hidden(), shape.heads(), shape.kvHeads(), shape.headSize(), shape.vocab(),
                    shape.blockParams(), layout.blockBytes() / blockTokens, writeMs, warmMs, warmRounds));
            out.append(String.format(Locale.ROOT,
                    "  \"kvtier\": {\"block_tokens\": %d, \"block_bytes\": %d, \"layout\": \"%s\", \"remote\": \"%s\", "
                            + "\"transfer\": \"%s\"},%n",
                    blockTokens, blockBytes, layout.descriptor(), remote == null ? "none" : remote,
                    staged ? "staged" : "segments"));
            out.append(String.format(Locale.ROOT,
                    "  \"workload\": {\"conversations\": %d, \"turns\": %d, \"system_tokens\": %d, \"user_tokens\": %d, "
                            + "\"answer_tokens\": %d},%n",
                    conversations, turns, systemTokens, userTokens, answerTokens));
            out.append("  \"turns\": [\n").append(String.join(",\n", rows)).append("\n  ],\n");
            out.append("  \"last_turns\": [\n");
            List<String> lt = new ArrayList<>();
            for (double[] v : lastTurn) {
                lt.add(String.format(Locale.ROOT,
                        "    {\"prompt_tokens\": %d, \"reused_tokens\": %d, \"recompute_ms\": %.1f, \"dram_ms\": %.1f, "
                                + "\"ssd_ms\": %.1f, \"remote_ms\": %s, \"speedup_dram\": %.1f, \"speedup_ssd\": %.1f, "
                                + "\"speedup_remote\": %s}",
                        (int) v[4], (int) v[5], v[0], v[1], v[2], Double.isNaN(v[3]) ? "null" : String.format(Locale.ROOT, "%.1f", v[3]),
                        v[0] / v[1], v[0] / v[2], Double.isNaN(v[3]) ? "null" : String.format(Locale.ROOT, "%.1f", v[0] / v[3])));
            }
            out.append(String.join(",\n", lt)).append("\n  ]\n}");
            System.out.println(out);
        } finally {
            if (nbdkit != null) {
                nbdkit.destroy();
                nbdkit.waitFor(5, TimeUnit.SECONDS);
            }
        }
        System.out.flush();
        System.exit(0); // Jlama's worker pool threads are not daemons
    }

    private static String json(Serving.Result r) {
        JlamaPrefixCache.Prefill p = r.prefill();
        long firstToken = r.ttftNanos() - p.totalNanos();
        return String.format(Locale.ROOT,
                "{\"ttft_ms\": %.1f, \"reused_tokens\": %d, \"blocks\": {\"dram\": %d, \"ssd\": %d, \"remote\": %d, \"loaded\": %d}, "
                        + "\"hash_ms\": %.2f, \"match_ms\": %.2f, \"load_ms\": %.2f, \"copy_ms\": %.2f, \"prefill_ms\": %.1f, "
                        + "\"prefill_tokens\": %d, \"first_token_ms\": %.2f, \"store_ms\": %.2f, \"stored_blocks\": %d}",
                msd(r.ttftNanos()), p.reusedTokens, p.dramBlocks, p.ssdBlocks, p.remoteBlocks, p.loadedBlocks, msd(p.hashNanos),
                msd(p.matchNanos), msd(p.loadNanos), msd(p.copyNanos), msd(p.prefillNanos), p.promptTokens - p.prefillFrom,
                msd(firstToken), msd(r.storeNanos()), r.storedBlocks());
    }

    private static float maxDiff(Serving.Result a, Serving.Result b) {
        float m = 0;
        for (int i = 0; i < a.firstLogits().length; i++) {
            m = Math.max(m, Math.abs(a.firstLogits()[i] - b.firstLogits()[i]));
        }
        return m;
    }

    private static Process startNbdkit(int port) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("nbdkit", "--exit-with-parent", "-f", "-i", "127.0.0.1", "-p", "" + port, "memory", "4G")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket ignored = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return p;
            } catch (IOException e) {
                if (System.nanoTime() > deadline || !p.isAlive()) {
                    p.destroyForcibly();
                    throw new IOException("nbdkit did not start on port " + port + " (installed? apt-get install nbdkit)", e);
                }
                Thread.sleep(50);
            }
        }
    }

    private static boolean has(String[] args, String flag) {
        return Arrays.asList(args).contains(flag);
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    private static double msd(long nanos) {
        return nanos / 1e6;
    }
}
