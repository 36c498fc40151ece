package dev.kvtier;

import dev.kvtier.format.SlotSeal;
import dev.kvtier.key.Namespace;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import javax.net.ssl.SSLContext;

/**
 * The settings of the shared remote tier, given to {@link KvTierCacheBuilder#remote(RemoteTier)}:
 * one or more NBD exports ({@code nbd://host[:port]/[export]}, port 10809 by default;
 * {@code nbds://} for TLS), the first {@code capacityBytesEach} of each used, and how they are
 * reached. Several caches, in one or many processes, may attach the same exports with the same
 * capacity, ways and block size: blocks one of them writes there are found and loaded by the
 * others (see {@link KvTierCache#match}). The first to attach a blank export formats it. With
 * several exports blocks are placed by key (rendezvous hashing over the exports' identities,
 * weighted by their capacities): caches listing the same exports in any order agree on where
 * each block is, and a failed export costs only its own blocks. A {@code file:} URI names a
 * file or block device that several hosts attach (a namespace multi-attached over NVMe over
 * TCP): it must exist, is opened with O_DIRECT, never resized, and is refused while a cache of
 * this host uses it as its local SSD tier. A device only this host uses is better kept with
 * {@link KvTierCacheBuilder#localSsd} and {@link KvTierCacheBuilder#ssdDirectIo}.
 *
 * <p>Immutable. {@link Builder#build()} checks every setting on its own and names the one that
 * is wrong; {@link KvTierCacheBuilder#build()} checks the capacity against the block size.
 */
public final class RemoteTier {
    /** Slots per set of an export formatted blank when {@link Builder#ways} is not set. */
    public static final int DEFAULT_WAYS = 16;

    final List<URI> exports;
    final long capacityBytesEach;
    final int connections;
    final Duration timeout;
    /** Slots per set, or 0: each export's own, {@link #DEFAULT_WAYS} for a blank one. */
    final int ways;
    final Duration recheckAfter;
    final Duration lookupBudget;
    final Compression compression;
    final SSLContext tls;
    /** The deployment's secret (a private copy), or null: unsealed. */
    final byte[] secret;
    /** Namespaces' own secrets (private copies). */
    final List<SlotSeal.TenantSecret> tenantSecrets;

    private RemoteTier(Builder b) {
        this.exports = b.exports;
        this.capacityBytesEach = b.capacityBytesEach;
        this.connections = b.connections;
        this.timeout = b.timeout;
        this.ways = b.ways == null ? 0 : b.ways;
        this.recheckAfter = b.recheckAfter;
        this.lookupBudget = b.lookupBudget;
        this.compression = b.compression;
        this.tls = b.tls;
        this.secret = b.secret;
        this.tenantSecrets = List.copyOf(b.tenantSecrets);
    }

    /** Settings for one export, of which the first {@code capacityBytes} are used. */
    public static Builder builder(URI export, long capacityBytes) {
        return builder(List.of(Objects.requireNonNull(export, "export")), capacityBytes);
    }

    /** Settings for the tier sharded over {@code exports} (flash servers), the first {@code capacityBytesEach} of each used. */
    public static Builder builder(List<URI> exports, long capacityBytesEach) {
        Objects.requireNonNull(exports, "exports");
        for (int i = 0; i < exports.size(); i++) {
            Objects.requireNonNull(exports.get(i), "exports[" + i + "]");
        }
        return new Builder(List.copyOf(exports), capacityBytesEach);
    }

    /** The exports, in the order given. */
    public List<URI> exports() {
        return exports;
    }

    /** Bytes used of each export. */
    public long capacityBytesEach() {
        return capacityBytesEach;
    }

    @Override
    public String toString() {
        return "RemoteTier[" + exports + ", " + capacityBytesEach + " bytes each, " + connections + " connections, timeout "
                + timeout + ", " + (ways == 0 ? "the exports'" : ways) + " ways, recheck after " + recheckAfter + ", lookup budget " + lookupBudget
                + ", " + compression + (secret != null ? ", sealed" : "")
                + (tenantSecrets.isEmpty() ? "" : ", " + tenantSecrets.size() + " tenant secrets") + "]";
    }

    /** Builds {@link RemoteTier} settings; defaults as each setter says. */
    public static final class Builder {
        private final List<URI> exports;
        private final long capacityBytesEach;
        private int connections = 4;
        private Duration timeout = Duration.ofSeconds(2);
        private Integer ways;
        private Duration recheckAfter = Duration.ofMillis(100);
        private Duration lookupBudget = Duration.ofMillis(100);
        private Compression compression = Compression.NONE;
        private SSLContext tls;
        private byte[] secret;
        private final List<SlotSeal.TenantSecret> tenantSecrets = new ArrayList<>();

        private Builder(List<URI> exports, long capacityBytesEach) {
            this.exports = exports;
            this.capacityBytesEach = capacityBytesEach;
        }

        /** TCP connections to each export when its server allows multi-conn, 1 to 64. Default 4. */
        public Builder connections(int connections) {
            this.connections = connections;
            return this;
        }

