/**
 * Injected misbehaviour of the local hub: the {@linkcode Fault} kinds, which requests a fault matches,
 * the list of active faults (first match in order added wins, `times` times) and the replies of the
 * request faults. Where each kind strikes:
 *
 * - request faults (`status`, `rateLimit`, `html`, `delay`) replace or delay the route, before it runs;
 * - body faults (`drop`, `stall`, `corrupt`) act on a 2xx body while it streams (see shaping.ts);
 *   `drop` and `stall` only take a body longer than their `afterBytes`;
 * - `ignoreRange` makes file content (resolve, CDN) answer 200 with everything to a `Range` request;
 * - `pagingLoop` and `listing` change the tree's pages (see api.ts).
 *
 * @module
 */
import { bytesBody, errorReply, type Origin, type Reply } from "./http.ts";

/** Which requests a fault applies to (all given conditions must hold). */
export interface FaultMatch {
  /** Substring of the path (raw or decoded), or a RegExp tested against both. */
  path?: string | RegExp;
  origin?: Origin;
  method?: string;
}

interface FaultBase {
  match?: FaultMatch;
  /** How many matching responses it hits (default 1; Infinity for always). */
  times?: number;
}

/** Injected misbehaviour. Body faults (drop, stall, corrupt, ignoreRange) skip redirects and HEAD. */
export type Fault =
  & FaultBase
  & (
    | {
      kind: "status";
      status: number;
      /** Sent as `X-Error-Code` (`code` is an alias). */
      errorCode?: string;
      code?: string;
      message?: string;
      headers?: Record<string, string>;
    }
    | { kind: "rateLimit"; retryAfter?: number }
    | { kind: "drop"; afterBytes?: number }
    | { kind: "stall"; afterBytes?: number }
    | { kind: "corrupt" }
    | { kind: "ignoreRange" }
    | { kind: "delay"; ms: number }
    | { kind: "html"; status?: number; body?: string }
    | {
      /** The tree's pages link back to the first page forever, as a broken or hostile mirror might. */
      kind: "pagingLoop";
    }
    | {
      /** Adds entries to the file list (the tree's last page), as a broken or hostile mirror might. */
      kind: "listing";
      entries: ListingFaultEntry[];
    }
  );

/**
 * One entry a `listing` fault adds to the tree: `copyOf` takes the oid, size and LFS data of a real
 * file of the commit (so the content exists and is served under that file's name); any field given
 * overrides. The local hub itself refuses such paths in commits, hence this fault.
 */
export interface ListingFaultEntry {
  path: unknown;
  copyOf?: string;
  oid?: unknown;
  size?: unknown;
  lfs?: { oid: unknown; size: unknown; pointerSize?: number };
}

/** Returned by `HubServer.addFault`. */
export interface FaultHandle {
  /** Responses it has hit so far. */
  readonly hits: number;
  /** Hits left. */
  readonly remaining: number;
  remove(): void;
}

interface ActiveFault {
  fault: Fault;
  remaining: number;
  hits: number;
}

const REQUEST_FAULTS = new Set(["status", "rateLimit", "delay", "html"]);

/** The faults that replace or delay a request before its route runs. */
export type RequestFault = Extract<Fault, { kind: "status" | "rateLimit" | "delay" | "html" }>;

/** The active faults of one hub. */
export class Faults {
  #active: ActiveFault[] = [];

  /** Injects a fault; the first matching fault (in order added) applies, `times` times (default 1). */
  add(fault: Fault): FaultHandle {
    const active: ActiveFault = { fault, remaining: fault.times ?? 1, hits: 0 };
    this.#active.push(active);
    const faults = this.#active;
    return {
      get hits() {
        return active.hits;
      },
      get remaining() {
        return active.remaining;
      },
      remove() {
        const i = faults.indexOf(active);
        if (i >= 0) faults.splice(i, 1);
      },
    };
  }

  /** Removes every fault. */
  clear(): void {
    this.#active.length = 0;
  }

  /** Takes (counts one hit of) the first fault of an accepted kind that matches the request, if any. */
  take(origin: Origin, method: string, url: URL, kind: (f: Fault) => boolean): Fault | undefined {
    if (this.#active.length === 0) return undefined;
    let decoded = url.pathname;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch { /* keep raw */ }
    for (const active of this.#active) {
      const { fault } = active;
      if (active.remaining <= 0 || !kind(fault)) continue;
      const m = fault.match ?? {};
      if (m.origin && m.origin !== origin) continue;
      if (m.method && m.method.toUpperCase() !== method) continue;
      if (m.path !== undefined) {
        const hit = typeof m.path === "string"
          ? url.pathname.includes(m.path) || decoded.includes(m.path)
          : (m.path.lastIndex = 0, m.path.test(url.pathname)) || (m.path.lastIndex = 0, m.path.test(decoded));
        if (!hit) continue;
      }
      active.remaining--;
      active.hits++;
      if (active.remaining <= 0) this.#active.splice(this.#active.indexOf(active), 1);
      return fault;
    }
    return undefined;
  }

  /** A request fault for this request, if any. */
  takeRequestFault(origin: Origin, method: string, url: URL): RequestFault | undefined {
    return this.take(origin, method, url, (f) => REQUEST_FAULTS.has(f.kind)) as RequestFault | undefined;
  }

  /** A body fault for a 2xx body of `size` bytes: `corrupt`, or a `drop`/`stall` with `afterBytes` below it. */
  takeBodyFault(origin: Origin, method: string, url: URL, size: number): BodyFault | undefined {
    return this.take(
      origin,
      method,
      url,
      (f) => f.kind === "corrupt" || ((f.kind === "drop" || f.kind === "stall") && (f.afterBytes ?? 0) < size),
    ) as BodyFault | undefined;
  }
}

/** The faults that act on a body while it streams. */
export type BodyFault = Extract<Fault, { kind: "drop" | "stall" | "corrupt" }>;

/** The reply of a request fault other than `delay` (which only waits, then lets the route answer). */
export function faultReply(fault: Exclude<RequestFault, { kind: "delay" }>): Reply {
  switch (fault.kind) {
    case "status":
      return errorReply(
        fault.status,
        fault.message ?? `injected HTTP ${fault.status}`,
        fault.errorCode ?? fault.code,
        fault.headers,
      );
    case "rateLimit":
      return errorReply(
        429,
        "You have been rate-limited; you can retry this action in a little while.",
        undefined,
        fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : undefined,
      );
    case "html": {
      const bytes = new TextEncoder().encode(
        fault.body ?? "<!DOCTYPE html><html><head><title>Hugging Face</title></head><body>Maintenance</body></html>",
      );
      return {
        status: fault.status ?? 200,
        headers: new Headers({ "content-type": "text/html; charset=utf-8", "content-length": String(bytes.length) }),
        body: bytesBody(bytes),
      };
    }
  }
}
