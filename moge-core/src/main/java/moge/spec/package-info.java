/**
 * Speculative decoding. A {@link moge.spec.DraftSource} guesses the next tokens cheaply: prompt lookup
 * ({@link moge.spec.NgramDraft}), a smaller model sharing the vocabulary, or a quantized copy of the target
 * itself ({@link moge.spec.QuantizedCopy}), the latter two through {@link moge.spec.ModelDraft}. A
 * {@link moge.spec.SpeculativeDecoder} feeds the guesses with the pending token through the target in one
 * batched pass, keeps what the target agrees with (greedy: exactly plain decoding's tokens; sampling: the
 * target's distribution, by speculative sampling), cuts the KV cache back past the rest, and sizes each
 * draft with {@link moge.spec.DraftPolicy} from measured costs so that speculation switches off where it
 * does not pay. It plugs into {@link moge.generate.Generator} as a {@link moge.generate.Speculator}; a
 * batching scheduler uses its plan/apply halves. {@link moge.spec.Speculation} builds it from
 * {@link moge.spec.SpecConfig}; {@link moge.spec.SpecBench} measures it against plain decoding.
 */
package moge.spec;
