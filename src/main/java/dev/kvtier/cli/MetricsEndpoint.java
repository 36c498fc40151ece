package dev.kvtier.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kvtier.KvTierCache;
import dev.kvtier.KvTierMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A cache's {@link KvTierMetrics} in the Prometheus text format at {@code http://HOST:PORT/metrics},
 * served by the JDK's HTTP server on one daemon thread (a scrape renders the registry; other
 * paths get 404, other methods than GET and HEAD 405). {@link #close()} stops serving and
 * unbinds; the cache stays open.
 */
final class MetricsEndpoint implements AutoCloseable {
    static final String PATH = "/metrics";
    private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final KvTierMetrics metrics;
    private final HttpServer server;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "kvtier-metrics-http");
        t.setDaemon(true);
        return t;
    });

    private MetricsEndpoint(KvTierCache cache, int port) throws IOException {
        metrics = new KvTierMetrics(cache);
        metrics.bindTo(registry);
        server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext(PATH, this::handle);
        server.setExecutor(thread);
    }

    /** Serves {@code cache}'s meters on {@code port} of every interface (0: any free port, see {@link #port()}). */
    static MetricsEndpoint start(KvTierCache cache, int port) throws IOException {
        MetricsEndpoint e = new MetricsEndpoint(cache, port);
        e.server.start();
        return e;
    }

    /** The port serving. */
    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange x) throws IOException {
        try (x) {
            String method = x.getRequestMethod();
            if (!x.getRequestURI().getPath().equals(PATH)) {
                x.sendResponseHeaders(404, -1);
            } else if (!method.equals("GET") && !method.equals("HEAD")) {
                x.sendResponseHeaders(405, -1);
            } else {
                byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                x.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
                x.sendResponseHeaders(200, method.equals("HEAD") ? -1 : body.length);
                if (method.equals("GET")) {
                    try (OutputStream out = x.getResponseBody()) {
                        out.write(body);
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        thread.shutdownNow();
        metrics.close();
        registry.close();
    }
}
