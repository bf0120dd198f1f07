package moge.format;

import moge.MogeException;

import java.util.Map;

/** Named tensors from a checkpoint (safetensors directory or GGUF file), mapped, never copied. */
public interface TensorSource extends AutoCloseable {
    Map<String, TensorData> tensors();

    /** The path shown in error messages. */
    String describe();

    default TensorData find(String name) {
        return tensors().get(name);
    }

    /** The tensor, or a user-facing error naming it. */
    default TensorData require(String name) {
        TensorData t = tensors().get(name);
        if (t == null) throw new MogeException(describe() + ": missing tensor " + name);
        if (t.type() == null) throw new MogeException(t.file() + ": tensor " + name + " has an unsupported dtype");
        return t;
    }

    @Override
    void close();
}
