package moge.constrain;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A JSON value's shape as the matcher follows it: what {@link SchemaCompiler} makes of a JSON schema, or
 * {@link #ANY} for JSON mode. Nodes are compared by identity (a recursive schema is a cyclic graph through
 * {@link Ref}), so the matcher's frames can point at them cheaply.
 */
public sealed interface Schema {
    /**
     * An object. With declared {@code keys} (each JSON-encoded with both quotes, in the schema's order) the
     * output has exactly those properties, in that order, each optional one possibly left out. Without keys,
     * {@code extra} (null: none) is the shape of the values of freely named properties.
     */
    record Obj(byte[][] keys, Schema[] values, boolean[] required, Schema extra) implements Schema {
        boolean free() {
            return keys.length == 0 && extra != null;
        }

        /** The last property index a key may take after the properties before {@code from} were dealt with. */
        int lastCandidate(int from) {
            int i = from;
            while (i < keys.length && !required[i]) i++;
            return Math.min(i, keys.length - 1);
        }

        /** Whether a required property is still to come from {@code from} on (the object must not close). */
        boolean requiredFrom(int from) {
            for (int i = from; i < keys.length; i++) if (required[i]) return true;
            return false;
        }
    }

    /** An array of {@code items} with between {@code min} and {@code max} elements. */
    record Arr(Schema items, int min, int max) implements Schema {
    }

    /** A string of between {@code min} and {@code max} characters (code points; max -1: unbounded). */
    record Str(int min, int max) implements Schema {
        /** Any string: no length is counted, so its states repeat (and their token masks are cached). */
        public static final Str ANY = new Str(0, -1);

        boolean counts() {
            return min > 0 || max >= 0;
        }
    }

    /** A number, or only an integer (no fraction, no exponent). */
    record Num(boolean integer) implements Schema {
    }

    /** One of a few exact texts (enum, const, true, false, null): their compact JSON, sorted bytewise. */
    record Lit(byte[][] values) implements Schema {
        public Lit {
            values = values.clone();
            Arrays.sort(values, Arrays::compareUnsigned);
        }

        static Lit of(String... texts) {
            byte[][] b = new byte[texts.length][];
            for (int i = 0; i < texts.length; i++) b[i] = texts[i].getBytes(StandardCharsets.UTF_8);
            return new Lit(b);
        }
    }

    /** Any of several shapes; the matcher follows all that fit the text so far. */
    record AnyOf(Schema[] options) implements Schema {
    }

    /** A named schema ($defs), resolved after compiling so that it may refer to itself. */
    final class Ref implements Schema {
        final String name;
        Schema target;

        Ref(String name) {
            this.name = name;
        }

        @Override
        public String toString() {
            return "Ref[" + name + "]";
        }
    }

    /** Any JSON value: JSON mode's values, and what an empty schema allows. */
    Schema ANY = Any.value();

    /** Any JSON object (JSON mode's root). */
    Schema ANY_OBJECT = Any.object();

    /** Builds the cyclic any-value graph once. */
    final class Any {
        private static final Ref VALUE = new Ref("any");
        private static final Obj OBJECT = new Obj(new byte[0][], new Schema[0], new boolean[0], VALUE);

        static {
            VALUE.target = new AnyOf(new Schema[]{OBJECT, new Arr(VALUE, 0, Integer.MAX_VALUE), Str.ANY, new Num(false),
                    Lit.of("true", "false", "null")});
        }

        private Any() {
        }

        static Schema value() {
            return VALUE;
        }

        static Schema object() {
            return OBJECT;
        }
    }
}
