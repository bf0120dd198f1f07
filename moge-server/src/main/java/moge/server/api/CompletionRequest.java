package moge.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import moge.chat.ChatMessage;
import moge.sample.SamplerParams;

import java.util.List;
import java.util.Map;

/**
 * One parsed and validated request of /v1/chat/completions or /v1/completions. {@code body} is the raw JSON
 * so that plug-ins ({@link RequestHooks}) can read fields of their own.
 *
 * @param messages       chat turns (chat only)
 * @param promptText     the prompt as text (completions; null when given as ids)
 * @param promptIds      the prompt as token ids, used verbatim (completions; null when given as text)
 * @param maxTokens      null: up to the end of the context
 * @param topLogprobs    -1: no log-probabilities; else alternatives per token
 * @param templateKwargs chat_template_kwargs: extra chat template variables
 * @param speculative    false when the request opts out of speculative decoding
 * @param n              choices to generate, each a sequence of its own (OpenAI's n)
 * @param textBias       logit_bias entries given as text, not yet tokenized (the sampler has the id ones)
 * @param minTokens      vLLM's min_tokens: no end of the output (EOS, stop ids) before this many tokens
 * @param stopTokenIds   vLLM's stop_token_ids: ids that end the output, ignore_eos or not
 * @param echo           completions' echo: the prompt comes back before the output (with its log-probabilities when
 *                       asked for); with echo, max_tokens may be 0
 */
public record CompletionRequest(boolean chat, ObjectNode body, String model, List<ChatMessage> messages, String promptText,
                                int[] promptIds, Integer maxTokens, SamplerParams sampler, List<String> stop, int topLogprobs,
                                boolean stream, boolean includeUsage, boolean ignoreEos, boolean speculative, boolean skipSpecial, String user,
                                Map<String, Object> templateKwargs, int n,
                                List<RequestParser.TextBias> textBias, int minTokens, int[] stopTokenIds, boolean echo) {
}
