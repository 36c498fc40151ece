package dev.kvtier.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Out-of-range options of every command are refused before any work, with exit code 2 and a
 * message naming the option (nothing is connected to, written or replayed: the NBD address
 * below has no server).
 */
class BadOptionsTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "bench dram --rounds 0                                                   | --rounds must be positive",
        "bench dram --warmup -1                                                  | --warmup not negative",
        "bench ssd --path target --blocks 2                                      | --blocks must be at least 4",
        "bench ssd --path target --ssd-chains 1                                  | --ssd-chains must be at least 2",
        "bench remote --uri nbd://127.0.0.1:9/ --demote-warmup -1                | --demote-warmup not negative",
        "bench remote --uri nbd://127.0.0.1:9/ --blocks 0                        | --blocks, --rounds, --latency-samples positive",
        "bench remote --uri nbd://127.0.0.1:9/ --warmup 0                        | it needs --warmup of at least 1",
        "bench remote --uri nbd://127.0.0.1:9/ --ways 8 --blocks 60 --rounds 3 --warmup 1 | some set would receive more than 8",
        "bench remote --uri nbd://127.0.0.1:9/ --ways 0                          | --ways must be in [1, 64]",
        "bench remote --uri nbd://127.0.0.1:9/ --block-bytes 8                   | --block-bytes must be at least 16",
        "replay --generate short-prompts --repeat 0                              | --repeat must be at least 1",
        "replay --generate short-prompts --trace x.jsonl                         | at most one of --trace PATH or --generate SHAPE",
        "demo --requests 0 --reset --data-dir target/bad-options-demo           | --requests must be at least 1",
    })
    void isRefusedNamingTheOption(String args, String message) {
        StringWriter err = new StringWriter();
        int code = Main.commandLine().setErr(new PrintWriter(err, true)).execute(args.trim().split(" +"));
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().contains(message), err.toString());
        assertTrue(!java.nio.file.Files.exists(java.nio.file.Path.of("target/bad-options-demo")), "the demo touched its data");
    }
}
