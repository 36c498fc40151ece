package dev.kvtier.examples.jlama;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a Llama-architecture model with seeded random weights: {@code config.json} (the Hugging
 * Face keys Jlama's {@code LlamaConfig} reads) and {@code model.safetensors} (F32, the tensor
 * names of a Hugging Face Llama checkpoint). Same shape and seed, same bytes: the weights'
 * fingerprint ({@link #fingerprint}) is stable across processes and machines.
 *
 * <p>Correctness does not depend on the weights being trained, and speed depends only on the
 * shape. Weights are Gaussian with standard deviation {@code 1/sqrt(fan_in)} so activations keep
 * their scale through the layers and the logits are spread out (greedy decoding is not decided by
 * rounding noise); norm weights are 1.
 */
public final class RandomLlama {
    private RandomLlama() {
    }

    /** The shape of a Llama model. Head size is {@code dim / heads}. */
    public record Shape(int layers, int dim, int hidden, int heads, int kvHeads, int vocab, int context) {
        public Shape {
            if (dim % heads != 0 || heads % kvHeads != 0) {
                throw new IllegalArgumentException("dim must divide into heads, heads into kvHeads: " + this);
            }
        }

        public int headSize() {
            return dim / heads;
        }

        /** Parameters of the transformer blocks (the part every prompt token goes through). */
        public long blockParams() {
            long attn = (long) dim * dim * 2 + 2L * dim * kvHeads * headSize();
            long mlp = 3L * dim * hidden;
            return layers * (attn + mlp + 2L * dim);
        }

        /** Parse {@code layers=8,dim=512,...}; missing keys keep the values of {@code base}. */
        public static Shape parse(String spec, Shape base) {
            Map<String, Integer> v = new LinkedHashMap<>();
            v.put("layers", base.layers);
            v.put("dim", base.dim);
            v.put("hidden", base.hidden);
            v.put("heads", base.heads);
            v.put("kvHeads", base.kvHeads);
            v.put("vocab", base.vocab);
            v.put("context", base.context);
            if (!spec.isBlank()) {
                for (String kv : spec.split(",")) {
                    String[] p = kv.split("=", 2);
                    if (p.length != 2 || !v.containsKey(p[0].trim())) {
                        throw new IllegalArgumentException("bad shape entry '" + kv + "'; keys: " + v.keySet());
                    }
                    v.put(p[0].trim(), Integer.parseInt(p[1].trim()));
                }
            }
            return new Shape(v.get("layers"), v.get("dim"), v.get("hidden"), v.get("heads"), v.get("kvHeads"),
                    v.get("vocab"), v.get("context"));
        }
    }

    /** Writes the model into {@code dir} (created if absent) unless it is already there. */
    public static Path write(Path dir, Shape s, long seed) {
        try {
            Files.createDirectories(dir);
            Path config = dir.resolve("config.json");
            Path weights = dir.resolve("model.safetensors");
            String configJson = configJson(s, seed);
            if (Files.exists(weights) && Files.exists(config) && Files.readString(config).equals(configJson)) {
                return dir;
            }
            Path tmp = dir.resolve("model.safetensors.tmp");
            writeSafetensors(tmp, s, seed);
            Files.move(tmp, weights, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(config, configJson);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String configJson(Shape s, long seed) {
        return "{\n"
                + "  \"architectures\": [\"LlamaForCausalLM\"],\n"
                + "  \"model_type\": \"llama\",\n"
                + "  \"hidden_act\": \"silu\",\n"
                + "  \"hidden_size\": " + s.dim + ",\n"
                + "  \"intermediate_size\": " + s.hidden + ",\n"
                + "  \"num_attention_heads\": " + s.heads + ",\n"
                + "  \"num_key_value_heads\": " + s.kvHeads + ",\n"
                + "  \"num_hidden_layers\": " + s.layers + ",\n"
                + "  \"max_position_embeddings\": " + s.context + ",\n"
                + "  \"rms_norm_eps\": 1e-05,\n"
                + "  \"rope_theta\": 10000.0,\n"
                + "  \"vocab_size\": " + s.vocab + ",\n"
                + "  \"bos_token_id\": " + ByteTokenizer.BOS + ",\n"
                + "  \"eos_token_id\": " + ByteTokenizer.EOS + ",\n"
                + "  \"torch_dtype\": \"float32\",\n"
                + "  \"kvtier_example_seed\": " + seed + "\n"
                + "}\n";
    }

    private record Tensor(String name, int[] shape, double std) {
        long elements() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private static List<Tensor> tensors(Shape s) {
        int kv = s.kvHeads * s.headSize();
        List<Tensor> t = new ArrayList<>();
        t.add(new Tensor("model.embed_tokens.weight", new int[] {s.vocab, s.dim}, 1.0));
        for (int l = 0; l < s.layers; l++) {
            String p = "model.layers." + l + ".";
            t.add(new Tensor(p + "input_layernorm.weight", new int[] {s.dim}, 0));
            t.add(new Tensor(p + "self_attn.q_proj.weight", new int[] {s.dim, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "self_attn.k_proj.weight", new int[] {kv, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "self_attn.v_proj.weight", new int[] {kv, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "self_attn.o_proj.weight", new int[] {s.dim, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "post_attention_layernorm.weight", new int[] {s.dim}, 0));
            t.add(new Tensor(p + "mlp.gate_proj.weight", new int[] {s.hidden, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "mlp.up_proj.weight", new int[] {s.hidden, s.dim}, 1 / Math.sqrt(s.dim)));
            t.add(new Tensor(p + "mlp.down_proj.weight", new int[] {s.dim, s.hidden}, 1 / Math.sqrt(s.hidden)));
        }
        t.add(new Tensor("model.norm.weight", new int[] {s.dim}, 0));
        t.add(new Tensor("lm_head.weight", new int[] {s.vocab, s.dim}, 1 / Math.sqrt(s.dim)));
        return t;
    }

    private static void writeSafetensors(Path file, Shape s, long seed) throws IOException {
        List<Tensor> tensors = tensors(s);
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Tensor t : tensors) {
            long bytes = t.elements() * Float.BYTES;
            header.append(",\"").append(t.name).append("\":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < t.shape.length; i++) {
                header.append(i == 0 ? "" : ",").append(t.shape[i]);
            }
            header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        header.append('}');
        while ((header.length() + 8) % 8 != 0) {
            header.append(' ');
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).flip();
            ch.write(len);
            ch.write(ByteBuffer.wrap(h));
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            // One stream per tensor, split off the seed in a fixed order: reproducible everywhere.
            SplittableRandom root = new SplittableRandom(seed);
            for (Tensor t : tensors) {
                SplittableRandom r = root.split();
                for (long i = 0, n = t.elements(); i < n; i++) {
                    float v = t.std == 0 ? 1.0f : (float) (gaussian(r) * t.std);
                    buf.putFloat(v);
                    if (!buf.hasRemaining()) {
                        buf.flip();
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                        buf.clear();
                    }
                }
            }
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }

    /** Box-Muller with StrictMath: the same doubles on every JVM (nextGaussian's algorithm is not specified). */
    private static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        return StrictMath.sqrt(-2 * StrictMath.log(1 - u1)) * StrictMath.cos(2 * StrictMath.PI * u2);
    }

    /** SHA-256 of {@code config.json} and {@code model.safetensors}, as {@code sha256:<hex>}. */
    public static String fingerprint(Path dir) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String f : new String[] {"config.json", "model.safetensors"}) {
                try (DigestInputStream in = new DigestInputStream(Files.newInputStream(dir.resolve(f)), md);
                        OutputStream sink = OutputStream.nullOutputStream()) {
                    in.transferTo(sink);
                }
            }
            return "sha256:" + HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
