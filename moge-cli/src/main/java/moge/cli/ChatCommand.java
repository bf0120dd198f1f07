package moge.cli;

import moge.MogeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Interactive multi-turn chat in the terminal. */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model in the terminal.")
public final class ChatCommand implements Runnable {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Override
    public void run() {
        throw new MogeException("chat is not available yet");
    }
}
