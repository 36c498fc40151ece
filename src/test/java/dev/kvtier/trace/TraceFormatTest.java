package dev.kvtier.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TraceFormatTest {
    @Test
    void parsesNamesCaseInsensitively() {
        assertEquals(TraceFormat.MOONCAKE, TraceFormat.parse("mooncake"));
        assertEquals(TraceFormat.MOONCAKE, TraceFormat.parse("MoonCake"));
        assertEquals(TraceFormat.KV_CACHE_TESTER, TraceFormat.parse("kv-cache-tester"));
        assertEquals(TraceFormat.KV_CACHE_TESTER, TraceFormat.parse("KV-Cache-Tester"));
        assertEquals(TraceFormat.KV_CACHE_TESTER, TraceFormat.parse("KV_CACHE_TESTER"));
        assertEquals(TraceFormat.MOONCAKE, TraceFormat.parse(" mooncake "));
    }

    @Test
    void rejectsOtherNamesNamingTheAcceptedOnes() {
        for (String bad : new String[] {"", "moon", "kvcachetester", "json"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TraceFormat.parse(bad));
            assertTrue(e.getMessage().contains("mooncake") && e.getMessage().contains("kv-cache-tester"), e.getMessage());
            assertTrue(e.getMessage().contains("\"" + bad + "\""), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> TraceFormat.parse(null));
    }

    @Test
    void defaultBlockTokens() {
        assertEquals(512, TraceFormat.MOONCAKE.defaultBlockTokens());
        assertEquals(64, TraceFormat.KV_CACHE_TESTER.defaultBlockTokens());
    }

    @Test
    void toStringRoundTrips() {
        for (TraceFormat f : TraceFormat.values()) {
            assertEquals(f, TraceFormat.parse(f.toString()));
            assertEquals(f.id(), f.toString());
        }
    }
}
