/**
 * Where `gpux serve` listens (`--host`, `--port`), checked before the models load and again where the server
 * binds: an address this machine does not have, a name that does not resolve, or a port already taken is the
 * user's input (exit 2 with a hint), never an unexpected failure.
 *
 * @module
 */
import { InputError } from "../errors.ts";

const HOST_HINT = "use 127.0.0.1, 0.0.0.0 or an address of this machine (see `ip addr`)";

/**
 * Whether `host` is spelled as an address or host name can be (an IPv4 or IPv6 address, bracketed or not, or
 * DNS labels): the sandbox grants it as a network permission, and Deno refuses to start on a malformed one.
 */
export function isHostSyntax(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (h.length === 0 || h.length > 253) return false;
  if (h.includes(":")) return /^[0-9a-f:.]+(%[\w.-]+)?$/i.test(h) && (h.match(/:/g)?.length ?? 0) >= 2;
  return h.split(".").every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/**
 * Refuses a `--host` that cannot be an address before any model is loaded.
 *
 * @throws {InputError} not an address or host name.
 */
export function checkHostSyntax(host: string): void {
  if (!isHostSyntax(host)) {
    throw new InputError(`--host ${JSON.stringify(host)} is not an address or host name`, { hint: HOST_HINT });
  }
}

/**
 * The error to report when binding `host:port` failed with `error`: a typed {@linkcode InputError} for what the
 * user can fix (address not on this machine, unknown name, port in use, address the sandbox does not allow), the
 * error itself otherwise.
 */
export function listenError(error: unknown, host: string, port: number): unknown {
  const where = `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new InputError(`${where} is already in use`, {
      hint: "stop what listens there, or pick another --port (0 picks a free one)",
    });
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new InputError(`gpux may not listen on ${where}: ${(error as Error).message}`, {
      hint:
        "deno task gpux allows loopback addresses, 0.0.0.0 and the --host given; run cli.ts with --allow-net for more",
    });
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new InputError(`cannot listen on ${where}: this machine has no such address`, { hint: HOST_HINT });
  }
  if (error instanceof URIError) {
    return new InputError(`--host ${JSON.stringify(host)} is not an address or host name`, { hint: HOST_HINT });
  }
  // a host name the resolver does not know comes back as a plain Error (Deno 2.9: "failed to lookup address")
  if (error instanceof Error && error.constructor === Error) {
    return new InputError(`cannot listen on ${where}: ${error.message}`, { hint: HOST_HINT });
  }
  return error;
}

/**
 * Binds `host:port` for a moment and lets go, so that a wrong address or a taken port is reported before
 * minutes of model loading. Port 0 checks the address only.
 *
 * @throws {InputError} as {@linkcode listenError} describes.
 */
export function probeListen(host: string, port: number): void {
  let listener: Deno.Listener | undefined;
  try {
    listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  } catch (error) {
    throw listenError(error, host, port);
  } finally {
    listener?.close();
  }
}
