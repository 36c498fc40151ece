package dev.kvtier.codec;

/** The codecs a tier can be configured with, by name and by header id (0 is raw). */
public final class Codecs {
    public static final int RAW = 0;
    private static final BlockCodec LZ4 = new Lz4Codec(false);
    private static final BlockCodec LZ4_SHUFFLE2 = new Lz4Codec(true);

    private Codecs() {
    }

    /** The codec with header id {@code id}, or null for raw. */
    public static BlockCodec byId(int id) {
        switch (id) {
            case Lz4Codec.ID_LZ4:
                return LZ4;
            case Lz4Codec.ID_LZ4_SHUFFLE2:
                return LZ4_SHUFFLE2;
            default:
                return null;
        }
    }
}
