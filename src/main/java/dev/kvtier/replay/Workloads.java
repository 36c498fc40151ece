package dev.kvtier.replay;

import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Generated workloads of shapes the real traces do not have, to judge a policy on data nobody
 * tuned it on. Every prompt is a chain of block ids: a block's id is a hash of its parent's id and
 * its content, so an id always follows the same parent, as in the real traces. Deterministic for
 * a seed; 64-token blocks, all full.
 *
 * <ul>
 *   <li>{@link Shape#SHORT_PROMPTS}: a service of short prompts (1 to 4 blocks): 70% from 5,000
 *       templates of Zipf popularity (s = 0.9) under 50 shared instructions, 30% one-off.</li>
 *   <li>{@link Shape#SHARED_SYSTEM_PROMPTS}: chat under 8 long system prompts (48 to 128 blocks,
 *       Zipf), 64 conversations open at a time, each turn resending the history plus 2 to 8 new
 *       blocks, 2 to 12 turns.</li>
 *   <li>{@link Shape#DOCUMENT_BURSTS}: the same chat with short system prompts, and every 150 to
 *       350 requests a burst of 30 to 80 one-off documents of 16 to 64 blocks, never seen again.</li>
 *   <li>{@link Shape#TENANT_MIX}: three tenants (sources) with different reuse: an agent loop
 *       resending a growing context within seconds (tight reuse), chat whose users come back
 *       after long gaps (400 conversations open), and retrieval queries over 2,000 shared
 *       document chunks of Zipf popularity (s = 1.1), each query two chunks and a one-off question.</li>
 * </ul>
 */
public final class Workloads {
    /** A workload shape (see the class comment). */
    public enum Shape {
        SHORT_PROMPTS, SHARED_SYSTEM_PROMPTS, DOCUMENT_BURSTS, TENANT_MIX;

        public String id() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static Shape parse(String s) {
            for (Shape h : values()) {
                if (h.id().equalsIgnoreCase(s == null ? "" : s.trim())) {
                    return h;
                }
            }
            throw new IllegalArgumentException("unknown workload '" + s
                    + "': expected short-prompts, shared-system-prompts, document-bursts or tenant-mix");
        }
    }

    public static final int BLOCK_TOKENS = 64;

    private final SplittableRandom random;
    private long fresh = 1;

    private Workloads(long seed) {
        random = new SplittableRandom(seed);
    }

    /** {@code requests} requests of {@code shape}. */
    public static Trace generate(Shape shape, int requests, long seed) {
        Workloads w = new Workloads(seed);
        List<TraceRequest> out = new ArrayList<>(requests);
        List<String> sources = switch (shape) {
            case SHORT_PROMPTS -> w.shortPrompts(requests, out);
            case SHARED_SYSTEM_PROMPTS -> w.chat(requests, out, 8, 48, 128, 64, false);
            case DOCUMENT_BURSTS -> w.chat(requests, out, 4, 4, 16, 48, true);
            case TENANT_MIX -> w.tenantMix(requests, out);
        };
        return Trace.of("generated " + shape.id() + ", seed " + seed, BLOCK_TOKENS, out, sources);
    }

    private List<String> shortPrompts(int requests, List<TraceRequest> out) {
        int templates = 5000;
        long[][] chains = new long[templates][];
        for (int t = 0; t < templates; t++) {
            long instruction = 1_000_000L + random.nextInt(50);
            chains[t] = extend(new long[] {id(0, instruction)}, random.nextInt(4));
        }
        double[] zipf = zipf(templates, 0.9);
        for (int r = 0; r < requests; r++) {
            long[] ids = random.nextInt(100) < 70 ? chains[pick(zipf)] : extend(new long[0], 1 + random.nextInt(4));
            out.add(request(r, ids, 0));
        }
        return List.of("short-prompts");
    }

    private List<String> chat(int requests, List<TraceRequest> out, int systems, int minSystem, int maxSystem,
            int open, boolean bursts) {
        long[][] system = new long[systems][];
        for (int s = 0; s < systems; s++) {
            system[s] = extend(new long[0], minSystem + random.nextInt(maxSystem - minSystem + 1));
        }
        double[] zipf = zipf(systems, 1.0);
        List<long[]> history = new ArrayList<>();
        List<Integer> turnsLeft = new ArrayList<>();
        int nextBurst = 150 + random.nextInt(200);
        int burstLeft = 0;
        for (int r = 0; r < requests; r++) {
            if (bursts && r == nextBurst) {
                burstLeft = 30 + random.nextInt(51);
                nextBurst = r + burstLeft + 150 + random.nextInt(200);
            }
            if (burstLeft > 0) {
                burstLeft--;
                out.add(request(r, extend(new long[0], 16 + random.nextInt(49)), 0));
                continue;
            }
            while (history.size() < open) {
                history.add(system[pick(zipf)]);
                turnsLeft.add(2 + random.nextInt(11));
            }
            int c = random.nextInt(history.size());
            long[] prompt = extend(history.get(c), 2 + random.nextInt(7));
            out.add(request(r, prompt, 0));
            int left = turnsLeft.get(c) - 1;
            if (left == 0) {
                history.remove(c);
                turnsLeft.remove(c);
            } else {
                history.set(c, extend(prompt, 1 + random.nextInt(4))); // the answer joins the history
                turnsLeft.set(c, left);
            }
        }
        return List.of(bursts ? "chat-and-documents" : "chat");
    }

    private List<String> tenantMix(int requests, List<TraceRequest> out) {
        long[] agent = extend(new long[0], 32);
        int agentSteps = 0;
        List<long[]> chats = new ArrayList<>();
        long[] systemPrompt = extend(new long[0], 8);
        int chunks = 2000;
        double[] zipf = zipf(chunks, 1.1);
        long[] retrievalPrompt = extend(new long[0], 4);
        for (int r = 0; r < requests; r++) {
            int tenant = random.nextInt(3);
            long[] ids;
            if (tenant == 0) { // agent: the same context, a bit longer each step; a new task every 40 steps
                if (++agentSteps % 40 == 0) {
                    agent = extend(new long[0], 32);
                }
                agent = extend(agent, 1 + random.nextInt(3));
                ids = agent;
            } else if (tenant == 1) { // chat: many conversations, each seen again long after
                if (chats.size() < 400 || random.nextInt(100) < 10) {
                    chats.add(systemPrompt);
                }
                int c = random.nextInt(chats.size());
                ids = extend(chats.get(c), 2 + random.nextInt(6));
                chats.set(c, ids);
                if (random.nextInt(100) < 8) {
                    chats.remove(c);
                }
            } else { // retrieval: two shared chunks of 4 blocks under a fixed prompt, then a one-off question
                ids = retrievalPrompt;
                for (int k = 0; k < 2; k++) {
                    long chunk = 2_000_000L + 8L * pick(zipf);
                    long[] more = java.util.Arrays.copyOf(ids, ids.length + 4);
                    for (int b = 0; b < 4; b++) {
                        more[ids.length + b] = id(more[ids.length + b - 1], chunk + b);
                    }
                    ids = more;
                }
                ids = extend(ids, 1 + random.nextInt(2));
            }
            out.add(request(r, ids, tenant));
        }
        return List.of("agent", "chat", "retrieval");
    }

    /** {@code prefix} followed by {@code n} blocks of new content. */
    private long[] extend(long[] prefix, int n) {
        long[] ids = java.util.Arrays.copyOf(prefix, prefix.length + n);
        for (int i = prefix.length; i < ids.length; i++) {
            ids[i] = id(i == 0 ? 0 : ids[i - 1], 1L << 40 | fresh++);
        }
        return ids;
    }

    /** A block's id: its parent's id and its content, hashed. */
    private static long id(long parent, long content) {
        long h = parent * 0x9E37_79B9_7F4A_7C15L + content;
        h ^= h >>> 33;
        h *= 0xFF51_AFD7_ED55_8CCDL;
        h ^= h >>> 33;
        h *= 0xC4CE_B9FE_1A85_EC53L;
        return (h ^ (h >>> 33)) & Long.MAX_VALUE;
    }

    private static TraceRequest request(int r, long[] ids, int source) {
        return new TraceRequest(r, ids.length * BLOCK_TOKENS, 0, ids, source);
    }

    /** Cumulative Zipf weights over {@code n} items with exponent {@code s}. */
    private static double[] zipf(int n, double s) {
        double[] c = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += 1 / Math.pow(i + 1, s);
            c[i] = sum;
        }
        for (int i = 0; i < n; i++) {
            c[i] /= sum;
        }
        return c;
    }

    private int pick(double[] cumulative) {
        double u = random.nextDouble();
        int i = java.util.Arrays.binarySearch(cumulative, u);
        return Math.min(cumulative.length - 1, i >= 0 ? i : -i - 1);
    }
}
