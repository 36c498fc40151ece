package dev.kvtier.key;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvtier.ChildJvm;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Pins the key encoding down: published vectors (namespace root, token keys, external-hash keys)
 * that any change to the hashing breaks, an independent SHA-256 recomputation from the documented
 * encoding, the same keys in a separate JVM, and the chaining, slicing and namespace properties
 * the cache relies on.
 */
class BlockKeyTest {
    static final Namespace NS = Namespace.builder("meta-llama/Llama-3.1-8B").weightsFingerprint("sha256:0123abcd")
            .kvDtype("bf16").layoutVersion(1).tensorParallel(0, 1).blockTokens(16).build();
    static final int[] TOKENS = IntStream.range(0, 48).toArray();
    static final long[] HASHES = {0, 1, 2};

    private static final String ROOT = "49d315f26b2ac67026141d020295891b";
    private static final String[] TOKEN_KEYS = {
        "6c9cbfc1f64b50e76379cebe90238f04",
        "433f24423e0035e8f1b048500ca039b8",
        "dcd10997d9d43206c5a1842b15341b73",
    };
    private static final String[] HASH_KEYS = {
        "55086813c70d28f07c0b4420bc0c7a69",
        "8ed26fe1911df966e97797436783af66",
        "69bd4ca547fa8e9e9d19fa96cbbc9a50",
    };

    /** Root, then the token keys, then the external-hash keys, as hex. */
    static List<String> vectorLines() {
        List<String> lines = new ArrayList<>();
        lines.add(hex(NS.rootHi(), NS.rootLo()));
        Arrays.stream(NS.blockKeys(TOKENS)).map(BlockKey::toHex).forEach(lines::add);
        Arrays.stream(NS.keysFromHashes(HASHES)).map(BlockKey::toHex).forEach(lines::add);
        return lines;
    }

    private static List<String> publishedLines() {
        List<String> lines = new ArrayList<>(List.of(ROOT));
        lines.addAll(List.of(TOKEN_KEYS));
        lines.addAll(List.of(HASH_KEYS));
        return lines;
    }

    @Test
    void namespaceRootMatchesPublishedVector() {
        assertEquals(ROOT, hex(NS.rootHi(), NS.rootLo()));
    }

    @Test
    void tokenKeysMatchPublishedVectors() {
        assertArrayEquals(TOKEN_KEYS, Arrays.stream(NS.blockKeys(TOKENS)).map(BlockKey::toHex).toArray());
    }

    @Test
    void externalHashKeysMatchPublishedVectors() {
        assertArrayEquals(HASH_KEYS, Arrays.stream(NS.keysFromHashes(HASHES)).map(BlockKey::toHex).toArray());
    }

