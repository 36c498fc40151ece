package dev.kvtier.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A generated multi-tenant chat workload. Each tenant has a few system prompts shared by its
 * conversations; a conversation is a series of turns, and each turn's prompt is the system
 * prompt, the whole history so far and a new user message, so consecutive turns share ever
 * longer prefixes. Conversations interleave at random, and a small share of requests are
 * one-off prompts with no shared prefix, so the cache sees reuse at several distances.
 * Deterministic for a seed.
 */
final class ChatWorkload {
    /** One request: which tenant sent it and its prompt tokens. */
    record Request(int tenant, int[] tokens) {
    }

    private final SplittableRandom random;
    private final int tenants;
    private final int[][][] systemPrompts;
    private final List<Conversation> active = new ArrayList<>();
    private int nextToken = 1_000_000;

    ChatWorkload(long seed, int tenants) {
        this.random = new SplittableRandom(seed);
        this.tenants = tenants;
        systemPrompts = new int[tenants][3][];
        for (int t = 0; t < tenants; t++) {
            for (int s = 0; s < 3; s++) {
                systemPrompts[t][s] = freshTokens(256 + random.nextInt(1_792));
            }
        }
    }

    Request next() {
        if (random.nextInt(100) < 5) {
            return new Request(random.nextInt(tenants), freshTokens(128 + random.nextInt(2_048)));
        }
        if (active.size() < 24 || random.nextInt(100) < 15) {
            int tenant = random.nextInt(tenants);
            active.add(new Conversation(tenant, systemPrompts[tenant][zipfish(3)], 2 + random.nextInt(10)));
        }
        Conversation c = active.get(random.nextInt(active.size()));
        int[] prompt = c.nextTurn();
        if (c.done()) {
            active.remove(c);
        }
        return new Request(c.tenant, prompt);
    }

    private int zipfish(int n) {
        int r = random.nextInt(100);
        return r < 60 ? 0 : r < 85 ? 1 % n : 2 % n;
    }

    private int[] freshTokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = nextToken++;
        }
        return t;
    }

    private final class Conversation {
        final int tenant;
        private int[] history;
        private int turnsLeft;

        Conversation(int tenant, int[] system, int turns) {
            this.tenant = tenant;
            this.history = system;
            this.turnsLeft = turns;
        }

        int[] nextTurn() {
            int[] user = freshTokens(32 + random.nextInt(480));
            int[] prompt = concat(history, user);
            history = concat(prompt, freshTokens(64 + random.nextInt(384)));
            turnsLeft--;
            return prompt;
        }

        boolean done() {
            return turnsLeft == 0;
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
