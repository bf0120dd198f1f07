package moge.constrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a JSON schema into the {@link Schema} the matcher follows. The subset: {@code type} (one or a list),
 * {@code properties}, {@code required}, {@code additionalProperties}, {@code items}, {@code minItems},
 * {@code maxItems}, {@code minLength}, {@code maxLength}, {@code enum}, {@code const}, {@code anyOf}, a
 * one-element {@code allOf}, and {@code $ref} to {@code #}, {@code #/$defs/...} or {@code #/definitions/...}
 * (recursion allowed). Annotations ({@code title}, {@code description}, {@code default}, ...) are ignored. Any
 * other keyword is refused with a {@link SchemaException} naming it, since ignoring it would let output
 * through that the schema forbids.
 * <p>What is generated is a subset of what validates: declared properties in the schema's order, optional
 * ones possibly left out, never properties beyond the declared ones (as with additionalProperties false, which
 * strict mode means anyway); an object without declared properties takes any keys.
 */
public final class SchemaCompiler {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema", "$id",
            "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", "allOf", "$ref");
    private static final Set<String> OBJECT_WORDS = Set.of("properties", "required", "additionalProperties");
    private static final Set<String> ARRAY_WORDS = Set.of("items", "minItems", "maxItems");
    private static final Set<String> STRING_WORDS = Set.of("minLength", "maxLength");

    private final JsonNode root;
    private final Map<String, Schema.Ref> refs = new HashMap<>();

    private SchemaCompiler(JsonNode root) {
        this.root = root;
    }

    /** The shape of {@code schema}; throws {@link SchemaException} outside the subset. */
    public static Schema compile(JsonNode schema) {
        SchemaCompiler c = new SchemaCompiler(schema);
        Schema s = c.node(schema, "");
        for (Schema.Ref r : c.refs.values()) c.checkProgress(r);
        return s;
    }

    private Schema node(JsonNode n, String path) {
        if (n.isBoolean()) {
            if (n.booleanValue()) return Schema.ANY;
            throw new SchemaException(path, null, "the schema false allows no value");
        }
        if (!n.isObject()) throw new SchemaException(path, null, "a schema must be an object or a boolean, got " + n.getNodeType());
        List<String> words = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (ANNOTATIONS.contains(k)) continue;
            if (!SUPPORTED.contains(k)) throw new SchemaException(path, k, "'" + k + "' is not supported (supported: " + supported() + ")");
            words.add(k);
        }
        if (n.has("$ref")) {
            alone(words, "$ref", path);
            return ref(n.get("$ref"), path);
        }
        if (n.has("allOf")) {
            alone(words, "allOf", path);
            JsonNode all = n.get("allOf");
            if (!all.isArray() || all.size() != 1) throw new SchemaException(path, "allOf", "'allOf' is supported with exactly one schema");
            return node(all.get(0), path + ".allOf[0]");
        }
        if (n.has("anyOf")) {
            alone(words, "anyOf", path);
            JsonNode any = n.get("anyOf");
            if (!any.isArray() || any.isEmpty()) throw new SchemaException(path, "anyOf", "'anyOf' must be a non-empty array of schemas");
            Schema[] options = new Schema[any.size()];
            for (int i = 0; i < options.length; i++) options[i] = node(any.get(i), path + ".anyOf[" + i + "]");
            return options.length == 1 ? options[0] : new Schema.AnyOf(options);
        }
        List<String> types = types(n, path);
        if (n.has("enum") || n.has("const")) return literals(n, types, path);
        if (types.size() == 1) return typed(n, types.getFirst(), path);
        Schema[] options = new Schema[types.size()];
        for (int i = 0; i < options.length; i++) options[i] = typed(n, types.get(i), path);
        return new Schema.AnyOf(options);
    }

    /** The node's types; without "type", the one its keywords imply, else all of them. */
    private static List<String> types(JsonNode n, String path) {
        JsonNode t = n.get("type");
        List<String> out = new ArrayList<>();
        if (t == null) {
            if (has(n, OBJECT_WORDS)) out.add("object");
            if (has(n, ARRAY_WORDS)) out.add("array");
            if (has(n, STRING_WORDS)) out.add("string");
            if (out.isEmpty()) out.addAll(List.of("object", "array", "string", "number", "boolean", "null"));
            return out;
        }
        for (JsonNode x : t.isArray() ? t : List.of(t)) {
            String s = x.isTextual() ? x.textValue() : null;
            if (s == null || !List.of("object", "array", "string", "number", "integer", "boolean", "null").contains(s)) {
                throw new SchemaException(path, "type", "'type' must be object, array, string, number, integer, boolean or null (or a list of them), got " + x);
            }
            if (!out.contains(s)) out.add(s);
        }
        if (out.isEmpty()) throw new SchemaException(path, "type", "'type' must not be an empty list");
        return out;
    }

    private Schema typed(JsonNode n, String type, String path) {
        return switch (type) {
            case "object" -> object(n, path);
            case "array" -> new Schema.Arr(n.has("items") ? items(n.get("items"), path) : Schema.ANY, count(n, "minItems", 0, path),
                    checkRange(n, "minItems", "maxItems", count(n, "maxItems", Integer.MAX_VALUE, path), path));
            case "string" -> new Schema.Str(count(n, "minLength", 0, path),
                    n.has("maxLength") ? checkRange(n, "minLength", "maxLength", count(n, "maxLength", -1, path), path) : -1);
            case "number" -> new Schema.Num(false);
            case "integer" -> new Schema.Num(true);
            case "boolean" -> Schema.Lit.of("true", "false");
            case "null" -> Schema.Lit.of("null");
            default -> throw new IllegalStateException(type);
        };
    }

    private Schema items(JsonNode items, String path) {
        if (items.isArray()) throw new SchemaException(path, "items", "'items' as a list of schemas (a tuple) is not supported");
        return node(items, path + ".items");
    }

    private Schema object(JsonNode n, String path) {
        JsonNode props = n.get("properties");
        if (props != null && !props.isObject()) throw new SchemaException(path, "properties", "'properties' must be an object");
        JsonNode extra = n.get("additionalProperties");
        List<String> names = new ArrayList<>();
        if (props != null) props.fieldNames().forEachRemaining(names::add);
        JsonNode req = n.get("required");
        Set<String> required = new java.util.LinkedHashSet<>();
        if (req != null) {
            if (!req.isArray()) throw new SchemaException(path, "required", "'required' must be an array of property names");
            for (JsonNode r : req) {
                if (!r.isTextual()) throw new SchemaException(path, "required", "'required' must be an array of property names, got " + r);
                if (!names.contains(r.textValue())) {
                    throw new SchemaException(path, "required", "required property '" + r.textValue()
                            + "' is not in 'properties' (only declared properties are generated)");
                }
                required.add(r.textValue());
            }
        }
        if (names.isEmpty()) {
            // no declared properties: free keys, unless additionalProperties forbids them all
            Schema values = extra == null ? Schema.ANY : extra.isBoolean() ? (extra.booleanValue() ? Schema.ANY : null)
                    : node(extra, path + ".additionalProperties");
            return new Schema.Obj(new byte[0][], new Schema[0], new boolean[0], values);
        }
        if (extra != null && !extra.isBoolean()) node(extra, path + ".additionalProperties"); // checked, never generated
        byte[][] keys = new byte[names.size()][];
        Schema[] values = new Schema[names.size()];
        boolean[] must = new boolean[names.size()];
        for (int i = 0; i < keys.length; i++) {
            String name = names.get(i);
            try {
                keys[i] = JSON.writeValueAsBytes(TextNode.valueOf(name));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
            values[i] = node(props.get(name), path + ".properties." + name);
            must[i] = required.contains(name);
        }
        return new Schema.Obj(keys, values, must, null);
    }

    private Schema literals(JsonNode n, List<String> types, String path) {
        List<JsonNode> values = new ArrayList<>();
        if (n.has("const")) values.add(n.get("const"));
        if (n.has("enum")) {
            JsonNode e = n.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new SchemaException(path, "enum", "'enum' must be a non-empty array");
            if (n.has("const")) values.removeIf(v -> !contains(e, v)); // both: the const, if the enum has it
            else e.forEach(values::add);
        }
        List<byte[]> texts = new ArrayList<>();
        for (JsonNode v : values) {
            if (!types.stream().anyMatch(t -> fits(v, t))) continue;
            try {
                byte[] b = JSON.writeValueAsBytes(v);
                if (texts.stream().noneMatch(x -> java.util.Arrays.equals(x, b))) texts.add(b);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
        String word = n.has("enum") ? "enum" : "const";
        if (texts.isEmpty()) throw new SchemaException(path, word, "no value of '" + word + "' fits 'type' " + types);
        return new Schema.Lit(texts.toArray(new byte[0][]));
    }

    private static boolean fits(JsonNode v, String type) {
        return switch (type) {
            case "object" -> v.isObject();
            case "array" -> v.isArray();
            case "string" -> v.isTextual();
            case "number" -> v.isNumber();
            case "integer" -> v.isIntegralNumber() || (v.isNumber() && v.decimalValue().stripTrailingZeros().scale() <= 0);
            case "boolean" -> v.isBoolean();
            case "null" -> v.isNull();
            default -> false;
        };
    }

    private static boolean contains(JsonNode array, JsonNode v) {
        for (JsonNode x : array) if (x.equals(v)) return true;
        return false;
    }

    private Schema ref(JsonNode r, String path) {
        String s = r.isTextual() ? r.textValue() : "";
        Schema.Ref known = refs.get(s);
        if (known != null) return known;
        JsonNode target;
        if (s.equals("#")) {
            target = root;
        } else if (s.startsWith("#/$defs/") || s.startsWith("#/definitions/")) {
            String group = s.startsWith("#/$defs/") ? "$defs" : "definitions";
            String name = s.substring(group.length() + 3).replace("~1", "/").replace("~0", "~");
            JsonNode defs = root.get(group);
            target = defs == null ? null : defs.get(name);
            if (target == null) throw new SchemaException(path, "$ref", "'$ref' " + s + " names no schema in " + group);
        } else {
            throw new SchemaException(path, "$ref", "'$ref' must point into this schema (#, #/$defs/NAME or #/definitions/NAME), got " + r);
        }
        Schema.Ref ref = new Schema.Ref(s);
        refs.put(s, ref);
        ref.target = node(target, s.substring(1).replace('/', '.'));
        return ref;
    }

    /** Refuses a reference that reaches itself through anyOf or references alone: the matcher would never read a byte. */
    private void checkProgress(Schema.Ref start) {
        Map<Schema, Boolean> seen = new IdentityHashMap<>();
        List<Schema> todo = new ArrayList<>(List.of(start.target));
        while (!todo.isEmpty()) {
            Schema s = todo.removeLast();
            if (s == start) throw new SchemaException("", "$ref", "'$ref' " + start.name + " refers to itself without a value in between");
            if (seen.put(s, Boolean.TRUE) != null) continue;
            if (s instanceof Schema.Ref r) todo.add(r.target);
            else if (s instanceof Schema.AnyOf a) todo.addAll(List.of(a.options()));
        }
    }

    private static void alone(List<String> words, String word, String path) {
        for (String w : words) {
            if (!w.equals(word)) throw new SchemaException(path, w, "'" + w + "' beside '" + word + "' is not supported; put it inside");
        }
    }

    private static int count(JsonNode n, String word, int absent, String path) {
        JsonNode v = n.get(word);
        if (v == null) return absent;
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() < 0) {
            throw new SchemaException(path, word, "'" + word + "' must be a non-negative integer, got " + v);
        }
        return v.intValue();
    }

    private static int checkRange(JsonNode n, String minWord, String maxWord, int max, String path) {
        if (n.has(minWord) && max >= 0 && n.get(minWord).intValue() > max) {
            throw new SchemaException(path, maxWord, "'" + minWord + "' " + n.get(minWord) + " exceeds '" + maxWord + "' " + max);
        }
        return max;
    }

    private static boolean has(JsonNode n, Set<String> words) {
        for (String w : words) if (n.has(w)) return true;
        return false;
    }

    private static String supported() {
        return "type, properties, required, additionalProperties, items, minItems, maxItems, minLength, maxLength, enum, const, "
                + "anyOf, allOf of one schema, $ref to #/$defs";
    }
}
