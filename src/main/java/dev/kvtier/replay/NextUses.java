package dev.kvtier.replay;

import dev.kvtier.offline.OfflineKnobs;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The future of a trace, for the {@code opt} policy: for every block key, the request numbers
 * that look it up, ascending. {@link #nextUse} answers for the request being replayed now.
 * Built with {@link #add} in request order, then {@link #seal}ed (each list trimmed to its
 * length) before the first lookup.
 */
final class NextUses implements OfflineKnobs.NextUse {
    private final Map<Long, int[]> uses = new HashMap<>();
    private final Map<Long, Integer> counts = new HashMap<>();
    private int now;

    /** Records that request {@code request} (added in ascending order) looks up key {@code hi}. */
    void add(long hi, int request) {
        int n = counts.merge(hi, 1, Integer::sum);
        int[] a = uses.get(hi);
        if (a == null || a.length < n) {
            a = a == null ? new int[2] : Arrays.copyOf(a, 2 * a.length);
            uses.put(hi, a);
        }
        a[n - 1] = request;
    }

    /** Trims every list to its length; no {@link #add} after this. */
    NextUses seal() {
        uses.replaceAll((hi, a) -> Arrays.copyOf(a, counts.get(hi)));
        counts.clear();
        return this;
    }

    void setNow(int request) {
        now = request;
    }

    @Override
    public long nextUse(long hi, long lo) {
        int[] a = uses.get(hi);
        if (a == null) {
            return Long.MAX_VALUE;
        }
        int i = Arrays.binarySearch(a, now + 1);
        i = i >= 0 ? i : -i - 1;
        return i < a.length ? a[i] : Long.MAX_VALUE;
    }
}