        /**
         * How long a remote request may take before it fails (a read becomes a miss, a write is
         * declined) and its connection is replaced; at least 1 ms. Default 2 seconds.
         */
        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * Slots per set, 1 to 64: a block may sit in any slot of the set its key chooses. More
         * ways keep more blocks per set, so a set fills later than the tier and eviction comes
         * closer to LRU, and cost one more 128-byte header request per way on each lookup and
         * placement (all of a set's in one round trip). Fixed when an export is formatted: a
         * process that sets other ways than an export's is refused. Default (never called): the
         * ways the exports were formatted with, and {@value #DEFAULT_WAYS} for blank exports (or,
         * beside formatted ones, theirs); exports formatted with different ways are refused.
         */
        public Builder ways(int ways) {
            this.ways = ways;
            return this;
        }

        /**
         * After a set was read without finding the key, how long lookups trust that and do not
         * read it again ({@link Duration#ZERO}: read on every local miss). Bounds both the cost
         * of lookups for prompts nobody stored and the delay before a block another process
         * writes is found. Default 100 ms.
         */
        public Builder recheckAfter(Duration recheckAfter) {
            this.recheckAfter = Objects.requireNonNull(recheckAfter, "recheckAfter");
            return this;
        }

        /**
         * The most a {@code match} waits for the set headers after a local miss, at least 1 ms;
         * what is not found by then is not matched (it may be the next time). Default 100 ms.
         */
        public Builder lookupBudget(Duration lookupBudget) {
            this.lookupBudget = Objects.requireNonNull(lookupBudget, "lookupBudget");
            return this;
        }

        /** How payloads are encoded. Default {@link Compression#NONE}. */
        public Builder compression(Compression compression) {
            this.compression = Objects.requireNonNull(compression, "compression");
            return this;
        }

        /**
         * The TLS context (trusted CAs, and a client certificate if the server asks for one) for
         * {@code nbds://} exports; only allowed when every export is {@code nbds://}. Without it
         * an {@code nbds://} export is trusted by the JVM's default context
         * ({@link SSLContext#getDefault()}). The server's certificate must name the URI's host
         * (hostname verification is always on).
         */
        public Builder tls(SSLContext context) {
            this.tls = Objects.requireNonNull(context, "context");
            return this;
        }

        /**
         * Seals the tier's blocks with a secret shared by the deployment's servers (at least
         * 16 bytes; copied): every block is
         * encrypted and authenticated (AES-256-GCM under a key derived per namespace, its slot
         * header as associated data), and a block that fails the check is a miss, counted as
         * corrupt. So a server without the secret can neither read the KV on the export nor make
         * another server serve bytes it wrote. A sealed export is refused to a cache with another
         * secret or none, and an unsealed one to a cache with a secret. Default: unsealed.
         */
        public Builder secret(byte[] secret) {
            this.secret = Objects.requireNonNull(secret, "secret").clone();
            return this;
        }

        /**
         * Seals the blocks of {@code namespace} with a secret of its own besides the deployment's
         * (a tenant's; at least 16 bytes; copied): they are served only to, and only if written
         * by, servers holding both, so servers of the deployment without it can neither read that
         * tenant's KV nor forge it (their reads of its blocks are misses, counted as corrupt).
         * Needs {@link #secret}. Not checked at attach: a server with the wrong tenant secret
         * misses on every block of that namespace.
         */
        public Builder tenantSecret(Namespace namespace, byte[] secret) {
            Objects.requireNonNull(namespace, "namespace");
            tenantSecrets.add(new SlotSeal.TenantSecret(namespace.rootHi(), namespace.rootLo(),
                    Objects.requireNonNull(secret, "secret").clone()));
            return this;
        }

        /** The settings; throws {@link IllegalArgumentException} naming the first wrong one. */
        public RemoteTier build() {
            require(!exports.isEmpty(), "no export given");
            require(new HashSet<>(exports).size() == exports.size(), "an export is listed twice in " + exports);
            for (URI uri : exports) {
                if ("file".equals(uri.getScheme())) {
                    require(uri.getPath() != null && !uri.getPath().isEmpty(), uri + " names no path");
                    continue;
                }
                boolean nbds = "nbds".equals(uri.getScheme());
                require((nbds || "nbd".equals(uri.getScheme())) && uri.getHost() != null,
                        uri + " is not an nbd://host[:port]/[export], nbds://host[:port]/[export] or file:PATH URI");
                require(tls == null || nbds, "tls is set but the export " + uri + " is plain nbd://; use nbds:// for TLS");
            }
            require(capacityBytesEach > 0, "capacityBytesEach must be positive, was " + capacityBytesEach);
            require(connections >= 1 && connections <= 64, "connections must be in [1, 64], was " + connections);
            require(timeout.compareTo(Duration.ofMillis(1)) >= 0, "timeout must be at least 1 ms, was " + timeout);
            require(ways == null || ways >= 1 && ways <= 64, "ways must be in [1, 64], was " + ways);
            require(!recheckAfter.isNegative(), "recheckAfter must not be negative, was " + recheckAfter);
            require(lookupBudget.compareTo(Duration.ofMillis(1)) >= 0, "lookupBudget must be at least 1 ms, was " + lookupBudget);
            require(secret == null || secret.length >= SlotSeal.MIN_SECRET_BYTES, "secret must have at least "
                    + SlotSeal.MIN_SECRET_BYTES + " bytes, had " + (secret == null ? 0 : secret.length));
            require(tenantSecrets.isEmpty() || secret != null, "a tenantSecret needs the deployment's secret too");
            Set<List<Long>> namespaces = new HashSet<>();
            for (SlotSeal.TenantSecret t : tenantSecrets) {
                require(t.secret().length >= SlotSeal.MIN_SECRET_BYTES, "a tenantSecret must have at least "
                        + SlotSeal.MIN_SECRET_BYTES + " bytes, had " + t.secret().length);
                require(namespaces.add(List.of(t.nsHi(), t.nsLo())), "a namespace was given two tenantSecrets");
            }
            return new RemoteTier(this);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException("RemoteTier: " + message);
            }
        }
    }
}
