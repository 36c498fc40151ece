package dev.kvtier.examples.jlama;

import static dev.kvtier.examples.jlama.TestSupport.BLOCK_TOKENS;
import static dev.kvtier.examples.jlama.TestSupport.MODEL_ID;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.KvTierCache;
import dev.kvtier.key.BlockKey;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Greedy generation from a prompt whose prefix came from kvtier is token-identical to generation
 * with the whole prompt recomputed, and the first generated token's logits are equal: with the
 * prefix in DRAM, on the SSD tier after the process that wrote it exited, and on the remote tier
 * (nbdkit) written by another process.
 *
 * <p>Equal means bit-identical in the {@code exact-kernels} run (the Vector API's float reduction
 * intrinsic off, so Jlama's kernels sum in one order in every JIT tier: a prefill's bits then do
 * not depend on its start position, its batch split or the process), and within
 * {@link #LOGIT_TOLERANCE} in the default run, where they depend on which kernels the JIT had
 * compiled when the KV was computed (README.md, "Exact or not").
 */
class PrefixFromKvTierTest {
    static final int GENERATE = 8;
    /**
     * With the exact-kernels flags (the surefire execution {@code exact-kernels}) logits must be
     * bit-identical; with the JVM's defaults Jlama's Vector API reductions sum in another order
     * before the JIT compiles them than after, in any process, so the logits of two identical
     * prefills may differ in their last bits (seen: up to 1.5e-6 on logits of magnitude ~1).
     */
    static final boolean EXACT = Boolean.getBoolean("example.exact");
    static final float LOGIT_TOLERANCE = 1e-5f;
    static JlamaEngine engine;
    static Path model;
    static int vocab;

    @BeforeAll
    static void loadModel() {
        model = TestSupport.modelDir();
        engine = JlamaEngine.load(model);
        vocab = engine.config().vocabularySize;
        engine.warmUp(160, 12);
    }

    @AfterAll
    static void closeModel() {
        if (engine != null) {
            engine.close();
        }
    }

    static CacheSpec dramOnly() {
        return new CacheSpec(BLOCK_TOKENS, JlamaPrefixCache.blockBytes(engine, BLOCK_TOKENS), 256, null, 0, null, 0);
    }

    /** The cached request matches the recomputed one token for token, and its first logits bit for bit. */
    static void assertSameAsRecomputed(int[] prompt, Serving.Result cached) {
        Serving.Result ref = Serving.recompute(engine, prompt, GENERATE);
        assertArrayEquals(ref.generated(), cached.generated(), "generated tokens");
        float maxDiff = 0;
        for (int i = 0; i < ref.firstLogits().length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ref.firstLogits()[i] - cached.firstLogits()[i]));
        }
        String what = "first token's logits (max |diff| " + maxDiff + ")";
        if (EXACT) {
            assertArrayEquals(ref.firstLogits(), cached.firstLogits(), what);
        } else {
            assertArrayEquals(ref.firstLogits(), cached.firstLogits(), LOGIT_TOLERANCE, what);
        }
        System.out.printf("prompt %d tokens, %d from kvtier: tokens identical, first logits max |diff| %s%s%n", prompt.length,
                cached.prefill().reusedTokens, maxDiff, EXACT ? " (exact kernels)" : "");
    }

    @Test
    void prefixFromDramGivesTheSameTokensAndLogits() {
        try (KvTierCache cache = dramOnly().open()) {
            JlamaPrefixCache pc = new JlamaPrefixCache(engine, cache, MODEL_ID);
            int[] turn1 = Serving.randomTokens(1, 150, vocab, true);
            Serving.Result r1 = Serving.withCache(pc, engine, turn1, GENERATE);
            assertEquals(0, r1.prefill().matchedBlocks);
            assertEquals(150 / BLOCK_TOKENS, r1.storedBlocks());
            assertSameAsRecomputed(turn1, r1);

            // The next turn: the conversation so far, the answer, a new question.
            int[] turn2 = Serving.concat(turn1, r1.generated(), Serving.randomTokens(2, 90, vocab, false));
            Serving.Result r2 = Serving.withCache(pc, engine, turn2, GENERATE);
            assertEquals(150 / BLOCK_TOKENS, r2.prefill().loadedBlocks);
            assertEquals(150 / BLOCK_TOKENS, r2.prefill().dramBlocks);
            assertEquals(144, r2.prefill().prefillFrom);
            assertSameAsRecomputed(turn2, r2);

            // Every block of the prompt kept: the last token is still computed (its hidden state
            // gives the first token), over the KV of all the others from kvtier.
            int[] whole = java.util.Arrays.copyOf(turn2, 10 * BLOCK_TOKENS);
            Serving.Result r3 = Serving.withCache(pc, engine, whole, GENERATE);
            assertEquals(10, r3.prefill().loadedBlocks);
            assertEquals(whole.length - 1, r3.prefill().prefillFrom);
            assertEquals(0, r3.storedBlocks());
            assertSameAsRecomputed(whole, r3);

            // Shorter than a block: no key, nothing to load or store, same answer.
            int[] tiny = java.util.Arrays.copyOf(turn2, BLOCK_TOKENS - 1);
            Serving.Result r4 = Serving.withCache(pc, engine, tiny, GENERATE);
            assertEquals(0, r4.prefill().keys.length);
            assertEquals(0, r4.storedBlocks());
            assertSameAsRecomputed(tiny, r4);
        }
    }

    @Test
    void blocksThatStraddleJlamasPagesAndPromptsOverSeveralPages() {
        // Jlama's ephemeral KV buffer keeps this model's positions in pages of 1,024; 48-token
        // blocks do not divide that, so block 21 (positions 1,008..1,055) is split over two pages.
        int b = 48;
        try (com.github.tjake.jlama.tensor.KvBufferCache.KvBuffer kv = engine.newKvBuffer()) {
            assertEquals(1_024, kv.getKeyTensorsUptoPosition(0, 0)[0].shape().first(), "positions per Jlama page");
        }
        // kvtier's segments (16 rows each, so none straddles a page) and, as before them, staging buffers.
        for (boolean staged : new boolean[] {false, true}) {
            try (KvTierCache cache = new CacheSpec(b, JlamaPrefixCache.blockBytes(engine, b), 64, null, 0, null, 0).open()) {
                JlamaPrefixCache pc = new JlamaPrefixCache(engine, cache, MODEL_ID,
                        staged ? new StagingBuffers(JlamaPrefixCache.blockBytes(engine, b), 32) : null);
                int[] turn1 = Serving.randomTokens(8, 1_100, vocab, true);
                assertEquals(1_100 / b, Serving.withCache(pc, engine, turn1, 1).storedBlocks());
                int[] turn2 = Serving.concat(turn1, Serving.randomTokens(9, 40, vocab, false));
                Serving.Result r = Serving.withCache(pc, engine, turn2, GENERATE);
                assertEquals(1_100 / b, r.prefill().loadedBlocks);
                assertSameAsRecomputed(turn2, r);
            }
        }
    }

    @Test
    void blocksOfAnotherLayoutOrOtherWeightsAreRefusedByTheirNamespace() {
        // Same block bytes (layers x KV width: 2 x 64 = 4 x 32), another layout.
        RandomLlama.Shape other = new RandomLlama.Shape(4, 128, 256, 4, 1, 300, 2048);
        Path otherDir = RandomLlama.write(Path.of("target", "test-models", "other-layout").toAbsolutePath(), other, 42);
        Path otherWeights = RandomLlama.write(Path.of("target", "test-models", "other-seed").toAbsolutePath(),
                TestSupport.SHAPE, 43);
        try (KvTierCache cache = dramOnly().open();
                JlamaEngine layoutB = JlamaEngine.load(otherDir);
                JlamaEngine weightsB = JlamaEngine.load(otherWeights)) {
            JlamaPrefixCache a = new JlamaPrefixCache(engine, cache, MODEL_ID);
            JlamaPrefixCache b = new JlamaPrefixCache(layoutB, cache, MODEL_ID);
            JlamaPrefixCache w = new JlamaPrefixCache(weightsB, cache, MODEL_ID);
            assertEquals(a.layout().blockBytes(), b.layout().blockBytes());
            assertNotEquals(a.namespace(), b.namespace());
            assertNotEquals(a.namespace(), w.namespace());
            assertEquals(a.layout().descriptor(), a.namespace().layout(), "the layout is the namespace's descriptor");
            assertTrue(b.namespace().toString().contains("layers=4;kvHeads=1;headSize=32"), b.namespace().toString());

            int[] prompt = Serving.randomTokens(5, 64, vocab, true);
            assertEquals(4, Serving.withCache(a, engine, prompt, 1).storedBlocks());
            BlockKey[] sameTokensA = a.namespace().blockKeys(prompt);
            assertEquals(4, cache.match(sameTokensA).hitBlocks());
            assertEquals(0, cache.match(b.namespace().blockKeys(prompt)).hitBlocks(), "another layout");
            assertEquals(0, cache.match(w.namespace().blockKeys(prompt)).hitBlocks(), "other weights");
            Serving.Result rb = Serving.withCache(b, layoutB, prompt, 1);
            assertEquals(0, rb.prefill().loadedBlocks);
        }
        // A cache of another block size cannot hold this layout's blocks at all.
        try (KvTierCache cache = new CacheSpec(32, JlamaPrefixCache.blockBytes(engine, BLOCK_TOKENS), 16, null, 0, null, 0).open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new JlamaPrefixCache(engine, cache, MODEL_ID));
            assertTrue(e.getMessage().contains("blockTokens=32"), e.getMessage());
        }
    }

    @Test
    void prefixFromSsdAfterTheWritingProcessExited(@TempDir Path dir) throws Exception {
        CacheSpec spec = new CacheSpec(BLOCK_TOKENS, JlamaPrefixCache.blockBytes(engine, BLOCK_TOKENS), 64,
                dir.resolve("kv.slots"), 512, null, 0);
        int[] turn1 = Serving.randomTokens(3, 200, vocab, true);
        List<String> out = writeInAnotherProcess(spec, 3, 200);
        assertEquals(200 / BLOCK_TOKENS, Integer.parseInt(TestSupport.value(out, "stored")));
        int[] generated = TestSupport.ints(TestSupport.value(out, "generated"));
        // The other JVM computed the same first turn as this one.
        assertArrayEquals(Serving.recompute(engine, turn1, GENERATE).generated(), generated);

        int[] turn2 = Serving.concat(turn1, generated, Serving.randomTokens(4, 70, vocab, false));
        try (KvTierCache cache = spec.open()) {
            JlamaPrefixCache pc = new JlamaPrefixCache(engine, cache, MODEL_ID);
            Serving.Result r = Serving.withCache(pc, engine, turn2, GENERATE);
            assertEquals(200 / BLOCK_TOKENS, r.prefill().ssdBlocks, "blocks matched on the SSD tier");
            assertEquals(200 / BLOCK_TOKENS, r.prefill().loadedBlocks);
            assertSameAsRecomputed(turn2, r);
        }
    }

    @Test
    void prefixFromTheRemoteTierWrittenByAnotherProcess() throws Exception {
        try (TestSupport.Nbdkit nbd = new TestSupport.Nbdkit("256M")) {
            CacheSpec spec = new CacheSpec(BLOCK_TOKENS, JlamaPrefixCache.blockBytes(engine, BLOCK_TOKENS), 64, null, 0,
                    nbd.uri(), 2048);
            int[] turn1 = Serving.randomTokens(6, 230, vocab, true);
            List<String> out = writeInAnotherProcess(spec, 6, 230);
            assertEquals(230 / BLOCK_TOKENS, Integer.parseInt(TestSupport.value(out, "stored")));
            int[] generated = TestSupport.ints(TestSupport.value(out, "generated"));

            int[] turn2 = Serving.concat(turn1, generated, Serving.randomTokens(7, 50, vocab, false));
            try (KvTierCache cache = spec.open()) {
                JlamaPrefixCache pc = new JlamaPrefixCache(engine, cache, MODEL_ID);
                Serving.Result r = Serving.withCache(pc, engine, turn2, GENERATE);
                assertEquals(230 / BLOCK_TOKENS, r.prefill().remoteBlocks, "blocks matched on the remote tier");
                assertEquals(230 / BLOCK_TOKENS, r.prefill().loadedBlocks);
                assertSameAsRecomputed(turn2, r);
            }
        }
    }

    private static List<String> writeInAnotherProcess(CacheSpec spec, long seed, int promptTokens) throws Exception {
        List<String> args = new ArrayList<>(List.of("--model", model.toString(), "--model-id", MODEL_ID, "--seed", "" + seed,
                "--prompt-tokens", "" + promptTokens, "--generate", "" + GENERATE));
        args.addAll(spec.toArgs());
        return TestSupport.runJava(PrefixWriter.class, args, 180);
    }
}
