package moge.cli;

import moge.thinking.ThinkingListener;

import java.io.PrintWriter;

/**
 * Streams a split answer to the terminal: the reasoning dimmed (ANSI faint) when the output is a terminal, plain
 * otherwise, or not at all when hidden; then the answer, separated from the reasoning by a blank line.
 */
final class ReasoningPrinter implements ThinkingListener {
    static final String FAINT = "\u001b[2m";
    static final String RESET = "\u001b[0m";

    private final PrintWriter out;
    private final boolean ansi;
    private final boolean hide;
    private boolean inReasoning;
    private boolean printedReasoning;
    private boolean printedContent;

    ReasoningPrinter(PrintWriter out, boolean ansi, boolean hideReasoning) {
        this.out = out;
        this.ansi = ansi;
        this.hide = hideReasoning;
    }

    /** Whether standard output is an interactive terminal (then ANSI styling is safe). */
    static boolean stdoutIsTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    @Override
    public boolean onToken(int id, moge.generate.Step step, String reasoning, String content) {
        if (!reasoning.isEmpty() && !hide) {
            if (!inReasoning && ansi) out.print(FAINT);
            inReasoning = true;
            printedReasoning = true;
            out.print(reasoning);
        }
        if (!content.isEmpty()) {
            endReasoning();
            if (!printedContent && printedReasoning) out.print("\n\n");
            printedContent = true;
            out.print(content);
        }
        out.flush();
        return true;
    }

    @Override
    public void onEscalation(String reason) {
        endReasoning();
        if (ansi) out.print(FAINT + "(unsure, thinking again: " + reason + ")" + RESET + "\n");
        out.flush();
    }

    /** Ends the styled run (call once the answer is complete). */
    void finish() {
        endReasoning();
        out.flush();
    }

    private void endReasoning() {
        if (inReasoning && ansi) out.print(RESET);
        inReasoning = false;
    }
}
