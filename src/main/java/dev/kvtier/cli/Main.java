package dev.kvtier.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvtier}: the command line. Uses only the library's public API. */
@Command(name = "kvtier", mixinStandardHelpOptions = true, version = "kvtier 0.1.0",
        description = "A tiered KV-cache store for LLM inference servers.",
        subcommands = {DemoCommand.class, BenchCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
