package dev.kvtier.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code kvtier bench}: throughput of each tier beside a same-run baseline. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure a tier against a baseline in the same run; the last line is JSON.",
        subcommands = {DramBench.class, SsdBench.class, RemoteBench.class})
final class BenchCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
