package moge.tensor;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every format's products give the same bits whether the JVM interprets the kernels or runs them compiled. A
 * Vector API operation whose order is left open (reduceLanes(ADD): lane by lane in the interpreter, a tree in
 * C2) made a token's result change with the JIT's progress, so that a batch's token and the same token alone
 * differed now and then (Q4_1 and Q5_1's activation sums, found by a flaky MatmulKernelTest). One JVM runs
 * {@link KernelBitsProbe} with {@code -Xint}, the other compiles each kernel on its first hundred calls
 * ({@code -Xbatch}: before the call goes on) and counts only after three hundred.
 */
class InterpretedBitsTest {
    @Test
    void interpretedAndCompiledKernelsGiveTheSameBits() throws Exception {
        Process interpreted = probe(List.of("-Xint"));
        Process compiled = probe(List.of("-Xbatch", "-XX:-TieredCompilation", "-XX:CompileThreshold=100"), "warm", "300");
        List<String> a = lines(interpreted), b = lines(compiled);
        assertThat(a).as("interpreted probe output").hasSize(KernelBitsProbe.TYPES.length * KernelBitsProbe.TOKENS.length);
        assertThat(b).as("compiled (left) against interpreted (right)").containsExactlyElementsOf(a);
    }

    private static Process probe(List<String> flags, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m"));
        cmd.addAll(flags);
        // surefire's class path (a manifest-only jar when it forks) names the test classes and every dependency
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), KernelBitsProbe.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static List<String> lines(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("probe finished").isTrue();
        assertThat(p.exitValue()).as("probe exit status, output:%n%s", out).isZero();
        return out.lines().toList();
    }
}
