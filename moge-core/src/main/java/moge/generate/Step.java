package moge.generate;

/**
 * One position's prediction: the chosen id and its log-probability under the model, the top alternatives
 * and the margin between the best two (how close greedy decoding was to a tie).
 */
public record Step(int pos, int id, double logprob, int[] topIds, double[] topLogprobs, double margin) {
}