    @Test
    void rootIsSha256OfTheDocumentedNamespaceEncoding() throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (String s : new String[] {"kvtier.namespace.v1", "meta-llama/Llama-3.1-8B", "sha256:0123abcd", "bf16"}) {
            putString(md, s);
        }
        md.update(ByteBuffer.allocate(12).putInt(1).putInt(0).putInt(1).array());
        putString(md, "");
        putString(md, "");
        md.update(ByteBuffer.allocate(4).putInt(16).array());
        assertEquals(ROOT, first128Bits(md.digest()));
    }

    @Test
    void aLayoutDescriptorIsHashedLastAndOnlyWhenNotEmpty() throws Exception {
        String layout = "[layer][k|v][token][kv_dim];layers=32;kvHeads=8;headSize=128;order=le;rope=applied";
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (String s : new String[] {"kvtier.namespace.v1", "meta-llama/Llama-3.1-8B", "sha256:0123abcd", "bf16"}) {
            putString(md, s);
        }
        md.update(ByteBuffer.allocate(12).putInt(1).putInt(0).putInt(1).array());
        putString(md, "");
        putString(md, "");
        md.update(ByteBuffer.allocate(4).putInt(16).array());
        putString(md, layout);
        Namespace withLayout = base().layout(layout).build();
        assertEquals(first128Bits(md.digest()), hex(withLayout.rootHi(), withLayout.rootLo()));
        assertEquals(layout, withLayout.layout());
        assertEquals(NS, base().layout("").build(), "an empty descriptor keeps the published root");
        assertEquals(NS, base().layout(null).build(), "a null descriptor is none");
        assertEquals("", NS.layout());
        assertNotEquals(withLayout, base().layout(layout.replace("le", "be")).build());
        assertTrue(withLayout.toString().contains(layout), withLayout.toString());
        assertFalse(NS.toString().contains("layoutDescriptor"), NS.toString());
    }

    @Test
    void tokenKeysAreSha256OfTheDocumentedChainEncoding() throws Exception {
        String parent = ROOT;
        for (int b = 0; b < 3; b++) {
            ByteBuffer body = ByteBuffer.allocate(16 * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (int t = 16 * b; t < 16 * (b + 1); t++) {
                body.putInt(TOKENS[t]);
            }
            String expected = chainStep((byte) 1, parent, body.array());
            assertEquals(TOKEN_KEYS[b], expected, "block " + b);
            parent = expected;
        }
    }

    @Test
    void externalKeysAreSha256OfTheDocumentedChainEncoding() throws Exception {
        String parent = ROOT;
        for (int b = 0; b < HASHES.length; b++) {
            byte[] body = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(HASHES[b]).array();
            parent = chainStep((byte) 2, parent, body);
            assertEquals(HASH_KEYS[b], parent, "block " + b);
        }
    }

    @Test
    void childJvmComputesIdenticalKeys() throws Exception {
        ChildJvm.Result r = ChildJvm.run(List.of(), PrintKeyVectors.class);
        assertEquals(0, r.exitCode(), r.output());
        assertEquals(publishedLines(), r.output().lines().filter(l -> l.matches("[0-9a-f]{32}")).toList(),
                r.output());
    }

    @Test
    void partialTrailingBlockGetsNoKey() {
        BlockKey[] full = NS.blockKeys(TOKENS);
        assertArrayEquals(Arrays.copyOf(full, 2), NS.blockKeys(Arrays.copyOf(TOKENS, 47)));
        assertArrayEquals(Arrays.copyOf(full, 1), NS.blockKeys(Arrays.copyOf(TOKENS, 31)));
        assertEquals(0, NS.blockKeys(Arrays.copyOf(TOKENS, 15)).length);
        assertEquals(0, NS.blockKeys(new int[0]).length);
    }

    @Test
    void offsetLengthFormEqualsSlicing() {
        int[] padded = IntStream.range(-5, 53).toArray();
        assertArrayEquals(NS.blockKeys(TOKENS), NS.blockKeys(padded, 5, 48));
        assertArrayEquals(NS.blockKeys(Arrays.copyOfRange(padded, 7, 45)), NS.blockKeys(padded, 7, 38));
    }

    @Test
    void continuingAChainEqualsHashingTheWholePrompt() {
        BlockKey[] whole = NS.blockKeys(TOKENS);
        BlockKey[] tail = NS.blockKeys(whole[0], TOKENS, 16, 32);
        assertArrayEquals(Arrays.copyOfRange(whole, 1, 3), tail);
        for (int i = 0; i < tail.length; i++) {
            assertEquals(whole[i + 1].position(), tail[i].position());
            assertEquals(whole[i + 1].parentHi(), tail[i].parentHi());
            assertEquals(whole[i + 1].parentLo(), tail[i].parentLo());
        }
        assertArrayEquals(whole, NS.blockKeys(null, TOKENS, 0, 48));
        BlockKey[] hashed = NS.keysFromHashes(HASHES);
        assertEquals(hashed[2], NS.keyFromHash(NS.keyFromHash(NS.keyFromHash(null, 0), 1), 2));
    }

    @Test
    void keysLinkToTheirParentsAndPositions() {
        BlockKey[] k = NS.blockKeys(TOKENS);
        assertTrue(k[0].isFirst());
        assertEquals(NS.rootHi(), k[0].parentHi());
        assertEquals(NS.rootLo(), k[0].parentLo());
        for (int i = 1; i < k.length; i++) {
            assertFalse(k[i].isFirst());
            assertEquals(i, k[i].position());
            assertEquals(k[i - 1].hi(), k[i].parentHi());
            assertEquals(k[i - 1].lo(), k[i].parentLo());
            assertTrue(k[i].isChildOf(k[i - 1]));
        }
        assertSame(NS, k[1].namespace());
        assertFalse(k[2].isChildOf(k[0]), "grandchild");
        assertFalse(k[0].isChildOf(k[1]), "reversed");
        assertFalse(k[1].isChildOf(k[1]), "self");
        BlockKey[] hashed = NS.keysFromHashes(HASHES);
        assertTrue(hashed[1].isChildOf(hashed[0]));
        assertFalse(hashed[1].isChildOf(k[0]));
    }

    @Test
    void isChildOfAndEqualsRequireTheSameNamespace() {
        Namespace other = Namespace.builder("other").build();
        BlockKey[] k = NS.blockKeys(TOKENS);
        BlockKey sameBitsElsewhere = BlockKey.of(other, k[1].hi(), k[1].lo(), k[0].hi(), k[0].lo(), 1);
        assertFalse(sameBitsElsewhere.isChildOf(k[0]));
        assertNotEquals(k[1], sameBitsElsewhere);
        assertTrue(BlockKey.of(NS, k[1].hi(), k[1].lo(), k[0].hi(), k[0].lo(), 1).isChildOf(k[0]));
    }

    @Test
    void sameBlockTokensUnderDifferentParentsGetDifferentKeys() {
        int[] a = IntStream.range(0, 32).toArray();
        int[] b = IntStream.range(0, 32).map(t -> t < 16 ? t + 1000 : t).toArray();
        BlockKey[] ka = NS.blockKeys(a);
        BlockKey[] kb = NS.blockKeys(b);
        assertNotEquals(ka[1], kb[1]);
        assertNotEquals(ka[0], NS.blockKeys(a, 16, 16)[0], "the same tokens at the root");
        Set<String> all = new HashSet<>();
        int[] repeated = new int[16 * 8];
        for (BlockKey key : NS.blockKeys(repeated)) {
            assertTrue(all.add(key.toHex()), "identical blocks at different depths collide");
        }
    }

    @Test
    void everyNamespaceFieldChangesTheRootAndTheKeys() {
        Map<String, Supplier<Namespace.Builder>> variants = new LinkedHashMap<>();
        variants.put("model", () -> base("meta-llama/Llama-3.1-70B"));
        variants.put("weights", () -> base().weightsFingerprint("sha256:0123abce"));
        variants.put("dtype", () -> base().kvDtype("fp16"));
        variants.put("layout", () -> base().layoutVersion(2));
        variants.put("tp rank", () -> base().tensorParallel(1, 2));
        variants.put("tp size", () -> base().tensorParallel(0, 2));
        variants.put("lora", () -> base().loraAdapter("sql-adapter"));
        variants.put("tenant", () -> base().tenantSalt("tenant-42"));
        variants.put("blockTokens", () -> base().blockTokens(8));
        variants.put("layout descriptor", () -> base().layout("[layer][k|v][token][kv_dim];layers=32"));
        assertEquals(NS, base().build(), "the base builder makes NS");
        Set<Namespace> seen = new HashSet<>(Set.of(NS));
        Set<BlockKey> firstKeys = new HashSet<>(Set.of(NS.blockKeys(TOKENS)[0]));
        for (Map.Entry<String, Supplier<Namespace.Builder>> v : variants.entrySet()) {
            Namespace ns = v.getValue().get().build();
            assertTrue(seen.add(ns), v.getKey() + " does not change the namespace");
            assertNotEquals(ROOT, hex(ns.rootHi(), ns.rootLo()), v.getKey());
            BlockKey first = ns.blockKeys(TOKENS)[0];
            assertTrue(firstKeys.add(first), v.getKey() + " does not change the keys");
            assertFalse(Arrays.asList(TOKEN_KEYS).contains(first.toHex()), v.getKey());
        }
        assertEquals(base().tensorParallel(0, 2).build(), base().tensorParallel(0, 2).build());
        assertEquals(base().loraAdapter(null).build(), base().loraAdapter("").build(), "null lora is none");
        assertEquals(base().tenantSalt(null).build(), base().tenantSalt("").build(), "null salt is none");
    }

    @Test
    void namespaceBuilderDefaultsAndAccessors() {
        Namespace ns = Namespace.builder("m").build();
        assertEquals("m", ns.modelId());
        assertEquals("", ns.weightsFingerprint());
        assertEquals("bf16", ns.kvDtype());
        assertEquals(1, ns.layoutVersion());
        assertEquals(0, ns.tpRank());
        assertEquals(1, ns.tpSize());
        assertEquals("", ns.loraAdapter());
        assertEquals("", ns.tenantSalt());
        assertEquals(16, ns.blockTokens());
        assertFalse(base().tenantSalt("secret-salt").build().toString().contains("secret-salt"), "salt is not printed");
    }

    @Test
    void equalKeysHaveEqualHashCodes() {
        BlockKey[] a = NS.blockKeys(TOKENS);
        BlockKey[] b = base().build().blockKeys(TOKENS.clone());
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i]);
            assertEquals(a[i].hashCode(), b[i].hashCode());
            assertNotEquals(a[i], a[(i + 1) % a.length]);
        }
        assertNotEquals(a[0], null);
        assertNotEquals(a[0], a[0].toHex());
        assertEquals(NS.hashCode(), base().build().hashCode());
        assertNotEquals(NS, null);
        assertEquals(32, a[0].toHex().length());
    }

    @Test
    void namespaceBuilderRejectsBadFields() {
        List<Map.Entry<String, Supplier<Namespace.Builder>>> bad = List.of(
                Map.entry("modelId", () -> Namespace.builder(null)),
                Map.entry("modelId", () -> Namespace.builder(" ")),
                Map.entry("weightsFingerprint", () -> base().weightsFingerprint(null)),
                Map.entry("kvDtype", () -> base().kvDtype(null)),
                Map.entry("kvDtype", () -> base().kvDtype("")),
                Map.entry("layoutVersion", () -> base().layoutVersion(-1)),
                Map.entry("size", () -> base().tensorParallel(0, 0)),
                Map.entry("rank", () -> base().tensorParallel(2, 2)),
                Map.entry("rank", () -> base().tensorParallel(-1, 2)),
                Map.entry("blockTokens", () -> base().blockTokens(0)),
                Map.entry("blockTokens", () -> base().blockTokens(65_537)),
                Map.entry("layout descriptor must not be blank", () -> base().layout("  ")));
        for (Map.Entry<String, Supplier<Namespace.Builder>> b : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.getValue().get().build());
            assertTrue(e.getMessage().contains(b.getKey()), e.getMessage());
        }
        assertEquals(65_536, base().blockTokens(65_536).build().blockTokens());
        assertEquals(3, base().blockTokens(1).build().blockKeys(new int[3]).length);
    }

    @Test
    void hashingRejectsBadArguments() {
        Namespace other = Namespace.builder("other").build();
        BlockKey foreign = other.blockKeys(TOKENS)[0];
        assertThrows(IllegalArgumentException.class, () -> NS.blockKeys(foreign, TOKENS, 0, 16));
        assertThrows(IllegalArgumentException.class, () -> NS.keyFromHash(foreign, 1));
        assertThrows(NullPointerException.class, () -> NS.blockKeys(null));
        assertThrows(NullPointerException.class, () -> NS.keysFromHashes(null));
        assertThrows(IndexOutOfBoundsException.class, () -> NS.blockKeys(TOKENS, 40, 16));
        assertThrows(IndexOutOfBoundsException.class, () -> NS.blockKeys(TOKENS, -1, 16));
    }

    private static Namespace.Builder base() {
        return base("meta-llama/Llama-3.1-8B");
    }

    private static Namespace.Builder base(String model) {
        return Namespace.builder(model).weightsFingerprint("sha256:0123abcd").kvDtype("bf16").layoutVersion(1)
                .tensorParallel(0, 1).blockTokens(16);
    }

    private static String chainStep(byte tag, String parentHex, byte[] body) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(tag);
        md.update(ByteBuffer.allocate(16).putLong(Long.parseUnsignedLong(parentHex.substring(0, 16), 16))
                .putLong(Long.parseUnsignedLong(parentHex.substring(16), 16)).array());
        md.update(body);
        return first128Bits(md.digest());
    }

    private static void putString(MessageDigest md, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        md.update(ByteBuffer.allocate(4).putInt(b.length).array());
        md.update(b);
    }

    private static String first128Bits(byte[] digest) {
        ByteBuffer d = ByteBuffer.wrap(digest);
        return hex(d.getLong(), d.getLong());
    }

    private static String hex(long hi, long lo) {
        return String.format("%016x%016x", hi, lo);
    }
}
