package moge;

/**
 * Marks a failure of something the engine depends on at run time rather than of the request (a remote
 * expert worker that is down, a device lost): the server answers 503 and keeps serving once it is back.
 * Implement it on a {@link MogeException} subclass.
 */
public interface ServiceUnavailable {
}
