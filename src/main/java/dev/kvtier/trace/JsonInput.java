package dev.kvtier.trace;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A streaming JSON parser over one trace file, with typed reads of the current value that fail
 * as {@link TraceFormatException}s naming the file and the value's line. Duplicate fields are
 * malformed JSON.
 */
final class JsonInput implements AutoCloseable {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    final String file;
    final JsonParser parser;

    private JsonInput(String file, JsonParser parser) {
        this.file = file;
        this.parser = parser;
    }

    static JsonInput open(Path path) throws IOException {
        return new JsonInput(Trace.fileName(path), FACTORY.createParser(path.toFile()));
    }

    /** The next token; malformed JSON becomes a TraceFormatException at the parser's line. */
    JsonToken next() throws TraceFormatException {
        return read(parser::nextToken);
    }

    /** Skips the current value if it is an array or object. */
    void skipValue() throws TraceFormatException {
        read(parser::skipChildren);
    }

    /** A parser call that may fail. */
    private interface ParserCall<T> {
        T call() throws IOException;
    }

    /** The call's result; malformed JSON or a failed read becomes a TraceFormatException at the parser's line. */
    private <T> T read(ParserCall<T> call) throws TraceFormatException {
        try {
            return call.call();
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new TraceFormatException(file, line(), "cannot read: " + e.getMessage(), e);
        }
    }

    /** 1-based line of the current token (of the end of input once there is none). */
    int line() {
        JsonLocation at = parser.currentToken() == null ? parser.currentLocation() : parser.currentTokenLocation();
        return Math.max(1, at.getLineNr());
    }

    TraceFormatException fail(int line, String problem) {
        return new TraceFormatException(file, line, problem);
    }

    TraceFormatException fail(String problem) {
        return fail(line(), problem);
    }

    private TraceFormatException malformed(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        int line = at != null && at.getLineNr() > 0 ? at.getLineNr() : line();
        String why = e.getOriginalMessage();
        if (why == null) {
            why = e.getClass().getSimpleName();
        }
        int nl = why.indexOf('\n');
        why = nl < 0 ? why : why.substring(0, nl);
        why = SOURCE_LOCATION.matcher(why).replaceAll("line $1, column $2");
        return new TraceFormatException(file, line, "malformed JSON: " + why, e);
    }

    /** Jackson's "[Source: ...; line: 1, column: 71]" inside messages. */
    private static final Pattern SOURCE_LOCATION = Pattern.compile("\\[Source: .*?; line: (\\d+), column: (\\d+)\\]");

    /** "1 id", "2 ids". */
    static String ids(int n) {
        return n + (n == 1 ? " id" : " ids");
    }

    /** Whether the current value is JSON {@code null} (an optional field given no value). */
    boolean isNull() {
        return parser.currentToken() == JsonToken.VALUE_NULL;
    }

    /** Counts one record whose optional {@code field} was null or missing and took its default. */
    static void defaulted(Map<String, Long> counts, String field) {
        counts.merge(field, 1L, Long::sum);
    }

    /** The current value as an int >= 0. */
    int nonNegativeInt(String field) throws TraceFormatException {
        long v = nonNegativeLong(field);
        if (v > Integer.MAX_VALUE) {
            throw fail(field + " " + v + " is too large");
        }
        return (int) v;
    }

    /** The current value as a long >= 0. */
    long nonNegativeLong(String field) throws TraceFormatException {
        if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT) {
            throw fail(field + " must be a non-negative integer, got " + describe());
        }
        if (read(parser::getNumberType) == JsonParser.NumberType.BIG_INTEGER) {
            throw fail(field + " " + read(parser::getText) + " is too large");
        }
        long v = read(parser::getLongValue);
        if (v < 0) {
            throw fail(field + " must not be negative, got " + v);
        }
        return v;
    }

    /** The current value as a finite number >= 0 (integer or not). */
    double nonNegativeNumber(String field) throws TraceFormatException {
        JsonToken t = parser.currentToken();
        if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
            throw fail(field + " must be a non-negative number, got " + describe());
        }
        double v = read(parser::getDoubleValue);
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            throw fail(field + " must be a finite number, got " + read(parser::getText));
        }
        if (v < 0) {
            throw fail(field + " must not be negative, got " + read(parser::getText));
        }
        return v;
    }

    /** The current value as a string. */
    String string(String field) throws TraceFormatException {
        if (parser.currentToken() != JsonToken.VALUE_STRING) {
            throw fail(field + " must be a string, got " + describe());
        }
        return read(parser::getText);
    }

    /** Asserts the current value starts an array. */
    void expectArray(String field) throws TraceFormatException {
        if (parser.currentToken() != JsonToken.START_ARRAY) {
            throw fail(field + " must be an array, got " + describe());
        }
    }

    /** The current value, an array of integers >= 0, as an exact-size long[]; {@code scratch} is reused. */
    long[] ids(String field, Scratch scratch) throws TraceFormatException {
        expectArray(field);
        int n = 0;
        long[] buf = scratch.buf;
        JsonToken t;
        while ((t = next()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw fail(field + " must hold non-negative integers, got " + describe() + " at index " + n);
            }
            long v = nonNegativeLong(field + "[" + n + "]");
            if (n == buf.length) {
                buf = Arrays.copyOf(buf, buf.length * 2);
                scratch.buf = buf;
            }
            buf[n++] = v;
        }
        return Arrays.copyOf(buf, n);
    }

    /** A short description of the current token for error messages. */
    String describe() {
        JsonToken t = parser.currentToken();
        if (t == null) {
            return "end of input";
        }
        try {
            switch (t) {
                case START_OBJECT: return "an object";
                case START_ARRAY: return "an array";
                case VALUE_STRING: return "string \"" + abbreviate(parser.getText()) + "\"";
                case VALUE_NULL: return "null";
                case VALUE_TRUE: case VALUE_FALSE: return parser.getText();
                case VALUE_NUMBER_INT: case VALUE_NUMBER_FLOAT: return abbreviate(parser.getText());
                default: return t.asString() != null ? "\"" + t.asString() + "\"" : t.name();
            }
        } catch (IOException e) {
            return t.name();
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    @Override
    public void close() throws IOException {
        parser.close();
    }

    /** A growable buffer for id lists, shared by the requests of one file. */
    static final class Scratch {
        long[] buf = new long[256];
    }
}
