package moge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import moge.MogeException;
import moge.constrain.GbnfParser;
import moge.constrain.JsonConstraints;
import moge.constrain.OutputConstraint;
import moge.constrain.SchemaException;
import moge.constrain.TokenMask;
import moge.model.LoadedModel;
import moge.thinking.ThinkProtocol;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the output must look like: llama.cpp's -j (a JSON schema), --grammar and --grammar-file (GBNF). */
final class ConstraintOptions {
    @Option(names = {"-j", "--json-schema"}, paramLabel = "SCHEMA",
            description = "Constrain the output to JSON that validates against this JSON schema: inline ('{...}', as llama.cpp's -j) "
                    + "or a file. '{}' allows any JSON value, '{\"type\":\"object\"}' any object (JSON mode). With --chat the "
                    + "model may think first; the answer is the JSON. See docs/server-api.md for the supported subset.")
    String jsonSchema;

    @Option(names = "--grammar", paramLabel = "GBNF",
            description = "Constrain the output to text this GBNF grammar (llama.cpp's notation, rule 'root') matches, e.g. "
                    + "'root ::= (\"yes\" | \"no\") \".\"'. With --chat the model may think first; the answer follows the grammar.")
    String grammar;

    @Option(names = "--grammar-file", paramLabel = "FILE", description = "As --grammar, read from FILE (llama.cpp's .gbnf files).")
    Path grammarFile;

    boolean given() {
        return jsonSchema != null || grammar != null || grammarFile != null;
    }

    /** The constraint, or null; a malformed schema or grammar fails here with the place it is wrong. */
    OutputConstraint constraint(LoadedModel lm, boolean chat) {
        if (!given()) return null;
        if ((jsonSchema != null ? 1 : 0) + (grammar != null ? 1 : 0) + (grammarFile != null ? 1 : 0) > 1) {
            throw new MogeException("give one of --json-schema, --grammar or --grammar-file");
        }
        Prompts.requireTokenizer(lm);
        JsonConstraints constraints = new JsonConstraints(lm.tokenizer, lm.config.vocabSize());
        TokenMask mask = jsonSchema != null ? schema(constraints) : grammar(constraints);
        return chat ? OutputConstraint.afterThinking(mask, ThinkProtocol.of(lm.tokenizer)) : OutputConstraint.plain(mask);
    }

    private TokenMask grammar(JsonConstraints constraints) {
        String text = grammar;
        String option = "--grammar";
        if (grammarFile != null) {
            option = "--grammar-file " + grammarFile;
            try {
                text = Files.readString(grammarFile);
            } catch (IOException e) {
                throw MogeException.io(grammarFile, e);
            }
        }
        try {
            return constraints.grammar(text);
        } catch (GbnfParser.GrammarException e) {
            throw new MogeException(option + ": " + e.getMessage());
        }
    }

    private TokenMask schema(JsonConstraints constraints) {
        String text = jsonSchema.strip();
        if (!text.startsWith("{") && !text.equals("true")) {
            Path file = Path.of(jsonSchema);
            try {
                text = Files.readString(file);
            } catch (IOException e) {
                throw MogeException.io(file, e);
            }
        }
        com.fasterxml.jackson.databind.JsonNode schema;
        try {
            schema = new ObjectMapper().readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new MogeException("--json-schema: not JSON (" + e.getOriginalMessage() + ")");
        }
        try {
            return constraints.schema(schema);
        } catch (SchemaException e) {
            throw new MogeException("--json-schema: " + e.getMessage());
        }
    }
}
