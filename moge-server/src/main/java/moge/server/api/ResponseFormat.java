package moge.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.constrain.GbnfParser;
import moge.constrain.JsonConstraints;
import moge.constrain.OutputConstraint;
import moge.constrain.SchemaException;
import moge.constrain.TokenMask;
import moge.thinking.ThinkProtocol;
import moge.tokenizer.Tokenizer;

/**
 * The {@code response_format} field: {@code {"type": "text"}} (free text, as without it),
 * {@code {"type": "json_object"}} (one JSON object; llama-server's {@code "schema"} beside it is honoured) or
 * {@code {"type": "json_schema", "json_schema": {"name": .., "schema": {..}, "strict": ..}}} (JSON that
 * validates against the schema, for the subset {@link moge.constrain.SchemaCompiler} supports). A schema
 * outside the subset is a 400 naming response_format and the keyword, rather than output the schema forbids.
 * Also llama-server's {@code grammar} (GBNF, {@link GbnfParser}), by the same constrained decoding.
 */
final class ResponseFormat {
    static final String PARAM = "response_format", GRAMMAR = "grammar";

    private final JsonConstraints constraints;
    private final ThinkProtocol protocol;

    /** @param logits the width of the model's logits rows */
    ResponseFormat(Tokenizer tokenizer, int logits) {
        this.constraints = new JsonConstraints(tokenizer, logits);
        this.protocol = ThinkProtocol.of(tokenizer);
        // the vocabulary's trie takes seconds for a 150k vocabulary: built now, beside the warm-up, rather than
        // on the first constrained request (which otherwise waits for it)
        Thread t = new Thread(() -> {
            try {
                constraints.vocab();
            } catch (RuntimeException e) {
                // left for the first constrained request to build again and report
            }
        }, "moge-token-trie");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    /**
     * The mask the request asks for, or null for free text; a 400 for a malformed field, schema or grammar.
     * {@code grammar} is llama-server's field: GBNF text the output must match (the answer, for a thinking model).
     */
    TokenMask mask(ObjectNode body) {
        JsonNode rf = body.get(PARAM), grammar = body.get(GRAMMAR);
        if (grammar != null && !grammar.isNull()) {
            if (!grammar.isTextual()) throw ApiException.invalid(GRAMMAR, "'grammar' must be a string of GBNF rules, e.g. \"root ::= \\\"yes\\\" | \\\"no\\\"\"");
            if (rf != null && !rf.isNull() && !(rf.isObject() && "text".equals(rf.path("type").asText())))
                throw ApiException.invalid(GRAMMAR, "'grammar' and 'response_format' cannot be used together: give one of them");
            try {
                return constraints.grammar(grammar.textValue());
            } catch (GbnfParser.GrammarException e) {
                throw ApiException.invalid(GRAMMAR, "'grammar': " + e.getMessage());
            }
        }
        if (rf == null || rf.isNull()) return null;
        if (!rf.isObject()) throw invalid("'response_format' must be an object, e.g. {\"type\": \"json_object\"}");
        JsonNode type = rf.get("type");
        if (type == null || !type.isTextual()) throw invalid("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
        try {
            return switch (type.textValue()) {
                case "text" -> null;
                case "json_object" -> rf.has("schema") ? constraints.schema(rf.get("schema")) : constraints.anyObject();
                case "json_schema" -> constraints.schema(schema(rf));
                default -> throw invalid("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got \""
                        + type.textValue() + "\"");
            };
        } catch (SchemaException e) {
            throw invalid("'response_format' " + e.getMessage());
        }
    }

    /** The schema of a json_schema format: json_schema.schema (OpenAI), or schema beside type (llama-server). */
    private static JsonNode schema(JsonNode rf) {
        JsonNode js = rf.get("json_schema");
        if (js == null || js.isNull()) {
            if (rf.has("schema")) return rf.get("schema");
            throw invalid("'response_format' of type json_schema needs 'json_schema': {\"name\": ..., \"schema\": {...}}");
        }
        if (!js.isObject()) throw invalid("'response_format.json_schema' must be an object with 'name' and 'schema'");
        JsonNode name = js.get("name"), strict = js.get("strict");
        if (name != null && !name.isNull() && !name.isTextual()) throw invalid("'response_format.json_schema.name' must be a string");
        if (strict != null && !strict.isNull() && !strict.isBoolean()) throw invalid("'response_format.json_schema.strict' must be a boolean");
        JsonNode schema = js.get("schema");
        // no schema: any JSON value (an empty schema)
        return schema == null || schema.isNull() ? JsonNodeFactory.instance.objectNode() : schema;
    }

    /** The mask of a forced tool choice: the calls' JSON ({@link ToolSpec#callsSchema}). */
    TokenMask calls(ToolSpec tools) {
        try {
            return constraints.schema(tools.callsSchema());
        } catch (SchemaException e) {
            // each function's parameters compiled alone; what fails here is their combination
            throw ApiException.invalid("tools", "'tools' " + e.getMessage());
        }
    }

    /**
     * The constraint of an "auto" tool choice (llama-server's lazy grammar): the answer is free text until the model
     * writes the call marker; the calls' JSON ({@link ToolSpec#autoCallsSchema}) is enforced from there to the
     * closing marker. The markers are matched as tokens where each is one token of the vocabulary, else as text
     * spread over tokens. Null (free text, calls parsed afterwards as before) when some function's parameters are
     * outside the enforceable subset.
     */
    OutputConstraint autoCalls(ToolSpec tools, ToolPrompt markers) {
        TokenMask mask;
        try {
            mask = constraints.schema(tools.autoCallsSchema());
        } catch (SchemaException e) {
            return null;
        }
        return markers.openId >= 0 ? OutputConstraint.lazy(mask, protocol, markers.openId, markers.closeId)
                : OutputConstraint.lazy(mask, protocol, markers.open, markers.close);
    }

    /**
     * The constraint for one attempt: a chat reply of a thinking model may think first (the JSON follows the
     * think block); a raw completion is JSON from its first token.
     */
    OutputConstraint constraint(TokenMask mask, boolean chat) {
        return chat ? OutputConstraint.afterThinking(mask, protocol) : OutputConstraint.plain(mask);
    }

    private static ApiException invalid(String message) {
        return ApiException.invalid(PARAM, message);
    }
}
