package dev.kvtier.replay;

import dev.kvtier.trace.Trace;
import dev.kvtier.trace.TraceRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Halves of a trace, so that a constant chosen on one half is judged on the other: a trace of one
 * source (a Mooncake file) splits by time, at half its duration; a trace of several sources (a
 * directory of kv-cache-tester sessions) splits by files, the first half of the files by name
 * against the rest. Each half is replayed on its own, from an empty cache.
 */
public final class TraceSplit {
    /** Which part of a trace to replay. */
    public enum Half {
        ALL, FIRST, SECOND;

        public static Half parse(String s) {
            for (Half h : values()) {
                if (h.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
                    return h;
                }
            }
            throw new IllegalArgumentException("unknown half '" + s + "': expected all, first or second");
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private TraceSplit() {
    }

    /** The requests of {@code t} in {@code half} (the trace itself for ALL), in their order, named after the half. */
    public static Trace half(Trace t, Half half) {
        if (half == Half.ALL) {
            return t;
        }
        List<TraceRequest> kept = new ArrayList<>();
        if (t.sources() > 1) {
            int firstFiles = (t.sources() + 1) / 2;
            for (TraceRequest r : t.requests()) {
                if ((r.source() < firstFiles) == (half == Half.FIRST)) {
                    kept.add(r);
                }
            }
        } else {
            double middle = t.durationSeconds() / 2;
            for (TraceRequest r : t.requests()) {
                if ((r.timeSeconds() < middle) == (half == Half.FIRST)) {
                    kept.add(r);
                }
            }
        }
        String how = t.sources() > 1 ? "files" : "time";
        return Trace.of(t.name() + " (" + half + " half by " + how + ")", t.blockTokens(), kept, t.sourceNames());
    }
}
